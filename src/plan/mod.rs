//! Pure planning: turns catalog entries into the ordered TOC, as pg_dump_sort.c does it.
//!
//! Every entry, every sub-object of an entry ([`Part`]: inline defaults and CHECKs, a view's
//! ON SELECT rule, domain constraints, row and array types) and the two section boundaries
//! are nodes of one graph. Edges come from the entries' own dependencies, from `pg_depend`
//! (through rows no node answers for, as pg_dump skips objects it does not collect), from
//! owners to their inline parts, and from the boundaries (`addBoundaryDependencies`: pre-data
//! before the pre-data boundary, data between the boundaries, post-data after the post-data
//! boundary). The nodes are presorted by type and name (`sortDumpableObjectsByTypeName`)
//! and sorted topologically (`TopoSort`); when that fails, loops are found
//! (`findDependencyLoops`) and repaired as pg_dump repairs them (`repairDependencyLoop`):
//! splitting a part out of its owner, giving a view a dummy body, postponing a function or
//! materialized view to post-data, or — for loops pg_dump cannot resolve either — dropping
//! an edge with pg_dump's warning. Then dump ids and each entry's dependency list.

pub mod loops;

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;

use crate::model::{CatalogId, Dep, DependGraph, Entry, IdMap, IdSet, PartKind, Priority, Section, catalog_oid};

/// An entry with its dump id and the dump ids it depends on, in TOC order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub dump_id: i32,
    pub entry: Entry,
    pub deps: Vec<i32>,
}

/// The planner's result, plus the dependency loops it could only break by force.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub entries: Vec<Planned>,
    pub warnings: Vec<PlanWarning>,
}

/// What pg_dump would warn about while sorting (pg_dump_sort.c `repairDependencyLoop`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanWarning {
    /// A loop made only of table data: circular foreign keys in a data-only dump. Holds the
    /// tables' names.
    CircularForeignKeys(Vec<String>),
    /// A loop no rule resolves; one of its edges was dropped. Holds the objects' descriptions.
    UnresolvedLoop(Vec<String>),
}

impl fmt::Display for PlanWarning {
    /// pg_dump's wording: the message, then `detail:` and `hint:` lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanWarning::CircularForeignKeys(tables) => {
                if tables.len() == 1 {
                    f.write_str("there are circular foreign-key constraints on this table:")?;
                } else {
                    f.write_str("there are circular foreign-key constraints among these tables:")?;
                }
                for t in tables {
                    write!(f, "\ndetail: {t}")?;
                }
                f.write_str(
                    "\nhint: You might not be able to restore the dump without using --disable-triggers or \
                     temporarily dropping the constraints.\nhint: Consider using a full dump instead of a \
                     --data-only dump to avoid this problem.",
                )
            }
            PlanWarning::UnresolvedLoop(items) => {
                f.write_str("could not resolve dependency loop among these items:")?;
                for i in items {
                    write!(f, "\ndetail: {i}")?;
                }
                Ok(())
            }
        }
    }
}

/// OIDs below this belong to initdb-created objects (pg_dump's `FirstNormalObjectId`). A
/// dependency on one orders something only when a node answers for it (an
/// `information_schema` view that -t selected); the search never walks through them.
const FIRST_NORMAL_OID: u32 = 16384;

/// A node of the sort: an entry, a part of one, or a section boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Obj {
    Entry(usize),
    Part(usize, usize),
    PreBoundary,
    PostBoundary,
}

/// The dependency graph being sorted, with what loop repair decided so far.
pub(crate) struct Graph<'a> {
    /// Owned, so the emitted entries move out of it instead of being copied.
    pub(crate) entries: Vec<Entry>,
    pub(crate) depend: &'a DependGraph,
    ext_members: &'a IdMap<u32>,
    /// Which node answers for a catalog row: keys first, then parts, then claims.
    owner_of: IdMap<usize>,
    pub(crate) objs: Vec<Obj>,
    /// deps[n] = nodes n must follow, in the order they were added.
    pub(crate) deps: Vec<Vec<usize>>,
    /// A part printed as an entry of its own.
    pub(crate) split: Vec<bool>,
    /// An entry moved to post-data (a function or materialized view, or matview statistics).
    pub(crate) postponed: Vec<bool>,
    pub(crate) pre: usize,
    pub(crate) post: usize,
    pub(crate) warnings: Vec<PlanWarning>,
    /// entry index → node; entry index → node of its first part (the others follow it).
    entry_node: Vec<usize>,
    part_start: Vec<usize>,
}

/// Orders `entries` (top-level; their `attached` entries follow each one) and assigns dump
/// ids starting at `first_id`. `ext_members` maps extension members to their extension's
/// OID, so a dependency on a member becomes one on the extension.
pub fn plan(entries: Vec<Entry>, depend: &DependGraph, ext_members: &IdMap<u32>, first_id: i32) -> Plan {
    let mut g = Graph::build(entries, depend, ext_members);
    let order = g.sort();
    let warnings = std::mem::take(&mut g.warnings);
    let mut out = g.emit(order, first_id);
    out.warnings = warnings;
    out
}

impl<'a> Graph<'a> {
    fn build(entries: Vec<Entry>, depend: &'a DependGraph, ext_members: &'a IdMap<u32>) -> Graph<'a> {
        // Nodes: entries in reader order (close to pg_dump's dump-id order), then parts, then
        // the boundaries (created last by pg_dump too).
        let mut objs: Vec<Obj> = (0..entries.len()).map(Obj::Entry).collect();
        let entry_node: Vec<usize> = (0..entries.len()).collect();
        let mut part_start = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            part_start.push(objs.len());
            objs.extend((0..e.parts.len()).map(|p| Obj::Part(i, p)));
        }
        let part_node = |i: usize, p: usize| part_start[i] + p;
        let pre = objs.len();
        objs.push(Obj::PreBoundary);
        let post = objs.len();
        objs.push(Obj::PostBoundary);

        // Which node answers for a catalog row: keys first, then parts, then claims.
        let mut owner_of: IdMap<usize> = IdMap::default();
        for (i, e) in entries.iter().enumerate() {
            if let Some(k) = e.key {
                owner_of.entry(k).or_insert(entry_node[i]);
            }
        }
        for (i, e) in entries.iter().enumerate() {
            for (p, part) in e.parts.iter().enumerate() {
                owner_of.entry(part.id).or_insert(part_node(i, p));
            }
        }
        for (i, e) in entries.iter().enumerate() {
            for c in &e.claims {
                owner_of.entry(*c).or_insert(entry_node[i]);
            }
        }
        let resolve = |id: CatalogId| -> Option<usize> {
            if let Some(n) = owner_of.get(&id) {
                return Some(*n);
            }
            ext_members
                .get(&id)
                .and_then(|ext| owner_of.get(&CatalogId::new(catalog_oid::PG_EXTENSION, *ext)).copied())
        };
        // What a set of catalog rows depends on, through rows no node answers for. The walk's
        // scratch set and queue serve every node (tens of thousands in a large schema).
        let mut seen = IdSet::default();
        let mut queue = VecDeque::new();
        let mut through_depend = |node: usize, start: &[CatalogId], out: &mut Vec<usize>| {
            // A walk that grew the set large (an extension's members) is not cleared again
            // for every later node: clearing costs the set's capacity.
            if seen.capacity() > 1024 {
                seen = IdSet::default();
            } else {
                seen.clear();
            }
            seen.extend(start.iter().copied());
            queue.clear();
            queue.extend(start.iter().copied());
            while let Some(id) = queue.pop_front() {
                for (to, _) in depend.depends_on(id) {
                    if !seen.insert(*to) {
                        continue;
                    }
                    match resolve(*to) {
                        // Edges back to the node itself come from merged rows (a column's
                        // dependency on its table, a type's on its relation).
                        Some(n) if n == node => {}
                        Some(n) => push_unique(out, n),
                        // pg_dump sorts every object it collected, system ones included
                        // (pg_dump_sort.c), so initdb's views order each other when dumped;
                        // but it collects none of the system catalogs' rows we would pass.
                        None if to.oid < FIRST_NORMAL_OID => {}
                        None => queue.push_back(*to),
                    }
                }
            }
        };

        let mut deps: Vec<Vec<usize>> = vec![Vec::new(); objs.len()];
        for (i, e) in entries.iter().enumerate() {
            let n = entry_node[i];
            let mut d = Vec::new();
            // An owner depends on its inline parts, so what they need comes first
            // (getTableAttrs, getRules, getDomainConstraints).
            for (p, part) in e.parts.iter().enumerate() {
                if inline_dependency(part.kind) {
                    push_unique(&mut d, part_node(i, p));
                }
            }
            for dep in &e.deps {
                match dep {
                    Dep::Entry(j) if *j < entries.len() => push_unique(&mut d, entry_node[*j]),
                    Dep::Entry(_) => {}
                    Dep::Catalog(id) => {
                        if let Some(m) = resolve(*id).filter(|m| *m != n) {
                            push_unique(&mut d, m);
                        }
                    }
                }
            }
            let ids: Vec<CatalogId> = e.catalog_ids().collect();
            through_depend(n, &ids, &mut d);
            deps[n] = d;
            for (p, part) in e.parts.iter().enumerate() {
                let pn = part_node(i, p);
                let mut d = Vec::new();
                through_depend(pn, &[part.id], &mut d);
                for dep in part.separate.iter().flat_map(|s| s.deps.iter()) {
                    if let Dep::Catalog(id) = dep
                        && let Some(m) = resolve(*id).filter(|m| *m != pn)
                    {
                        push_unique(&mut d, m);
                    }
                }
                deps[pn] = d;
            }
        }

        let mut g = Graph {
            entries,
            depend,
            ext_members,
            owner_of,
            objs,
            deps,
            split: vec![false; pre + 2],
            postponed: vec![false; pre + 2],
            pre,
            post,
            warnings: Vec::new(),
            entry_node,
            part_start,
        };
        g.add_boundaries();
        g
    }

    /// pg_dump.c `addBoundaryDependencies`: by section for entries; inline defaults and dummy
    /// types are pre-data; inline CHECKs, domain constraints and ON SELECT rules are bound to
    /// no section until split out.
    ///
    /// The boundaries' own lists get one edge per node, each node visited once, so they are
    /// appended to without the duplicate check (linear in their length: quadratic over a
    /// database of 10 000 tables).
    fn add_boundaries(&mut self) {
        let (pre, post) = (self.pre, self.post);
        for n in 0..self.objs.len() {
            match self.objs[n] {
                Obj::Entry(i) => match self.entries[i].section {
                    Section::PreData => self.deps[pre].push(n),
                    Section::Data => {
                        self.add_dep(n, pre);
                        self.deps[post].push(n);
                    }
                    Section::PostData => self.add_dep(n, post),
                    Section::None => {}
                },
                Obj::Part(i, p) => match self.entries[i].parts[p].kind {
                    PartKind::Default | PartKind::DummyType => self.deps[pre].push(n),
                    PartKind::ConstraintIndex => self.add_dep(n, self.post),
                    PartKind::Check | PartKind::DomainConstraint | PartKind::SelectRule => {}
                },
                Obj::PreBoundary => {}
                Obj::PostBoundary => self.add_dep(n, self.pre),
            }
        }
    }

    pub(crate) fn add_dep(&mut self, from: usize, to: usize) {
        push_unique(&mut self.deps[from], to);
    }

    pub(crate) fn remove_dep(&mut self, from: usize, to: usize) {
        self.deps[from].retain(|d| *d != to);
    }

    /// Sorts until every loop is repaired (`sortDumpableObjects`).
    fn sort(&mut self) -> Vec<usize> {
        let n = self.objs.len();
        let mut order: Vec<usize> = (0..n).collect();
        // Keys built once: a comparison then never re-derives a node's type rank.
        let keys: Vec<SortKey<'_>> = (0..n).map(|i| self.sort_key(i)).collect();
        order.sort_by(|&a, &b| presort_cmp(&keys[a], &keys[b]).then(a.cmp(&b)));
        let mut rank = vec![0usize; n];
        for (pos, &i) in order.iter().enumerate() {
            rank[i] = pos;
        }
        loop {
            match topo_sort(&self.deps, &rank) {
                Ok(sorted) => return sorted,
                Err(stuck) => {
                    if !self.find_dependency_loops(&stuck) {
                        // Cannot happen (a failed sort always leaves a loop), but never spin:
                        // cut the first stuck node loose, saying so.
                        let first = stuck[0];
                        self.warnings
                            .push(PlanWarning::UnresolvedLoop(vec![self.describe(first)]));
                        self.deps[first].clear();
                    }
                }
            }
        }
    }

    fn sort_key(&self, n: usize) -> SortKey<'_> {
        match self.objs[n] {
            Obj::Entry(i) => {
                let e = &self.entries[i];
                SortKey {
                    priority: e.priority,
                    schema: e.schema.as_deref(),
                    name: &e.name,
                    obj_type: obj_type_rank(&e.desc),
                    extra: &e.sort_extra,
                    desc: &e.desc,
                    oid: e.key.map(|k| k.oid),
                }
            }
            Obj::Part(i, p) => {
                let part = &self.entries[i].parts[p];
                SortKey {
                    priority: part.priority,
                    schema: self.entries[i].schema.as_deref(),
                    name: &part.name,
                    obj_type: part_type_rank(part.kind),
                    extra: &part.sort_extra,
                    desc: "",
                    oid: Some(part.id.oid),
                }
            }
            Obj::PreBoundary => SortKey::boundary(Priority::PreDataBoundary),
            Obj::PostBoundary => SortKey::boundary(Priority::PostDataBoundary),
        }
    }

    /// Emits the sorted entries with dump ids: entries with their decided form, split-out
    /// parts as entries of their own; boundaries and inline parts print nothing. Each entry's
    /// fields move out of the graph as it is pushed, so one copy of the catalog is alive at a
    /// time (copying them was a fifth of planning 10 000 tables, and a 3000-table dump held
    /// about 16 MB twice).
    fn emit(mut self, order: Vec<usize>, first_id: i32) -> Plan {
        let n = self.objs.len();
        // How many entries each node prints (itself and its attached ones; 0 = nothing).
        let width: Vec<usize> = (0..n)
            .map(|node| match self.objs[node] {
                Obj::Entry(i) => {
                    1 + self
                        .kept_attached(i, &self.split_parts(i))
                        .into_iter()
                        .filter(|k| *k)
                        .count()
                }
                Obj::Part(i, p) if self.part_printed(node, i, p) => self.entries[i].parts[p]
                    .separate
                    .as_ref()
                    .map_or(0, |s| 1 + s.attached.len()),
                _ => 0,
            })
            .collect();
        let mut id_of = vec![0i32; n];
        let mut next = first_id;
        for &node in &order {
            if width[node] > 0 {
                id_of[node] = next;
                next += width[node] as i32;
            }
        }
        let mut out = Vec::with_capacity(width.iter().sum());
        let mut seen = vec![0usize; n];
        for &node in &order {
            if width[node] == 0 {
                continue;
            }
            let mut e = match self.objs[node] {
                Obj::Entry(i) => self.take_final_entry(i),
                // A constraint's index is printed once and never consulted again; another
                // split part's entry is still compared by its owner's (`kept_attached`).
                Obj::Part(i, p) => {
                    let part = &mut self.entries[i].parts[p];
                    let sep = if part.kind == PartKind::ConstraintIndex {
                        part.separate.take().map(|b| *b)
                    } else {
                        part.separate.as_deref().cloned()
                    };
                    match sep {
                        Some(sep) => sep,
                        None => continue,
                    }
                }
                _ => continue,
            };
            let attached = std::mem::take(&mut e.attached);
            let mut d = match self.objs[node] {
                // A constraint index's comment depends on the constraint (pg_dump.c
                // `dumpIndex`).
                Obj::Part(i, p) if self.entries[i].parts[p].kind == PartKind::ConstraintIndex => {
                    vec![id_of[self.entry_node[i]]]
                }
                _ => self.toc_deps(node, &id_of, &mut seen),
            };
            // pg_restore maps TABLE DATA to its table through the first dependency.
            if e.desc == "TABLE DATA"
                && let Some(Dep::Catalog(t)) = e.deps.first()
                && let Some(table) = self.node_of(*t).map(|m| id_of[m]).filter(|id| *id > 0)
            {
                d.retain(|x| *x != table);
                d.insert(0, table);
            }
            let parent_id = id_of[node];
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
                            if let Some(m) = self.node_of(*id).filter(|m| id_of[*m] > 0) {
                                ad.push(id_of[m]);
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
        Plan {
            entries: out,
            warnings: Vec::new(),
        }
    }

    /// A part printed as an entry of its own: split out by a loop, or a constraint's index.
    fn part_printed(&self, node: usize, i: usize, p: usize) -> bool {
        self.split[node] || self.entries[i].parts[p].kind == PartKind::ConstraintIndex
    }

    /// The parts of entry `i` that the sort split out (its constraint index excepted).
    fn split_parts(&self, i: usize) -> Vec<CatalogId> {
        self.entries[i]
            .parts
            .iter()
            .enumerate()
            .filter(|(p, part)| part.kind != PartKind::ConstraintIndex && self.split[self.part_start[i] + p])
            .map(|(_, part)| part.id)
            .collect()
    }

    /// Which of entry `i`'s attached entries stay with it, one flag each. A split part's
    /// comment goes with the part: the owner keeps none of the entries the part's own entry
    /// carries (the same COMMENT ... ON CONSTRAINT).
    fn kept_attached(&self, i: usize, split: &[CatalogId]) -> Vec<bool> {
        let e = &self.entries[i];
        let moved: Vec<(&str, &str, Option<&str>)> = e
            .parts
            .iter()
            .filter(|part| split.contains(&part.id))
            .flat_map(|part| part.separate.iter().flat_map(|s| s.attached.iter()))
            .map(|a| (a.desc.as_str(), a.tag.as_str(), a.defn.as_deref()))
            .collect();
        e.attached
            .iter()
            .map(|a| !moved.contains(&(a.desc.as_str(), a.tag.as_str(), a.defn.as_deref())))
            .collect()
    }

    /// Entry `i` as decided, moved out of the graph: postponed to post-data, its definition
    /// without split parts; its parts stay behind (later split-out parts of it are emitted
    /// from there), its render recipe is dropped (it served the sort). Called once per entry.
    fn take_final_entry(&mut self, i: usize) -> Entry {
        use std::mem::take;
        let split = self.split_parts(i);
        let kept = self.kept_attached(i, &split);
        let postponed = self.postponed[self.entry_node[i]];
        let src = &mut self.entries[i];
        let defn = match src.render.take() {
            Some(r) if !split.is_empty() => Some(r.render(&split)),
            _ => src.defn.take(),
        };
        let section = if postponed { Section::PostData } else { src.section };
        let attached = take(&mut src.attached)
            .into_iter()
            .zip(kept)
            .filter_map(|(a, k)| k.then_some(a))
            .collect();
        // Every field named, so a new one is a compile error here rather than a silent loss.
        Entry {
            key: src.key,
            claims: take(&mut src.claims),
            toc_oid: src.toc_oid,
            desc: take(&mut src.desc),
            priority: src.priority,
            section,
            schema: src.schema.take(),
            name: take(&mut src.name),
            sort_extra: take(&mut src.sort_extra),
            tag: take(&mut src.tag),
            owner: src.owner.take(),
            defn,
            drop_stmt: src.drop_stmt.take(),
            copy_stmt: src.copy_stmt.take(),
            tablespace: src.tablespace.take(),
            tableam: src.tableam.take(),
            relkind: src.relkind,
            deps: take(&mut src.deps),
            attached,
            data: src.data.take(),
            large_objects: take(&mut src.large_objects),
            parts: Vec::new(),
            render: None,
            emit: src.emit,
        }
    }

    /// The node answering for a catalog row (an extension member: its extension's).
    fn node_of(&self, id: CatalogId) -> Option<usize> {
        self.owner_of.get(&id).copied().or_else(|| {
            self.ext_members.get(&id).and_then(|ext| {
                self.owner_of
                    .get(&CatalogId::new(catalog_oid::PG_EXTENSION, *ext))
                    .copied()
            })
        })
    }

    /// The dump ids an emitted node depends on, looking through nodes that print nothing
    /// and ignoring the boundaries (pg_dump.c `findDumpableDependencies`).
    /// `seen` is scratch space shared between calls (one slot per node, holding the node
    /// whose dependencies were last collected), so a large catalog costs no quadratic
    /// clearing.
    fn toc_deps(&self, node: usize, id_of: &[i32], seen: &mut [usize]) -> Vec<i32> {
        let mut out = Vec::new();
        let mark = node + 1;
        let mut stack: Vec<usize> = self.deps[node].iter().rev().copied().collect();
        seen[node] = mark;
        while let Some(m) = stack.pop() {
            if std::mem::replace(&mut seen[m], mark) == mark {
                continue;
            }
            if matches!(self.objs[m], Obj::PreBoundary | Obj::PostBoundary) {
                continue;
            }
            if id_of[m] > 0 {
                out.push(id_of[m]);
            } else {
                stack.extend(self.deps[m].iter().rev().copied());
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// How pg_dump names an object in loop warnings (`describeDumpableObject`, without its
    /// dump id, which differs from ours).
    pub(crate) fn describe(&self, n: usize) -> String {
        match self.objs[n] {
            Obj::Entry(i) => {
                let e = &self.entries[i];
                let kind = match e.desc.as_str() {
                    "VIEW" | "MATERIALIZED VIEW" | "SEQUENCE" | "FOREIGN TABLE" => "TABLE",
                    "PROCEDURE" => "FUNCTION",
                    "DOMAIN" => "TYPE",
                    "CHECK CONSTRAINT" => "CONSTRAINT",
                    "DEFAULT" => "ATTRDEF",
                    "MATERIALIZED VIEW DATA" => "REFRESH MATERIALIZED VIEW",
                    other => other,
                };
                let name = if e.desc == "DEFAULT" { &e.tag } else { &e.name };
                match e.key.map(|k| k.oid).or(e.toc_oid) {
                    Some(oid) => format!("{kind} {name}  (OID {oid})"),
                    None => format!("{kind} {name}"),
                }
            }
            Obj::Part(i, p) => {
                let part = &self.entries[i].parts[p];
                let kind = match part.kind {
                    PartKind::Default => "ATTRDEF",
                    PartKind::Check | PartKind::DomainConstraint => "CONSTRAINT",
                    PartKind::SelectRule => "RULE",
                    PartKind::DummyType => "DUMMY TYPE",
                    PartKind::ConstraintIndex => "INDEX",
                };
                let name = match part.kind {
                    PartKind::Default => format!("{}.{}", self.entries[i].name, part.name),
                    _ => part.name.clone(),
                };
                format!("{kind} {name}  (OID {})", part.id.oid)
            }
            Obj::PreBoundary => "PRE-DATA BOUNDARY".into(),
            Obj::PostBoundary => "POST-DATA BOUNDARY".into(),
        }
    }
}

/// Parts the owner waits for while they are inline (its definition prints them).
fn inline_dependency(kind: PartKind) -> bool {
    matches!(
        kind,
        PartKind::Default | PartKind::Check | PartKind::DomainConstraint | PartKind::SelectRule
    )
}

fn push_unique(v: &mut Vec<usize>, x: usize) {
    if !v.contains(&x) {
        v.push(x);
    }
}

struct SortKey<'k> {
    priority: Priority,
    schema: Option<&'k str>,
    name: &'k str,
    obj_type: u8,
    extra: &'k [String],
    desc: &'k str,
    oid: Option<u32>,
}

impl SortKey<'static> {
    fn boundary(priority: Priority) -> SortKey<'static> {
        SortKey {
            priority,
            schema: None,
            name: "",
            obj_type: 0,
            extra: &[],
            desc: "",
            oid: None,
        }
    }
}

/// pg_dump_sort.c `DOTypeNameCompare`: priority, then schema (objects with a schema
/// first), then name, then object type, then the kind-specific natural key, then OID.
fn presort_cmp(ka: &SortKey<'_>, kb: &SortKey<'_>) -> Ordering {
    ka.priority
        .cmp(&kb.priority)
        .then_with(|| match (ka.schema, kb.schema) {
            (Some(x), Some(y)) => x.as_bytes().cmp(y.as_bytes()),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
        .then_with(|| ka.name.as_bytes().cmp(kb.name.as_bytes()))
        .then_with(|| ka.obj_type.cmp(&kb.obj_type))
        .then_with(|| ka.extra.cmp(kb.extra))
        .then_with(|| ka.desc.cmp(kb.desc))
        .then_with(|| ka.oid.cmp(&kb.oid))
}

/// The position of an entry's object type in pg_dump's `DumpableObjectType` enum, compared
/// after the name (it separates, e.g., a type from its shell).
fn obj_type_rank(desc: &str) -> u8 {
    match desc {
        "SCHEMA" => 0,
        "EXTENSION" => 1,
        "TYPE" | "DOMAIN" => 2,
        "SHELL TYPE" => 3,
        "FUNCTION" | "PROCEDURE" => 4,
        "AGGREGATE" => 5,
        "OPERATOR" => 6,
        "ACCESS METHOD" => 7,
        "OPERATOR CLASS" => 8,
        "OPERATOR FAMILY" => 9,
        "COLLATION" => 10,
        "CONVERSION" => 11,
        "TABLE" | "VIEW" | "MATERIALIZED VIEW" | "SEQUENCE" | "FOREIGN TABLE" | "SEQUENCE OWNED BY" => 12,
        "TABLE ATTACH" => 13,
        "DEFAULT" => 14,
        "INDEX" => 15,
        "INDEX ATTACH" => 16,
        "STATISTICS" => 17,
        "RULE" => 18,
        "TRIGGER" => 19,
        "CONSTRAINT" | "CHECK CONSTRAINT" => 20,
        "FK CONSTRAINT" => 21,
        "PROCEDURAL LANGUAGE" => 22,
        "CAST" => 23,
        "TABLE DATA" => 24,
        "SEQUENCE SET" => 25,
        "TEXT SEARCH PARSER" => 27,
        "TEXT SEARCH DICTIONARY" => 28,
        "TEXT SEARCH TEMPLATE" => 29,
        "TEXT SEARCH CONFIGURATION" => 30,
        "FOREIGN DATA WRAPPER" => 31,
        "SERVER" => 32,
        "DEFAULT ACL" => 33,
        "TRANSFORM" => 34,
        "BLOB" | "BLOB METADATA" => 35,
        "BLOBS" => 36,
        "EVENT TRIGGER" => 39,
        "MATERIALIZED VIEW DATA" => 40,
        "POLICY" | "ROW SECURITY" => 41,
        "PUBLICATION" => 42,
        "PUBLICATION TABLE" => 43,
        "PUBLICATION TABLES IN SCHEMA" => 44,
        "STATISTICS DATA" => 45,
        "SUBSCRIPTION" => 46,
        "SUBSCRIPTION TABLE" => 47,
        _ => u8::MAX,
    }
}

fn part_type_rank(kind: PartKind) -> u8 {
    match kind {
        PartKind::Default => 14,
        PartKind::Check | PartKind::DomainConstraint => 20,
        PartKind::SelectRule => 18,
        PartKind::DummyType => 26,
        PartKind::ConstraintIndex => 15,
    }
}

/// pg_dump_sort.c `TopoSort`: fill the output from the end, always taking the node latest in
/// presort order among those nothing unplaced still depends on, which keeps the result as
/// close to the presort as the dependencies allow. On failure, the nodes left over (in node
/// order, like pg_dump's dump-id order).
fn topo_sort(deps: &[Vec<usize>], rank: &[usize]) -> Result<Vec<usize>, Vec<usize>> {
    let n = deps.len();
    let mut dependents = vec![0usize; n];
    for ds in deps {
        for &j in ds {
            dependents[j] += 1;
        }
    }
    let mut heap: BinaryHeap<(usize, usize)> = (0..n).filter(|&i| dependents[i] == 0).map(|i| (rank[i], i)).collect();
    let mut out_rev = Vec::with_capacity(n);
    while let Some((_, i)) = heap.pop() {
        out_rev.push(i);
        for &j in &deps[i] {
            dependents[j] -= 1;
            if dependents[j] == 0 {
                heap.push((rank[j], j));
            }
        }
    }
    if out_rev.len() < n {
        return Err((0..n).filter(|&i| dependents[i] > 0).collect());
    }
    out_rev.reverse();
    Ok(out_rev)
}

#[cfg(test)]
mod tests;
