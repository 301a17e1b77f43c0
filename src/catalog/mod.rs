//! Version-gated catalog queries → `model::Entry` values, with selection applied.
//!
//! `read` loads the shared lookups first (roles, namespaces, extension membership,
//! `pg_depend`, comments, `pg_init_privs`), then every object kind's reader pushes its
//! entries into the context. Each kind lives in its own file; the SQL it renders comes from
//! `ddl/`.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::Result;
use crate::model::{CatalogId, DependGraph, Entry, ServerVersion, catalog_oid, depend::DependRow};
use crate::pg::Session;

/// What to dump. Pattern selection (`-n/-t/-N/-T`) arrives with the CLI issue; the shape is
/// here so readers already ask the right questions.
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
    /// `--include-foreign-data`: OIDs of the foreign servers (the CLI resolves the patterns)
    /// whose foreign tables' rows are dumped. Empty: no foreign data, as pg_dump by default.
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
            foreign_data_servers: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Namespace {
    pub oid: u32,
    pub name: String,
    pub owner: String,
    /// True for user schemas we dump objects of (not pg_catalog, information_schema,
    /// pg_toast, temp schemas).
    pub dumped: bool,
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
    pub ext_members: HashMap<CatalogId, u32>,
    pub depend: DependGraph,
    /// (classoid, objoid, objsubid) → comment text.
    pub comments: HashMap<(u32, u32, i32), String>,
    /// (classoid, objoid, objsubid) → initial privileges (`pg_init_privs.initprivs::text`).
    pub init_privs: HashMap<(u32, u32, i32), String>,
    /// Every relation whose definition is dumped (in a user schema, not an extension
    /// member: pg_dump's `selectDumpableTable`), read once and shared by the readers.
    pub relations: Arc<HashMap<u32, Rel>>,
    pub entries: Vec<Entry>,
    /// What pg_dump would warn about while collecting (e.g. subscriptions a non-superuser
    /// cannot dump), in its wording.
    pub warnings: Vec<String>,
}

impl<'a> Ctx<'a> {
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

/// Runs every object kind's reader, in pg_dump's collection order.
pub async fn read_all(ctx: &mut Ctx<'_>) -> Result<()> {
    schemas::read(ctx).await?;
    extensions::read(ctx).await?;
    collations::read(ctx).await?;
    functions::read(ctx).await?;
    types::read(ctx).await?;
    languages::read(ctx).await?;
    aggregates::read(ctx).await?;
    operators::read(ctx).await?;
    access_methods::read(ctx).await?;
    opclasses::read(ctx).await?;
    text_search::read(ctx).await?;
    conversions::read(ctx).await?;
    casts::read(ctx).await?;
    transforms::read(ctx).await?;
    tables::read(ctx).await?;
    sequences::read(ctx).await?;
    views::read(ctx).await?;
    foreign_data::read(ctx).await?;
    constraints::read(ctx).await?;
    indexes::read(ctx).await?;
    statistics::read(ctx).await?;
    triggers::read(ctx).await?;
    rules::read(ctx).await?;
    policies::read(ctx).await?;
    publications::read(ctx).await?;
    subscriptions::read(ctx).await?;
    default_acls::read(ctx).await?;
    event_triggers::read(ctx).await?;
    Ok(())
}

/// Everything the planner and the data phase need from the catalogs.
pub struct Catalog {
    pub version: ServerVersion,
    pub entries: Vec<Entry>,
    pub depend: DependGraph,
    pub ext_members: HashMap<CatalogId, u32>,
    pub warnings: Vec<String>,
}

/// Loads roles, namespaces, extension membership, dependencies, comments and initial
/// privileges (pg_dump's `getRoles`, `getNamespaces`, `getExtensionMembership`,
/// `getDependencies`, `collectComments`, `getAdditionalACLs`).
pub async fn load_context<'a>(db: &'a Session, selection: &'a Selection) -> Result<Ctx<'a>> {
    let version = db.version();
    let mut roles = HashMap::new();
    for r in db.query("SELECT oid, rolname FROM pg_catalog.pg_roles").await? {
        roles.insert(r.oid(0)?, r.text(1)?);
    }
    let mut ext_members = HashMap::new();
    for r in db
        .query(
            "SELECT classid, objid, refobjid FROM pg_catalog.pg_depend \
             WHERE refclassid = 'pg_catalog.pg_extension'::regclass AND deptype = 'e'",
        )
        .await?
    {
        ext_members.insert(CatalogId::new(r.oid(0)?, r.oid(1)?), r.oid(2)?);
    }
    let mut namespaces = HashMap::new();
    for r in db
        .query("SELECT oid, nspname, nspowner FROM pg_catalog.pg_namespace")
        .await?
    {
        let oid = r.oid(0)?;
        let name = r.text(1)?;
        let system = name.starts_with("pg_") || name == "information_schema";
        let extension_member = ext_members.contains_key(&CatalogId::new(catalog_oid::PG_NAMESPACE, oid));
        let owner = roles.get(&r.oid(2)?).cloned().unwrap_or_default();
        namespaces.insert(
            oid,
            Namespace {
                oid,
                name,
                owner,
                dumped: !system,
                extension_member,
            },
        );
    }
    let mut rows = Vec::new();
    // Pin ('p') rows say nothing about order; extension membership ('e') is handled above.
    for r in db
        .query(
            "SELECT classid, objid, refclassid, refobjid, deptype FROM pg_catalog.pg_depend \
             WHERE deptype <> 'p' AND deptype <> 'e'",
        )
        .await?
    {
        rows.push(DependRow {
            from: CatalogId::new(r.oid(0)?, r.oid(1)?),
            to: CatalogId::new(r.oid(2)?, r.oid(3)?),
            deptype: r.char(4)?,
        });
    }
    let mut comments = HashMap::new();
    for r in db
        .query("SELECT classoid, objoid, objsubid, description FROM pg_catalog.pg_description")
        .await?
    {
        comments.insert((r.oid(0)?, r.oid(1)?, r.int(2)? as i32), r.text(3)?);
    }
    let mut init_privs = HashMap::new();
    for r in db
        .query("SELECT classoid, objoid, objsubid, initprivs::text FROM pg_catalog.pg_init_privs")
        .await?
    {
        init_privs.insert((r.oid(0)?, r.oid(1)?, r.int(2)? as i32), r.text(3)?);
    }
    let mut relations = HashMap::new();
    for r in db
        .query("SELECT c.oid, c.relname, c.relnamespace, c.relowner, c.relkind FROM pg_catalog.pg_class c")
        .await?
    {
        let oid = r.oid(0)?;
        let Some(ns) = namespaces.get(&r.oid(2)?).filter(|n| n.dumped) else {
            continue;
        };
        if ext_members.contains_key(&CatalogId::class(oid)) {
            continue;
        }
        let name = r.text(1)?;
        let rel = Rel {
            oid,
            qualified: crate::ddl::quote::qualified(&ns.name, &name),
            name,
            schema: ns.name.clone(),
            owner: roles.get(&r.oid(3)?).cloned().unwrap_or_default(),
            relkind: r.char(4)?,
        };
        relations.insert(oid, rel);
    }
    Ok(Ctx {
        db,
        version,
        selection,
        roles,
        namespaces,
        ext_members,
        depend: DependGraph::new(rows),
        comments,
        init_privs,
        relations: Arc::new(relations),
        entries: Vec::new(),
        warnings: Vec::new(),
    })
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
pub mod extensions;
pub mod foreign_data;
pub mod functions;
pub mod indexes;
pub mod languages;
pub mod opclasses;
pub mod operators;
pub mod policies;
pub mod publications;
pub mod rules;
pub mod schemas;
pub mod sequences;
pub mod statistics;
pub mod subscriptions;
pub mod tables;
pub mod text_search;
pub mod transforms;
pub mod triggers;
pub mod types;
pub mod unsupported;
pub mod views;
