//! Table constraints with entries of their own (pg_dump.c `getConstraints`,
//! `getIndexes` for constraint indexes, `dumpConstraint`): CONSTRAINT (PRIMARY KEY, UNIQUE,
//! EXCLUDE, 18's NOT VALID NOT NULL), FK CONSTRAINT and separate CHECK CONSTRAINT. In a
//! data-only dump, foreign keys also order the tables' data (`getTableDataFKConstraints`).

use std::collections::HashMap;

use super::Ctx;
use super::tables::table_constraint_key;
use crate::ddl::comment::comment_entry;
use crate::ddl::constraint::{add_constraint_sql, cluster_on_sql, drop_constraint_sql, replica_identity_sql};
use crate::ddl::quote::{ident, qualified};
use crate::error::Result;
use crate::model::{CatalogId, Dep, Entry, Part, PartKind, Priority, Section, catalog_oid};

/// The constraints query (also run ahead by a catalog helper).
// The definition only where it is printed below: a valid or inherited CHECK or NOT NULL
// constraint is part of its table's definition (read by the tables reader), and NOT NULL
// constraints (PostgreSQL 18 keeps one per not-null column) are as many as the key columns:
// rendering theirs took a quarter of this query's time on 10 000 tables.
pub(crate) const LIST_SQL: &str = "SELECT co.oid, co.conname, co.contype, co.conrelid, \
             CASE WHEN co.contype NOT IN ('c', 'n') OR (co.conislocal AND NOT co.convalidated) \
             THEN pg_catalog.pg_get_constraintdef(co.oid) END, \
             co.conindid, coalesce(i.indisclustered, false), coalesce(i.indisreplident, false), \
             co.convalidated, co.conislocal, co.conparentid, coalesce(ts.spcname, ''), ic.relname, co.confrelid, \
             CASE WHEN co.contype = 'f' THEN ARRAY(SELECT pt.relid::pg_catalog.oid FROM pg_catalog.pg_partition_tree(co.conindid) pt \
               WHERE pt.parentrelid IS NOT NULL) END \
             FROM pg_catalog.pg_constraint co \
             LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = co.conindid AND co.contype IN ('p', 'u', 'x') \
             LEFT JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid \
             LEFT JOIN pg_catalog.pg_tablespace ts ON ts.oid = ic.reltablespace \
             WHERE co.conrelid <> 0 AND co.contype IN ('p', 'u', 'x', 'f', 'c', 'n') \
             ORDER BY co.conrelid, co.conname";

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    let rels = ctx.relations.clone();
    let rows = ctx.query(LIST_SQL).await?;
    // Foreign keys between tables whose data is dumped: (referencing, referenced) table.
    let mut data_fks: Vec<(u32, u32)> = Vec::new();
    for r in rows {
        let oid = r.oid(0)?;
        let Some(t) = rels.get(&r.oid(3)?) else { continue };
        if !matches!(t.relkind, b'r' | b'p') {
            continue;
        }
        let name = r.text(1)?;
        let contype = r.char(2)?;
        let validated = r.bool(8)?;
        let islocal = r.bool(9)?;
        let partitioned = t.relkind == b'p';
        if contype == b'f' && r.oid(10)? == 0 {
            data_fks.push((t.oid, r.oid(13)?));
        }
        let (desc, priority, only) = match contype {
            b'p' | b'u' | b'x' => ("CONSTRAINT", Priority::Constraint, true),
            b'f' if r.oid(10)? == 0 => ("FK CONSTRAINT", Priority::FkConstraint, !partitioned),
            // Separate only when not valid (the valid ones are inline in the TABLE entry).
            b'c' if !validated && islocal => ("CHECK CONSTRAINT", Priority::Constraint, false),
            b'n' if !validated && islocal => ("CONSTRAINT", Priority::Constraint, false),
            _ => continue,
        };
        let def = r.text(4)?;
        let mut defn = add_constraint_sql(&t.qualified, only, &name, &def);
        let mut e = Entry::new(desc, priority, Section::PostData, name.clone())
            .with_key(CatalogId::new(catalog_oid::PG_CONSTRAINT, oid))
            .with_tag(format!("{} {}", t.name, name))
            .with_schema(t.schema.clone())
            .with_owner(t.owner.clone())
            .with_drop(drop_constraint_sql(&t.qualified, only, &name));
        // A foreign key referencing a partitioned table needs the referenced unique index
        // complete: every partition's index attached (pg_dump's `addConstrChildIdxDeps`).
        if contype == b'f' {
            for child in r.oid_array(14)? {
                e.deps
                    .push(Dep::Catalog(CatalogId::new(catalog_oid::PG_INHERITS, child)));
            }
        }
        e.sort_extra = table_constraint_key(&t.name);
        let index_oid = r.oid(5)?;
        let mut index_part = None;
        if matches!(contype, b'p' | b'u' | b'x') && index_oid != 0 {
            e.tablespace = Some(r.text(11)?);
            let index_name = r.opt_text(12)?.unwrap_or_default();
            // The index is an object of its own to pg_dump's sorter: it follows the
            // constraint, and its parent index (a partition's key), not the constraint.
            index_part = Some(Part::new(
                PartKind::ConstraintIndex,
                CatalogId::class(index_oid),
                Priority::Index,
                index_name.clone(),
            ));
            if r.bool(6)? {
                defn.push_str(&cluster_on_sql(&t.qualified, &index_name));
            }
            if r.bool(7)? {
                defn.push_str(&replica_identity_sql(&t.qualified, &index_name));
            }
        }
        e.defn = Some(defn);
        if let Some(text) = ctx.comment(catalog_oid::PG_CONSTRAINT, oid, 0) {
            let c = comment_entry(
                &e,
                "CONSTRAINT",
                &format!("{} ON {}", ident(&name), t.qualified),
                &format!("{} ON {}", ident(&name), ident(&t.name)),
                text,
            );
            e.attached.push(c);
        }
        if let Some(mut part) = index_part {
            // Its comment comes where the index sorts (pg_dump.c `dumpIndex`).
            if let Some(text) = ctx.comment(catalog_oid::PG_CLASS, index_oid, 0) {
                let c = comment_entry(&e, "INDEX", &qualified(&t.schema, &part.name), &ident(&part.name), text);
                part = part.with_separate(c);
            }
            e.parts.push(part);
        }
        ctx.push(e);
    }
    if !ctx.selection.schema {
        order_data_by_foreign_keys(&mut ctx.entries, &data_fks);
    }
    Ok(())
}

/// Data-only dumps have no constraints to restore after the data, so a referencing table's
/// data waits for its referenced table's data (pg_dump.c `getTableDataFKConstraints`); the
/// planner warns about cycles, as pg_dump does.
fn order_data_by_foreign_keys(entries: &mut [Entry], fks: &[(u32, u32)]) {
    let data_of: HashMap<u32, usize> = entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| e.data.as_ref().map(|d| (d.table_oid, i)))
        .collect();
    for (from, to) in fks {
        if let (Some(&i), Some(&j)) = (data_of.get(from), data_of.get(to))
            && !entries[i].deps.contains(&Dep::Entry(j))
        {
            entries[i].deps.push(Dep::Entry(j));
        }
    }
}
