//! Enum, composite and range types and domains (pg_dump.c `getTypes`, `dumpEnumType`,
//! `dumpCompositeType`, `dumpRangeType`, `dumpDomain`, `dumpDomainConstraint`). Base and
//! shell types are not covered. Array types, table row types and multiranges are never
//! dumped on their own: the type that owns them claims them.

use std::collections::HashMap;

use crate::catalog::Ctx;
use crate::ddl::acl::{AclKind, acl_entry};
use crate::ddl::types::{self, Attribute, Domain, DomainConstraint, Range};
use crate::ddl::{comment, quote};
use crate::error::Result;
use crate::model::{CatalogId, Entry, Part, PartKind, Priority, Render, Section, catalog_oid};

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

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    let mut list = Vec::new();
    for r in ctx
        .db
        .query(
            "SELECT t.oid, t.typname, t.typnamespace, t.typowner, t.typtype, t.typrelid, t.typarray, \
             t.typacl::text, pg_catalog.acldefault('T', t.typowner)::text \
             FROM pg_catalog.pg_type t LEFT JOIN pg_catalog.pg_class c ON c.oid = t.typrelid \
             WHERE t.typtype IN ('e', 'r', 'd') OR (t.typtype = 'c' AND c.relkind = 'c') \
             ORDER BY t.oid",
        )
        .await?
    {
        let t = TypeRow {
            oid: r.oid(0)?,
            name: r.text(1)?,
            nsp: r.oid(2)?,
            owner: ctx.role(r.oid(3)?),
            typtype: r.char(4)?,
            relid: r.oid(5)?,
            array: r.oid(6)?,
            acl: r.opt_text(7)?,
            acldefault: r.text(8)?,
        };
        if ctx.schema_dumped(t.nsp) && !ctx.is_extension_member(CatalogId::new(catalog_oid::PG_TYPE, t.oid)) {
            list.push(t);
        }
    }
    if list.is_empty() {
        return Ok(());
    }

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
             CASE WHEN NOT opc.opcdefault THEN pg_catalog.quote_ident(opn.nspname) || '.' || \
                  pg_catalog.quote_ident(opc.opcname) END, \
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
        let range = Range {
            subtype: r.text(1)?,
            multirange: r.opt_text(3)?,
            opclass: r.opt_text(4)?,
            collation: qualified_collation(r.opt_text(5)?, r.opt_text(6)?),
            canonical: r.opt_text(7)?,
            subtype_diff: r.opt_text(8)?,
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
            .with_drop(format!("DROP {desc} {qualified};\n"));
        e.claims = claims;
        e.render = render;
        if let Some(text) = ctx.comment(catalog_oid::PG_TYPE, t.oid, 0) {
            let c = comment::comment_entry(&e, desc, &qualified, &qname, text);
            e.attached.push(c);
        }
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
        e.parts = parts;
        ctx.push(e);
        for ce in separate {
            ctx.push(ce);
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
