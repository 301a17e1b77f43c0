//! Views and materialized views (pg_dump.c `dumpTableSchema` for relkind v/m,
//! `createViewAsClause`, `createDummyViewAsClause`, `dumpRule` for a split-out ON SELECT
//! rule, `dumpTableData` for `REFRESH`).

use super::quote::ident;
use super::table::reloptions_sql;

/// Strips `pg_get_viewdef`'s trailing `;` (and whitespace).
fn body(viewdef: &str) -> &str {
    let t = viewdef.trim_end();
    t.strip_suffix(';').unwrap_or(t)
}

/// `CREATE VIEW s.v [WITH (opts)] AS\n<def>[\n  WITH x CHECK OPTION];\n`. `check_option` is
/// removed from the reloptions and printed as the clause.
pub fn create_view_sql(qualified: &str, reloptions: &[String], viewdef: &str) -> String {
    view_sql("CREATE VIEW", qualified, reloptions, viewdef)
}

/// The body of a split-out `_RETURN` rule: the real definition replacing the dummy one.
pub fn replace_view_sql(qualified: &str, reloptions: &[String], viewdef: &str) -> String {
    view_sql("CREATE OR REPLACE VIEW", qualified, reloptions, viewdef)
}

fn view_sql(command: &str, qualified: &str, reloptions: &[String], viewdef: &str) -> String {
    let mut check = None;
    let mut opts = Vec::new();
    for o in reloptions {
        match o.strip_prefix("check_option=") {
            Some(v) => check = Some(v.to_ascii_uppercase()),
            None => opts.push(o.clone()),
        }
    }
    let mut s = format!("{command} {qualified}");
    if !opts.is_empty() {
        s.push_str(&format!(" WITH ({})", reloptions_sql(&opts, "").join(", ")));
    }
    s.push_str(&format!(" AS\n{}", body(viewdef)));
    if let Some(c) = check {
        s.push_str(&format!("\n  WITH {c} CHECK OPTION"));
    }
    s.push_str(";\n");
    s
}

/// One column of a view as its dummy body needs it: name, `format_type` text, and a
/// qualified collation when it differs from the type's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DummyColumn {
    pub name: String,
    pub type_sql: String,
    pub collation: Option<String>,
}

/// `SELECT NULL::type [COLLATE c] AS col, ...`: a body with the view's column names, types
/// and collations and no dependencies, so the view can be created before what its real
/// definition needs (`createDummyViewAsClause`; the collation must be right because CREATE
/// OR REPLACE VIEW cannot change it).
pub fn dummy_select(columns: &[DummyColumn]) -> String {
    let items: Vec<String> = columns
        .iter()
        .map(|c| {
            let collate = c
                .collation
                .as_ref()
                .map(|x| format!(" COLLATE {x}"))
                .unwrap_or_default();
            format!("\n    NULL::{}{collate} AS {}", c.type_sql, ident(&c.name))
        })
        .collect();
    format!("SELECT{}", items.join(","))
}

/// The view's definition while its ON SELECT rule is split out: no options, no check option.
pub fn dummy_view_sql(qualified: &str, columns: &[DummyColumn]) -> String {
    format!("CREATE VIEW {qualified} AS\n{};\n", dummy_select(columns))
}

/// The split-out rule's drop statement: a view's ON SELECT rule cannot be dropped, so it is
/// replaced by the dummy body (`dumpRule`).
pub fn dummy_replace_sql(qualified: &str, columns: &[DummyColumn]) -> String {
    format!("CREATE OR REPLACE VIEW {qualified} AS\n{};\n", dummy_select(columns))
}

/// `CREATE MATERIALIZED VIEW s.m[\nWITH (opts)] AS\n<def>\n  WITH NO DATA;\n`.
pub fn create_matview_sql(qualified: &str, reloptions: &[String], viewdef: &str) -> String {
    let mut s = format!("CREATE MATERIALIZED VIEW {qualified}");
    if !reloptions.is_empty() {
        s.push_str(&format!("\nWITH ({})", reloptions_sql(reloptions, "").join(", ")));
    }
    s.push_str(&format!(" AS\n{}\n  WITH NO DATA;\n", body(viewdef)));
    s
}

pub fn refresh_sql(qualified: &str) -> String {
    format!("REFRESH MATERIALIZED VIEW {qualified};\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_like_pg_dump() {
        assert_eq!(
            create_view_sql(
                "shop.big_spenders",
                &["security_barrier=true".into(), "check_option=cascaded".into()],
                " SELECT id\n   FROM shop.t\n  WHERE (total > 1);"
            ),
            "CREATE VIEW shop.big_spenders WITH (security_barrier='true') AS\n SELECT id\n   FROM shop.t\n  \
             WHERE (total > 1)\n  WITH CASCADED CHECK OPTION;\n"
        );
        assert_eq!(
            create_view_sql("s.v", &[], " SELECT 1;"),
            "CREATE VIEW s.v AS\n SELECT 1;\n"
        );
        assert_eq!(
            create_matview_sql("shop.empty_mv", &[], " SELECT 1 AS x;"),
            "CREATE MATERIALIZED VIEW shop.empty_mv AS\n SELECT 1 AS x\n  WITH NO DATA;\n"
        );
        assert_eq!(
            create_matview_sql("e.mv", &["fillfactor=70".into()], " SELECT 1;"),
            "CREATE MATERIALIZED VIEW e.mv\nWITH (fillfactor='70') AS\n SELECT 1\n  WITH NO DATA;\n"
        );
        assert_eq!(refresh_sql("s.m"), "REFRESH MATERIALIZED VIEW s.m;\n");
    }

    #[test]
    fn dummy_views_and_their_rule_like_pg_dump() {
        let cols = [
            DummyColumn {
                name: "id".into(),
                type_sql: "integer".into(),
                collation: None,
            },
            DummyColumn {
                name: "Label".into(),
                type_sql: "text".into(),
                collation: Some("public.\"C\"".into()),
            },
        ];
        assert_eq!(
            dummy_view_sql("loops.v1", &cols),
            "CREATE VIEW loops.v1 AS\nSELECT\n    NULL::integer AS id,\n    NULL::text COLLATE public.\"C\" AS \"Label\";\n"
        );
        assert_eq!(
            dummy_replace_sql("loops.v1", &cols[..1]),
            "CREATE OR REPLACE VIEW loops.v1 AS\nSELECT\n    NULL::integer AS id;\n"
        );
        assert_eq!(dummy_view_sql("s.empty", &[]), "CREATE VIEW s.empty AS\nSELECT;\n");
        assert_eq!(
            replace_view_sql(
                "s.v",
                &["security_barrier=true".into(), "check_option=local".into()],
                " SELECT 1 AS x;"
            ),
            "CREATE OR REPLACE VIEW s.v WITH (security_barrier='true') AS\n SELECT 1 AS x\n  WITH LOCAL CHECK OPTION;\n"
        );
    }
}
