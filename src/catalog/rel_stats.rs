//! Relation statistics (`STATISTICS DATA`, pg_dump 18 with `--statistics` or
//! `--statistics-only`; pg_dump.c `getRelationStatistics`, `dumpRelationStats_dumper`).
//!
//! One entry per dumped table, partitioned table, materialized view and foreign table, and
//! per index of those: `pg_class` counters and the `pg_stats` rows, read under the dump's
//! snapshot. The rows come from the `pg_stats` view, which every supported server has, so
//! servers before 18 are dumped too (without `relallfrozen`, which 18 added; the range
//! fields only from 17, where `pg_stats` gained them). Table statistics are data; index
//! statistics are post-data; a materialized view's follow its REFRESH (which resets them)
//! into post-data when its data is dumped.

use std::collections::HashMap;

use super::{Ctx, oid_array};
use crate::ddl::rel_stats::{AttrStats, Column, RelCounters, relation_stats_sql};
use crate::error::{Error, Result};
use crate::model::{CatalogId, Dep, Entry, Priority, Section, catalog_oid};

/// A relation whose statistics are dumped.
struct Target {
    oid: u32,
    schema: String,
    name: String,
    /// `r`, `p`, `m`, `f`; for indexes `i`, or `I` for a partition of a partitioned index
    /// (pg_dump's choice, which only the planner looks at).
    relkind: u8,
    counters: RelCounters,
    /// Index columns by name, in attnum order, when the index has expressions: those
    /// columns are addressed by number.
    index_columns: Option<Vec<String>>,
    /// The PRIMARY KEY / UNIQUE / EXCLUDE constraint an index backs.
    constraint: Option<u32>,
}

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    if !ctx.selection.statistics {
        return Ok(());
    }
    let rels = ctx.dumped_relation_oids(b"rpmf");
    if rels.is_empty() {
        return Ok(());
    }
    let oids = oid_array(&rels);
    let v18 = ctx.version.at_least(18);
    let frozen = |alias: &str| {
        if v18 {
            format!("{alias}.relallfrozen")
        } else {
            "NULL".to_string()
        }
    };
    let mut targets = Vec::new();
    for r in ctx
        .db
        .text_rows(&format!(
            "SELECT c.oid, n.nspname, c.relname, c.relkind, c.relpages, c.reltuples, c.relallvisible, {} \
             FROM unnest('{oids}'::pg_catalog.oid[]) AS u(oid) \
             JOIN pg_catalog.pg_class c ON c.oid = u.oid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace ORDER BY c.oid",
            frozen("c")
        ))
        .await?
    {
        targets.push(Target {
            oid: num(&r, 0)? as u32,
            schema: field(&r, 1)?,
            name: field(&r, 2)?,
            relkind: field(&r, 3)?.bytes().next().unwrap_or(b'r'),
            counters: counters(&r, 4)?,
            index_columns: None,
            constraint: None,
        });
    }
    // getIndexes: every valid, ready index of those tables (an invalid one of a partitioned
    // table too), with its column names when it has expressions.
    for r in ctx
        .db
        .text_rows(&format!(
            "SELECT t.oid, n.nspname, t.relname, \
             CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_inherits inh WHERE inh.inhrelid = i.indexrelid) \
               THEN 'I' ELSE 'i' END, \
             t.relpages, t.reltuples, t.relallvisible, {}, \
             CASE WHEN i.indexprs IS NOT NULL THEN (SELECT pg_catalog.array_agg(a.attname ORDER BY a.attnum) \
               FROM pg_catalog.pg_attribute a WHERE a.attrelid = i.indexrelid) END, \
             (SELECT co.oid FROM pg_catalog.pg_constraint co WHERE co.conrelid = i.indrelid \
               AND co.conindid = i.indexrelid AND co.contype IN ('p', 'u', 'x') LIMIT 1) \
             FROM unnest('{oids}'::pg_catalog.oid[]) AS u(oid) \
             JOIN pg_catalog.pg_index i ON i.indrelid = u.oid \
             JOIN pg_catalog.pg_class t ON t.oid = i.indexrelid \
             JOIN pg_catalog.pg_class t2 ON t2.oid = i.indrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = t2.relnamespace \
             WHERE (i.indisvalid OR t2.relkind = 'p') AND i.indisready \
             ORDER BY i.indrelid, t.relname",
            frozen("t")
        ))
        .await?
    {
        let index_columns = match r.get(8).cloned().flatten() {
            Some(text) => Some(parse_name_array(&text)?),
            None => None,
        };
        targets.push(Target {
            oid: num(&r, 0)? as u32,
            schema: field(&r, 1)?,
            name: field(&r, 2)?,
            relkind: field(&r, 3)?.bytes().next().unwrap_or(b'i'),
            counters: counters(&r, 4)?,
            index_columns,
            constraint: match r.get(9).cloned().flatten() {
                Some(c) => Some(
                    c.parse()
                        .map_err(|_| Error::internal(format!("bad constraint oid {c}")))?,
                ),
                None => None,
            },
        });
    }
    let mut attrs = attribute_stats(ctx, &targets).await?;
    let version = ctx.version.0;
    for t in targets {
        let rows = attrs.remove(&t.oid).unwrap_or_default();
        let mut cols = Vec::with_capacity(rows.len());
        for (attname, a) in rows {
            let col = match &t.index_columns {
                None => Column::Name(attname),
                Some(names) => match names.iter().position(|n| *n == attname) {
                    Some(p) => Column::Num(p + 1),
                    None => {
                        return Err(Error::internal(format!(
                            "could not find index attname \"{attname}\" of index \"{}\"",
                            t.name
                        )));
                    }
                },
            };
            cols.push((col, a));
        }
        let defn = relation_stats_sql(version, &t.schema, &t.name, &t.counters, &cols);
        let mut section = match t.relkind {
            b'i' | b'I' => Section::PostData,
            _ => Section::Data,
        };
        // A constraint's index has no entry of its own: its statistics wait for the
        // constraint, which is all pg_dump's TOC lists for them (the index's dump id names
        // no entry).
        let on = match t.constraint {
            Some(con) => CatalogId::new(catalog_oid::PG_CONSTRAINT, con),
            None => CatalogId::class(t.oid),
        };
        let mut e = Entry::new("STATISTICS DATA", Priority::StatisticsData, section, t.name.clone())
            .with_schema(t.schema.clone())
            .with_defn(defn)
            .with_dep(Dep::Catalog(on));
        // A REFRESH replaces the matview's storage and resets its statistics, so they are
        // restored after it (pg_dump.c `makeTableDataInfo`).
        if t.relkind == b'm' && ctx.table_data_dumped(t.oid) {
            section = Section::PostData;
            if let Some(i) = ctx
                .entries
                .iter()
                .position(|d| d.desc == "MATERIALIZED VIEW DATA" && d.toc_oid == Some(t.oid))
            {
                e.deps.push(Dep::Entry(i));
            }
        }
        e.section = section;
        // For the planner's loop repair; not written to the TOC. No owner either: pg_dump
        // writes none for statistics entries.
        e.relkind = Some(t.relkind);
        ctx.push(e);
    }
    Ok(())
}

/// The `pg_stats` rows of the targets, by relation OID, each relation's ordered by column
/// name then `inherited` (false first), as pg_dump reads them.
async fn attribute_stats(ctx: &Ctx<'_>, targets: &[Target]) -> Result<HashMap<u32, Vec<(String, AttrStats)>>> {
    let mut out: HashMap<u32, Vec<(String, AttrStats)>> = HashMap::new();
    if targets.is_empty() {
        return Ok(out);
    }
    let mut oids: Vec<u32> = targets.iter().map(|t| t.oid).collect();
    oids.sort_unstable();
    let ranges = if ctx.version.at_least(17) {
        "s.range_length_histogram, s.range_empty_frac, s.range_bounds_histogram"
    } else {
        "NULL, NULL, NULL"
    };
    for r in ctx
        .db
        .text_rows(&format!(
            "SELECT c.oid, s.attname, s.inherited, s.null_frac, s.avg_width, s.n_distinct, \
             s.most_common_vals, s.most_common_freqs, s.histogram_bounds, s.correlation, \
             s.most_common_elems, s.most_common_elem_freqs, s.elem_count_histogram, {ranges} \
             FROM unnest('{}'::pg_catalog.oid[]) AS u(oid) \
             JOIN pg_catalog.pg_class c ON c.oid = u.oid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_catalog.pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname \
             ORDER BY c.oid, s.attname, s.inherited",
            oid_array(&oids)
        ))
        .await?
    {
        let oid = num(&r, 0)? as u32;
        let attname = r
            .get(1)
            .cloned()
            .flatten()
            .ok_or_else(|| Error::internal("unexpected null attname in pg_stats"))?;
        let v = |i: usize| r.get(i).cloned().flatten();
        let a = AttrStats {
            inherited: v(2),
            null_frac: v(3),
            avg_width: v(4),
            n_distinct: v(5),
            most_common_vals: v(6),
            most_common_freqs: v(7),
            histogram_bounds: v(8),
            correlation: v(9),
            most_common_elems: v(10),
            most_common_elem_freqs: v(11),
            elem_count_histogram: v(12),
            range_length_histogram: v(13),
            range_empty_frac: v(14),
            range_bounds_histogram: v(15),
        };
        out.entry(oid).or_default().push((attname, a));
    }
    Ok(out)
}

fn field(r: &[Option<String>], i: usize) -> Result<String> {
    r.get(i)
        .cloned()
        .flatten()
        .ok_or_else(|| Error::internal(format!("unexpected NULL in column {i} of a statistics query")))
}

fn num(r: &[Option<String>], i: usize) -> Result<i64> {
    let s = field(r, i)?;
    s.parse().map_err(|_| {
        Error::internal(format!(
            "expected a number in column {i} of a statistics query, got {s:?}"
        ))
    })
}

/// relpages, reltuples, relallvisible, relallfrozen from column `i` on.
fn counters(r: &[Option<String>], i: usize) -> Result<RelCounters> {
    Ok(RelCounters {
        relpages: num(r, i)?,
        reltuples: field(r, i + 1)?,
        relallvisible: num(r, i + 2)?,
        relallfrozen: match r.get(i + 3).cloned().flatten() {
            Some(_) => Some(num(r, i + 3)?),
            None => None,
        },
    })
}

/// A `name[]` in the server's text form (`{a,"b c"}`), as its elements.
fn parse_name_array(text: &str) -> Result<Vec<String>> {
    let inner = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(|| Error::internal(format!("could not parse name array {text:?}")))?;
    let mut items = Vec::new();
    if inner.is_empty() {
        return Ok(items);
    }
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ',' if !quoted => items.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    items.push(cur);
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_arrays_with_quotes_and_commas() {
        assert_eq!(parse_name_array("{id,lower}").unwrap(), vec!["id", "lower"]);
        assert_eq!(
            parse_name_array(r#"{"a,b","say \"x\"",c}"#).unwrap(),
            vec!["a,b", "say \"x\"", "c"]
        );
        assert_eq!(parse_name_array("{}").unwrap(), Vec::<String>::new());
        assert!(parse_name_array("id").is_err());
    }

    #[test]
    fn counters_keep_reltuples_text_and_tolerate_no_relallfrozen() {
        let row = vec![
            Some("3".to_string()),
            Some("1e+06".to_string()),
            Some("2".to_string()),
            None,
        ];
        assert_eq!(
            counters(&row, 0).unwrap(),
            RelCounters {
                relpages: 3,
                reltuples: "1e+06".into(),
                relallvisible: 2,
                relallfrozen: None,
            }
        );
    }
}
