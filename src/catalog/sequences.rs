//! Sequences (pg_dump.c `getTables` for relkind S, `collectSequences`, `dumpSequence`,
//! `dumpSequenceData`): SEQUENCE (plain or identity), SEQUENCE OWNED BY, SEQUENCE SET, with
//! comments and ACLs.

use std::collections::HashMap;

use futures_util::StreamExt;

use super::tables::relation_acl;
use super::{Ctx, Rel};
use crate::ddl::acl::AclKind;
use crate::ddl::comment::comment_entry;
use crate::ddl::quote::ident;
use crate::ddl::seclabel::seclabel_entry;
use crate::ddl::sequence::{SequenceDef, create_sequence_sql, identity_sql, owned_by_sql, setval_sql};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{CatalogId, Dep, Entry, Priority, Section, catalog_oid};
use crate::pg::Row;

/// The sequences query (also run ahead by a catalog helper). On 18 it carries each
/// sequence's state when data is dumped: `pg_get_sequence_data` once per sequence, in the
/// FROM list (as two columns of the select list, it ran twice).
pub(crate) fn list_sql(ctx: &Ctx<'_>) -> String {
    let with_data = ctx.version.at_least(18) && (ctx.selection.data || ctx.selection.sequence_data);
    let (data_cols, data_join) = if with_data {
        (
            "sd.last_value, sd.is_called",
            "LEFT JOIN LATERAL pg_catalog.pg_get_sequence_data(c.oid) sd ON true ",
        )
    } else {
        ("NULL::int8, NULL::bool", "")
    };
    format!(
        "SELECT c.oid, c.relpersistence, pg_catalog.format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, \
         s.seqmax, s.seqmin, s.seqcache, s.seqcycle, c.relacl::text, pg_catalog.acldefault('s', c.relowner)::text, \
         d.refobjid, d.deptype, a.attname, a.attidentity, t.relpersistence, {data_cols} \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid \
         LEFT JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass \
           AND d.objid = c.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass \
           AND d.deptype IN ('a', 'i') \
         LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
         LEFT JOIN pg_catalog.pg_class t ON t.oid = d.refobjid \
         {data_join}WHERE c.relkind = 'S' ORDER BY c.oid"
    )
}

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    let rels = ctx.relations.clone();
    let v18 = ctx.version.at_least(18);
    let rows = ctx.query(&list_sql(ctx)).await?;
    let mut states = if v18 {
        HashMap::new()
    } else {
        read_states(ctx, &rels, &rows).await?
    };
    for r in rows {
        let oid = r.oid(0)?;
        let Some(rel) = rels.get(&oid) else { continue };
        let owning = r.opt_int(11)?.map(|o| o as u32);
        let deptype = r.opt_text(12)?;
        let column = r.opt_text(13)?;
        let identity = deptype.as_deref() == Some("i");
        let owner_table = owning.and_then(|o| rels.get(&o));
        if goes_with_undumped_table(&r, &rels)? {
            continue;
        }
        let persistence = r.char(1)?;
        let def = SequenceDef {
            qualified: rel.qualified.clone(),
            type_name: r.text(2)?,
            start: r.int(3)?,
            increment: r.int(4)?,
            max: r.int(5)?,
            min: r.int(6)?,
            cache: r.int(7)?,
            cycle: r.bool(8)?,
            unlogged: persistence == b'u',
        };
        let mut e = Entry::new("SEQUENCE", Priority::Table, Section::PreData, rel.name.clone())
            .with_key(CatalogId::class(oid))
            .with_schema(rel.schema.clone())
            .with_owner(rel.owner.clone());
        e.relkind = Some(b'S');
        match (identity, owner_table, column.as_deref()) {
            (true, Some(t), Some(col)) => {
                let table_persistence = r.opt_text(15)?.and_then(|s| s.bytes().next()).unwrap_or(b'p');
                let marker = match (persistence, table_persistence) {
                    (b'u', b'p') => Some("UNLOGGED"),
                    (b'p', b'u') => Some("LOGGED"),
                    _ => None,
                };
                let always = r.opt_text(14)?.as_deref() == Some("a");
                e.defn = Some(identity_sql(&def, &t.qualified, col, always, marker));
            }
            _ => {
                e.defn = Some(create_sequence_sql(&def));
                e.drop_stmt = Some(format!("DROP SEQUENCE {};\n", rel.qualified));
            }
        }
        // The OWNED BY entry follows the sequence at once, before its comment and labels
        // (dumpSequence); it depends on the sequence alone, which sorts after its table.
        if let (false, Some("a"), Some(t), Some(col)) = (identity, deptype.as_deref(), owner_table, column.as_deref()) {
            let o = Entry::new("SEQUENCE OWNED BY", Priority::Table, Section::PreData, rel.name.clone())
                .with_schema(rel.schema.clone())
                .with_owner(rel.owner.clone())
                .with_defn(owned_by_sql(&rel.qualified, &t.qualified, col));
            e.attached.push(o);
        }
        if let Some(text) = ctx.comment(catalog_oid::PG_CLASS, oid, 0) {
            let c = comment_entry(&e, "SEQUENCE", &rel.qualified, &ident(&rel.name), text);
            e.attached.push(c);
        }
        let labels = ctx.labels(catalog_oid::PG_CLASS, oid);
        if let Some(l) = seclabel_entry(&e, "SEQUENCE", &rel.qualified, &ident(&rel.name), &labels) {
            e.attached.push(l);
        }
        let default_acl = r.text(10)?;
        if let Some(a) = relation_acl(
            ctx,
            &e,
            AclKind::Sequence,
            "SEQUENCE",
            &rel.qualified,
            &ident(&rel.name),
            None,
            oid,
            r.opt_text(9)?,
            &default_acl,
        ) {
            e.attached.push(a);
        }
        ctx.push(e);

        if ctx.sequence_data_dumped(oid) {
            let (last, called) = if v18 {
                sequence_state(&rel.name, r.opt_int(16)?, r.opt_bool(17)?)?
            } else if let Some(state) = states.remove(&oid) {
                state
            } else {
                read_state(ctx, oid, &rel.name, &rel.qualified).await?
            };
            let s = Entry::new("SEQUENCE SET", Priority::SequenceSet, Section::Data, rel.name.clone())
                .with_schema(rel.schema.clone())
                .with_owner(rel.owner.clone())
                .with_defn(setval_sql(&rel.qualified, last, called))
                .with_dep(Dep::Catalog(CatalogId::class(oid)));
            ctx.push(s);
        }
    }
    Ok(())
}

/// An identity sequence goes with its table; if the table is not dumped neither is it (`r`: a
/// row of [`list_sql`]).
fn goes_with_undumped_table(r: &Row, rels: &HashMap<u32, Rel>) -> Result<bool> {
    let identity = r.opt_text(12)?.as_deref() == Some("i");
    let owner_dumped = r.opt_int(11)?.is_some_and(|o| rels.contains_key(&(o as u32)));
    Ok(identity && !owner_dumped)
}

/// Queries in flight at once on the leader's connection while reading sequences.
const PIPELINED: usize = 64;

/// Before 18, the state of every sequence whose data is dumped (those `read` keeps), each read
/// with a query of its own as pg_dump does, but sent without waiting for the one before
/// (tokio-postgres pipelines them on the connection, [`PIPELINED`] at a time): a round trip
/// for many sequences instead of one each. The first failure in order is the one returned, as
/// a query-by-query read would have met it.
async fn read_states(ctx: &Ctx<'_>, rels: &HashMap<u32, Rel>, rows: &[Row]) -> Result<HashMap<u32, (i64, bool)>> {
    let mut wanted: Vec<(u32, &Rel)> = Vec::new();
    for r in rows {
        let oid = r.oid(0)?;
        let Some(rel) = rels.get(&oid) else { continue };
        if goes_with_undumped_table(r, rels)? || !ctx.sequence_data_dumped(oid) {
            continue;
        }
        wanted.push((oid, rel));
    }
    let reads: Vec<_> = wanted
        .iter()
        .map(|(oid, rel)| read_state(ctx, *oid, &rel.name, &rel.qualified))
        .collect();
    let read: Vec<Result<(i64, bool)>> = futures_util::stream::iter(reads).buffered(PIPELINED).collect().await;
    let mut out = HashMap::with_capacity(wanted.len());
    for ((oid, _), state) in wanted.iter().zip(read) {
        out.insert(*oid, state?);
    }
    Ok(out)
}

/// A sequence's `last_value, is_called` read on its own: server 18's `pg_get_sequence_data`
/// (NULL when the role lacks SELECT on it), older servers' `SELECT ... FROM seq` (the server
/// refuses with "permission denied for sequence").
pub(crate) async fn read_state(ctx: &Ctx<'_>, oid: u32, name: &str, qualified: &str) -> Result<(i64, bool)> {
    if ctx.version.at_least(18) {
        let row = ctx
            .db
            .query_one(&format!(
                "SELECT last_value, is_called FROM pg_catalog.pg_get_sequence_data('{oid}'::pg_catalog.oid)"
            ))
            .await?;
        sequence_state(name, row.opt_int(0)?, row.opt_bool(1)?)
    } else {
        let row = ctx
            .db
            .query_one(&format!("SELECT last_value, is_called FROM {qualified}"))
            .await?;
        Ok((row.int(0)?, row.bool(1)?))
    }
}

/// The values of a sequence as `pg_get_sequence_data` gave them; NULLs mean the role may not
/// read the sequence (or it was dropped meanwhile), reported as pg_dump 18's
/// `dumpSequenceData` reports it.
pub(crate) fn sequence_state(name: &str, last: Option<i64>, called: Option<bool>) -> Result<(i64, bool)> {
    match (last, called) {
        (Some(last), Some(called)) => Ok((last, called)),
        _ => Err(Error::new(
            ErrorKind::Server,
            format!(
                "failed to get data for sequence \"{name}\"; user may lack SELECT privilege on the sequence \
                 or the sequence may have been concurrently dropped"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_sequence_data_names_the_missing_privilege() {
        assert_eq!(sequence_state("s", Some(5), Some(true)).unwrap(), (5, true));
        for (last, called) in [(None, None), (Some(1), None), (None, Some(false))] {
            let e = sequence_state("Sec ret", last, called).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Server);
            assert_eq!(
                e.message(),
                "failed to get data for sequence \"Sec ret\"; user may lack SELECT privilege on the sequence \
                 or the sequence may have been concurrently dropped"
            );
        }
    }
}
