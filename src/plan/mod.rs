//! Pure planning: turns catalog entries into the ordered TOC — dependency edges from
//! `pg_depend` plus the entries' own, pg_dump's type/name presort, its topological sort
//! (pg_dump_sort.c `sortDumpableObjectsByTypeName` then `TopoSort`), dump ids, and each
//! entry's dependency list for `pg_restore -j`.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};

use crate::model::{CatalogId, Dep, DependGraph, Entry, Section, catalog_oid};

/// An entry with its dump id and the dump ids it depends on, in TOC order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub dump_id: i32,
    pub entry: Entry,
    pub deps: Vec<i32>,
}

/// The planner's result, plus what it had to give up on (dependency loops it broke).
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub entries: Vec<Planned>,
    pub warnings: Vec<String>,
}

/// OIDs below this belong to initdb-created objects; dependencies on them never order
/// anything we dump (pg_dump's `FirstNormalObjectId`).
const FIRST_NORMAL_OID: u32 = 16384;

/// Orders `entries` (top-level; their `attached` entries follow each one) and assigns dump
/// ids starting at `first_id`. `ext_members` maps extension members to their extension's
/// OID, so a dependency on a member becomes one on the extension.
pub fn plan(entries: Vec<Entry>, depend: &DependGraph, ext_members: &HashMap<CatalogId, u32>, first_id: i32) -> Plan {
    let mut warnings = Vec::new();
    let n = entries.len();

    // Which entry answers for a catalog row: keys first, then claims.
    let mut owner_of: HashMap<CatalogId, usize> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        if let Some(k) = e.key {
            owner_of.entry(k).or_insert(i);
        }
    }
    for (i, e) in entries.iter().enumerate() {
        for c in &e.claims {
            owner_of.entry(*c).or_insert(i);
        }
    }
    let resolve = |id: CatalogId| -> Option<usize> {
        if let Some(i) = owner_of.get(&id) {
            return Some(*i);
        }
        ext_members
            .get(&id)
            .and_then(|ext| owner_of.get(&CatalogId::new(catalog_oid::PG_EXTENSION, *ext)).copied())
    };

    // deps[i] = entries i depends on.
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, e) in entries.iter().enumerate() {
        let mut set: Vec<usize> = Vec::new();
        for d in &e.deps {
            match d {
                Dep::Entry(j) if *j < n => set.push(*j),
                Dep::Entry(_) => {}
                Dep::Catalog(id) => {
                    if let Some(j) = resolve(*id) {
                        set.push(j);
                    }
                }
            }
        }
        // Catalog dependencies: through rows no entry answers for (e.g. a column default
        // that is part of a table, a rule), follow on to what they depend on, as pg_dump
        // does for objects it does not dump.
        let mut seen: HashSet<CatalogId> = e.catalog_ids().collect();
        let mut queue: VecDeque<CatalogId> = e.catalog_ids().collect();
        while let Some(id) = queue.pop_front() {
            for (to, _) in depend.depends_on(id) {
                if !seen.insert(*to) || to.oid < FIRST_NORMAL_OID {
                    continue;
                }
                match resolve(*to) {
                    Some(j) => set.push(j),
                    None => queue.push_back(*to),
                }
            }
        }
        set.retain(|j| *j != i);
        set.sort_unstable();
        set.dedup();
        // An entry cannot wait for one of a later section (pg_dump would postpone the
        // object; we keep its section and drop the edge, saying so).
        set.retain(|j| {
            let ok = section_rank(entries[*j].section) <= section_rank(e.section) || e.section == Section::None;
            if !ok {
                warnings.push(format!(
                    "ignoring dependency of {} {} on later {} {}",
                    e.desc, e.tag, entries[*j].desc, entries[*j].tag
                ));
            }
            ok
        });
        deps[i] = set;
    }

    // Presort by type priority and name; `rank[i]` = position of entry i in that order.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| presort_cmp(&entries[a], &entries[b]).then(a.cmp(&b)));
    let mut rank = vec![0usize; n];
    for (pos, &i) in order.iter().enumerate() {
        rank[i] = pos;
    }

    let sorted = topo_sort(&deps, &rank, &entries, &mut warnings);

    // Dump ids in final order; attached entries directly follow their parent.
    let mut id_of = vec![0i32; n];
    let mut next = first_id;
    for &i in &sorted {
        id_of[i] = next;
        next += 1 + entries[i].attached.len() as i32;
    }
    let mut out = Vec::with_capacity(n);
    let mut entries: Vec<Option<Entry>> = entries.into_iter().map(Some).collect();
    for &i in &sorted {
        let Some(mut e) = entries[i].take() else { continue };
        let attached = std::mem::take(&mut e.attached);
        let mut d: Vec<i32> = deps[i].iter().map(|j| id_of[*j]).collect();
        // pg_restore maps TABLE DATA to its table through the first dependency.
        if e.desc == "TABLE DATA" {
            if let Some(Dep::Catalog(t)) = e.deps.first()
                && let Some(j) = resolve(*t)
            {
                let table = id_of[j];
                d.retain(|x| *x != table);
                d.insert(0, table);
            }
        } else {
            d.sort_unstable();
        }
        let parent_id = id_of[i];
        out.push(Planned {
            dump_id: parent_id,
            entry: e,
            deps: d,
        });
        for (k, a) in attached.into_iter().enumerate() {
            let mut ad = vec![parent_id];
            for dep in &a.deps {
                match dep {
                    // Entry indices inside `attached` name earlier siblings (column ACLs
                    // depend on the table's ACL entry).
                    Dep::Entry(s) if *s < k => ad.push(parent_id + 1 + *s as i32),
                    Dep::Catalog(id) => {
                        if let Some(j) = resolve(*id) {
                            ad.push(id_of[j]);
                        }
                    }
                    _ => {}
                }
            }
            ad.sort_unstable();
            ad.dedup();
            out.push(Planned {
                dump_id: parent_id + 1 + k as i32,
                entry: a,
                deps: ad,
            });
        }
    }
    Plan { entries: out, warnings }
}

fn section_rank(s: Section) -> u8 {
    match s {
        Section::None | Section::PreData => 0,
        Section::Data => 1,
        Section::PostData => 2,
    }
}

/// pg_dump_sort.c `DOTypeNameCompare`: priority, then schema (objects with a schema first),
/// then name, then the kind-specific natural key, then desc, then OID.
fn presort_cmp(a: &Entry, b: &Entry) -> Ordering {
    a.priority
        .cmp(&b.priority)
        .then_with(|| match (&a.schema, &b.schema) {
            (Some(x), Some(y)) => x.as_bytes().cmp(y.as_bytes()),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
        .then_with(|| a.name.as_bytes().cmp(b.name.as_bytes()))
        .then_with(|| a.sort_extra.cmp(&b.sort_extra))
        .then_with(|| a.desc.cmp(&b.desc))
        .then_with(|| a.key.map(|k| k.oid).cmp(&b.key.map(|k| k.oid)))
}

/// pg_dump_sort.c `TopoSort`: fill the output from the end, always taking the entry latest
/// in presort order among those nothing unplaced still depends on. This keeps the result as
/// close to the presort as the dependencies allow. Loops are broken by forcing the latest
/// remaining entry, with a warning.
fn topo_sort(deps: &[Vec<usize>], rank: &[usize], entries: &[Entry], warnings: &mut Vec<String>) -> Vec<usize> {
    let n = deps.len();
    let mut dependents = vec![0usize; n];
    for ds in deps {
        for &j in ds {
            dependents[j] += 1;
        }
    }
    let mut heap: BinaryHeap<(usize, usize)> = (0..n).filter(|&i| dependents[i] == 0).map(|i| (rank[i], i)).collect();
    let mut placed = vec![false; n];
    let mut out_rev = Vec::with_capacity(n);
    while out_rev.len() < n {
        let i = match heap.pop() {
            Some((_, i)) if !placed[i] => i,
            Some(_) => continue,
            None => {
                // A loop: force the latest remaining entry out.
                let Some(i) = (0..n).filter(|&i| !placed[i]).max_by_key(|&i| rank[i]) else {
                    break;
                };
                warnings.push(format!(
                    "could not resolve dependency loop involving {} {}",
                    entries[i].desc, entries[i].tag
                ));
                i
            }
        };
        placed[i] = true;
        out_rev.push(i);
        for &j in &deps[i] {
            dependents[j] = dependents[j].saturating_sub(1);
            if dependents[j] == 0 && !placed[j] {
                heap.push((rank[j], j));
            }
        }
    }
    out_rev.reverse();
    out_rev
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Priority, depend::DependRow};

    fn table(name: &str, oid: u32) -> Entry {
        Entry::new("TABLE", Priority::Table, Section::PreData, name)
            .with_schema("public")
            .with_key(CatalogId::class(oid))
    }

    fn tags(p: &Plan) -> Vec<String> {
        p.entries
            .iter()
            .map(|e| format!("{} {}", e.entry.desc, e.entry.tag))
            .collect()
    }

    #[test]
    fn presort_orders_by_priority_then_name() {
        let idx = Entry::new("INDEX", Priority::Index, Section::PostData, "a_idx").with_schema("public");
        let schema = Entry::new("SCHEMA", Priority::Schema, Section::PreData, "s");
        let p = plan(
            vec![table("b", 20000), idx, table("a", 20001), schema],
            &DependGraph::default(),
            &HashMap::new(),
            1,
        );
        assert_eq!(tags(&p), ["SCHEMA s", "TABLE a", "TABLE b", "INDEX a_idx"]);
        assert_eq!(p.entries.iter().map(|e| e.dump_id).collect::<Vec<_>>(), [1, 2, 3, 4]);
    }

    #[test]
    fn dependencies_move_entries_as_little_as_needed() {
        // b depends on c (pg_depend), so c must move before b; a stays first.
        let g = DependGraph::new([DependRow {
            from: CatalogId::class(20001),
            to: CatalogId::class(20002),
            deptype: b'n',
        }]);
        let p = plan(
            vec![table("a", 20000), table("b", 20001), table("c", 20002)],
            &g,
            &HashMap::new(),
            10,
        );
        assert_eq!(tags(&p), ["TABLE a", "TABLE c", "TABLE b"]);
        assert_eq!(p.entries[2].deps, vec![11]);
    }

    #[test]
    fn dependencies_follow_through_rows_no_entry_claims() {
        // table 20001 → attrdef 30000 (unclaimed) → table 20002
        let g = DependGraph::new([
            DependRow {
                from: CatalogId::class(20001),
                to: CatalogId::new(catalog_oid::PG_ATTRDEF, 30000),
                deptype: b'a',
            },
            DependRow {
                from: CatalogId::new(catalog_oid::PG_ATTRDEF, 30000),
                to: CatalogId::class(20002),
                deptype: b'n',
            },
        ]);
        let p = plan(vec![table("a", 20001), table("b", 20002)], &g, &HashMap::new(), 1);
        assert_eq!(tags(&p), ["TABLE b", "TABLE a"]);
    }

    #[test]
    fn attached_entries_follow_parent_and_data_lists_table_first() {
        let mut t = table("t", 20000);
        t.attached
            .push(Entry::new("COMMENT", Priority::Table, Section::None, "t").with_tag("TABLE t"));
        let data = Entry::new("TABLE DATA", Priority::TableData, Section::Data, "t")
            .with_schema("public")
            .with_dep(Dep::Catalog(CatalogId::class(20000)));
        let p = plan(vec![data, t], &DependGraph::default(), &HashMap::new(), 1);
        assert_eq!(tags(&p), ["TABLE t", "COMMENT TABLE t", "TABLE DATA t"]);
        assert_eq!(p.entries[1].deps, vec![1]);
        assert_eq!(p.entries[2].deps, vec![1]);
        assert_eq!(p.entries[2].dump_id, 3);
    }

    #[test]
    fn loops_are_broken_with_a_warning() {
        let g = DependGraph::new([
            DependRow {
                from: CatalogId::class(20000),
                to: CatalogId::class(20001),
                deptype: b'n',
            },
            DependRow {
                from: CatalogId::class(20001),
                to: CatalogId::class(20000),
                deptype: b'n',
            },
        ]);
        let p = plan(vec![table("a", 20000), table("b", 20001)], &g, &HashMap::new(), 1);
        assert_eq!(p.entries.len(), 2);
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    }

    #[test]
    fn extension_members_stand_for_their_extension() {
        let ext = Entry::new("EXTENSION", Priority::Extension, Section::PreData, "citext")
            .with_key(CatalogId::new(catalog_oid::PG_EXTENSION, 20500));
        let member_type = CatalogId::new(catalog_oid::PG_TYPE, 20600);
        let g = DependGraph::new([DependRow {
            from: CatalogId::class(20000),
            to: member_type,
            deptype: b'n',
        }]);
        let members = HashMap::from([(member_type, 20500)]);
        let p = plan(vec![table("t", 20000), ext], &g, &members, 1);
        assert_eq!(tags(&p), ["EXTENSION citext", "TABLE t"]);
        assert_eq!(p.entries[1].deps, vec![1]);
    }
}
