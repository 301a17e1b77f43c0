//! Views and materialized views (pg_dump.c `dumpTableSchema` for relkind v/m,
//! `createViewAsClause`, `dumpTableData` for `REFRESH`).

use super::table::reloptions_sql;

/// Strips `pg_get_viewdef`'s trailing `;` (and whitespace).
fn body(viewdef: &str) -> &str {
    let t = viewdef.trim_end();
    t.strip_suffix(';').unwrap_or(t)
}

/// `CREATE VIEW s.v [WITH (opts)] AS\n<def>[\n  WITH x CHECK OPTION];\n`. `check_option` is
/// removed from the reloptions and printed as the clause.
pub fn create_view_sql(qualified: &str, reloptions: &[String], viewdef: &str) -> String {
    let mut check = None;
    let mut opts = Vec::new();
    for o in reloptions {
        match o.strip_prefix("check_option=") {
            Some(v) => check = Some(v.to_ascii_uppercase()),
            None => opts.push(o.clone()),
        }
    }
    let mut s = format!("CREATE VIEW {qualified}");
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
}
