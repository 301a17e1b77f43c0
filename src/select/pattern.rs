//! psql-style name patterns turned into the POSIX regular expressions pg_dump sends to the
//! server, and the WHERE clauses it builds from them (fe_utils/string_utils.c
//! `patternToSQLRegex` and `processSQLNamePattern`). Pure: the queries are run by
//! `select::resolve`.
//!
//! The rules, as pg_dump applies them:
//! - outside double quotes ASCII letters fold to lower case, `*` becomes `.*`, `?` becomes `.`
//!   and `.` separates the parts of a qualified name;
//! - inside double quotes everything is literal (`""` is one quote) and regex
//!   metacharacters are escaped; outside quotes they pass through (`-t 'foo(1|2)'` works),
//!   except `[]`, which is escaped because it is far likelier an array type name;
//! - `$` is always escaped (it is legal in identifiers and anchoring makes it useless);
//! - each part is anchored as `^(...)$`; a part that is just `*` adds no condition;
//! - the database part of `db.schema.name` is kept literally (not a regex) and must equal
//!   the connected database;
//! - dots beyond the parts a pattern may have are kept (as regex `.`) but counted, and the
//!   caller rejects the pattern.

use crate::error::{Error, Result};

/// How many dotted parts a pattern may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parts {
    /// Only a name (extensions, foreign servers): no splitting at all.
    Name,
    /// `schema.name`.
    SchemaName,
    /// `db.schema.name`.
    DbSchemaName,
}

/// A pattern split and converted: the regexes (anchored) and the literal database name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Regexes {
    /// The database part, literally (quotes removed, unquoted letters folded).
    pub db: Option<String>,
    pub schema: Option<String>,
    pub name: String,
    /// Unquoted dots seen, including ones beyond the parts allowed.
    pub dots: usize,
}

/// Characters escaped inside double quotes.
const REGEX_SPECIAL: &str = "|*+?()[]{}.^$\\";

/// Converts a pattern (`patternToSQLRegex` with `force_escape` off and a literal database
/// name, as pg_dump calls it).
pub fn to_regexes(pattern: &str, parts: Parts) -> Regexes {
    let max = match parts {
        Parts::Name => 0,
        Parts::SchemaName => 1,
        Parts::DbSchemaName => 2,
    };
    // Finished parts, then the one being built.
    let mut done: Vec<String> = Vec::new();
    let mut cur = String::from("^(");
    let mut literal_db = String::new();
    // Characters before the first dot also build the literal database name.
    let mut left = true;
    let mut in_quotes = false;
    let mut dots = 0;
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        let next = chars.get(i + 1).copied();
        i += 1;
        if ch == '"' {
            if in_quotes && next == Some('"') {
                cur.push('"');
                if left {
                    literal_db.push('"');
                }
                i += 1;
            } else {
                in_quotes = !in_quotes;
            }
            continue;
        }
        if !in_quotes && ch == '.' {
            left = false;
            dots += 1;
            if done.len() < max {
                cur.push_str(")$");
                done.push(std::mem::replace(&mut cur, String::from("^(")));
            } else {
                cur.push('.');
            }
            continue;
        }
        // What the character adds to the regex, and to the literal database name.
        let (regex, lit): (String, char) = if !in_quotes && ch.is_ascii_uppercase() {
            let lower = ch.to_ascii_lowercase();
            (lower.to_string(), lower)
        } else if !in_quotes && ch == '*' {
            (".*".into(), ch)
        } else if !in_quotes && ch == '?' {
            (".".into(), ch)
        } else if ch == '$' {
            ("\\$".into(), ch)
        } else if ch.is_ascii() && ((in_quotes && REGEX_SPECIAL.contains(ch)) || (ch == '[' && next == Some(']'))) {
            (format!("\\{ch}"), ch)
        } else {
            (ch.to_string(), ch)
        };
        cur.push_str(&regex);
        if left {
            literal_db.push(lit);
        }
    }
    cur.push_str(")$");
    let name = cur;
    let schema = done.pop();
    let db = done.pop().map(|_| literal_db);
    Regexes { db, schema, name, dots }
}

/// A string literal the server reads the same whatever `standard_conforming_strings` says:
/// with a backslash it is written `E'...'` with backslashes doubled
/// (`appendStringLiteralConn`).
pub fn regex_literal(s: &str) -> String {
    let quoted = s.replace('\'', "''");
    if s.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

/// The conditions `processSQLNamePattern` adds for one pattern: the name regex (unless it is
/// `*`), the schema regex (unless it is `*`), or, when the pattern has no schema part, the
/// visibility rule. Server 12+ is assumed (pgsnap reads 13+), hence the explicit collation.
pub fn conditions(re: &Regexes, schema_col: Option<&str>, name_col: &str, visibility: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    let matches = |col: &str, regex: &str| {
        format!(
            "{col} OPERATOR(pg_catalog.~) {} COLLATE pg_catalog.default",
            regex_literal(regex)
        )
    };
    if re.name != "^(.*)$" {
        out.push(matches(name_col, &re.name));
    }
    match (schema_col, &re.schema) {
        (Some(col), Some(schema)) => {
            if schema != "^(.*)$" {
                out.push(matches(col, schema));
            }
        }
        _ => {
            if let Some(v) = visibility {
                out.push(v.to_string());
            }
        }
    }
    out
}

/// What a pattern selects, which decides its dotted-name rules and its error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Schema,
    Table,
    Extension,
    ForeignServer,
}

/// Checks the number of dotted parts the way pg_dump's `expand_*_name_patterns` do, before
/// anything is sent: tables allow `db.schema.name`, schemas `db.schema` (whose database
/// part pg_dump never extracts, so it always fails the database check), extensions and
/// foreign servers a bare name.
pub fn check_dots(kind: Kind, pattern: &str) -> Result<Regexes> {
    let parts = match kind {
        Kind::Table => Parts::DbSchemaName,
        Kind::Schema | Kind::Extension | Kind::ForeignServer => Parts::Name,
    };
    let re = to_regexes(pattern, parts);
    let too_many = match kind {
        Kind::Table => re.dots > 2,
        Kind::Schema => re.dots > 1,
        Kind::Extension | Kind::ForeignServer => re.dots > 0,
    };
    if too_many {
        let what = if kind == Kind::Table { "relation" } else { "qualified" };
        return Err(Error::usage(format!(
            "improper {what} name (too many dotted names): {pattern}"
        )));
    }
    Ok(re)
}

/// The query that lists the OIDs a pattern selects (pg_dump's `expand_*_name_patterns`),
/// after the database part has been checked against `current_db`. Table patterns with
/// `with_children` also take every inheritance/partition descendant (pg_inherits,
/// recursively).
pub fn oid_query(kind: Kind, pattern: &str, current_db: &str, with_children: bool) -> Result<String> {
    let re = check_dots(kind, pattern)?;
    let cross_db = match kind {
        // The schema pattern's database part is never captured: any dotted schema pattern
        // names another database as far as pg_dump is concerned.
        Kind::Schema => re.dots == 1,
        Kind::Table => re.dots == 2 && re.db.as_deref() != Some(current_db),
        Kind::Extension | Kind::ForeignServer => false,
    };
    if cross_db {
        return Err(Error::usage(format!(
            "cross-database references are not implemented: {pattern}"
        )));
    }
    let mut sql = String::new();
    let conds = match kind {
        Kind::Schema => {
            sql.push_str("SELECT oid FROM pg_catalog.pg_namespace n\n");
            conditions(&re, None, "n.nspname", None)
        }
        Kind::Extension => {
            sql.push_str("SELECT oid FROM pg_catalog.pg_extension e\n");
            conditions(&re, None, "e.extname", None)
        }
        Kind::ForeignServer => {
            sql.push_str("SELECT oid FROM pg_catalog.pg_foreign_server s\n");
            conditions(&re, None, "s.srvname", None)
        }
        Kind::Table => {
            if with_children {
                sql.push_str("WITH RECURSIVE partition_tree (relid) AS (\n");
            }
            sql.push_str(
                "SELECT c.oid\nFROM pg_catalog.pg_class c\n     LEFT JOIN pg_catalog.pg_namespace n\n     \
                 ON n.oid OPERATOR(pg_catalog.=) c.relnamespace\nWHERE c.relkind OPERATOR(pg_catalog.=) ANY\n    \
                 (array['r', 'S', 'v', 'm', 'f', 'p'])\n",
            );
            conditions(
                &re,
                Some("n.nspname"),
                "c.relname",
                Some("pg_catalog.pg_table_is_visible(c.oid)"),
            )
        }
    };
    let mut have_where = kind == Kind::Table;
    for c in conds {
        sql.push_str(if have_where { "  AND " } else { "WHERE " });
        have_where = true;
        sql.push_str(&c);
        sql.push('\n');
    }
    if kind == Kind::Table && with_children {
        sql.push_str(
            "UNION\nSELECT i.inhrelid\nFROM partition_tree p\n     JOIN pg_catalog.pg_inherits i\n     \
             ON p.relid OPERATOR(pg_catalog.=) i.inhparent\n)\nSELECT relid FROM partition_tree",
        );
    }
    Ok(sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (pattern, schema regex, name regex) for table patterns, as stock pg_dump 18 sent them
    /// (captured once with `log_statement = all`; see the module docs for the rules).
    const TABLE_CASES: &[(&str, Option<&str>, &str)] = &[
        ("public.t1", Some("^(public)$"), "^(t1)$"),
        ("\"Mixed\".\"Tab\"", Some("^(Mixed)$"), "^(Tab)$"),
        ("Mixed.Tab", Some("^(mixed)$"), "^(tab)$"),
        ("\"dot.s\".\"a.b\"", Some("^(dot\\.s)$"), "^(a\\.b)$"),
        ("\"we\"\"ird\"", None, "^(we\"ird)$"),
        ("\"sp ace\"", None, "^(sp ace)$"),
        ("\"re(g)x|$\"", None, "^(re\\(g\\)x\\|\\$)$"),
        ("re(g)x|$", None, "^(re(g)x|\\$)$"),
        ("ünï", None, "^(ünï)$"),
        ("t?", None, "^(t.)$"),
        ("*.t*", Some("^(.*)$"), "^(t.*)$"),
        ("Ü*", None, "^(Ü.*)$"),
        ("\"a\"b\"", None, "^(ab)$"),
        ("t[]", None, "^(t\\[])$"),
        ("x|y", None, "^(x|y)$"),
        ("", None, "^()$"),
    ];

    #[test]
    fn table_patterns_become_pg_dumps_regexes() {
        for (pattern, schema, name) in TABLE_CASES {
            let re = to_regexes(pattern, Parts::DbSchemaName);
            assert_eq!(re.schema.as_deref(), *schema, "schema part of {pattern}");
            assert_eq!(re.name, *name, "name part of {pattern}");
        }
    }

    #[test]
    fn database_part_is_literal() {
        let re = to_regexes("MyDb.public.t", Parts::DbSchemaName);
        assert_eq!(re.db.as_deref(), Some("mydb"));
        assert_eq!(re.dots, 2);
        let re = to_regexes("\"My.Db\".s.t", Parts::DbSchemaName);
        assert_eq!(re.db.as_deref(), Some("My.Db"));
        let re = to_regexes("d*$.s.t", Parts::DbSchemaName);
        assert_eq!(
            re.db.as_deref(),
            Some("d*$"),
            "wildcards stay literal in the database part"
        );
        let re = to_regexes("a.b.c.d", Parts::DbSchemaName);
        assert_eq!((re.dots, re.name.as_str()), (3, "^(c.d)$"));
    }

    #[test]
    fn unsplit_patterns_keep_dots_but_count_them() {
        let re = to_regexes("a.b", Parts::Name);
        assert_eq!((re.schema, re.name.as_str(), re.dots), (None, "^(a.b)$", 1));
        let re = to_regexes("\"a.b\"", Parts::Name);
        assert_eq!((re.name.as_str(), re.dots), ("^(a\\.b)$", 0));
    }

    #[test]
    fn conditions_follow_process_sql_name_pattern() {
        let vis = Some("pg_catalog.pg_table_is_visible(c.oid)");
        let c = conditions(
            &to_regexes("t", Parts::DbSchemaName),
            Some("n.nspname"),
            "c.relname",
            vis,
        );
        assert_eq!(
            c,
            [
                "c.relname OPERATOR(pg_catalog.~) '^(t)$' COLLATE pg_catalog.default",
                "pg_catalog.pg_table_is_visible(c.oid)"
            ]
        );
        // `*.*` adds nothing at all: no name, no schema, no visibility.
        let c = conditions(
            &to_regexes("*.*", Parts::DbSchemaName),
            Some("n.nspname"),
            "c.relname",
            vis,
        );
        assert!(c.is_empty(), "{c:?}");
        let c = conditions(
            &to_regexes("\"a.b\"", Parts::DbSchemaName),
            Some("n.nspname"),
            "c.relname",
            vis,
        );
        assert_eq!(
            c[0],
            "c.relname OPERATOR(pg_catalog.~) E'^(a\\\\.b)$' COLLATE pg_catalog.default"
        );
        assert_eq!(regex_literal("it's"), "'it''s'");
    }

    #[test]
    fn dotted_name_errors_are_pg_dumps() {
        let msg = |k, p| check_dots(k, p).unwrap_err().to_string();
        assert_eq!(
            msg(Kind::Table, "a.b.c.d"),
            "improper relation name (too many dotted names): a.b.c.d"
        );
        assert_eq!(
            msg(Kind::Schema, "a.b.c"),
            "improper qualified name (too many dotted names): a.b.c"
        );
        assert_eq!(
            msg(Kind::Extension, "a.b"),
            "improper qualified name (too many dotted names): a.b"
        );
        assert_eq!(
            msg(Kind::ForeignServer, "a.b"),
            "improper qualified name (too many dotted names): a.b"
        );
        assert!(check_dots(Kind::Table, "\"a.b.c.d\"").is_ok());
        let cross = |k, p| oid_query(k, p, "shop", false).unwrap_err().to_string();
        assert_eq!(
            cross(Kind::Table, "other.public.t"),
            "cross-database references are not implemented: other.public.t"
        );
        assert_eq!(
            cross(Kind::Schema, "shop.public"),
            "cross-database references are not implemented: shop.public"
        );
        assert!(oid_query(Kind::Table, "shop.public.t", "shop", false).is_ok());
        assert!(oid_query(Kind::Table, "Shop.public.t", "shop", false).is_ok());
    }

    #[test]
    fn table_query_with_children_recurses_through_pg_inherits() {
        let q = oid_query(Kind::Table, "s.p", "db", true).unwrap();
        assert!(
            q.starts_with("WITH RECURSIVE partition_tree (relid) AS (\nSELECT c.oid"),
            "{q}"
        );
        assert!(q.contains("  AND n.nspname OPERATOR(pg_catalog.~) '^(s)$'"), "{q}");
        assert!(q.ends_with("SELECT relid FROM partition_tree"), "{q}");
        let q = oid_query(Kind::Schema, "Shop", "db", false).unwrap();
        assert_eq!(
            q,
            "SELECT oid FROM pg_catalog.pg_namespace n\nWHERE n.nspname OPERATOR(pg_catalog.~) '^(shop)$' COLLATE \
             pg_catalog.default\n"
        );
        let q = oid_query(Kind::Extension, "*", "db", false).unwrap();
        assert_eq!(q, "SELECT oid FROM pg_catalog.pg_extension e\n");
    }
}
