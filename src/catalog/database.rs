//! The entries every dump starts with: ENCODING, STDSTRINGS, SEARCHPATH, then the database
//! itself with its comment, ACL and properties (pg_dump.c `dumpEncoding`, `dumpStdStrings`,
//! `dumpSearchPath`, `dumpDatabase`). pg_restore applies the first three while reading the
//! TOC and restores the database entries only with `--create`.

use crate::catalog::{Selection, parse_acl_array};
use crate::ddl::acl::{AclKind, acl_entry};
use crate::ddl::comment::comment_entry;
use crate::ddl::database::properties_sql;
use crate::ddl::quote::{ident, literal};
use crate::ddl::seclabel::{Label, seclabel_entry};
use crate::error::Result;
use crate::model::{CatalogId, Entry, Priority, Section, catalog_oid};
use crate::pg::Session;

/// What the archive header records about the database.
pub struct DbInfo {
    pub name: String,
    pub server_version: String,
}

fn special(desc: &str, defn: String) -> Entry {
    Entry::new(desc, Priority::Schema, Section::PreData, desc).with_defn(defn)
}

/// The header entries in TOC order; the database's comment and ACL come attached to the
/// DATABASE entry, its properties as the entry after it.
pub async fn header_entries(s: &Session, selection: &Selection) -> Result<(Vec<Entry>, DbInfo)> {
    let enc = special(
        "ENCODING",
        format!("SET client_encoding = {};\n", literal(s.encoding())),
    );
    let on_off = if s.standard_conforming_strings() { "on" } else { "off" };
    let std = special("STDSTRINGS", format!("SET standard_conforming_strings = '{on_off}';\n"));
    // The session's search_path is empty, so this records '' as pg_dump does.
    let path = s
        .query_one("SELECT pg_catalog.current_schemas(false)::text[]")
        .await?
        .text_array(0)?;
    let path_list = path.iter().map(|p| ident(p)).collect::<Vec<_>>().join(", ");
    let search = special(
        "SEARCHPATH",
        format!(
            "SELECT pg_catalog.set_config('search_path', {}, false);\n",
            literal(&path_list)
        ),
    );

    // Locale columns by version: datlocprovider and daticulocale (15), daticurules (16),
    // daticulocale renamed datlocale (17).
    let v = s.version();
    let provider = if v.at_least(15) {
        "d.datlocprovider::text"
    } else {
        "'c'"
    };
    let locale = if v.at_least(17) {
        "d.datlocale"
    } else if v.at_least(15) {
        "d.daticulocale"
    } else {
        "NULL::text"
    };
    let rules = if v.at_least(16) { "d.daticurules" } else { "NULL::text" };
    let row = s
        .query_one(&format!(
            "SELECT d.oid, d.datname, pg_catalog.pg_get_userbyid(d.datdba), \
             pg_catalog.pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, {provider}, {locale}, {rules}, \
             t.spcname, current_setting('server_version'), d.datconnlimit, d.datistemplate, d.datacl::text, \
             pg_catalog.acldefault('d', d.datdba)::text, pg_catalog.shobj_description(d.oid, 'pg_database') \
             FROM pg_catalog.pg_database d JOIN pg_catalog.pg_tablespace t ON t.oid = d.dattablespace \
             WHERE d.datname = pg_catalog.current_database()"
        ))
        .await?;
    let oid = row.oid(0)?;
    let name = row.text(1)?;
    let owner = row.text(2)?;
    let q = ident(&name);
    let mut defn = format!(
        "CREATE DATABASE {q} WITH TEMPLATE = template0 ENCODING = {}",
        literal(&row.text(3)?)
    );
    let provider = row.text(6)?;
    if v.at_least(15) {
        let word = match provider.as_str() {
            "i" => "icu",
            "b" => "builtin",
            _ => "libc",
        };
        defn.push_str(&format!(" LOCALE_PROVIDER = {word}"));
    }
    let (collate, ctype) = (row.text(4)?, row.text(5)?);
    if collate == ctype {
        defn.push_str(&format!(" LOCALE = {}", literal(&collate)));
    } else {
        defn.push_str(&format!(
            " LC_COLLATE = {} LC_CTYPE = {}",
            literal(&collate),
            literal(&ctype)
        ));
    }
    if let Some(loc) = row.opt_text(7)? {
        match provider.as_str() {
            "i" => defn.push_str(&format!(" ICU_LOCALE = {}", literal(&loc))),
            "b" => defn.push_str(&format!(" BUILTIN_LOCALE = {}", literal(&loc))),
            _ => {}
        }
    }
    if let Some(r) = row.opt_text(8)? {
        defn.push_str(&format!(" ICU_RULES = {}", literal(&r)));
    }
    let spc = row.text(9)?;
    if spc != "pg_default" {
        defn.push_str(&format!(" TABLESPACE = {}", ident(&spc)));
    }
    defn.push_str(";\n");
    let mut database = Entry::new("DATABASE", Priority::Schema, Section::PreData, name.clone())
        .with_key(CatalogId::new(catalog_oid::PG_DATABASE, oid))
        .with_owner(owner.clone())
        .with_defn(defn)
        .with_drop(format!("DROP DATABASE {q};\n"));

    if !selection.no_comments
        && let Some(text) = row.opt_text(15)?
    {
        let c = comment_entry(&database, "DATABASE", &q, &q, &text);
        database.attached.push(c);
    }
    // The database's labels are shared (pg_shseclabel), read as pg_dump's dumpDatabase does
    // (buildShSecLabelQuery: no order but the catalog's) and printed by pg_restore only with
    // -C, like its comment.
    if !selection.no_security_labels {
        let mut labels = Vec::new();
        for r in s
            .query(&format!(
                "SELECT provider, label FROM pg_catalog.pg_shseclabel \
                 WHERE classoid = 'pg_catalog.pg_database'::pg_catalog.regclass AND objoid = '{oid}'"
            ))
            .await?
        {
            labels.push(Label::new(r.text(0)?, r.text(1)?));
        }
        if let Some(l) = seclabel_entry(&database, "DATABASE", &q, &q, &labels) {
            database.attached.push(l);
        }
    }
    if !selection.no_privileges
        && let Some(acl) = row.opt_text(13)?
        && let Some(a) = acl_entry(
            &database,
            AclKind::Database,
            "DATABASE",
            &q,
            &q,
            None,
            &owner,
            &parse_acl_array(&acl),
            &parse_acl_array(&row.text(14)?),
        )
    {
        database.attached.push(a);
    }

    // Settings of the database (setrole 0) and of roles in it.
    let mut db_settings = Vec::new();
    let mut role_settings = Vec::new();
    for r in s
        .query(&format!(
            "SELECT s.setrole, coalesce(pg_catalog.pg_get_userbyid(s.setrole), ''), s.setconfig::text[] \
             FROM pg_catalog.pg_db_role_setting s WHERE s.setdatabase = {oid} \
             ORDER BY s.setrole <> 0, 2"
        ))
        .await?
    {
        if r.oid(0)? == 0 {
            db_settings = r.text_array(2)?;
        } else {
            role_settings.push((r.text(1)?, r.text_array(2)?));
        }
    }
    let props = properties_sql(&name, row.int(11)?, row.bool(12)?, &db_settings, &role_settings);
    let mut entries = vec![enc, std, search, database];
    if !props.is_empty() {
        let mut p = Entry::new("DATABASE PROPERTIES", Priority::Schema, Section::PreData, name.clone())
            .with_owner(owner)
            .with_defn(props);
        p.deps.push(crate::model::Dep::Catalog(CatalogId::new(
            catalog_oid::PG_DATABASE,
            oid,
        )));
        entries.push(p);
    }
    Ok((
        entries,
        DbInfo {
            name,
            server_version: row.text(10)?,
        },
    ))
}
