//! Procedural languages (pg_dump.c `getProcLangs`, `selectDumpableProcLang`, `dumpProcLang`).
//! Built-in ones (plpgsql, a member of the built-in extension of that name) are dumped for
//! their changed privileges only; privileges are dumped for trusted languages only.

use crate::catalog::Ctx;
use crate::catalog::dumpable::{self, Dump};
use crate::ddl::acl::{AclKind, acl_entry};
use crate::ddl::language::{self, Language};
use crate::ddl::{comment, quote, seclabel};
use crate::error::Result;
use crate::model::{CatalogId, Entry, Priority, Section, catalog_oid};
use crate::pg::Row;

/// A language's support function, as far as deciding whether it is in the dump goes.
#[derive(Debug, Clone)]
pub(crate) struct SupportFn {
    pub oid: u32,
    pub nsp: u32,
    pub schema: String,
    pub name: String,
    /// Its ACL differs from `pg_init_privs` (what makes pg_dump read a `pg_catalog`
    /// function at all).
    pub acl_changed: bool,
}

pub(crate) struct LangRow {
    pub oid: u32,
    pub name: String,
    pub trusted: bool,
    pub owner: u32,
    pub handler: Option<SupportFn>,
    pub inline: Option<SupportFn>,
    pub validator: Option<SupportFn>,
    pub acl: Option<String>,
    pub acldefault: String,
}

fn support_columns(expr: &str) -> String {
    format!(
        "{expr}, \
         (SELECT p.pronamespace FROM pg_catalog.pg_proc p WHERE p.oid = {expr}), \
         (SELECT n.nspname FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
          WHERE p.oid = {expr}), \
         (SELECT p.proname FROM pg_catalog.pg_proc p WHERE p.oid = {expr}), \
         (SELECT p.proacl IS DISTINCT FROM pip.initprivs FROM pg_catalog.pg_proc p \
          LEFT JOIN pg_catalog.pg_init_privs pip ON pip.objoid = p.oid \
               AND pip.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND pip.objsubid = 0 \
          WHERE p.oid = {expr})"
    )
}

fn support_at(r: &Row, i: usize, oid: u32) -> Result<Option<SupportFn>> {
    Ok(match (r.opt_int(i + 1)?, r.opt_text(i + 2)?, r.opt_text(i + 3)?) {
        (Some(nsp), Some(schema), Some(name)) => Some(SupportFn {
            oid,
            nsp: nsp as u32,
            schema,
            name,
            acl_changed: r.opt_bool(i + 4)?.unwrap_or(false),
        }),
        _ => None,
    })
}

/// The query of this reader (also run ahead by a catalog helper).
pub(crate) fn list_sql() -> String {
    format!(
        "SELECT l.oid, l.lanname, l.lanpltrusted, l.lanowner, l.lanacl::text, \
         pg_catalog.acldefault('l', l.lanowner)::text, l.lanplcallfoid, l.laninline, l.lanvalidator, {}, {}, {} \
         FROM pg_catalog.pg_language l WHERE l.lanispl ORDER BY l.oid",
        support_columns("l.lanplcallfoid"),
        support_columns("l.laninline"),
        support_columns("l.lanvalidator"),
    )
}

pub(crate) async fn fetch(ctx: &Ctx<'_>) -> Result<Vec<LangRow>> {
    let sql = list_sql();
    let mut out = Vec::new();
    for r in ctx.query(&sql).await? {
        out.push(LangRow {
            oid: r.oid(0)?,
            name: r.text(1)?,
            trusted: r.bool(2)?,
            owner: r.oid(3)?,
            acl: r.opt_text(4)?,
            acldefault: r.text(5)?,
            handler: support_at(&r, 9, r.oid(6)?)?,
            inline: support_at(&r, 14, r.oid(7)?)?,
            validator: support_at(&r, 19, r.oid(8)?)?,
        });
    }
    Ok(out)
}

/// pg_dump's `findFuncByOid(..)->dobj.dump`: the function was read by `getFuncs` (functions
/// in `pg_catalog` only when their privileges changed) and some part of it is dumped.
fn function_in_dump(ctx: &Ctx<'_>, f: &SupportFn) -> bool {
    if f.schema == "pg_catalog" && !f.acl_changed {
        return false;
    }
    dumpable::in_schema(ctx, f.nsp, CatalogId::new(catalog_oid::PG_PROC, f.oid)) != Dump::Nothing
}

pub(crate) fn build(ctx: &Ctx<'_>, r: &LangRow) -> (Entry, Dump) {
    let id = CatalogId::new(catalog_oid::PG_LANGUAGE, r.oid);
    let dump = dumpable::schemaless(ctx, id, true);
    let dumped = |f: &Option<SupportFn>| {
        f.as_ref()
            .filter(|f| function_in_dump(ctx, f))
            .map(|f| quote::qualified(&f.schema, &f.name))
    };
    let l = Language {
        name: r.name.clone(),
        trusted: r.trusted,
        handler: dumped(&r.handler),
        inline: dumped(&r.inline),
        validator: dumped(&r.validator),
        has_inline: r.inline.is_some(),
        has_validator: r.validator.is_some(),
    };
    let (create, drop) = language::language_sql(&l);
    let owner = ctx.role(r.owner);
    let mut e = Entry::new(
        "PROCEDURAL LANGUAGE",
        Priority::ProcLang,
        Section::PreData,
        r.name.clone(),
    )
    .with_key(id)
    .with_owner(owner.clone())
    .with_defn(create)
    .with_drop(drop);
    let q = quote::ident(&r.name);
    if let Some(text) = ctx.comment(catalog_oid::PG_LANGUAGE, r.oid, 0) {
        e.attached.push(comment::comment_entry(&e, "LANGUAGE", &q, &q, text));
    }
    if let Some(l) = seclabel::seclabel_entry(&e, "LANGUAGE", &q, &q, &ctx.labels(catalog_oid::PG_LANGUAGE, r.oid)) {
        e.attached.push(l);
    }
    if r.trusted
        && let Some((cur, base)) = ctx.acl_lists(catalog_oid::PG_LANGUAGE, r.oid, 0, r.acl.as_deref(), &r.acldefault)
        && let Some(a) = acl_entry(&e, AclKind::Language, "LANGUAGE", &q, &q, None, &owner, &cur, &base)
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
