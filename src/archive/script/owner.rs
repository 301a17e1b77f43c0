//! `ALTER ... OWNER TO` after each object (`_getObjectDescription` and the owner part of
//! `_printTocEntry`, pg_backup_archiver.c).

use super::super::toc::TocEntry;
use super::options::Dialect;
use super::text::ident;
use crate::error::{Error, ErrorKind, Result};

/// How pg_restore names the object of an entry in `ALTER <description> OWNER TO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerTarget {
    /// `ALTER <text> OWNER TO role;`
    Object(String),
    /// The kind has no owner of its own (indexes, constraints, casts, ...).
    NoOwner,
}

/// Kinds named `<desc> [schema.]name`.
const NAMED_KINDS: &[&str] = &[
    "COLLATION",
    "CONVERSION",
    "DOMAIN",
    "FOREIGN TABLE",
    "MATERIALIZED VIEW",
    "SEQUENCE",
    "STATISTICS",
    "TABLE",
    "TEXT SEARCH DICTIONARY",
    "TEXT SEARCH CONFIGURATION",
    "TYPE",
    "VIEW",
    "DATABASE",
    "PROCEDURAL LANGUAGE",
    "SCHEMA",
    "EVENT TRIGGER",
    "FOREIGN DATA WRAPPER",
    "SERVER",
    "PUBLICATION",
    "SUBSCRIPTION",
];

/// Kinds whose signature only the DROP statement carries: `DROP FUNCTION s.f(integer);`.
const SIGNATURE_KINDS: &[&str] = &[
    "AGGREGATE",
    "FUNCTION",
    "OPERATOR",
    "OPERATOR CLASS",
    "OPERATOR FAMILY",
    "PROCEDURE",
];

/// Kinds with a DROP statement but no owner of their own.
const UNOWNED_KINDS: &[&str] = &[
    "CAST",
    "CHECK CONSTRAINT",
    "CONSTRAINT",
    "DATABASE PROPERTIES",
    "DEFAULT",
    "FK CONSTRAINT",
    "INDEX",
    "RULE",
    "TRIGGER",
    "ROW SECURITY",
    "POLICY",
    "USER MAPPING",
];

/// The owner target of `e`; an unknown kind is an archive error (pg_restore stops with
/// "don't know how to set owner"), never a silently skipped owner.
pub fn owner_target(e: &TocEntry, dialect: Dialect, quote_all: bool) -> Result<OwnerTarget> {
    let mut kind = e.desc.as_str();
    if dialect.alters_relations_as_tables() && matches!(kind, "VIEW" | "SEQUENCE" | "MATERIALIZED VIEW") {
        kind = "TABLE";
    }
    if NAMED_KINDS.contains(&kind) {
        let mut s = format!("{kind} ");
        if let Some(ns) = e.namespace.as_deref().filter(|ns| !ns.is_empty()) {
            s.push_str(&ident(ns, quote_all));
            s.push('.');
        }
        s.push_str(&ident(&e.tag, quote_all));
        return Ok(OwnerTarget::Object(s));
    }
    if kind == "BLOB" {
        // The tag is the numeric OID, printed bare.
        return Ok(OwnerTarget::Object(format!("LARGE OBJECT {}", e.tag)));
    }
    if SIGNATURE_KINDS.contains(&kind) {
        let drop = e.drop_stmt.as_deref().unwrap_or("");
        let object = drop.get(5..).unwrap_or("").trim_end_matches([';', '\n']);
        return Ok(OwnerTarget::Object(object.to_string()));
    }
    if UNOWNED_KINDS.contains(&kind) {
        return Ok(OwnerTarget::NoOwner);
    }
    Err(Error::new(
        ErrorKind::Archive,
        format!(
            "don't know how to set owner for object type \"{}\" ({})",
            e.desc,
            e.label()
        ),
    ))
}

/// The `ALTER ... OWNER TO ...;` statement for `e`, if one is due: the entry has an owner
/// and a DROP statement (anything without a DROP is not separately ownable).
pub fn owner_statement(e: &TocEntry, dialect: Dialect, quote_all: bool) -> Result<Option<String>> {
    let Some(owner) = e.owner.as_deref().filter(|o| !o.is_empty()) else {
        return Ok(None);
    };
    if e.drop_stmt.as_deref().unwrap_or("").is_empty() {
        return Ok(None);
    }
    Ok(match owner_target(e, dialect, quote_all)? {
        OwnerTarget::Object(what) => Some(format!("ALTER {what} OWNER TO {};", ident(owner, quote_all))),
        OwnerTarget::NoOwner => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(desc: &str, ns: Option<&str>, tag: &str, drop: &str) -> TocEntry {
        TocEntry {
            dump_id: 7,
            desc: desc.into(),
            namespace: ns.map(str::to_string),
            tag: tag.into(),
            owner: Some("app owner".into()),
            drop_stmt: Some(drop.into()),
            ..TocEntry::default()
        }
    }

    fn stmt(e: &TocEntry, d: Dialect) -> Option<String> {
        owner_statement(e, d, false).unwrap()
    }

    #[test]
    fn named_kinds_use_schema_and_tag() {
        let t = entry("TABLE", Some("shop"), "Order", "DROP TABLE shop.\"Order\";\n");
        assert_eq!(
            stmt(&t, Dialect::Pg18).unwrap(),
            "ALTER TABLE shop.\"Order\" OWNER TO \"app owner\";"
        );
        let s = entry("SCHEMA", None, "shop", "DROP SCHEMA shop;\n");
        assert_eq!(
            stmt(&s, Dialect::Pg18).unwrap(),
            "ALTER SCHEMA shop OWNER TO \"app owner\";"
        );
        let db = entry("DATABASE", None, "my-db", "DROP DATABASE \"my-db\";\n");
        assert_eq!(
            stmt(&db, Dialect::Pg18).unwrap(),
            "ALTER DATABASE \"my-db\" OWNER TO \"app owner\";"
        );
        let ts = entry("TEXT SEARCH CONFIGURATION", Some("public"), "cfg", "DROP ...;\n");
        assert_eq!(
            stmt(&ts, Dialect::Pg18).unwrap(),
            "ALTER TEXT SEARCH CONFIGURATION public.cfg OWNER TO \"app owner\";"
        );
        assert_eq!(
            owner_statement(&s, Dialect::Pg18, true).unwrap().unwrap(),
            "ALTER SCHEMA \"shop\" OWNER TO \"app owner\";"
        );
    }

    #[test]
    fn views_and_sequences_were_tables_before_16() {
        for kind in ["VIEW", "SEQUENCE", "MATERIALIZED VIEW"] {
            let e = entry(kind, Some("s"), "r", "DROP x;\n");
            assert_eq!(
                stmt(&e, Dialect::Pg15).unwrap(),
                "ALTER TABLE s.r OWNER TO \"app owner\";",
                "{kind}"
            );
            assert_eq!(
                stmt(&e, Dialect::Pg16).unwrap(),
                format!("ALTER {kind} s.r OWNER TO \"app owner\";")
            );
        }
    }

    #[test]
    fn signature_kinds_take_the_drop_statement() {
        let f = entry(
            "FUNCTION",
            Some("shop"),
            "f(integer)",
            "DROP FUNCTION shop.f(x integer);\n",
        );
        assert_eq!(
            stmt(&f, Dialect::Pg18).unwrap(),
            "ALTER FUNCTION shop.f(x integer) OWNER TO \"app owner\";"
        );
        let op = entry(
            "OPERATOR CLASS",
            Some("s"),
            "c",
            "DROP OPERATOR CLASS s.c USING btree;\n",
        );
        assert_eq!(
            stmt(&op, Dialect::Pg18).unwrap(),
            "ALTER OPERATOR CLASS s.c USING btree OWNER TO \"app owner\";"
        );
        let agg = entry("AGGREGATE", Some("s"), "a", "DROP AGGREGATE s.a(integer);;\n\n");
        assert_eq!(
            stmt(&agg, Dialect::Pg18).unwrap(),
            "ALTER AGGREGATE s.a(integer) OWNER TO \"app owner\";"
        );
    }

    #[test]
    fn large_objects_and_unowned_kinds() {
        let lo = entry("BLOB", None, "16401", "SELECT pg_catalog.lo_unlink('16401');\n");
        assert_eq!(
            stmt(&lo, Dialect::Pg15).unwrap(),
            "ALTER LARGE OBJECT 16401 OWNER TO \"app owner\";"
        );
        for kind in UNOWNED_KINDS {
            assert_eq!(
                stmt(&entry(kind, Some("s"), "x", "DROP x;\n"), Dialect::Pg18),
                None,
                "{kind}"
            );
        }
    }

    #[test]
    fn no_owner_or_no_drop_means_no_statement() {
        let mut t = entry("TABLE", Some("s"), "t", "");
        assert_eq!(stmt(&t, Dialect::Pg18), None);
        t.drop_stmt = None;
        assert_eq!(stmt(&t, Dialect::Pg18), None);
        let mut u = entry("TABLE", Some("s"), "t", "DROP TABLE s.t;\n");
        u.owner = Some(String::new());
        assert_eq!(stmt(&u, Dialect::Pg18), None);
        u.owner = None;
        assert_eq!(stmt(&u, Dialect::Pg18), None);
    }

    #[test]
    fn unknown_kinds_are_refused() {
        let e = entry("GIZMO", Some("s"), "g", "DROP GIZMO s.g;\n");
        let err = owner_statement(&e, Dialect::Pg18, false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Archive);
        assert!(
            err.message()
                .contains("don't know how to set owner for object type \"GIZMO\"")
        );
    }
}
