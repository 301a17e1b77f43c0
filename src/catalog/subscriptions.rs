//! Subscriptions of the current database (pg_dump.c `getSubscriptions`, `dumpSubscription`).
//! Their catalog holds connection strings, so pg_dump reads it only as a superuser; anyone
//! else gets a warning when there are subscriptions, and none are dumped. Dumped when the
//! dump includes everything, unless `--no-subscriptions`.

use super::Ctx;
use crate::ddl::comment::comment_entry;
use crate::ddl::quote::ident;
use crate::ddl::seclabel::{Label, seclabel_entry};
use crate::ddl::subscription::{Subscription, drop_subscription_sql, subscription_sql};
use crate::error::Result;
use crate::model::{CatalogId, Entry, Priority, Section, ServerVersion};

const PG_SUBSCRIPTION: u32 = 6100;

/// pg_dump's warning when the user may not read subscriptions.
pub const NOT_SUPERUSER: &str = "subscriptions not dumped because current user is not a superuser";

/// One `pg_subscription` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRow {
    pub oid: u32,
    pub owner: String,
    pub def: Subscription,
}

/// The version-gated columns: what older servers lack reads as CREATE SUBSCRIPTION's
/// default (14: binary and streaming; 15: two-phase, disable on error; 16: password
/// required, run as owner, origin; 17: failover). 14 and 15 keep streaming as a boolean.
fn columns(v: ServerVersion) -> String {
    let stream = if v.at_least(16) {
        "s.substream::text"
    } else {
        "CASE WHEN s.substream THEN 't' ELSE 'f' END"
    };
    let v15 = if v.at_least(15) {
        "s.subtwophasestate::text, s.subdisableonerr"
    } else {
        "'d', false"
    };
    let v16 = if v.at_least(16) {
        "s.subpasswordrequired, s.subrunasowner, s.suborigin"
    } else {
        "true, false, 'any'"
    };
    let v17 = if v.at_least(17) { "s.subfailover" } else { "false" };
    format!("s.subbinary, {stream}, {v15}, {v16}, {v17}")
}

pub async fn fetch(ctx: &Ctx<'_>) -> Result<Vec<SubscriptionRow>> {
    let sql = format!(
        "SELECT s.oid, s.subname, s.subowner, s.subconninfo, s.subslotname, s.subsynccommit, \
         s.subpublications::text[], {} FROM pg_catalog.pg_subscription s \
         WHERE s.subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()) \
         ORDER BY s.oid",
        columns(ctx.version)
    );
    let mut out = Vec::new();
    for r in ctx.db.query(&sql).await? {
        let mut def = Subscription::new(&r.text(1)?, &r.text(3)?);
        def.slot_name = r.opt_text(4)?;
        def.synchronous_commit = r.text(5)?;
        def.publications = r.text_array(6)?;
        def.binary = r.bool(7)?;
        def.stream = r.char(8)?;
        def.two_phase_state = r.char(9)?;
        def.disable_on_error = r.bool(10)?;
        def.password_required = r.bool(11)?;
        def.run_as_owner = r.bool(12)?;
        def.origin = r.text(13)?;
        def.failover = r.bool(14)?;
        out.push(SubscriptionRow {
            oid: r.oid(0)?,
            owner: ctx.role(r.oid(2)?),
            def,
        });
    }
    Ok(out)
}

/// The SUBSCRIPTION entry, with its comment and security labels.
pub fn subscription_entry(s: &SubscriptionRow, comment: Option<&str>, labels: &[Label]) -> Entry {
    let mut e = Entry::new(
        "SUBSCRIPTION",
        Priority::Subscription,
        Section::PostData,
        s.def.name.clone(),
    )
    .with_key(CatalogId::new(PG_SUBSCRIPTION, s.oid))
    .with_owner(s.owner.clone())
    .with_defn(subscription_sql(&s.def))
    .with_drop(drop_subscription_sql(&s.def.name));
    if let Some(text) = comment {
        let q = ident(&s.def.name);
        let c = comment_entry(&e, "SUBSCRIPTION", &q, &q, text);
        e.attached.push(c);
    }
    let q = ident(&s.def.name);
    if let Some(l) = seclabel_entry(&e, "SUBSCRIPTION", &q, &q, labels) {
        e.attached.push(l);
    }
    e
}

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    if ctx.selection.no_subscriptions || !ctx.include_everything() {
        return Ok(());
    }
    // `is_superuser` follows SET ROLE, as the parameter pg_dump checks does.
    let superuser = ctx
        .db
        .query_one("SELECT pg_catalog.current_setting('is_superuser')")
        .await?
        .text(0)?
        == "on";
    if !superuser {
        let n = ctx
            .db
            .query_one(
                "SELECT count(*) FROM pg_catalog.pg_subscription WHERE subdbid = \
                 (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())",
            )
            .await?
            .int(0)?;
        if n > 0 {
            ctx.warnings.push(NOT_SUPERUSER.to_string());
        }
        return Ok(());
    }
    for s in fetch(ctx).await? {
        if ctx.is_extension_member(CatalogId::new(PG_SUBSCRIPTION, s.oid)) {
            continue;
        }
        let comment = ctx.comment(PG_SUBSCRIPTION, s.oid, 0).map(str::to_string);
        let labels = ctx.labels(PG_SUBSCRIPTION, s.oid);
        let e = subscription_entry(&s, comment.as_deref(), &labels);
        ctx.push(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_servers_read_defaults_for_newer_options() {
        let c14 = columns(ServerVersion(140_010));
        assert!(c14.contains("CASE WHEN s.substream"), "{c14}");
        assert!(c14.contains("'d', false") && c14.ends_with("false"), "{c14}");
        let c16 = columns(ServerVersion(160_002));
        assert!(
            c16.contains("s.substream::text") && c16.contains("s.suborigin"),
            "{c16}"
        );
        assert!(c16.ends_with(", false"), "{c16}");
        assert!(columns(ServerVersion(180_000)).ends_with("s.subfailover"));
    }

    #[test]
    fn a_subscription_entry_is_shaped_like_pg_dump() {
        let mut def = Subscription::new("sub1", "dbname=x");
        def.publications = vec!["p".into()];
        let s = SubscriptionRow {
            oid: 20000,
            owner: "postgres".into(),
            def,
        };
        let e = subscription_entry(&s, Some("sub"), &[Label::new("pgsnap", "secret")]);
        assert_eq!((e.desc.as_str(), e.tag.as_str()), ("SUBSCRIPTION", "sub1"));
        assert_eq!(e.key, Some(CatalogId::new(6100, 20000)));
        assert_eq!(e.section, Section::PostData);
        assert_eq!(e.schema, None);
        assert_eq!(e.drop_stmt.as_deref(), Some("DROP SUBSCRIPTION sub1;\n"));
        assert_eq!(
            e.attached[0].defn.as_deref(),
            Some("COMMENT ON SUBSCRIPTION sub1 IS 'sub';\n")
        );
        // The label follows the comment (dumpSubscription).
        assert_eq!(
            (e.attached[1].desc.as_str(), e.attached[1].tag.as_str()),
            ("SECURITY LABEL", "SUBSCRIPTION sub1")
        );
        assert_eq!(
            e.attached[1].defn.as_deref(),
            Some("SECURITY LABEL FOR pgsnap ON SUBSCRIPTION sub1 IS 'secret';\n")
        );
    }
}
