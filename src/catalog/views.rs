//! Views and materialized views (pg_dump.c `dumpTableSchema` for relkinds v and m,
//! `refreshMatViewData`): VIEW, MATERIALIZED VIEW, MATERIALIZED VIEW DATA, with comments,
//! ACLs and the separate column DEFAULTs of views.

use super::Ctx;
use super::tables::attach_relation_extras;
use crate::ddl::table::{ColumnAlter, column_alters_sql, default_sql};
use crate::ddl::view::{create_matview_sql, create_view_sql, refresh_sql};
use crate::error::Result;
use crate::model::{CatalogId, Dep, Entry, Priority, Section, catalog_oid};

struct Col {
    rel: u32,
    attnum: i64,
    name: String,
    acl: Option<String>,
    attrdef: Option<(u32, String)>,
    stattarget: i64,
    /// `attstorage` when it differs from the type's.
    storage: Option<u8>,
    compression: Option<String>,
    options: Option<String>,
}

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    let rels = ctx.relations.clone();
    let mut cols: Vec<Col> = Vec::new();
    let compression = if ctx.version.at_least(14) {
        "CASE a.attcompression WHEN 'p' THEN 'pglz' WHEN 'l' THEN 'lz4' END"
    } else {
        "NULL::text"
    };
    for r in ctx
        .db
        .query(&format!(
            "SELECT a.attrelid, a.attnum::int, a.attname, a.attacl::text, ad.oid, \
             pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), coalesce(a.attstattarget, -1)::int, \
             NULLIF(a.attstorage, t.typstorage), {compression}, array_to_string(a.attoptions, ', ') \
             FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
             JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
             LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum \
             WHERE c.relkind IN ('v', 'm') AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attrelid, a.attnum"
        ))
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
            stattarget: r.int(6)?,
            storage: r.opt_text(7)?.and_then(|s| s.bytes().next()),
            compression: r.opt_text(8)?,
            options: r.opt_text(9)?.filter(|o| !o.is_empty()),
        });
    }
    // Materialized views that read other materialized views, directly or through views
    // (pg_dump.c `buildMatViewRefreshDependencies`): a refresh waits for theirs, and is not
    // dumped at all when one of them is not populated (it could only fail on restore).
    let mut reads: Vec<(u32, u32)> = Vec::new();
    for r in ctx
        .db
        .query(
            "WITH RECURSIVE w(mv, ref, refkind) AS ( \
               SELECT rw.ev_class, d.refobjid, c.relkind FROM pg_catalog.pg_rewrite rw \
                 JOIN pg_catalog.pg_class m ON m.oid = rw.ev_class AND m.relkind = 'm' \
                 JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass \
                   AND d.objid = rw.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass \
                   AND d.refobjid <> rw.ev_class \
                 JOIN pg_catalog.pg_class c ON c.oid = d.refobjid AND c.relkind IN ('m', 'v') \
               UNION \
               SELECT w.mv, d.refobjid, c.relkind FROM w JOIN pg_catalog.pg_rewrite rw ON rw.ev_class = w.ref \
                 JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass \
                   AND d.objid = rw.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass \
                   AND d.refobjid <> w.ref \
                 JOIN pg_catalog.pg_class c ON c.oid = d.refobjid AND c.relkind IN ('m', 'v') \
               WHERE w.refkind = 'v') \
             SELECT DISTINCT mv, ref FROM w WHERE refkind = 'm'",
        )
        .await?
    {
        reads.push((r.oid(0)?, r.oid(1)?));
    }
    let mut refresh_ids: Vec<(u32, usize)> = Vec::new();
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
    let mut unpopulated: std::collections::HashSet<u32> = rows
        .iter()
        .filter(|r| r.bool(6).is_ok_and(|p| !p))
        .filter_map(|r| r.oid(0).ok())
        .collect();
    loop {
        let more: Vec<u32> = reads
            .iter()
            .filter(|(mv, rf)| unpopulated.contains(rf) && !unpopulated.contains(mv))
            .map(|(mv, _)| *mv)
            .collect();
        if more.is_empty() {
            break;
        }
        unpopulated.extend(more);
    }
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
            // Per-column settings follow the definition, as for tables (`dumpTableSchema`).
            let mut defn = create_matview_sql(&rel.qualified, &reloptions, &viewdef);
            for c in cols.iter().filter(|c| c.rel == oid) {
                defn.push_str(&column_alters_sql(&ColumnAlter {
                    table: &rel.qualified,
                    column: &c.name,
                    statistics: (c.stattarget >= 0).then_some(c.stattarget),
                    storage: c.storage,
                    compression: if ctx.selection.no_toast_compression {
                        None
                    } else {
                        c.compression.as_deref()
                    },
                    options: c.options.as_deref(),
                }));
            }
            (
                "MATERIALIZED VIEW",
                defn,
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

        if matview && !unpopulated.contains(&oid) && ctx.selection.data {
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
            refresh_ids.push((oid, ctx.push(d)));
        }
    }
    for (mv, rf) in reads {
        let find = |o: u32| refresh_ids.iter().find(|(x, _)| *x == o).map(|(_, i)| *i);
        if let (Some(i), Some(j)) = (find(mv), find(rf)) {
            ctx.entries[i].deps.push(Dep::Entry(j));
        }
    }
    Ok(())
}
