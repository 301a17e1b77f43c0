//! Rules other than a view's ON SELECT rule (pg_dump.c `dumpRule`): the server's own
//! deparse, then the firing state when it is not the default.

use super::quote::ident;

/// The RULE entry's defn: `pg_get_ruledef` text, a newline, and `ALTER TABLE ... ENABLE
/// ALWAYS | ENABLE REPLICA | DISABLE RULE` for `ev_enabled` `A`, `R`, `D` (`O`, the default,
/// adds nothing).
pub fn rule_sql(ruledef: &str, table: &str, name: &str, ev_enabled: u8) -> String {
    let mut s = format!("{ruledef}\n");
    let state = match ev_enabled {
        b'A' => "ENABLE ALWAYS",
        b'R' => "ENABLE REPLICA",
        b'D' => "DISABLE",
        _ => return s,
    };
    s.push_str(&format!("ALTER TABLE {table} {state} RULE {};\n", ident(name)));
    s
}

/// `DROP RULE r ON s.t;`
pub fn drop_rule_sql(table: &str, name: &str) -> String {
    format!("DROP RULE {} ON {table};\n", ident(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_like_pg_dump() {
        let def = "CREATE RULE r2 AS\n    ON DELETE TO k.t2 DO INSTEAD NOTHING;";
        assert_eq!(
            rule_sql(def, "k.t2", "r2", b'O'),
            "CREATE RULE r2 AS\n    ON DELETE TO k.t2 DO INSTEAD NOTHING;\n"
        );
        assert_eq!(
            rule_sql(def, "k.t2", "r2", b'D'),
            "CREATE RULE r2 AS\n    ON DELETE TO k.t2 DO INSTEAD NOTHING;\nALTER TABLE k.t2 DISABLE RULE r2;\n"
        );
        assert!(rule_sql(def, "k.t2", "R 2", b'A').ends_with("ALTER TABLE k.t2 ENABLE ALWAYS RULE \"R 2\";\n"));
        assert!(rule_sql(def, "k.t2", "r2", b'R').ends_with("ALTER TABLE k.t2 ENABLE REPLICA RULE r2;\n"));
        assert_eq!(drop_rule_sql("k.t2", "r2"), "DROP RULE r2 ON k.t2;\n");
    }
}
