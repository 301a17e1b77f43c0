//! Objects of kinds pgsnap does not dump yet (security labels). A backup must
//! never drop them silently: each one the selection would dump (not built in) is reported as
//! a warning naming it, in the log and in the dump's report.

use crate::catalog::Ctx;
use crate::error::Result;
use crate::model::{CatalogId, ServerVersion};

/// One query per kind: (kind, classid, objid, the relation a label is on or 0, readable name).
fn queries(_version: ServerVersion) -> Vec<(&'static str, String)> {
    vec![
        ("security label", "SELECT 'pg_seclabel'::regclass::oid, s.objoid, CASE WHEN s.classoid = 'pg_class'::regclass THEN s.objoid ELSE 0::oid END, s.provider || ' on ' || pg_catalog.pg_describe_object(s.classoid, s.objoid, s.objsubid) FROM pg_catalog.pg_seclabel s".to_string()),
    ]
}

/// Objects below this OID come from initdb (pg_dump's `FirstNormalObjectId`).
const FIRST_NORMAL_OID: u32 = 16384;

/// Finds objects that will not be in the dump; returns one readable line per object.
pub async fn find(ctx: &Ctx<'_>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (kind, sql) in queries(ctx.version) {
        let mut names = Vec::new();
        for r in ctx.db.query(&sql).await? {
            let (classid, objid, rel) = (r.oid(0)?, r.oid(1)?, r.oid(2)?);
            let member = ctx.is_extension_member(CatalogId::new(classid, objid));
            // A label goes with its object: one on a relation only when that relation is
            // dumped (-t may select it alone); others are reported whatever the selection,
            // rather than risk dropping one silently. --no-security-labels and a data-only
            // dump ask for none.
            let selected =
                ctx.selection.schema && !ctx.selection.no_security_labels && (rel == 0 || ctx.relation_dumped(rel));
            if objid < FIRST_NORMAL_OID || member || !selected {
                continue;
            }
            names.push(r.text(3)?);
        }
        out.extend(names.into_iter().map(|n| format!("{kind} {n}")));
    }
    Ok(out)
}
