//! Indexes not backing a constraint, and the links between partitioned indexes (pg_dump.c
//! `getIndexes`, `dumpIndex`, `dumpIndexAttach`).

use super::Ctx;
use crate::ddl::comment::comment_entry;
use crate::ddl::index::{IndexDef, attach_index_sql, create_index_sql, drop_index_sql};
use crate::ddl::quote::{ident, qualified};
use crate::error::Result;
use crate::model::{CatalogId, Dep, Entry, Priority, Section, catalog_oid};

/// The indexes query (also run ahead by a catalog helper).
///
/// Only indexes that can be dumped: of tables, matviews and partitioned tables (not
/// TOAST tables: one per table with a long column), and the definition only of
/// those not backing a constraint (constraints.rs renders those). pg_get_indexdef
/// is most of this query's time: 0.6 s on a database of 10 000 tables otherwise.
pub(crate) const LIST_SQL: &str = "SELECT i.indexrelid, ic.relname, i.indrelid, \
             CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_constraint co WHERE co.conindid = i.indexrelid \
               AND co.conrelid = i.indrelid AND co.contype IN ('p', 'u', 'x')) THEN NULL \
             ELSE pg_catalog.pg_get_indexdef(i.indexrelid) END, \
             i.indisclustered, i.indisreplident, coalesce(ts.spcname, ''), \
             par.oid, \
             EXISTS (SELECT 1 FROM pg_catalog.pg_constraint co WHERE co.conindid = i.indexrelid \
               AND co.conrelid = i.indrelid AND co.contype IN ('p', 'u', 'x')), \
             (SELECT array_agg(a.attnum::int8 ORDER BY a.attnum) FROM pg_catalog.pg_attribute a \
               WHERE a.attrelid = i.indexrelid AND a.attstattarget >= 0)::text[], \
             (SELECT array_agg(a.attstattarget::int8 ORDER BY a.attnum) FROM pg_catalog.pg_attribute a \
               WHERE a.attrelid = i.indexrelid AND a.attstattarget >= 0)::text[], \
             pn.nspname, pc.relname, pi.indrelid \
             FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid \
             JOIN pg_catalog.pg_class tc ON tc.oid = i.indrelid AND tc.relkind IN ('r', 'p', 'm') \
             LEFT JOIN pg_catalog.pg_tablespace ts ON ts.oid = ic.reltablespace \
             LEFT JOIN LATERAL (SELECT inh.inhparent AS oid FROM pg_catalog.pg_inherits inh \
               WHERE inh.inhrelid = i.indexrelid LIMIT 1) par ON true \
             LEFT JOIN pg_catalog.pg_class pc ON pc.oid = par.oid \
             LEFT JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace \
             LEFT JOIN pg_catalog.pg_index pi ON pi.indexrelid = par.oid \
             WHERE i.indislive ORDER BY i.indexrelid";

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    let rels = ctx.relations.clone();
    let rows = ctx.query(LIST_SQL).await?;
    for r in rows {
        let oid = r.oid(0)?;
        let Some(t) = rels.get(&r.oid(2)?) else { continue };
        if !matches!(t.relkind, b'r' | b'p' | b'm') {
            continue;
        }
        let name = r.text(1)?;
        let qual = qualified(&t.schema, &name);
        let parent = r.opt_int(7)?.map(|p| p as u32);
        let backs_constraint = r.bool(8)?;
        if let Some(p) = parent {
            // INDEX ATTACH also links constraint indexes; the parent must be dumped too. Its
            // name and table come in the same row (one query per attached index took 1 s of
            // a dump of 2 000 partitions with two indexes each).
            let parent_qual = qualified(&r.text(11)?, &r.text(12)?);
            let parent_table = r.oid(13)?;
            let mut a = Entry::new("INDEX ATTACH", Priority::IndexAttach, Section::PostData, name.clone())
                .with_schema(t.schema.clone())
                .with_owner(t.owner.clone())
                .with_defn(attach_index_sql(&parent_qual, &qual))
                .with_dep(Dep::Catalog(CatalogId::class(p)))
                .with_dep(Dep::Catalog(CatalogId::class(oid)))
                // Both tables too, so pg_restore -j never runs the attach beside other work
                // on them (its lock-conflict check reads TABLE dependencies); without them
                // concurrent attaches in one partition tree deadlock (pg_dump's getIndexes
                // adds the same).
                .with_dep(Dep::Catalog(CatalogId::class(t.oid)))
                .with_dep(Dep::Catalog(CatalogId::class(parent_table)));
            // The attachment is a pg_inherits row, which has no OID: it answers for
            // (pg_inherits, child index), an id no pg_depend row uses, so foreign keys can
            // wait for it (constraints.rs).
            a.claims.push(CatalogId::new(catalog_oid::PG_INHERITS, oid));
            ctx.push(a);
        }
        if backs_constraint {
            continue;
        }
        let cols = r.text_array(9)?;
        let targets = r.text_array(10)?;
        let stats: Vec<(i64, i64)> = cols
            .iter()
            .zip(targets.iter())
            .filter_map(|(c, t)| Some((c.parse().ok()?, t.parse().ok()?)))
            .collect();
        let indexdef = r.text(3)?;
        let def = IndexDef {
            indexdef: &indexdef,
            table: &t.qualified,
            qualified: &qual,
            name: &name,
            clustered: r.bool(4)?,
            replident: r.bool(5)?,
            stats: &stats,
        };
        let mut e = Entry::new("INDEX", Priority::Index, Section::PostData, name.clone())
            .with_key(CatalogId::class(oid))
            .with_schema(t.schema.clone())
            .with_owner(t.owner.clone())
            .with_defn(create_index_sql(&def));
        if parent.is_none() {
            e.drop_stmt = Some(drop_index_sql(&qual));
        }
        e.tablespace = Some(r.text(6)?);
        if let Some(text) = ctx.comment(catalog_oid::PG_CLASS, oid, 0) {
            let c = comment_entry(&e, "INDEX", &qual, &ident(&name), text);
            e.attached.push(c);
        }
        ctx.push(e);
    }
    Ok(())
}
