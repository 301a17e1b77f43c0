//! Security labels (pg_dump.c `collectSecLabels`): every label row, read once and
//! looked up by the readers of the kinds pg_dump labels, which attach a SECURITY LABEL entry
//! right after their comments (`ddl::seclabel`). The database's own labels live in the shared
//! catalog pg_shseclabel and are read with the database entry (`catalog::database`).

use std::collections::HashMap;

use super::Selection;
use crate::ddl::seclabel::Label;
use crate::error::Result;
use crate::pg::Session;

/// (classoid, objoid) → (objsubid, label), in the order they were read.
pub type Labels = HashMap<(u32, u32), Vec<(i32, Label)>>;

/// One pg_seclabel row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelRow {
    pub classoid: u32,
    pub objoid: u32,
    pub objsubid: i32,
    pub provider: String,
    pub label: String,
}

/// Whether labels are collected at all: pg_dump skips them with `--no-security-labels`, and
/// with no schema and no data there is nothing they could go with.
pub fn wanted(selection: &Selection) -> bool {
    !selection.no_security_labels && (selection.schema || selection.data)
}

/// Whether a label of this kind goes into the dump (`dumpSecLabel`): labels are schema,
/// except large objects', which are data.
pub fn dumped(selection: &Selection, large_object: bool) -> bool {
    !selection.no_security_labels && if large_object { selection.data } else { selection.schema }
}

/// Every label row, in pg_dump's query and order (none when [`wanted`] says so). The view
/// pg_seclabels also holds the shared labels of subscriptions (pg_shseclabel). pg_dump sorts
/// by object only, so one object's labels from several providers come in the order the
/// server's sort leaves them; running the same query on the same snapshot gets the same
/// order, which is why it is not sorted further here.
pub async fn fetch(db: &Session, selection: &Selection) -> Result<Vec<LabelRow>> {
    if !wanted(selection) {
        return Ok(Vec::new());
    }
    let mut rows = Vec::new();
    for r in db
        .query(
            "SELECT classoid, objoid, objsubid, provider, label FROM pg_catalog.pg_seclabels \
             ORDER BY classoid, objoid, objsubid",
        )
        .await?
    {
        rows.push(LabelRow {
            classoid: r.oid(0)?,
            objoid: r.oid(1)?,
            objsubid: r.int(2)? as i32,
            provider: r.text(3)?,
            label: r.text(4)?,
        });
    }
    Ok(rows)
}

/// Groups rows by object, keeping their order within each object.
pub fn group(rows: Vec<LabelRow>) -> Labels {
    let mut out: Labels = HashMap::new();
    for r in rows {
        out.entry((r.classoid, r.objoid))
            .or_default()
            .push((r.objsubid, Label::new(r.provider, r.label)));
    }
    out
}

/// The object's own labels (objsubid 0), in order.
pub fn own(labels: &Labels, classoid: u32, objoid: u32) -> Vec<Label> {
    labels
        .get(&(classoid, objoid))
        .into_iter()
        .flatten()
        .filter(|(sub, _)| *sub == 0)
        .map(|(_, l)| l.clone())
        .collect()
}

/// A relation's labels and its columns', named: `(None, label)` for the relation itself,
/// `(Some(column), label)` for a column found in `columns` (attnum, name). A label on a
/// column not listed is left out, as pg_dump can only name columns it read.
pub fn with_columns<'a>(
    labels: &Labels,
    classoid: u32,
    objoid: u32,
    columns: &[(&'a str, i64)],
) -> Vec<(Option<&'a str>, Label)> {
    labels
        .get(&(classoid, objoid))
        .into_iter()
        .flatten()
        .filter_map(|(sub, l)| {
            if *sub == 0 {
                Some((None, l.clone()))
            } else {
                columns
                    .iter()
                    .find(|(_, attnum)| *attnum == i64::from(*sub))
                    .map(|(name, _)| (Some(*name), l.clone()))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(classoid: u32, objoid: u32, objsubid: i32, provider: &str, label: &str) -> LabelRow {
        LabelRow {
            classoid,
            objoid,
            objsubid,
            provider: provider.into(),
            label: label.into(),
        }
    }

    // As the query returns them: by object and objsubid, providers in the server's order.
    fn sample() -> Labels {
        group(vec![
            row(1255, 500, 0, "pgsnap", "unclassified"),
            row(1259, 500, 0, "pgsnap audit", "top secret"),
            row(1259, 500, 0, "pgsnap", "confidential"),
            row(1259, 500, 2, "pgsnap", "secret"),
            row(1259, 500, 7, "pgsnap", "secret"),
        ])
    }

    #[test]
    fn own_labels_are_per_catalog_and_skip_columns() {
        let l = sample();
        assert_eq!(
            own(&l, 1259, 500),
            vec![
                Label::new("pgsnap audit", "top secret"),
                Label::new("pgsnap", "confidential")
            ]
        );
        assert_eq!(own(&l, 1255, 500), vec![Label::new("pgsnap", "unclassified")]);
        assert!(own(&l, 1259, 501).is_empty());
    }

    #[test]
    fn relation_labels_name_their_columns_in_attnum_order() {
        let l = sample();
        let got = with_columns(&l, 1259, 500, &[("id", 1), ("code", 2)]);
        assert_eq!(
            got,
            vec![
                (None, Label::new("pgsnap audit", "top secret")),
                (None, Label::new("pgsnap", "confidential")),
                (Some("code"), Label::new("pgsnap", "secret")),
            ]
        );
    }

    #[test]
    fn selection_decides_schema_and_large_object_labels_apart() {
        let mut s = Selection::default();
        assert!(wanted(&s) && dumped(&s, false) && dumped(&s, true));
        s.data = false;
        assert!(wanted(&s) && dumped(&s, false) && !dumped(&s, true));
        s.data = true;
        s.schema = false;
        assert!(wanted(&s) && !dumped(&s, false) && dumped(&s, true));
        s.no_security_labels = true;
        assert!(!wanted(&s) && !dumped(&s, false) && !dumped(&s, true));
    }
}
