//! Which parts of an object a dump includes (pg_dump.c `selectDumpableObject`,
//! `selectDumpableType`, `selectDumpableCast`, `selectDumpableProcLang`,
//! `selectDumpableAccessMethod`, `checkExtensionMembership`), and how an object dumped for
//! its privileges only enters the TOC.

use crate::catalog::Ctx;
use crate::model::{CatalogId, Dep, Entry, catalog_oid};

/// Objects below this OID come from initdb (pg_dump's `FirstNormalObjectId`).
pub const FIRST_NORMAL_OID: u32 = 16384;

/// How much of an object is dumped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dump {
    Nothing,
    /// Only the delta of its privileges against `pg_init_privs` (objects in `pg_catalog`,
    /// members of a dumped or built-in extension, built-in procedural languages).
    AclOnly,
    /// Definition, comment and privileges.
    Full,
}

/// An object that lives in a schema. Extension membership overrides everything: members are
/// created by `CREATE EXTENSION`, only their changed privileges are dumped (for built-in
/// extensions always, for others when the extension itself is dumped). `pg_catalog` objects
/// get their changed privileges dumped when the dump is not narrowed to some schemas or
/// tables.
pub fn in_schema(ctx: &Ctx<'_>, nsp: u32, id: CatalogId) -> Dump {
    if let Some(ext) = ctx.ext_members.get(&id) {
        return member_of(ctx, *ext);
    }
    if ctx.schema_dumped(nsp) {
        Dump::Full
    } else if ctx.include_everything() && ctx.namespace(nsp).is_some_and(|n| n.name == "pg_catalog") {
        Dump::AclOnly
    } else {
        Dump::Nothing
    }
}

/// An object without a schema (cast, access method, transform, event trigger, procedural
/// language): dumped only when "everything" is; initdb's own objects are skipped, except
/// that languages keep their privileges (`acl_for_builtin`).
pub fn schemaless(ctx: &Ctx<'_>, id: CatalogId, acl_for_builtin: bool) -> Dump {
    if let Some(ext) = ctx.ext_members.get(&id) {
        return member_of(ctx, *ext);
    }
    if !ctx.include_everything() {
        Dump::Nothing
    } else if id.oid < FIRST_NORMAL_OID {
        if acl_for_builtin { Dump::AclOnly } else { Dump::Nothing }
    } else {
        Dump::Full
    }
}

fn member_of(ctx: &Ctx<'_>, ext: u32) -> Dump {
    if ext < FIRST_NORMAL_OID || ctx.include_everything() {
        Dump::AclOnly
    } else {
        Dump::Nothing
    }
}

/// Adds `e` (built with its comment and ACL attached) as `dump` says. For an object dumped
/// for its privileges only, pg_dump still sorts the object itself and emits just its ACL
/// entry in the object's place: the ACL entry takes the object's sort keys (it already
/// carries them) and, for an extension member, waits for the extension.
pub fn push(ctx: &mut Ctx<'_>, e: Entry, dump: Dump) {
    match dump {
        Dump::Nothing => {}
        Dump::Full => {
            ctx.push(e);
        }
        Dump::AclOnly => {
            let ext = e.key.and_then(|k| ctx.ext_members.get(&k).copied());
            for mut a in e.attached.into_iter().filter(|a| a.desc == "ACL") {
                a.deps.clear();
                if let Some(ext) = ext {
                    a.deps
                        .push(Dep::Catalog(CatalogId::new(catalog_oid::PG_EXTENSION, ext)));
                }
                ctx.push(a);
            }
        }
    }
}
