//! Event triggers (pg_dump.c `getEventTriggers`, `dumpEventTrigger`): no schema, post-data,
//! dumped when "everything" is; pg_restore runs them in its last pass, after the ACLs.

use crate::catalog::Ctx;
use crate::catalog::dumpable::{self, Dump};
use crate::ddl::event_trigger::{self, EventTrigger};
use crate::ddl::{comment, quote, seclabel};
use crate::error::Result;
use crate::model::{CatalogId, Entry, Priority, Section, catalog_oid};

pub(crate) struct EventTriggerRow {
    pub oid: u32,
    pub owner: u32,
    pub trigger: EventTrigger,
}

/// The event triggers query (also run ahead by a catalog helper).
pub(crate) const LIST_SQL: &str = "SELECT e.oid, e.evtname, e.evtevent, e.evtowner, \
             pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.quote_literal(x) FROM unnest(e.evttags) AS t(x)), ', '), \
             e.evtfoid::pg_catalog.regproc::text, e.evtenabled \
             FROM pg_catalog.pg_event_trigger e ORDER BY e.oid";

pub(crate) async fn fetch(ctx: &Ctx<'_>) -> Result<Vec<EventTriggerRow>> {
    let mut out = Vec::new();
    // The tags are quoted by the server, as pg_dump has it do.
    for r in ctx.query(LIST_SQL).await? {
        out.push(EventTriggerRow {
            oid: r.oid(0)?,
            owner: r.oid(3)?,
            trigger: EventTrigger {
                name: r.text(1)?,
                event: r.text(2)?,
                tags: r.opt_text(4)?.unwrap_or_default(),
                function: r.text(5)?,
                enabled: r.char(6)? as char,
            },
        });
    }
    Ok(out)
}

pub(crate) fn build(ctx: &Ctx<'_>, r: &EventTriggerRow) -> Option<(Entry, Dump)> {
    let id = CatalogId::new(catalog_oid::PG_EVENT_TRIGGER, r.oid);
    // No initdb-OID test: there are no built-in event triggers.
    let dump = dumpable::schemaless(ctx, id, false);
    if dump == Dump::Nothing {
        return None;
    }
    let t = &r.trigger;
    let (create, drop) = event_trigger::event_trigger_sql(t);
    let mut e = Entry::new(
        "EVENT TRIGGER",
        Priority::EventTrigger,
        Section::PostData,
        t.name.clone(),
    )
    .with_key(id)
    .with_owner(ctx.role(r.owner))
    .with_defn(create)
    .with_drop(drop);
    let q = quote::ident(&t.name);
    if let Some(text) = ctx.comment(catalog_oid::PG_EVENT_TRIGGER, r.oid, 0) {
        e.attached
            .push(comment::comment_entry(&e, "EVENT TRIGGER", &q, &q, text));
    }
    let labels = ctx.labels(catalog_oid::PG_EVENT_TRIGGER, r.oid);
    if let Some(l) = seclabel::seclabel_entry(&e, "EVENT TRIGGER", &q, &q, &labels) {
        e.attached.push(l);
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
