//! Functions and procedures (pg_dump.c `getFuncs`, `dumpFunc`). The definition comes from
//! `pg_get_functiondef`; aggregates are not covered here. Functions internally dependent on
//! another object (range and multirange constructors) come with that object.

use crate::catalog::Ctx;
use crate::ddl::acl::{AclKind, acl_entry};
use crate::ddl::{comment, function, quote};
use crate::error::Result;
use crate::model::{CatalogId, Entry, Priority, Section, catalog_oid};

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    let rows = ctx
        .db
        .query(
            "SELECT p.oid, p.proname, p.pronamespace, p.proowner, p.prokind, \
             pg_catalog.pg_get_functiondef(p.oid), pg_catalog.pg_get_function_identity_arguments(p.oid), \
             ARRAY(SELECT pg_catalog.format_type(a.t, NULL) FROM unnest(p.proargtypes::pg_catalog.oid[]) \
                   WITH ORDINALITY a(t, i) ORDER BY a.i), \
             p.proacl::text, pg_catalog.acldefault('f', p.proowner)::text \
             FROM pg_catalog.pg_proc p WHERE p.prokind IN ('f', 'p', 'w') \
             AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d \
                 WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid \
                 AND d.deptype = 'i') \
             ORDER BY p.oid",
        )
        .await?;
    for r in rows {
        let oid = r.oid(0)?;
        let nsp = r.oid(2)?;
        let id = CatalogId::new(catalog_oid::PG_PROC, oid);
        if !ctx.schema_dumped(nsp) || ctx.is_extension_member(id) {
            continue;
        }
        let name = r.text(1)?;
        let schema = ctx.namespace(nsp).map(|n| n.name.clone()).unwrap_or_default();
        let owner = ctx.role(r.oid(3)?);
        let prokind = r.char(4)? as char;
        let identity = r.text(6)?;
        let argtypes = r.text_array(7)?;
        let qualified = quote::qualified(&schema, &name);
        let keyword = function::keyword(prokind);
        let mut e = Entry::new(keyword, Priority::Function, Section::PreData, name.clone())
            .with_key(id)
            .with_schema(schema)
            .with_tag(format!("{name}({})", argtypes.join(", ")))
            .with_owner(owner.clone())
            .with_defn(function::function_sql(&r.text(5)?))
            .with_drop(function::drop_sql(prokind, &qualified, &identity));
        e.sort_extra = argtypes;
        let name_sql = format!("{qualified}({identity})");
        let tag_name = format!("{}({identity})", quote::ident(&name));
        if let Some(text) = ctx.comment(catalog_oid::PG_PROC, oid, 0) {
            let c = comment::comment_entry(&e, keyword, &name_sql, &tag_name, text);
            e.attached.push(c);
        }
        let acl = r.opt_text(8)?;
        let kind = if prokind == 'p' {
            AclKind::Procedure
        } else {
            AclKind::Function
        };
        if let Some((cur, base)) = ctx.acl_lists(catalog_oid::PG_PROC, oid, 0, acl.as_deref(), &r.text(9)?)
            && let Some(a) = acl_entry(&e, kind, keyword, &name_sql, &tag_name, None, &owner, &cur, &base)
        {
            e.attached.push(a);
        }
        ctx.push(e);
    }
    Ok(())
}
