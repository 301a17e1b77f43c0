//! The data of extensions' configuration tables and sequences (pg_dump.c
//! `processExtensionTables`, `makeTableDataInfo`, `dumpTableData` with a filter condition,
//! `dumpSequenceData`).
//!
//! An extension registers tables and sequences with `pg_extension_config_dump(rel, cond)`
//! (`pg_extension.extconfig` / `extcondition`). The relations themselves are members, created
//! by `CREATE EXTENSION`; their contents are user data, so pg_dump dumps them when it dumps
//! the extension: a TABLE DATA entry per table, read with
//! `COPY (SELECT cols FROM t <cond>) TO stdout` when the condition is not empty, and a
//! SEQUENCE SET per sequence. A foreign key between two configuration tables orders their
//! data (referenced table first), as pg_dump orders them.

use std::collections::HashMap;

use super::Ctx;
use super::dumpable::FIRST_NORMAL_OID;
use super::sequences::read_state;
use crate::ddl::quote::qualified;
use crate::ddl::sequence::setval_sql;
use crate::ddl::table::{copy_columns, copy_in_sql};
use crate::error::Result;
use crate::model::{CatalogId, Dep, Entry, Priority, Section, TableData};
use crate::select::Resolved;

/// One registered relation of a dumped extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigRel {
    pub oid: u32,
    /// The extension that registered it.
    pub extension: u32,
    /// Its schema's OID (`-n`/`-N` decide on it).
    pub namespace: u32,
    pub relkind: u8,
    /// `pg_class.relpersistence`.
    pub persistence: u8,
    pub schema: String,
    pub name: String,
    pub owner: String,
    /// The stored condition (`WHERE ...`), empty for every row.
    pub condition: String,
    /// relpages + toast relpages, for largest-first scheduling.
    pub pages: i64,
}

impl ConfigRel {
    pub fn qualified(&self) -> String {
        qualified(&self.schema, &self.name)
    }
}

/// The registered relations whose data is dumped, in extension and registration order. An
/// extension whose two arrays differ in length is skipped, as pg_dump skips it (it cannot
/// tell which condition goes with which table).
async fn registered(ctx: &Ctx<'_>) -> Result<Vec<ConfigRel>> {
    let rows = ctx
        .db
        .query(
            "SELECT c.oid, c.relkind, c.relpersistence, n.nspname, c.relname, c.relowner, \
             coalesce(cfg.cond, ''), (c.relpages::int8 + coalesce(tc.relpages, 0)::int8), e.oid, n.oid \
             FROM pg_catalog.pg_extension e \
             CROSS JOIN LATERAL unnest(e.extconfig, e.extcondition) WITH ORDINALITY AS cfg(relid, cond, n) \
             JOIN pg_catalog.pg_class c ON c.oid = cfg.relid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_catalog.pg_class tc ON tc.oid = c.reltoastrelid \
             WHERE e.oid >= 16384 \
               AND pg_catalog.cardinality(e.extconfig) = pg_catalog.cardinality(e.extcondition) \
             ORDER BY e.oid, cfg.n",
        )
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let rel = ConfigRel {
            oid: r.oid(0)?,
            extension: r.oid(8)?,
            namespace: r.oid(9)?,
            relkind: r.char(1)?,
            persistence: r.char(2)?,
            schema: r.text(3)?,
            name: r.text(4)?,
            owner: ctx.role(r.oid(5)?),
            condition: r.text(6)?,
            pages: r.int(7)?,
        };
        if selected(
            &ctx.selected,
            ctx.extension_dumped(rel.extension),
            ctx.schema_dumped(rel.namespace),
            &rel,
        ) {
            out.push(rel);
        }
    }
    debug_assert!(out.iter().all(|c| c.oid >= FIRST_NORMAL_OID));
    Ok(out)
}

/// Whether the selection dumps a registered relation's data (pg_dump.c
/// `processExtensionTables`): none of an extension `-e` leaves out or `--exclude-extension`
/// names; all of a dumped extension's; of another extension (when `-t`/`-n` narrow the dump)
/// those named by `-t` or in a schema `-n` selects. `-T` and `-N` remove it in every case,
/// `--exclude-table-data` too (`makeTableDataInfo`).
/// `extension_dumped` and `schema_dumped` are the context's answers for the relation's
/// extension and schema.
fn selected(s: &Resolved, extension_dumped: bool, schema_dumped: bool, rel: &ConfigRel) -> bool {
    if s.extension_include
        .as_ref()
        .is_some_and(|set| !set.contains(&rel.extension))
        || s.extension_exclude.contains(&rel.extension)
    {
        return false;
    }
    let chosen =
        extension_dumped || s.table_include.as_ref().is_some_and(|set| set.contains(&rel.oid)) || schema_dumped;
    chosen
        && !s.table_exclude.contains(&rel.oid)
        && !s.schema_exclude.contains(&rel.namespace)
        && !s.table_data_exclude.contains(&rel.oid)
}

/// Whether a registered relation's data is dumped (`makeTableDataInfo`): plain tables (not
/// unlogged ones under `--no-unlogged-table-data`) and sequences; partitioned tables hold no
/// rows of their own, views none at all, and foreign tables are read only on request.
pub fn wants_data(rel: &ConfigRel, no_unlogged_table_data: bool) -> bool {
    match rel.relkind {
        b'r' => !(rel.persistence == b'u' && no_unlogged_table_data),
        b'S' => true,
        _ => false,
    }
}

/// The TABLE DATA entry of a configuration table; `columns` are its (name, attgenerated) in
/// attnum order, generated ones left out of the copy as for any table.
pub fn table_data_entry(rel: &ConfigRel, columns: &[(String, u8)]) -> Entry {
    let names: Vec<String> = columns
        .iter()
        .filter(|(_, generated)| *generated == 0)
        .map(|(n, _)| n.clone())
        .collect();
    let list = copy_columns(&names);
    let q = rel.qualified();
    let mut d = Entry::new("TABLE DATA", Priority::TableData, Section::Data, rel.name.clone())
        .with_schema(rel.schema.clone())
        .with_owner(rel.owner.clone())
        // The table is an extension member: this resolves to the EXTENSION entry.
        .with_dep(Dep::Catalog(CatalogId::class(rel.oid)));
    d.toc_oid = Some(rel.oid);
    d.copy_stmt = Some(copy_in_sql(&q, &list));
    d.data = Some(TableData {
        qualified_name: q,
        columns: list,
        estimated_pages: rel.pages,
        table_oid: rel.oid,
        foreign: false,
        filter: (!rel.condition.is_empty()).then(|| rel.condition.clone()),
    });
    d
}

/// The SEQUENCE SET entry of a configuration sequence.
pub fn sequence_set_entry(rel: &ConfigRel, last_value: i64, is_called: bool) -> Entry {
    Entry::new("SEQUENCE SET", Priority::SequenceSet, Section::Data, rel.name.clone())
        .with_schema(rel.schema.clone())
        .with_owner(rel.owner.clone())
        .with_defn(setval_sql(&rel.qualified(), last_value, is_called))
        .with_dep(Dep::Catalog(CatalogId::class(rel.oid)))
}

/// Quoted names of the configuration tables whose rows a dump with these switches reads, to
/// be locked with the other tables before any definition is read.
pub async fn lockable(ctx: &Ctx<'_>) -> Result<Vec<String>> {
    if !ctx.selection.data {
        return Ok(Vec::new());
    }
    Ok(registered(ctx)
        .await?
        .iter()
        .filter(|r| r.relkind == b'r' && wants_data(r, ctx.selection.no_unlogged_table_data))
        .map(ConfigRel::qualified)
        .collect())
}

/// Adds the data entries of every dumped extension's configuration relations, and orders
/// the data of configuration tables along the foreign keys between them. Without data
/// (`-s`) only `--sequence-data` keeps the sequences' values, as for any sequence.
pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    let (data, sequence_data) = (ctx.selection.data, ctx.selection.sequence_data);
    if !data && !sequence_data {
        return Ok(());
    }
    let rels: Vec<ConfigRel> = registered(ctx)
        .await?
        .into_iter()
        .filter(|r| wants_data(r, ctx.selection.no_unlogged_table_data) && (data || r.relkind == b'S'))
        .collect();
    if rels.is_empty() {
        return Ok(());
    }
    let oids: Vec<String> = rels.iter().map(|r| r.oid.to_string()).collect();
    let mut columns: HashMap<u32, Vec<(String, u8)>> = HashMap::new();
    for r in ctx
        .db
        .query(&format!(
            "SELECT attrelid, attname, attgenerated FROM pg_catalog.pg_attribute \
             WHERE attrelid IN ({}) AND attnum > 0 AND NOT attisdropped ORDER BY attrelid, attnum",
            oids.join(", ")
        ))
        .await?
    {
        columns.entry(r.oid(0)?).or_default().push((r.text(1)?, r.char(2)?));
    }
    // Table OID → index of its data entry, for the foreign-key ordering below.
    let mut data_entry: HashMap<u32, usize> = HashMap::new();
    for rel in &rels {
        if rel.relkind == b'S' {
            let (last, called) = read_state(ctx, rel.oid, &rel.name, &rel.qualified()).await?;
            ctx.push(sequence_set_entry(rel, last, called));
        } else {
            let cols = columns.remove(&rel.oid).unwrap_or_default();
            let mut e = table_data_entry(rel, &cols);
            // INSERT mode has no COPY statement: the data file holds the statements.
            if ctx.selection.inserts.is_some() {
                e.copy_stmt = None;
            }
            let i = ctx.push(e);
            data_entry.insert(rel.oid, i);
        }
    }
    // Foreign keys whose referenced table is an extension member; only pairs that both
    // have data entries order anything.
    for r in ctx
        .db
        .query(
            "SELECT c.conrelid, c.confrelid FROM pg_catalog.pg_constraint c \
             JOIN pg_catalog.pg_depend d ON d.objid = c.confrelid \
             WHERE c.contype = 'f' AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass \
               AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass",
        )
        .await?
    {
        let (from, to) = (r.oid(0)?, r.oid(1)?);
        if let (Some(&i), Some(&j)) = (data_entry.get(&from), data_entry.get(&to))
            && i != j
        {
            ctx.entries[i].deps.push(Dep::Entry(j));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn rel(relkind: u8, persistence: u8, condition: &str) -> ConfigRel {
        ConfigRel {
            oid: 16400,
            extension: 16390,
            namespace: 16380,
            relkind,
            persistence,
            schema: "ext schema".into(),
            name: "Items".into(),
            owner: "alice".into(),
            condition: condition.into(),
            pages: 7,
        }
    }

    fn set(oids: &[u32]) -> Option<HashSet<u32>> {
        Some(oids.iter().copied().collect())
    }

    #[test]
    fn which_configuration_relations_the_selection_dumps() {
        let r = rel(b'r', b'p', "");
        let none = Resolved::default();
        // The extension is dumped: its configuration data is.
        assert!(selected(&none, true, false, &r));
        // -e naming another extension, or --exclude-extension naming this one: never.
        let other_ext = Resolved {
            extension_include: set(&[1]),
            ..Resolved::default()
        };
        assert!(!selected(&other_ext, false, true, &r));
        let excluded_ext = Resolved {
            extension_exclude: [16390].into(),
            table_include: set(&[16400]),
            ..Resolved::default()
        };
        assert!(!selected(&excluded_ext, false, true, &r));
        // -t / -n leave the extension out, but name the table or select its schema.
        let by_table = Resolved {
            table_include: set(&[16400]),
            ..Resolved::default()
        };
        assert!(selected(&by_table, false, false, &r));
        let other_table = Resolved {
            table_include: set(&[1]),
            ..Resolved::default()
        };
        assert!(!selected(&other_table, false, false, &r));
        assert!(selected(&none, false, true, &r));
        // -T, -N and --exclude-table-data remove it even from a dumped extension.
        for excluded in [
            Resolved {
                table_exclude: [16400].into(),
                ..Resolved::default()
            },
            Resolved {
                schema_exclude: [16380].into(),
                ..Resolved::default()
            },
            Resolved {
                table_data_exclude: [16400].into(),
                ..Resolved::default()
            },
        ] {
            assert!(!selected(&excluded, true, true, &r), "{excluded:?}");
        }
    }

    #[test]
    fn which_registered_relations_have_data() {
        assert!(wants_data(&rel(b'r', b'p', ""), true));
        assert!(wants_data(&rel(b'r', b'u', ""), false));
        assert!(!wants_data(&rel(b'r', b'u', ""), true));
        assert!(wants_data(&rel(b'S', b'p', ""), false));
        for kind in [b'p', b'v', b'm', b'f'] {
            assert!(!wants_data(&rel(kind, b'p', ""), false), "{}", kind as char);
        }
    }

    #[test]
    fn table_data_of_a_filtered_configuration_table() {
        let cols = vec![("id".to_string(), 0), ("Note".to_string(), 0), ("g".to_string(), b's')];
        let e = table_data_entry(&rel(b'r', b'p', "WHERE NOT shipped"), &cols);
        assert_eq!((e.desc.as_str(), e.tag.as_str()), ("TABLE DATA", "Items"));
        assert_eq!(e.schema.as_deref(), Some("ext schema"));
        assert_eq!(e.owner.as_deref(), Some("alice"));
        assert_eq!(e.section, Section::Data);
        assert_eq!(e.toc_oid, Some(16400));
        assert_eq!(e.deps, vec![Dep::Catalog(CatalogId::class(16400))]);
        // The archive stores a plain COPY FROM; only the read is filtered.
        assert_eq!(
            e.copy_stmt.as_deref(),
            Some("COPY \"ext schema\".\"Items\" (id, \"Note\") FROM stdin;\n")
        );
        let data = e.data.unwrap();
        assert_eq!(data.estimated_pages, 7);
        assert_eq!(
            data.copy_out_sql(),
            "COPY (SELECT id, \"Note\" FROM \"ext schema\".\"Items\" WHERE NOT shipped) TO stdout;"
        );
    }

    #[test]
    fn an_empty_condition_reads_the_whole_table() {
        let e = table_data_entry(&rel(b'r', b'p', ""), &[("id".to_string(), 0)]);
        let data = e.data.unwrap();
        assert_eq!(data.filter, None);
        assert_eq!(data.copy_out_sql(), "COPY \"ext schema\".\"Items\" (id) TO stdout;");
    }

    #[test]
    fn sequence_set_of_a_configuration_sequence() {
        let e = sequence_set_entry(&rel(b'S', b'p', ""), 42, false);
        assert_eq!((e.desc.as_str(), e.tag.as_str()), ("SEQUENCE SET", "Items"));
        assert_eq!(e.priority, Priority::SequenceSet);
        assert_eq!(e.toc_oid, None);
        assert_eq!(
            e.defn.as_deref(),
            Some("SELECT pg_catalog.setval('\"ext schema\".\"Items\"', 42, false);\n")
        );
    }
}
