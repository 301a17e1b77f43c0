//! Version-gated catalog queries → `model::Entry` values, with selection applied.
//!
//! `read` loads the shared lookups first (roles, namespaces, extension membership,
//! `pg_depend`, comments, `pg_init_privs`), then every object kind's reader pushes its
//! entries into the context. Each kind lives in its own file; the SQL it renders comes from
//! `ddl/`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::error::Result;
use crate::model::{
    CatalogId, DependGraph, Entry, IdMap, InsertOptions, ServerVersion, catalog_oid, depend::DependRow,
};
use crate::pg::Session;
use crate::select::{Patterns, Resolved};
use prefetch::Prefetch;

/// What to dump. `schema`, `data` and `statistics` are pg_dump's effective switches (after
/// `-s`, `-a`, `--no-schema`, `--no-data`, `--statistics[-only]`, `--no-statistics`); the
/// patterns are resolved by [`load_context`] into the OID sets readers ask about through
/// [`Ctx`].
#[derive(Debug, Clone)]
pub struct Selection {
    pub schema: bool,
    pub data: bool,
    pub no_owner: bool,
    pub no_privileges: bool,
    pub no_comments: bool,
    pub no_toast_compression: bool,
    pub no_unlogged_table_data: bool,
    /// No inclusion switch (`-t`, `-n`, `-e`, `--table-and-children`, filter `include`) was
    /// given: objects that belong to no schema (casts, languages, access methods, foreign
    /// data wrappers and servers, publications, subscriptions, event triggers, global default
    /// ACLs) and large objects are dumped (pg_dump's `include_everything`).
    pub include_everything: bool,
    /// `--no-publications`, `--no-subscriptions`, `--no-security-labels`, `--no-policies`:
    /// those objects are not collected at all.
    pub no_publications: bool,
    pub no_subscriptions: bool,
    pub no_security_labels: bool,
    pub no_policies: bool,
    /// Server 18's `STATISTICS DATA` entries (`--statistics`, `--statistics-only`).
    pub statistics: bool,
    /// Large objects: `None` = pg_dump's default (dumped with data when nothing narrows the
    /// dump), `Some(true)` = `-b`, `Some(false)` = `-B`.
    pub large_objects: Option<bool>,
    /// `-n/-N/-t/-T/-e/--exclude-extension/--exclude-table-data[...]/--include-foreign-data`
    /// and filter files.
    pub patterns: Patterns,
    /// `--sequence-data`: sequence values even when no other data is dumped.
    pub sequence_data: bool,
    /// `--load-via-partition-root`: partitions' data is loaded through their root table.
    pub load_via_partition_root: bool,
    /// `--inserts` and friends: table data as INSERT statements instead of COPY.
    pub inserts: Option<InsertOptions>,
    /// `--disable-dollar-quoting`: function bodies as ordinary string literals.
    pub disable_dollar_quoting: bool,
    /// OIDs of foreign servers whose foreign tables' rows are dumped, for library callers
    /// that know them; the CLI's `--include-foreign-data` patterns (in `patterns`) are
    /// resolved by [`load_context`] and add to these. Empty (and no pattern): no foreign
    /// data, as pg_dump by default.
    pub foreign_data_servers: Vec<u32>,
}

impl Default for Selection {
    fn default() -> Self {
        Selection {
            schema: true,
            data: true,
            no_owner: false,
            no_privileges: false,
            no_comments: false,
            no_toast_compression: false,
            no_unlogged_table_data: false,
            include_everything: true,
            no_publications: false,
            no_subscriptions: false,
            no_security_labels: false,
            no_policies: false,
            statistics: false,
            large_objects: None,
            patterns: Patterns::default(),
            sequence_data: false,
            load_via_partition_root: false,
            inserts: None,
            disable_dollar_quoting: false,
            foreign_data_servers: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Namespace {
    pub oid: u32,
    pub name: String,
    pub owner: String,
    /// Objects in this schema are dumped (pg_dump's `dump_contains`): user schemas, narrowed
    /// by `-n`/`-N`; none at all with `-t`.
    pub dumped: bool,
    /// The schema's own entry (SCHEMA, its comment and ACL) is dumped (pg_dump's `dump`).
    pub dump_entry: bool,
    /// Chosen by the default rule (no `-n`, no `-t`): only then does `public` get pg_dump's
    /// special treatment (no CREATE, no entry at all when owned by pg_database_owner).
    pub by_default: bool,
    /// Owned by an extension: the schema itself is not created (its objects still are).
    pub extension_member: bool,
}

/// A dumped relation of any kind, as the relation readers need it.
#[derive(Debug, Clone)]
pub struct Rel {
    pub oid: u32,
    pub name: String,
    pub schema: String,
    pub owner: String,
    pub relkind: u8,
    /// `schema.name`, quoted.
    pub qualified: String,
}

/// Lookups shared by every kind's reader, and the entries they produce.
pub struct Ctx<'a> {
    pub db: &'a Session,
    pub version: ServerVersion,
    pub selection: &'a Selection,
    pub roles: HashMap<u32, String>,
    pub namespaces: HashMap<u32, Namespace>,
    /// Extension member → the extension's OID.
    pub ext_members: IdMap<u32>,
    pub depend: DependGraph,
    /// (classoid, objoid, objsubid) → comment text.
    pub comments: HashMap<(u32, u32, i32), String>,
    /// Security labels (pg_seclabel), empty when none are dumped.
    pub seclabels: seclabels::Labels,
    /// (classoid, objoid, objsubid) → initial privileges (`pg_init_privs.initprivs::text`).
    pub init_privs: HashMap<(u32, u32, i32), String>,
    /// Every relation whose definition is dumped (pg_dump's `selectDumpableTable`: its
    /// schema's objects are dumped, or it was selected with `-t`; not excluded with `-T`;
    /// not an extension member; owned sequences follow their table), read once and shared
    /// by the readers.
    pub relations: Arc<HashMap<u32, Rel>>,
    /// Every relation, dumped or not, for naming ones a dumped object refers to (the parent
    /// of a partition selected alone, say).
    pub all_relations: Arc<HashMap<u32, Rel>>,
    /// The selection patterns resolved into OIDs.
    pub selected: Resolved,
    pub entries: Vec<Entry>,
    /// What pg_dump would warn about while collecting (e.g. subscriptions a non-superuser
    /// cannot dump), in its wording.
    pub warnings: Vec<String>,
    /// Large objects as archive 1.16 holds them (BLOB METADATA groups, pg_dump 17+) rather
    /// than one pre-data BLOB entry each and one BLOBS entry (pg_dump 16 and older).
    pub large_object_groups: bool,
    /// Queries helper sessions run ahead while [`read_all`] reads (see `prefetch`).
    prefetch: Prefetch,
}

impl<'a> Ctx<'a> {
    /// Whether large objects are dumped (pg_dump.c main: by default when the whole database
    /// is dumped, forced by -b, dropped by -B; never without data — stock pg_dump -s -b
    /// leaves them out too).
    pub fn large_objects_wanted(&self) -> bool {
        self.selection.data
            && self
                .selection
                .large_objects
                .unwrap_or(self.selection.include_everything)
    }

    /// Rows of a catalog query: a helper's, when it ran `sql` ahead, else the leader's.
    pub(crate) async fn query(&self, sql: &str) -> Result<Vec<crate::pg::Row>> {
        match self.prefetch.take(sql).await {
            Some(rows) => Ok(rows),
            None => self.db.query(sql).await,
        }
    }

    pub fn role(&self, oid: u32) -> String {
        self.roles.get(&oid).cloned().unwrap_or_default()
    }

    pub fn namespace(&self, oid: u32) -> Option<&Namespace> {
        self.namespaces.get(&oid)
    }

    /// True when objects of this namespace are dumped.
    pub fn schema_dumped(&self, oid: u32) -> bool {
        self.namespaces.get(&oid).is_some_and(|n| n.dumped)
    }

    /// True when the namespace's own SCHEMA entry (and its comment and ACL) is dumped.
    pub fn schema_entry_dumped(&self, oid: u32) -> bool {
        self.namespaces.get(&oid).is_some_and(|n| n.dump_entry)
    }

    /// True when the relation's definition is dumped; objects attached to a table
    /// (indexes, constraints, triggers, rules, policies, statistics) follow it.
    pub fn relation_dumped(&self, oid: u32) -> bool {
        self.relations.contains_key(&oid)
    }

    /// The dumped relations of these relkinds, by OID, ascending.
    pub fn dumped_relation_oids(&self, relkinds: &[u8]) -> Vec<u32> {
        let mut oids: Vec<u32> = self
            .relations
            .values()
            .filter(|r| relkinds.contains(&r.relkind))
            .map(|r| r.oid)
            .collect();
        oids.sort_unstable();
        oids
    }

    /// True when a dumped table's (or matview's, or sequence's) data is dumped: data is
    /// wanted and `--exclude-table-data[-and-children]` did not name it (pg_dump's
    /// `makeTableDataInfo`).
    pub fn table_data_dumped(&self, oid: u32) -> bool {
        self.selection.data && self.relation_dumped(oid) && !self.selected.table_data_exclude.contains(&oid)
    }

    /// True when a sequence's value is dumped: as table data, or with `--sequence-data`.
    pub fn sequence_data_dumped(&self, oid: u32) -> bool {
        (self.selection.data || self.selection.sequence_data)
            && self.relation_dumped(oid)
            && !self.selected.table_data_exclude.contains(&oid)
    }

    /// True when an extension is dumped (pg_dump's `selectDumpableExtension`): with `-e`,
    /// those named; otherwise all of them when nothing narrows the dump; never one named by
    /// `--exclude-extension`.
    pub fn extension_dumped(&self, oid: u32) -> bool {
        let included = match &self.selected.extension_include {
            Some(set) => set.contains(&oid),
            None => self.include_everything(),
        };
        included && !self.selected.extension_exclude.contains(&oid)
    }

    /// True when the data of foreign tables on this server is dumped
    /// (`--include-foreign-data` patterns, or [`Selection::foreign_data_servers`]); for the
    /// foreign-table reader.
    pub fn foreign_server_data_dumped(&self, server_oid: u32) -> bool {
        self.selected.foreign_servers.contains(&server_oid) || self.selection.foreign_data_servers.contains(&server_oid)
    }

    /// True when objects that belong to no schema are dumped (see
    /// [`Selection::include_everything`]).
    pub fn include_everything(&self) -> bool {
        self.selection.include_everything
    }

    pub fn is_extension_member(&self, id: CatalogId) -> bool {
        self.ext_members.contains_key(&id)
    }

    pub fn comment(&self, classoid: u32, objoid: u32, subid: i32) -> Option<&str> {
        if self.selection.no_comments {
            return None;
        }
        self.comments.get(&(classoid, objoid, subid)).map(String::as_str)
    }

    /// The object's own security labels when they are dumped (schema wanted, no
    /// `--no-security-labels`; `dumpSecLabel`).
    pub fn labels(&self, classoid: u32, objoid: u32) -> Vec<crate::ddl::seclabel::Label> {
        if !seclabels::dumped(self.selection, false) {
            return Vec::new();
        }
        seclabels::own(&self.seclabels, classoid, objoid)
    }

    /// A large object's security labels, which pg_dump counts as data.
    pub fn large_object_labels(&self, oid: u32) -> Vec<crate::ddl::seclabel::Label> {
        if !seclabels::dumped(self.selection, true) {
            return Vec::new();
        }
        seclabels::own(&self.seclabels, catalog_oid::PG_LARGEOBJECT, oid)
    }

    /// A relation's labels and its columns' (`dumpTableSecLabel`), columns as (name, attnum).
    pub fn relation_labels<'c>(
        &self,
        oid: u32,
        columns: &[(&'c str, i64)],
    ) -> Vec<(Option<&'c str>, crate::ddl::seclabel::Label)> {
        if !seclabels::dumped(self.selection, false) {
            return Vec::new();
        }
        seclabels::with_columns(&self.seclabels, catalog_oid::PG_CLASS, oid, columns)
    }

    /// `(current, baseline)` aclitem lists for an object, or `None` when there is nothing to
    /// compare (`dumpACL` with `pg_init_privs`): the baseline is the object's initial privileges
    /// when it has some, else `acldefault`; a NULL ACL means "the default", and with no initial
    /// privileges nothing is dumped.
    pub fn acl_lists(
        &self,
        classoid: u32,
        oid: u32,
        subid: i32,
        acl: Option<&str>,
        acldefault: &str,
    ) -> Option<(Vec<String>, Vec<String>)> {
        if self.selection.no_privileges {
            return None;
        }
        match (self.init_privs.get(&(classoid, oid, subid)), acl) {
            (Some(init), acl) => Some((parse_acl_array(acl.unwrap_or(acldefault)), parse_acl_array(init))),
            (None, None) => None,
            (None, Some(acl)) => Some((parse_acl_array(acl), parse_acl_array(acldefault))),
        }
    }

    /// Adds an entry and returns its index (for `Dep::Entry`).
    pub fn push(&mut self, e: Entry) -> usize {
        self.entries.push(e);
        self.entries.len() - 1
    }
}

impl Ctx<'_> {
    /// Hands the entries and lookups to the planner.
    pub fn finish(self) -> Catalog {
        Catalog {
            version: self.version,
            entries: self.entries,
            depend: self.depend,
            ext_members: self.ext_members,
            warnings: self.warnings,
        }
    }
}

/// Quoted names of the plain and partitioned tables whose definition or data we dump
/// (pg_dump's getTables locks exactly relkinds r and p).
pub fn lockable_tables(ctx: &Ctx<'_>) -> Vec<String> {
    let mut tables: Vec<&Rel> = ctx
        .relations
        .values()
        .filter(|r| matches!(r.relkind, b'r' | b'p'))
        .collect();
    tables.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
    tables.into_iter().map(|r| r.qualified.clone()).collect()
}

/// Says what the dump is doing, in pg_dump's verbose words (shown with `-v`).
macro_rules! narrate {
    ($($arg:tt)*) => {
        tracing::info!(target: "pgsnap::narrate", $($arg)*)
    };
}
pub(crate) use narrate;

/// Reads every object kind into `ctx.entries`, after the leader has locked the tables.
/// `helpers` (sessions in the dump's snapshot) run most of its queries ahead; they are closed
/// before this returns.
pub async fn read_all(ctx: &mut Ctx<'_>, helpers: Vec<Session>) -> Result<()> {
    ctx.prefetch = Prefetch::start(helpers, queries_ahead(ctx));
    let read = read_each(ctx).await;
    let unused = std::mem::take(&mut ctx.prefetch).finish().await;
    // A query left means a reader built other SQL than `queries_ahead` did: correct, but the
    // helper's time was wasted; tests (debug builds) catch it.
    debug_assert!(
        read.is_err() || unused.is_empty(),
        "catalog queries run ahead but never read: {unused:?}"
    );
    read
}

/// The queries run ahead, in the order the readers run them, each with its weight: its
/// server time in ms on a database of 10 000 tables (1 for the small ones), by which they are
/// shared among the helpers. Each is built by the function its reader uses, and only where
/// that reader always runs it.
fn queries_ahead(ctx: &Ctx<'_>) -> Vec<(String, u32)> {
    let mut q = vec![
        (schemas::LIST_SQL.to_string(), 1),
        (extensions::LIST_SQL.to_string(), 1),
        (collations::list_sql(ctx), 1),
        (functions::list_sql(), 4),
        (types::LIST_SQL.to_string(), 22),
        (languages::list_sql(), 1),
        (aggregates::list_sql(), 1),
        (operators::list_sql(), 1),
        (access_methods::list_sql(), 1),
    ];
    q.extend(opclasses::queries().into_iter().map(|sql| (sql, 1)));
    q.extend(
        [
            text_search::PARSERS_SQL,
            text_search::TEMPLATES_SQL,
            text_search::DICTIONARIES_SQL,
            text_search::MAPPINGS_SQL,
            text_search::CONFIGS_SQL,
        ]
        .map(|sql| (sql.to_string(), 1)),
    );
    q.extend([
        (conversions::LIST_SQL.to_string(), 1),
        (casts::list_sql(ctx), 1),
        (transforms::list_sql(), 1),
        (table_rows::via_root_sql(ctx), 4),
        (table_rows::tables_sql(), 61),
        (table_rows::columns_sql(ctx), 113),
    ]);
    if ctx.version.at_least(18) {
        q.push((table_rows::NOT_NULLS_SQL.to_string(), 11));
    }
    q.extend([
        (table_rows::CHECKS_SQL.to_string(), 2),
        (sequences::list_sql(ctx), 10),
        (views::columns_sql(ctx), 1),
        (views::list_sql(ctx), 1),
    ]);
    // Readers that run only in some dumps are asked for under the very conditions they check.
    if ctx.include_everything() {
        q.extend(
            [
                foreign_data::fdws_sql(),
                foreign_data::servers_sql(),
                foreign_data::mappings_sql(),
            ]
            .map(|sql| (sql, 1)),
        );
    }
    q.extend([
        (constraints::LIST_SQL.to_string(), 140),
        (indexes::LIST_SQL.to_string(), 66),
        (statistics::list_sql(ctx), 1),
        (triggers::LIST_SQL.to_string(), 2),
        (rules::LIST_SQL.to_string(), 1),
    ]);
    if !ctx.selection.no_policies {
        q.extend([policies::RLS_TABLES_SQL, policies::POLICIES_SQL].map(|sql| (sql.to_string(), 1)));
    }
    if !ctx.selection.no_privileges {
        q.push((default_acls::LIST_SQL.to_string(), 1));
    }
    q.push((event_triggers::LIST_SQL.to_string(), 1));
    if ctx.large_objects_wanted() {
        q.push((large_objects::list_sql(ctx), 1));
    }
    q.push((unselected::LIST_SQL.to_string(), 11));
    q
}

/// Runs every object kind's reader, in pg_dump's collection order.
async fn read_each(ctx: &mut Ctx<'_>) -> Result<()> {
    narrate!("reading schemas");
    schemas::read(ctx).await?;
    narrate!("reading extensions");
    extensions::read(ctx).await?;
    narrate!("reading user-defined collations");
    collations::read(ctx).await?;
    narrate!("reading user-defined functions");
    functions::read(ctx).await?;
    narrate!("reading user-defined types");
    types::read(ctx).await?;
    narrate!("reading procedural languages");
    languages::read(ctx).await?;
    narrate!("reading user-defined aggregate functions");
    aggregates::read(ctx).await?;
    narrate!("reading user-defined operators");
    operators::read(ctx).await?;
    narrate!("reading user-defined access methods");
    access_methods::read(ctx).await?;
    narrate!("reading user-defined operator classes");
    opclasses::read(ctx).await?;
    narrate!("reading user-defined text search configurations");
    text_search::read(ctx).await?;
    narrate!("reading user-defined conversions");
    conversions::read(ctx).await?;
    narrate!("reading type casts");
    casts::read(ctx).await?;
    narrate!("reading transforms");
    transforms::read(ctx).await?;
    narrate!("reading column info for interesting tables");
    tables::read(ctx).await?;
    sequences::read(ctx).await?;
    ext_config::read(ctx).await?;
    views::read(ctx).await?;
    narrate!("reading user-defined foreign-data wrappers");
    foreign_data::read(ctx).await?;
    narrate!("reading constraints");
    constraints::read(ctx).await?;
    narrate!("reading indexes");
    indexes::read(ctx).await?;
    narrate!("reading relation statistics");
    rel_stats::read(ctx).await?;
    narrate!("reading extended statistics");
    statistics::read(ctx).await?;
    narrate!("reading triggers");
    triggers::read(ctx).await?;
    narrate!("reading rewrite rules");
    rules::read(ctx).await?;
    narrate!("reading row-level security policies");
    policies::read(ctx).await?;
    narrate!("reading publications");
    publications::read(ctx).await?;
    narrate!("reading subscriptions");
    subscriptions::read(ctx).await?;
    narrate!("reading default privileges");
    default_acls::read(ctx).await?;
    narrate!("reading privileges changed on pg_catalog objects");
    system_acls::read(ctx).await?;
    narrate!("reading event triggers");
    event_triggers::read(ctx).await?;
    narrate!("reading large objects");
    large_objects::read(ctx).await?;
    // pg_dump sorts every relation, dumped or not; the plan is made whole, then filtered.
    unselected::read(ctx).await?;
    if ctx.selection.data && !ctx.selection.schema {
        order_data_by_foreign_keys(ctx).await?;
    }
    Ok(())
}

/// In a data-only dump the constraints are not recreated, so data is loaded referenced
/// tables first: a table's data depends on the data of every table its foreign keys point
/// to, when both are dumped (pg_dump.c `getTableDataFKConstraints`).
async fn order_data_by_foreign_keys(ctx: &mut Ctx<'_>) -> Result<()> {
    let data_of: HashMap<u32, usize> = ctx
        .entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.desc == "TABLE DATA")
        .filter_map(|(i, e)| e.toc_oid.map(|oid| (oid, i)))
        .collect();
    if data_of.is_empty() {
        return Ok(());
    }
    for r in ctx
        .db
        .query("SELECT conrelid, confrelid FROM pg_catalog.pg_constraint WHERE contype = 'f' ORDER BY oid")
        .await?
    {
        let (from, to) = (r.oid(0)?, r.oid(1)?);
        if !ctx.relation_dumped(from) {
            continue;
        }
        if let (Some(&i), Some(&j)) = (data_of.get(&from), data_of.get(&to))
            && i != j
        {
            ctx.entries[i].deps.push(crate::model::Dep::Entry(j));
        }
    }
    Ok(())
}

/// Everything the planner and the data phase need from the catalogs.
pub struct Catalog {
    pub version: ServerVersion,
    pub entries: Vec<Entry>,
    pub depend: DependGraph,
    pub ext_members: IdMap<u32>,
    pub warnings: Vec<String>,
}

/// Loads roles, namespaces, extension membership, dependencies, comments and initial
/// privileges (pg_dump's `getRoles`, `getNamespaces`, `getExtensionMembership`,
/// `getDependencies`, `collectComments`, `getAdditionalACLs`).
///
/// The selection patterns are resolved here, after the snapshot and before any lock, as
/// pg_dump does, and applied as its `selectDumpableNamespace` / `selectDumpableTable` /
/// `getOwnedSeqs` do.
pub async fn load_context<'a>(db: &'a Session, selection: &'a Selection) -> Result<Ctx<'a>> {
    let version = db.version();
    let selected = crate::select::resolve(db, &selection.patterns).await?;
    narrate!("identifying extension members");
    narrate!("reading dependency data");
    // Independent reads, sent at once (tokio-postgres pipelines them on the connection): one
    // round trip for the six instead of one each.
    let (role_rows, member_rows, namespace_rows, depend_rows, comment_rows, privilege_rows) = tokio::try_join!(
        db.query("SELECT oid, rolname FROM pg_catalog.pg_roles"),
        db.query(
            "SELECT classid, objid, refobjid FROM pg_catalog.pg_depend \
             WHERE refclassid = 'pg_catalog.pg_extension'::regclass AND deptype = 'e'",
        ),
        db.query("SELECT oid, nspname, nspowner FROM pg_catalog.pg_namespace"),
        // Pin ('p') rows say nothing about order; extension membership ('e') is read above.
        db.query(
            "SELECT classid, objid, refclassid, refobjid, deptype FROM pg_catalog.pg_depend \
             WHERE deptype <> 'p' AND deptype <> 'e'",
        ),
        db.query("SELECT classoid, objoid, objsubid, description FROM pg_catalog.pg_description"),
        db.query("SELECT classoid, objoid, objsubid, initprivs::text FROM pg_catalog.pg_init_privs"),
    )?;
    let mut roles = HashMap::new();
    for r in role_rows {
        roles.insert(r.oid(0)?, r.text(1)?);
    }
    let mut ext_members = IdMap::default();
    for r in member_rows {
        ext_members.insert(CatalogId::new(r.oid(0)?, r.oid(1)?), r.oid(2)?);
    }
    let mut namespaces = HashMap::new();
    for r in namespace_rows {
        let oid = r.oid(0)?;
        let name = r.text(1)?;
        let system = name.starts_with("pg_") || name == "information_schema";
        let extension_member = ext_members.contains_key(&CatalogId::new(catalog_oid::PG_NAMESPACE, oid));
        let owner = roles.get(&r.oid(2)?).cloned().unwrap_or_default();
        // selectDumpableNamespace: -t dumps no whole schema, -n only those named, else
        // every user schema; -N removes in every case.
        let by_default = selected.table_include.is_none() && selected.schema_include.is_none();
        let chosen = if selected.table_include.is_some() {
            false
        } else if let Some(set) = &selected.schema_include {
            set.contains(&oid)
        } else {
            !system
        };
        let dumped = chosen && !selected.schema_exclude.contains(&oid);
        namespaces.insert(
            oid,
            Namespace {
                oid,
                name,
                owner,
                dumped,
                dump_entry: dumped,
                by_default: by_default && dumped,
                extension_member,
            },
        );
    }
    let mut rows = Vec::with_capacity(depend_rows.len());
    for r in depend_rows {
        rows.push(DependRow {
            from: CatalogId::new(r.oid(0)?, r.oid(1)?),
            to: CatalogId::new(r.oid(2)?, r.oid(3)?),
            deptype: r.char(4)?,
        });
    }
    let mut comments = HashMap::new();
    for r in comment_rows {
        comments.insert((r.oid(0)?, r.oid(1)?, r.int(2)? as i32), r.text(3)?);
    }
    let mut init_privs = HashMap::new();
    for r in privilege_rows {
        init_privs.insert((r.oid(0)?, r.oid(1)?, r.int(2)? as i32), r.text(3)?);
    }
    narrate!("reading security labels");
    let seclabels = seclabels::group(seclabels::fetch(db, selection).await?);
    narrate!("reading user-defined tables");
    let (relations, all_relations) = dumped_relations(db, &namespaces, &roles, &ext_members, &selected).await?;
    Ok(Ctx {
        db,
        version,
        selection,
        roles,
        namespaces,
        ext_members,
        depend: DependGraph::new(rows),
        comments,
        seclabels,
        init_privs,
        relations: Arc::new(relations),
        all_relations: Arc::new(all_relations),
        selected,
        entries: Vec::new(),
        warnings: Vec::new(),
        large_object_groups: false,
        prefetch: Prefetch::default(),
    })
}

/// Every relation, and those whose definition is dumped (`selectDumpableTable`, then
/// `getOwnedSeqs`: an identity sequence is dumped exactly when its table is, another owned
/// sequence also when its table is).
async fn dumped_relations(
    db: &Session,
    namespaces: &HashMap<u32, Namespace>,
    roles: &HashMap<u32, String>,
    ext_members: &IdMap<u32>,
    selected: &Resolved,
) -> Result<(HashMap<u32, Rel>, HashMap<u32, Rel>)> {
    // Indexes and TOAST tables are left out: nothing looks them up here (an index follows its
    // table), and a schema of 10 000 tables has as many indexes again.
    let mut all = HashMap::new();
    let mut dumped = HashSet::new();
    // (sequence, owning table, identity?)
    let mut owned = Vec::new();
    for r in db
        .query(
            "SELECT c.oid, c.relname, c.relnamespace, c.relowner, c.relkind, d.refobjid, d.deptype \
             FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_depend d ON c.relkind = 'S' \
               AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.objsubid = 0 \
               AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype IN ('a', 'i') \
             WHERE c.relkind NOT IN ('i', 'I', 't')",
        )
        .await?
    {
        let oid = r.oid(0)?;
        let Some(ns) = namespaces.get(&r.oid(2)?) else {
            continue;
        };
        let name = r.text(1)?;
        let rel = Rel {
            oid,
            qualified: crate::ddl::quote::qualified(&ns.name, &name),
            name,
            schema: ns.name.clone(),
            owner: roles.get(&r.oid(3)?).cloned().unwrap_or_default(),
            relkind: r.char(4)?,
        };
        if !ext_members.contains_key(&CatalogId::class(oid)) {
            let chosen = match &selected.table_include {
                Some(set) => set.contains(&oid),
                None => ns.dumped,
            };
            if chosen && !selected.table_exclude.contains(&oid) {
                dumped.insert(oid);
            }
            if let Some(table) = r.opt_int(5)? {
                owned.push((oid, table as u32, r.opt_text(6)?.as_deref() == Some("i")));
            }
        }
        all.insert(oid, rel);
    }
    for (seq, table, identity) in owned {
        let table_dumped = dumped.contains(&table);
        if table_dumped {
            dumped.insert(seq);
        } else if identity {
            dumped.remove(&seq);
        }
    }
    let relations = dumped
        .iter()
        .filter_map(|oid| all.get(oid).map(|r| (*oid, r.clone())))
        .collect();
    Ok((relations, all))
}

/// `oids` as the text of a Postgres array literal (`{1,2,3}`), to go inside
/// `'...'::pg_catalog.oid[]` in a query.
pub(crate) fn oid_array(oids: &[u32]) -> String {
    let items: Vec<String> = oids.iter().map(u32::to_string).collect();
    format!("{{{}}}", items.join(","))
}

/// Splits a Postgres array literal of aclitems (`{a=r/b,"c d"=w/b}`) into item strings.
pub fn parse_acl_array(text: &str) -> Vec<String> {
    let inner = text.trim().trim_start_matches('{').trim_end_matches('}');
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut in_quotes = false;
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => in_quotes = !in_quotes,
            '\\' if in_quotes => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ',' if !in_quotes => items.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() || !items.is_empty() {
        items.push(cur);
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_arrays_split_with_quotes() {
        assert_eq!(parse_acl_array("{}"), Vec::<String>::new());
        assert_eq!(
            parse_acl_array("{postgres=arwdDxtm/postgres,=r/postgres}"),
            vec!["postgres=arwdDxtm/postgres", "=r/postgres"]
        );
        assert_eq!(parse_acl_array("{\"a b\"=r/postgres}"), vec!["a b=r/postgres"]);
    }
}
pub mod access_methods;
pub mod aggregates;
pub mod casts;
pub mod collations;
pub mod constraints;
pub mod conversions;
pub mod database;
pub mod default_acls;
pub mod dumpable;
pub mod event_triggers;
pub mod ext_config;
pub mod extensions;
pub mod foreign_data;
pub mod functions;
pub mod indexes;
pub mod languages;
pub mod large_objects;
pub mod opclasses;
pub mod operators;
pub mod policies;
pub(crate) mod prefetch;
pub mod publications;
pub mod rel_stats;
pub mod rules;
pub mod schemas;
pub mod seclabels;
pub mod sequences;
pub mod statistics;
pub mod subscriptions;
pub mod system_acls;
pub mod table_rows;
pub mod tables;
pub mod text_search;
pub mod transforms;
pub mod triggers;
pub mod types;
pub mod unselected;
pub mod views;
