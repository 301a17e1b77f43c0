//! Schemas (pg_dump.c `getNamespaces`, `selectDumpableNamespace`, `dumpNamespace`).

use crate::catalog::{Ctx, parse_acl_array};
use crate::ddl::acl::{AclKind, acl_entry};
use crate::ddl::{comment, quote, schema, seclabel};
use crate::error::Result;
use crate::model::{CatalogId, Entry, Priority, Section, catalog_oid};

/// The schemas query (also run ahead by a catalog helper).
pub(crate) const LIST_SQL: &str = "SELECT n.oid, n.nspname, n.nspowner, n.nspacl::text, acldefault('n', n.nspowner)::text, \
             (acldefault('n', n.nspowner) || makeaclitem(0, n.nspowner, 'USAGE', false))::text, \
             n.nspowner = 'pg_database_owner'::pg_catalog.regrole \
             FROM pg_catalog.pg_namespace n ORDER BY n.oid";

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    // The public schema's baseline is synthesized (initdb's grants), whatever pg_init_privs
    // says.
    let rows = ctx.query(LIST_SQL).await?;
    for r in rows {
        let oid = r.oid(0)?;
        let name = r.text(1)?;
        if !ctx.schema_entry_dumped(oid) || ctx.is_extension_member(CatalogId::new(catalog_oid::PG_NAMESPACE, oid)) {
            continue;
        }
        let owner = ctx.role(r.oid(2)?);
        let acl = r.opt_text(3)?;
        // Named with -n, public is an ordinary schema to pg_dump (CREATE SCHEMA included).
        let is_public = name == "public" && ctx.namespace(oid).is_some_and(|n| n.by_default);
        // Named with -n, public is created like any schema (the restore then reports that it
        // exists, as with pg_dump).
        let (defn, drop) = if name == "public" && !is_public {
            (
                format!("CREATE SCHEMA {};\n", quote::ident(&name)),
                format!("DROP SCHEMA {};\n", quote::ident(&name)),
            )
        } else {
            schema::schema_sql(&name)
        };
        let mut e = Entry::new("SCHEMA", Priority::Schema, Section::PreData, name.clone())
            .with_key(CatalogId::new(catalog_oid::PG_NAMESPACE, oid))
            .with_owner(owner.clone())
            .with_defn(defn)
            .with_drop(drop);
        let q = quote::ident(&name);
        // pg_dump recognises public's comment by its quoted name, so with
        // --quote-all-identifiers ("public") the comment is dumped like any other.
        let text = if is_public && !quote::style().quote_all_identifiers {
            schema::public_comment(ctx.comment(catalog_oid::PG_NAMESPACE, oid, 0))
        } else {
            ctx.comment(catalog_oid::PG_NAMESPACE, oid, 0).map(str::to_string)
        };
        let mut extra = Vec::new();
        if let Some(text) = text
            && !ctx.selection.no_comments
        {
            extra.push(comment::comment_entry(&e, "SCHEMA", &q, &q, &text));
        }
        let labels = ctx.labels(catalog_oid::PG_NAMESPACE, oid);
        if let Some(l) = seclabel::seclabel_entry(&e, "SCHEMA", &q, &q, &labels) {
            extra.push(l);
        }
        let lists = if is_public {
            let baseline = r.text(5)?;
            (!ctx.selection.no_privileges).then(|| {
                (
                    parse_acl_array(acl.as_deref().unwrap_or(&baseline)),
                    parse_acl_array(&baseline),
                )
            })
        } else {
            ctx.acl_lists(catalog_oid::PG_NAMESPACE, oid, 0, acl.as_deref(), &r.text(4)?)
        };
        if let Some((cur, base)) = lists
            && let Some(a) = acl_entry(&e, AclKind::Schema, "SCHEMA", &q, &q, None, &owner, &cur, &base)
        {
            extra.push(a);
        }
        // pg_dump 15+: a public schema owned by pg_database_owner has no definition entry of
        // its own, but its comment and ACL entries still stand.
        if is_public && r.bool(6)? {
            for x in extra {
                ctx.push(x);
            }
        } else {
            e.attached = extra;
            ctx.push(e);
        }
    }
    Ok(())
}
