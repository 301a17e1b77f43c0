//! Rules (pg_dump.c `getRules`, `dumpRule`): every rewrite rule of a dumped relation except
//! a view's or materialized view's ON SELECT rule, which is the view's body (views.rs), as a
//! post-data `RULE` entry with its comment.

use super::{Ctx, Rel};
use crate::ddl::comment::comment_entry;
use crate::ddl::quote::ident;
use crate::ddl::rule::{drop_rule_sql, rule_sql};
use crate::error::Result;
use crate::model::{CatalogId, Dep, Entry, Priority, Section, catalog_oid};

/// One `pg_rewrite` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRow {
    pub oid: u32,
    pub name: String,
    pub table: u32,
    pub ev_type: u8,
    pub is_instead: bool,
    pub ev_enabled: u8,
    pub ruledef: String,
}

/// The rules query (also run ahead by a catalog helper).
///
/// A view's own ON SELECT rule (its body, read with the view) is left out here: [`read`]
/// skips it anyway, and `pg_get_ruledef` of the system views' bodies alone costs the server
/// 20 ms a dump.
pub(crate) const LIST_SQL: &str = "SELECT r.oid, r.rulename, r.ev_class, r.ev_type, r.is_instead, r.ev_enabled, \
             pg_catalog.pg_get_ruledef(r.oid) FROM pg_catalog.pg_rewrite r \
             JOIN pg_catalog.pg_class c ON c.oid = r.ev_class \
             WHERE NOT (r.ev_type = '1' AND r.is_instead AND c.relkind IN ('v', 'm')) ORDER BY r.oid";

/// Reads every rule (`pg_get_ruledef`, never pretty).
pub async fn fetch(ctx: &Ctx<'_>) -> Result<Vec<RuleRow>> {
    let mut out = Vec::new();
    for r in ctx.query(LIST_SQL).await? {
        out.push(RuleRow {
            oid: r.oid(0)?,
            name: r.text(1)?,
            table: r.oid(2)?,
            ev_type: r.char(3)?,
            is_instead: r.bool(4)?,
            ev_enabled: r.char(5)?,
            ruledef: r.text(6)?,
        });
    }
    Ok(out)
}

/// True for the ON SELECT rule that is a view's (or matview's) body.
pub fn is_view_body(rule: &RuleRow, relkind: u8) -> bool {
    matches!(relkind, b'v' | b'm') && rule.ev_type == b'1' && rule.is_instead
}

/// The RULE entry of a rule on `rel` (`dumpRule`): it follows its relation, tagged
/// `table rule`, owned by the relation's owner, sorted by table name after its own.
pub fn rule_entry(rel: &Rel, rule: &RuleRow, comment: Option<&str>) -> Entry {
    let mut e = Entry::new("RULE", Priority::Rule, Section::PostData, rule.name.clone())
        .with_key(CatalogId::new(catalog_oid::PG_REWRITE, rule.oid))
        .with_schema(rel.schema.clone())
        .with_tag(format!("{} {}", rel.name, rule.name))
        .with_owner(rel.owner.clone())
        .with_defn(rule_sql(&rule.ruledef, &rel.qualified, &rule.name, rule.ev_enabled))
        .with_drop(drop_rule_sql(&rel.qualified, &rule.name))
        .with_dep(Dep::Catalog(CatalogId::class(rel.oid)));
    e.sort_extra = vec![rel.name.clone()];
    if let Some(text) = comment {
        let name_sql = format!("{} ON {}", ident(&rule.name), rel.qualified);
        let tag = format!("{} ON {}", ident(&rule.name), ident(&rel.name));
        let c = comment_entry(&e, "RULE", &name_sql, &tag, text);
        e.attached.push(c);
    }
    e
}

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    let rels = ctx.relations.clone();
    for rule in fetch(ctx).await? {
        // Only rules of relations whose definition is dumped (the rule shares its
        // relation's dump flags).
        let Some(rel) = rels.get(&rule.table) else { continue };
        if is_view_body(&rule, rel.relkind) {
            continue;
        }
        let comment = ctx.comment(catalog_oid::PG_REWRITE, rule.oid, 0).map(str::to_string);
        let e = rule_entry(rel, &rule, comment.as_deref());
        ctx.push(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel() -> Rel {
        Rel {
            oid: 20000,
            name: "log".into(),
            schema: "loops".into(),
            owner: "app".into(),
            relkind: b'r',
            qualified: "loops.log".into(),
        }
    }

    fn rule(ev_type: u8, is_instead: bool) -> RuleRow {
        RuleRow {
            oid: 20010,
            name: "r_nothing".into(),
            table: 20000,
            ev_type,
            is_instead,
            ev_enabled: b'D',
            ruledef: "CREATE RULE r_nothing AS\n    ON DELETE TO loops.log DO INSTEAD NOTHING;".into(),
        }
    }

    #[test]
    fn a_rule_entry_is_shaped_like_pg_dump() {
        let e = rule_entry(&rel(), &rule(b'4', true), Some("no deletes"));
        assert_eq!(e.desc, "RULE");
        assert_eq!(e.tag, "log r_nothing");
        assert_eq!(e.section, Section::PostData);
        assert_eq!(e.owner.as_deref(), Some("app"));
        assert_eq!(e.key, Some(CatalogId::new(catalog_oid::PG_REWRITE, 20010)));
        assert_eq!(e.sort_extra, vec!["log".to_string()]);
        assert_eq!(
            e.defn.as_deref(),
            Some(
                "CREATE RULE r_nothing AS\n    ON DELETE TO loops.log DO INSTEAD NOTHING;\n\
                 ALTER TABLE loops.log DISABLE RULE r_nothing;\n"
            )
        );
        assert_eq!(e.drop_stmt.as_deref(), Some("DROP RULE r_nothing ON loops.log;\n"));
        assert_eq!(e.attached.len(), 1);
        assert_eq!(e.attached[0].tag, "RULE r_nothing ON log");
        assert_eq!(
            e.attached[0].defn.as_deref(),
            Some("COMMENT ON RULE r_nothing ON loops.log IS 'no deletes';\n")
        );
    }

    #[test]
    fn only_a_views_select_rule_is_its_body() {
        assert!(is_view_body(&rule(b'1', true), b'v'));
        assert!(is_view_body(&rule(b'1', true), b'm'));
        assert!(!is_view_body(&rule(b'1', true), b'r'));
        assert!(!is_view_body(&rule(b'3', true), b'v'));
        assert!(!is_view_body(&rule(b'1', false), b'v'));
    }
}
