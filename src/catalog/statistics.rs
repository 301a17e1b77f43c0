//! Extended statistics objects (pg_dump.c `getExtendedStatistics`,
//! `selectDumpableStatisticsObject`, `dumpStatisticsExt`): post-data, dumped only together
//! with the definition of their table.

use crate::catalog::Ctx;
use crate::catalog::dumpable::{self, Dump};
use crate::ddl::{comment, quote, statistics};
use crate::error::Result;
use crate::model::{CatalogId, Entry, Priority, Section, catalog_oid};

pub(crate) struct StatsRow {
    pub oid: u32,
    pub name: String,
    pub nsp: u32,
    pub owner: u32,
    pub table: u32,
    pub definition: String,
    /// The statistics target, `None` for the default.
    pub target: Option<i64>,
}

/// The extended statistics query (also run ahead by a catalog helper).
pub(crate) fn list_sql(ctx: &Ctx<'_>) -> String {
    // Up to 16 the default target is -1; from 17 it is NULL.
    let target = if ctx.version.at_least(17) {
        "s.stxstattarget"
    } else {
        "NULLIF(s.stxstattarget, -1)"
    };
    format!(
        "SELECT s.oid, s.stxname, s.stxnamespace, s.stxowner, s.stxrelid, \
         pg_catalog.pg_get_statisticsobjdef(s.oid), {target} \
         FROM pg_catalog.pg_statistic_ext s ORDER BY s.oid"
    )
}

pub(crate) async fn fetch(ctx: &Ctx<'_>) -> Result<Vec<StatsRow>> {
    let mut out = Vec::new();
    for r in ctx.query(&list_sql(ctx)).await? {
        out.push(StatsRow {
            oid: r.oid(0)?,
            name: r.text(1)?,
            nsp: r.oid(2)?,
            owner: r.oid(3)?,
            table: r.oid(4)?,
            definition: r.text(5)?,
            target: r.opt_int(6)?.filter(|t| *t >= 0),
        });
    }
    Ok(out)
}

pub(crate) fn build(ctx: &Ctx<'_>, r: &StatsRow) -> Option<(Entry, Dump)> {
    let id = CatalogId::new(catalog_oid::PG_STATISTIC_EXT, r.oid);
    let dump = match dumpable::in_schema(ctx, r.nsp, id) {
        Dump::Full if !ctx.relations.contains_key(&r.table) => Dump::Nothing,
        d => d,
    };
    if dump == Dump::Nothing {
        return None;
    }
    let schema = ctx.namespace(r.nsp).map(|n| n.name.clone()).unwrap_or_default();
    let qualified = quote::qualified(&schema, &r.name);
    let (create, drop) = statistics::statistics_sql(&qualified, &r.definition, r.target);
    let mut e = Entry::new("STATISTICS", Priority::StatsExt, Section::PostData, r.name.clone())
        .with_key(id)
        .with_schema(schema)
        .with_owner(ctx.role(r.owner))
        .with_defn(create)
        .with_drop(drop);
    if let Some(text) = ctx.comment(catalog_oid::PG_STATISTIC_EXT, r.oid, 0) {
        e.attached.push(comment::comment_entry(
            &e,
            "STATISTICS",
            &qualified,
            &quote::ident(&r.name),
            text,
        ));
    }
    Some((e, dump))
}

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    for r in fetch(ctx).await? {
        if let Some((e, dump)) = build(ctx, &r) {
            dumpable::push(ctx, e, dump);
        }
    }
    Ok(())
}
