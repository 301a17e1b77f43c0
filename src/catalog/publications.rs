//! Publications and their tables and schemas (pg_dump.c `getPublications`,
//! `getPublicationTables`, `getPublicationNamespaces` and their dump functions). They belong
//! to no schema: dumped when the dump includes everything, unless `--no-publications`. As
//! pg_dump 18 does, a membership is dumped with its publication even when its table or
//! schema is not (`selectDumpablePublicationObject`).

use super::Ctx;
use crate::ddl::comment::comment_entry;
use crate::ddl::publication::{
    Publication, drop_publication_sql, publication_schema_sql, publication_sql, publication_table_sql,
};
use crate::ddl::quote::{ident, qualified};
use crate::ddl::seclabel::{Label, seclabel_entry};
use crate::error::Result;
use crate::model::{CatalogId, Entry, Priority, Section, catalog_oid};

const PG_PUBLICATION_REL: u32 = 6106;
const PG_PUBLICATION_NAMESPACE: u32 = 6237;

/// One `pg_publication` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicationRow {
    pub oid: u32,
    pub owner: String,
    pub def: Publication,
}

/// One `pg_publication_rel` row, with its table's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicationTableRow {
    pub oid: u32,
    pub publication: u32,
    pub table: u32,
    pub schema: String,
    pub table_name: String,
    /// Column list (15+).
    pub columns: Option<Vec<String>>,
    /// Row filter, `pg_get_expr` text (15+).
    pub filter: Option<String>,
}

/// One `pg_publication_namespace` row (15+).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicationSchemaRow {
    pub oid: u32,
    pub publication: u32,
    pub schema: String,
}

pub async fn fetch(ctx: &Ctx<'_>) -> Result<Vec<PublicationRow>> {
    let v = ctx.version;
    let gencols = if v.at_least(18) { "p.pubgencols = 's'" } else { "false" };
    let sql = format!(
        "SELECT p.oid, p.pubname, p.pubowner, p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, \
         p.pubtruncate, p.pubviaroot, {gencols} FROM pg_catalog.pg_publication p ORDER BY p.oid"
    );
    let mut out = Vec::new();
    for r in ctx.db.query(&sql).await? {
        out.push(PublicationRow {
            oid: r.oid(0)?,
            owner: ctx.role(r.oid(2)?),
            def: Publication {
                name: r.text(1)?,
                all_tables: r.bool(3)?,
                insert: r.bool(4)?,
                update: r.bool(5)?,
                delete: r.bool(6)?,
                truncate: r.bool(7)?,
                via_root: r.bool(8)?,
                generated_stored: r.bool(9)?,
            },
        });
    }
    Ok(out)
}

pub async fn fetch_tables(ctx: &Ctx<'_>) -> Result<Vec<PublicationTableRow>> {
    let (filter, columns) = if ctx.version.at_least(15) {
        (
            "pg_catalog.pg_get_expr(pr.prqual, pr.prrelid)",
            "CASE WHEN pr.prattrs IS NOT NULL THEN ARRAY(SELECT a.attname FROM \
             pg_catalog.unnest(pr.prattrs::pg_catalog.int2[]) WITH ORDINALITY k(n, i) \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = pr.prrelid AND a.attnum = k.n ORDER BY k.i) END",
        )
    } else {
        ("NULL::text", "NULL::name[]")
    };
    let sql = format!(
        "SELECT pr.oid, pr.prpubid, pr.prrelid, n.nspname, c.relname, {filter}, {columns} \
         FROM pg_catalog.pg_publication_rel pr JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace ORDER BY pr.oid"
    );
    let mut out = Vec::new();
    for r in ctx.db.query(&sql).await? {
        // No column list is NULL; a list is never empty.
        let cols = r.text_array(6)?;
        out.push(PublicationTableRow {
            oid: r.oid(0)?,
            publication: r.oid(1)?,
            table: r.oid(2)?,
            schema: r.text(3)?,
            table_name: r.text(4)?,
            columns: (!cols.is_empty()).then_some(cols),
            filter: r.opt_text(5)?,
        });
    }
    Ok(out)
}

pub async fn fetch_schemas(ctx: &Ctx<'_>) -> Result<Vec<PublicationSchemaRow>> {
    if !ctx.version.at_least(15) {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for r in ctx
        .db
        .query(
            "SELECT pn.oid, pn.pnpubid, n.nspname FROM pg_catalog.pg_publication_namespace pn \
             JOIN pg_catalog.pg_namespace n ON n.oid = pn.pnnspid ORDER BY pn.oid",
        )
        .await?
    {
        out.push(PublicationSchemaRow {
            oid: r.oid(0)?,
            publication: r.oid(1)?,
            schema: r.text(2)?,
        });
    }
    Ok(out)
}

/// The PUBLICATION entry, with its comment and security labels.
pub fn publication_entry(p: &PublicationRow, comment: Option<&str>, labels: &[Label]) -> Entry {
    let mut e = Entry::new(
        "PUBLICATION",
        Priority::Publication,
        Section::PostData,
        p.def.name.clone(),
    )
    .with_key(CatalogId::new(catalog_oid::PG_PUBLICATION, p.oid))
    .with_owner(p.owner.clone())
    .with_defn(publication_sql(&p.def))
    .with_drop(drop_publication_sql(&p.def.name));
    if let Some(text) = comment {
        let q = ident(&p.def.name);
        let c = comment_entry(&e, "PUBLICATION", &q, &q, text);
        e.attached.push(c);
    }
    let q = ident(&p.def.name);
    if let Some(l) = seclabel_entry(&e, "PUBLICATION", &q, &q, labels) {
        e.attached.push(l);
    }
    e
}

/// A PUBLICATION TABLE entry: in the table's schema, named after the table, sorted by
/// publication name after that; owned by the publication's owner; no drop statement (the
/// table's drop takes it along).
pub fn publication_table_entry(p: &PublicationRow, t: &PublicationTableRow) -> Entry {
    let mut e = Entry::new(
        "PUBLICATION TABLE",
        Priority::PublicationRel,
        Section::PostData,
        t.table_name.clone(),
    )
    .with_key(CatalogId::new(PG_PUBLICATION_REL, t.oid))
    .with_schema(t.schema.clone())
    .with_tag(format!("{} {}", p.def.name, t.table_name))
    .with_owner(p.owner.clone())
    .with_defn(publication_table_sql(
        &p.def.name,
        &qualified(&t.schema, &t.table_name),
        t.columns.as_deref(),
        t.filter.as_deref(),
    ));
    e.sort_extra = vec![p.def.name.clone()];
    e
}

/// A PUBLICATION TABLES IN SCHEMA entry, tagged `publication schema`.
pub fn publication_schema_entry(p: &PublicationRow, s: &PublicationSchemaRow) -> Entry {
    let mut e = Entry::new(
        "PUBLICATION TABLES IN SCHEMA",
        Priority::PublicationTableInSchema,
        Section::PostData,
        s.schema.clone(),
    )
    .with_key(CatalogId::new(PG_PUBLICATION_NAMESPACE, s.oid))
    .with_schema(s.schema.clone())
    .with_tag(format!("{} {}", p.def.name, s.schema))
    .with_owner(p.owner.clone())
    .with_defn(publication_schema_sql(&p.def.name, &s.schema));
    e.sort_extra = vec![p.def.name.clone()];
    e
}

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    if ctx.selection.no_publications || !ctx.include_everything() {
        return Ok(());
    }
    let pubs: Vec<PublicationRow> = fetch(ctx)
        .await?
        .into_iter()
        .filter(|p| !ctx.is_extension_member(CatalogId::new(catalog_oid::PG_PUBLICATION, p.oid)))
        .collect();
    if pubs.is_empty() {
        return Ok(());
    }
    for p in &pubs {
        let comment = ctx.comment(catalog_oid::PG_PUBLICATION, p.oid, 0).map(str::to_string);
        let labels = ctx.labels(catalog_oid::PG_PUBLICATION, p.oid);
        let e = publication_entry(p, comment.as_deref(), &labels);
        ctx.push(e);
    }
    let find = |oid: u32| pubs.iter().find(|p| p.oid == oid);
    // Memberships go with the publication: stock pg_dump 18 keeps a table's even when -T or
    // -N leaves the table out (flags test new_object_kinds_follow_selection_like_stock).
    for s in fetch_schemas(ctx).await? {
        if let Some(p) = find(s.publication) {
            let e = publication_schema_entry(p, &s);
            ctx.push(e);
        }
    }
    for t in fetch_tables(ctx).await? {
        if let Some(p) = find(t.publication) {
            let e = publication_table_entry(p, &t);
            ctx.push(e);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publication() -> PublicationRow {
        PublicationRow {
            oid: 20000,
            owner: "app".into(),
            def: Publication {
                name: "pub4".into(),
                insert: true,
                ..Default::default()
            },
        }
    }

    #[test]
    fn membership_entries_are_shaped_like_pg_dump() {
        let t = PublicationTableRow {
            oid: 20001,
            publication: 20000,
            table: 20002,
            schema: "k".into(),
            table_name: "t1".into(),
            columns: Some(vec!["id".into(), "a".into()]),
            filter: Some("(id > 10)".into()),
        };
        let e = publication_table_entry(&publication(), &t);
        assert_eq!((e.desc.as_str(), e.tag.as_str()), ("PUBLICATION TABLE", "pub4 t1"));
        assert_eq!((e.schema.as_deref(), e.name.as_str()), (Some("k"), "t1"));
        assert_eq!(e.sort_extra, vec!["pub4".to_string()]);
        assert_eq!(e.key, Some(CatalogId::new(6106, 20001)));
        assert_eq!(e.drop_stmt, None);
        assert_eq!(
            e.defn.as_deref(),
            Some("ALTER PUBLICATION pub4 ADD TABLE ONLY k.t1 (id, a) WHERE ((id > 10));\n")
        );
        let s = PublicationSchemaRow {
            oid: 20003,
            publication: 20000,
            schema: "k".into(),
        };
        let e = publication_schema_entry(&publication(), &s);
        assert_eq!(e.tag, "pub4 k");
        assert_eq!(e.key, Some(CatalogId::new(6237, 20003)));
        let e = publication_entry(&publication(), Some("p4"), &[]);
        assert_eq!(e.schema, None);
        assert_eq!(e.attached[0].tag, "PUBLICATION pub4");
    }
}
