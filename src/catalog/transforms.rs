//! Transforms (pg_dump.c `getTransforms`, `dumpTransform`): no schema, no owner; dumped when
//! "everything" is (pg_dump applies no initdb-OID test to them).

use crate::catalog::Ctx;
use crate::catalog::dumpable::{self, Dump};
use crate::ddl::cast::{self, Transform};
use crate::ddl::{comment, quote};
use crate::error::Result;
use crate::model::{CatalogId, Entry, Priority, Section, catalog_oid};
use crate::pg::Row;

pub(crate) struct TransformRow {
    pub oid: u32,
    /// `type_name language` (pg_dump sorts transforms by it; the language quoted).
    pub sort_name: String,
    pub transform: Transform,
}

/// Schema, name and argument types of the function whose OID is `expr`.
fn function_columns(expr: &str) -> String {
    format!(
        "(SELECT n.nspname FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
           WHERE p.oid = {expr}), \
         (SELECT p.proname FROM pg_catalog.pg_proc p WHERE p.oid = {expr}), \
         ARRAY(SELECT pg_catalog.format_type(a.t, NULL) FROM pg_catalog.pg_proc p, \
               unnest(p.proargtypes::pg_catalog.oid[]) WITH ORDINALITY a(t, i) WHERE p.oid = {expr} ORDER BY a.i)"
    )
}

fn function_at(r: &Row, i: usize) -> Result<Option<String>> {
    Ok(match (r.opt_text(i)?, r.opt_text(i + 1)?) {
        (Some(nsp), Some(name)) => Some(cast::function_signature(&nsp, &name, &r.text_array(i + 2)?)),
        _ => None,
    })
}

/// The query of this reader (also run ahead by a catalog helper).
pub(crate) fn list_sql() -> String {
    format!(
        "SELECT t.oid, ty.typname, l.lanname, pg_catalog.format_type(t.trftype, NULL), {}, {} \
         FROM pg_catalog.pg_transform t \
         JOIN pg_catalog.pg_type ty ON ty.oid = t.trftype \
         JOIN pg_catalog.pg_language l ON l.oid = t.trflang \
         ORDER BY t.trftype, t.trflang",
        function_columns("t.trffromsql"),
        function_columns("t.trftosql"),
    )
}

pub(crate) async fn fetch(ctx: &Ctx<'_>) -> Result<Vec<TransformRow>> {
    let sql = list_sql();
    let mut out = Vec::new();
    for r in ctx.query(&sql).await? {
        let language = r.text(2)?;
        out.push(TransformRow {
            oid: r.oid(0)?,
            sort_name: format!("{} {}", r.text(1)?, quote::ident(&language)),
            transform: Transform {
                type_sql: r.text(3)?,
                language,
                from_sql: function_at(&r, 4)?,
                to_sql: function_at(&r, 7)?,
            },
        });
    }
    Ok(out)
}

pub(crate) fn build(ctx: &Ctx<'_>, r: &TransformRow) -> Option<(Entry, Dump)> {
    let id = CatalogId::new(catalog_oid::PG_TRANSFORM, r.oid);
    // Unlike casts, transforms have no initdb-OID test.
    let dump = match dumpable::schemaless(ctx, id, false) {
        Dump::Nothing if ctx.include_everything() && !ctx.ext_members.contains_key(&id) => Dump::Full,
        d => d,
    };
    if dump == Dump::Nothing {
        return None;
    }
    let t = &r.transform;
    if t.from_sql.is_none() && t.to_sql.is_none() {
        tracing::warn!("bogus transform definition, at least one of trffromsql and trftosql should be nonzero");
    }
    let (create, drop) = cast::transform_sql(t);
    let args = t.args();
    let mut e = Entry::new("TRANSFORM", Priority::Transform, Section::PreData, r.sort_name.clone())
        .with_key(id)
        .with_tag(format!("TRANSFORM {args}"))
        .with_defn(create)
        .with_drop(drop);
    if let Some(text) = ctx.comment(catalog_oid::PG_TRANSFORM, r.oid, 0) {
        let mut c = comment::comment_entry(&e, "TRANSFORM", &args, &args, text);
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
