//! Types and domains (pg_dump.c `getTypes`, `dumpBaseType`, `dumpShellType`,
//! `dumpUndefinedType`, `dumpEnumType`, `dumpCompositeType`, `dumpRangeType`, `dumpDomain`,
//! `dumpDomainConstraint`). Array types, table row types and multiranges are never dumped on
//! their own: the type that owns them claims them. Types in `pg_catalog` and extension
//! members are dumped for their changed privileges only.
//!
//! A base type and its I/O functions depend on each other (so does a range type and its
//! canonical function). pg_dump's sort breaks that loop (pg_dump_sort.c
//! `repairTypeFuncLoop`) by making each such function depend on a `SHELL TYPE` entry
//! (`CREATE TYPE s.t;`) instead of on the type; the outcome never varies, so the reader builds
//! it directly.

use std::collections::HashMap;

use crate::catalog::Ctx;
use crate::catalog::dumpable::{self, Dump};
use crate::ddl::acl::{AclKind, acl_entry};
use crate::ddl::types::{self, Attribute, BaseType, Domain, DomainConstraint, Range, TypeDefault};
use crate::ddl::{comment, quote, seclabel};
use crate::error::Result;
use crate::model::{CatalogId, Dep, Entry, Part, PartKind, Priority, Render, Section, catalog_oid};

struct TypeRow {
    oid: u32,
    name: String,
    nsp: u32,
    owner: String,
    typtype: u8,
    relid: u32,
    array: u32,
    acl: Option<String>,
    acldefault: String,
    dump: Dump,
}

struct ConRow {
    oid: u32,
    name: String,
    contype: u8,
    def: String,
    validated: bool,
}

fn qualified_collation(nsp: Option<String>, name: Option<String>) -> Option<String> {
    Some(quote::qualified(&nsp?, &name?))
}

/// The types query (also run ahead by a catalog helper).
pub(crate) const LIST_SQL: &str = "SELECT t.oid, t.typname, t.typnamespace, t.typowner, t.typtype, t.typrelid, t.typarray, \
             t.typacl::text, pg_catalog.acldefault('T', t.typowner)::text \
             FROM pg_catalog.pg_type t LEFT JOIN pg_catalog.pg_class c ON c.oid = t.typrelid \
             WHERE (t.typtype IN ('e', 'r', 'd') OR (t.typtype = 'c' AND c.relkind = 'c') \
                OR (t.typtype = 'p' AND NOT t.typisdefined) \
                OR (t.typtype = 'b' AND NOT (t.typelem <> 0 AND t.typname ~ '^_' AND \
                    (SELECT e.typarray FROM pg_catalog.pg_type e WHERE e.oid = t.typelem) = t.oid))) \
             AND (t.typnamespace <> 'pg_catalog'::pg_catalog.regnamespace OR t.typacl IS NOT NULL) \
             ORDER BY t.oid";

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    let mut list = Vec::new();
    // Auto-generated array types are not types of their own (pg_dump's `isArray` test);
    // `pg_catalog` types matter only for a changed ACL.
    for r in ctx.query(LIST_SQL).await? {
        let (oid, nsp) = (r.oid(0)?, r.oid(2)?);
        let dump = dumpable::in_schema(ctx, nsp, CatalogId::new(catalog_oid::PG_TYPE, oid));
        if dump == Dump::Nothing {
            continue;
        }
        list.push(TypeRow {
            oid,
            name: r.text(1)?,
            nsp,
            owner: ctx.role(r.oid(3)?),
            typtype: r.char(4)?,
            relid: r.oid(5)?,
            array: r.oid(6)?,
            acl: r.opt_text(7)?,
            acldefault: r.text(8)?,
            dump,
        });
    }
    if list.is_empty() {
        return Ok(());
    }

    let mut bases = base_types(ctx).await?;
    let io_functions = io_function_loops(ctx).await?;
    // Entries of the functions already read, to point them at shell types.
    let function_entries: HashMap<CatalogId, usize> = ctx
        .entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.emit && (e.desc == "FUNCTION" || e.desc == "PROCEDURE"))
        .filter_map(|(i, e)| e.key.map(|k| (k, i)))
        .collect();

    let mut labels: HashMap<u32, Vec<String>> = HashMap::new();
    for r in ctx
        .db
        .query("SELECT enumtypid, enumlabel FROM pg_catalog.pg_enum ORDER BY enumtypid, enumsortorder")
        .await?
    {
        labels.entry(r.oid(0)?).or_default().push(r.text(1)?);
    }

    let mut attrs: HashMap<u32, Vec<(i64, Attribute)>> = HashMap::new();
    for r in ctx
        .db
        .query(
            "SELECT a.attrelid, a.attnum, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), \
             CASE WHEN a.attcollation <> t.typcollation THEN cn.nspname END, \
             CASE WHEN a.attcollation <> t.typcollation THEN co.collname END \
             FROM pg_catalog.pg_attribute a \
             JOIN pg_catalog.pg_class c ON c.oid = a.attrelid AND c.relkind = 'c' \
             JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
             LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation \
             LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace \
             WHERE a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attrelid, a.attnum",
        )
        .await?
    {
        let attr = Attribute {
            name: r.text(2)?,
            type_sql: r.text(3)?,
            collation: qualified_collation(r.opt_text(4)?, r.opt_text(5)?),
        };
        attrs.entry(r.oid(0)?).or_default().push((r.int(1)?, attr));
    }

    let multirange = if ctx.version.at_least(14) {
        "r.rngmultitypid, pg_catalog.format_type(r.rngmultitypid, NULL)"
    } else {
        "0::pg_catalog.oid, NULL::text"
    };
    let mut ranges: HashMap<u32, (Range, u32)> = HashMap::new();
    for r in ctx
        .db
        .query(&format!(
            "SELECT r.rngtypid, pg_catalog.format_type(r.rngsubtype, NULL), {multirange}, \
             opn.nspname, opc.opcname, opc.opcdefault, \
             CASE WHEN r.rngcollation <> 0 AND r.rngcollation <> st.typcollation THEN cn.nspname END, \
             CASE WHEN r.rngcollation <> 0 AND r.rngcollation <> st.typcollation THEN co.collname END, \
             CASE WHEN r.rngcanonical <> 0 THEN r.rngcanonical::pg_catalog.regproc::text END, \
             CASE WHEN r.rngsubdiff <> 0 THEN r.rngsubdiff::pg_catalog.regproc::text END \
             FROM pg_catalog.pg_range r \
             JOIN pg_catalog.pg_type st ON st.oid = r.rngsubtype \
             JOIN pg_catalog.pg_opclass opc ON opc.oid = r.rngsubopc \
             JOIN pg_catalog.pg_namespace opn ON opn.oid = opc.opcnamespace \
             LEFT JOIN pg_catalog.pg_collation co ON co.oid = r.rngcollation \
             LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace"
        ))
        .await?
    {
        // subtype_opclass only when it is not the subtype's default class.
        let opclass = if r.bool(6)? {
            None
        } else {
            Some(quote::qualified(&r.text(4)?, &r.text(5)?))
        };
        let range = Range {
            subtype: r.text(1)?,
            multirange: r.opt_text(3)?,
            opclass,
            collation: qualified_collation(r.opt_text(7)?, r.opt_text(8)?),
            canonical: r.opt_text(9)?,
            subtype_diff: r.opt_text(10)?,
        };
        ranges.insert(r.oid(0)?, (range, r.oid(2)?));
    }
    // A multirange's own array type, so it can be claimed with the multirange.
    let mut arrays: HashMap<u32, u32> = HashMap::new();
    for r in ctx
        .db
        .query("SELECT oid, typarray FROM pg_catalog.pg_type WHERE typtype = 'm'")
        .await?
    {
        arrays.insert(r.oid(0)?, r.oid(1)?);
    }

    // Range and multirange constructors: created with their type, so the type stands for
    // them.
    let mut internal_funcs: HashMap<u32, Vec<u32>> = HashMap::new();
    for r in ctx
        .db
        .query(
            "SELECT refobjid, objid FROM pg_catalog.pg_depend \
             WHERE classid = 'pg_catalog.pg_proc'::pg_catalog.regclass \
             AND refclassid = 'pg_catalog.pg_type'::pg_catalog.regclass AND deptype = 'i'",
        )
        .await?
    {
        internal_funcs.entry(r.oid(0)?).or_default().push(r.oid(1)?);
    }

    let mut domains: HashMap<u32, Domain> = HashMap::new();
    for r in ctx
        .db
        .query(
            "SELECT t.oid, pg_catalog.format_type(t.typbasetype, t.typtypmod), t.typnotnull, \
             COALESCE(pg_catalog.pg_get_expr(t.typdefaultbin, 0), t.typdefault), \
             CASE WHEN t.typcollation <> bt.typcollation THEN cn.nspname END, \
             CASE WHEN t.typcollation <> bt.typcollation THEN co.collname END \
             FROM pg_catalog.pg_type t JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype \
             LEFT JOIN pg_catalog.pg_collation co ON co.oid = t.typcollation \
             LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace \
             WHERE t.typtype = 'd'",
        )
        .await?
    {
        let d = Domain {
            qualified: String::new(),
            base: r.text(1)?,
            collation: qualified_collation(r.opt_text(4)?, r.opt_text(5)?),
            default: r.opt_text(3)?,
            // 17+ keeps domain NOT NULL as a pg_constraint row, handled with the others.
            not_null: r.bool(2)? && !ctx.version.at_least(17),
            constraints: Vec::new(),
        };
        domains.insert(r.oid(0)?, d);
    }
    let mut cons: HashMap<u32, Vec<ConRow>> = HashMap::new();
    for r in ctx
        .db
        .query(
            "SELECT oid, contypid, conname, contype, pg_catalog.pg_get_constraintdef(oid), convalidated \
             FROM pg_catalog.pg_constraint WHERE contypid <> 0 ORDER BY contypid, conname",
        )
        .await?
    {
        let c = ConRow {
            oid: r.oid(0)?,
            name: r.text(2)?,
            contype: r.char(3)?,
            def: r.text(4)?,
            validated: r.bool(5)?,
        };
        cons.entry(r.oid(1)?).or_default().push(c);
    }

    for t in list {
        let schema = ctx.namespace(t.nsp).map(|n| n.name.clone()).unwrap_or_default();
        let qualified = quote::qualified(&schema, &t.name);
        let qname = quote::ident(&t.name);
        let mut claims = Vec::new();
        if t.array != 0 {
            claims.push(CatalogId::new(catalog_oid::PG_TYPE, t.array));
        }
        let mut later = Vec::new();
        let mut column_comments = Vec::new();
        // A domain's validated CHECKs are parts: inline unless a loop splits them out.
        let mut parts: Vec<Part> = Vec::new();
        let mut render = None;
        let (desc, defn) = match t.typtype {
            b'e' => (
                "TYPE",
                types::enum_sql(&qualified, labels.get(&t.oid).map(Vec::as_slice).unwrap_or(&[])),
            ),
            b'c' => {
                claims.push(CatalogId::class(t.relid));
                let a = attrs.remove(&t.relid).unwrap_or_default();
                for (num, attr) in &a {
                    if let Some(text) = ctx.comment(catalog_oid::PG_CLASS, t.relid, *num as i32) {
                        column_comments.push((attr.name.clone(), text.to_string()));
                    }
                }
                let a: Vec<Attribute> = a.into_iter().map(|(_, x)| x).collect();
                ("TYPE", types::composite_sql(&qualified, &a))
            }
            b'r' => {
                let Some((range, multi)) = ranges.remove(&t.oid) else {
                    continue;
                };
                for f in internal_funcs
                    .get(&t.oid)
                    .into_iter()
                    .chain(internal_funcs.get(&multi))
                    .flatten()
                {
                    claims.push(CatalogId::new(catalog_oid::PG_PROC, *f));
                }
                if multi != 0 {
                    claims.push(CatalogId::new(catalog_oid::PG_TYPE, multi));
                    if let Some(&arr) = arrays.get(&multi)
                        && arr != 0
                    {
                        claims.push(CatalogId::new(catalog_oid::PG_TYPE, arr));
                    }
                }
                ("TYPE", types::range_sql(&qualified, &range))
            }
            // Built-in base types come only for their ACL: no definition needed.
            b'b' if t.dump == Dump::AclOnly => ("TYPE", String::new()),
            b'b' => {
                let Some(mut b) = bases.remove(&t.oid) else { continue };
                b.qualified = qualified.clone();
                ("TYPE", types::base_sql(&b))
            }
            b'p' => ("TYPE", types::shell_sql(&qualified)),
            _ => {
                let Some(mut d) = domains.remove(&t.oid) else { continue };
                d.qualified = qualified.clone();
                let default_nn = format!("{}_not_null", t.name);
                for c in cons.remove(&t.oid).unwrap_or_default() {
                    if c.contype == b'n' && c.name == default_nn {
                        d.not_null = true;
                        claims.push(CatalogId::new(catalog_oid::PG_CONSTRAINT, c.oid));
                    } else if c.validated && c.contype == b'c' {
                        d.constraints.push(DomainConstraint {
                            name: c.name.clone(),
                            def: c.def.clone(),
                        });
                        later.push((c, true));
                    } else if c.validated {
                        claims.push(CatalogId::new(catalog_oid::PG_CONSTRAINT, c.oid));
                        d.constraints.push(DomainConstraint {
                            name: c.name.clone(),
                            def: c.def.clone(),
                        });
                        later.push((c, true));
                    } else {
                        later.push((c, false));
                    }
                }
                let split_names: Vec<(CatalogId, String)> = later
                    .iter()
                    .filter(|(c, inline)| *inline && c.contype == b'c')
                    .map(|(c, _)| (CatalogId::new(catalog_oid::PG_CONSTRAINT, c.oid), c.name.clone()))
                    .collect();
                let sql = types::domain_sql(&d);
                render = Some(Render::new(move |split| {
                    let mut d = d.clone();
                    d.constraints
                        .retain(|dc| !split_names.iter().any(|(id, n)| *n == dc.name && split.contains(id)));
                    types::domain_sql(&d)
                }));
                ("DOMAIN", sql)
            }
        };
        let mut e = Entry::new(desc, Priority::Type, Section::PreData, t.name.clone())
            .with_key(CatalogId::new(catalog_oid::PG_TYPE, t.oid))
            .with_schema(schema.clone())
            .with_owner(t.owner.clone())
            .with_defn(defn)
            .with_drop(if t.typtype == b'b' {
                // The type and its I/O functions can only go together.
                format!("DROP TYPE {qualified} CASCADE;\n")
            } else {
                format!("DROP {desc} {qualified};\n")
            });
        e.claims = claims;
        e.render = render;
        if let Some(text) = ctx.comment(catalog_oid::PG_TYPE, t.oid, 0) {
            let c = comment::comment_entry(&e, desc, &qualified, &qname, text);
            e.attached.push(c);
        }
        // Only the type's own labels: pg_dump has no place for labels on a composite type's
        // columns (they are on its pg_class row) and leaves them out.
        let labels = ctx.labels(catalog_oid::PG_TYPE, t.oid);
        if let Some(l) = seclabel::seclabel_entry(&e, desc, &qualified, &qname, &labels) {
            e.attached.push(l);
        }
        if let Some((cur, base)) = ctx.acl_lists(catalog_oid::PG_TYPE, t.oid, 0, t.acl.as_deref(), &t.acldefault)
            && let Some(a) = acl_entry(
                &e,
                AclKind::Type,
                "TYPE",
                &qualified,
                &qname,
                None,
                &t.owner,
                &cur,
                &base,
            )
        {
            e.attached.push(a);
        }
        // A composite type's column comments come after its ACL (dumpCompositeType).
        for (col, text) in column_comments {
            let qc = quote::ident(&col);
            let c = comment::comment_entry(
                &e,
                "COLUMN",
                &format!("{qualified}.{qc}"),
                &format!("{qname}.{qc}"),
                &text,
            );
            e.attached.push(c);
        }
        // Comments on inline domain constraints follow the domain.
        let mut separate = Vec::new();
        for (c, inline) in later {
            let qc = quote::ident(&c.name);
            let text = ctx.comment(catalog_oid::PG_CONSTRAINT, c.oid, 0).map(str::to_string);
            let on = |parent: &Entry| {
                text.as_deref().map(|text| {
                    comment::comment_entry(
                        parent,
                        "CONSTRAINT",
                        &format!("{qc} ON DOMAIN {qualified}"),
                        &format!("{qc} ON DOMAIN {qname}"),
                        text,
                    )
                })
            };
            if inline {
                if let Some(x) = on(&e) {
                    e.attached.push(x);
                }
                if c.contype == b'c' {
                    // What it becomes when a loop splits it out (dumpConstraint).
                    let mut ce = domain_check_entry(&qualified, &schema, &t, &c);
                    if let Some(x) = on(&ce) {
                        ce.attached.push(x);
                    }
                    parts.push(
                        Part::new(
                            PartKind::DomainConstraint,
                            CatalogId::new(catalog_oid::PG_CONSTRAINT, c.oid),
                            Priority::Constraint,
                            c.name.clone(),
                        )
                        .with_sort_extra(domain_constraint_key(&t.name))
                        .with_separate(ce),
                    );
                }
            } else {
                // NOT VALID checks are added after the data (`dumpDomainConstraint`).
                let mut ce = domain_check_entry(&qualified, &schema, &t, &c);
                if let Some(x) = on(&ce) {
                    ce.attached.push(x);
                }
                separate.push(ce);
            }
        }
        let full = t.dump == Dump::Full;
        // Parts only matter where the definition is written.
        if full {
            e.parts = parts;
        }
        dumpable::push(ctx, e, t.dump);
        if full {
            for ce in separate {
                ctx.push(ce);
            }
        }
        if matches!(t.typtype, b'b' | b'r') {
            let type_id = CatalogId::new(catalog_oid::PG_TYPE, t.oid);
            let mut shell = None;
            for f in io_functions.get(&t.oid).into_iter().flatten() {
                let fid = CatalogId::new(catalog_oid::PG_PROC, *f);
                // The loop is broken whether or not the type is written (pg_dump sorts
                // extension members too); a shell type is written only for a dumped type
                // whose function is dumped.
                ctx.depend.remove(fid, type_id);
                let Some(&fi) = function_entries.get(&fid).filter(|_| full) else {
                    continue;
                };
                let si = *shell.get_or_insert_with(|| {
                    let mut s = Entry::new("SHELL TYPE", Priority::Type, Section::PreData, t.name.clone())
                        .with_schema(schema.clone())
                        .with_owner(t.owner.clone())
                        .with_defn(types::shell_sql(&qualified));
                    // pg_dump_sort.c orders a shell type after a type of the same name.
                    s.sort_extra = vec!["1".into()];
                    ctx.push(s)
                });
                ctx.entries[fi].deps.push(Dep::Entry(si));
            }
        }
    }
    Ok(())
}

/// pg_dump sorts domain constraints before table constraints, then by domain name
/// (`DOTypeNameCompare`).
fn domain_constraint_key(domain: &str) -> Vec<String> {
    vec!["0".into(), domain.to_string()]
}

/// A domain constraint as its own post-data entry (`dumpConstraint`): NOT VALID ones always,
/// validated ones when a dependency loop splits them out.
fn domain_check_entry(qualified: &str, schema: &str, t: &TypeRow, c: &ConRow) -> Entry {
    let qc = quote::ident(&c.name);
    let mut ce = Entry::new(
        "CHECK CONSTRAINT",
        Priority::Constraint,
        Section::PostData,
        c.name.clone(),
    )
    .with_key(CatalogId::new(catalog_oid::PG_CONSTRAINT, c.oid))
    .with_schema(schema.to_string())
    .with_tag(format!("{} {}", t.name, c.name))
    .with_owner(t.owner.clone())
    .with_defn(format!(
        "ALTER DOMAIN {qualified}\n    ADD CONSTRAINT {qc} {};\n",
        c.def
    ))
    .with_drop(format!("ALTER DOMAIN {qualified} DROP CONSTRAINT {qc};\n"));
    ce.sort_extra = domain_constraint_key(&t.name);
    ce
}

/// `pg_type` details of every user base type (pg_dump's `dumpBaseType` query); the
/// qualified name is filled in by the caller.
async fn base_types(ctx: &Ctx<'_>) -> Result<HashMap<u32, BaseType>> {
    let subscript = if ctx.version.at_least(14) {
        "CASE WHEN t.typsubscript <> 0 THEN t.typsubscript::pg_catalog.regproc::text END"
    } else {
        "NULL::text"
    };
    let proc = |col: &str| format!("CASE WHEN t.{col} <> 0 THEN t.{col}::pg_catalog.regproc::text END");
    let sql = format!(
        "SELECT t.oid, t.typlen, t.typinput::text, t.typoutput::text, {}, {}, {}, {}, {}, {subscript}, \
         t.typcollation <> 0, pg_catalog.pg_get_expr(t.typdefaultbin, 0), t.typdefault, \
         CASE WHEN t.typelem <> 0 THEN pg_catalog.format_type(t.typelem, NULL) END, \
         t.typcategory, t.typispreferred, t.typdelim, t.typbyval, t.typalign, t.typstorage \
         FROM pg_catalog.pg_type t \
         WHERE t.typtype = 'b' AND t.typnamespace <> 'pg_catalog'::pg_catalog.regnamespace",
        proc("typreceive"),
        proc("typsend"),
        proc("typmodin"),
        proc("typmodout"),
        proc("typanalyze"),
    );
    let mut out = HashMap::new();
    for r in ctx.db.query(&sql).await? {
        let default = match (r.opt_text(11)?, r.opt_text(12)?) {
            (Some(e), _) => Some(TypeDefault::Expr(e)),
            (None, Some(l)) => Some(TypeDefault::Literal(l)),
            (None, None) => None,
        };
        let b = BaseType {
            qualified: String::new(),
            length: r.int(1)?,
            input: r.text(2)?,
            output: r.text(3)?,
            receive: r.opt_text(4)?,
            send: r.opt_text(5)?,
            typmod_in: r.opt_text(6)?,
            typmod_out: r.opt_text(7)?,
            analyze: r.opt_text(8)?,
            subscript: r.opt_text(9)?,
            collatable: r.bool(10)?,
            default,
            element: r.opt_text(13)?,
            category: r.text(14)?,
            preferred: r.bool(15)?,
            delimiter: r.text(16)?,
            by_value: r.bool(17)?,
            align: r.char(18)? as char,
            storage: r.char(19)? as char,
        };
        out.insert(r.oid(0)?, b);
    }
    Ok(out)
}

/// Type → functions that the type depends on and that depend on the type in turn (a base
/// type's input, output, receive and send functions; a range type's canonical function): the
/// two-object loops pg_dump repairs with a shell type.
async fn io_function_loops(ctx: &Ctx<'_>) -> Result<HashMap<u32, Vec<u32>>> {
    let mut out: HashMap<u32, Vec<u32>> = HashMap::new();
    for r in ctx
        .db
        .query(
            "SELECT DISTINCT d.objid, d.refobjid FROM pg_catalog.pg_depend d \
             JOIN pg_catalog.pg_depend b ON b.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass \
               AND b.objid = d.refobjid AND b.refclassid = 'pg_catalog.pg_type'::pg_catalog.regclass \
               AND b.refobjid = d.objid AND b.deptype NOT IN ('p', 'e') \
             WHERE d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass \
               AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.deptype NOT IN ('p', 'e') \
             ORDER BY 1, 2",
        )
        .await?
    {
        out.entry(r.oid(0)?).or_default().push(r.oid(1)?);
    }
    Ok(out)
}
