//! Sub-objects of an entry: what pg_dump keeps as objects of their own while sorting
//! (`DumpableObject`s with `separate = false`, dummy types) but prints inside their owner's
//! entry, unless breaking a dependency loop forces them out (pg_dump_sort.c
//! `repairDependencyLoop`). The planner decides; the entry carries both forms.

use std::fmt;
use std::sync::Arc;

use super::{CatalogId, Entry, Priority};

/// What a part is to pg_dump's sorter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartKind {
    /// A column default or generation expression printed in `CREATE TABLE` (`DO_ATTRDEF`);
    /// split out it becomes a pre-data `DEFAULT` entry.
    Default,
    /// A CHECK constraint printed in `CREATE TABLE` (`DO_CONSTRAINT`, contype `c`); split out
    /// it becomes a post-data `CHECK CONSTRAINT` entry.
    Check,
    /// A CHECK or NOT NULL constraint printed in `CREATE DOMAIN`; split out it becomes a
    /// post-data entry of its own.
    DomainConstraint,
    /// The ON SELECT rule of a view or materialized view, printed as its body (`DO_RULE`);
    /// split out (views only) it becomes a post-data `RULE` entry with `CREATE OR REPLACE
    /// VIEW`, and the view gets a dummy body.
    SelectRule,
    /// A relation's row type or an array type: never printed, but sorted (`DO_DUMMY_TYPE`).
    DummyType,
    /// The index behind a PRIMARY KEY, UNIQUE or EXCLUDE constraint (`DO_INDEX`): sorted
    /// with the indexes, printed only as its comment (`separate`, always emitted when
    /// present), which follows the constraint.
    ConstraintIndex,
}

/// One sub-object. Its dependencies are its `pg_depend` rows (through `id`) plus those of
/// `separate`; its owner depends on it while it is inline (except dummy types).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub kind: PartKind,
    /// Its catalog row (`pg_attrdef`, `pg_constraint`, `pg_rewrite`, `pg_type`).
    pub id: CatalogId,
    /// Where pg_dump sorts it: priority, then (the owner's schema and) name, then
    /// tie-breakers (`DOTypeNameCompare`).
    pub priority: Priority,
    pub name: String,
    pub sort_extra: Vec<String>,
    /// The entry it becomes when split out; `None` when pg_dump would then print nothing (an
    /// inherited CHECK, a materialized view's rule, a dummy type).
    pub separate: Option<Box<Entry>>,
}

impl Part {
    pub fn new(kind: PartKind, id: CatalogId, priority: Priority, name: impl Into<String>) -> Part {
        Part {
            kind,
            id,
            priority,
            name: name.into(),
            sort_extra: Vec::new(),
            separate: None,
        }
    }

    pub fn with_sort_extra(mut self, extra: Vec<String>) -> Part {
        self.sort_extra = extra;
        self
    }

    pub fn with_separate(mut self, e: Entry) -> Part {
        self.separate = Some(Box::new(e));
        self
    }

    /// A row type or array type of a relation (pg_dump's dummy types).
    pub fn dummy_type(type_oid: u32, name: impl Into<String>) -> Part {
        Part::new(
            PartKind::DummyType,
            CatalogId::new(super::catalog_oid::PG_TYPE, type_oid),
            Priority::DummyType,
            name,
        )
    }
}

type RenderFn = dyn Fn(&[CatalogId]) -> String + Send + Sync;

/// Renders an entry's definition with the given parts split out (their ids). Pure; built by
/// the catalog reader from the same values as the inline form.
#[derive(Clone)]
pub struct Render(Arc<RenderFn>);

impl Render {
    pub fn new(f: impl Fn(&[CatalogId]) -> String + Send + Sync + 'static) -> Render {
        Render(Arc::new(f))
    }

    pub fn render(&self, split: &[CatalogId]) -> String {
        (self.0)(split)
    }
}

impl fmt::Debug for Render {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Render(..)")
    }
}

/// Two renderers are equal when they are the same function (clones of one entry).
impl PartialEq for Render {
    fn eq(&self, other: &Render) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Render {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_sees_the_split_parts() {
        let id = CatalogId::new(2604, 30000);
        let r = Render::new(move |split| {
            if split.contains(&id) {
                "without".into()
            } else {
                "with".into()
            }
        });
        assert_eq!(r.render(&[]), "with");
        assert_eq!(r.render(&[id]), "without");
        assert_eq!(r.clone(), r);
        assert_eq!(format!("{r:?}"), "Render(..)");
    }
}
