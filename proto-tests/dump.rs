//! `pgsnap dump` against real servers: fixtures restored by stock pg_restore with zero
//! errors and identical schema and data, `pg_restore -l` equal to stock pg_dump's, every
//! compression and the pg_restore versions that read it, and snapshot consistency under load.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use support::compare::*;
use support::{Cluster, Fingerprint, TestDb};

#[test]
fn app_fixture_roundtrips_on_15() {
    roundtrip(15, &["app.sql"]);
}

#[test]
fn app_fixture_roundtrips_on_18() {
    roundtrip(18, &["app.sql"]);
}

#[test]
fn app_fixture_roundtrips_on_14() {
    // pg_dump 14 left the public schema out entirely; pg_dump 15+ (and pgsnap) dump its
    // owner and ACL on servers where it is not owned by pg_database_owner.
    roundtrip_against(14, 18, &["app.sql"]);
}

#[test]
fn app_fixture_roundtrips_on_16() {
    roundtrip(16, &["app.sql"]);
}

#[test]
fn app_fixture_roundtrips_on_17() {
    roundtrip(17, &["app.sql"]);
}

#[test]
fn pg18_features_roundtrip_on_18() {
    roundtrip(18, &["app.sql", "pg18.sql"]);
}

#[test]
fn schema_only_and_data_only_archives_restore_as_a_pair() {
    let db = TestDb::new(15, "sections", &fixture("app.sql"));
    let c = &db.cluster;
    let source = Fingerprint::of(c, &db.name);
    let schema = dump(c, &db.name, &["-s"]);
    let data = dump(c, &db.name, &["-a", "-j", "2"]);
    // Each holds exactly the entries stock pg_dump -s / -a writes.
    for (flag, ours) in [("-s", &schema), ("-a", &data)] {
        let stock = tempfile::tempdir().unwrap().keep().join("stock");
        let out = c
            .tool("pg_dump")
            .args(["-Fd", flag, "-f"])
            .arg(&stock)
            .arg(&db.name)
            .output()
            .unwrap();
        check_ok("stock pg_dump", &out);
        let d = multiset_diff(&multiset(&listing(c, 15, ours)), &multiset(&listing(c, 15, &stock)));
        assert!(
            d.is_empty(),
            "pgsnap dump {flag} differs from stock pg_dump {flag}:\n{d}"
        );
    }
    let target = c.create_database("sections_restored", "");
    for archive in [&schema, &data] {
        let out = c
            .tool("pg_restore")
            .args(["-d", &target, "--disable-triggers"])
            .arg(archive)
            .output()
            .unwrap();
        check_ok("pg_restore", &out);
    }
    c.psql(&target, "REFRESH MATERIALIZED VIEW shop.status_counts");
    let got = Fingerprint::of(c, &target);
    assert_eq!(source.tables, got.tables);
    assert_eq!(source.sequences, got.sequences);
    c.drop_database(&target);
}

#[test]
fn awkward_data_roundtrips_on_15() {
    roundtrip(15, &["awkward.sql"]);
}

#[test]
fn awkward_data_roundtrips_on_18() {
    roundtrip(18, &["awkward.sql"]);
}

/// Restores `archive` with pg_restore of `restore_major` into a fresh database of `c` and
/// compares data fingerprints with `source`.
fn restore_with(c: &Cluster, restore_major: u32, archive: &Path, source: &Fingerprint) {
    let target = c.create_database("rv", "");
    let out = c
        .tool_of(restore_major, "pg_restore")
        .args(["-d", &target])
        .arg(archive)
        .output()
        .unwrap();
    check_ok(&format!("pg_restore {restore_major}"), &out);
    let got = Fingerprint::data_of(c, &target);
    assert_eq!(
        source.tables, got.tables,
        "pg_restore {restore_major}: table data differs"
    );
    assert_eq!(
        source.sequences, got.sequences,
        "pg_restore {restore_major}: sequences differ"
    );
    c.drop_database(&target);
}

#[test]
fn gzip_archive_restores_with_pg_restore_14_to_18() {
    let db = TestDb::new(15, "gz", &fixture("awkward.sql"));
    let source = Fingerprint::data_of(&db.cluster, &db.name);
    let archive = dump(&db.cluster, &db.name, &["-j", "2"]);
    for major in [14, 15, 16] {
        restore_with(&db.cluster, major, &archive, &source);
    }
    // pg_restore 17+ sends `SET transaction_timeout`, which a 15 server rejects; restore
    // into an 18 server instead.
    let c18 = Cluster::shared(18);
    for major in [17, 18] {
        restore_with(&c18, major, &archive, &source);
    }
}

#[test]
fn zstd_lz4_and_uncompressed_archives_restore() {
    let db = TestDb::new(18, "codecs", &fixture("awkward.sql"));
    let source = Fingerprint::data_of(&db.cluster, &db.name);
    for (spec, suffix, readers) in [
        ("zstd", ".dat.zst", &[16, 17, 18][..]),
        ("lz4:3", ".dat.lz4", &[16, 18][..]),
        ("0", ".dat", &[14, 18][..]),
        ("gzip:1", ".dat.gz", &[15, 18][..]),
    ] {
        let archive = dump(&db.cluster, &db.name, &["-Z", spec]);
        let files: Vec<String> = std::fs::read_dir(&archive)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "toc.dat")
            .collect();
        assert!(
            !files.is_empty() && files.iter().all(|n| n.ends_with(suffix)),
            "-Z {spec}: {files:?}"
        );
        for major in readers {
            restore_with(&db.cluster, *major, &archive, &source);
        }
        if spec == "zstd" {
            // Archive 1.15: pg_restore 15 must refuse it with its version message.
            let out = db
                .cluster
                .tool_of(15, "pg_restore")
                .arg("-l")
                .arg(&archive)
                .output()
                .unwrap();
            assert!(!out.status.success());
            assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported version (1.15)"));
        }
    }
}

#[test]
fn snapshot_is_consistent_under_pgbench_load() {
    let db = TestDb::new(18, "bench", "");
    let c = &db.cluster;
    let init = c
        .tool("pgbench")
        .args(["-i", "-q", "-s", "10", "-I", "dtgvp", &db.name])
        .output()
        .unwrap();
    check_ok("pgbench -i", &init);
    let mut load = c
        .tool("pgbench")
        .args(["-c", "4", "-j", "2", "-T", "60", "-n", &db.name])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let archive = dump(c, &db.name, &["-j", "4"]);
    let _ = load.kill();
    let _ = load.wait();

    let target = c.create_database("bench_restored", "");
    let out = c
        .tool("pg_restore")
        .args(["-j", "2", "-d", &target])
        .arg(&archive)
        .output()
        .unwrap();
    check_ok("pg_restore", &out);
    let sums = c.psql(
        &target,
        "SELECT (SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(bbalance) FROM pgbench_branches), \
         (SELECT sum(tbalance) FROM pgbench_tellers), (SELECT coalesce(sum(delta), 0) FROM pgbench_history), \
         (SELECT count(*) FROM pgbench_history)",
    );
    let v: Vec<&str> = sums.trim().split('|').collect();
    assert_eq!(v[0], v[1], "accounts vs branches: {sums}");
    assert_eq!(v[1], v[2], "branches vs tellers: {sums}");
    assert_eq!(v[2], v[3], "tellers vs history: {sums}");
    assert!(
        v[4].parse::<i64>().unwrap() > 0,
        "the dump ran while pgbench was writing: {sums}"
    );
    // The restored history is a strict subset of the final one.
    let rows = |db: &str| -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for l in c
            .psql(db, "SELECT tid, bid, aid, delta, mtime FROM pgbench_history")
            .lines()
        {
            *m.entry(l.to_string()).or_insert(0) += 1;
        }
        m
    };
    let (restored, fin) = (rows(&target), rows(&db.name));
    for (row, n) in &restored {
        assert!(
            fin.get(row).copied().unwrap_or(0) >= *n,
            "restored history row not in the final history: {row}"
        );
    }
    let (nr, nf): (usize, usize) = (restored.values().sum(), fin.values().sum());
    assert!(
        nr < nf,
        "restored history ({nr}) is a strict subset of the final one ({nf})"
    );
    c.drop_database(&target);
}

#[test]
fn multiple_hosts_fall_through_and_workers_follow_the_leader() {
    let db = TestDb::new(15, "hosts", &fixture("awkward.sql"));
    let c = &db.cluster;
    let source = Fingerprint::data_of(c, &db.name);
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = tempfile::Builder::new()
        .prefix("pgsnap-out")
        .tempdir()
        .unwrap()
        .keep()
        .join("archive");
    let hosts = format!("127.0.0.1,{}", c.socket_dir().display());
    let ports = format!("{dead},{}", c.port);
    let res = pgsnap()
        .args([
            "dump", "-Fd", "-j", "2", "-U", "postgres", "-h", &hosts, "-p", &ports, "-f",
        ])
        .arg(&out)
        .arg(&db.name)
        .output()
        .unwrap();
    assert!(res.status.success(), "{}", String::from_utf8_lossy(&res.stderr));
    restore_with(c, 15, &out, &source);
}

#[test]
fn objects_of_unsupported_kinds_are_named_not_dropped_silently() {
    let db = TestDb::new(
        15,
        "unsupported",
        "CREATE TABLE t (x int);
         CREATE FUNCTION add2(int, int) RETURNS int LANGUAGE sql AS 'SELECT $1 + $2';
         CREATE AGGREGATE total(int) (SFUNC = add2, STYPE = int);
         CREATE TEXT SEARCH CONFIGURATION my_cfg (COPY = english);
         CREATE RULE no_negatives AS ON INSERT TO t WHERE NEW.x < 0 DO INSTEAD NOTHING;
         SELECT lo_create(424242);",
    );
    let c = &db.cluster;
    let (out, res) = try_dump(c, &db.name, &[]);
    assert!(res.status.success(), "{}", String::from_utf8_lossy(&res.stderr));
    let stderr = String::from_utf8_lossy(&res.stderr);
    let expected = "not dumped (not supported yet): 1 large object(s)";
    assert!(stderr.contains(expected), "missing warning {expected:?} in:\n{stderr}");
    // What is supported is still all there.
    let listing = listing(c, 15, &out);
    for supported in [
        "FUNCTION public add2(integer, integer)",
        "AGGREGATE public total(integer)",
        "TEXT SEARCH CONFIGURATION public my_cfg",
        "RULE public t no_negatives",
    ] {
        assert!(
            listing.iter().any(|l| l.contains(supported)),
            "{supported}: {listing:?}"
        );
    }
    for name in ["add2", "total", "my_cfg", "no_negatives"] {
        assert!(!stderr.contains(name), "supported objects are not reported: {stderr}");
    }
}

/// Installs `fixtures/extensions/<name>*` into the server's extension directory.
fn install_test_extension(major: u32, name: &str) {
    let share = support::pg_bin(major, "postgres")
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("share/extension");
    for e in std::fs::read_dir(support::project_root().join("fixtures/extensions"))
        .unwrap()
        .flatten()
    {
        if e.file_name().to_string_lossy().starts_with(name) {
            std::fs::copy(e.path(), share.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn extension_configuration_rows_are_named_not_dropped_silently() {
    install_test_extension(15, "pgsnap_cfg");
    let db = TestDb::new(
        15,
        "extcfg",
        "CREATE EXTENSION pgsnap_cfg; INSERT INTO cfg_settings (k, v) VALUES ('mine', 'a user row');",
    );
    let c = &db.cluster;
    let (out, res) = try_dump(c, &db.name, &[]);
    assert!(res.status.success(), "{}", String::from_utf8_lossy(&res.stderr));
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(
        stderr.contains("not dumped (not supported yet): extension configuration table (its rows) public.cfg_settings"),
        "{stderr}"
    );
    assert!(
        listing(c, 15, &out)
            .iter()
            .any(|l| l.contains("EXTENSION - pgsnap_cfg"))
    );
}
