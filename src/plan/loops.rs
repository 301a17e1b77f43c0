//! Finding and repairing dependency loops, rule for rule as pg_dump_sort.c does
//! (`findDependencyLoops`, `findLoop`, `repairDependencyLoop` and its `repair*` helpers).

use super::{Graph, Obj, PlanWarning};
use crate::model::{CatalogId, PartKind, catalog_oid};

/// What loop repair needs to know about a node (pg_dump's object type and links).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Any relation (`DO_TABLE`), with its relkind.
    Table(u8),
    /// `DO_FUNC` (not aggregates).
    Func,
    /// `DO_TYPE`: types and domains.
    Type,
    TableData,
    Index,
    /// A view's or matview's ON SELECT rule, with its relation's node.
    SelectRule(usize),
    /// An inline CHECK of the table node.
    TableCheck(usize),
    /// A constraint of the domain node.
    DomainConstraint(usize),
    /// A column default of the table node.
    AttrDef(usize),
    /// Relation statistics, with the relation's relkind.
    Stats(u8),
    PreBoundary,
    PostBoundary,
    Other,
}

impl Graph<'_> {
    fn class(&self, n: usize) -> Class {
        match self.objs[n] {
            Obj::Entry(i) => {
                let e = &self.entries[i];
                match e.desc.as_str() {
                    "TABLE" | "VIEW" | "MATERIALIZED VIEW" | "FOREIGN TABLE" | "SEQUENCE" => {
                        Class::Table(e.relkind.unwrap_or(match e.desc.as_str() {
                            "VIEW" => b'v',
                            "MATERIALIZED VIEW" => b'm',
                            "FOREIGN TABLE" => b'f',
                            "SEQUENCE" => b'S',
                            _ => b'r',
                        }))
                    }
                    "FUNCTION" | "PROCEDURE" => Class::Func,
                    "TYPE" | "DOMAIN" => Class::Type,
                    "TABLE DATA" => Class::TableData,
                    "INDEX" => Class::Index,
                    "STATISTICS DATA" => Class::Stats(e.relkind.unwrap_or(0)),
                    _ => Class::Other,
                }
            }
            Obj::Part(i, p) => {
                let owner = self.entry_node_of(i);
                match self.entries[i].parts[p].kind {
                    PartKind::Default => Class::AttrDef(owner),
                    PartKind::Check => Class::TableCheck(owner),
                    PartKind::DomainConstraint => Class::DomainConstraint(owner),
                    PartKind::SelectRule => Class::SelectRule(owner),
                    PartKind::ConstraintIndex => Class::Index,
                    PartKind::DummyType => Class::Other,
                }
            }
            Obj::PreBoundary => Class::PreBoundary,
            Obj::PostBoundary => Class::PostBoundary,
        }
    }

    fn entry_node_of(&self, i: usize) -> usize {
        // Entries are the first nodes, in order.
        i
    }

    /// The catalog id of an entry or part node (for index parentage).
    fn key_of(&self, n: usize) -> Option<CatalogId> {
        match self.objs[n] {
            Obj::Entry(i) => self.entries[i].key,
            Obj::Part(i, p) => Some(self.entries[i].parts[p].id),
            _ => None,
        }
    }

    /// True when index node `child` is a partition of index node `parent` (`parentidx`,
    /// which pg_depend records as a 'P' dependency).
    fn index_parent_is(&self, child: usize, parent: usize) -> bool {
        match (self.key_of(child), self.key_of(parent)) {
            (Some(c), Some(p)) => self
                .depend
                .depends_on(c)
                .iter()
                .any(|(to, t)| *to == p && *t == b'P' && p.tableoid == catalog_oid::PG_CLASS),
            _ => false,
        }
    }

    /// `findDependencyLoops`: looks for a loop from each stuck node in turn and repairs every
    /// loop found that shares no node with one already repaired this round. Returns whether
    /// anything was repaired.
    pub(super) fn find_dependency_loops(&mut self, stuck: &[usize]) -> bool {
        let n = self.objs.len();
        let mut processed = vec![false; n];
        // failed[j] == start + 1: no path from j back to start.
        let mut failed = vec![0usize; n];
        let mut fixed = false;
        // Scratch for the search path, shared by every search (cleared as it unwinds).
        let mut on_path = vec![false; n];
        for &start in stuck {
            match self.find_loop(start, &processed, &mut failed, &mut on_path) {
                Some(members) => {
                    self.repair(&members);
                    fixed = true;
                    for m in members {
                        processed[m] = true;
                    }
                }
                None => processed[start] = true,
            }
        }
        fixed
    }

    /// `findLoop`: a depth-first search along dependencies, in their order, for a path back
    /// to `start` that avoids processed nodes; the loop's members in path order (each
    /// depends on the next, the last on the first).
    fn find_loop(
        &self,
        start: usize,
        processed: &[bool],
        failed: &mut [usize],
        on_path: &mut [bool],
    ) -> Option<Vec<usize>> {
        let mark = start + 1;
        if processed[start] || failed[start] == mark {
            return None;
        }
        if self.deps[start].contains(&start) {
            return Some(vec![start]);
        }
        let mut path = vec![start];
        let mut next_dep = vec![0usize];
        on_path[start] = true;
        while let Some(&top) = path.last() {
            let k = next_dep.last().copied().unwrap_or(0);
            if let Some(&next) = self.deps[top].get(k) {
                if let Some(last) = next_dep.last_mut() {
                    *last += 1;
                }
                if processed[next] || failed[next] == mark || on_path[next] {
                    continue;
                }
                path.push(next);
                next_dep.push(0);
                on_path[next] = true;
                if self.deps[next].contains(&start) {
                    for &m in &path {
                        on_path[m] = false;
                    }
                    return Some(path);
                }
            } else {
                failed[top] = mark;
                on_path[top] = false;
                path.pop();
                next_dep.pop();
            }
        }
        None
    }

    /// `repairDependencyLoop`: the first rule that recognises the loop repairs it.
    fn repair(&mut self, lp: &[usize]) {
        let n = lp.len();
        let cls: Vec<Class> = lp.iter().map(|&x| self.class(x)).collect();

        // A type and a function that depend on each other.
        if n == 2 {
            for (t, f) in [(0, 1), (1, 0)] {
                if cls[t] == Class::Type && cls[f] == Class::Func {
                    return self.repair_type_func(lp[t], lp[f]);
                }
            }
        }
        // A view or matview and its ON SELECT rule: the rule stays the view's body.
        if n == 2 {
            for (v, r) in [(0, 1), (1, 0)] {
                if matches!(cls[v], Class::Table(b'v' | b'm')) && cls[r] == Class::SelectRule(lp[v]) {
                    return self.remove_dep(lp[r], lp[v]);
                }
            }
        }
        // A longer loop through a view and its rule: the view gets a dummy body in pre-data,
        // the rule becomes a post-data RULE replacing it (`repairViewRuleMultiLoop`).
        if n > 2 {
            for i in 0..n {
                if cls[i] != Class::Table(b'v') {
                    continue;
                }
                if let Some(j) = (0..n).find(|&j| cls[j] == Class::SelectRule(lp[i])) {
                    let (view, rule) = (lp[i], lp[j]);
                    self.remove_dep(view, rule);
                    self.split[rule] = true;
                    self.add_dep(rule, view);
                    self.add_dep(rule, self.post);
                    return;
                }
            }
        }
        // A longer loop through a matview (or matview statistics) and the boundary before
        // its section: the object after the boundary no longer has to precede it, and if it
        // is the matview (its statistics) it moves to post-data.
        if n > 2 {
            for c in &cls {
                let boundary = match c {
                    Class::Table(b'm') => self.pre,
                    Class::Stats(b'm') => self.post,
                    _ => continue,
                };
                if let Some(j) = lp.iter().position(|&x| x == boundary) {
                    let next = lp[(j + 1) % n];
                    self.remove_dep(boundary, next);
                    if matches!(self.class(next), Class::Table(b'm') | Class::Stats(b'm')) {
                        self.postponed[next] = true;
                    }
                    return;
                }
            }
        }
        // A longer loop through a function and the pre-data boundary (a function whose body
        // relies on a primary key, say): the function moves to post-data.
        if n > 2
            && cls.contains(&Class::Func)
            && let Some(j) = lp.iter().position(|&x| x == self.pre)
        {
            let next = lp[(j + 1) % n];
            self.remove_dep(self.pre, next);
            if self.class(next) == Class::Func {
                self.postponed[next] = true;
            }
            return;
        }
        // A table and its CHECK constraint: the constraint stays inline.
        if n == 2 {
            for (t, c) in [(0, 1), (1, 0)] {
                if matches!(cls[t], Class::Table(_)) && cls[c] == Class::TableCheck(lp[t]) {
                    return self.remove_dep(lp[c], lp[t]);
                }
            }
        }
        // A longer loop through a table and its CHECK: a separate post-data CHECK CONSTRAINT.
        if n > 2
            && let Some((t, c)) = self.find_pair(lp, &cls, |x| matches!(x, Class::Table(_)), Class::TableCheck)
        {
            self.split_out(t, c, true);
            return;
        }
        // A table and a column default: the default stays inline.
        if n == 2 {
            for (t, d) in [(0, 1), (1, 0)] {
                if matches!(cls[t], Class::Table(_)) && cls[d] == Class::AttrDef(lp[t]) {
                    return self.remove_dep(lp[d], lp[t]);
                }
            }
        }
        // A partitioned index and the index of a partition attached to it.
        if n == 2 && cls[0] == Class::Index && cls[1] == Class::Index {
            if self.index_parent_is(lp[0], lp[1]) {
                return self.remove_dep(lp[0], lp[1]);
            }
            if self.index_parent_is(lp[1], lp[0]) {
                return self.remove_dep(lp[1], lp[0]);
            }
        }
        // A longer loop through a table and a column default: a separate pre-data DEFAULT.
        if n > 2
            && let Some((t, d)) = self.find_pair(lp, &cls, |x| matches!(x, Class::Table(_)), Class::AttrDef)
        {
            self.split_out(t, d, false);
            return;
        }
        // A domain and its constraint: the constraint stays inline.
        if n == 2 {
            for (t, c) in [(0, 1), (1, 0)] {
                if cls[t] == Class::Type && cls[c] == Class::DomainConstraint(lp[t]) {
                    return self.remove_dep(lp[c], lp[t]);
                }
            }
        }
        // A longer loop through a domain and its constraint: a separate post-data entry.
        if n > 2
            && let Some((t, c)) = self.find_pair(lp, &cls, |x| x == Class::Type, Class::DomainConstraint)
        {
            self.split_out(t, c, true);
            return;
        }
        // A table depending on itself (a column on another, a partition on its table).
        if n == 1 && matches!(cls[0], Class::Table(_)) {
            return self.remove_dep(lp[0], lp[0]);
        }
        if cls.iter().all(|c| *c == Class::TableData) {
            let tables = lp.iter().map(|&x| self.data_table_name(x)).collect();
            self.warnings.push(PlanWarning::CircularForeignKeys(tables));
        } else {
            let items = lp.iter().map(|&x| self.describe(x)).collect();
            self.warnings.push(PlanWarning::UnresolvedLoop(items));
        }
        let to = if n > 1 { lp[1] } else { lp[0] };
        self.remove_dep(lp[0], to);
    }

    /// The first (owner, part) pair in the loop where `part_class(owner)` is a part's class.
    fn find_pair(
        &self,
        lp: &[usize],
        cls: &[Class],
        is_owner: impl Fn(Class) -> bool,
        part_class: impl Fn(usize) -> Class,
    ) -> Option<(usize, usize)> {
        for i in 0..lp.len() {
            if !is_owner(cls[i]) {
                continue;
            }
            if let Some(j) = (0..lp.len()).find(|&j| cls[j] == part_class(lp[i])) {
                return Some((lp[i], lp[j]));
            }
        }
        None
    }

    /// `repairTableConstraintMultiLoop`, `repairTableAttrDefMultiLoop`,
    /// `repairDomainConstraintMultiLoop`: the owner stops waiting for the part, the part
    /// becomes an entry of its own that follows the owner (and, for constraints, the
    /// post-data boundary).
    fn split_out(&mut self, owner: usize, part: usize, post_data: bool) {
        self.remove_dep(owner, part);
        self.split[part] = true;
        self.add_dep(part, owner);
        if post_data {
            self.add_dep(part, self.post);
        }
    }

    /// `repairTypeFuncLoop`: the function stops depending on the type. A base or range type's
    /// loops with its I/O and canonical functions never reach the planner: the type reader
    /// breaks them itself and points the functions at a `SHELL TYPE` entry
    /// (`catalog/types.rs`), so what is left here are loops no shell type can break.
    fn repair_type_func(&mut self, ty: usize, func: usize) {
        self.remove_dep(func, ty);
    }

    fn data_table_name(&self, n: usize) -> String {
        match self.objs[n] {
            Obj::Entry(i) => self.entries[i].name.clone(),
            _ => self.describe(n),
        }
    }
}
