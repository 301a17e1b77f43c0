//! Foreign-data wrappers and foreign servers with their user mappings (pg_dump.c
//! `getForeignDataWrappers`, `getForeignServers`, `dumpForeignDataWrapper`,
//! `dumpForeignServer`, `dumpUserMappings`). They belong to no schema: dumped when the dump
//! includes everything, never as extension members. Foreign tables are tables (tables.rs).

use super::Ctx;
use super::table_rows::options_list_sql;
use crate::ddl::acl::{AclKind, acl_entry};
use crate::ddl::comment::comment_entry;
use crate::ddl::foreign_data::{
    drop_fdw_sql, drop_server_sql, drop_user_mapping_sql, fdw_sql, server_sql, user_mapping_sql, user_mapping_tag,
};
use crate::ddl::quote::ident;
use crate::error::Result;
use crate::model::{CatalogId, Entry, Priority, Section, catalog_oid};

/// One `pg_foreign_data_wrapper` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdwRow {
    pub oid: u32,
    pub name: String,
    pub owner: String,
    /// `regproc` text; `None` when unset.
    pub handler: Option<String>,
    pub validator: Option<String>,
    pub options: Vec<String>,
    pub acl: Option<String>,
    pub acldefault: String,
}

/// One `pg_foreign_server` row with its user mappings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerRow {
    pub oid: u32,
    pub name: String,
    pub owner: String,
    pub fdw: String,
    pub srvtype: Option<String>,
    pub version: Option<String>,
    pub options: Vec<String>,
    pub acl: Option<String>,
    pub acldefault: String,
    pub mappings: Vec<MappingRow>,
}

/// One `pg_user_mappings` row: options are empty when this user may not see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingRow {
    pub user: String,
    pub options: Vec<String>,
}

/// The foreign-data wrappers query (also run ahead by a catalog helper).
pub(crate) fn fdws_sql() -> String {
    format!(
        "SELECT w.oid, w.fdwname, w.fdwowner, \
         CASE WHEN w.fdwhandler <> 0 THEN w.fdwhandler::pg_catalog.regproc::text END, \
         CASE WHEN w.fdwvalidator <> 0 THEN w.fdwvalidator::pg_catalog.regproc::text END, {}, \
         w.fdwacl::text, pg_catalog.acldefault('F', w.fdwowner)::text \
         FROM pg_catalog.pg_foreign_data_wrapper w ORDER BY w.oid",
        options_list_sql("w.fdwoptions")
    )
}

/// The foreign servers query (also run ahead by a catalog helper).
pub(crate) fn servers_sql() -> String {
    format!(
        "SELECT s.oid, s.srvname, s.srvowner, w.fdwname, s.srvtype, s.srvversion, {}, s.srvacl::text, \
         pg_catalog.acldefault('S', s.srvowner)::text \
         FROM pg_catalog.pg_foreign_server s JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw \
         ORDER BY s.oid",
        options_list_sql("s.srvoptions")
    )
}

/// The user mappings query (also run ahead by a catalog helper): the public view, so a
/// non-superuser can dump too; it hides the options of servers the user has no rights on, and
/// those mappings are dumped without OPTIONS (pg_dump does so).
pub(crate) fn mappings_sql() -> String {
    format!(
        "SELECT m.srvid, m.usename, {} FROM pg_catalog.pg_user_mappings m ORDER BY m.srvid, m.usename",
        options_list_sql("m.umoptions")
    )
}

pub async fn fetch_fdws(ctx: &Ctx<'_>) -> Result<Vec<FdwRow>> {
    let mut out = Vec::new();
    for r in ctx.query(&fdws_sql()).await? {
        out.push(FdwRow {
            oid: r.oid(0)?,
            name: r.text(1)?,
            owner: ctx.role(r.oid(2)?),
            handler: r.opt_text(3)?,
            validator: r.opt_text(4)?,
            options: r.text_array(5)?,
            acl: r.opt_text(6)?,
            acldefault: r.text(7)?,
        });
    }
    Ok(out)
}

pub async fn fetch_servers(ctx: &Ctx<'_>) -> Result<Vec<ServerRow>> {
    let mut out = Vec::new();
    for r in ctx.query(&servers_sql()).await? {
        out.push(ServerRow {
            oid: r.oid(0)?,
            name: r.text(1)?,
            owner: ctx.role(r.oid(2)?),
            fdw: r.text(3)?,
            srvtype: r.opt_text(4)?,
            version: r.opt_text(5)?,
            options: r.text_array(6)?,
            acl: r.opt_text(7)?,
            acldefault: r.text(8)?,
            mappings: Vec::new(),
        });
    }
    for r in ctx.query(&mappings_sql()).await? {
        let srvid = r.oid(0)?;
        if let Some(s) = out.iter_mut().find(|s| s.oid == srvid) {
            s.mappings.push(MappingRow {
                user: r.text(1)?,
                options: r.text_array(2)?,
            });
        }
    }
    Ok(out)
}

/// The FOREIGN DATA WRAPPER entry with its comment and ACL.
pub fn fdw_entry(ctx: &Ctx<'_>, w: &FdwRow) -> Entry {
    let q = ident(&w.name);
    let mut e = Entry::new("FOREIGN DATA WRAPPER", Priority::Fdw, Section::PreData, w.name.clone())
        .with_key(CatalogId::new(catalog_oid::PG_FOREIGN_DATA_WRAPPER, w.oid))
        .with_owner(w.owner.clone())
        .with_defn(fdw_sql(
            &w.name,
            w.handler.as_deref(),
            w.validator.as_deref(),
            &w.options,
        ))
        .with_drop(drop_fdw_sql(&w.name));
    if let Some(text) = ctx.comment(catalog_oid::PG_FOREIGN_DATA_WRAPPER, w.oid, 0) {
        let c = comment_entry(&e, "FOREIGN DATA WRAPPER", &q, &q, text);
        e.attached.push(c);
    }
    if let Some((cur, base)) = ctx.acl_lists(
        catalog_oid::PG_FOREIGN_DATA_WRAPPER,
        w.oid,
        0,
        w.acl.as_deref(),
        &w.acldefault,
    ) && let Some(a) = acl_entry(
        &e,
        AclKind::ForeignDataWrapper,
        "FOREIGN DATA WRAPPER",
        &q,
        &q,
        None,
        &w.owner,
        &cur,
        &base,
    ) {
        e.attached.push(a);
    }
    e
}

/// The SERVER entry with its comment, ACL and user mappings, in pg_dump's order.
pub fn server_entry(ctx: &Ctx<'_>, s: &ServerRow) -> Entry {
    let q = ident(&s.name);
    let mut e = Entry::new("SERVER", Priority::ForeignServer, Section::PreData, s.name.clone())
        .with_key(CatalogId::new(catalog_oid::PG_FOREIGN_SERVER, s.oid))
        .with_owner(s.owner.clone())
        .with_defn(server_sql(
            &s.name,
            s.srvtype.as_deref(),
            s.version.as_deref(),
            &s.fdw,
            &s.options,
        ))
        .with_drop(drop_server_sql(&s.name));
    if let Some(text) = ctx.comment(catalog_oid::PG_FOREIGN_SERVER, s.oid, 0) {
        let c = comment_entry(&e, "SERVER", &q, &q, text);
        e.attached.push(c);
    }
    if let Some((cur, base)) = ctx.acl_lists(
        catalog_oid::PG_FOREIGN_SERVER,
        s.oid,
        0,
        s.acl.as_deref(),
        &s.acldefault,
    ) && let Some(a) = acl_entry(
        &e,
        AclKind::ForeignServer,
        "FOREIGN SERVER",
        &q,
        &q,
        None,
        &s.owner,
        &cur,
        &base,
    ) {
        e.attached.push(a);
    }
    for m in &s.mappings {
        e.attached.push(user_mapping_entry(s, m));
    }
    e
}

/// A USER MAPPING entry: no catalog identity, owned by the server's owner, pre-data.
pub fn user_mapping_entry(s: &ServerRow, m: &MappingRow) -> Entry {
    let tag = user_mapping_tag(&m.user, &s.name);
    Entry::new(
        "USER MAPPING",
        Priority::ForeignServer,
        Section::PreData,
        s.name.clone(),
    )
    .with_tag(tag)
    .with_owner(s.owner.clone())
    .with_defn(user_mapping_sql(&m.user, &s.name, &m.options))
    .with_drop(drop_user_mapping_sql(&m.user, &s.name))
}

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    if !ctx.include_everything() {
        return Ok(());
    }
    for w in fetch_fdws(ctx).await? {
        if ctx.is_extension_member(CatalogId::new(catalog_oid::PG_FOREIGN_DATA_WRAPPER, w.oid)) {
            continue;
        }
        let e = fdw_entry(ctx, &w);
        ctx.push(e);
    }
    for s in fetch_servers(ctx).await? {
        if ctx.is_extension_member(CatalogId::new(catalog_oid::PG_FOREIGN_SERVER, s.oid)) {
            continue;
        }
        let e = server_entry(ctx, &s);
        ctx.push(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_mapping_entry_is_shaped_like_pg_dump() {
        let s = ServerRow {
            oid: 20000,
            name: "s1".into(),
            owner: "app".into(),
            fdw: "dummy_fdw".into(),
            srvtype: None,
            version: None,
            options: Vec::new(),
            acl: None,
            acldefault: "{app=U/app}".into(),
            mappings: Vec::new(),
        };
        let m = MappingRow {
            user: "public".into(),
            options: Vec::new(),
        };
        let e = user_mapping_entry(&s, &m);
        assert_eq!(e.desc, "USER MAPPING");
        assert_eq!(e.tag, "USER MAPPING public SERVER s1");
        assert_eq!(e.key, None);
        assert_eq!(e.schema, None);
        assert_eq!(e.owner.as_deref(), Some("app"));
        assert_eq!(e.section, Section::PreData);
        assert_eq!(e.defn.as_deref(), Some("CREATE USER MAPPING FOR public SERVER s1;\n"));
        assert_eq!(
            e.drop_stmt.as_deref(),
            Some("DROP USER MAPPING FOR public SERVER s1;\n")
        );
    }
}
