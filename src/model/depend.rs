//! The server's dependency graph (`pg_depend` rows), as plain data.

use std::collections::{HashSet, VecDeque};

use super::{CatalogId, IdMap};

/// One `pg_depend` row: `from` depends on `to` with `deptype`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DependRow {
    pub from: CatalogId,
    pub to: CatalogId,
    pub deptype: u8,
}

/// `pg_depend` indexed by the depending object.
#[derive(Debug, Default, Clone)]
pub struct DependGraph {
    forward: IdMap<Vec<(CatalogId, u8)>>,
}

impl DependGraph {
    pub fn new(rows: impl IntoIterator<Item = DependRow>) -> Self {
        let mut forward: IdMap<Vec<(CatalogId, u8)>> = IdMap::default();
        for r in rows {
            forward.entry(r.from).or_default().push((r.to, r.deptype));
        }
        DependGraph { forward }
    }

    /// Adds a row (pg_dump adds some of its own, e.g. operator-family members' dependencies
    /// re-attributed to the family).
    pub fn add(&mut self, row: DependRow) {
        self.forward.entry(row.from).or_default().push((row.to, row.deptype));
    }

    /// Drops every row from `from` to `to` (a reader that breaks a dependency loop the way
    /// pg_dump's repair does, e.g. an I/O function that waits for a shell type instead).
    pub fn remove(&mut self, from: CatalogId, to: CatalogId) {
        if let Some(v) = self.forward.get_mut(&from) {
            v.retain(|(t, _)| *t != to);
        }
    }

    /// What `id` depends on, with deptypes.
    pub fn depends_on(&self, id: CatalogId) -> &[(CatalogId, u8)] {
        self.forward.get(&id).map(Vec::as_slice).unwrap_or(&[])
    }

    /// True when `target` can be reached from `start` by following dependencies, treating
    /// every id in `merged` (e.g. a table and its row type) as one node with `target`.
    pub fn reaches(&self, start: CatalogId, target: &HashSet<CatalogId>) -> bool {
        let mut seen = HashSet::new();
        let mut queue = VecDeque::from([start]);
        while let Some(id) = queue.pop_front() {
            if !seen.insert(id) {
                continue;
            }
            for (next, _) in self.depends_on(id) {
                if target.contains(next) {
                    return true;
                }
                queue.push_back(*next);
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(oid: u32) -> CatalogId {
        CatalogId::class(oid)
    }

    #[test]
    fn reaches_follows_chains_and_stops_at_cycles() {
        let g = DependGraph::new([
            DependRow {
                from: id(1),
                to: id(2),
                deptype: b'n',
            },
            DependRow {
                from: id(2),
                to: id(3),
                deptype: b'a',
            },
            DependRow {
                from: id(3),
                to: id(1),
                deptype: b'n',
            },
        ]);
        assert!(g.reaches(id(1), &HashSet::from([id(3)])));
        assert!(!g.reaches(id(1), &HashSet::from([id(9)])));
        assert_eq!(g.depends_on(id(2)), &[(id(3), b'a')]);
    }

    #[test]
    fn rows_can_be_added_and_removed() {
        let mut g = DependGraph::default();
        g.add(DependRow {
            from: id(1),
            to: id(2),
            deptype: b'n',
        });
        g.add(DependRow {
            from: id(1),
            to: id(3),
            deptype: b'n',
        });
        g.remove(id(1), id(2));
        assert_eq!(g.depends_on(id(1)), &[(id(3), b'n')]);
        g.remove(id(9), id(1));
    }
}
