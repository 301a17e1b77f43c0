//! The object-coverage suite: one fixture per object family (`fixtures/compat/<family>.sql`),
//! dumped by pgsnap and by stock pg_dump of the server's major version; pgsnap's archive must
//! restore with stock pg_restore with zero errors into a database whose schema (stock
//! `pg_dump -s`, normalised) and data equal the source's, and list the same entries, in the
//! same order, as stock pg_dump's (`support::compare::roundtrip_against`). Stock pg_dump dumps
//! every fixture silently, so pgsnap must not warn either.
//!
//! Runs on servers 14 and 18 here; `scripts/compat` runs it on 14-18.

#[path = "../proto-tests/support/mod.rs"]
mod support;

use std::collections::BTreeSet;

use support::compare::{fixture, listing, try_dump};
use support::{Fingerprint, TestDb};

/// The stock pg_dump to compare with on a server major: pg_dump 14 leaves the public schema
/// out, and pgsnap follows newer pg_dump there.
fn oracle(major: u32) -> u32 {
    if major == 14 { 18 } else { major }
}

/// Checks one family's fixture on one server major.
fn check(major: u32, family: &str) {
    let stderr = support::compare::roundtrip_against(major, oracle(major), &[&format!("compat/{family}.sql")]);
    assert!(
        !stderr.to_lowercase().contains("warn"),
        "PostgreSQL {major}: pgsnap warned where stock pg_dump is silent:\n{stderr}"
    );
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
family!(rules_views_loops);
family!(typed_tables);
family!(foreign_data);
family!(publications);
family!(subscriptions);
family!(aggregates);
family!(operators);
family!(types);
family!(casts_transforms);
family!(languages_am);
family!(text_search);
family!(event_triggers_stats);
family!(functions);

/// pg_dump's circular-foreign-key warnings: each warning's tables (as a set) and the hints.
fn fk_warnings(stderr: &str) -> (BTreeSet<BTreeSet<String>>, BTreeSet<String>) {
    let mut groups = BTreeSet::new();
    let mut hints = BTreeSet::new();
    let mut current: Option<BTreeSet<String>> = None;
    for line in stderr.lines() {
        if line.contains("there are circular foreign-key constraints") {
            if let Some(g) = current.take() {
                groups.insert(g);
            }
            current = Some(BTreeSet::new());
        } else if let (Some(g), Some((_, t))) = (current.as_mut(), line.split_once("detail: ")) {
            g.insert(t.trim().to_string());
        } else if let Some((_, h)) = line.split_once("hint: ") {
            hints.insert(h.trim().to_string());
        }
    }
    if let Some(g) = current {
        groups.insert(g);
    }
    (groups, hints)
}

/// A data-only dump orders table data by foreign keys; circular ones (and a self-reference)
/// get pg_dump's warning, word for word, and the same entries in the same order.
fn data_only_with_circular_foreign_keys(major: u32) {
    let db = TestDb::new(major, "dataonly", &fixture("compat/rules_views_loops.sql"));
    let c = &db.cluster;
    let (archive, res) = try_dump(c, &db.name, &["-a", "-j", "2"]);
    let ours = String::from_utf8_lossy(&res.stderr).into_owned();
    assert!(res.status.success(), "pgsnap dump -a failed:\n{ours}");
    let stock = tempfile::tempdir().unwrap();
    let stock_dir = stock.path().join("stock");
    let out = c
        .tool_of(oracle(major), "pg_dump")
        .args(["-a", "-Fd", "-f"])
        .arg(&stock_dir)
        .arg(&db.name)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let theirs = String::from_utf8_lossy(&out.stderr).into_owned();
    let (our_groups, our_hints) = fk_warnings(&ours);
    let (stock_groups, stock_hints) = fk_warnings(&theirs);
    assert_eq!(stock_groups.len(), 2, "stock pg_dump should warn twice:\n{theirs}");
    assert_eq!(our_groups, stock_groups, "ours:\n{ours}\nstock:\n{theirs}");
    assert_eq!(our_hints, stock_hints, "ours:\n{ours}\nstock:\n{theirs}");
    assert_eq!(
        listing(c, oracle(major), &archive),
        listing(c, oracle(major), &stock_dir)
    );

    // The data still restores into the schema (foreign keys off while loading, as the hint
    // says), equal to the source.
    let target = c.create_database("dataonly_restored", "");
    let schema = c.tool("pg_dump").args(["-s", "-d", &db.name]).output().unwrap();
    assert!(schema.status.success());
    c.psql(&target, &String::from_utf8_lossy(&schema.stdout));
    let out = c
        .tool("pg_restore")
        .args(["--disable-triggers", "-d", &target])
        .arg(&archive)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let restored = Fingerprint::data_of(c, &target).tables;
    let source = Fingerprint::data_of(c, &db.name).tables;
    // The matview is populated by REFRESH, which a data-only dump leaves out.
    let without_mv = |t: std::collections::BTreeMap<String, (i64, String)>| {
        t.into_iter().filter(|(k, _)| !k.ends_with("fd_mv")).collect::<Vec<_>>()
    };
    assert_eq!(without_mv(restored), without_mv(source));
    c.drop_database(&target);
    let _ = std::fs::remove_dir_all(archive.parent().unwrap());
}

#[test]
fn data_only_with_circular_foreign_keys_on_14() {
    data_only_with_circular_foreign_keys(14);
}

#[test]
fn data_only_with_circular_foreign_keys_on_18() {
    data_only_with_circular_foreign_keys(18);
}

/// `--include-foreign-data` (the servers arrive resolved in `Selection`): the foreign table
/// of the named server gets a TABLE DATA entry, read through file_fdw by parallel workers
/// (pg_dump refuses `-j` here), the other server's does not; same entries and rows as stock
/// `pg_dump --include-foreign-data`.
fn foreign_table_rows(major: u32) {
    let db = TestDb::new(major, "fdwdata", "");
    let c = &db.cluster;
    db.psql(
        "CREATE EXTENSION file_fdw;\n\
         CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;\n\
         CREATE SERVER other FOREIGN DATA WRAPPER file_fdw;\n\
         CREATE TABLE plain (id integer);\n\
         INSERT INTO plain SELECT g FROM generate_series(1, 50) g;\n\
         CREATE FOREIGN TABLE ft (id integer, note text) SERVER files \
           OPTIONS (program $$seq 1 50 | sed 's/.*/&,row &/'$$, format 'csv');\n\
         CREATE FOREIGN TABLE ft_other (id integer) SERVER other OPTIONS (program 'seq 1 3');",
    );
    let server: u32 = db
        .psql("SELECT oid FROM pg_foreign_server WHERE srvname = 'files'")
        .trim()
        .parse()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let target = pgsnap::pg::Target::new(db.conninfo().parse().unwrap(), db.name.clone());
    let mut opts = pgsnap::DumpOptions::new(target, &archive);
    opts.jobs = 2;
    opts.selection.foreign_data_servers = vec![server];
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let report = runtime.block_on(pgsnap::dump(opts)).unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(report.rows, 100, "plain and ft, 50 rows each");

    let stock_dir = dir.path().join("stock");
    let out = c
        .tool_of(oracle(major), "pg_dump")
        .args(["-Fd", "--include-foreign-data=files", "-f"])
        .arg(&stock_dir)
        .arg(&db.name)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ours = listing(c, oracle(major), &archive);
    assert_eq!(ours, listing(c, oracle(major), &stock_dir));
    assert!(ours.iter().any(|l| l.contains("TABLE DATA public ft ")), "{ours:?}");
    assert!(
        !ours.iter().any(|l| l.contains("TABLE DATA public ft_other")),
        "{ours:?}"
    );
    let data = |dir: &std::path::Path| {
        let out = c
            .tool_of(oracle(major), "pg_restore")
            .args(["-a", "-t", "ft", "-f", "-"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with(|ch: char| ch.is_ascii_digit()))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let rows = data(&archive);
    assert_eq!(rows.len(), 50);
    assert_eq!(rows, data(&stock_dir));
}

#[test]
fn foreign_table_rows_on_14() {
    foreign_table_rows(14);
}

#[test]
fn foreign_table_rows_on_18() {
    foreign_table_rows(18);
}

/// Subscriptions hold connection strings: pg_dump reads them only as a superuser, and
/// anyone else gets its warning and no subscriptions. So does pgsnap.
fn subscriptions_need_a_superuser(major: u32) {
    let db = TestDb::new(major, "subuser", &fixture("compat/subscriptions.sql"));
    let c = &db.cluster;
    db.psql("DO $$ BEGIN CREATE ROLE sub_dumper LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;");
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let res = support::compare::pgsnap()
        .args(["dump", "-Fd", "-h"])
        .arg(c.socket_dir())
        .args(["-p", &c.port.to_string(), "-U", "sub_dumper", "-f"])
        .arg(&archive)
        .arg(&db.name)
        .output()
        .unwrap();
    let ours = String::from_utf8_lossy(&res.stderr).into_owned();
    assert!(res.status.success(), "{ours}");
    let warning = "subscriptions not dumped because current user is not a superuser";
    assert!(ours.contains(warning), "{ours}");
    let stock_dir = dir.path().join("stock");
    let out = c
        .tool_of(oracle(major), "pg_dump")
        .args(["-U", "sub_dumper", "-Fd", "-f"])
        .arg(&stock_dir)
        .arg(&db.name)
        .output()
        .unwrap();
    let theirs = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success() && theirs.contains(warning), "{theirs}");
    let listed = listing(c, oracle(major), &archive);
    assert!(!listed.iter().any(|l| l.contains("SUBSCRIPTION")), "{listed:?}");
    assert_eq!(listed, listing(c, oracle(major), &stock_dir));
}

#[test]
fn subscriptions_need_a_superuser_on_14() {
    subscriptions_need_a_superuser(14);
}

#[test]
fn subscriptions_need_a_superuser_on_18() {
    subscriptions_need_a_superuser(18);
}
family!(extension_config);
family!(tablespaces_identity);

/// Large objects take the shape of the archive version written: pgsnap's default 1.14
/// archive holds them as pg_dump 14-16 does (a BLOB entry each, one BLOBS entry), compared
/// with stock pg_dump 16 (the newest writing that shape; it still dumps a server 14);
/// `--archive-version 1.16` holds them as pg_dump 17+ does (BLOB METADATA / BLOBS groups),
/// compared with stock pg_dump 18. The fingerprint compares every object's owner, ACL,
/// comment and bytes.
mod large_objects {
    fn check(major: u32, oracle: u32, extra: &[&str]) {
        let stderr = super::support::compare::roundtrip_with(major, oracle, &["compat/large_objects.sql"], extra);
        assert!(
            !stderr.to_lowercase().contains("warn"),
            "PostgreSQL {major}: pgsnap warned where stock pg_dump is silent:\n{stderr}"
        );
    }
    #[test]
    fn on_14() {
        check(14, 16, &[]);
    }
    #[test]
    fn on_18() {
        check(18, 18, &["--archive-version", "1.16"]);
    }
}
