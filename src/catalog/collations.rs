//! Collations (pg_dump.c `getCollations`, `dumpCollation`).

use crate::catalog::Ctx;
use crate::ddl::collation::{Collation, collation_sql};
use crate::ddl::{comment, quote};
use crate::error::Result;
use crate::model::{CatalogId, Entry, Priority, Section, catalog_oid};

/// The query of this reader (also run ahead by a catalog helper).
pub(crate) fn list_sql(ctx: &Ctx<'_>) -> String {
    // Locale columns moved across versions: colliculocale arrived in 15 and became
    // colllocale in 17; collicurules arrived in 16.
    let locale = if ctx.version.at_least(17) {
        "c.colllocale"
    } else if ctx.version.at_least(15) {
        "c.colliculocale"
    } else {
        "NULL::text"
    };
    let rules = if ctx.version.at_least(16) {
        "c.collicurules"
    } else {
        "NULL::text"
    };
    format!(
        "SELECT c.oid, c.collname, c.collnamespace, c.collowner, c.collprovider, c.collisdeterministic, \
         c.collcollate::text, c.collctype::text, {locale}::text, {rules} \
         FROM pg_catalog.pg_collation c ORDER BY c.oid"
    )
}

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    let sql = list_sql(ctx);
    for r in ctx.query(&sql).await? {
        let oid = r.oid(0)?;
        let nsp = r.oid(2)?;
        let id = CatalogId::new(catalog_oid::PG_COLLATION, oid);
        if !ctx.schema_dumped(nsp) || ctx.is_extension_member(id) {
            continue;
        }
        let name = r.text(1)?;
        let schema = ctx.namespace(nsp).map(|n| n.name.clone()).unwrap_or_default();
        let qualified = quote::qualified(&schema, &name);
        let coll = Collation {
            qualified: qualified.clone(),
            provider: r.char(4)? as char,
            deterministic: r.bool(5)?,
            collate: r.opt_text(6)?,
            ctype: r.opt_text(7)?,
            locale: r.opt_text(8)?,
            rules: r.opt_text(9)?,
        };
        let (defn, drop) = collation_sql(&coll);
        let mut e = Entry::new("COLLATION", Priority::Collation, Section::PreData, name.clone())
            .with_key(id)
            .with_schema(schema)
            .with_owner(ctx.role(r.oid(3)?))
            .with_defn(defn)
            .with_drop(drop);
        if let Some(text) = ctx.comment(catalog_oid::PG_COLLATION, oid, 0) {
            let c = comment::comment_entry(&e, "COLLATION", &qualified, &quote::ident(&name), text);
            e.attached.push(c);
        }
        ctx.push(e);
    }
    Ok(())
}
