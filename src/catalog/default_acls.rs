//! Default privileges (pg_dump.c `getDefaultACLs`, `dumpDefaultACL`).

use crate::catalog::{Ctx, parse_acl_array};
use crate::ddl::acl::{AclKind, default_acl_sql};
use crate::error::Result;
use crate::model::{CatalogId, Entry, Priority, Section, catalog_oid};

/// `pg_default_acl.defaclobjtype` → the privilege set, the class keyword in the statement.
fn class(objtype: u8) -> Option<(AclKind, &'static str)> {
    Some(match objtype {
        b'r' => (AclKind::Table, "TABLES"),
        b'S' => (AclKind::Sequence, "SEQUENCES"),
        b'f' => (AclKind::Function, "FUNCTIONS"),
        b'T' => (AclKind::Type, "TYPES"),
        b'n' => (AclKind::Schema, "SCHEMAS"),
        b'L' => (AclKind::LargeObject, "LARGE OBJECTS"),
        _ => return None,
    })
}

/// The default privileges query (also run ahead by a catalog helper).
pub(crate) const LIST_SQL: &str = "SELECT d.oid, d.defaclrole, d.defaclnamespace, d.defaclobjtype, d.defaclacl::text, \
             CASE WHEN d.defaclnamespace = 0 THEN pg_catalog.acldefault(CASE WHEN d.defaclobjtype = 'S' \
               THEN 's'::\"char\" ELSE d.defaclobjtype END, d.defaclrole)::text ELSE '{}' END \
             FROM pg_catalog.pg_default_acl d ORDER BY d.oid";

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    if ctx.selection.no_privileges {
        return Ok(());
    }
    // Global entries start from the built-in defaults (acldefault, with sequences' letter
    // 's'); per-schema entries can only add to them, so their baseline is empty.
    let rows = ctx.query(LIST_SQL).await?;
    for r in rows {
        let oid = r.oid(0)?;
        let nsp = r.oid(2)?;
        let objtype = r.char(3)?;
        let Some((kind, keyword)) = class(objtype) else {
            tracing::warn!(
                "skipping default privileges of unknown object type '{}'",
                objtype as char
            );
            continue;
        };
        let id = CatalogId::new(catalog_oid::PG_DEFAULT_ACL, oid);
        if ctx.is_extension_member(id) {
            continue;
        }
        // Global entries belong to no schema: dumped only when nothing narrows the dump.
        let schema = if nsp == 0 {
            if !ctx.include_everything() {
                continue;
            }
            None
        } else if ctx.schema_dumped(nsp) {
            ctx.namespace(nsp).map(|n| n.name.clone())
        } else {
            continue;
        };
        let role = ctx.role(r.oid(1)?);
        let sql = default_acl_sql(
            kind,
            keyword,
            &role,
            schema.as_deref(),
            &parse_acl_array(&r.text(4)?),
            &parse_acl_array(&r.text(5)?),
        );
        if sql.is_empty() {
            continue;
        }
        // pg_dump names the object by its type letter and breaks ties by role.
        let mut e = Entry::new(
            "DEFAULT ACL",
            Priority::DefaultAcl,
            Section::PostData,
            (objtype as char).to_string(),
        )
        .with_key(id)
        .with_tag(format!("DEFAULT PRIVILEGES FOR {keyword}"))
        .with_owner(role.clone())
        .with_defn(sql);
        e.schema = schema;
        e.sort_extra = vec![role];
        ctx.push(e);
    }
    Ok(())
}
