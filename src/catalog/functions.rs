//! Functions and procedures (pg_dump.c `getFuncs`, `dumpFunc`): `CREATE FUNCTION` built from
//! `pg_proc` columns as pg_dump builds it. Aggregates have their own reader; functions
//! internally dependent on another object (range and multirange constructors) come with
//! that object. Functions in `pg_catalog` are read only when their privileges changed
//! (their ACL delta is dumped), as pg_dump does.

use crate::catalog::Ctx;
use crate::catalog::dumpable::{self, Dump};
use crate::ddl::acl::{AclKind, acl_entry};
use crate::ddl::function::{self, Body, Function};
use crate::ddl::{comment, seclabel};
use crate::error::Result;
use crate::model::{CatalogId, Entry, Priority, Section, catalog_oid};
use crate::pg::Row;

/// Columns describing `p.proargtypes` (alias `p` for `pg_proc`): the types as `format_type`
/// prints them (TOC tags), and each type's schema and name (pg_dump_sort.c sorts functions
/// and aggregates by argument count, then by these).
pub(crate) const ARG_TYPE_COLUMNS: &str = "\
    ARRAY(SELECT pg_catalog.format_type(a.t, NULL) \
          FROM unnest(p.proargtypes::pg_catalog.oid[]) WITH ORDINALITY a(t, i) ORDER BY a.i), \
    ARRAY(SELECT tn.nspname::text FROM unnest(p.proargtypes::pg_catalog.oid[]) WITH ORDINALITY a(t, i) \
          JOIN pg_catalog.pg_type ty ON ty.oid = a.t \
          JOIN pg_catalog.pg_namespace tn ON tn.oid = ty.typnamespace ORDER BY a.i), \
    ARRAY(SELECT ty.typname::text FROM unnest(p.proargtypes::pg_catalog.oid[]) WITH ORDINALITY a(t, i) \
          JOIN pg_catalog.pg_type ty ON ty.oid = a.t ORDER BY a.i)";

/// Argument types of a function or aggregate, read through [`ARG_TYPE_COLUMNS`].
#[derive(Debug, Clone, Default)]
pub(crate) struct ArgTypes {
    pub formatted: Vec<String>,
    pub schemas: Vec<String>,
    pub names: Vec<String>,
}

impl ArgTypes {
    pub(crate) fn read(r: &Row, first: usize) -> Result<ArgTypes> {
        Ok(ArgTypes {
            formatted: r.text_array(first)?,
            schemas: r.text_array(first + 1)?,
            names: r.text_array(first + 2)?,
        })
    }

    /// pg_dump_sort.c's tie-breaker for functions and aggregates: argument count, then
    /// each argument type's schema and name.
    pub(crate) fn sort_key(&self) -> Vec<String> {
        let mut k = vec![format!("{:05}", self.formatted.len())];
        for (s, n) in self.schemas.iter().zip(&self.names) {
            k.push(s.clone());
            k.push(n.clone());
        }
        k
    }

    /// `name(type, type)`: the TOC tag of a function (unquoted name, `format_type` types).
    pub(crate) fn tag(&self, name: &str) -> String {
        format!("{name}({})", self.formatted.join(", "))
    }
}

/// One `pg_proc` row with what `dumpFunc` needs.
pub(crate) struct FuncRow {
    pub oid: u32,
    pub nsp: u32,
    pub owner: u32,
    pub func: Function,
    pub argtypes: ArgTypes,
    pub acl: Option<String>,
    pub acldefault: String,
}

/// The functions query (also run ahead by a catalog helper).
pub(crate) fn list_sql() -> String {
    format!(
        "SELECT p.oid, p.proname, p.pronamespace, p.proowner, p.prokind, \
     pg_catalog.pg_get_function_arguments(p.oid), pg_catalog.pg_get_function_identity_arguments(p.oid), \
     pg_catalog.pg_get_function_result(p.oid), l.lanname, \
     ARRAY(SELECT pg_catalog.format_type(t.t, NULL) FROM unnest(p.protrftypes) WITH ORDINALITY t(t, i) ORDER BY t.i), \
     p.provolatile, p.proisstrict, p.prosecdef, p.proleakproof, p.procost::text, p.prorows::text, p.proretset, \
     CASE WHEN p.prosupport <> 0 THEN p.prosupport::pg_catalog.regproc::text END, p.proparallel, \
     p.proconfig, pg_catalog.pg_get_function_sqlbody(p.oid), p.prosrc, p.probin, \
     ARRAY(SELECT e.extname::text FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid \
           WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid AND d.deptype = 'x' \
           AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass), \
     p.proacl::text, pg_catalog.acldefault('f', p.proowner)::text, {ARG_TYPE_COLUMNS} \
     FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang \
     LEFT JOIN pg_catalog.pg_init_privs pip ON pip.objoid = p.oid \
          AND pip.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND pip.objsubid = 0 \
     WHERE p.prokind <> 'a' \
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d \
         WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid AND d.deptype = 'i') \
     AND (p.pronamespace <> 'pg_catalog'::pg_catalog.regnamespace OR p.proacl IS DISTINCT FROM pip.initprivs) \
     ORDER BY p.oid"
    )
}

pub(crate) async fn fetch(ctx: &Ctx<'_>) -> Result<Vec<FuncRow>> {
    let mut out = Vec::new();
    for r in ctx.query(&list_sql()).await? {
        let body = match r.opt_text(20)? {
            Some(b) => Body::Sql(b),
            None => Body::Source {
                src: r.opt_text(21)?.unwrap_or_default(),
                bin: r.opt_text(22)?,
            },
        };
        let nsp = r.oid(2)?;
        let func = Function {
            schema: ctx.namespace(nsp).map(|n| n.name.clone()).unwrap_or_default(),
            name: r.text(1)?,
            kind: r.char(4)? as char,
            args: r.text(5)?,
            identity_args: r.text(6)?,
            result: r.opt_text(7)?,
            language: r.text(8)?,
            transform_types: r.text_array(9)?,
            volatility: r.char(10)? as char,
            strict: r.bool(11)?,
            security_definer: r.bool(12)?,
            leakproof: r.bool(13)?,
            cost: r.text(14)?,
            rows: r.text(15)?,
            returns_set: r.bool(16)?,
            support: r.opt_text(17)?,
            parallel: r.char(18)? as char,
            config: r.text_array(19)?,
            body,
            depends_on_extensions: r.text_array(23)?,
        };
        out.push(FuncRow {
            oid: r.oid(0)?,
            nsp,
            owner: r.oid(3)?,
            func,
            argtypes: ArgTypes::read(&r, 26)?,
            acl: r.opt_text(24)?,
            acldefault: r.text(25)?,
        });
    }
    Ok(out)
}

/// The FUNCTION / PROCEDURE entry for one row, with its comment and ACL, and how much of it
/// is dumped.
pub(crate) fn build(ctx: &Ctx<'_>, r: &FuncRow) -> (Entry, Dump) {
    let id = CatalogId::new(catalog_oid::PG_PROC, r.oid);
    let dump = dumpable::in_schema(ctx, r.nsp, id);
    let f = &r.func;
    let owner = ctx.role(r.owner);
    let keyword = function::keyword(f.kind);
    let mut e = Entry::new(keyword, Priority::Function, Section::PreData, f.name.clone())
        .with_key(id)
        .with_schema(f.schema.clone())
        .with_tag(r.argtypes.tag(&f.name))
        .with_owner(owner.clone())
        .with_defn(function::create_sql(f))
        .with_drop(function::drop_sql(f));
    e.sort_extra = r.argtypes.sort_key();
    let name_sql = f.qualified_signature();
    let tag_name = f.signature();
    if let Some(text) = ctx.comment(catalog_oid::PG_PROC, r.oid, 0) {
        let c = comment::comment_entry(&e, keyword, &name_sql, &tag_name, text);
        e.attached.push(c);
    }
    let labels = ctx.labels(catalog_oid::PG_PROC, r.oid);
    if let Some(l) = seclabel::seclabel_entry(&e, keyword, &name_sql, &tag_name, &labels) {
        e.attached.push(l);
    }
    let kind = if f.kind == 'p' {
        AclKind::Procedure
    } else {
        AclKind::Function
    };
    if let Some((cur, base)) = ctx.acl_lists(catalog_oid::PG_PROC, r.oid, 0, r.acl.as_deref(), &r.acldefault)
        && let Some(a) = acl_entry(&e, kind, keyword, &name_sql, &tag_name, None, &owner, &cur, &base)
    {
        e.attached.push(a);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(types: &[(&str, &str, &str)]) -> ArgTypes {
        ArgTypes {
            formatted: types.iter().map(|t| t.0.to_string()).collect(),
            schemas: types.iter().map(|t| t.1.to_string()).collect(),
            names: types.iter().map(|t| t.2.to_string()).collect(),
        }
    }

    #[test]
    fn functions_sort_by_argument_count_then_types() {
        let none = args(&[]);
        let text = args(&[("text", "pg_catalog", "text")]);
        let rec = args(&[("fn.rec", "fn", "rec")]);
        let two = args(&[("integer", "pg_catalog", "int4"), ("integer", "pg_catalog", "int4")]);
        let mut keys = vec![two.sort_key(), text.sort_key(), none.sort_key(), rec.sort_key()];
        keys.sort();
        assert_eq!(
            keys,
            vec![none.sort_key(), rec.sort_key(), text.sort_key(), two.sort_key()],
            "fewer arguments first; then schema, then type name (not format_type text)"
        );
        assert_eq!(two.tag("over"), "over(integer, integer)");
        assert_eq!(none.tag("over"), "over()");
    }
}
