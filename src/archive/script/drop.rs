//! `--clean --if-exists`: the DROP statements pg_dump stored, with `IF EXISTS` put where the
//! grammar takes it (the drop loop of `RestoreArchive`, pg_backup_archiver.c).

/// The result of adding `IF EXISTS` to one DROP statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfExists {
    /// The statement with `IF EXISTS` inserted (or knowingly left as it was).
    Statement(String),
    /// No place for `IF EXISTS` was found; the statement is printed unchanged and the caller
    /// reports it (pg_restore warns "could not find where to insert IF EXISTS").
    NotFound(String),
}

/// Rewrites `drop` (the dropStmt of an entry of kind `desc`) for `--if-exists`:
/// * comments (the public schema's `-- *not* dropping schema`) stay as they are;
/// * `ALTER TABLE` becomes `ALTER TABLE IF EXISTS`;
/// * column defaults and database properties keep the rest unchanged (their ALTERs have no
///   IF EXISTS), as does a `CREATE OR REPLACE VIEW` that stands in for dropping a view rule;
/// * everything else gets `IF EXISTS` after its first `DROP <desc>`, or after
///   `DROP CONSTRAINT` for the constraint kinds.
///
/// Large objects are not handled here: their drops do not depend on the statement text.
pub fn add_if_exists(desc: &str, drop: &str) -> IfExists {
    if drop.starts_with("--") {
        return IfExists::Statement(drop.to_string());
    }
    let (mut out, rest) = match drop.strip_prefix("ALTER TABLE") {
        Some(rest) => (String::from("ALTER TABLE IF EXISTS"), rest),
        None => (String::new(), drop),
    };
    if desc == "DEFAULT" || desc == "DATABASE PROPERTIES" || rest.starts_with("CREATE OR REPLACE VIEW") {
        out.push_str(rest);
        return IfExists::Statement(out);
    }
    let keyword = match desc {
        "CONSTRAINT" | "CHECK CONSTRAINT" | "FK CONSTRAINT" => "DROP CONSTRAINT".to_string(),
        _ => format!("DROP {desc}"),
    };
    match rest.find(&keyword) {
        Some(at) => {
            let after = at + keyword.len();
            out.push_str(&rest[..after]);
            out.push_str(" IF EXISTS");
            out.push_str(&rest[after..]);
            IfExists::Statement(out)
        }
        None => {
            out.push_str(rest);
            IfExists::NotFound(out)
        }
    }
}

/// `DropLOIfExists`: unlinks a large object only if it exists.
pub fn drop_large_object_if_exists(oid: &str) -> String {
    format!("SELECT pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata WHERE oid = '{oid}';\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(desc: &str, drop: &str) -> String {
        match add_if_exists(desc, drop) {
            IfExists::Statement(s) => s,
            IfExists::NotFound(s) => panic!("not found: {s}"),
        }
    }

    #[test]
    fn plain_drops_get_if_exists_after_the_kind() {
        assert_eq!(
            ok("TABLE", "DROP TABLE shop.orders;\n"),
            "DROP TABLE IF EXISTS shop.orders;\n"
        );
        assert_eq!(ok("SCHEMA", "DROP SCHEMA shop;\n"), "DROP SCHEMA IF EXISTS shop;\n");
        assert_eq!(
            ok("FUNCTION", "DROP FUNCTION shop.f(x integer);\n"),
            "DROP FUNCTION IF EXISTS shop.f(x integer);\n"
        );
        assert_eq!(
            ok("MATERIALIZED VIEW", "DROP MATERIALIZED VIEW s.mv;\n"),
            "DROP MATERIALIZED VIEW IF EXISTS s.mv;\n"
        );
        assert_eq!(ok("INDEX", "DROP INDEX s.i;\n"), "DROP INDEX IF EXISTS s.i;\n");
        assert_eq!(
            ok("TRIGGER", "DROP TRIGGER tr ON s.t;\n"),
            "DROP TRIGGER IF EXISTS tr ON s.t;\n"
        );
        assert_eq!(
            ok("POLICY", "DROP POLICY p ON s.t;\n"),
            "DROP POLICY IF EXISTS p ON s.t;\n"
        );
        assert_eq!(
            ok("EXTENSION", "DROP EXTENSION pg_trgm;\n"),
            "DROP EXTENSION IF EXISTS pg_trgm;\n"
        );
        assert_eq!(
            ok("TEXT SEARCH CONFIGURATION", "DROP TEXT SEARCH CONFIGURATION s.c;\n"),
            "DROP TEXT SEARCH CONFIGURATION IF EXISTS s.c;\n"
        );
    }

    #[test]
    fn constraints_inside_alter_table() {
        for desc in ["CONSTRAINT", "CHECK CONSTRAINT", "FK CONSTRAINT"] {
            assert_eq!(
                ok(desc, "ALTER TABLE ONLY s.t DROP CONSTRAINT t_pkey;\n"),
                "ALTER TABLE IF EXISTS ONLY s.t DROP CONSTRAINT IF EXISTS t_pkey;\n",
                "{desc}"
            );
        }
    }

    #[test]
    fn defaults_properties_and_view_rules_keep_their_statement() {
        assert_eq!(
            ok("DEFAULT", "ALTER TABLE s.t ALTER COLUMN id DROP DEFAULT;\n"),
            "ALTER TABLE IF EXISTS s.t ALTER COLUMN id DROP DEFAULT;\n"
        );
        assert_eq!(
            ok("DATABASE PROPERTIES", "ALTER DATABASE d RESET ALL;\n"),
            "ALTER DATABASE d RESET ALL;\n"
        );
        let rule = "CREATE OR REPLACE VIEW s.v AS\n SELECT NULL::integer AS a;\n";
        assert_eq!(ok("RULE", rule), rule);
        assert_eq!(
            ok("SCHEMA", "-- *not* dropping schema, since initdb creates it\n"),
            "-- *not* dropping schema, since initdb creates it\n"
        );
    }

    #[test]
    fn unknown_shapes_are_reported_and_kept() {
        assert_eq!(
            add_if_exists("TABLE ATTACH", "ALTER TABLE ONLY s.p DETACH PARTITION s.c;\n"),
            IfExists::NotFound("ALTER TABLE IF EXISTS ONLY s.p DETACH PARTITION s.c;\n".into())
        );
        assert_eq!(
            add_if_exists("GIZMO", "DROP THING x;\n"),
            IfExists::NotFound("DROP THING x;\n".into())
        );
    }

    #[test]
    fn large_objects_unlink_only_existing_ones() {
        assert_eq!(
            drop_large_object_if_exists("16401"),
            "SELECT pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata WHERE oid = '16401';\n"
        );
    }
}
