//! Row-level security (pg_dump.c `getPolicies`, `dumpPolicy`): one ROW SECURITY entry per
//! table with RLS enabled, and one POLICY entry per policy, with comments.

use super::Ctx;
use crate::ddl::comment::comment_entry;
use crate::ddl::policy::{PolicyDef, create_policy_sql, drop_policy_sql, enable_rls_sql};
use crate::ddl::quote::ident;
use crate::error::Result;
use crate::model::{CatalogId, Dep, Entry, Priority, Section, catalog_oid};

/// Tables with row security enabled (also run ahead by a catalog helper).
pub(crate) const RLS_TABLES_SQL: &str =
    "SELECT oid FROM pg_catalog.pg_class WHERE relrowsecurity AND relkind IN ('r', 'p') ORDER BY oid";

/// The policies query (also run ahead by a catalog helper).
pub(crate) const POLICIES_SQL: &str = "SELECT p.oid, p.polname, p.polrelid, p.polpermissive, p.polcmd, \
             CASE WHEN p.polroles = '{0}' THEN NULL ELSE pg_catalog.array_to_string(ARRAY(\
               SELECT pg_catalog.quote_ident(rolname) FROM pg_catalog.pg_roles WHERE oid = ANY(p.polroles)\
               ), ', ') END, \
             pg_catalog.pg_get_expr(p.polqual, p.polrelid), pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) \
             FROM pg_catalog.pg_policy p ORDER BY p.oid";

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    // --no-policies: neither the policies nor the ENABLE ROW LEVEL SECURITY entries.
    if ctx.selection.no_policies {
        return Ok(());
    }
    let rels = ctx.relations.clone();
    for r in ctx.query(RLS_TABLES_SQL).await? {
        let oid = r.oid(0)?;
        let Some(t) = rels.get(&oid) else { continue };
        let mut e = Entry::new("ROW SECURITY", Priority::Policy, Section::PostData, t.name.clone())
            .with_schema(t.schema.clone())
            .with_owner(t.owner.clone())
            .with_defn(enable_rls_sql(&t.qualified))
            .with_dep(Dep::Catalog(CatalogId::class(oid)));
        e.toc_oid = Some(oid);
        e.sort_extra = vec![t.name.clone()];
        ctx.push(e);
    }
    let rows = ctx.query(POLICIES_SQL).await?;
    for r in rows {
        let oid = r.oid(0)?;
        let Some(t) = rels.get(&r.oid(2)?) else { continue };
        let name = r.text(1)?;
        let roles = r.opt_text(5)?;
        let using = r.opt_text(6)?;
        let check = r.opt_text(7)?;
        let def = PolicyDef {
            name: &name,
            table: &t.qualified,
            permissive: r.bool(3)?,
            cmd: r.char(4)?,
            roles: roles.as_deref(),
            using: using.as_deref(),
            with_check: check.as_deref(),
        };
        let mut e = Entry::new("POLICY", Priority::Policy, Section::PostData, name.clone())
            .with_key(CatalogId::new(catalog_oid::PG_POLICY, oid))
            .with_tag(format!("{} {}", t.name, name))
            .with_schema(t.schema.clone())
            .with_owner(t.owner.clone())
            .with_defn(create_policy_sql(&def))
            .with_drop(drop_policy_sql(&name, &t.qualified));
        // pg_dump breaks name ties by table name (`DOTypeNameCompare`).
        e.sort_extra = vec![t.name.clone()];
        if let Some(text) = ctx.comment(catalog_oid::PG_POLICY, oid, 0) {
            let c = comment_entry(
                &e,
                "POLICY",
                &format!("{} ON {}", ident(&name), t.qualified),
                &format!("{} ON {}", ident(&name), ident(&t.name)),
                text,
            );
            e.attached.push(c);
        }
        ctx.push(e);
    }
    Ok(())
}
