//! Running pgsnap against stock pg_dump on the same database: dump both, restore with stock
//! pg_restore, compare listings, schemas and data. Shared by `proto-tests/` and `compat/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{Cluster, Fingerprint, TestDb};

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(super::project_root().join("fixtures").join(name)).expect("read fixture")
}

pub fn pgsnap() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pgsnap"));
    c.env_remove("PGHOST")
        .env_remove("PGPORT")
        .env_remove("PGUSER")
        .env_remove("PGDATABASE")
        .env_remove("PGPASSWORD");
    c
}

/// `pgsnap dump -Fd` of `db` into a fresh directory; returns the archive path and the run's
/// output, whatever its exit status.
pub fn try_dump(cluster: &Cluster, db: &str, extra: &[&str]) -> (PathBuf, Output) {
    let out = tempfile::Builder::new()
        .prefix("pgsnap-out")
        .tempdir()
        .unwrap()
        .keep()
        .join("archive");
    let res = pgsnap()
        .args(["dump", "-Fd", "-h"])
        .arg(cluster.socket_dir())
        .args(["-p", &cluster.port.to_string(), "-U", "postgres", "-f"])
        .arg(&out)
        .args(extra)
        .arg(db)
        .output()
        .unwrap();
    (out, res)
}

/// `pgsnap dump -Fd` of `db` that must succeed; returns the archive path.
pub fn dump(cluster: &Cluster, db: &str, extra: &[&str]) -> PathBuf {
    let (out, res) = try_dump(cluster, db, extra);
    assert!(
        res.status.success(),
        "pgsnap dump failed:\n{}",
        String::from_utf8_lossy(&res.stderr)
    );
    out
}

pub fn check_ok(what: &str, out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("error"),
        "{what} failed ({}):\n{stderr}",
        out.status
    );
}

/// Stock `pg_restore -l -C` entry lines without their dump ids (`tableoid oid desc schema
/// tag owner`), in TOC order; `-C` adds the database-level entries.
pub fn listing(cluster: &Cluster, major: u32, archive: &Path) -> Vec<String> {
    let out = cluster
        .tool_of(major, "pg_restore")
        .args(["-l", "-C"])
        .arg(archive)
        .output()
        .unwrap();
    check_ok("pg_restore -l", &out);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| l.split_once("; ").map(|(_, r)| r).unwrap_or(l).trim_end().to_string())
        .collect()
}

pub fn multiset(lines: &[String]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for l in lines {
        *m.entry(l.clone()).or_insert(0) += 1;
    }
    m
}

pub fn multiset_diff(a: &BTreeMap<String, usize>, b: &BTreeMap<String, usize>) -> String {
    let mut out = String::new();
    for (k, n) in a {
        let m = b.get(k).copied().unwrap_or(0);
        if m != *n {
            out.push_str(&format!("  ours {n} x, stock {m} x: {k}\n"));
        }
    }
    for (k, m) in b {
        if !a.contains_key(k) {
            out.push_str(&format!("  ours 0 x, stock {m} x: {k}\n"));
        }
    }
    out
}

/// The full round trip of one fixture on one server version; the entry listing is compared
/// with stock pg_dump of the same major.
pub fn roundtrip(major: u32, fixtures: &[&str]) {
    roundtrip_against(major, major, fixtures);
}

/// As `roundtrip`, with the listing compared against stock pg_dump `oracle` (pgsnap follows
/// the newest pg_dump where older ones differed). Returns what pgsnap printed on stderr.
pub fn roundtrip_against(major: u32, oracle: u32, fixtures: &[&str]) -> String {
    roundtrip_with(major, oracle, fixtures, &[])
}

/// As `roundtrip_against`, with `extra` arguments for pgsnap dump (`--archive-version`).
pub fn roundtrip_with(major: u32, oracle: u32, fixtures: &[&str], extra: &[&str]) -> String {
    let sql: String = fixtures.iter().map(|f| fixture(f)).collect::<Vec<_>>().join("\n");
    let db = TestDb::new(major, "rt", &sql);
    let c = &db.cluster;
    let source = Fingerprint::of(c, &db.name);
    let mut args = vec!["-j", "2"];
    args.extend_from_slice(extra);
    let (archive, res) = try_dump(c, &db.name, &args);
    let dump_stderr = String::from_utf8_lossy(&res.stderr).into_owned();
    assert!(res.status.success(), "pgsnap dump failed:\n{dump_stderr}");
    // Every object is dumped and every dependency loop resolved as pg_dump resolves it.
    for unwanted in ["not supported yet", "could not resolve dependency loop"] {
        assert!(
            !dump_stderr.contains(unwanted),
            "PostgreSQL {major}: pgsnap dump warned ({unwanted}):\n{dump_stderr}"
        );
    }

    // 1. pg_restore -j 2 into a fresh database: zero errors, same schema and data.
    let target = c.create_database("rt_restored", "");
    let out = c
        .tool("pg_restore")
        .args(["-j", "2", "-d", &target])
        .arg(&archive)
        .output()
        .unwrap();
    check_ok("pg_restore -j 2", &out);
    let restored = Fingerprint::of(c, &target);
    let diff = source.diff(&restored);
    assert!(
        diff.is_empty(),
        "PostgreSQL {major}: restored database differs from the source:\n{diff}"
    );

    // 2. pg_restore -f - piped through psql (script mode): zero errors, same result.
    let script = c.tool("pg_restore").args(["-f", "-"]).arg(&archive).output().unwrap();
    check_ok("pg_restore -f -", &script);
    let target2 = c.create_database("rt_script", "");
    c.psql(&target2, &String::from_utf8_lossy(&script.stdout));
    let diff = source.diff(&Fingerprint::of(c, &target2));
    assert!(diff.is_empty(), "PostgreSQL {major}: script restore differs:\n{diff}");

    // 3. pg_restore -l lists the same entries as stock pg_dump's archive.
    let stock = tempfile::tempdir().unwrap();
    let stock_dir = stock.path().join("stock");
    let out = c
        .tool_of(oracle, "pg_dump")
        .args(["-Fd", "-f"])
        .arg(&stock_dir)
        .arg(&db.name)
        .output()
        .unwrap();
    check_ok("stock pg_dump", &out);
    let ours = listing(c, oracle, &archive);
    let theirs = listing(c, oracle, &stock_dir);
    let d = multiset_diff(&multiset(&ours), &multiset(&theirs));
    assert!(
        d.is_empty(),
        "PostgreSQL {major}: pg_restore -l differs from stock pg_dump's:\n{d}"
    );
    // Same entries in the same order: the planner reproduces pg_dump_sort.c.
    if let Some(i) = (0..ours.len()).find(|&i| ours[i] != theirs[i]) {
        panic!(
            "PostgreSQL {major}: TOC order differs from stock pg_dump's at entry {i}:\n  ours:  {}\n  stock: {}",
            ours[i], theirs[i]
        );
    }

    for d in [target, target2] {
        c.drop_database(&d);
    }
    let _ = std::fs::remove_dir_all(archive.parent().unwrap());
    dump_stderr
}
