//! Operator classes and families (pg_dump.c `getOpclasses`, `getOpfamilies`, `dumpOpclass`,
//! `dumpOpfamily`). A member (`pg_amop` / `pg_amproc` row) is printed by whoever owns it in
//! `pg_depend`: the class that created it, or — for "loose" members added with ALTER
//! OPERATOR FAMILY — the family. Members are not objects of their own: as in pg_dump's
//! `getDependencies`, their dependencies (on operators, functions, types, other families)
//! count as the family's.

use std::collections::HashMap;

use crate::catalog::Ctx;
use crate::catalog::dumpable::{self, Dump};
use crate::ddl::opclass::{self, Member, OpClass, OpFamily};
use crate::ddl::{comment, quote};
use crate::error::Result;
use crate::model::depend::DependRow;
use crate::model::{CatalogId, Entry, Priority, Section, catalog_oid};

pub(crate) struct ClassRow {
    pub oid: u32,
    pub nsp: u32,
    pub owner: u32,
    pub class: OpClass,
}

pub(crate) struct FamilyRow {
    pub oid: u32,
    pub nsp: u32,
    pub owner: u32,
    pub family: OpFamily,
}

/// The operators and functions queries of [`members`].
fn members_sql(owner_catalog: &str, same_family: &str) -> [String; 2] {
    let ops = format!(
        "SELECT d.refobjid, ao.amopstrategy, ao.amopopr::pg_catalog.regoperator::text, n.nspname, f.opfname \
         FROM pg_catalog.pg_amop ao \
         JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_amop'::pg_catalog.regclass AND d.objid = ao.oid \
         LEFT JOIN pg_catalog.pg_opfamily f ON f.oid = ao.amopsortfamily \
         LEFT JOIN pg_catalog.pg_namespace n ON n.oid = f.opfnamespace \
         WHERE d.refclassid = '{owner_catalog}'::pg_catalog.regclass AND d.refobjid >= 16384 \
         AND ao.amopfamily = {same_family} \
         ORDER BY d.refobjid, ao.amopstrategy, ao.oid"
    );
    let procs = format!(
        "SELECT d.refobjid, ap.amprocnum, ap.amproclefttype::pg_catalog.regtype::text, \
         ap.amprocrighttype::pg_catalog.regtype::text, ap.amproc::pg_catalog.regprocedure::text \
         FROM pg_catalog.pg_amproc ap \
         JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_amproc'::pg_catalog.regclass AND d.objid = ap.oid \
         WHERE d.refclassid = '{owner_catalog}'::pg_catalog.regclass AND d.refobjid >= 16384 \
         ORDER BY d.refobjid, ap.amprocnum, ap.oid"
    );
    [ops, procs]
}

/// The owners [`fetch`] reads members of: operator classes, then families.
const CLASS_OWNER: (&str, &str) = (
    "pg_catalog.pg_opclass",
    "(SELECT c.opcfamily FROM pg_catalog.pg_opclass c WHERE c.oid = d.refobjid)",
);
const FAMILY_OWNER: (&str, &str) = ("pg_catalog.pg_opfamily", "d.refobjid");

/// Every query of this reader, in the order it runs them (also run ahead by a catalog helper).
pub(crate) fn queries() -> Vec<String> {
    let mut q = Vec::new();
    q.extend(members_sql(CLASS_OWNER.0, CLASS_OWNER.1));
    q.extend(members_sql(FAMILY_OWNER.0, FAMILY_OWNER.1));
    q.extend([CLASSES_SQL.to_string(), FAMILIES_SQL.to_string()]);
    q.extend(member_dependencies_sql());
    q
}

/// Members grouped by owner (`pg_depend.refobjid` of the class or family).
async fn members(ctx: &Ctx<'_>, owner_catalog: &str, same_family: &str) -> Result<HashMap<u32, Vec<Member>>> {
    let mut out: HashMap<u32, Vec<Member>> = HashMap::new();
    let [ops, procs] = members_sql(owner_catalog, same_family);
    for r in ctx.query(&ops).await? {
        let order_by = match (r.opt_text(3)?, r.opt_text(4)?) {
            (Some(n), Some(f)) => Some(quote::qualified(&n, &f)),
            _ => None,
        };
        out.entry(r.oid(0)?).or_default().push(Member::Operator {
            strategy: r.int(1)?,
            operator: r.text(2)?,
            order_by,
        });
    }
    for r in ctx.query(&procs).await? {
        let types = match (r.opt_text(2)?, r.opt_text(3)?) {
            (Some(l), Some(rt)) if !l.is_empty() && !rt.is_empty() => Some((l, rt)),
            _ => None,
        };
        out.entry(r.oid(0)?).or_default().push(Member::Function {
            number: r.int(1)?,
            types,
            function: r.text(4)?,
        });
    }
    Ok(out)
}

const CLASSES_SQL: &str = "SELECT c.oid, c.opcname, c.opcnamespace, c.opcowner, c.opcdefault, \
             c.opcintype::pg_catalog.regtype::text, \
             CASE WHEN c.opckeytype <> 0 THEN c.opckeytype::pg_catalog.regtype::text END, \
             a.amname, fn.nspname, f.opfname \
             FROM pg_catalog.pg_opclass c JOIN pg_catalog.pg_am a ON a.oid = c.opcmethod \
             JOIN pg_catalog.pg_opfamily f ON f.oid = c.opcfamily \
             JOIN pg_catalog.pg_namespace fn ON fn.oid = f.opfnamespace \
             WHERE c.oid >= 16384 ORDER BY c.oid";

const FAMILIES_SQL: &str = "SELECT f.oid, f.opfname, f.opfnamespace, f.opfowner, a.amname \
             FROM pg_catalog.pg_opfamily f JOIN pg_catalog.pg_am a ON a.oid = f.opfmethod \
             WHERE f.oid >= 16384 ORDER BY f.oid";

pub(crate) async fn fetch(ctx: &Ctx<'_>) -> Result<(Vec<ClassRow>, Vec<FamilyRow>)> {
    let mut class_members = members(ctx, CLASS_OWNER.0, CLASS_OWNER.1).await?;
    let mut family_members = members(ctx, FAMILY_OWNER.0, FAMILY_OWNER.1).await?;
    let mut classes = Vec::new();
    for r in ctx.query(CLASSES_SQL).await? {
        let oid = r.oid(0)?;
        let nsp = r.oid(2)?;
        classes.push(ClassRow {
            oid,
            nsp,
            owner: r.oid(3)?,
            class: OpClass {
                schema: ctx.namespace(nsp).map(|n| n.name.clone()).unwrap_or_default(),
                name: r.text(1)?,
                default: r.bool(4)?,
                for_type: r.text(5)?,
                storage: r.opt_text(6)?,
                method: r.text(7)?,
                family: quote::qualified(&r.text(8)?, &r.text(9)?),
                members: sorted(class_members.remove(&oid).unwrap_or_default()),
            },
        });
    }
    let mut families = Vec::new();
    for r in ctx.query(FAMILIES_SQL).await? {
        let oid = r.oid(0)?;
        let nsp = r.oid(2)?;
        families.push(FamilyRow {
            oid,
            nsp,
            owner: r.oid(3)?,
            family: OpFamily {
                schema: ctx.namespace(nsp).map(|n| n.name.clone()).unwrap_or_default(),
                name: r.text(1)?,
                method: r.text(4)?,
                members: sorted(family_members.remove(&oid).unwrap_or_default()),
            },
        });
    }
    Ok((classes, families))
}

/// Operators first, then functions (each list already in number order).
fn sorted(members: Vec<Member>) -> Vec<Member> {
    let (ops, procs): (Vec<Member>, Vec<Member>) =
        members.into_iter().partition(|m| matches!(m, Member::Operator { .. }));
    ops.into_iter().chain(procs).collect()
}

/// The queries of [`member_dependencies`].
fn member_dependencies_sql() -> [String; 2] {
    [("pg_amop", "amopfamily"), ("pg_amproc", "amprocfamily")].map(|(catalog, family_col)| {
        format!(
            "SELECT m.{family_col}, d.refclassid, d.refobjid, d.deptype \
             FROM pg_catalog.pg_depend d JOIN pg_catalog.{catalog} m \
               ON d.classid = 'pg_catalog.{catalog}'::pg_catalog.regclass AND d.objid = m.oid \
             WHERE d.deptype NOT IN ('p', 'e', 'i') AND m.{family_col} >= 16384 \
             AND NOT (d.refclassid = 'pg_catalog.pg_opfamily'::pg_catalog.regclass AND m.{family_col} = d.refobjid)"
        )
    })
}

/// pg_depend rows of operator-family members, re-attributed to the family (pg_dump's
/// `getDependencies`): internal ones (pointing at the owning class) and a loose member's
/// own link to its family are left out.
async fn member_dependencies(ctx: &Ctx<'_>) -> Result<Vec<DependRow>> {
    let mut rows = Vec::new();
    for sql in member_dependencies_sql() {
        for r in ctx.query(&sql).await? {
            rows.push(DependRow {
                from: CatalogId::new(catalog_oid::PG_OPFAMILY, r.oid(0)?),
                to: CatalogId::new(r.oid(1)?, r.oid(2)?),
                deptype: r.char(3)?,
            });
        }
    }
    Ok(rows)
}

pub(crate) fn build_class(ctx: &Ctx<'_>, r: &ClassRow) -> Option<(Entry, Dump)> {
    let id = CatalogId::new(catalog_oid::PG_OPCLASS, r.oid);
    let dump = dumpable::in_schema(ctx, r.nsp, id);
    if dump == Dump::Nothing {
        return None;
    }
    let c = &r.class;
    let (create, drop) = opclass::opclass_sql(c);
    let mut e = Entry::new("OPERATOR CLASS", Priority::OpFamily, Section::PreData, c.name.clone())
        .with_key(id)
        .with_schema(c.schema.clone())
        .with_owner(ctx.role(r.owner))
        .with_defn(create)
        .with_drop(drop);
    // pg_dump_sort.c: classes before families of the same name, then by access method.
    e.sort_extra = vec!["0".into(), c.method.clone()];
    if let Some(text) = ctx.comment(catalog_oid::PG_OPCLASS, r.oid, 0) {
        let nu = opclass::name_using(&c.name, &c.method);
        let name_sql = format!("{}.{nu}", quote::ident(&c.schema));
        e.attached
            .push(comment::comment_entry(&e, "OPERATOR CLASS", &name_sql, &nu, text));
    }
    Some((e, dump))
}

pub(crate) fn build_family(ctx: &Ctx<'_>, r: &FamilyRow) -> Option<(Entry, Dump)> {
    let id = CatalogId::new(catalog_oid::PG_OPFAMILY, r.oid);
    let dump = dumpable::in_schema(ctx, r.nsp, id);
    if dump == Dump::Nothing {
        return None;
    }
    let f = &r.family;
    let (create, drop) = opclass::opfamily_sql(f);
    let mut e = Entry::new("OPERATOR FAMILY", Priority::OpFamily, Section::PreData, f.name.clone())
        .with_key(id)
        .with_schema(f.schema.clone())
        .with_owner(ctx.role(r.owner))
        .with_defn(create)
        .with_drop(drop);
    e.sort_extra = vec!["1".into(), f.method.clone()];
    if let Some(text) = ctx.comment(catalog_oid::PG_OPFAMILY, r.oid, 0) {
        let nu = opclass::name_using(&f.name, &f.method);
        let name_sql = format!("{}.{nu}", quote::ident(&f.schema));
        e.attached
            .push(comment::comment_entry(&e, "OPERATOR FAMILY", &name_sql, &nu, text));
    }
    Some((e, dump))
}

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    let (classes, families) = fetch(ctx).await?;
    for row in member_dependencies(ctx).await? {
        ctx.depend.add(row);
    }
    for r in &classes {
        if let Some((e, dump)) = build_class(ctx, r) {
            dumpable::push(ctx, e, dump);
        }
    }
    for r in &families {
        if let Some((e, dump)) = build_family(ctx, r) {
            dumpable::push(ctx, e, dump);
        }
    }
    Ok(())
}
