//! Relations the selection leaves out, sorted all the same (pg_dump.c `getTables` reads every
//! relation and `sortDumpableObjects` orders them all; only the dumped ones are written).
//!
//! With `-t`, `-T`, `-n` or `-N`, a relation that is not dumped still constrains the order of
//! those that are: a view over two selected tables must follow both, so pg_dump's sort
//! (which fills the output from the end) places both tables before the sequences that sort
//! after them. pgsnap plans such relations as unwritten entries ([`Entry::emit`] false): the
//! relation with its row type and, for a view or materialized view, its `_RETURN` rule (whose
//! `pg_depend` rows name what it reads), then drops them after planning like extension
//! members (`dumpable::drop_unwritten`). Only catalog rows are read for them — no definition
//! is rendered, so no server function touches a relation the dump did not lock.

use std::collections::HashSet;

use super::Ctx;
use crate::error::Result;
use crate::model::{CatalogId, Entry, Priority, Section, catalog_oid};

/// The relations query (also run ahead by a catalog helper).
pub(crate) const LIST_SQL: &str = "SELECT c.oid, c.relname, c.relnamespace, c.relkind, c.reltype, \
             (SELECT r.oid FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename = '_RETURN') \
             FROM pg_catalog.pg_class c \
             WHERE c.relkind IN ('r', 'S', 'v', 'm', 'f', 'p') AND c.oid >= 16384 ORDER BY c.oid";

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    let known: HashSet<CatalogId> = ctx.entries.iter().flat_map(Entry::catalog_ids).collect();
    let rows = ctx.query(LIST_SQL).await?;
    for r in rows {
        let oid = r.oid(0)?;
        let id = CatalogId::class(oid);
        // Dumped ones have their entries; extension members are represented by their
        // extension (a dependency on one is a dependency on it).
        if ctx.relation_dumped(oid) || known.contains(&id) || ctx.is_extension_member(id) {
            continue;
        }
        let Some(ns) = ctx.namespace(r.oid(2)?) else { continue };
        // Other sessions' temporary relations order nothing a dump writes.
        if ns.name.starts_with("pg_temp_") || ns.name.starts_with("pg_toast_temp_") {
            continue;
        }
        let relkind = r.char(3)?;
        let desc = match relkind {
            b'S' => "SEQUENCE",
            b'v' => "VIEW",
            b'm' => "MATERIALIZED VIEW",
            b'f' => "FOREIGN TABLE",
            _ => "TABLE",
        };
        let mut e = Entry::new(desc, Priority::Table, Section::PreData, r.text(1)?)
            .with_key(id)
            .with_schema(ns.name.clone());
        e.relkind = Some(relkind);
        e.emit = false;
        let row_type = r.oid(4)?;
        if row_type != 0 {
            e.claims.push(CatalogId::new(catalog_oid::PG_TYPE, row_type));
        }
        if let Some(rule) = r.opt_int(5)? {
            e.claims.push(CatalogId::new(catalog_oid::PG_REWRITE, rule as u32));
        }
        ctx.push(e);
    }
    Ok(())
}
