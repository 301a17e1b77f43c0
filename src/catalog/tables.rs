//! Plain, partitioned, typed and foreign tables (pg_dump.c `getTables`, `getTableAttrs`,
//! `dumpTableSchema`, `dumpAttrDef`, `dumpTableAttach`, `makeTableDataInfo`): TABLE,
//! FOREIGN TABLE, DEFAULT, TABLE ATTACH and TABLE DATA entries, with table/column comments
//! and ACLs. Inline defaults and CHECKs travel with the table as parts; the planner splits
//! them out when a dependency loop requires it (pg_dump_sort.c), and the table is then
//! rendered without them.

use std::collections::HashMap;

use super::{Ctx, Rel};
use crate::ddl::acl::{AclKind, acl_entry};
use crate::ddl::comment::comment_entry;
use crate::ddl::constraint::{add_relation_constraint_sql, drop_relation_constraint_sql};
use crate::ddl::quote::{ident, qualified};
use crate::ddl::seclabel::relation_seclabel_entry;
use crate::ddl::table::{
    ColumnAlter, ColumnDef, ForeignTable, TableDef, attach_sql, column_alters_sql, copy_columns, copy_in_sql,
    create_table_sql, relation_default_sql,
};
use crate::error::Result;
use crate::model::{CatalogId, Dep, Entry, Part, PartKind, Priority, Render, Section, TableData, catalog_oid};

/// What pg_dump attaches to a relation's entry, in its order: the relation's comment
/// (`<kind> name`), column comments, the security labels of the relation and its columns,
/// comments on constraints printed inside the table, the
/// relation's ACL, then column ACLs (`dumpTableSchema` comments, `dumpTable` ACLs). `columns`
/// are (name, attnum, attacl); `constraints` are (name, oid) of the constraints printed inside
/// the table (18's NOT NULLs, CHECKs), in pg_dump's order.
#[allow(clippy::too_many_arguments)]
pub(crate) fn attach_relation_extras(
    ctx: &Ctx<'_>,
    e: &mut Entry,
    rel: &Rel,
    comment_kind: &str,
    columns: &[(&str, i64, Option<String>)],
    constraints: &[(&str, u32)],
    acl: Option<String>,
    default_acl: &str,
) {
    let oid = rel.oid;
    if let Some(text) = ctx.comment(catalog_oid::PG_CLASS, oid, 0) {
        let c = comment_entry(e, comment_kind, &rel.qualified, &ident(&rel.name), text);
        e.attached.push(c);
    }
    for (name, attnum, _) in columns {
        if let Some(text) = ctx.comment(catalog_oid::PG_CLASS, oid, *attnum as i32) {
            let name_sql = format!("{}.{}", rel.qualified, ident(name));
            let tag = format!("{}.{}", ident(&rel.name), ident(name));
            let c = comment_entry(e, "COLUMN", &name_sql, &tag, text);
            e.attached.push(c);
        }
    }
    // The relation's and its columns' labels, in one entry, between the column comments and
    // the constraint comments (dumpTableSchema).
    let named: Vec<(&str, i64)> = columns.iter().map(|(name, attnum, _)| (*name, *attnum)).collect();
    let labels = ctx.relation_labels(oid, &named);
    if let Some(l) = relation_seclabel_entry(e, comment_kind, &rel.qualified, &ident(&rel.name), &labels) {
        e.attached.push(l);
    }
    for (name, con_oid) in constraints {
        if let Some(text) = ctx.comment(catalog_oid::PG_CONSTRAINT, *con_oid, 0) {
            let name_sql = format!("{} ON {}", ident(name), rel.qualified);
            let tag = format!("{} ON {}", ident(name), ident(&rel.name));
            let c = comment_entry(e, "CONSTRAINT", &name_sql, &tag, text);
            e.attached.push(c);
        }
    }
    let tag_name = ident(&rel.name);
    let mut table_acl = None;
    if let Some(a) = relation_acl(
        ctx,
        e,
        AclKind::Table,
        "TABLE",
        &rel.qualified,
        &tag_name,
        None,
        oid,
        acl,
        default_acl,
    ) {
        table_acl = Some(e.attached.len());
        e.attached.push(a);
    }
    for (name, attnum, col_acl) in columns {
        let tag = format!("{}.{}", ident(&rel.name), ident(name));
        let column = Some((*name, *attnum as i32));
        // Column privileges have no default: the baseline is empty.
        if let Some(a) = relation_acl(
            ctx,
            e,
            AclKind::Table,
            "COLUMN",
            &rel.qualified,
            &tag,
            column,
            oid,
            col_acl.clone(),
            "{}",
        ) {
            // Column privileges may be granted by a role that holds a grant option from the
            // table's ACL: they wait for it (pg_dump's `dumpACL` altDumpId).
            let a = match table_acl {
                Some(i) => a.with_dep(Dep::Entry(i)),
                None => a,
            };
            e.attached.push(a);
        }
    }
}

/// The ACL entry of a relation or column, with pg_init_privs as the baseline when present
/// (pg_dump's `dumpACL` inputs from `getAdditionalACLs`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn relation_acl(
    ctx: &Ctx<'_>,
    parent: &Entry,
    kind: AclKind,
    keyword_tag: &str,
    name_sql: &str,
    tag_name: &str,
    column: Option<(&str, i32)>,
    oid: u32,
    current: Option<String>,
    default: &str,
) -> Option<Entry> {
    let subid = column.map(|c| c.1).unwrap_or(0);
    let (current, baseline) = ctx.acl_lists(catalog_oid::PG_CLASS, oid, subid, current.as_deref(), default)?;
    let owner = parent.owner.clone().unwrap_or_default();
    let col = column.map(|c| ident(c.0));
    acl_entry(
        parent,
        kind,
        keyword_tag,
        name_sql,
        tag_name,
        col.as_deref(),
        &owner,
        &current,
        &baseline,
    )
}

#[derive(Debug, Clone, Default)]
struct Column {
    attnum: i64,
    name: String,
    type_sql: String,
    notnull: bool,
    inh_notnull: bool,
    islocal: bool,
    generated: u8,
    stattarget: i64,
    storage: u8,
    typstorage: u8,
    collation: Option<String>,
    options: Option<String>,
    compression: Option<String>,
    acl: Option<String>,
    attrdef: Option<(u32, String)>,
    /// A parent's same-named column is generated by the same expression / by another one.
    same_generated_as_parent: bool,
    other_generated_in_parent: bool,
    /// A foreign table column's generic options (`name 'value'` items).
    fdw_options: Vec<String>,
}

#[derive(Debug, Clone)]
struct NotNull {
    oid: u32,
    name: String,
    islocal: bool,
    noinherit: bool,
    validated: bool,
    /// Some parent has a validated NOT NULL on the same column (then an inherited copy is
    /// not printed; if every parent's copy is NOT VALID, a validated child prints its own).
    parent_validated: bool,
}

#[derive(Debug, Clone)]
struct Check {
    oid: u32,
    name: String,
    def: String,
    islocal: bool,
    validated: bool,
}

/// The generic options of a catalog row as pg_dump lists them: `name 'value'`, quoted by
/// the server, ordered by name (`pg_options_to_table`).
pub(crate) fn options_list_sql(column: &str) -> String {
    format!(
        "ARRAY(SELECT pg_catalog.quote_ident(option_name) || ' ' || pg_catalog.quote_literal(option_value) \
         FROM pg_catalog.pg_options_to_table({column}) ORDER BY option_name)"
    )
}

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    let rels = ctx.relations.clone();
    let via_root = load_via_root(ctx).await?;
    let v14 = ctx.version.at_least(14);
    let v18 = ctx.version.at_least(18);
    let tables = ctx
        .db
        .query(&format!(
            "SELECT c.oid, c.relpersistence, c.reltype, coalesce(t.typarray, 0::oid), c.relispartition, \
             c.relreplident, c.relforcerowsecurity, c.reloptions::text[], tc.reloptions::text[], \
             coalesce(ts.spcname, ''), coalesce(am.amname, ''), c.relacl::text, \
             pg_catalog.acldefault('r', c.relowner)::text, \
             (c.relpages::int8 + coalesce(tc.relpages, 0)::int8), \
             CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END, \
             CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END, \
             (SELECT array_agg(i.inhparent ORDER BY i.inhseqno) FROM pg_catalog.pg_inherits i \
              WHERE i.inhrelid = c.oid), \
             CASE WHEN c.reloftype <> 0 THEN pg_catalog.format_type(c.reloftype, NULL) END, \
             t.typname, at.typname, ft.ftserver, fs.srvname, {} \
             FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_type t ON t.oid = c.reltype \
             LEFT JOIN pg_catalog.pg_type at ON at.oid = t.typarray \
             LEFT JOIN pg_catalog.pg_class tc ON tc.oid = c.reltoastrelid \
             LEFT JOIN pg_catalog.pg_tablespace ts ON ts.oid = c.reltablespace \
             LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam \
             LEFT JOIN pg_catalog.pg_foreign_table ft ON ft.ftrelid = c.oid \
             LEFT JOIN pg_catalog.pg_foreign_server fs ON fs.oid = ft.ftserver \
             WHERE c.relkind IN ('r', 'p', 'f') ORDER BY c.oid",
            options_list_sql("ft.ftoptions")
        ))
        .await?;
    let compression = if v14 {
        "CASE a.attcompression WHEN 'p' THEN 'pglz' WHEN 'l' THEN 'lz4' END"
    } else {
        "NULL::text"
    };
    let cols_sql = format!(
        "SELECT a.attrelid, a.attnum::int, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), \
         a.attnotnull, a.attislocal, a.attgenerated, coalesce(a.attstattarget, -1)::int, a.attstorage, \
         t.typstorage, CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0 THEN cn.nspname END, \
         co.collname, array_to_string(a.attoptions, ', '), {compression}, a.attacl::text, ad.oid, \
         pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), \
         EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_attribute pa \
           ON pa.attrelid = i.inhparent AND pa.attname = a.attname WHERE i.inhrelid = a.attrelid AND pa.attnotnull), \
         a.attgenerated <> '' AND EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_attribute pa \
           ON pa.attrelid = i.inhparent AND pa.attname = a.attname AND pa.attgenerated <> '' \
           JOIN pg_catalog.pg_attrdef pd ON pd.adrelid = pa.attrelid AND pd.adnum = pa.attnum \
           WHERE i.inhrelid = a.attrelid \
             AND pg_catalog.pg_get_expr(pd.adbin, pd.adrelid) = pg_catalog.pg_get_expr(ad.adbin, ad.adrelid)), \
         a.attgenerated <> '' AND EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_attribute pa \
           ON pa.attrelid = i.inhparent AND pa.attname = a.attname AND pa.attgenerated <> '' \
           LEFT JOIN pg_catalog.pg_attrdef pd ON pd.adrelid = pa.attrelid AND pd.adnum = pa.attnum \
           WHERE i.inhrelid = a.attrelid AND pg_catalog.pg_get_expr(pd.adbin, pd.adrelid) \
             IS DISTINCT FROM pg_catalog.pg_get_expr(ad.adbin, ad.adrelid)), \
         {fdw_options} \
         FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
         JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
         LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation \
         LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace \
         LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum \
         WHERE c.relkind IN ('r', 'p', 'f') AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attrelid, a.attnum",
        fdw_options = options_list_sql("a.attfdwoptions")
    );
    let mut columns: HashMap<u32, Vec<Column>> = HashMap::new();
    for r in ctx.db.query(&cols_sql).await? {
        let rel = r.oid(0)?;
        if !rels.contains_key(&rel) {
            continue;
        }
        let collation = match r.opt_text(10)? {
            Some(nsp) => Some(qualified(&nsp, &r.text(11)?)),
            None => None,
        };
        let attrdef = match (r.opt_int(15)?, r.opt_text(16)?) {
            (Some(oid), Some(expr)) => Some((oid as u32, expr)),
            _ => None,
        };
        columns.entry(rel).or_default().push(Column {
            attnum: r.int(1)?,
            name: r.text(2)?,
            type_sql: r.text(3)?,
            notnull: r.bool(4)?,
            islocal: r.bool(5)?,
            generated: r.char(6)?,
            stattarget: r.int(7)?,
            storage: r.char(8)?,
            typstorage: r.char(9)?,
            collation,
            options: r.opt_text(12)?.filter(|s| !s.is_empty()),
            compression: r.opt_text(13)?,
            acl: r.opt_text(14)?,
            attrdef,
            inh_notnull: r.bool(17)?,
            same_generated_as_parent: r.bool(18)?,
            other_generated_in_parent: r.bool(19)?,
            fdw_options: r.text_array(20)?,
        });
    }
    // Server 18 keeps NOT NULL as named pg_constraint rows.
    let mut not_nulls: HashMap<(u32, i64), NotNull> = HashMap::new();
    if v18 {
        for r in ctx
            .db
            .query(
                "SELECT c.oid, c.conrelid, c.conkey[1]::int, c.conname, c.conislocal, c.connoinherit, c.convalidated, \
                 EXISTS (SELECT FROM pg_catalog.pg_inherits i \
                   JOIN pg_catalog.pg_attribute ca ON ca.attrelid = c.conrelid AND ca.attnum = c.conkey[1] \
                   JOIN pg_catalog.pg_attribute pa ON pa.attrelid = i.inhparent AND pa.attname = ca.attname \
                   JOIN pg_catalog.pg_constraint pc ON pc.conrelid = i.inhparent AND pc.contype = 'n' \
                     AND pc.conkey[1] = pa.attnum AND pc.convalidated \
                   WHERE i.inhrelid = c.conrelid) \
                 FROM pg_catalog.pg_constraint c WHERE c.contype = 'n' AND c.conrelid <> 0",
            )
            .await?
        {
            not_nulls.insert(
                (r.oid(1)?, r.int(2)?),
                NotNull {
                    oid: r.oid(0)?,
                    name: r.text(3)?,
                    islocal: r.bool(4)?,
                    noinherit: r.bool(5)?,
                    validated: r.bool(6)?,
                    parent_validated: r.bool(7)?,
                },
            );
        }
    }
    let mut checks: HashMap<u32, Vec<Check>> = HashMap::new();
    for r in ctx
        .db
        .query(
            "SELECT oid, conrelid, conname, pg_catalog.pg_get_constraintdef(oid), conislocal, convalidated \
             FROM pg_catalog.pg_constraint WHERE contype = 'c' AND conrelid <> 0 ORDER BY conrelid, conname",
        )
        .await?
    {
        checks.entry(r.oid(1)?).or_default().push(Check {
            oid: r.oid(0)?,
            name: r.text(2)?,
            def: r.text(3)?,
            islocal: r.bool(4)?,
            validated: r.bool(5)?,
        });
    }

    for r in tables {
        let oid = r.oid(0)?;
        let Some(rel) = rels.get(&oid) else { continue };
        let t = TableRow {
            persistence: r.char(1)?,
            reltype: r.oid(2)?,
            typarray: r.oid(3)?,
            is_partition: r.bool(4)?,
            replident: r.char(5)?,
            force_rls: r.bool(6)?,
            reloptions: r.text_array(7)?,
            toast_options: r.text_array(8)?,
            tablespace: r.text(9)?,
            am: r.text(10)?,
            acl: r.opt_text(11)?,
            acldefault: r.text(12)?,
            pages: r.int(13)?,
            partkey: r.opt_text(14)?,
            bound: r.opt_text(15)?,
            parents: r.oid_array(16)?,
            of_type: r.opt_text(17)?,
            rowtype_name: r.opt_text(18)?,
            array_name: r.opt_text(19)?,
            server: match (r.opt_int(20)?, r.opt_text(21)?) {
                (Some(o), Some(name)) => Some((o as u32, name, r.text_array(22)?)),
                _ => None,
            },
        };
        let cols = columns.remove(&oid).unwrap_or_default();
        let table_checks = checks.remove(&oid).unwrap_or_default();
        let root = via_root.get(&oid).copied();
        build_table(ctx, rel, &t, &cols, &table_checks, &not_nulls, v18, root);
    }
    Ok(())
}

/// One relation row of the tables query.
struct TableRow {
    persistence: u8,
    reltype: u32,
    typarray: u32,
    is_partition: bool,
    replident: u8,
    force_rls: bool,
    reloptions: Vec<String>,
    toast_options: Vec<String>,
    tablespace: String,
    am: String,
    acl: Option<String>,
    acldefault: String,
    pages: i64,
    partkey: Option<String>,
    bound: Option<String>,
    parents: Vec<u32>,
    /// `format_type(reloftype)` of a typed table.
    of_type: Option<String>,
    rowtype_name: Option<String>,
    array_name: Option<String>,
    /// A foreign table's server: OID, name, table options.
    server: Option<(u32, String, Vec<String>)>,
}

/// The entries of one table (`dumpTableSchema` and friends), pushed into `ctx`. `via_root`:
/// the partition root its data is loaded through (see [`load_via_root`]).
#[allow(clippy::too_many_arguments)]
fn build_table(
    ctx: &mut Ctx<'_>,
    rel: &Rel,
    t: &TableRow,
    cols: &[Column],
    table_checks: &[Check],
    not_nulls: &HashMap<(u32, i64), NotNull>,
    v18: bool,
    via_root: Option<u32>,
) {
    let oid = rel.oid;
    // Parents are named even when they are not dumped themselves (a partition or child
    // selected alone with -t still inherits, as in pg_dump).
    let all_rels = ctx.all_relations.clone();
    let foreign = t.server.is_some();
    let keyword = if foreign { "FOREIGN TABLE" } else { "TABLE" };
    let is_partition = t.is_partition;
    let mut claims: Vec<CatalogId> = Vec::new();
    // The row type and its array are sorted as pg_dump's dummy types.
    let mut parts: Vec<Part> = Vec::new();
    for (ty, name) in [(t.reltype, &t.rowtype_name), (t.typarray, &t.array_name)] {
        if let (true, Some(name)) = (ty != 0, name) {
            parts.push(Part::dummy_type(ty, name.clone()));
        }
    }
    let mut def = TableDef {
        qualified: rel.qualified.clone(),
        unlogged: t.persistence == b'u',
        of_type: t.of_type.clone(),
        foreign: t.server.as_ref().map(|(_, name, options)| ForeignTable {
            server: name.clone(),
            options: options.clone(),
        }),
        partition_by: t.partkey.clone(),
        reloptions: t.reloptions.clone(),
        toast_options: t.toast_options.clone(),
        // ALTER TABLE ... REPLICA IDENTITY is for tables only (foreign tables report `n`).
        replica_identity: if foreign { b'd' } else { t.replident },
        force_row_security: t.force_rls,
        ..Default::default()
    };
    def.inherits = if is_partition {
        Vec::new()
    } else {
        t.parents
            .iter()
            .filter_map(|p| all_rels.get(p).map(|p| p.qualified.clone()))
            .collect()
    };
    // Part id → column index (defaults) for rendering without split parts.
    let mut default_parts: Vec<(CatalogId, usize)> = Vec::new();
    let mut separate_defaults = Vec::new();
    let mut nn_comments: Vec<&NotNull> = Vec::new();
    for c in cols {
        let printed = c.islocal || is_partition;
        let nn = not_nulls.get(&(oid, c.attnum));
        if printed {
            let mut cd = ColumnDef {
                name: c.name.clone(),
                type_sql: c.type_sql.clone(),
                collation: c.collation.clone(),
                ..Default::default()
            };
            // A generated column inherited with the parent's own expression gets it back
            // through INHERITS, so pg_dump leaves it out (common.c `flagInhAttrs`); it keeps
            // an expression that differs (18 allows that).
            let inherits_expression = c.same_generated_as_parent && !c.other_generated_in_parent && !is_partition;
            if let Some((ad_oid, _)) = &c.attrdef
                && inherits_expression
            {
                claims.push(CatalogId::new(catalog_oid::PG_ATTRDEF, *ad_oid));
            } else if let Some((ad_oid, expr)) = &c.attrdef {
                // Inline unless a dependency loop splits it out (pg_dump_sort.c); generation
                // expressions have no separate form.
                let ad_id = CatalogId::new(catalog_oid::PG_ATTRDEF, *ad_oid);
                let mut part = Part::new(PartKind::Default, ad_id, Priority::AttrDef, rel.name.clone())
                    .with_sort_extra(vec![attnum_key(c.attnum)]);
                if c.generated == 0 {
                    part = part.with_separate(default_entry(rel, keyword, *ad_oid, c, expr));
                    default_parts.push((ad_id, def.columns.len()));
                } else {
                    cd.generated = Some(c.generated);
                }
                parts.push(part);
                cd.default = Some(expr.clone());
            }
            if v18 {
                if let Some(n) = nn
                    && n.validated
                    && (n.islocal || is_partition || !n.parent_validated)
                {
                    nn_comments.push(n);
                    let default_name = format!("{}_{}_not_null", rel.name, c.name);
                    let commented = ctx.comment(catalog_oid::PG_CONSTRAINT, n.oid, 0).is_some();
                    cd.not_null = Some((n.name != default_name || commented).then(|| n.name.clone()));
                    cd.no_inherit = n.noinherit;
                }
            } else if c.notnull && (is_partition || !c.inh_notnull) {
                cd.not_null = Some(None);
            }
            def.columns.push(cd);
        } else {
            if let Some((ad_oid, expr)) = &c.attrdef {
                if c.generated == 0 {
                    separate_defaults.push(default_entry(rel, keyword, *ad_oid, c, expr));
                } else {
                    claims.push(CatalogId::new(catalog_oid::PG_ATTRDEF, *ad_oid));
                }
            }
            if let Some(n) = nn.filter(|n| n.validated && (n.islocal || !n.parent_validated)) {
                nn_comments.push(n);
                let default_name = format!("{}_{}_not_null", rel.name, c.name);
                def.table_not_nulls
                    .push(((n.name != default_name).then(|| n.name.clone()), c.name.clone()));
            }
        }
        if let Some(n) = nn {
            // NOT VALID local ones become their own CONSTRAINT entries (constraints.rs).
            if n.validated || !n.islocal {
                claims.push(CatalogId::new(catalog_oid::PG_CONSTRAINT, n.oid));
            }
        }
        let alter = ColumnAlter {
            table: &rel.qualified,
            foreign,
            column: &c.name,
            statistics: (c.stattarget >= 0).then_some(c.stattarget),
            storage: (c.storage != c.typstorage).then_some(c.storage),
            compression: if ctx.selection.no_toast_compression {
                None
            } else {
                c.compression.as_deref()
            },
            options: c.options.as_deref(),
            fdw_options: &c.fdw_options,
        };
        let sql = column_alters_sql(&alter);
        if !sql.is_empty() {
            def.column_alters.push(sql);
        }
    }
    // CHECKs: every validated one is a part (the table depends on it); the local ones (and a
    // partition's inherited ones) are printed inline, and only local ones have a separate
    // form. NOT VALID ones are entries of their own (constraints.rs).
    let mut check_parts: Vec<(CatalogId, String)> = Vec::new();
    let mut inline_check_comments: Vec<(&str, u32)> = Vec::new();
    for ch in table_checks.iter().filter(|ch| ch.validated) {
        let id = CatalogId::new(catalog_oid::PG_CONSTRAINT, ch.oid);
        let mut part = Part::new(PartKind::Check, id, Priority::Constraint, ch.name.clone())
            .with_sort_extra(table_constraint_key(&rel.name));
        if ch.islocal {
            part = part.with_separate(check_entry(ctx, rel, keyword, ch));
            inline_check_comments.push((ch.name.as_str(), ch.oid));
        }
        if ch.islocal || is_partition {
            def.checks.push((ch.name.clone(), ch.def.clone()));
            check_parts.push((id, ch.name.clone()));
        }
        parts.push(part);
    }

    let mut e = Entry::new(keyword, Priority::Table, Section::PreData, rel.name.clone())
        .with_key(CatalogId::class(oid))
        .with_schema(rel.schema.clone())
        .with_owner(rel.owner.clone())
        .with_defn(create_table_sql(&def))
        .with_drop(format!("DROP {keyword} {};\n", rel.qualified));
    e.claims = claims;
    e.parts = parts;
    e.render = Some(Render::new(move |split| {
        let mut d = def.clone();
        for (id, col) in &default_parts {
            if split.contains(id) {
                d.columns[*col].default = None;
            }
        }
        d.checks
            .retain(|(name, _)| !check_parts.iter().any(|(id, n)| n == name && split.contains(id)));
        create_table_sql(&d)
    }));
    if !foreign {
        e.tablespace = Some(t.tablespace.clone());
    }
    e.relkind = Some(rel.relkind);
    if rel.relkind == b'r' {
        e.tableam = Some(if t.am.is_empty() { "heap".into() } else { t.am.clone() });
    }
    let columns: Vec<(&str, i64, Option<String>)> = cols
        .iter()
        .map(|c| (c.name.as_str(), c.attnum, c.acl.clone()))
        .collect();
    // 18: comments on the NOT NULL constraints printed in the table (pg_dump tags them like
    // other constraint comments), then on the inline CHECKs.
    let mut constraint_comments: Vec<(&str, u32)> = nn_comments.iter().map(|n| (n.name.as_str(), n.oid)).collect();
    constraint_comments.extend(inline_check_comments);
    attach_relation_extras(
        ctx,
        &mut e,
        rel,
        keyword,
        &columns,
        &constraint_comments,
        t.acl.clone(),
        &t.acldefault,
    );
    ctx.push(e);

    // Defaults of columns the CREATE does not print (dumpAttrDef).
    for d in separate_defaults {
        ctx.push(d);
    }

    // TABLE ATTACH (dumpTableAttach).
    if is_partition && let (Some(parent), Some(bound)) = (t.parents.first().and_then(|p| all_rels.get(p)), &t.bound) {
        let a = Entry::new(
            "TABLE ATTACH",
            Priority::TableAttach,
            Section::PreData,
            rel.name.clone(),
        )
        .with_schema(rel.schema.clone())
        .with_owner(rel.owner.clone())
        .with_defn(attach_sql(&parent.qualified, &rel.qualified, bound))
        .with_dep(Dep::Catalog(CatalogId::class(oid)))
        .with_dep(Dep::Catalog(CatalogId::class(parent.oid)));
        ctx.push(a);
    }

    // TABLE DATA (makeTableDataInfo / dumpTableData): plain tables (not unlogged ones with
    // --no-unlogged-table-data), and foreign tables of the servers `--include-foreign-data`
    // names; never partitioned tables, nor tables whose data is not selected (-t/-n/-T,
    // --exclude-table-data, -s).
    let wants_data = ctx.table_data_dumped(oid)
        && match (rel.relkind, &t.server) {
            (b'r', _) => !(t.persistence == b'u' && ctx.selection.no_unlogged_table_data),
            (b'f', Some((server, _, _))) => ctx.foreign_server_data_dumped(*server),
            _ => false,
        };
    if wants_data {
        let names: Vec<String> = cols
            .iter()
            .filter(|c| c.generated == 0)
            .map(|c| c.name.clone())
            .collect();
        let list = copy_columns(&names);
        let mut d = Entry::new("TABLE DATA", Priority::TableData, Section::Data, rel.name.clone())
            .with_schema(rel.schema.clone())
            .with_owner(rel.owner.clone())
            .with_dep(Dep::Catalog(CatalogId::class(oid)));
        d.toc_oid = Some(oid);
        // Through the root when asked, or when pg_dump forces it; the comment lets
        // pg_restore recognise the case (dumpTableData).
        let target = match via_root.and_then(|root| all_rels.get(&root)) {
            Some(root) => {
                d.defn = Some(format!("-- load via partition root {}", root.qualified));
                &root.qualified
            }
            None => &rel.qualified,
        };
        // INSERT mode has no COPY statement: the data file holds the statements.
        if ctx.selection.inserts.is_none() {
            d.copy_stmt = Some(copy_in_sql(target, &list));
        }
        d.data = Some(TableData {
            qualified_name: rel.qualified.clone(),
            columns: list,
            estimated_pages: t.pages,
            table_oid: oid,
            foreign,
            filter: None,
        });
        ctx.push(d);
    }
}

/// Sorts attribute defaults of one table by column number (`DOTypeNameCompare`).
pub(crate) fn attnum_key(attnum: i64) -> String {
    format!("{attnum:05}")
}

/// pg_dump sorts a table's constraints by table name after their own, domain constraints
/// first (`DOTypeNameCompare`).
pub(crate) fn table_constraint_key(table: &str) -> Vec<String> {
    vec!["1".into(), table.to_string()]
}

/// A column default as its own pre-data entry (`dumpAttrDef`).
fn default_entry(rel: &Rel, keyword: &str, ad_oid: u32, c: &Column, expr: &str) -> Entry {
    let (defn, drop) = relation_default_sql(keyword, &rel.qualified, &c.name, expr);
    let mut d = Entry::new("DEFAULT", Priority::AttrDef, Section::PreData, rel.name.clone())
        .with_key(CatalogId::new(catalog_oid::PG_ATTRDEF, ad_oid))
        .with_tag(format!("{} {}", rel.name, c.name))
        .with_schema(rel.schema.clone())
        .with_owner(rel.owner.clone())
        .with_defn(defn)
        .with_drop(drop);
    d.sort_extra = vec![attnum_key(c.attnum)];
    d
}

/// A CHECK split out of its table: a post-data CHECK CONSTRAINT, without ONLY so it reaches
/// inheritance children (`dumpConstraint`), with its comment.
fn check_entry(ctx: &Ctx<'_>, rel: &Rel, keyword: &str, ch: &Check) -> Entry {
    let mut e = Entry::new(
        "CHECK CONSTRAINT",
        Priority::Constraint,
        Section::PostData,
        ch.name.clone(),
    )
    .with_key(CatalogId::new(catalog_oid::PG_CONSTRAINT, ch.oid))
    .with_tag(format!("{} {}", rel.name, ch.name))
    .with_schema(rel.schema.clone())
    .with_owner(rel.owner.clone())
    .with_defn(add_relation_constraint_sql(
        keyword,
        &rel.qualified,
        false,
        &ch.name,
        &ch.def,
    ))
    .with_drop(drop_relation_constraint_sql(keyword, &rel.qualified, false, &ch.name));
    e.sort_extra = table_constraint_key(&rel.name);
    if let Some(text) = ctx.comment(catalog_oid::PG_CONSTRAINT, ch.oid, 0) {
        let name_sql = format!("{} ON {}", ident(&ch.name), rel.qualified);
        let tag = format!("{} ON {}", ident(&ch.name), ident(&rel.name));
        let c = comment_entry(&e, "CONSTRAINT", &name_sql, &tag, text);
        e.attached.push(c);
    }
    e
}

/// Partitions whose data is loaded through their root table → that root: all of them with
/// `--load-via-partition-root`, and always those below a table hash-partitioned on an enum
/// column, whose hash codes depend on enum OIDs a restore does not keep (pg_dump.c
/// `getPartitioningInfo`, `forcePartitionRootLoad`).
async fn load_via_root(ctx: &Ctx<'_>) -> Result<HashMap<u32, u32>> {
    let forced = "EXISTS (SELECT FROM pg_catalog.pg_partition_ancestors(c.oid) a \
                  JOIN pg_catalog.pg_partitioned_table pt ON pt.partrelid = a.relid \
                  WHERE (SELECT o.oid FROM pg_catalog.pg_opclass o JOIN pg_catalog.pg_am am ON am.oid = o.opcmethod \
                         WHERE o.opcname = 'enum_ops' AND o.opcnamespace = 'pg_catalog'::pg_catalog.regnamespace \
                         AND am.amname = 'hash') = ANY (pt.partclass))";
    let cond = if ctx.selection.load_via_partition_root {
        "true".to_string()
    } else {
        forced.to_string()
    };
    let mut out = HashMap::new();
    for r in ctx
        .db
        .query(&format!(
            "SELECT c.oid, pg_catalog.pg_partition_root(c.oid)::pg_catalog.oid FROM pg_catalog.pg_class c \
             WHERE c.relispartition AND c.relkind IN ('r', 'f') AND {cond}"
        ))
        .await?
    {
        out.insert(r.oid(0)?, r.oid(1)?);
    }
    Ok(out)
}
