//! Subscriptions (pg_dump.c `dumpSubscription`): always created without connecting, so a
//! restore neither contacts the publisher nor creates a slot; the options the subscription
//! had are restated when they differ from CREATE SUBSCRIPTION's defaults.

use super::quote::{ident, literal};

/// A subscription as `pg_subscription` describes it (server versions fill what they have;
/// older ones get the defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub name: String,
    pub conninfo: String,
    pub publications: Vec<String>,
    /// `None`: `slot_name = NONE`.
    pub slot_name: Option<String>,
    pub binary: bool,
    /// `substream`: `f` off, `t` on, `p` parallel.
    pub stream: u8,
    /// `subtwophasestate`: `d` disabled, else enabled/pending.
    pub two_phase_state: u8,
    pub disable_on_error: bool,
    pub password_required: bool,
    pub run_as_owner: bool,
    pub failover: bool,
    pub synchronous_commit: String,
    pub origin: String,
}

impl Subscription {
    /// What a server without the newer columns means (pg_dump's substitutes).
    pub fn new(name: &str, conninfo: &str) -> Subscription {
        Subscription {
            name: name.to_string(),
            conninfo: conninfo.to_string(),
            publications: Vec::new(),
            slot_name: None,
            binary: false,
            stream: b'f',
            two_phase_state: b'd',
            disable_on_error: false,
            password_required: true,
            run_as_owner: false,
            failover: false,
            synchronous_commit: "off".into(),
            origin: "any".into(),
        }
    }
}

/// `CREATE SUBSCRIPTION s CONNECTION '..' PUBLICATION a, b WITH (connect = false, slot_name
/// = '..' | NONE, ...);` — streaming always stated (its default changed in 18).
pub fn subscription_sql(s: &Subscription) -> String {
    let pubs: Vec<String> = s.publications.iter().map(|p| ident(p)).collect();
    let slot = s.slot_name.as_deref().map(literal).unwrap_or_else(|| "NONE".into());
    let mut q = format!(
        "CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {} WITH (connect = false, slot_name = {slot}",
        ident(&s.name),
        literal(&s.conninfo),
        pubs.join(", ")
    );
    if s.binary {
        q.push_str(", binary = true");
    }
    q.push_str(match s.stream {
        b't' => ", streaming = on",
        b'p' => ", streaming = parallel",
        _ => ", streaming = off",
    });
    if s.two_phase_state != b'd' {
        q.push_str(", two_phase = on");
    }
    if s.disable_on_error {
        q.push_str(", disable_on_error = true");
    }
    if !s.password_required {
        q.push_str(", password_required = false");
    }
    if s.run_as_owner {
        q.push_str(", run_as_owner = true");
    }
    if s.failover {
        q.push_str(", failover = true");
    }
    if s.synchronous_commit != "off" {
        q.push_str(&format!(", synchronous_commit = {}", ident(&s.synchronous_commit)));
    }
    if !s.origin.eq_ignore_ascii_case("any") {
        q.push_str(&format!(", origin = {}", s.origin));
    }
    q.push_str(");\n");
    q
}

pub fn drop_subscription_sql(name: &str) -> String {
    format!("DROP SUBSCRIPTION {};\n", ident(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_like_pg_dump() {
        let mut s = Subscription::new("sub1", "dbname=nowhere host=/x");
        s.publications = vec!["pub_x".into(), "Pub Y".into()];
        s.slot_name = Some("nonexistent_slot".into());
        s.stream = b'p';
        assert_eq!(
            subscription_sql(&s),
            "CREATE SUBSCRIPTION sub1 CONNECTION 'dbname=nowhere host=/x' PUBLICATION pub_x, \"Pub Y\" WITH \
             (connect = false, slot_name = 'nonexistent_slot', streaming = parallel);\n"
        );
        let mut all = Subscription::new("sub2", "dbname=it's");
        all.publications = vec!["p".into()];
        all.binary = true;
        all.stream = b't';
        all.two_phase_state = b'p';
        all.disable_on_error = true;
        all.password_required = false;
        all.run_as_owner = true;
        all.failover = true;
        all.synchronous_commit = "remote_apply".into();
        all.origin = "none".into();
        assert_eq!(
            subscription_sql(&all),
            "CREATE SUBSCRIPTION sub2 CONNECTION 'dbname=it''s' PUBLICATION p WITH (connect = false, slot_name = \
             NONE, binary = true, streaming = on, two_phase = on, disable_on_error = true, password_required = \
             false, run_as_owner = true, failover = true, synchronous_commit = remote_apply, origin = none);\n"
        );
        assert_eq!(drop_subscription_sql("sub2"), "DROP SUBSCRIPTION sub2;\n");
    }
}
