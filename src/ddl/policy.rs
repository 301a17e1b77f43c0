//! Row security (pg_dump.c `dumpPolicy`): ROW SECURITY and POLICY entries.

use super::quote::ident;

pub fn enable_rls_sql(table: &str) -> String {
    // dumpPolicy writes this one without a trailing newline (the script shows one blank
    // line after it, not two).
    format!("ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;")
}

pub struct PolicyDef<'a> {
    pub name: &'a str,
    pub table: &'a str,
    pub permissive: bool,
    /// `polcmd`: `*` all, `r` select, `a` insert, `w` update, `d` delete.
    pub cmd: u8,
    /// Role list already quoted and joined; `None` = PUBLIC (left out).
    pub roles: Option<&'a str>,
    pub using: Option<&'a str>,
    pub with_check: Option<&'a str>,
}

pub fn create_policy_sql(p: &PolicyDef<'_>) -> String {
    let mut s = format!("CREATE POLICY {} ON {}", ident(p.name), p.table);
    if !p.permissive {
        s.push_str(" AS RESTRICTIVE");
    }
    let cmd = match p.cmd {
        b'r' => " FOR SELECT",
        b'a' => " FOR INSERT",
        b'w' => " FOR UPDATE",
        b'd' => " FOR DELETE",
        _ => "",
    };
    s.push_str(cmd);
    if let Some(r) = p.roles {
        s.push_str(&format!(" TO {r}"));
    }
    if let Some(u) = p.using {
        s.push_str(&format!(" USING ({u})"));
    }
    if let Some(c) = p.with_check {
        s.push_str(&format!(" WITH CHECK ({c})"));
    }
    s.push_str(";\n");
    s
}

pub fn drop_policy_sql(name: &str, table: &str) -> String {
    format!("DROP POLICY {} ON {table};\n", ident(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_statements() {
        let p = PolicyDef {
            name: "own",
            table: "s.t",
            permissive: false,
            cmd: b'r',
            roles: Some("app_reader"),
            using: Some("(owner = CURRENT_USER)"),
            with_check: None,
        };
        assert_eq!(
            create_policy_sql(&p),
            "CREATE POLICY own ON s.t AS RESTRICTIVE FOR SELECT TO app_reader USING ((owner = CURRENT_USER));\n"
        );
        assert_eq!(enable_rls_sql("s.t"), "ALTER TABLE s.t ENABLE ROW LEVEL SECURITY;");
        assert_eq!(drop_policy_sql("own", "s.t"), "DROP POLICY own ON s.t;\n");
    }
}
