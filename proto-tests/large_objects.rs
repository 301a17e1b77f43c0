//! Large objects against real servers: every format restores them (owner, ACL, comment and
//! bytes equal to the source's) with the stock pg_restore versions its archive version
//! allows — custom and tar with pg_restore 18, directory 1.14 with pg_restore 14, 1.15
//! (zstd) with 16, 1.16 with 17, plain through psql — and the selection switches (-b, -B,
//! -s, -a, -n, -t, --section, -x, --no-comments) keep exactly the entries stock pg_dump
//! keeps, as `pg_restore -l` lists them.

mod support;

use std::path::Path;

use support::compare::{check_ok, fixture, listing, pgsnap, try_dump};
use support::{Fingerprint, Scratch, TestDb};

/// `pgsnap dump` of `db` in `format` to `out` with `extra` arguments; must succeed.
fn dump_to(db: &TestDb, format: &str, out: &Path, extra: &[&str]) {
    let c = &db.cluster;
    let res = pgsnap()
        .args(["dump", format, "-h"])
        .arg(c.socket_dir())
        .args(["-p", &c.port.to_string(), "-U", "postgres", "-f"])
        .arg(out)
        .args(extra)
        .arg(&db.name)
        .output()
        .unwrap();
    check_ok(&format!("pgsnap dump {format} {extra:?}"), &res);
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(!stderr.contains("not supported"), "pgsnap warned:\n{stderr}");
}

/// Restores `archive` with stock pg_restore `major` (plus `extra`) into a fresh database and
/// checks it equals the source.
fn restore_equal(db: &TestDb, source: &Fingerprint, major: u32, archive: &Path, extra: &[&str], what: &str) {
    let c = &db.cluster;
    let target = c.create_database("lo_restored", "");
    let out = c
        .tool_of(major, "pg_restore")
        .args(extra)
        .args(["-d", &target])
        .arg(archive)
        .output()
        .unwrap();
    // pg_restore 17+ against an older server reports the unknown transaction_timeout.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("error") && !l.contains("transaction_timeout") && !l.contains("errors ignored"))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: pg_restore {major} reported errors:\n{stderr}"
    );
    let restored = Fingerprint::of(c, &target);
    assert!(!restored.large_objects.is_empty(), "{what}: no large objects restored");
    let diff = source.diff(&restored);
    assert!(
        diff.is_empty(),
        "{what}: restored database differs from the source:\n{diff}"
    );
    c.drop_database(&target);
}

fn formats_restore(major: u32) {
    let db = TestDb::new(major, "lo_formats", &fixture("compat/large_objects.sql"));
    let source = Fingerprint::of(&db.cluster, &db.name);
    assert_eq!(source.large_objects.len(), 5, "the fixture has five large objects");
    let tmp = Scratch::new("pgsnap-large-objects");
    let at = |n: &str| tmp.path().join(n);

    // Custom and tar, both layouts, with pg_restore 18 (custom also in parallel).
    dump_to(&db, "-Fc", &at("a.dump"), &[]);
    restore_equal(&db, &source, 18, &at("a.dump"), &[], "-Fc 1.14");
    restore_equal(&db, &source, 18, &at("a.dump"), &["-j", "2"], "-Fc 1.14 -j 2");
    dump_to(&db, "-Fc", &at("b.dump"), &["--archive-version", "1.16", "-Z", "zstd"]);
    restore_equal(&db, &source, 18, &at("b.dump"), &["-j", "2"], "-Fc 1.16 zstd -j 2");
    dump_to(&db, "-Ft", &at("c.tar"), &[]);
    restore_equal(&db, &source, 18, &at("c.tar"), &[], "-Ft 1.14");
    dump_to(&db, "-Ft", &at("d.tar"), &["--archive-version", "1.16"]);
    restore_equal(&db, &source, 18, &at("d.tar"), &[], "-Ft 1.16");

    // Directory archives with the oldest pg_restore that reads their version.
    dump_to(&db, "-Fd", &at("e"), &["-j", "2"]);
    restore_equal(&db, &source, 14, &at("e"), &[], "-Fd 1.14 by pg_restore 14");
    dump_to(&db, "-Fd", &at("f"), &["-Z", "zstd"]);
    restore_equal(
        &db,
        &source,
        16,
        &at("f"),
        &["-j", "2"],
        "-Fd 1.15 zstd by pg_restore 16",
    );
    dump_to(&db, "-Fd", &at("g"), &["--archive-version", "1.16", "-Z", "lz4"]);
    restore_equal(&db, &source, 17, &at("g"), &[], "-Fd 1.16 lz4 by pg_restore 17");

    // The plain script replays through psql.
    dump_to(&db, "-Fp", &at("h.sql"), &[]);
    let target = db.cluster.create_database("lo_plain", "");
    db.cluster.psql(&target, &std::fs::read_to_string(at("h.sql")).unwrap());
    let diff = source.diff(&Fingerprint::of(&db.cluster, &target));
    assert!(diff.is_empty(), "-Fp replayed by psql differs from the source:\n{diff}");
    db.cluster.drop_database(&target);
}

#[test]
fn formats_restore_on_14() {
    formats_restore(14);
}

#[test]
fn formats_restore_on_18() {
    formats_restore(18);
}

/// pgsnap's archive (layout of `extra`'s archive version) lists the same entries, in the same
/// order, as stock pg_dump `oracle`'s for each selection.
fn selection_like_stock(major: u32, oracle: u32, extra: &[&str]) {
    let db = TestDb::new(major, "lo_flags", &fixture("compat/large_objects.sql"));
    let c = &db.cluster;
    let cases: &[&[&str]] = &[
        &[],
        &["-b"],
        &["-B"],
        &["-s"],
        &["-s", "-b"],
        &["-a"],
        &["-a", "-B"],
        &["-n", "public"],
        &["-n", "public", "-b"],
        &["-t", "lo_refs"],
        &["-t", "lo_refs", "-b"],
        &["--section=pre-data"],
        &["--section=data"],
        &["-x"],
        &["--no-comments"],
    ];
    let tmp = Scratch::new("pgsnap-large-objects");
    let mut problems = String::new();
    for (i, case) in cases.iter().enumerate() {
        let mut args = case.to_vec();
        args.extend_from_slice(extra);
        let (ours, res) = try_dump(c, &db.name, &args);
        check_ok(&format!("pgsnap dump {args:?}"), &res);
        let stock = tmp.path().join(format!("stock{i}"));
        let out = c
            .tool_of(oracle, "pg_dump")
            .args(["-Fd", "-f"])
            .arg(&stock)
            .args(case.iter())
            .arg(&db.name)
            .output()
            .unwrap();
        check_ok("stock pg_dump", &out);
        // With -n public on a server 14, pg_dump 16 writes the public schema's ACL where
        // pgsnap follows pg_dump 18 (the compat suite's concern, not this test's).
        let entries = |dir: &Path| -> Vec<String> {
            listing(c, oracle, dir)
                .into_iter()
                .filter(|l| !l.contains("ACL - SCHEMA public"))
                .collect()
        };
        let (a, b) = (entries(&ours), entries(&stock));
        if a != b {
            problems.push_str(&format!("{case:?}:\n  ours:  {a:?}\n  stock: {b:?}\n"));
        }
        // The same large-object files (blobs TOC files are named after dump ids, which
        // differ): none when stock writes none.
        let blob_files = |dir: &Path| {
            let mut v: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("blob"))
                .map(|n| {
                    if n.starts_with("blobs_") {
                        "blobs_<id>.toc".to_string()
                    } else {
                        n
                    }
                })
                .collect();
            v.sort();
            v
        };
        if blob_files(&ours) != blob_files(&stock) {
            problems.push_str(&format!(
                "{case:?}: files {:?} vs stock {:?}\n",
                blob_files(&ours),
                blob_files(&stock)
            ));
        }
        // `ours` removes its directory here, at the end of the iteration.
    }
    assert!(
        problems.is_empty(),
        "PostgreSQL {major}: differs from stock pg_dump {oracle}:\n{problems}"
    );
}

#[test]
fn selection_like_stock_pg_dump_16_on_14() {
    selection_like_stock(14, 16, &[]);
}

#[test]
fn selection_like_stock_pg_dump_18_on_18() {
    selection_like_stock(18, 18, &["--archive-version", "1.16"]);
}
