//! Conversions (pg_dump.c `getConversions`, `dumpConversion`).

use crate::catalog::Ctx;
use crate::catalog::dumpable::{self, Dump};
use crate::ddl::conversion::{self, Conversion};
use crate::ddl::{comment, quote};
use crate::error::Result;
use crate::model::{CatalogId, Entry, Priority, Section, catalog_oid};

pub(crate) struct ConversionRow {
    pub oid: u32,
    pub nsp: u32,
    pub owner: u32,
    pub conversion: Conversion,
}

/// The conversions query (also run ahead by a catalog helper).
pub(crate) const LIST_SQL: &str = "SELECT c.oid, c.conname, c.connamespace, c.conowner, c.condefault, \
             pg_catalog.pg_encoding_to_char(c.conforencoding), pg_catalog.pg_encoding_to_char(c.contoencoding), \
             c.conproc::text \
             FROM pg_catalog.pg_conversion c \
             WHERE c.connamespace <> 'pg_catalog'::pg_catalog.regnamespace ORDER BY c.oid";

pub(crate) async fn fetch(ctx: &Ctx<'_>) -> Result<Vec<ConversionRow>> {
    let mut out = Vec::new();
    for r in ctx.query(LIST_SQL).await? {
        let nsp = r.oid(2)?;
        out.push(ConversionRow {
            oid: r.oid(0)?,
            nsp,
            owner: r.oid(3)?,
            conversion: Conversion {
                schema: ctx.namespace(nsp).map(|n| n.name.clone()).unwrap_or_default(),
                name: r.text(1)?,
                default: r.bool(4)?,
                from_encoding: r.text(5)?,
                to_encoding: r.text(6)?,
                function: r.text(7)?,
            },
        });
    }
    Ok(out)
}

pub(crate) fn build(ctx: &Ctx<'_>, r: &ConversionRow) -> Option<(Entry, Dump)> {
    let id = CatalogId::new(catalog_oid::PG_CONVERSION, r.oid);
    let dump = dumpable::in_schema(ctx, r.nsp, id);
    if dump == Dump::Nothing {
        return None;
    }
    let c = &r.conversion;
    let (create, drop) = conversion::conversion_sql(c);
    let mut e = Entry::new("CONVERSION", Priority::Conversion, Section::PreData, c.name.clone())
        .with_key(id)
        .with_schema(c.schema.clone())
        .with_owner(ctx.role(r.owner))
        .with_defn(create)
        .with_drop(drop);
    if let Some(text) = ctx.comment(catalog_oid::PG_CONVERSION, r.oid, 0) {
        let q = quote::ident(&c.name);
        let qualified = quote::qualified(&c.schema, &c.name);
        e.attached
            .push(comment::comment_entry(&e, "CONVERSION", &qualified, &q, text));
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
