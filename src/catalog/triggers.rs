//! Triggers (pg_dump.c `getTriggers`, `dumpTrigger`).

use crate::catalog::Ctx;
use crate::ddl::{comment, quote, trigger};
use crate::error::Result;
use crate::model::{CatalogId, Entry, Priority, Section, catalog_oid};

/// The triggers query (also run ahead by a catalog helper).
pub(crate) const LIST_SQL: &str = "SELECT t.oid, t.tgname, t.tgrelid, c.relname, c.relnamespace, c.relowner, c.relkind, \
             t.tgenabled, pg_catalog.pg_get_triggerdef(t.oid, false), t.tgparentid <> 0 \
             FROM pg_catalog.pg_trigger t \
             JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid \
             LEFT JOIN pg_catalog.pg_trigger u ON u.oid = t.tgparentid \
             WHERE (NOT t.tgisinternal AND t.tgparentid = 0) OR t.tgenabled <> u.tgenabled \
             ORDER BY t.tgrelid, t.tgname";

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    // Partition clones (tgparentid <> 0) come from their parent's trigger; they are dumped
    // only when their enable state differs, and then only as the ALTER.
    let rows = ctx.query(LIST_SQL).await?;
    for r in rows {
        let oid = r.oid(0)?;
        let relid = r.oid(2)?;
        let nsp = r.oid(4)?;
        let id = CatalogId::new(catalog_oid::PG_TRIGGER, oid);
        // A trigger goes with its table (which -t may select without its schema).
        if !ctx.relation_dumped(relid)
            || ctx.is_extension_member(CatalogId::class(relid))
            || ctx.is_extension_member(id)
        {
            continue;
        }
        let name = r.text(1)?;
        let table = r.text(3)?;
        let schema = ctx.namespace(nsp).map(|n| n.name.clone()).unwrap_or_default();
        let qtable = quote::qualified(&schema, &table);
        let (defn, drop) =
            trigger::trigger_sql(r.char(6)?, &qtable, &name, &r.text(8)?, r.char(7)? as char, r.bool(9)?);
        let mut e = Entry::new("TRIGGER", Priority::Trigger, Section::PostData, name.clone())
            .with_key(id)
            .with_schema(schema)
            .with_tag(format!("{table} {name}"))
            .with_owner(ctx.role(r.oid(5)?))
            .with_defn(defn)
            .with_drop(drop);
        // pg_dump breaks name ties by table name (`DOTypeNameCompare`).
        e.sort_extra = vec![table.to_string()];
        if let Some(text) = ctx.comment(catalog_oid::PG_TRIGGER, oid, 0) {
            let qn = quote::ident(&name);
            let c = comment::comment_entry(
                &e,
                "TRIGGER",
                &format!("{qn} ON {qtable}"),
                &format!("{qn} ON {}", quote::ident(&table)),
                text,
            );
            e.attached.push(c);
        }
        ctx.push(e);
    }
    Ok(())
}
