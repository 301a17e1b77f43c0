//! Publications and their members (pg_dump.c `dumpPublication`, `dumpPublicationTable`,
//! `dumpPublicationNamespace`).

use super::quote::ident;

/// What `CREATE PUBLICATION` states.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Publication {
    pub name: String,
    pub all_tables: bool,
    pub insert: bool,
    pub update: bool,
    pub delete: bool,
    pub truncate: bool,
    /// `publish_via_partition_root` (13+).
    pub via_root: bool,
    /// `publish_generated_columns = stored` (18: `pubgencols = 's'`).
    pub generated_stored: bool,
}

/// `CREATE PUBLICATION p [FOR ALL TABLES] WITH (publish = '...'[, ...]);` — the publish list
/// always, the other options only when not the default.
pub fn publication_sql(p: &Publication) -> String {
    let mut s = format!("CREATE PUBLICATION {}", ident(&p.name));
    if p.all_tables {
        s.push_str(" FOR ALL TABLES");
    }
    let ops: Vec<&str> = [
        (p.insert, "insert"),
        (p.update, "update"),
        (p.delete, "delete"),
        (p.truncate, "truncate"),
    ]
    .into_iter()
    .filter_map(|(on, op)| on.then_some(op))
    .collect();
    s.push_str(&format!(" WITH (publish = '{}'", ops.join(", ")));
    if p.via_root {
        s.push_str(", publish_via_partition_root = true");
    }
    if p.generated_stored {
        s.push_str(", publish_generated_columns = stored");
    }
    s.push_str(");\n");
    s
}

pub fn drop_publication_sql(name: &str) -> String {
    format!("DROP PUBLICATION {};\n", ident(name))
}

/// `ALTER PUBLICATION p ADD TABLE ONLY s.t [(a, b)] [WHERE (expr)];` — the row filter gets
/// its own parentheses, since `pg_get_expr` does not always supply them.
pub fn publication_table_sql(
    publication: &str,
    table: &str,
    columns: Option<&[String]>,
    filter: Option<&str>,
) -> String {
    let mut s = format!("ALTER PUBLICATION {} ADD TABLE ONLY {table}", ident(publication));
    if let Some(cols) = columns {
        let cols: Vec<String> = cols.iter().map(|c| ident(c)).collect();
        s.push_str(&format!(" ({})", cols.join(", ")));
    }
    if let Some(f) = filter {
        s.push_str(&format!(" WHERE ({f})"));
    }
    s.push_str(";\n");
    s
}

/// `ALTER PUBLICATION p ADD TABLES IN SCHEMA s;` (15+).
pub fn publication_schema_sql(publication: &str, schema: &str) -> String {
    format!(
        "ALTER PUBLICATION {} ADD TABLES IN SCHEMA {};\n",
        ident(publication),
        ident(schema)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publications_like_pg_dump() {
        let all = Publication {
            name: "pub_all".into(),
            all_tables: true,
            insert: true,
            update: true,
            delete: true,
            truncate: true,
            ..Default::default()
        };
        assert_eq!(
            publication_sql(&all),
            "CREATE PUBLICATION pub_all FOR ALL TABLES WITH (publish = 'insert, update, delete, truncate');\n"
        );
        let some = Publication {
            name: "Pub 1".into(),
            insert: true,
            update: true,
            via_root: true,
            generated_stored: true,
            ..Default::default()
        };
        assert_eq!(
            publication_sql(&some),
            "CREATE PUBLICATION \"Pub 1\" WITH (publish = 'insert, update', publish_via_partition_root = true, \
             publish_generated_columns = stored);\n"
        );
        let none = Publication {
            name: "p".into(),
            ..Default::default()
        };
        assert_eq!(publication_sql(&none), "CREATE PUBLICATION p WITH (publish = '');\n");
        assert_eq!(drop_publication_sql("Pub 1"), "DROP PUBLICATION \"Pub 1\";\n");
    }

    #[test]
    fn publication_members_like_pg_dump() {
        assert_eq!(
            publication_table_sql("pub1", "k.t1", None, None),
            "ALTER PUBLICATION pub1 ADD TABLE ONLY k.t1;\n"
        );
        assert_eq!(
            publication_table_sql("pub4", "k.t1", Some(&["id".into(), "Name".into()]), Some("(id > 10)")),
            "ALTER PUBLICATION pub4 ADD TABLE ONLY k.t1 (id, \"Name\") WHERE ((id > 10));\n"
        );
        assert_eq!(
            publication_schema_sql("pub5", "My Schema"),
            "ALTER PUBLICATION pub5 ADD TABLES IN SCHEMA \"My Schema\";\n"
        );
    }
}
