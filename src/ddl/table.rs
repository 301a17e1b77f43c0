//! `CREATE TABLE` and the ALTERs pg_dump keeps in the same TOC entry (pg_dump.c
//! `dumpTableSchema`), separate `DEFAULT`s (`dumpAttrDef`), `TABLE ATTACH`
//! (`dumpTableAttach`) and the stored COPY statement of `TABLE DATA` (`dumpTableData`).

use super::quote::{ident, literal};

/// One printed column of a `CREATE TABLE`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnDef {
    pub name: String,
    /// `format_type(atttypid, atttypmod)`.
    pub type_sql: String,
    /// Inline `DEFAULT expr` (already deparsed).
    pub default: Option<String>,
    /// `attgenerated`: `s` stored, `v` virtual, anything else none; the expression is `default`.
    pub generated: Option<u8>,
    /// `Some(None)` = bare `NOT NULL`, `Some(Some(n))` = `CONSTRAINT n NOT NULL`.
    pub not_null: Option<Option<String>>,
    pub no_inherit: bool,
    /// Quoted, qualified collation name when it differs from the type's default.
    pub collation: Option<String>,
}

/// What a foreign table adds to `CREATE FOREIGN TABLE`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForeignTable {
    /// The server's name (quoted here).
    pub server: String,
    /// `name 'value'` items, already quoted, in option-name order.
    pub options: Vec<String>,
}

/// Everything `CREATE TABLE` prints, plus the trailing per-table ALTERs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableDef {
    /// `schema.table`, quoted.
    pub qualified: String,
    pub unlogged: bool,
    /// A typed table's type (`CREATE TABLE t OF type`), as `format_type` prints it: columns
    /// are then listed only for a default or NOT NULL, without their type.
    pub of_type: Option<String>,
    /// `CREATE FOREIGN TABLE ... SERVER s OPTIONS (...)`.
    pub foreign: Option<ForeignTable>,
    pub columns: Vec<ColumnDef>,
    /// Table-level NOT NULL lines for inherited columns with a local constraint (server 18):
    /// (constraint name when not the default, column name).
    pub table_not_nulls: Vec<(Option<String>, String)>,
    /// Inline CHECK constraints: (name, `pg_get_constraintdef`).
    pub checks: Vec<(String, String)>,
    /// Parents for `INHERITS (...)`, quoted and qualified.
    pub inherits: Vec<String>,
    /// `pg_get_partkeydef(oid)`.
    pub partition_by: Option<String>,
    /// Raw `reloptions` items (`name=value`).
    pub reloptions: Vec<String>,
    /// Raw TOAST `reloptions` items.
    pub toast_options: Vec<String>,
    /// Per-column ALTERs (SET STATISTICS / STORAGE / COMPRESSION / options), already rendered.
    pub column_alters: Vec<String>,
    /// `relreplident`.
    pub replica_identity: u8,
    pub force_row_security: bool,
}

/// Formats a reloptions array as pg_dump does (`fmtReloptionsArray`): `name='value'`, with
/// an optional prefix such as `toast.`.
pub fn reloptions_sql(items: &[String], prefix: &str) -> Vec<String> {
    items
        .iter()
        .map(|item| match item.split_once('=') {
            Some((name, value)) => format!("{prefix}{}={}", ident(name), literal(value)),
            None => format!("{prefix}{}", ident(item)),
        })
        .collect()
}

/// `name 'value'` items as pg_dump prints an OPTIONS list, one per line.
pub fn options_sql(items: &[String]) -> String {
    format!("OPTIONS (\n    {}\n)", items.join(",\n    "))
}

fn column_sql(c: &ColumnDef, typed: bool) -> String {
    let mut s = if typed {
        format!("    {}", ident(&c.name))
    } else {
        format!("    {} {}", ident(&c.name), c.type_sql)
    };
    match (c.generated, &c.default) {
        (Some(b's'), Some(expr)) => s.push_str(&format!(" GENERATED ALWAYS AS ({expr}) STORED")),
        (Some(b'v'), Some(expr)) => s.push_str(&format!(" GENERATED ALWAYS AS ({expr})")),
        (_, Some(expr)) => s.push_str(&format!(" DEFAULT {expr}")),
        _ => {}
    }
    match &c.not_null {
        Some(Some(name)) => s.push_str(&format!(" CONSTRAINT {} NOT NULL", ident(name))),
        Some(None) => s.push_str(" NOT NULL"),
        None => {}
    }
    if c.not_null.is_some() && c.no_inherit {
        s.push_str(" NO INHERIT");
    }
    if let Some(coll) = &c.collation {
        s.push_str(&format!(" COLLATE {coll}"));
    }
    s
}

/// The TABLE (or FOREIGN TABLE) entry's defn (`dumpTableSchema`).
pub fn create_table_sql(t: &TableDef) -> String {
    let typed = t.of_type.is_some();
    // A typed table's column carries nothing the type does not, unless it has a default
    // or a NOT NULL.
    let mut lines: Vec<String> = t
        .columns
        .iter()
        .filter(|c| !typed || c.default.is_some() || c.not_null.is_some())
        .map(|c| column_sql(c, typed))
        .collect();
    for (name, col) in &t.table_not_nulls {
        match name {
            Some(n) => lines.push(format!("    CONSTRAINT {} NOT NULL {}", ident(n), ident(col))),
            None => lines.push(format!("    NOT NULL {}", ident(col))),
        }
    }
    for (name, def) in &t.checks {
        lines.push(format!("    CONSTRAINT {} {def}", ident(name)));
    }
    let unlogged = if t.unlogged && t.partition_by.is_none() {
        "UNLOGGED "
    } else {
        ""
    };
    let kind = if t.foreign.is_some() { "FOREIGN TABLE" } else { "TABLE" };
    let mut s = format!("CREATE {unlogged}{kind} {}", t.qualified);
    if let Some(of) = &t.of_type {
        s.push_str(&format!(" OF {of}"));
    }
    if !lines.is_empty() {
        s.push_str(&format!(" (\n{}\n)", lines.join(",\n")));
    } else if !typed {
        s.push_str(" (\n)");
    }
    if !t.inherits.is_empty() {
        s.push_str(&format!("\nINHERITS ({})", t.inherits.join(", ")));
    }
    if let Some(key) = &t.partition_by {
        s.push_str(&format!("\nPARTITION BY {key}"));
    }
    if let Some(f) = &t.foreign {
        s.push_str(&format!("\nSERVER {}", ident(&f.server)));
    }
    let mut opts = reloptions_sql(&t.reloptions, "");
    opts.extend(reloptions_sql(&t.toast_options, "toast."));
    if !opts.is_empty() {
        s.push_str(&format!("\nWITH ({})", opts.join(", ")));
    }
    if let Some(f) = t.foreign.as_ref().filter(|f| !f.options.is_empty()) {
        s.push_str(&format!("\n{}", options_sql(&f.options)));
    }
    s.push_str(";\n");
    for a in &t.column_alters {
        s.push_str(a);
    }
    match t.replica_identity {
        b'n' => s.push_str(&format!(
            "\nALTER TABLE ONLY {} REPLICA IDENTITY NOTHING;\n",
            t.qualified
        )),
        b'f' => s.push_str(&format!("\nALTER TABLE ONLY {} REPLICA IDENTITY FULL;\n", t.qualified)),
        _ => {}
    }
    if t.force_row_security {
        s.push_str(&format!(
            "\nALTER TABLE ONLY {} FORCE ROW LEVEL SECURITY;\n",
            t.qualified
        ));
    }
    s
}

/// Per-column ALTERs emitted after the CREATE (`dumpTableSchema`).
pub struct ColumnAlter<'a> {
    pub table: &'a str,
    /// A foreign table: `ALTER FOREIGN TABLE`.
    pub foreign: bool,
    pub column: &'a str,
    /// `attstattarget` when set.
    pub statistics: Option<i64>,
    /// `attstorage` when it differs from the type's `typstorage`.
    pub storage: Option<u8>,
    /// `pglz` / `lz4` when `attcompression` is set.
    pub compression: Option<&'a str>,
    /// `array_to_string(attoptions, ', ')` when set.
    pub options: Option<&'a str>,
    /// A foreign table column's generic options (`name 'value'` items).
    pub fdw_options: &'a [String],
}

pub fn column_alters_sql(a: &ColumnAlter<'_>) -> String {
    let foreign = if a.foreign { "FOREIGN " } else { "" };
    let prefix = format!("ALTER {foreign}TABLE ONLY {} ALTER COLUMN {}", a.table, ident(a.column));
    let mut s = String::new();
    if let Some(n) = a.statistics {
        s.push_str(&format!("{prefix} SET STATISTICS {n};\n"));
    }
    if let Some(st) = a.storage {
        let word = match st {
            b'p' => "PLAIN",
            b'e' => "EXTERNAL",
            b'm' => "MAIN",
            b'x' => "EXTENDED",
            _ => "",
        };
        if !word.is_empty() {
            s.push_str(&format!("{prefix} SET STORAGE {word};\n"));
        }
    }
    if let Some(c) = a.compression {
        s.push_str(&format!("{prefix} SET COMPRESSION {c};\n"));
    }
    if let Some(o) = a.options {
        s.push_str(&format!("{prefix} SET ({o});\n"));
    }
    if !a.fdw_options.is_empty() {
        s.push_str(&format!("{prefix} {};\n", options_sql(a.fdw_options)));
    }
    s
}

/// A separate `DEFAULT` entry's defn and drop statement (`dumpAttrDef`).
pub fn default_sql(table: &str, column: &str, expr: &str) -> (String, String) {
    relation_default_sql("TABLE", table, column, expr)
}

/// As `default_sql`, for a relation kind's ALTER keyword (`FOREIGN TABLE`, `TABLE`).
pub fn relation_default_sql(keyword: &str, table: &str, column: &str, expr: &str) -> (String, String) {
    let col = ident(column);
    (
        format!("ALTER {keyword} ONLY {table} ALTER COLUMN {col} SET DEFAULT {expr};\n"),
        // dumpAttrDef's drop statement has no ONLY (its SET DEFAULT has).
        format!("ALTER {keyword} {table} ALTER COLUMN {col} DROP DEFAULT;\n"),
    )
}

/// `TABLE ATTACH` defn (`dumpTableAttach`).
pub fn attach_sql(parent: &str, child: &str, bound: &str) -> String {
    format!("ALTER TABLE ONLY {parent} ATTACH PARTITION {child} {bound};\n")
}

/// Quoted, comma-separated COPY column list.
pub fn copy_columns(columns: &[String]) -> String {
    columns.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ")
}

/// The stored copy statement; zero columns gives pg_dump's double space.
pub fn copy_in_sql(table: &str, columns: &str) -> String {
    if columns.is_empty() {
        format!("COPY {table}  FROM stdin;\n")
    } else {
        format!("COPY {table} ({columns}) FROM stdin;\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_table_like_pg_dump() {
        let t = TableDef {
            qualified: "shop.customer".into(),
            columns: vec![
                ColumnDef {
                    name: "id".into(),
                    type_sql: "bigint".into(),
                    not_null: Some(None),
                    ..Default::default()
                },
                ColumnDef {
                    name: "name".into(),
                    type_sql: "text".into(),
                    not_null: Some(None),
                    collation: Some("shop.ci_c".into()),
                    ..Default::default()
                },
                ColumnDef {
                    name: "tenant".into(),
                    type_sql: "text".into(),
                    default: Some("CURRENT_USER".into()),
                    not_null: Some(None),
                    ..Default::default()
                },
            ],
            reloptions: vec!["fillfactor=90".into()],
            column_alters: vec![column_alters_sql(&ColumnAlter {
                table: "shop.customer",
                foreign: false,
                column: "note",
                statistics: None,
                storage: Some(b'e'),
                compression: None,
                options: Some("n_distinct=-0.5"),
                fdw_options: &[],
            })],
            replica_identity: b'd',
            ..Default::default()
        };
        assert_eq!(
            create_table_sql(&t),
            "CREATE TABLE shop.customer (\n    id bigint NOT NULL,\n    name text NOT NULL COLLATE shop.ci_c,\n    \
             tenant text DEFAULT CURRENT_USER NOT NULL\n)\nWITH (fillfactor='90');\n\
             ALTER TABLE ONLY shop.customer ALTER COLUMN note SET STORAGE EXTERNAL;\n\
             ALTER TABLE ONLY shop.customer ALTER COLUMN note SET (n_distinct=-0.5);\n"
        );
    }

    #[test]
    fn generated_inherits_partition_and_empty() {
        let t = TableDef {
            qualified: "s.c".into(),
            unlogged: true,
            columns: vec![ColumnDef {
                name: "g".into(),
                type_sql: "integer".into(),
                default: Some("(a * 2)".into()),
                generated: Some(b's'),
                not_null: Some(Some("n1".into())),
                ..Default::default()
            }],
            checks: vec![("c_check".into(), "CHECK ((g > 0))".into())],
            inherits: vec!["s.p".into()],
            ..Default::default()
        };
        assert_eq!(
            create_table_sql(&t),
            "CREATE UNLOGGED TABLE s.c (\n    g integer GENERATED ALWAYS AS ((a * 2)) STORED CONSTRAINT n1 NOT NULL,\n    \
             CONSTRAINT c_check CHECK ((g > 0))\n)\nINHERITS (s.p);\n"
        );
        let e = TableDef {
            qualified: "public.no_columns".into(),
            ..Default::default()
        };
        assert_eq!(create_table_sql(&e), "CREATE TABLE public.no_columns (\n);\n");
        let p = TableDef {
            qualified: "s.m".into(),
            partition_by: Some("RANGE (logdate)".into()),
            replica_identity: b'f',
            ..Default::default()
        };
        assert_eq!(
            create_table_sql(&p),
            "CREATE TABLE s.m (\n)\nPARTITION BY RANGE (logdate);\n\nALTER TABLE ONLY s.m REPLICA IDENTITY FULL;\n"
        );
    }

    #[test]
    fn typed_tables_list_only_defaults_and_not_nulls() {
        let col = |name: &str, default: Option<&str>, not_null: bool| ColumnDef {
            name: name.into(),
            type_sql: "integer".into(),
            default: default.map(Into::into),
            not_null: not_null.then_some(None),
            ..Default::default()
        };
        let mut t = TableDef {
            qualified: "k.people".into(),
            of_type: Some("k.person".into()),
            columns: vec![
                col("name", None, true),
                col("age", Some("18"), false),
                col("note", None, false),
            ],
            ..Default::default()
        };
        assert_eq!(
            create_table_sql(&t),
            "CREATE TABLE k.people OF k.person (\n    name NOT NULL,\n    age DEFAULT 18\n);\n"
        );
        t.columns = vec![col("note", None, false)];
        assert_eq!(create_table_sql(&t), "CREATE TABLE k.people OF k.person;\n");
        t.checks = vec![("age_ok".into(), "CHECK ((age > 0))".into())];
        assert_eq!(
            create_table_sql(&t),
            "CREATE TABLE k.people OF k.person (\n    CONSTRAINT age_ok CHECK ((age > 0))\n);\n"
        );
    }

    #[test]
    fn foreign_tables_like_pg_dump() {
        let t = TableDef {
            qualified: "k.ft".into(),
            foreign: Some(ForeignTable {
                server: "s1".into(),
                options: vec!["delimiter ','".into(), "table_name 't'".into()],
            }),
            columns: vec![ColumnDef {
                name: "c1".into(),
                type_sql: "integer".into(),
                not_null: Some(None),
                ..Default::default()
            }],
            column_alters: vec![column_alters_sql(&ColumnAlter {
                table: "k.ft",
                foreign: true,
                column: "c1",
                statistics: Some(50),
                storage: None,
                compression: None,
                options: None,
                fdw_options: &["column_name 'col1'".into()],
            })],
            ..Default::default()
        };
        assert_eq!(
            create_table_sql(&t),
            "CREATE FOREIGN TABLE k.ft (\n    c1 integer NOT NULL\n)\nSERVER s1\nOPTIONS (\n    delimiter ',',\n    \
             table_name 't'\n);\nALTER FOREIGN TABLE ONLY k.ft ALTER COLUMN c1 SET STATISTICS 50;\n\
             ALTER FOREIGN TABLE ONLY k.ft ALTER COLUMN c1 OPTIONS (\n    column_name 'col1'\n);\n"
        );
        let bare = TableDef {
            qualified: "k.ft2".into(),
            foreign: Some(ForeignTable {
                server: "My Server".into(),
                options: Vec::new(),
            }),
            ..Default::default()
        };
        assert_eq!(
            create_table_sql(&bare),
            "CREATE FOREIGN TABLE k.ft2 (\n)\nSERVER \"My Server\";\n"
        );
        assert_eq!(
            relation_default_sql("FOREIGN TABLE", "k.ft", "c2", "'x'::text").0,
            "ALTER FOREIGN TABLE ONLY k.ft ALTER COLUMN c2 SET DEFAULT 'x'::text;\n"
        );
    }

    #[test]
    fn defaults_attach_and_copy() {
        let (d, x) = default_sql("shop.orders", "invoice_no", "nextval('shop.s'::regclass)");
        assert_eq!(
            d,
            "ALTER TABLE ONLY shop.orders ALTER COLUMN invoice_no SET DEFAULT nextval('shop.s'::regclass);\n"
        );
        assert_eq!(x, "ALTER TABLE shop.orders ALTER COLUMN invoice_no DROP DEFAULT;\n");
        assert_eq!(
            attach_sql("s.p", "s.c", "DEFAULT"),
            "ALTER TABLE ONLY s.p ATTACH PARTITION s.c DEFAULT;\n"
        );
        let cols = copy_columns(&["Key".into(), "select".into(), "a\"quote".into()]);
        assert_eq!(cols, "\"Key\", \"select\", \"a\"\"quote\"");
        assert_eq!(copy_in_sql("public.t", ""), "COPY public.t  FROM stdin;\n");
        assert_eq!(
            reloptions_sql(&["autovacuum_enabled=false".into()], "toast."),
            vec!["toast.autovacuum_enabled='false'"]
        );
    }
}
