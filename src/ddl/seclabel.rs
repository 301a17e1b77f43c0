//! `SECURITY LABEL FOR ... ON ...` entries (pg_dump.c `dumpSecLabel`, `dumpTableSecLabel`;
//! dumputils.c `emitShSecLabels` for the database's shared labels).
//!
//! Unlike comments, every label of one object goes into a single entry: one statement per
//! provider. A relation's entry also carries its columns' labels.

use crate::model::{Entry, Section};

use super::quote;

/// One label as pg_seclabel / pg_shseclabel hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub provider: String,
    pub label: String,
}

impl Label {
    pub fn new(provider: impl Into<String>, label: impl Into<String>) -> Label {
        Label {
            provider: provider.into(),
            label: label.into(),
        }
    }
}

/// `SECURITY LABEL FOR <provider> ON <target> IS '<label>';` followed by a newline.
pub fn seclabel_sql(target: &str, l: &Label) -> String {
    format!(
        "SECURITY LABEL FOR {} ON {target} IS {};\n",
        quote::ident(&l.provider),
        quote::literal(&l.label)
    )
}

/// The SECURITY LABEL entry attached to `parent` for an object's own labels: tag
/// `<kind> <tag_name>`, same schema and owner as the parent, section none (`dumpSecLabel`).
/// `None` without labels.
pub fn seclabel_entry(parent: &Entry, kind: &str, name_sql: &str, tag_name: &str, labels: &[Label]) -> Option<Entry> {
    let target = format!("{kind} {name_sql}");
    let defn: String = labels.iter().map(|l| seclabel_sql(&target, l)).collect();
    (!defn.is_empty()).then(|| label_entry(parent, format!("{kind} {tag_name}"), defn))
}

/// The labels of a relation and of its columns, in pg_seclabel's order (column 0 being the
/// relation itself): `(column name or None, label)`.
pub type RelationLabels<'a> = [(Option<&'a str>, Label)];

/// The one SECURITY LABEL entry of a table, view, materialized view or foreign table: the
/// relation's labels as `<kind> schema.name`, its columns' as `COLUMN schema.name.col`, tag
/// `<kind> name` even when only columns are labelled (`dumpTableSecLabel`). `None` without
/// labels.
pub fn relation_seclabel_entry(
    parent: &Entry,
    kind: &str,
    qualified: &str,
    tag_name: &str,
    labels: &RelationLabels<'_>,
) -> Option<Entry> {
    let defn: String = labels
        .iter()
        .map(|(column, l)| {
            let target = match column {
                None => format!("{kind} {qualified}"),
                Some(col) => format!("COLUMN {qualified}.{}", quote::ident(col)),
            };
            seclabel_sql(&target, l)
        })
        .collect();
    (!defn.is_empty()).then(|| label_entry(parent, format!("{kind} {tag_name}"), defn))
}

fn label_entry(parent: &Entry, tag: String, defn: String) -> Entry {
    let mut e = Entry::new("SECURITY LABEL", parent.priority, Section::None, parent.name.clone())
        .with_tag(tag)
        .with_defn(defn);
    e.schema = parent.schema.clone();
    e.owner = parent.owner.clone();
    e.sort_extra = parent.sort_extra.clone();
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Priority;

    fn table() -> Entry {
        Entry::new("TABLE", Priority::Table, Section::PreData, "orders")
            .with_schema("shop")
            .with_owner("app")
    }

    #[test]
    fn one_entry_holds_every_providers_label() {
        let f = Entry::new("FUNCTION", Priority::Function, Section::PreData, "f")
            .with_schema("shop")
            .with_owner("app");
        let labels = [Label::new("pgsnap", "secret"), Label::new("pgsnap audit", "it's")];
        let e = seclabel_entry(&f, "FUNCTION", "shop.f(integer)", "f(integer)", &labels).unwrap();
        assert_eq!(e.desc, "SECURITY LABEL");
        assert_eq!(e.tag, "FUNCTION f(integer)");
        assert_eq!(
            e.defn.as_deref(),
            Some(
                "SECURITY LABEL FOR pgsnap ON FUNCTION shop.f(integer) IS 'secret';\n\
                 SECURITY LABEL FOR \"pgsnap audit\" ON FUNCTION shop.f(integer) IS 'it''s';\n"
            )
        );
        assert_eq!(e.schema.as_deref(), Some("shop"));
        assert_eq!(e.owner.as_deref(), Some("app"));
        assert_eq!(e.section, Section::None);
    }

    #[test]
    fn no_labels_no_entry() {
        assert!(seclabel_entry(&table(), "TABLE", "shop.orders", "orders", &[]).is_none());
        assert!(relation_seclabel_entry(&table(), "TABLE", "shop.orders", "orders", &[]).is_none());
    }

    #[test]
    fn relation_entry_carries_column_labels_under_the_relation_tag() {
        let labels = [
            (None, Label::new("pgsnap", "secret")),
            (Some("Gross Amount"), Label::new("pgsnap", "top secret")),
        ];
        let e = relation_seclabel_entry(&table(), "TABLE", "shop.orders", "orders", &labels).unwrap();
        assert_eq!(e.tag, "TABLE orders");
        assert_eq!(
            e.defn.as_deref(),
            Some(
                "SECURITY LABEL FOR pgsnap ON TABLE shop.orders IS 'secret';\n\
                 SECURITY LABEL FOR pgsnap ON COLUMN shop.orders.\"Gross Amount\" IS 'top secret';\n"
            )
        );
        // Only a column labelled: the tag still names the relation.
        let only_column = [(Some("id"), Label::new("pgsnap", "secret"))];
        let e = relation_seclabel_entry(&table(), "VIEW", "shop.orders", "orders", &only_column).unwrap();
        assert_eq!(e.tag, "VIEW orders");
        assert_eq!(
            e.defn.as_deref(),
            Some("SECURITY LABEL FOR pgsnap ON COLUMN shop.orders.id IS 'secret';\n")
        );
    }
}
