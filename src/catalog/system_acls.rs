//! Changed privileges on objects in `pg_catalog`. pg_dump dumps nothing of `pg_catalog` but
//! the ACLs that differ from the initial privileges initdb recorded in `pg_init_privs`
//! (pg_dump.c `selectDumpableNamespace` gives the schema and its contents only
//! `DUMP_COMPONENT_ACL`): here the schema itself, its relations and their columns. The objects
//! are not dumped, so each ACL entry stands on its own, sorted where the object would be, as
//! in pg_dump.
//!
//! Functions, procedures, aggregates and types in `pg_catalog` are read by their own kinds as
//! ACL-only objects (`catalog::dumpable`).

use super::Ctx;
use crate::ddl::acl::{AclKind, acl_entry};
use crate::ddl::quote::{ident, qualified};
use crate::error::Result;
use crate::model::{CatalogId, Dep, Entry, Priority, Section, catalog_oid};

/// The object an ACL belongs to, for sorting and naming only (never itself dumped).
fn stand_in(desc: &str, priority: Priority, name: &str, schema: Option<&str>, owner: &str, key: CatalogId) -> Entry {
    let mut e = Entry::new(desc, priority, Section::PreData, name)
        .with_key(key)
        .with_owner(owner);
    e.schema = schema.map(str::to_string);
    e
}

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    if !ctx.include_everything() || ctx.selection.no_privileges {
        return Ok(());
    }
    let Some(nsp) = ctx.namespaces.values().find(|n| n.name == "pg_catalog").map(|n| n.oid) else {
        return Ok(());
    };
    let changed = |class: &str, acl: &str, oid: &str, subid: &str| {
        format!(
            "({acl} IS NOT NULL OR EXISTS (SELECT 1 FROM pg_catalog.pg_init_privs ip \
             WHERE ip.classoid = '{class}'::pg_catalog.regclass AND ip.objoid = {oid} AND ip.objsubid = {subid}))"
        )
    };

    // The schema.
    for r in ctx
        .db
        .query(&format!(
            "SELECT n.nspowner, n.nspacl::text, pg_catalog.acldefault('n', n.nspowner)::text \
             FROM pg_catalog.pg_namespace n WHERE n.oid = {nsp}"
        ))
        .await?
    {
        let owner = ctx.role(r.oid(0)?);
        let parent = stand_in(
            "SCHEMA",
            Priority::Schema,
            "pg_catalog",
            None,
            &owner,
            CatalogId::new(catalog_oid::PG_NAMESPACE, nsp),
        );
        push_acl(
            ctx,
            &parent,
            AclKind::Schema,
            "SCHEMA",
            "pg_catalog",
            "pg_catalog",
            None,
            (catalog_oid::PG_NAMESPACE, nsp, 0),
            r.opt_text(1)?,
            &r.text(2)?,
            None,
        );
    }

    // Relations, then their columns (column ACLs depend on the relation's ACL entry).
    let rels = ctx
        .db
        .query(&format!(
            "SELECT c.oid, c.relname, c.relkind, c.relowner, c.relacl::text, \
             pg_catalog.acldefault((CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::\"char\", c.relowner)::text \
             FROM pg_catalog.pg_class c WHERE c.relnamespace = {nsp} \
             AND c.relkind IN ('r', 'v', 'm', 'S', 'f', 'p') ORDER BY c.oid"
        ))
        .await?;
    let columns = ctx
        .db
        .query(&format!(
            "SELECT a.attrelid, a.attnum::int, a.attname, a.attacl::text \
             FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
             WHERE c.relnamespace = {nsp} AND c.relkind IN ('r', 'v', 'm', 'f', 'p') \
             AND a.attnum > 0 AND NOT a.attisdropped AND {} ORDER BY a.attrelid, a.attnum",
            changed("pg_catalog.pg_class", "a.attacl", "a.attrelid", "a.attnum")
        ))
        .await?;
    for r in rels {
        let oid = r.oid(0)?;
        let name = r.text(1)?;
        let relkind = r.char(2)?;
        let owner = ctx.role(r.oid(3)?);
        let (desc, kind, keyword) = match relkind {
            b'S' => ("SEQUENCE", AclKind::Sequence, "SEQUENCE"),
            b'v' => ("VIEW", AclKind::Table, "TABLE"),
            _ => ("TABLE", AclKind::Table, "TABLE"),
        };
        let parent = stand_in(
            desc,
            Priority::Table,
            &name,
            Some("pg_catalog"),
            &owner,
            CatalogId::class(oid),
        );
        let q = qualified("pg_catalog", &name);
        let table_acl = push_acl(
            ctx,
            &parent,
            kind,
            keyword,
            &q,
            &ident(&name),
            None,
            (catalog_oid::PG_CLASS, oid, 0),
            r.opt_text(4)?,
            &r.text(5)?,
            None,
        );
        for c in columns.iter() {
            if c.oid(0)? != oid {
                continue;
            }
            let attnum = c.int(1)? as i32;
            let col = c.text(2)?;
            let tag = format!("{}.{}", ident(&name), ident(&col));
            // Column privileges have no default: the baseline is empty.
            push_acl(
                ctx,
                &parent,
                AclKind::Table,
                "COLUMN",
                &q,
                &tag,
                Some(&col),
                (catalog_oid::PG_CLASS, oid, attnum),
                c.opt_text(3)?,
                "{}",
                table_acl,
            );
        }
    }

    Ok(())
}

/// Pushes the ACL entry of one object (or column) when its privileges differ from the
/// baseline; returns its index. `after` is the relation's ACL entry a column ACL waits for.
#[allow(clippy::too_many_arguments)]
fn push_acl(
    ctx: &mut Ctx<'_>,
    parent: &Entry,
    kind: AclKind,
    keyword_tag: &str,
    name_sql: &str,
    tag_name: &str,
    column: Option<&str>,
    (classoid, oid, subid): (u32, u32, i32),
    acl: Option<String>,
    acldefault: &str,
    after: Option<usize>,
) -> Option<usize> {
    let (current, baseline) = ctx.acl_lists(classoid, oid, subid, acl.as_deref(), acldefault)?;
    let owner = parent.owner.clone().unwrap_or_default();
    let col = column.map(ident);
    let mut e = acl_entry(
        parent,
        kind,
        keyword_tag,
        name_sql,
        tag_name,
        col.as_deref(),
        &owner,
        &current,
        &baseline,
    )?;
    if let Some(i) = after {
        e.deps.push(Dep::Entry(i));
    }
    Some(ctx.push(e))
}
