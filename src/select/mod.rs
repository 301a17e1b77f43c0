//! Object selection as pg_dump does it: the patterns of `-n/-N/-t/-T/-e`,
//! `--table-and-children`, `--exclude-table-data`, `--include-foreign-data` and filter files
//! ([`Patterns`]), resolved once per dump into OID sets ([`resolve`]) by the queries of
//! pg_dump.c's `expand_*_name_patterns`. The conversion of each pattern is pure
//! ([`pattern`]); so is the filter-file parser ([`filter`]).

pub mod filter;
pub mod pattern;

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::pg::Session;
use pattern::Kind;

/// The selection patterns, in the order given (pg_dump keeps one list per switch).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patterns {
    /// `-n`, filter `include schema`.
    pub schemas: Vec<String>,
    /// `-N`, filter `exclude schema`.
    pub exclude_schemas: Vec<String>,
    /// `-t`, filter `include table`.
    pub tables: Vec<String>,
    /// `--table-and-children`, filter `include table_and_children`.
    pub tables_and_children: Vec<String>,
    /// `-T`, filter `exclude table`.
    pub exclude_tables: Vec<String>,
    /// `--exclude-table-and-children`.
    pub exclude_tables_and_children: Vec<String>,
    /// `--exclude-table-data`, filter `exclude table_data`.
    pub exclude_table_data: Vec<String>,
    /// `--exclude-table-data-and-children`.
    pub exclude_table_data_and_children: Vec<String>,
    /// `-e`, filter `include extension`.
    pub extensions: Vec<String>,
    /// `--exclude-extension`, filter `exclude extension`.
    pub exclude_extensions: Vec<String>,
    /// `--include-foreign-data`, filter `include foreign_data`.
    pub foreign_servers: Vec<String>,
    /// `--strict-names`: every inclusion pattern must match something.
    pub strict_names: bool,
}

impl Patterns {
    /// Rejects patterns with too many dotted parts before anything is sent (pg_dump finds
    /// the same after connecting, with the same message).
    pub fn check(&self) -> Result<()> {
        let lists: [(&[String], Kind); 11] = [
            (&self.schemas, Kind::Schema),
            (&self.exclude_schemas, Kind::Schema),
            (&self.tables, Kind::Table),
            (&self.tables_and_children, Kind::Table),
            (&self.exclude_tables, Kind::Table),
            (&self.exclude_tables_and_children, Kind::Table),
            (&self.exclude_table_data, Kind::Table),
            (&self.exclude_table_data_and_children, Kind::Table),
            (&self.foreign_servers, Kind::ForeignServer),
            (&self.extensions, Kind::Extension),
            (&self.exclude_extensions, Kind::Extension),
        ];
        for (list, kind) in lists {
            for p in list {
                pattern::check_dots(kind, p)?;
            }
        }
        Ok(())
    }

    /// True when any pattern at all was given (then [`resolve`] has work to do).
    pub fn is_empty(&self) -> bool {
        self == &Patterns {
            strict_names: self.strict_names,
            ..Patterns::default()
        }
    }
}

/// The patterns resolved into OIDs. An include set is `None` when no such pattern was given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    pub schema_include: Option<HashSet<u32>>,
    pub schema_exclude: HashSet<u32>,
    pub table_include: Option<HashSet<u32>>,
    pub table_exclude: HashSet<u32>,
    pub table_data_exclude: HashSet<u32>,
    pub extension_include: Option<HashSet<u32>>,
    pub extension_exclude: HashSet<u32>,
    /// Foreign servers whose foreign tables' data is dumped (`--include-foreign-data`).
    pub foreign_servers: HashSet<u32>,
}

/// The OIDs one pattern matches (pg_dump's `processSQLNamePattern` query, run as it runs).
async fn oids(db: &Session, kind: Kind, p: &str, current_db: &str, with_children: bool) -> Result<Vec<u32>> {
    let sql = pattern::oid_query(kind, p, current_db, with_children)?;
    db.query(&sql).await?.iter().map(|r| r.oid(0)).collect()
}

fn noun(kind: Kind) -> &'static str {
    match kind {
        Kind::Schema => "schemas",
        Kind::Table => "tables",
        Kind::Extension => "extensions",
        Kind::ForeignServer => "foreign servers",
    }
}

/// Pattern lists of one kind: each with whether it takes partitions and children too.
type Lists<'a> = [(&'a [String], bool)];

struct Expander<'a> {
    db: &'a Session,
    current_db: String,
    strict: bool,
}

impl Expander<'_> {
    /// Expands `lists` into `into`; with `strict`, a pattern matching nothing is an error
    /// naming it. Unqualified table patterns match tables visible on the user's search_path,
    /// as pg_dump's do: the session's empty one is set aside for the lookups, once.
    async fn expand(&self, kind: Kind, lists: &Lists<'_>, strict: bool, into: &mut HashSet<u32>) -> Result<()> {
        if lists.iter().all(|(p, _)| p.is_empty()) {
            return Ok(());
        }
        if kind == Kind::Table {
            self.db.execute("RESET search_path").await?;
        }
        let found = self.expand_each(kind, lists, strict, into).await;
        if kind == Kind::Table {
            self.db
                .execute("SELECT pg_catalog.set_config('search_path', '', false)")
                .await?;
        }
        found
    }

    async fn expand_each(&self, kind: Kind, lists: &Lists<'_>, strict: bool, into: &mut HashSet<u32>) -> Result<()> {
        for (patterns, with_children) in lists {
            for p in patterns.iter() {
                let found = oids(self.db, kind, p, &self.current_db, *with_children).await?;
                if strict && found.is_empty() {
                    return Err(Error::usage(format!(
                        "no matching {} were found for pattern \"{p}\"",
                        noun(kind)
                    )));
                }
                into.extend(found);
            }
        }
        Ok(())
    }

    /// An inclusion switch: `None` when not given; an error when all its patterns together
    /// match nothing (pg_dump's "no matching ... were found").
    async fn include(&self, kind: Kind, lists: &Lists<'_>) -> Result<Option<HashSet<u32>>> {
        if lists.iter().all(|(p, _)| p.is_empty()) {
            return Ok(None);
        }
        let mut set = HashSet::new();
        self.expand(kind, lists, self.strict, &mut set).await?;
        if set.is_empty() {
            return Err(Error::usage(format!("no matching {} were found", noun(kind))));
        }
        Ok(Some(set))
    }

    /// An exclusion switch: matching nothing is fine.
    async fn exclude(&self, kind: Kind, lists: &Lists<'_>, into: &mut HashSet<u32>) -> Result<()> {
        self.expand(kind, lists, false, into).await
    }
}

/// Resolves the patterns in pg_dump's order (schemas, tables, table data, foreign servers,
/// extensions), failing as pg_dump fails: an inclusion switch that matches nothing at all,
/// with `--strict-names` any inclusion pattern that matches nothing, and any
/// `--include-foreign-data` pattern that matches nothing. Exclusions that match nothing are
/// fine.
pub async fn resolve(db: &Session, p: &Patterns) -> Result<Resolved> {
    let mut r = Resolved::default();
    if p.is_empty() {
        return Ok(r);
    }
    let x = Expander {
        db,
        current_db: db.query_one("SELECT pg_catalog.current_database()").await?.text(0)?,
        strict: p.strict_names,
    };
    r.schema_include = x.include(Kind::Schema, &[(&p.schemas, false)]).await?;
    x.exclude(Kind::Schema, &[(&p.exclude_schemas, false)], &mut r.schema_exclude)
        .await?;
    r.table_include = x
        .include(Kind::Table, &[(&p.tables, false), (&p.tables_and_children, true)])
        .await?;
    let tables = [
        (&p.exclude_tables[..], false),
        (&p.exclude_tables_and_children[..], true),
    ];
    x.exclude(Kind::Table, &tables, &mut r.table_exclude).await?;
    let data = [
        (&p.exclude_table_data[..], false),
        (&p.exclude_table_data_and_children[..], true),
    ];
    x.exclude(Kind::Table, &data, &mut r.table_data_exclude).await?;
    // --include-foreign-data: every pattern must match (pg_dump checks each).
    x.expand(
        Kind::ForeignServer,
        &[(&p.foreign_servers, false)],
        true,
        &mut r.foreign_servers,
    )
    .await?;
    r.extension_include = x.include(Kind::Extension, &[(&p.extensions, false)]).await?;
    x.exclude(
        Kind::Extension,
        &[(&p.exclude_extensions, false)],
        &mut r.extension_exclude,
    )
    .await?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_names_are_checked_before_connecting() {
        let p = Patterns {
            exclude_tables: vec!["a.b.c.d".into()],
            ..Patterns::default()
        };
        assert_eq!(
            p.check().unwrap_err().to_string(),
            "improper relation name (too many dotted names): a.b.c.d"
        );
        let p = Patterns {
            extensions: vec!["x.y".into()],
            ..Patterns::default()
        };
        assert!(p.check().is_err());
        assert!(Patterns::default().check().is_ok());
    }

    #[test]
    fn strict_names_alone_is_no_pattern() {
        let p = Patterns {
            strict_names: true,
            ..Patterns::default()
        };
        assert!(p.is_empty());
        let p = Patterns {
            foreign_servers: vec!["s".into()],
            ..Patterns::default()
        };
        assert!(!p.is_empty());
    }
}
