//! Extensions (pg_dump.c `getExtensions`, `dumpExtension`). Their member objects are skipped
//! by every other reader through `Ctx::is_extension_member`.

use crate::catalog::Ctx;
use crate::ddl::{comment, extension, quote};
use crate::error::Result;
use crate::model::{CatalogId, Entry, Priority, Section, catalog_oid};

/// OIDs below this were assigned by initdb (built-in extensions such as plpgsql).
const FIRST_NORMAL_OBJECT_ID: u32 = 16384;

/// The extensions query (also run ahead by a catalog helper).
pub(crate) const LIST_SQL: &str = "SELECT e.oid, e.extname, n.nspname FROM pg_catalog.pg_extension e \
             JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace ORDER BY e.oid";

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    let rows = ctx.query(LIST_SQL).await?;
    for r in rows {
        let oid = r.oid(0)?;
        if oid < FIRST_NORMAL_OBJECT_ID || !ctx.extension_dumped(oid) {
            continue;
        }
        let name = r.text(1)?;
        let (defn, drop) = extension::extension_sql(&name, &r.text(2)?);
        // Extensions have neither schema nor owner in the TOC.
        let mut e = Entry::new("EXTENSION", Priority::Extension, Section::PreData, name.clone())
            .with_key(CatalogId::new(catalog_oid::PG_EXTENSION, oid))
            .with_defn(defn)
            .with_drop(drop);
        if let Some(text) = ctx.comment(catalog_oid::PG_EXTENSION, oid, 0) {
            let q = quote::ident(&name);
            let mut c = comment::comment_entry(&e, "EXTENSION", &q, &q, text);
            // pg_dump's dumpExtension passes an empty owner (not none) for the comment, which
            // plain scripts show as "Owner: " where the extension itself shows "Owner: -".
            c.owner = Some(String::new());
            e.attached.push(c);
        }
        ctx.push(e);
    }
    Ok(())
}
