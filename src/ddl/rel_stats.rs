//! `STATISTICS DATA` definitions (pg_dump 18's `dumpRelationStats_dumper`): one
//! `pg_restore_relation_stats(...)` call for the relation's `pg_class` counters, then one
//! `pg_restore_attribute_stats(...)` call per `pg_stats` row, every value a quoted literal
//! cast to its parameter's type, NULL fields left out.

use super::quote::literal;

/// A relation's `pg_class` counters, as the server printed them (`reltuples` stays text so
/// the float is written exactly as read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelCounters {
    pub relpages: i64,
    pub reltuples: String,
    pub relallvisible: i64,
    /// `relallfrozen` (servers 18+; not written for older ones).
    pub relallfrozen: Option<i64>,
}

/// How an attribute is named in the call: tables by column name; index columns by position,
/// since an expression column's name is not stable across dump and reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    Name(String),
    Num(usize),
}

/// One `pg_stats` row's text values (`None` = NULL), in `pg_stats` column order after
/// `attname`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttrStats {
    pub inherited: Option<String>,
    pub null_frac: Option<String>,
    pub avg_width: Option<String>,
    pub n_distinct: Option<String>,
    pub most_common_vals: Option<String>,
    pub most_common_freqs: Option<String>,
    pub histogram_bounds: Option<String>,
    pub correlation: Option<String>,
    pub most_common_elems: Option<String>,
    pub most_common_elem_freqs: Option<String>,
    pub elem_count_histogram: Option<String>,
    /// The range fields exist in `pg_stats` from server 17 on.
    pub range_length_histogram: Option<String>,
    pub range_empty_frac: Option<String>,
    pub range_bounds_histogram: Option<String>,
}

/// The whole definition: relation counters, then each attribute's row. `version` is the
/// source server's `server_version_num`.
pub fn relation_stats_sql(
    version: u32,
    schema: &str,
    rel: &str,
    counters: &RelCounters,
    attrs: &[(Column, AttrStats)],
) -> String {
    let mut out = String::from("SELECT * FROM pg_catalog.pg_restore_relation_stats(\n");
    out.push_str(&format!("\t'version', '{version}'::integer,\n"));
    out.push_str(&format!("\t'schemaname', {},\n", literal(schema)));
    out.push_str(&format!("\t'relname', {},\n", literal(rel)));
    out.push_str(&format!("\t'relpages', '{}'::integer,\n", counters.relpages));
    // Before 14 a reltuples of 0 could mean "never analyzed"; pg_dump writes -1 for those
    // servers, which pgsnap does not read from.
    out.push_str(&format!("\t'reltuples', '{}'::real,\n", counters.reltuples));
    out.push_str(&format!("\t'relallvisible', '{}'::integer", counters.relallvisible));
    if let Some(frozen) = counters.relallfrozen {
        out.push_str(&format!(",\n\t'relallfrozen', '{frozen}'::integer"));
    }
    out.push_str("\n);\n");
    for (col, a) in attrs {
        out.push_str("SELECT * FROM pg_catalog.pg_restore_attribute_stats(\n");
        out.push_str(&format!("\t'version', '{version}'::integer,\n"));
        out.push_str(&format!("\t'schemaname', {},\n", literal(schema)));
        out.push_str(&format!("\t'relname', {}", literal(rel)));
        match col {
            Column::Name(n) => out.push_str(&format!(",\n\t'attname', {}", literal(n))),
            Column::Num(n) => out.push_str(&format!(",\n\t'attnum', '{n}'::smallint")),
        }
        let fields: [(&str, &str, &Option<String>); 14] = [
            ("inherited", "boolean", &a.inherited),
            ("null_frac", "real", &a.null_frac),
            ("avg_width", "integer", &a.avg_width),
            ("n_distinct", "real", &a.n_distinct),
            ("most_common_vals", "text", &a.most_common_vals),
            ("most_common_freqs", "real[]", &a.most_common_freqs),
            ("histogram_bounds", "text", &a.histogram_bounds),
            ("correlation", "real", &a.correlation),
            ("most_common_elems", "text", &a.most_common_elems),
            ("most_common_elem_freqs", "real[]", &a.most_common_elem_freqs),
            ("elem_count_histogram", "real[]", &a.elem_count_histogram),
            ("range_length_histogram", "text", &a.range_length_histogram),
            ("range_empty_frac", "real", &a.range_empty_frac),
            ("range_bounds_histogram", "text", &a.range_bounds_histogram),
        ];
        for (name, ty, value) in fields {
            if let Some(v) = value {
                out.push_str(&format!(",\n\t'{name}', {}::{ty}", literal(v)));
            }
        }
        out.push_str("\n);\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relation_and_attribute_calls_as_pg_dump_18_writes_them() {
        let counters = RelCounters {
            relpages: 1,
            reltuples: "3".into(),
            relallvisible: 0,
            relallfrozen: Some(0),
        };
        let attrs = vec![(
            Column::Name("it's".into()),
            AttrStats {
                inherited: Some("f".into()),
                null_frac: Some("0".into()),
                avg_width: Some("4".into()),
                n_distinct: Some("-1".into()),
                histogram_bounds: Some("{1,2,3}".into()),
                correlation: Some("1".into()),
                ..AttrStats::default()
            },
        )];
        assert_eq!(
            relation_stats_sql(180006, "shop", "or'ders", &counters, &attrs),
            "SELECT * FROM pg_catalog.pg_restore_relation_stats(\n\
             \t'version', '180006'::integer,\n\
             \t'schemaname', 'shop',\n\
             \t'relname', 'or''ders',\n\
             \t'relpages', '1'::integer,\n\
             \t'reltuples', '3'::real,\n\
             \t'relallvisible', '0'::integer,\n\
             \t'relallfrozen', '0'::integer\n\
             );\n\
             SELECT * FROM pg_catalog.pg_restore_attribute_stats(\n\
             \t'version', '180006'::integer,\n\
             \t'schemaname', 'shop',\n\
             \t'relname', 'or''ders',\n\
             \t'attname', 'it''s',\n\
             \t'inherited', 'f'::boolean,\n\
             \t'null_frac', '0'::real,\n\
             \t'avg_width', '4'::integer,\n\
             \t'n_distinct', '-1'::real,\n\
             \t'histogram_bounds', '{1,2,3}'::text,\n\
             \t'correlation', '1'::real\n\
             );\n"
        );
    }

    #[test]
    fn older_servers_have_no_relallfrozen_and_index_columns_go_by_number() {
        let counters = RelCounters {
            relpages: 0,
            reltuples: "-1".into(),
            relallvisible: 0,
            relallfrozen: None,
        };
        let sql = relation_stats_sql(150018, "s", "i", &counters, &[(Column::Num(2), AttrStats::default())]);
        assert_eq!(
            sql,
            "SELECT * FROM pg_catalog.pg_restore_relation_stats(\n\t'version', '150018'::integer,\n\t'schemaname', \
             's',\n\t'relname', 'i',\n\t'relpages', '0'::integer,\n\t'reltuples', '-1'::real,\n\t'relallvisible', \
             '0'::integer\n);\nSELECT * FROM pg_catalog.pg_restore_attribute_stats(\n\t'version', \
             '150018'::integer,\n\t'schemaname', 's',\n\t'relname', 'i',\n\t'attnum', '2'::smallint\n);\n"
        );
    }
}
