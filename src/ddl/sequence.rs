//! Sequences: `CREATE SEQUENCE`, the identity form, `OWNED BY` and `setval` (pg_dump.c
//! `dumpSequence`, `dumpSequenceData`).

use super::quote::{ident, literal};

/// A `pg_sequence` row plus what is needed to print it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceDef {
    /// `schema.seq`, quoted.
    pub qualified: String,
    /// `format_type(seqtypid, NULL)`: `smallint`, `integer` or `bigint`.
    pub type_name: String,
    pub start: i64,
    pub increment: i64,
    pub min: i64,
    pub max: i64,
    pub cache: i64,
    pub cycle: bool,
    pub unlogged: bool,
}

/// The type's default (min, max) for the sign of the increment.
fn default_bounds(type_name: &str, increment: i64) -> (i64, i64) {
    let (lo, hi) = match type_name {
        "smallint" => (i64::from(i16::MIN), i64::from(i16::MAX)),
        "integer" => (i64::from(i32::MIN), i64::from(i32::MAX)),
        _ => (i64::MIN, i64::MAX),
    };
    if increment > 0 { (1, hi) } else { (lo, -1) }
}

/// The option lines shared by both forms (`START WITH` .. `CYCLE`), each indented.
fn option_lines(s: &SequenceDef) -> Vec<String> {
    let (dmin, dmax) = default_bounds(&s.type_name, s.increment);
    let mut v = vec![
        format!("    START WITH {}", s.start),
        format!("    INCREMENT BY {}", s.increment),
    ];
    v.push(if s.min == dmin {
        "    NO MINVALUE".into()
    } else {
        format!("    MINVALUE {}", s.min)
    });
    v.push(if s.max == dmax {
        "    NO MAXVALUE".into()
    } else {
        format!("    MAXVALUE {}", s.max)
    });
    v.push(format!("    CACHE {}", s.cache));
    if s.cycle {
        v.push("    CYCLE".into());
    }
    v
}

/// `CREATE [UNLOGGED] SEQUENCE ...;\n`.
pub fn create_sequence_sql(s: &SequenceDef) -> String {
    let unlogged = if s.unlogged { "UNLOGGED " } else { "" };
    let mut out = format!("CREATE {unlogged}SEQUENCE {}\n", s.qualified);
    if s.type_name != "bigint" {
        out.push_str(&format!("    AS {}\n", s.type_name));
    }
    out.push_str(&option_lines(s).join("\n"));
    out.push_str(";\n");
    out
}

/// The identity form: `ALTER TABLE t ALTER COLUMN c ADD GENERATED ... AS IDENTITY (...);\n`.
/// `persistence` is `Some("UNLOGGED"|"LOGGED")` when it differs from the table's.
pub fn identity_sql(s: &SequenceDef, table: &str, column: &str, always: bool, persistence: Option<&str>) -> String {
    let kind = if always { "ALWAYS" } else { "BY DEFAULT" };
    let mut out = format!(
        "ALTER TABLE {table} ALTER COLUMN {} ADD GENERATED {kind} AS IDENTITY (\n    SEQUENCE NAME {}\n",
        ident(column),
        s.qualified
    );
    if let Some(p) = persistence {
        out.push_str(&format!("    {p}\n"));
    }
    out.push_str(&option_lines(s).join("\n"));
    out.push_str("\n);\n");
    out
}

pub fn owned_by_sql(seq: &str, table: &str, column: &str) -> String {
    format!("ALTER SEQUENCE {seq} OWNED BY {table}.{};\n", ident(column))
}

pub fn setval_sql(seq: &str, last_value: i64, is_called: bool) -> String {
    format!(
        "SELECT pg_catalog.setval({}, {last_value}, {is_called});\n",
        literal(seq)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(type_name: &str) -> SequenceDef {
        SequenceDef {
            qualified: "shop.ticket_seq".into(),
            type_name: type_name.into(),
            start: 7,
            increment: 1,
            min: 1,
            max: 99999,
            cache: 1,
            cycle: true,
            unlogged: false,
        }
    }

    #[test]
    fn create_sequence_like_pg_dump() {
        assert_eq!(
            create_sequence_sql(&seq("integer")),
            "CREATE SEQUENCE shop.ticket_seq\n    AS integer\n    START WITH 7\n    INCREMENT BY 1\n    NO MINVALUE\n    \
             MAXVALUE 99999\n    CACHE 1\n    CYCLE;\n"
        );
        let mut d = seq("bigint");
        d.max = i64::MAX;
        d.cycle = false;
        d.increment = -1;
        d.min = -5;
        d.max = -1;
        d.unlogged = true;
        assert_eq!(
            create_sequence_sql(&d),
            "CREATE UNLOGGED SEQUENCE shop.ticket_seq\n    START WITH 7\n    INCREMENT BY -1\n    MINVALUE -5\n    \
             NO MAXVALUE\n    CACHE 1;\n"
        );
    }

    #[test]
    fn identity_owned_by_setval() {
        let mut s = seq("bigint");
        s.qualified = "shop.customer_id_seq".into();
        s.start = 1;
        s.max = i64::MAX;
        s.cycle = false;
        assert_eq!(
            identity_sql(&s, "shop.customer", "id", true, None),
            "ALTER TABLE shop.customer ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (\n    SEQUENCE NAME \
             shop.customer_id_seq\n    START WITH 1\n    INCREMENT BY 1\n    NO MINVALUE\n    NO MAXVALUE\n    CACHE 1\n);\n"
        );
        assert_eq!(
            owned_by_sql("s.q", "s.t", "id"),
            "ALTER SEQUENCE s.q OWNED BY s.t.id;\n"
        );
        assert_eq!(
            setval_sql("public.\"Q\"", 42, false),
            "SELECT pg_catalog.setval('public.\"Q\"', 42, false);\n"
        );
    }
}
