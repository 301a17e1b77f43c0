//! Casts (pg_dump.c `getCasts`, `selectDumpableCast`, `dumpCast`). Casts have no schema and
//! no owner; only those created after initdb are dumped, and only when the dump is not
//! narrowed by `-n`/`-t`. Range→multirange casts (14+) come with their range type.

use crate::catalog::Ctx;
use crate::catalog::dumpable::{self, Dump};
use crate::ddl::cast::{self, Cast, CastMethod};
use crate::ddl::comment;
use crate::error::Result;
use crate::model::{CatalogId, Entry, Priority, Section, catalog_oid};

pub(crate) struct CastRow {
    pub oid: u32,
    /// Source and target type names (pg_dump sorts casts by `"source target"`).
    pub sort_name: String,
    pub cast: Cast,
}

/// The query of this reader (also run ahead by a catalog helper).
pub(crate) fn list_sql(ctx: &Ctx<'_>) -> String {
    let not_multirange = if ctx.version.at_least(14) {
        "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_range r \
           WHERE c.castsource = r.rngtypid AND c.casttarget = r.rngmultitypid)"
    } else {
        ""
    };
    format!(
        "SELECT c.oid, st.typname, tt.typname, pg_catalog.format_type(c.castsource, NULL), \
         pg_catalog.format_type(c.casttarget, NULL), c.castmethod, c.castcontext, fn.nspname, p.proname, \
         ARRAY(SELECT pg_catalog.format_type(a.t, NULL) FROM unnest(p.proargtypes::pg_catalog.oid[]) \
               WITH ORDINALITY a(t, i) ORDER BY a.i) \
         FROM pg_catalog.pg_cast c \
         JOIN pg_catalog.pg_type st ON st.oid = c.castsource \
         JOIN pg_catalog.pg_type tt ON tt.oid = c.casttarget \
         LEFT JOIN pg_catalog.pg_proc p ON p.oid = c.castfunc \
         LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = p.pronamespace \
         WHERE c.oid >= {} {not_multirange} ORDER BY c.castsource, c.casttarget",
        dumpable::FIRST_NORMAL_OID
    )
}

pub(crate) async fn fetch(ctx: &Ctx<'_>) -> Result<Vec<CastRow>> {
    let sql = list_sql(ctx);
    let mut out = Vec::new();
    for r in ctx.query(&sql).await? {
        let method = match (r.char(5)?, r.opt_text(7)?, r.opt_text(8)?) {
            (b'b', _, _) => CastMethod::Binary,
            (b'i', _, _) => CastMethod::InOut,
            (_, Some(nsp), Some(name)) => {
                CastMethod::Function(cast::function_signature(&nsp, &name, &r.text_array(9)?))
            }
            // A function cast whose function is gone: pg_dump warns about the bogus row.
            _ => {
                tracing::warn!("bogus value in pg_cast.castfunc or pg_cast.castmethod field");
                continue;
            }
        };
        out.push(CastRow {
            oid: r.oid(0)?,
            sort_name: format!("{} {}", r.text(1)?, r.text(2)?),
            cast: Cast {
                source: r.text(3)?,
                target: r.text(4)?,
                method,
                context: r.char(6)? as char,
            },
        });
    }
    Ok(out)
}

pub(crate) fn build(ctx: &Ctx<'_>, r: &CastRow) -> Option<(Entry, Dump)> {
    let id = CatalogId::new(catalog_oid::PG_CAST, r.oid);
    let dump = dumpable::schemaless(ctx, id, false);
    if dump == Dump::Nothing {
        return None;
    }
    let (create, drop) = cast::cast_sql(&r.cast);
    let args = r.cast.args();
    let mut e = Entry::new("CAST", Priority::Cast, Section::PreData, r.sort_name.clone())
        .with_key(id)
        .with_tag(format!("CAST {args}"))
        .with_defn(create)
        .with_drop(drop);
    if let Some(text) = ctx.comment(catalog_oid::PG_CAST, r.oid, 0) {
        let mut c = comment::comment_entry(&e, "CAST", &args, &args, text);
        c.owner = Some(String::new());
        e.attached.push(c);
    }
    Some((e, dump))
}

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    for r in fetch(ctx).await? {
        if let Some((e, dump)) = build(ctx, &r) {
            dumpable::push(ctx, e, dump);
        }
    }
    Ok(())
}
