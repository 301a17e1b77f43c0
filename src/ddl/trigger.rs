//! `CREATE TRIGGER` (pg_dump.c `dumpTrigger`).

use super::quote;

/// The ALTER that restores a trigger's enable state (`tgenabled`), if not plain enabled.
/// `force` also writes `ENABLE` for `O` (a partition clone whose state differs from its
/// parent's).
pub fn enable_sql(relkind: u8, table: &str, trigger: &str, tgenabled: char, force: bool) -> Option<String> {
    let action = match tgenabled {
        'D' => "DISABLE",
        'A' => "ENABLE ALWAYS",
        'R' => "ENABLE REPLICA",
        'O' if force => "ENABLE",
        _ => return None,
    };
    let foreign = if relkind == b'f' { "FOREIGN " } else { "" };
    Some(format!(
        "ALTER {foreign}TABLE {table} {action} TRIGGER {};\n",
        quote::ident(trigger)
    ))
}

/// `(defn, drop)` for a trigger; for a partition clone only the enable-state ALTER.
pub fn trigger_sql(
    relkind: u8,
    table: &str,
    trigger: &str,
    triggerdef: &str,
    tgenabled: char,
    clone: bool,
) -> (String, String) {
    let mut s = String::new();
    if !clone {
        s.push_str(triggerdef);
        s.push_str(";\n");
    }
    if let Some(a) = enable_sql(relkind, table, trigger, tgenabled, clone) {
        s.push_str(&a);
    }
    (s, format!("DROP TRIGGER {} ON {table};\n", quote::ident(trigger)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_with_states() {
        let def = "CREATE TRIGGER t BEFORE INSERT ON s.x FOR EACH ROW EXECUTE FUNCTION s.f()";
        assert_eq!(
            trigger_sql(b'r', "s.x", "t", def, 'O', false),
            (format!("{def};\n"), "DROP TRIGGER t ON s.x;\n".into())
        );
        assert_eq!(
            trigger_sql(b'r', "s.x", "t", def, 'D', false).0,
            format!("{def};\nALTER TABLE s.x DISABLE TRIGGER t;\n")
        );
        assert_eq!(
            trigger_sql(b'f', "s.x", "T", def, 'R', false).0,
            format!("{def};\nALTER FOREIGN TABLE s.x ENABLE REPLICA TRIGGER \"T\";\n")
        );
        assert_eq!(
            trigger_sql(b'r', "s.p1", "t", def, 'O', true).0,
            "ALTER TABLE s.p1 ENABLE TRIGGER t;\n"
        );
        assert_eq!(
            trigger_sql(b'r', "s.p1", "t", def, 'A', true).0,
            "ALTER TABLE s.p1 ENABLE ALWAYS TRIGGER t;\n"
        );
    }
}
