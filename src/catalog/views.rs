//! Views and materialized views (pg_dump.c `dumpTableSchema` for relkinds v and m,
//! `refreshMatViewData`): VIEW, MATERIALIZED VIEW, MATERIALIZED VIEW DATA, with comments,
//! ACLs and the separate column DEFAULTs of views. Each carries its ON SELECT rule as a part
//! (`getRules`): a view caught in a longer dependency loop gets a dummy body and a post-data
//! `RULE ... _RETURN` entry with its real definition (the planner decides).

use std::collections::HashMap;

use super::tables::{attach_relation_extras, attnum_key};
use super::{Ctx, oid_array};
use crate::ddl::quote::qualified;
use crate::ddl::table::{ColumnAlter, column_alters_sql, default_sql};
use crate::ddl::view::{
    DummyColumn, create_matview_sql, create_view_sql, dummy_replace_sql, dummy_view_sql, refresh_sql, replace_view_sql,
};
use crate::error::Result;
use crate::model::{CatalogId, Dep, Entry, Part, PartKind, Priority, Render, Section, catalog_oid};

struct Col {
    attnum: i64,
    name: String,
    type_sql: String,
    collation: Option<String>,
    acl: Option<String>,
    attrdef: Option<(u32, String)>,
    stattarget: i64,
    /// `attstorage` when it differs from the type's.
    storage: Option<u8>,
    compression: Option<String>,
    options: Option<String>,
}

/// The view and matview columns query (also run ahead by a catalog helper).
pub(crate) fn columns_sql(ctx: &Ctx<'_>) -> String {
    let compression = if ctx.version.at_least(14) {
        "CASE a.attcompression WHEN 'p' THEN 'pglz' WHEN 'l' THEN 'lz4' END"
    } else {
        "NULL::text"
    };
    format!(
        "SELECT a.attrelid, a.attnum::int, a.attname, a.attacl::text, ad.oid, \
             pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), pg_catalog.format_type(a.atttypid, a.atttypmod), \
             CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0 THEN cn.nspname END, co.collname, \
             coalesce(a.attstattarget, -1)::int, NULLIF(a.attstorage, t.typstorage), {compression}, \
             array_to_string(a.attoptions, ', ') \
             FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
             JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
             LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation \
             LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace \
             LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum \
             WHERE c.relkind IN ('v', 'm') AND c.oid = ANY({dumped}) AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attrelid, a.attnum",
        dumped = dumped_views(ctx)
    )
}

/// The dumped views and matviews, as an `oid[]` literal. The readers skip every other view,
/// so their rows are not even asked for: `pg_get_viewdef` of the ~145 system views alone
/// costs the server 90 ms a dump (pg_dump deparses only the views it dumps, in
/// `dumpTableSchema`).
fn dumped_views(ctx: &Ctx<'_>) -> String {
    format!("'{}'::pg_catalog.oid[]", oid_array(&ctx.dumped_relation_oids(b"vm")))
}

/// The views query (also run ahead by a catalog helper).
pub(crate) fn list_sql(ctx: &Ctx<'_>) -> String {
    format!(
        "SELECT c.oid, c.reloptions::text[], pg_catalog.pg_get_viewdef(c.oid), c.reltype, \
             coalesce(t.typarray, 0::oid), rw.oid, c.relispopulated, c.relacl::text, \
             pg_catalog.acldefault('r', c.relowner)::text, coalesce(am.amname, ''), coalesce(ts.spcname, ''), \
             t.typname, at.typname \
             FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_type t ON t.oid = c.reltype \
             LEFT JOIN pg_catalog.pg_type at ON at.oid = t.typarray \
             LEFT JOIN pg_catalog.pg_rewrite rw ON rw.ev_class = c.oid AND rw.rulename = '_RETURN' \
             LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam \
             LEFT JOIN pg_catalog.pg_tablespace ts ON ts.oid = c.reltablespace \
             WHERE c.relkind IN ('v', 'm') AND c.oid = ANY({}) ORDER BY c.oid",
        dumped_views(ctx)
    )
}

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    let rels = ctx.relations.clone();
    // Matviews and whether they are populated, for their refresh entries.
    let mut matviews: Vec<(u32, bool)> = Vec::new();
    // Each view's columns, in attnum order.
    let mut cols: HashMap<u32, Vec<Col>> = HashMap::new();
    for r in ctx.query(&columns_sql(ctx)).await? {
        let rel = r.oid(0)?;
        if !rels.contains_key(&rel) {
            continue;
        }
        let attrdef = match (r.opt_int(4)?, r.opt_text(5)?) {
            (Some(o), Some(x)) => Some((o as u32, x)),
            _ => None,
        };
        let collation = match r.opt_text(7)? {
            Some(nsp) => Some(qualified(&nsp, &r.text(8)?)),
            None => None,
        };
        cols.entry(rel).or_default().push(Col {
            attnum: r.int(1)?,
            name: r.text(2)?,
            type_sql: r.text(6)?,
            collation,
            acl: r.opt_text(3)?,
            attrdef,
            stattarget: r.int(9)?,
            storage: r.opt_text(10)?.and_then(|s| s.bytes().next()),
            compression: r.opt_text(11)?,
            options: r.opt_text(12)?.filter(|o| !o.is_empty()),
        });
    }
    let rows = ctx.query(&list_sql(ctx)).await?;
    for r in rows {
        let oid = r.oid(0)?;
        let Some(rel) = rels.get(&oid) else { continue };
        let matview = rel.relkind == b'm';
        let reloptions = r.text_array(1)?;
        let viewdef = r.text(2)?;
        let my_cols: Vec<&Col> = cols.get(&oid).map(|c| c.iter().collect()).unwrap_or_default();
        let dummy_cols: Vec<DummyColumn> = my_cols
            .iter()
            .map(|c| DummyColumn {
                name: c.name.clone(),
                type_sql: c.type_sql.clone(),
                collation: c.collation.clone(),
            })
            .collect();
        let mut parts = Vec::new();
        // The ON SELECT rule: the view's body, unless a loop splits it out (views only;
        // pg_dump cannot split a materialized view).
        if let Some(rule) = r.opt_int(5)? {
            let rule_id = CatalogId::new(catalog_oid::PG_REWRITE, rule as u32);
            let mut part = Part::new(PartKind::SelectRule, rule_id, Priority::Rule, "_RETURN")
                .with_sort_extra(vec![rel.name.clone()]);
            if !matview {
                part = part.with_separate(
                    Entry::new("RULE", Priority::Rule, Section::PostData, "_RETURN")
                        .with_key(rule_id)
                        .with_schema(rel.schema.clone())
                        .with_tag(format!("{} _RETURN", rel.name))
                        .with_owner(rel.owner.clone())
                        .with_defn(replace_view_sql(&rel.qualified, &reloptions, &viewdef))
                        .with_drop(dummy_replace_sql(&rel.qualified, &dummy_cols)),
                );
            }
            parts.push(part);
        }
        // Row type and its array: sorted as pg_dump's dummy types.
        for (ty, name) in [(r.oid(3)?, r.opt_text(11)?), (r.oid(4)?, r.opt_text(12)?)] {
            if let (true, Some(name)) = (ty != 0, name) {
                parts.push(Part::dummy_type(ty, name));
            }
        }
        let (desc, defn, drop) = if matview {
            (
                "MATERIALIZED VIEW",
                matview_sql(ctx, &rel.qualified, &reloptions, &viewdef, &my_cols),
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
        e.parts = parts;
        if !matview {
            let qualified = rel.qualified.clone();
            e.render = Some(Render::new(move |_| dummy_view_sql(&qualified, &dummy_cols)));
        }
        e.relkind = Some(rel.relkind);
        if matview {
            let am = r.text(9)?;
            e.tableam = Some(if am.is_empty() { "heap".into() } else { am });
            e.tablespace = Some(r.text(10)?);
        }
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
                let mut d = Entry::new("DEFAULT", Priority::AttrDef, Section::PreData, rel.name.clone())
                    .with_key(CatalogId::new(catalog_oid::PG_ATTRDEF, *ad_oid))
                    .with_tag(format!("{} {}", rel.name, c.name))
                    .with_schema(rel.schema.clone())
                    .with_owner(rel.owner.clone())
                    .with_defn(defn)
                    .with_drop(drop);
                d.sort_extra = vec![attnum_key(c.attnum)];
                ctx.push(d);
            }
        }

        // Only matviews whose data is dumped take part (pg_dump makes no data object for
        // the others): -t/-n/-T selection, --exclude-table-data, -s.
        if matview && ctx.table_data_dumped(oid) {
            matviews.push((oid, r.bool(6)?));
        }
    }
    refresh_entries(ctx, &matviews).await?;
    Ok(())
}

/// MATERIALIZED VIEW DATA entries (pg_dump.c `refreshMatViewData`,
/// `buildMatViewRefreshDependencies`): a populated matview is refreshed after the matviews
/// it reads, directly or through views; if one of those is not populated, it is not
/// refreshed either (the REFRESH would fail).
async fn refresh_entries(ctx: &mut Ctx<'_>, matviews: &[(u32, bool)]) -> Result<()> {
    if matviews.is_empty() {
        return Ok(());
    }
    let mut reads: HashMap<u32, Vec<u32>> = HashMap::new();
    for r in ctx
        .db
        .query(
            "WITH RECURSIVE w(mv, ref, refkind) AS ( \
               SELECT c.oid, d.refobjid, rc.relkind FROM pg_catalog.pg_class c \
               JOIN pg_catalog.pg_rewrite rw ON rw.ev_class = c.oid \
               JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass \
                 AND d.objid = rw.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass \
                 AND d.refobjid <> c.oid \
               JOIN pg_catalog.pg_class rc ON rc.oid = d.refobjid AND rc.relkind IN ('m', 'v') \
               WHERE c.relkind = 'm' \
             UNION \
               SELECT w.mv, d.refobjid, rc.relkind FROM w \
               JOIN pg_catalog.pg_rewrite rw ON rw.ev_class = w.ref \
               JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass \
                 AND d.objid = rw.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass \
                 AND d.refobjid <> w.ref \
               JOIN pg_catalog.pg_class rc ON rc.oid = d.refobjid AND rc.relkind IN ('m', 'v')) \
             SELECT mv, ref FROM w WHERE refkind = 'm' ORDER BY mv, ref",
        )
        .await?
    {
        reads.entry(r.oid(0)?).or_default().push(r.oid(1)?);
    }
    let populated: HashMap<u32, bool> = matviews.iter().copied().collect();
    let rels = ctx.relations.clone();
    let mut index_of: HashMap<u32, usize> = HashMap::new();
    for &(oid, is_populated) in matviews {
        let refs = reads.get(&oid).map(Vec::as_slice).unwrap_or(&[]);
        // A matview whose data pg_dump does not dump counts as populated (it is not its
        // business).
        if !is_populated || refs.iter().any(|r| !populated.get(r).copied().unwrap_or(true)) {
            continue;
        }
        let Some(rel) = rels.get(&oid) else { continue };
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
        index_of.insert(oid, ctx.push(d));
    }
    for (mv, refs) in &reads {
        let Some(&i) = index_of.get(mv) else { continue };
        for r in refs {
            if let Some(&j) = index_of.get(r) {
                ctx.entries[i].deps.push(Dep::Entry(j));
            }
        }
    }
    Ok(())
}

/// CREATE MATERIALIZED VIEW, then the per-column settings pg_dump prints for it as for a table
/// (`dumpTableSchema`: statistics target, storage, compression, options).
fn matview_sql(ctx: &Ctx<'_>, qualified: &str, reloptions: &[String], viewdef: &str, cols: &[&Col]) -> String {
    let mut defn = create_matview_sql(qualified, reloptions, viewdef);
    for c in cols {
        defn.push_str(&column_alters_sql(&ColumnAlter {
            table: qualified,
            foreign: false,
            column: &c.name,
            statistics: (c.stattarget >= 0).then_some(c.stattarget),
            storage: c.storage,
            compression: if ctx.selection.no_toast_compression {
                None
            } else {
                c.compression.as_deref()
            },
            options: c.options.as_deref(),
            fdw_options: &[],
        }));
    }
    defn
}
