//! `COMMENT ON ...` entries (pg_dump.c `dumpComment`).

use crate::model::{Entry, Section};

use super::quote;

/// `COMMENT ON <kind> <name> IS '<text>';` followed by a newline.
pub fn comment_sql(kind: &str, name_sql: &str, text: &str) -> String {
    format!("COMMENT ON {kind} {name_sql} IS {};\n", quote::literal(text))
}

/// The COMMENT entry attached to `parent`: tag `<kind> <tag_name>` (e.g. `TABLE orders`,
/// `COLUMN orders.gross`), same schema and owner as the parent, section none.
pub fn comment_entry(parent: &Entry, kind: &str, name_sql: &str, tag_name: &str, text: &str) -> Entry {
    let mut e = Entry::new("COMMENT", parent.priority, Section::None, parent.name.clone())
        .with_tag(format!("{kind} {tag_name}"))
        .with_defn(comment_sql(kind, name_sql, text));
    e.schema = parent.schema.clone();
    e.owner = parent.owner.clone();
    e.sort_extra = parent.sort_extra.clone();
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Priority;

    #[test]
    fn comment_entry_follows_pg_dump_shape() {
        let t = Entry::new("TABLE", Priority::Table, Section::PreData, "orders")
            .with_schema("shop")
            .with_owner("app");
        let c = comment_entry(&t, "TABLE", "shop.orders", "orders", "Customer's orders");
        assert_eq!(c.tag, "TABLE orders");
        assert_eq!(
            c.defn.as_deref(),
            Some("COMMENT ON TABLE shop.orders IS 'Customer''s orders';\n")
        );
        assert_eq!(c.schema.as_deref(), Some("shop"));
        assert_eq!(c.owner.as_deref(), Some("app"));
        assert_eq!(c.section, Section::None);
    }
}
