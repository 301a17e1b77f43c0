//! Operators (pg_dump.c `getOperators`, `dumpOpr`). Shell operators (`oprcode` zero, left
//! behind when a COMMUTATOR or NEGATOR named an operator that was never defined) are not
//! dumped. Operators have no privileges, so only fully dumped ones make entries.

use crate::catalog::Ctx;
use crate::catalog::dumpable::{self, Dump};
use crate::ddl::comment;
use crate::ddl::operator::{self, Operator};
use crate::error::Result;
use crate::model::{CatalogId, Entry, Priority, Section, catalog_oid};
use crate::pg::Row;

pub(crate) struct OprRow {
    pub oid: u32,
    pub nsp: u32,
    pub owner: u32,
    pub kind: u8,
    pub op: Operator,
    /// Schema and name of the left and right argument types (empty when absent).
    pub sort_types: [String; 4],
}

/// Schema and name of the operator whose OID is in `expr` (two columns; NULL when zero),
/// for `OPERATOR(schema.name)` references quoted on our side as pg_dump's
/// `getFormattedOperatorName` does.
pub(crate) fn operator_name_columns(expr: &str) -> String {
    format!(
        "(SELECT rn.nspname FROM pg_catalog.pg_operator r \
           JOIN pg_catalog.pg_namespace rn ON rn.oid = r.oprnamespace WHERE r.oid = {expr}), \
         (SELECT r.oprname FROM pg_catalog.pg_operator r WHERE r.oid = {expr})"
    )
}

/// `OPERATOR(schema.name)` from the two columns at `i` (see [`operator_name_columns`]).
pub(crate) fn operator_ref(r: &Row, i: usize) -> Result<Option<String>> {
    Ok(match (r.opt_text(i)?, r.opt_text(i + 1)?) {
        (Some(nsp), Some(name)) => Some(operator::operator_ref(&nsp, &name)),
        _ => None,
    })
}

/// The query of this reader (also run ahead by a catalog helper).
pub(crate) fn list_sql() -> String {
    format!(
        "SELECT o.oid, o.oprname, o.oprnamespace, o.oprowner, o.oprkind, o.oprcode::pg_catalog.regprocedure::text, \
         CASE WHEN o.oprleft <> 0 THEN o.oprleft::pg_catalog.regtype::text END, \
         CASE WHEN o.oprright <> 0 THEN o.oprright::pg_catalog.regtype::text END, \
         {}, {}, o.oprcanmerge, o.oprcanhash, \
         CASE WHEN o.oprrest <> 0 THEN o.oprrest::pg_catalog.regprocedure::text END, \
         CASE WHEN o.oprjoin <> 0 THEN o.oprjoin::pg_catalog.regprocedure::text END, \
         ln.nspname, lt.typname, rn.nspname, rt.typname \
         FROM pg_catalog.pg_operator o \
         LEFT JOIN pg_catalog.pg_type lt ON lt.oid = o.oprleft \
         LEFT JOIN pg_catalog.pg_namespace ln ON ln.oid = lt.typnamespace \
         LEFT JOIN pg_catalog.pg_type rt ON rt.oid = o.oprright \
         LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rt.typnamespace \
         WHERE o.oprcode <> 0 AND o.oprnamespace <> 'pg_catalog'::pg_catalog.regnamespace \
         ORDER BY o.oid",
        operator_name_columns("o.oprcom"),
        operator_name_columns("o.oprnegate"),
    )
}

pub(crate) async fn fetch(ctx: &Ctx<'_>) -> Result<Vec<OprRow>> {
    let sql = list_sql();
    let mut out = Vec::new();
    for r in ctx.query(&sql).await? {
        let nsp = r.oid(2)?;
        let op = Operator {
            schema: ctx.namespace(nsp).map(|n| n.name.clone()).unwrap_or_default(),
            name: r.text(1)?,
            function: operator::strip_args(&r.text(5)?),
            left: r.opt_text(6)?,
            right: r.opt_text(7)?,
            commutator: operator_ref(&r, 8)?,
            negator: operator_ref(&r, 10)?,
            merges: r.bool(12)?,
            hashes: r.bool(13)?,
            restrict: r.opt_text(14)?.map(|s| operator::strip_args(&s)),
            join: r.opt_text(15)?.map(|s| operator::strip_args(&s)),
        };
        let text = |i: usize| -> Result<String> { Ok(r.opt_text(i)?.unwrap_or_default()) };
        out.push(OprRow {
            oid: r.oid(0)?,
            nsp,
            owner: r.oid(3)?,
            kind: r.char(4)?,
            op,
            sort_types: [text(16)?, text(17)?, text(18)?, text(19)?],
        });
    }
    Ok(out)
}

pub(crate) fn build(ctx: &Ctx<'_>, r: &OprRow) -> Option<(Entry, Dump)> {
    let id = CatalogId::new(catalog_oid::PG_OPERATOR, r.oid);
    let dump = dumpable::in_schema(ctx, r.nsp, id);
    if dump == Dump::Nothing {
        return None;
    }
    if r.kind == b'r' {
        // Servers before 14 only; pg_dump warns and still writes what it can.
        tracing::warn!(
            "postfix operators are not supported anymore (operator \"{}\")",
            r.op.function
        );
    }
    let o = &r.op;
    let mut e = Entry::new("OPERATOR", Priority::Operator, Section::PreData, o.name.clone())
        .with_key(id)
        .with_schema(o.schema.clone())
        .with_owner(ctx.role(r.owner))
        .with_defn(operator::create_sql(o))
        .with_drop(operator::drop_sql(o));
    // pg_dump_sort.c: unary operators before binary ones, then by argument types.
    e.sort_extra = vec![format!("{:03}", 255 - r.kind)];
    e.sort_extra.extend(r.sort_types.iter().cloned());
    if let Some(text) = ctx.comment(catalog_oid::PG_OPERATOR, r.oid, 0) {
        let c = comment::comment_entry(&e, "OPERATOR", &o.qualified_signature(), &o.signature(), text);
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
