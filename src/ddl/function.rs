//! `CREATE FUNCTION` / `CREATE PROCEDURE` from the server's own deparse
//! (`pg_get_functiondef`), shaped as pg_dump's `dumpFunc` entries.

/// Turns `pg_get_functiondef` output into a plain CREATE ending `;\n`.
pub fn function_sql(functiondef: &str) -> String {
    let body = functiondef
        .strip_prefix("CREATE OR REPLACE ")
        .map(|r| format!("CREATE {r}"));
    let body = body.unwrap_or_else(|| functiondef.to_string());
    format!("{};\n", body.trim_end_matches('\n'))
}

/// `FUNCTION` or `PROCEDURE` by `prokind`.
pub fn keyword(prokind: char) -> &'static str {
    if prokind == 'p' { "PROCEDURE" } else { "FUNCTION" }
}

/// `DROP FUNCTION s.f(<identity args>);`
pub fn drop_sql(prokind: char, qualified: &str, identity_args: &str) -> String {
    format!("DROP {} {qualified}({identity_args});\n", keyword(prokind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functiondef_becomes_create() {
        let def = "CREATE OR REPLACE FUNCTION shop.f(c bigint)\n RETURNS numeric\n LANGUAGE sql\nAS $function$ select 1 $function$\n";
        assert_eq!(
            function_sql(def),
            "CREATE FUNCTION shop.f(c bigint)\n RETURNS numeric\n LANGUAGE sql\nAS $function$ select 1 $function$;\n"
        );
        assert_eq!(
            drop_sql('p', "shop.p", "IN d date"),
            "DROP PROCEDURE shop.p(IN d date);\n"
        );
        assert_eq!(drop_sql('f', "shop.f", ""), "DROP FUNCTION shop.f();\n");
    }
}
