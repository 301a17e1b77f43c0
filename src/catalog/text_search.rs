//! Text search parsers, templates, dictionaries and configurations (pg_dump.c
//! `getTSParsers`, `getTSTemplates`, `getTSDictionaries`, `getTSConfigurations` and their
//! dump functions). Parsers and templates have no owner; a configuration's token mappings
//! go into its own entry.

use std::collections::HashMap;

use crate::catalog::Ctx;
use crate::catalog::dumpable::{self, Dump};
use crate::ddl::text_search::{self, Mapping, Parser};
use crate::ddl::{comment, quote};
use crate::error::Result;
use crate::model::{CatalogId, Entry, Priority, Section, catalog_oid};

/// What every text search object has: identity, schema, owner (none for parsers and
/// templates) and its rendered SQL.
pub(crate) struct TsRow {
    pub oid: u32,
    pub nsp: u32,
    pub name: String,
    pub owner: Option<u32>,
    pub create: String,
    pub drop: String,
}

/// The four kinds, in pg_dump's collection order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TsKind {
    Parser,
    Template,
    Dictionary,
    Configuration,
}

impl TsKind {
    fn desc(self) -> &'static str {
        match self {
            TsKind::Parser => "TEXT SEARCH PARSER",
            TsKind::Template => "TEXT SEARCH TEMPLATE",
            TsKind::Dictionary => "TEXT SEARCH DICTIONARY",
            TsKind::Configuration => "TEXT SEARCH CONFIGURATION",
        }
    }
    fn priority(self) -> Priority {
        match self {
            TsKind::Parser => Priority::TsParser,
            TsKind::Template => Priority::TsTemplate,
            TsKind::Dictionary => Priority::TsDict,
            TsKind::Configuration => Priority::TsConfig,
        }
    }
    fn catalog(self) -> u32 {
        match self {
            TsKind::Parser => catalog_oid::PG_TS_PARSER,
            TsKind::Template => catalog_oid::PG_TS_TEMPLATE,
            TsKind::Dictionary => catalog_oid::PG_TS_DICT,
            TsKind::Configuration => catalog_oid::PG_TS_CONFIG,
        }
    }
}

fn schema_name(ctx: &Ctx<'_>, nsp: u32) -> String {
    ctx.namespace(nsp).map(|n| n.name.clone()).unwrap_or_default()
}

/// Text search parsers (also run ahead by a catalog helper).
pub(crate) const PARSERS_SQL: &str = "SELECT p.oid, p.prsname, p.prsnamespace, p.prsstart::text, p.prstoken::text, p.prsend::text, \
             CASE WHEN p.prsheadline <> 0 THEN p.prsheadline::text END, p.prslextype::text \
             FROM pg_catalog.pg_ts_parser p WHERE p.oid >= 16384 ORDER BY p.oid";

/// Text search templates (also run ahead by a catalog helper).
pub(crate) const TEMPLATES_SQL: &str = "SELECT t.oid, t.tmplname, t.tmplnamespace, CASE WHEN t.tmplinit <> 0 THEN t.tmplinit::text END, \
             t.tmpllexize::text FROM pg_catalog.pg_ts_template t WHERE t.oid >= 16384 ORDER BY t.oid";

/// Text search dictionaries (also run ahead by a catalog helper).
pub(crate) const DICTIONARIES_SQL: &str = "SELECT d.oid, d.dictname, d.dictnamespace, d.dictowner, tn.nspname, t.tmplname, d.dictinitoption \
             FROM pg_catalog.pg_ts_dict d JOIN pg_catalog.pg_ts_template t ON t.oid = d.dicttemplate \
             JOIN pg_catalog.pg_namespace tn ON tn.oid = t.tmplnamespace WHERE d.oid >= 16384 ORDER BY d.oid";

/// Text search configuration mappings (also run ahead by a catalog helper).
pub(crate) const MAPPINGS_SQL: &str = "SELECT m.mapcfg, (SELECT t.alias FROM pg_catalog.ts_token_type(c.cfgparser) AS t \
                               WHERE t.tokid = m.maptokentype), \
             m.mapdict::pg_catalog.regdictionary::text \
             FROM pg_catalog.pg_ts_config_map m JOIN pg_catalog.pg_ts_config c ON c.oid = m.mapcfg \
             WHERE c.oid >= 16384 ORDER BY m.mapcfg, m.maptokentype, m.mapseqno";

/// Text search configurations (also run ahead by a catalog helper).
pub(crate) const CONFIGS_SQL: &str = "SELECT c.oid, c.cfgname, c.cfgnamespace, c.cfgowner, pn.nspname, p.prsname \
             FROM pg_catalog.pg_ts_config c JOIN pg_catalog.pg_ts_parser p ON p.oid = c.cfgparser \
             JOIN pg_catalog.pg_namespace pn ON pn.oid = p.prsnamespace WHERE c.oid >= 16384 ORDER BY c.oid";

pub(crate) async fn fetch(ctx: &Ctx<'_>) -> Result<Vec<(TsKind, TsRow)>> {
    let mut out = Vec::new();
    for r in ctx.query(PARSERS_SQL).await? {
        let (nsp, name) = (r.oid(2)?, r.text(1)?);
        let p = Parser {
            qualified: quote::qualified(&schema_name(ctx, nsp), &name),
            start: r.text(3)?,
            gettoken: r.text(4)?,
            end: r.text(5)?,
            headline: r.opt_text(6)?,
            lextypes: r.text(7)?,
        };
        let (create, drop) = text_search::parser_sql(&p);
        out.push((
            TsKind::Parser,
            TsRow {
                oid: r.oid(0)?,
                nsp,
                name,
                owner: None,
                create,
                drop,
            },
        ));
    }
    for r in ctx.query(TEMPLATES_SQL).await? {
        let (nsp, name) = (r.oid(2)?, r.text(1)?);
        let q = quote::qualified(&schema_name(ctx, nsp), &name);
        let (create, drop) = text_search::template_sql(&q, r.opt_text(3)?.as_deref(), &r.text(4)?);
        out.push((
            TsKind::Template,
            TsRow {
                oid: r.oid(0)?,
                nsp,
                name,
                owner: None,
                create,
                drop,
            },
        ));
    }
    for r in ctx.query(DICTIONARIES_SQL).await? {
        let (nsp, name) = (r.oid(2)?, r.text(1)?);
        let q = quote::qualified(&schema_name(ctx, nsp), &name);
        let template = quote::qualified(&r.text(4)?, &r.text(5)?);
        let (create, drop) = text_search::dictionary_sql(&q, &template, r.opt_text(6)?.as_deref());
        out.push((
            TsKind::Dictionary,
            TsRow {
                oid: r.oid(0)?,
                nsp,
                name,
                owner: Some(r.oid(3)?),
                create,
                drop,
            },
        ));
    }
    let mut mappings: HashMap<u32, Vec<Mapping>> = HashMap::new();
    for r in ctx.query(MAPPINGS_SQL).await? {
        let list = mappings.entry(r.oid(0)?).or_default();
        let token = r.opt_text(1)?.unwrap_or_default();
        let dict = r.text(2)?;
        match list.last_mut() {
            Some(m) if m.token == token => m.dictionaries.push(dict),
            _ => list.push(Mapping {
                token,
                dictionaries: vec![dict],
            }),
        }
    }
    for r in ctx.query(CONFIGS_SQL).await? {
        let (oid, nsp, name) = (r.oid(0)?, r.oid(2)?, r.text(1)?);
        let q = quote::qualified(&schema_name(ctx, nsp), &name);
        let parser = quote::qualified(&r.text(4)?, &r.text(5)?);
        let (create, drop) = text_search::configuration_sql(&q, &parser, &mappings.remove(&oid).unwrap_or_default());
        out.push((
            TsKind::Configuration,
            TsRow {
                oid,
                nsp,
                name,
                owner: Some(r.oid(3)?),
                create,
                drop,
            },
        ));
    }
    Ok(out)
}

pub(crate) fn build(ctx: &Ctx<'_>, kind: TsKind, r: &TsRow) -> Option<(Entry, Dump)> {
    let id = CatalogId::new(kind.catalog(), r.oid);
    let dump = dumpable::in_schema(ctx, r.nsp, id);
    if dump == Dump::Nothing {
        return None;
    }
    let schema = schema_name(ctx, r.nsp);
    let mut e = Entry::new(kind.desc(), kind.priority(), Section::PreData, r.name.clone())
        .with_key(id)
        .with_schema(schema.clone())
        .with_defn(r.create.clone())
        .with_drop(r.drop.clone());
    e.owner = r.owner.map(|o| ctx.role(o));
    if let Some(text) = ctx.comment(kind.catalog(), r.oid, 0) {
        let q = quote::ident(&r.name);
        let mut c = comment::comment_entry(&e, kind.desc(), &quote::qualified(&schema, &r.name), &q, text);
        // Parsers and templates have no owner; their comments carry an empty one.
        c.owner.get_or_insert_with(String::new);
        e.attached.push(c);
    }
    Some((e, dump))
}

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    for (kind, r) in fetch(ctx).await? {
        if let Some((e, dump)) = build(ctx, kind, &r) {
            dumpable::push(ctx, e, dump);
        }
    }
    Ok(())
}
