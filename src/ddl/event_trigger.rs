//! `CREATE EVENT TRIGGER` (pg_dump.c `dumpEventTrigger`).

use super::quote;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTrigger {
    pub name: String,
    pub event: String,
    /// `WHEN TAG IN` list, each tag already a string literal, joined with `, ` (empty = none).
    pub tags: String,
    /// The function as `regproc` text.
    pub function: String,
    /// `evtenabled`: `O` enabled, `D` disabled, `R` replica, `A` always.
    pub enabled: char,
}

/// `(create, drop)`: the trigger, then an ALTER for any state other than plain enabled.
pub fn event_trigger_sql(t: &EventTrigger) -> (String, String) {
    let q = quote::ident(&t.name);
    let mut s = format!("CREATE EVENT TRIGGER {q} ON {}", quote::ident(&t.event));
    if !t.tags.is_empty() {
        s.push_str(&format!("\n         WHEN TAG IN ({})", t.tags));
    }
    s.push_str(&format!("\n   EXECUTE FUNCTION {}();\n", t.function));
    if t.enabled != 'O' {
        let state = match t.enabled {
            'D' => "DISABLE",
            'A' => "ENABLE ALWAYS",
            'R' => "ENABLE REPLICA",
            _ => "ENABLE",
        };
        s.push_str(&format!("\nALTER EVENT TRIGGER {q} {state};\n"));
    }
    (s, format!("DROP EVENT TRIGGER {q};\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_tagged_and_disabled() {
        let t = EventTrigger {
            name: "et".into(),
            event: "ddl_command_start".into(),
            tags: String::new(),
            function: "evt.f".into(),
            enabled: 'O',
        };
        assert_eq!(
            event_trigger_sql(&t),
            (
                "CREATE EVENT TRIGGER et ON ddl_command_start\n   EXECUTE FUNCTION evt.f();\n".to_string(),
                "DROP EVENT TRIGGER et;\n".to_string()
            )
        );
        let tagged = EventTrigger {
            name: "Et Two".into(),
            tags: "'CREATE TABLE', 'DROP TABLE'".into(),
            enabled: 'R',
            ..t
        };
        assert_eq!(
            event_trigger_sql(&tagged).0,
            "CREATE EVENT TRIGGER \"Et Two\" ON ddl_command_start\n         WHEN TAG IN ('CREATE TABLE', 'DROP TABLE')\n   \
             EXECUTE FUNCTION evt.f();\n\nALTER EVENT TRIGGER \"Et Two\" ENABLE REPLICA;\n"
        );
    }
}
