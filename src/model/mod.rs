//! Plain data shared by every layer: server versions, catalog identities, sections, and the
//! dumpable entry that catalog readers produce and the planner orders. No I/O here.

pub mod depend;
pub mod part;

pub use depend::DependGraph;
pub use part::{Part, PartKind, Render};

/// A server version as `server_version_num` reports it (e.g. 150019, 180006).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerVersion(pub u32);

impl ServerVersion {
    pub fn major(self) -> u32 {
        self.0 / 10000
    }
    pub fn at_least(self, major: u32) -> bool {
        self.major() >= major
    }
}

/// OIDs of the system catalogs that appear as `tableoid` in TOC entries and as `classid` in
/// `pg_depend`. Fixed across PostgreSQL versions.
pub mod catalog_oid {
    pub const PG_TYPE: u32 = 1247;
    pub const PG_ATTRIBUTE: u32 = 1249;
    pub const PG_PROC: u32 = 1255;
    pub const PG_CLASS: u32 = 1259;
    pub const PG_ATTRDEF: u32 = 2604;
    pub const PG_CONSTRAINT: u32 = 2606;
    pub const PG_INHERITS: u32 = 2611;
    pub const PG_INDEX: u32 = 2610;
    pub const PG_OPERATOR: u32 = 2617;
    pub const PG_OPFAMILY: u32 = 2753;
    pub const PG_OPCLASS: u32 = 2616;
    pub const PG_AM: u32 = 2601;
    pub const PG_LANGUAGE: u32 = 2612;
    pub const PG_LARGEOBJECT: u32 = 2613;
    pub const PG_AGGREGATE: u32 = 2600;
    pub const PG_REWRITE: u32 = 2618;
    pub const PG_TRIGGER: u32 = 2620;
    pub const PG_NAMESPACE: u32 = 2615;
    pub const PG_CONVERSION: u32 = 2607;
    pub const PG_CAST: u32 = 2605;
    pub const PG_DATABASE: u32 = 1262;
    pub const PG_COLLATION: u32 = 3456;
    pub const PG_EXTENSION: u32 = 3079;
    pub const PG_POLICY: u32 = 3256;
    pub const PG_DEFAULT_ACL: u32 = 826;
    pub const PG_EVENT_TRIGGER: u32 = 3466;
    pub const PG_STATISTIC_EXT: u32 = 3381;
    pub const PG_TS_CONFIG: u32 = 3602;
    pub const PG_TS_DICT: u32 = 3600;
    pub const PG_FOREIGN_SERVER: u32 = 1417;
    pub const PG_FOREIGN_DATA_WRAPPER: u32 = 2328;
    pub const PG_PUBLICATION: u32 = 6104;
    pub const PG_AMOP: u32 = 2602;
    pub const PG_AMPROC: u32 = 2603;
    pub const PG_TRANSFORM: u32 = 3576;
    pub const PG_TS_PARSER: u32 = 3601;
    pub const PG_TS_TEMPLATE: u32 = 3764;
}

/// A map keyed by catalog rows. The keys are OIDs the server assigned, not input chosen to
/// collide, so they are hashed with FxHash rather than SipHash: the planner and the
/// dependency graph look them up hundreds of thousands of times in a 10 000-table schema.
pub type IdMap<V> = std::collections::HashMap<CatalogId, V, rustc_hash::FxBuildHasher>;
/// A set of catalog rows, hashed as [`IdMap`].
pub type IdSet = std::collections::HashSet<CatalogId, rustc_hash::FxBuildHasher>;

/// A row in some system catalog: `(tableoid, oid)`, which is `(classid, objid)` in `pg_depend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CatalogId {
    pub tableoid: u32,
    pub oid: u32,
}

impl CatalogId {
    pub const fn new(tableoid: u32, oid: u32) -> Self {
        CatalogId { tableoid, oid }
    }
    pub const fn class(oid: u32) -> Self {
        CatalogId {
            tableoid: catalog_oid::PG_CLASS,
            oid,
        }
    }
}

/// TOC section codes (pg_backup.h `teSection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(i32)]
pub enum Section {
    None = 1,
    PreData = 2,
    Data = 3,
    PostData = 4,
}

impl Section {
    pub fn code(self) -> i32 {
        self as i32
    }
    pub fn from_code(code: i32) -> Option<Section> {
        Some(match code {
            1 => Section::None,
            2 => Section::PreData,
            3 => Section::Data,
            4 => Section::PostData,
            _ => return None,
        })
    }
}

/// Sort class of an object, earliest first, mirroring pg_dump_sort.c's `dbObjectTypePriority`
/// (pg_dump 18). The planner sorts by this, then by schema and name, before the dependency
/// sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Schema = 1,
    ProcLang,
    Collation,
    Transform,
    Extension,
    Type,
    Cast,
    Function,
    Aggregate,
    AccessMethod,
    Operator,
    OpFamily,
    Conversion,
    TsParser,
    TsTemplate,
    TsDict,
    TsConfig,
    Fdw,
    ForeignServer,
    Table,
    TableAttach,
    DummyType,
    AttrDef,
    /// BLOB entries of archives before 1.16: pre-data, as pg_dump 16 and older sorted them.
    LargeObjectPreData,
    PreDataBoundary,
    TableData,
    SequenceSet,
    LargeObject,
    LargeObjectData,
    StatisticsData,
    PostDataBoundary,
    Constraint,
    Index,
    IndexAttach,
    StatsExt,
    Rule,
    Trigger,
    FkConstraint,
    Policy,
    Publication,
    PublicationRel,
    PublicationTableInSchema,
    Subscription,
    SubscriptionRel,
    DefaultAcl,
    EventTrigger,
    RefreshMatview,
}

/// A dependency of an entry: on whatever entry stands for a catalog row, or on another entry
/// by its position in the catalog reader's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dep {
    Catalog(CatalogId),
    /// Index into the list of top-level entries handed to the planner.
    Entry(usize),
}

/// Where a TABLE DATA entry's rows come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableData {
    /// `schema.table`, quoted as SQL needs it.
    pub qualified_name: String,
    /// Column list as it appears in COPY (already quoted, comma separated, may be empty).
    pub columns: String,
    /// relpages + toast relpages at dump start, for largest-first scheduling.
    pub estimated_pages: i64,
    /// The table's OID (for locking and reporting).
    pub table_oid: u32,
    /// A foreign table (`--include-foreign-data`): read through `COPY (SELECT ...)`, with
    /// foreign-table access allowed for that statement and without a lock (pg_dump.c
    /// `dumpTableData_copy`).
    pub foreign: bool,
    /// Which rows: a clause appended to `SELECT cols FROM table` (an extension configuration
    /// table's stored condition, `WHERE ...`); `None` = every row.
    pub filter: Option<String>,
}

impl TableData {
    /// `COPY s.t (a, b) TO stdout;` as pg_dump sends it (pg_dump.c `dumpTableData_copy`).
    /// A table without columns has no list at all (two spaces), as pg_dump writes it. A
    /// foreign table (COPY of one is not allowed) or a row filter reads through a query,
    /// `COPY (SELECT a, b FROM s.t WHERE ...) TO stdout;` (`SELECT *` when there are no
    /// columns), as pg_dump reads foreign tables and the configuration tables of extensions.
    pub fn copy_out_sql(&self) -> String {
        let filter = self.filter.as_deref().filter(|f| !f.is_empty());
        if !self.foreign && filter.is_none() {
            return format!("COPY {} {} TO stdout;", self.qualified_name, self.column_list());
        }
        let cols = if self.columns.is_empty() {
            "*"
        } else {
            self.columns.as_str()
        };
        match filter {
            None => format!("COPY (SELECT {cols} FROM {}) TO stdout;", self.qualified_name),
            Some(f) => format!("COPY (SELECT {cols} FROM {} {f}) TO stdout;", self.qualified_name),
        }
    }

    fn column_list(&self) -> String {
        if self.columns.is_empty() {
            String::new()
        } else {
            format!("({})", self.columns)
        }
    }
}

/// `--inserts`, `--column-inserts`, `--rows-per-insert`, `--on-conflict-do-nothing`: table
/// data as INSERT statements instead of COPY (pg_dump.c `dumpTableData_insert`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InsertOptions {
    /// Rows per statement (`--rows-per-insert`; 1 for plain `--inserts`).
    pub rows_per_insert: u32,
    /// Name the columns (`--column-inserts`); generated columns are then left out.
    pub column_inserts: bool,
    /// Append `ON CONFLICT DO NOTHING`.
    pub on_conflict_do_nothing: bool,
}

impl Default for InsertOptions {
    fn default() -> Self {
        InsertOptions {
            rows_per_insert: 1,
            column_inserts: false,
            on_conflict_do_nothing: false,
        }
    }
}

/// One TOC entry as a catalog reader produces it, before dump ids and order are assigned.
/// Field names follow pg_backup_archiver.h's `TocEntry` where they are a wire contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Catalog identity shown by `pg_restore -l` (`tableoid oid`); `None` for synthesized
    /// entries (TABLE DATA, SEQUENCE SET, ACL, COMMENT, ATTACH ...), written as `0 0`
    /// (TABLE DATA writes its table's OID, see `toc_oid`).
    pub key: Option<CatalogId>,
    /// Other catalog rows that this entry stands for in `pg_depend` (a table's row type, a
    /// view's `_RETURN` rule, the index behind a constraint, inline defaults and checks ...).
    pub claims: Vec<CatalogId>,
    /// The OID field written for synthesized entries that carry one (TABLE DATA, ROW SECURITY,
    /// MATERIALIZED VIEW DATA).
    pub toc_oid: Option<u32>,
    pub desc: String,
    pub priority: Priority,
    pub section: Section,
    pub schema: Option<String>,
    /// Sort name (pg_dump's `dobj.name`): usually the bare object name, not the tag.
    pub name: String,
    /// Extra tie-breakers after (schema, name), e.g. function argument types.
    pub sort_extra: Vec<String>,
    pub tag: String,
    pub owner: Option<String>,
    pub defn: Option<String>,
    pub drop_stmt: Option<String>,
    pub copy_stmt: Option<String>,
    /// `None` = not applicable; `Some("")` = database default.
    pub tablespace: Option<String>,
    pub tableam: Option<String>,
    /// pg_class.relkind for relation entries (written only in archive 1.16).
    pub relkind: Option<u8>,
    pub deps: Vec<Dep>,
    /// COMMENT / ACL / SECURITY LABEL entries printed right after this one; each depends on
    /// this entry (and on earlier attached entries it lists in its own deps).
    pub attached: Vec<Entry>,
    pub data: Option<TableData>,
    /// The large objects whose bytes are this entry's data (BLOBS entries), in the order
    /// they are written.
    pub large_objects: Vec<u32>,
    /// Sub-objects pg_dump sorts as objects of their own but prints inside this entry unless a
    /// dependency loop forces them out (inline defaults and CHECKs, a view's ON SELECT rule,
    /// domain constraints, row types). The planner decides; see `plan`.
    pub parts: Vec<Part>,
    /// This entry's definition with some of its parts split out, when that changes it (a
    /// table without a split default, a view with a dummy body).
    pub render: Option<Render>,
    /// False for an object pg_dump sorts but does not write: an extension member or a
    /// `pg_catalog` object, dumped at most for its changed privileges (its `attached` ACL).
    /// It still orders what depends on it; the dump drops it after planning.
    pub emit: bool,
}

impl Entry {
    /// A new entry with every optional field empty.
    pub fn new(desc: &str, priority: Priority, section: Section, name: impl Into<String>) -> Entry {
        let name = name.into();
        Entry {
            key: None,
            claims: Vec::new(),
            toc_oid: None,
            desc: desc.to_string(),
            priority,
            section,
            schema: None,
            tag: name.clone(),
            name,
            sort_extra: Vec::new(),
            owner: None,
            defn: None,
            drop_stmt: None,
            copy_stmt: None,
            tablespace: None,
            tableam: None,
            relkind: None,
            deps: Vec::new(),
            attached: Vec::new(),
            data: None,
            large_objects: Vec::new(),
            parts: Vec::new(),
            render: None,
            emit: true,
        }
    }

    pub fn with_key(mut self, key: CatalogId) -> Entry {
        self.key = Some(key);
        self
    }
    pub fn with_schema(mut self, schema: impl Into<String>) -> Entry {
        self.schema = Some(schema.into());
        self
    }
    pub fn with_tag(mut self, tag: impl Into<String>) -> Entry {
        self.tag = tag.into();
        self
    }
    pub fn with_owner(mut self, owner: impl Into<String>) -> Entry {
        self.owner = Some(owner.into());
        self
    }
    pub fn with_defn(mut self, defn: impl Into<String>) -> Entry {
        self.defn = Some(defn.into());
        self
    }
    pub fn with_drop(mut self, drop: impl Into<String>) -> Entry {
        self.drop_stmt = Some(drop.into());
        self
    }
    pub fn with_dep(mut self, dep: Dep) -> Entry {
        self.deps.push(dep);
        self
    }

    /// Every catalog id this entry answers for (its key and its claims).
    pub fn catalog_ids(&self) -> impl Iterator<Item = CatalogId> + '_ {
        self.key.iter().copied().chain(self.claims.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(columns: &str, filter: Option<&str>) -> TableData {
        TableData {
            qualified_name: "s.t".into(),
            columns: columns.into(),
            estimated_pages: 0,
            table_oid: 1,
            foreign: false,
            filter: filter.map(str::to_string),
        }
    }

    #[test]
    fn copy_out_reads_the_table_or_the_filtered_rows() {
        assert_eq!(data("a, b", None).copy_out_sql(), "COPY s.t (a, b) TO stdout;");
        assert_eq!(data("", None).copy_out_sql(), "COPY s.t  TO stdout;");
        // An empty stored condition means every row, read like any table.
        assert_eq!(data("a", Some("")).copy_out_sql(), "COPY s.t (a) TO stdout;");
        assert_eq!(
            data("a, \"B\"", Some("WHERE NOT shipped")).copy_out_sql(),
            "COPY (SELECT a, \"B\" FROM s.t WHERE NOT shipped) TO stdout;"
        );
        assert_eq!(
            data("", Some("WHERE true")).copy_out_sql(),
            "COPY (SELECT * FROM s.t WHERE true) TO stdout;"
        );
    }
}
