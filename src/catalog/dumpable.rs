//! Which parts of an object a dump includes (pg_dump.c `selectDumpableObject`,
//! `selectDumpableType`, `selectDumpableCast`, `selectDumpableProcLang`,
//! `selectDumpableAccessMethod`, `checkExtensionMembership`), and how objects that are
//! sorted but not written take part in the plan.
//!
//! pg_dump sorts every object it read, dumped or not, and writes only the dumped parts. An
//! extension member is never created by the dump, yet it still orders the objects around it:
//! a changed privilege on an extension's function is written where the function sorts, and a
//! cast of the same extension that uses the function pulls the function (and so the ACL
//! entry) ahead of the casts. pgsnap reproduces this with entries that are planned like any
//! other and then dropped from the TOC ([`Entry::emit`] false, [`drop_unwritten`]).

use std::collections::{HashMap, HashSet};

use crate::catalog::Ctx;
use crate::model::{CatalogId, Entry};
use crate::plan::Plan;

/// Objects below this OID come from initdb (pg_dump's `FirstNormalObjectId`).
pub const FIRST_NORMAL_OID: u32 = 16384;

/// How much of an object is dumped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dump {
    Nothing,
    /// Sorted, but only the delta of its privileges against `pg_init_privs` is written
    /// (objects in `pg_catalog`, members of a dumped or built-in extension, built-in
    /// procedural languages).
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

/// Members follow their extension (pg_dump's `checkExtensionMembership`): only their changed
/// privileges, when the extension is dumped (`-e`/`--exclude-extension` decide that).
fn member_of(ctx: &Ctx<'_>, ext: u32) -> Dump {
    if ext < FIRST_NORMAL_OID || ctx.extension_dumped(ext) {
        Dump::AclOnly
    } else {
        Dump::Nothing
    }
}

/// Adds `e` (built with its comment and ACL attached) as `dump` says. An object dumped for its
/// privileges only becomes an unwritten entry carrying just its ACL entry, so both sort where
/// pg_dump sorts the object. A `pg_catalog` object without a changed ACL is left out: initdb's
/// objects have no `pg_depend` rows, so it could not order anything.
pub fn push(ctx: &mut Ctx<'_>, mut e: Entry, dump: Dump) {
    match dump {
        Dump::Nothing => {}
        Dump::Full => {
            ctx.push(e);
        }
        Dump::AclOnly => {
            e.attached.retain(|a| a.desc == "ACL");
            let member = e.key.is_some_and(|k| ctx.ext_members.contains_key(&k));
            if member || !e.attached.is_empty() {
                e.emit = false;
                ctx.push(e);
            }
        }
    }
}

/// Removes the unwritten entries from a plan. What depended on one of them depends on what
/// it depended on instead (pg_dump's `BuildArchiveDependencies` skips non-dumped objects the
/// same way), so `pg_restore -j` still sees, say, an ACL entry wait for its extension.
pub fn drop_unwritten(plan: &mut Plan) {
    let hidden: HashMap<i32, Vec<i32>> = plan
        .entries
        .iter()
        .filter(|p| !p.entry.emit)
        .map(|p| (p.dump_id, p.deps.clone()))
        .collect();
    if hidden.is_empty() {
        return;
    }
    plan.entries.retain(|p| p.entry.emit);
    for p in &mut plan.entries {
        if !p.deps.iter().any(|d| hidden.contains_key(d)) {
            continue;
        }
        let mut out: Vec<i32> = Vec::new();
        let mut seen: HashSet<i32> = HashSet::new();
        let mut stack: Vec<i32> = p.deps.iter().rev().copied().collect();
        while let Some(d) = stack.pop() {
            if !seen.insert(d) {
                continue;
            }
            match hidden.get(&d) {
                Some(next) => stack.extend(next.iter().rev()),
                None => out.push(d),
            }
        }
        // A TABLE DATA entry keeps its table first; everything else is sorted.
        if p.entry.desc != "TABLE DATA" {
            out.sort_unstable();
        }
        p.deps = out;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Priority, Section};
    use crate::plan::Planned;

    fn planned(id: i32, desc: &str, emit: bool, deps: &[i32]) -> Planned {
        let mut entry = Entry::new(desc, Priority::Function, Section::PreData, "x");
        entry.emit = emit;
        Planned {
            dump_id: id,
            entry,
            deps: deps.to_vec(),
        }
    }

    #[test]
    fn unwritten_entries_leave_their_dependencies_behind() {
        let mut plan = Plan {
            entries: vec![
                planned(1, "EXTENSION", true, &[]),
                planned(2, "FUNCTION", false, &[1]),
                planned(3, "ACL", true, &[2]),
                planned(4, "CAST", false, &[2]),
                planned(5, "TABLE", true, &[4, 1]),
            ],
            warnings: vec![],
        };
        drop_unwritten(&mut plan);
        let left: Vec<(i32, Vec<i32>)> = plan.entries.iter().map(|p| (p.dump_id, p.deps.clone())).collect();
        assert_eq!(left, vec![(1, vec![]), (3, vec![1]), (5, vec![1])]);
    }
}
