//! Objects of kinds pgsnap does not dump yet. A backup must never drop them silently: each
//! one found (in a dumped schema, not an extension member, not built in) is reported as a
//! warning naming it, in the log and in the dump's report.

use crate::catalog::Ctx;
use crate::error::Result;
use crate::model::{CatalogId, ServerVersion};

/// One query per kind: (kind, classid, objid, namespace or 0, readable name).
fn queries(_version: ServerVersion) -> Vec<(&'static str, String)> {
    let mut q = vec![
        ("large object", "SELECT 'pg_largeobject'::regclass::oid, m.oid, 0::oid, m.oid::text FROM pg_catalog.pg_largeobject_metadata m".to_string()),
        ("security label", "SELECT 'pg_seclabel'::regclass::oid, s.objoid, 0::oid, s.provider || ' on ' || pg_catalog.pg_describe_object(s.classoid, s.objoid, s.objsubid) FROM pg_catalog.pg_seclabel s".to_string()),
    ];
    // Rows of extension configuration tables (pg_extension_config_dump): pg_dump dumps
    // them; the tables themselves are extension members, hence the marker checked below.
    q.push((
        EXT_CONFIG,
        "SELECT 0::oid, c.oid, c.relnamespace, c.oid::regclass::text \
         FROM pg_catalog.pg_extension e CROSS JOIN LATERAL unnest(e.extconfig) AS cfg(oid) \
         JOIN pg_catalog.pg_class c ON c.oid = cfg.oid WHERE c.relkind IN ('r', 'p', 'S')"
            .to_string(),
    ));
    q
}

const EXT_CONFIG: &str = "extension configuration table (its rows)";

/// Objects below this OID come from initdb (pg_dump's `FirstNormalObjectId`).
const FIRST_NORMAL_OID: u32 = 16384;

/// Finds objects that will not be in the dump; returns one readable line per object (large
/// objects summarised by count).
pub async fn find(ctx: &Ctx<'_>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (kind, sql) in queries(ctx.version) {
        let mut names = Vec::new();
        for r in ctx.db.query(&sql).await? {
            let (classid, objid, nsp) = (r.oid(0)?, r.oid(1)?, r.oid(2)?);
            let member = kind != EXT_CONFIG && ctx.is_extension_member(CatalogId::new(classid, objid));
            if objid < FIRST_NORMAL_OID || member || (nsp != 0 && !ctx.schema_dumped(nsp)) {
                continue;
            }
            names.push(r.text(3)?);
        }
        match (kind, names.len()) {
            (_, 0) => {}
            ("large object", n) => out.push(format!("{n} large object(s)")),
            _ => out.extend(names.into_iter().map(|n| format!("{kind} {n}"))),
        }
    }
    Ok(out)
}
