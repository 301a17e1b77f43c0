//! The object-coverage suite: one fixture per object family (`fixtures/compat/<family>.sql`),
//! dumped by pgsnap and by stock pg_dump of the server's major version; pgsnap's archive must
//! restore with stock pg_restore with zero errors into a database whose schema (stock
//! `pg_dump -s`, normalised) and data equal the source's, and list the same entries, in the
//! same order, as stock pg_dump's (`support::compare::roundtrip_against`).
//!
//! Runs on servers 14 and 18 here; `scripts/compat` runs it on 14-18.

#[path = "../proto-tests/support/mod.rs"]
mod support;

/// Checks one family's fixture on one server major.
fn check(major: u32, family: &str) {
    // pg_dump 14 leaves the public schema out; pgsnap follows newer pg_dump there.
    let oracle = if major == 14 { 18 } else { major };
    support::compare::roundtrip_against(major, oracle, &[&format!("compat/{family}.sql")]);
}

/// `family!(name)` adds the tests `name::on_14` and `name::on_18` for
/// `fixtures/compat/name.sql`.
macro_rules! family {
    ($name:ident) => {
        mod $name {
            #[test]
            fn on_14() {
                super::check(14, stringify!($name));
            }
            #[test]
            fn on_18() {
                super::check(18, stringify!($name));
            }
        }
    };
}

family!(basics);
family!(aggregates);
family!(operators);
family!(types);
family!(casts_transforms);
family!(languages_am);
family!(text_search);
family!(event_triggers_stats);
family!(functions);
