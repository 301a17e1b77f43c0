//! The object-coverage suite: one fixture per object family (`fixtures/compat/<family>.sql`).
//! Stock pg_dump of the server's major version and pgsnap each dump the fixture's database
//! (`-Fd -j 2`); stock pg_restore restores both archives into fresh databases; the restored
//! schemas (stock `pg_dump -s`, entry by entry), the data (row checksums per table, sequences,
//! large objects) and the archives' `pg_restore -l` entries — in the same order — must be
//! identical, pgsnap's archive must restore without a single error, and pgsnap must not warn
//! that it left anything out (`support::compare::compare_with_stock`, the same comparison
//! `scripts/regress` runs on PostgreSQL's regression database).
//!
//! Servers: `PGSNAP_COMPAT_MAJORS` (comma-separated, default `14,18`); `scripts/compat` runs
//! it on 14-18 and writes the results table into compat/README.md.

#[path = "../proto-tests/support/mod.rs"]
mod support;

use support::TestDb;
use support::compare::{Candidate, CompareOptions, compare_with_stock, fixture};
use support::entries::{parse_listing, parse_plain, parse_restore_log};

/// The server majors to check, from `PGSNAP_COMPAT_MAJORS`.
fn majors() -> Vec<u32> {
    let spec = std::env::var("PGSNAP_COMPAT_MAJORS").unwrap_or_else(|_| "14,18".into());
    let majors: Vec<u32> = spec
        .split(',')
        .map(|m| {
            m.trim()
                .parse()
                .unwrap_or_else(|_| panic!("PGSNAP_COMPAT_MAJORS={spec:?}: expected majors like 14,18"))
        })
        .collect();
    assert!(!majors.is_empty(), "PGSNAP_COMPAT_MAJORS is empty");
    majors
}

/// Checks one family's fixture on every selected server major; reports all majors' failures.
fn check(family: &str) {
    let sql = fixture(&format!("compat/{family}.sql"));
    let mut failures = String::new();
    for major in majors() {
        let db = TestDb::new(major, family, &sql);
        let cmp = compare_with_stock(&db.cluster, &db.name, &CompareOptions::for_major(major));
        if !cmp.is_equal() {
            failures.push_str(&format!(
                "\n=== PostgreSQL {major}: pgsnap's archive differs from stock pg_dump's\n{}\n{}\n{}",
                support::compare::Comparison::summary_header(),
                cmp.summary_row(family),
                cmp.details()
            ));
        }
    }
    assert!(failures.is_empty(), "family {family}:{failures}");
}

/// `family!(name)` adds the test `name::matches_stock` for `fixtures/compat/name.sql`, run on
/// every major of `PGSNAP_COMPAT_MAJORS`.
macro_rules! family {
    ($name:ident) => {
        mod $name {
            #[test]
            fn matches_stock() {
                super::check(stringify!($name));
            }
        }
    };
}

family!(basics);
family!(partitions);
family!(acls);
family!(comments);
family!(inheritance);
family!(matviews);
family!(aggregates);
family!(operators);
family!(types);
family!(casts_transforms);
family!(languages_am);
family!(text_search);
family!(event_triggers_stats);
family!(functions);

/// The measuring stick is tested too: equal archives compare equal, and each kind of
/// difference is caught (stock pg_dump with a flag that leaves something out stands in for a
/// faulty pgsnap).
mod comparison {
    use super::*;

    const SAMPLE: &str = "CREATE SCHEMA s;
        CREATE TABLE s.t (id int PRIMARY KEY, v text);
        COMMENT ON TABLE s.t IS 'a table';
        CREATE SEQUENCE s.q;
        SELECT setval('s.q', 42);
        INSERT INTO s.t VALUES (1, 'a'), (2, NULL);
        SELECT lo_from_bytea(0, '\\x0102');";

    fn against(major: u32, args: &[&str]) -> support::compare::Comparison {
        let db = TestDb::new(major, "cmp", SAMPLE);
        let mut opts = CompareOptions::for_major(major);
        opts.candidate = Candidate::Stock(major, args.iter().map(|s| s.to_string()).collect());
        compare_with_stock(&db.cluster, &db.name, &opts)
    }

    #[test]
    fn stock_against_itself_is_equal() {
        let cmp = against(18, &[]);
        assert!(cmp.is_equal(), "{}", cmp.details());
        let c = cmp.counts();
        assert_eq!((c.tables, c.tables_equal, c.large_objects_equal), (1, 1, 1));
        assert!(c.schema_entries >= 5 && c.toc_entries >= 8, "{c:?}");
    }

    #[test]
    fn a_left_out_comment_is_caught_in_schema_and_listing() {
        let cmp = against(15, &["--no-comments"]);
        assert!(!cmp.is_equal());
        let keys: Vec<&str> = cmp.schema_diffs.iter().map(|d| d.key.as_str()).collect();
        assert!(keys.contains(&"COMMENT s TABLE t"), "{keys:?}");
        assert!(
            cmp.toc_missing.iter().any(|l| l.key == "COMMENT s TABLE t postgres"),
            "{}",
            cmp.details()
        );
        assert_eq!(cmp.by_kind()["COMMENT on TABLE"][0], 1);
    }

    #[test]
    fn left_out_rows_and_large_objects_are_caught() {
        let cmp = against(18, &["--exclude-table-data=s.t", "--no-large-objects"]);
        let diffs = cmp.data_diffs().join("\n");
        assert!(diffs.contains("table s.t: stock (2,"), "{diffs}");
        assert!(diffs.contains("large object"), "{diffs}");
        let c = cmp.counts();
        assert_eq!((c.tables_equal, c.large_objects_equal), (0, 0));
        assert!(!cmp.is_equal());
    }

    #[test]
    fn public_schema_entries_of_newer_pg_dump_are_the_only_extras_allowed_on_14() {
        // pg_dump 18 against a 14 server writes the public schema's entries; pg_dump 14 does
        // not. Those are allowed, so pg_dump 18 compares equal with pg_dump 14 here ...
        let db = TestDb::new(14, "cmp14", SAMPLE);
        let listing = |restore_major: u32, dump_major: u32| {
            let dir = tempfile::tempdir().unwrap();
            let out = db
                .cluster
                .tool_of(dump_major, "pg_dump")
                .args(["-Fd", "-s", "-f"])
                .arg(dir.path().join("a"))
                .arg(&db.name)
                .output()
                .unwrap();
            assert!(out.status.success());
            let l = db
                .cluster
                .tool_of(restore_major, "pg_restore")
                .args(["-l"])
                .arg(dir.path().join("a"))
                .output()
                .unwrap();
            parse_listing(&String::from_utf8_lossy(&l.stdout))
        };
        let old = listing(14, 14);
        let new = listing(18, 18);
        let extra: Vec<String> = new
            .iter()
            .filter(|l| !old.iter().any(|o| o.key == l.key))
            .map(|l| l.key.clone())
            .collect();
        assert_eq!(
            extra,
            ["SCHEMA - public postgres", "ACL - SCHEMA public postgres"],
            "pg_dump 18 vs 14 on a 14 server"
        );
        // ... and pgsnap's archive on 14 is compared with pg_dump 14's with exactly those
        // allowed.
        let cmp = compare_with_stock(&db.cluster, &db.name, &CompareOptions::for_major(14));
        assert_eq!(cmp.allowed_extra.len(), 2, "{:?}", cmp.allowed_extra);
    }

    #[test]
    fn plain_scripts_split_into_entries_with_settings_recorded_not_printed() {
        let sql = "--\n-- PostgreSQL database dump\n--\n\n\\restrict abc\nSET x = 1;\n\n\
            --\n-- Name: s; Type: SCHEMA; Schema: -; Owner: bob\n--\n\nCREATE SCHEMA s;\n\n\n\
            SET default_tablespace = ts;\n\nSET default_table_access_method = heap2;\n\n\
            --\n-- Name: t; Type: TABLE; Schema: s; Owner: bob; Tablespace: ts\n--\n\n\
            CREATE TABLE s.t (\n    id integer\n);\n\n\n\
            --\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc\n";
        let e = parse_plain(sql);
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(e[0].key(), "SCHEMA - s");
        assert_eq!(e[0].value, "-- owner: bob\nCREATE SCHEMA s;");
        assert_eq!(e[1].key(), "TABLE s t");
        assert_eq!(
            e[1].value,
            "-- owner: bob\n-- tablespace: ts\n-- access method: heap2\nCREATE TABLE s.t (\n    id integer\n);"
        );
    }

    #[test]
    fn restore_errors_are_counted_and_attributed_to_their_entry() {
        let log = "pg_restore: creating FUNCTION \"public.f(integer)\"\n\
            pg_restore: while PROCESSING TOC:\n\
            pg_restore: from TOC entry 85; 1255 32222 FUNCTION f(integer) postgres\n\
            pg_restore: error: could not execute query: ERROR:  type \"x\" is only a shell\n\
            LINE 1: CREATE FUNCTION public.f(integer)\n\
            Command was: CREATE FUNCTION public.f(integer)\n RETURNS x\n\n\
            pg_restore: error: could not execute query: ERROR:  function public.f(integer) does not exist\n\
            Command was: ALTER FUNCTION public.f(integer) OWNER TO postgres;\n\
            pg_restore: from TOC entry 4242; 0 0 COMMENT TABLE t postgres\n\
            pg_restore: error: could not execute query: ERROR:  relation \"public.t\" does not exist\n\
            Command was: COMMENT ON TABLE public.t IS 'x';\n\
            pg_restore: warning: errors ignored on restore: 3\n";
        let r = parse_restore_log(log);
        assert_eq!(r.count(), 3);
        let kinds: Vec<&str> = r.errors.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["FUNCTION", "FUNCTION", "COMMENT on TABLE"]);
        assert_eq!(r.errors[0].command, "CREATE FUNCTION public.f(integer)");
        assert!(
            r.errors[0].message.contains("only a shell | LINE 1"),
            "{:?}",
            r.errors[0]
        );
    }

    #[test]
    fn listing_lines_split_into_kind_and_key() {
        let l = parse_listing(
            ";\n; Archive created at ...\n2; 0 0 ENCODING - ENCODING \n\
             2415; 0 16429 TABLE DATA shop orders app_owner\n\
             2698; 0 0 ACL shop COLUMN customer.id app_owner\n\
             2115; 826 16470 DEFAULT ACL shop DEFAULT PRIVILEGES FOR TABLES app_owner\n",
        );
        let got: Vec<(&str, &str, &str)> = l
            .iter()
            .map(|l| (l.ids.as_str(), l.desc.as_str(), l.kind.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("0 0", "ENCODING", "ENCODING"),
                ("0 16429", "TABLE DATA", "TABLE DATA"),
                ("0 0", "ACL", "ACL on COLUMN"),
                ("826 16470", "DEFAULT ACL", "DEFAULT ACL"),
            ]
        );
        assert_eq!(l[1].key, "TABLE DATA shop orders app_owner");
    }
}
