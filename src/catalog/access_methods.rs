//! Access methods (pg_dump.c `getAccessMethods`, `selectDumpableAccessMethod`,
//! `dumpAccessMethod`): no schema, no owner; those created after initdb, when "everything"
//! is dumped.

use crate::catalog::Ctx;
use crate::catalog::dumpable::{self, Dump};
use crate::ddl::{access_method, comment, quote};
use crate::error::Result;
use crate::model::{CatalogId, Entry, Priority, Section, catalog_oid};

pub(crate) struct AmRow {
    pub oid: u32,
    pub name: String,
    pub amtype: char,
    pub handler: String,
}

/// The access methods query (also run ahead by a catalog helper).
pub(crate) fn list_sql() -> String {
    format!(
        "SELECT a.oid, a.amname, a.amtype, a.amhandler::pg_catalog.regproc::text \
         FROM pg_catalog.pg_am a WHERE a.oid >= {} ORDER BY a.oid",
        dumpable::FIRST_NORMAL_OID
    )
}

pub(crate) async fn fetch(ctx: &Ctx<'_>) -> Result<Vec<AmRow>> {
    let mut out = Vec::new();
    for r in ctx.query(&list_sql()).await? {
        out.push(AmRow {
            oid: r.oid(0)?,
            name: r.text(1)?,
            amtype: r.char(2)? as char,
            handler: r.text(3)?,
        });
    }
    Ok(out)
}

pub(crate) fn build(ctx: &Ctx<'_>, r: &AmRow) -> Option<(Entry, Dump)> {
    let id = CatalogId::new(catalog_oid::PG_AM, r.oid);
    let dump = dumpable::schemaless(ctx, id, false);
    if dump == Dump::Nothing {
        return None;
    }
    let Some((create, drop)) = access_method::access_method_sql(&r.name, r.amtype, &r.handler) else {
        tracing::warn!("invalid type \"{}\" of access method \"{}\"", r.amtype, r.name);
        return None;
    };
    let mut e = Entry::new(
        "ACCESS METHOD",
        Priority::AccessMethod,
        Section::PreData,
        r.name.clone(),
    )
    .with_key(id)
    .with_defn(create)
    .with_drop(drop);
    if let Some(text) = ctx.comment(catalog_oid::PG_AM, r.oid, 0) {
        let q = quote::ident(&r.name);
        let mut c = comment::comment_entry(&e, "ACCESS METHOD", &q, &q, text);
        c.owner = Some(String::new());
        e.attached.push(c);
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
