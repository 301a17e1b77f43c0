//! Views and materialized views (pg_dump.c `dumpTableSchema` for relkinds v and m,
//! `refreshMatViewData`): VIEW, MATERIALIZED VIEW, MATERIALIZED VIEW DATA, with comments,
//! ACLs and the separate column DEFAULTs of views.

use super::Ctx;
use super::tables::attach_relation_extras;
use crate::ddl::table::default_sql;
use crate::ddl::view::{create_matview_sql, create_view_sql, refresh_sql};
use crate::error::Result;
use crate::model::{CatalogId, Dep, Entry, Priority, Section, catalog_oid};

struct Col {
    rel: u32,
    attnum: i64,
    name: String,
    acl: Option<String>,
    attrdef: Option<(u32, String)>,
}

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    let rels = ctx.relations.clone();
    let mut cols: Vec<Col> = Vec::new();
    for r in ctx
        .db
        .query(
            "SELECT a.attrelid, a.attnum::int, a.attname, a.attacl::text, ad.oid, \
             pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) \
             FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
             LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum \
             WHERE c.relkind IN ('v', 'm') AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attrelid, a.attnum",
        )
        .await?
    {
        let rel = r.oid(0)?;
        if !rels.contains_key(&rel) {
            continue;
        }
        let attrdef = match (r.opt_int(4)?, r.opt_text(5)?) {
            (Some(o), Some(x)) => Some((o as u32, x)),
            _ => None,
        };
        cols.push(Col {
            rel,
            attnum: r.int(1)?,
            name: r.text(2)?,
            acl: r.opt_text(3)?,
            attrdef,
        });
    }
    let rows = ctx
        .db
        .query(
            "SELECT c.oid, c.reloptions::text[], pg_catalog.pg_get_viewdef(c.oid), c.reltype, \
             coalesce(t.typarray, 0::oid), rw.oid, c.relispopulated, c.relacl::text, \
             pg_catalog.acldefault('r', c.relowner)::text, coalesce(am.amname, ''), coalesce(ts.spcname, '') \
             FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_type t ON t.oid = c.reltype \
             LEFT JOIN pg_catalog.pg_rewrite rw ON rw.ev_class = c.oid AND rw.rulename = '_RETURN' \
             LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam \
             LEFT JOIN pg_catalog.pg_tablespace ts ON ts.oid = c.reltablespace \
             WHERE c.relkind IN ('v', 'm') ORDER BY c.oid",
        )
        .await?;
    for r in rows {
        let oid = r.oid(0)?;
        let Some(rel) = rels.get(&oid) else { continue };
        let matview = rel.relkind == b'm';
        let reloptions = r.text_array(1)?;
        let viewdef = r.text(2)?;
        let mut claims = Vec::new();
        for ty in [r.oid(3)?, r.oid(4)?] {
            if ty != 0 {
                claims.push(CatalogId::new(catalog_oid::PG_TYPE, ty));
            }
        }
        if let Some(rule) = r.opt_int(5)? {
            claims.push(CatalogId::new(catalog_oid::PG_REWRITE, rule as u32));
        }
        let (desc, defn, drop) = if matview {
            (
                "MATERIALIZED VIEW",
                create_matview_sql(&rel.qualified, &reloptions, &viewdef),
                format!("DROP MATERIALIZED VIEW {};\n", rel.qualified),
            )
        } else {
            (
                "VIEW",
                create_view_sql(&rel.qualified, &reloptions, &viewdef),
                format!("DROP VIEW {};\n", rel.qualified),
            )
        };
        let mut e = Entry::new(desc, Priority::Table, Section::PreData, rel.name.clone())
            .with_key(CatalogId::class(oid))
            .with_schema(rel.schema.clone())
            .with_owner(rel.owner.clone())
            .with_defn(defn)
            .with_drop(drop);
        e.claims = claims;
        e.relkind = Some(rel.relkind);
        if matview {
            let am = r.text(9)?;
            e.tableam = Some(if am.is_empty() { "heap".into() } else { am });
            e.tablespace = Some(r.text(10)?);
        }
        let my_cols: Vec<&Col> = cols.iter().filter(|c| c.rel == oid).collect();
        let columns: Vec<(&str, i64, Option<String>)> = my_cols
            .iter()
            .map(|c| (c.name.as_str(), c.attnum, c.acl.clone()))
            .collect();
        attach_relation_extras(ctx, &mut e, rel, desc, &columns, &[], r.opt_text(7)?, &r.text(8)?);
        ctx.push(e);

        // Views get column defaults only through ALTER (dumpAttrDef).
        for c in &my_cols {
            if let Some((ad_oid, expr)) = &c.attrdef {
                let (defn, drop) = default_sql(&rel.qualified, &c.name, expr);
                let d = Entry::new("DEFAULT", Priority::AttrDef, Section::PreData, rel.name.clone())
                    .with_key(CatalogId::new(catalog_oid::PG_ATTRDEF, *ad_oid))
                    .with_tag(format!("{} {}", rel.name, c.name))
                    .with_schema(rel.schema.clone())
                    .with_owner(rel.owner.clone())
                    .with_defn(defn)
                    .with_drop(drop);
                ctx.push(d);
            }
        }

        if matview && r.bool(6)? && ctx.table_data_dumped(oid) {
            let mut d = Entry::new(
                "MATERIALIZED VIEW DATA",
                Priority::RefreshMatview,
                Section::PostData,
                rel.name.clone(),
            )
            .with_schema(rel.schema.clone())
            .with_owner(rel.owner.clone())
            .with_defn(refresh_sql(&rel.qualified))
            .with_dep(Dep::Catalog(CatalogId::class(oid)));
            d.toc_oid = Some(oid);
            ctx.push(d);
        }
    }
    Ok(())
}
