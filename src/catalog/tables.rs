//! Plain, partitioned, typed and foreign tables (pg_dump.c `dumpTableSchema`, `dumpAttrDef`,
//! `dumpTableAttach`, `makeTableDataInfo`): TABLE, FOREIGN TABLE, DEFAULT, TABLE ATTACH and
//! TABLE DATA entries, with table/column comments, security labels and ACLs. The rows come
//! from `table_rows.rs`; [`table_entries`] decides and renders one table's entries from plain
//! values; [`read`] joins the two and adds what the shared lookups hold (comments, labels,
//! ACLs). Inline defaults and CHECKs travel with the table as parts; the planner splits them
//! out when a dependency loop requires it (pg_dump_sort.c), and the table is then rendered
//! without them.

use std::collections::HashMap;

use super::table_rows::{self, Check, Column, NotNull, TableRow, TableRows};
use super::{Ctx, Rel};
use crate::ddl::acl::{AclKind, acl_entry};
use crate::ddl::comment::comment_entry;
use crate::ddl::constraint::{add_relation_constraint_sql, drop_relation_constraint_sql};
use crate::ddl::quote::ident;
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

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    let TableRows {
        tables,
        mut columns,
        not_nulls,
        mut checks,
        via_root,
    } = table_rows::fetch(ctx).await?;
    let all_rels = ctx.all_relations.clone();
    for (oid, t) in tables {
        let Some(rel) = ctx.relations.get(&oid).cloned() else {
            continue;
        };
        let cols = columns.remove(&oid).unwrap_or_default();
        let table_checks = checks.remove(&oid).unwrap_or_default();
        let opts = TableOptions {
            v18: ctx.version.at_least(18),
            no_toast_compression: ctx.selection.no_toast_compression,
            data: table_data_wanted(
                rel.relkind,
                t.persistence,
                t.server
                    .as_ref()
                    .map(|(server, _, _)| ctx.foreign_server_data_dumped(*server)),
                ctx.table_data_dumped(oid),
                ctx.selection.no_unlogged_table_data,
            ),
            inserts: ctx.selection.inserts.is_some(),
            via_root: via_root.get(&oid).copied(),
        };
        let constraint_comment = |con: u32| ctx.comment(catalog_oid::PG_CONSTRAINT, con, 0).map(str::to_string);
        let input = TableInput {
            rel: &rel,
            row: &t,
            cols: &cols,
            checks: &table_checks,
            not_nulls: &not_nulls,
        };
        let built = table_entries(&input, &opts, &all_rels, &constraint_comment);
        let mut e = built.table;
        let extras_columns: Vec<(&str, i64, Option<String>)> = cols
            .iter()
            .map(|c| (c.name.as_str(), c.attnum, c.acl.clone()))
            .collect();
        let constraint_comments: Vec<(&str, u32)> = built
            .commented_constraints
            .iter()
            .map(|(name, oid)| (name.as_str(), *oid))
            .collect();
        attach_relation_extras(
            ctx,
            &mut e,
            &rel,
            built.keyword,
            &extras_columns,
            &constraint_comments,
            t.acl.clone(),
            &t.acldefault,
        );
        ctx.push(e);
        for d in built.separate_defaults {
            ctx.push(d);
        }
        if let Some(a) = built.attach {
            ctx.push(a);
        }
        if let Some(d) = built.data {
            ctx.push(d);
        }
    }
    Ok(())
}

/// Whether a table's rows are dumped (makeTableDataInfo): plain tables (not unlogged ones
/// with --no-unlogged-table-data), foreign tables only of the servers whose data is asked for
/// (`foreign_server_data`: `Some` for a foreign table), never partitioned tables; and only
/// when the table's data is selected at all (`table_data`: -t/-n/-T, --exclude-table-data,
/// -s).
pub(crate) fn table_data_wanted(
    relkind: u8,
    persistence: u8,
    foreign_server_data: Option<bool>,
    table_data: bool,
    no_unlogged_table_data: bool,
) -> bool {
    table_data
        && match (relkind, foreign_server_data) {
            (b'r', _) => !(persistence == b'u' && no_unlogged_table_data),
            (b'f', Some(wanted)) => wanted,
            _ => false,
        }
}

/// One table's rows, as [`table_entries`] takes them.
pub(crate) struct TableInput<'a> {
    pub(crate) rel: &'a Rel,
    pub(crate) row: &'a TableRow,
    pub(crate) cols: &'a [Column],
    pub(crate) checks: &'a [Check],
    /// Server 18's NOT NULL constraints of every table, by (table, attnum).
    pub(crate) not_nulls: &'a HashMap<(u32, i64), NotNull>,
}

/// The decisions made outside this table's rows.
#[derive(Debug, Clone, Default)]
pub(crate) struct TableOptions {
    /// The server is 18 or newer (NOT NULLs are constraints).
    pub(crate) v18: bool,
    /// `--no-toast-compression`.
    pub(crate) no_toast_compression: bool,
    /// Its rows are dumped ([`table_data_wanted`]).
    pub(crate) data: bool,
    /// `--inserts` and friends: no COPY statement.
    pub(crate) inserts: bool,
    /// The partition root its rows are loaded through.
    pub(crate) via_root: Option<u32>,
}

/// One table's entries, before the shared lookups add its comments, labels and ACLs.
pub(crate) struct TableEntries {
    /// `TABLE` or `FOREIGN TABLE`.
    pub(crate) keyword: &'static str,
    /// The TABLE / FOREIGN TABLE entry, with its parts.
    pub(crate) table: Entry,
    /// (name, OID) of the constraints printed inside the table whose comments follow it
    /// (18's NOT NULLs, then local CHECKs).
    pub(crate) commented_constraints: Vec<(String, u32)>,
    /// DEFAULT entries of inherited columns the CREATE does not print.
    pub(crate) separate_defaults: Vec<Entry>,
    pub(crate) attach: Option<Entry>,
    pub(crate) data: Option<Entry>,
}

/// The entries of one table (`dumpTableSchema` and friends), from plain values:
/// `all_rels` names parents and partition roots (dumped or not), `constraint_comment` gives
/// a constraint's comment text.
pub(crate) fn table_entries(
    input: &TableInput<'_>,
    opts: &TableOptions,
    all_rels: &HashMap<u32, Rel>,
    constraint_comment: &dyn Fn(u32) -> Option<String>,
) -> TableEntries {
    let TableInput {
        rel,
        row: t,
        cols,
        checks: table_checks,
        not_nulls,
    } = *input;
    let v18 = opts.v18;
    let oid = rel.oid;
    // Parents are named even when they are not dumped themselves (a partition or child
    // selected alone with -t still inherits, as in pg_dump).
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
                    let commented = constraint_comment(n.oid).is_some();
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
            compression: if opts.no_toast_compression {
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
            part = part.with_separate(check_entry(rel, keyword, ch, constraint_comment(ch.oid)));
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
    // 18: comments on the NOT NULL constraints printed in the table (pg_dump tags them like
    // other constraint comments), then on the inline CHECKs.
    let mut commented_constraints: Vec<(String, u32)> = nn_comments.iter().map(|n| (n.name.clone(), n.oid)).collect();
    commented_constraints.extend(inline_check_comments.iter().map(|(name, oid)| (name.to_string(), *oid)));

    // TABLE ATTACH (dumpTableAttach).
    let mut attach = None;
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
        attach = Some(a);
    }

    // TABLE DATA (makeTableDataInfo / dumpTableData), when [`table_data_wanted`] said so.
    let mut data = None;
    if opts.data {
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
        let target = match opts.via_root.and_then(|root| all_rels.get(&root)) {
            Some(root) => {
                d.defn = Some(format!("-- load via partition root {}", root.qualified));
                &root.qualified
            }
            None => &rel.qualified,
        };
        // INSERT mode has no COPY statement: the data file holds the statements.
        if !opts.inserts {
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
        data = Some(d);
    }
    TableEntries {
        keyword,
        table: e,
        commented_constraints,
        separate_defaults,
        attach,
        data,
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
fn check_entry(rel: &Rel, keyword: &str, ch: &Check, comment: Option<String>) -> Entry {
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
    if let Some(text) = comment {
        let name_sql = format!("{} ON {}", ident(&ch.name), rel.qualified);
        let tag = format!("{} ON {}", ident(&ch.name), ident(&rel.name));
        let c = comment_entry(&e, "CONSTRAINT", &name_sql, &tag, &text);
        e.attached.push(c);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(oid: u32, name: &str, relkind: u8) -> Rel {
        Rel {
            oid,
            name: name.into(),
            schema: "s".into(),
            owner: "app".into(),
            relkind,
            qualified: format!("s.{name}"),
        }
    }

    fn column(attnum: i64, name: &str, type_sql: &str) -> Column {
        Column {
            attnum,
            name: name.into(),
            type_sql: type_sql.into(),
            islocal: true,
            stattarget: -1,
            storage: b'x',
            typstorage: b'x',
            ..Default::default()
        }
    }

    fn build(rel: &Rel, row: &TableRow, cols: &[Column], checks: &[Check], opts: &TableOptions) -> TableEntries {
        build_with(rel, row, cols, checks, &HashMap::new(), opts, &|_| None)
    }

    fn build_with(
        rel: &Rel,
        row: &TableRow,
        cols: &[Column],
        checks: &[Check],
        not_nulls: &HashMap<(u32, i64), NotNull>,
        opts: &TableOptions,
        comment: &dyn Fn(u32) -> Option<String>,
    ) -> TableEntries {
        let mut all = HashMap::new();
        all.insert(rel.oid, rel.clone());
        all.insert(900, super::tests::rel(900, "parent", b'p'));
        let input = TableInput {
            rel,
            row,
            cols,
            checks,
            not_nulls,
        };
        table_entries(&input, opts, &all, comment)
    }

    #[test]
    fn table_data_follows_kind_persistence_and_selection() {
        // (relkind, persistence, foreign server data, table data, --no-unlogged-table-data)
        assert!(table_data_wanted(b'r', b'p', None, true, false));
        assert!(!table_data_wanted(b'r', b'p', None, false, false));
        assert!(table_data_wanted(b'r', b'u', None, true, false));
        assert!(!table_data_wanted(b'r', b'u', None, true, true));
        assert!(table_data_wanted(b'r', b'p', None, true, true));
        assert!(!table_data_wanted(b'p', b'p', None, true, false));
        assert!(table_data_wanted(b'f', b'p', Some(true), true, false));
        assert!(!table_data_wanted(b'f', b'p', Some(false), true, false));
        assert!(!table_data_wanted(b'f', b'p', Some(true), false, false));
    }

    #[test]
    fn a_plain_table_with_a_default_a_check_and_data() {
        let r = rel(100, "orders", b'r');
        let mut id = column(1, "id", "integer");
        id.notnull = true;
        let mut note = column(2, "note", "text");
        note.attrdef = Some((501, "'none'::text".into()));
        let mut total = column(3, "total", "numeric");
        total.generated = b's';
        total.attrdef = Some((502, "(id * 2)".into()));
        let checks = [Check {
            oid: 601,
            name: "id_positive".into(),
            def: "CHECK ((id > 0))".into(),
            islocal: true,
            validated: true,
        }];
        let row = TableRow {
            persistence: b'p',
            pages: 7,
            ..Default::default()
        };
        let opts = TableOptions {
            data: true,
            ..Default::default()
        };
        let b = build(&r, &row, &[id, note, total], &checks, &opts);
        assert_eq!(b.keyword, "TABLE");
        let defn = b.table.defn.as_deref().unwrap();
        assert!(defn.starts_with("CREATE TABLE s.orders (\n"), "{defn}");
        assert!(defn.contains("id integer NOT NULL"), "{defn}");
        assert!(defn.contains("note text DEFAULT 'none'::text"), "{defn}");
        assert!(defn.contains("CONSTRAINT id_positive CHECK ((id > 0))"), "{defn}");
        assert_eq!(b.table.drop_stmt.as_deref(), Some("DROP TABLE s.orders;\n"));
        // The default and the CHECK travel as parts; split out, the table renders without them.
        let kinds: Vec<PartKind> = b.table.parts.iter().map(|p| p.kind).collect();
        assert!(
            kinds.contains(&PartKind::Default) && kinds.contains(&PartKind::Check),
            "{kinds:?}"
        );
        let split = [
            CatalogId::new(catalog_oid::PG_ATTRDEF, 501),
            CatalogId::new(catalog_oid::PG_CONSTRAINT, 601),
        ];
        let rendered = b.table.render.as_ref().unwrap().render(&split);
        assert!(
            !rendered.contains("DEFAULT 'none'") && !rendered.contains("id_positive"),
            "{rendered}"
        );
        // The local CHECK's comment follows the table.
        assert_eq!(b.commented_constraints, vec![("id_positive".to_string(), 601)]);
        assert!(b.separate_defaults.is_empty() && b.attach.is_none());
        // Generated columns are not copied.
        let d = b.data.unwrap();
        assert_eq!(d.copy_stmt.as_deref(), Some("COPY s.orders (id, note) FROM stdin;\n"));
        assert_eq!(d.toc_oid, Some(100));
        assert_eq!(d.data.as_ref().map(|t| t.estimated_pages), Some(7));
    }

    #[test]
    fn a_partition_attaches_and_loads_through_its_root_without_copy_in_insert_mode() {
        let r = rel(101, "orders_1", b'r');
        let row = TableRow {
            persistence: b'p',
            is_partition: true,
            parents: vec![900],
            bound: Some("FOR VALUES FROM (0) TO (10)".into()),
            ..Default::default()
        };
        let opts = TableOptions {
            data: true,
            via_root: Some(900),
            ..Default::default()
        };
        let b = build(&r, &row, &[column(1, "k", "integer")], &[], &opts);
        let a = b.attach.unwrap();
        assert_eq!(a.desc, "TABLE ATTACH");
        assert_eq!(
            a.defn.as_deref(),
            Some("ALTER TABLE ONLY s.parent ATTACH PARTITION s.orders_1 FOR VALUES FROM (0) TO (10);\n")
        );
        let d = b.data.unwrap();
        assert_eq!(d.defn.as_deref(), Some("-- load via partition root s.parent"));
        assert_eq!(d.copy_stmt.as_deref(), Some("COPY s.parent (k) FROM stdin;\n"));
        let insert_mode = TableOptions { inserts: true, ..opts };
        let b = build(&r, &row, &[column(1, "k", "integer")], &[], &insert_mode);
        assert_eq!(b.data.unwrap().copy_stmt, None);
    }

    #[test]
    fn an_inherited_columns_default_is_its_own_entry() {
        let r = rel(102, "child", b'r');
        let mut inherited = column(1, "v", "text");
        inherited.islocal = false;
        inherited.attrdef = Some((503, "'x'::text".into()));
        let row = TableRow {
            persistence: b'p',
            parents: vec![900],
            ..Default::default()
        };
        let b = build(&r, &row, &[inherited], &[], &TableOptions::default());
        let defn = b.table.defn.as_deref().unwrap();
        assert!(defn.contains("INHERITS (s.parent)"), "{defn}");
        assert_eq!(b.separate_defaults.len(), 1);
        let d = &b.separate_defaults[0];
        assert_eq!((d.desc.as_str(), d.tag.as_str()), ("DEFAULT", "child v"));
        assert_eq!(
            d.defn.as_deref(),
            Some("ALTER TABLE ONLY s.child ALTER COLUMN v SET DEFAULT 'x'::text;\n")
        );
        assert!(b.data.is_none(), "no data asked for");
    }

    #[test]
    fn server_18_not_nulls_are_named_when_not_default_or_commented() {
        let r = rel(103, "t", b'r');
        let row = TableRow {
            persistence: b'p',
            ..Default::default()
        };
        let nn = |oid: u32, name: &str| NotNull {
            oid,
            name: name.into(),
            islocal: true,
            noinherit: false,
            validated: true,
            parent_validated: false,
        };
        let mut not_nulls = HashMap::new();
        not_nulls.insert((103, 1), nn(701, "t_a_not_null"));
        not_nulls.insert((103, 2), nn(702, "b_required"));
        not_nulls.insert((103, 3), nn(703, "t_c_not_null"));
        let cols = [
            column(1, "a", "integer"),
            column(2, "b", "integer"),
            column(3, "c", "integer"),
        ];
        let opts = TableOptions {
            v18: true,
            ..Default::default()
        };
        let comment = |oid: u32| (oid == 703).then(|| "commented".to_string());
        let b = build_with(&r, &row, &cols, &[], &not_nulls, &opts, &comment);
        let defn = b.table.defn.as_deref().unwrap();
        assert!(defn.contains("a integer NOT NULL,"), "{defn}");
        assert!(defn.contains("b integer CONSTRAINT b_required NOT NULL"), "{defn}");
        // A commented NOT NULL keeps its (default) name so the comment can find it.
        assert!(defn.contains("c integer CONSTRAINT t_c_not_null NOT NULL"), "{defn}");
        let names: Vec<&str> = b.commented_constraints.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["t_a_not_null", "b_required", "t_c_not_null"]);
        // The NOT NULL constraints are claimed by the table.
        assert!(
            b.table
                .claims
                .contains(&CatalogId::new(catalog_oid::PG_CONSTRAINT, 702))
        );
    }
}
