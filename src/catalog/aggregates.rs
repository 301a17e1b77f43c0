//! Aggregates (pg_dump.c `getAggregates`, `dumpAgg`). Privileges are granted with the
//! FUNCTION keyword (there is no GRANT ON AGGREGATE); aggregates in `pg_catalog` are read only
//! when their privileges changed.

use crate::catalog::Ctx;
use crate::catalog::dumpable::{self, Dump};
use crate::catalog::functions::{ARG_TYPE_COLUMNS, ArgTypes};
use crate::catalog::operators::{operator_name_columns, operator_ref};
use crate::ddl::acl::{AclKind, acl_entry};
use crate::ddl::aggregate::{self, Aggregate};
use crate::ddl::{comment, quote, seclabel};
use crate::error::Result;
use crate::model::{CatalogId, Entry, Priority, Section, catalog_oid};

pub(crate) struct AggRow {
    pub oid: u32,
    pub nsp: u32,
    pub owner: u32,
    pub agg: Aggregate,
    pub argtypes: ArgTypes,
    pub acl: Option<String>,
    pub acldefault: String,
}

/// `regproc` text with `-` (zero) as `None`.
fn proc_ref(s: Option<String>) -> Option<String> {
    s.filter(|s| s != "-")
}

/// The query of this reader (also run ahead by a catalog helper).
pub(crate) fn list_sql() -> String {
    format!(
        "SELECT p.oid, p.proname, p.pronamespace, p.proowner, p.pronargs, \
         pg_catalog.pg_get_function_arguments(p.oid), pg_catalog.pg_get_function_identity_arguments(p.oid), \
         a.aggkind, a.aggtransfn::text, a.aggtranstype::pg_catalog.regtype::text, a.aggtransspace, a.agginitval, \
         a.aggfinalfn::text, a.aggfinalextra, a.aggfinalmodify, a.aggcombinefn::text, a.aggserialfn::text, \
         a.aggdeserialfn::text, a.aggmtransfn::text, a.aggminvtransfn::text, \
         a.aggmtranstype::pg_catalog.regtype::text, a.aggmtransspace, a.aggminitval, a.aggmfinalfn::text, \
         a.aggmfinalextra, a.aggmfinalmodify, \
         {sortop}, p.proparallel, p.proacl::text, pg_catalog.acldefault('f', p.proowner)::text, {ARG_TYPE_COLUMNS} \
         FROM pg_catalog.pg_aggregate a JOIN pg_catalog.pg_proc p ON p.oid = a.aggfnoid \
         LEFT JOIN pg_catalog.pg_init_privs pip ON pip.objoid = p.oid \
              AND pip.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND pip.objsubid = 0 \
         WHERE p.pronamespace <> 'pg_catalog'::pg_catalog.regnamespace OR p.proacl IS DISTINCT FROM pip.initprivs \
         ORDER BY p.oid",
        sortop = operator_name_columns("a.aggsortop"),
    )
}

pub(crate) async fn fetch(ctx: &Ctx<'_>) -> Result<Vec<AggRow>> {
    let sql = list_sql();
    let mut out = Vec::new();
    for r in ctx.query(&sql).await? {
        let nsp = r.oid(2)?;
        let moving = match (proc_ref(r.opt_text(18)?), proc_ref(r.opt_text(19)?), r.opt_text(20)?) {
            (Some(f), Some(inv), Some(t)) => Some((f, inv, t)),
            _ => None,
        };
        let agg = Aggregate {
            schema: ctx.namespace(nsp).map(|n| n.name.clone()).unwrap_or_default(),
            name: r.text(1)?,
            nargs: r.int(4)? as usize,
            args: r.text(5)?,
            identity_args: r.text(6)?,
            kind: r.char(7)? as char,
            transfn: r.text(8)?,
            transtype: r.text(9)?,
            transspace: r.int(10)?,
            initval: r.opt_text(11)?,
            finalfn: proc_ref(r.opt_text(12)?),
            finalextra: r.bool(13)?,
            finalmodify: r.char(14)? as char,
            combinefn: proc_ref(r.opt_text(15)?),
            serialfn: proc_ref(r.opt_text(16)?),
            deserialfn: proc_ref(r.opt_text(17)?),
            moving,
            mtransspace: r.int(21)?,
            minitval: r.opt_text(22)?,
            mfinalfn: proc_ref(r.opt_text(23)?),
            mfinalextra: r.bool(24)?,
            mfinalmodify: r.char(25)? as char,
            sortop: operator_ref(&r, 26)?,
            parallel: r.char(28)? as char,
        };
        out.push(AggRow {
            oid: r.oid(0)?,
            nsp,
            owner: r.oid(3)?,
            agg,
            argtypes: ArgTypes::read(&r, 31)?,
            acl: r.opt_text(29)?,
            acldefault: r.text(30)?,
        });
    }
    Ok(out)
}

pub(crate) fn build(ctx: &Ctx<'_>, r: &AggRow) -> (Entry, Dump) {
    let id = CatalogId::new(catalog_oid::PG_PROC, r.oid);
    let dump = dumpable::in_schema(ctx, r.nsp, id);
    let a = &r.agg;
    let owner = ctx.role(r.owner);
    // The TOC tag spells a zero-argument aggregate `name(*)`.
    let tag = if a.nargs == 0 {
        format!("{}(*)", a.name)
    } else {
        r.argtypes.tag(&a.name)
    };
    let mut e = Entry::new("AGGREGATE", Priority::Aggregate, Section::PreData, a.name.clone())
        .with_key(id)
        .with_schema(a.schema.clone())
        .with_tag(tag)
        .with_owner(owner.clone())
        .with_defn(aggregate::create_sql(a))
        .with_drop(aggregate::drop_sql(a));
    e.sort_extra = r.argtypes.sort_key();
    if let Some(text) = ctx.comment(catalog_oid::PG_PROC, r.oid, 0) {
        let c = comment::comment_entry(&e, "AGGREGATE", &a.qualified_signature(), &a.signature(), text);
        e.attached.push(c);
    }
    let labels = ctx.labels(catalog_oid::PG_PROC, r.oid);
    if let Some(l) = seclabel::seclabel_entry(&e, "AGGREGATE", &a.qualified_signature(), &a.signature(), &labels) {
        e.attached.push(l);
    }
    // GRANT ... ON FUNCTION name(argument types): no `(*)`, no ORDER BY.
    let fsig = format!("{}({})", quote::ident(&a.name), r.argtypes.formatted.join(", "));
    let name_sql = format!("{}.{fsig}", quote::ident(&a.schema));
    if let Some((cur, base)) = ctx.acl_lists(catalog_oid::PG_PROC, r.oid, 0, r.acl.as_deref(), &r.acldefault)
        && let Some(acl) = acl_entry(
            &e,
            AclKind::Function,
            "FUNCTION",
            &name_sql,
            &fsig,
            None,
            &owner,
            &cur,
            &base,
        )
    {
        e.attached.push(acl);
    }
    (e, dump)
}

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    for r in fetch(ctx).await? {
        let (e, dump) = build(ctx, &r);
        dumpable::push(ctx, e, dump);
    }
    Ok(())
}
