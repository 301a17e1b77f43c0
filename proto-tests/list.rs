//! `pgsnap list` reads archives written by stock pg_dump 15 (1.14), 16 (1.15) and 18 (1.16)
//! exactly as stock pg_restore -l lists them, and refuses damaged ones with a clear message.

mod support;

use std::path::Path;
use std::process::Command;

use support::TestDb;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(support::project_root().join("fixtures").join(name)).unwrap()
}

fn entry_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn pgsnap_list(archive: &Path, create: bool) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pgsnap"));
    c.arg("list").arg(archive);
    if create {
        c.arg("-C");
    }
    c.output().unwrap()
}

#[test]
fn lists_stock_archives_like_pg_restore() {
    for (major, compress) in [(15, "6"), (16, "lz4"), (18, "zstd")] {
        let db = TestDb::new(major, "list", &fixture("app.sql"));
        let c = &db.cluster;
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("stock");
        let out = c
            .tool("pg_dump")
            .args(["-Fd", "-Z", compress, "-f"])
            .arg(&archive)
            .arg(&db.name)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        for create in [false, true] {
            let mut stock = c.tool("pg_restore");
            stock.arg("-l");
            if create {
                stock.arg("-C");
            }
            let stock = stock.arg(&archive).output().unwrap();
            assert!(stock.status.success());
            let ours = pgsnap_list(&archive, create);
            assert!(ours.status.success(), "{}", String::from_utf8_lossy(&ours.stderr));
            assert_eq!(
                entry_lines(&String::from_utf8_lossy(&ours.stdout)),
                entry_lines(&String::from_utf8_lossy(&stock.stdout)),
                "pg_dump {major} -Z {compress}, -C {create}"
            );
            let header = String::from_utf8_lossy(&ours.stdout);
            assert!(
                header.contains(&format!("Dumped by pg_dump version: {major}.")),
                "{header}"
            );
        }
    }
}

#[test]
fn damaged_archives_are_refused_clearly() {
    let db = TestDb::new(15, "damaged", "CREATE TABLE t (x int); INSERT INTO t VALUES (1)");
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("stock");
    let out = db
        .cluster
        .tool("pg_dump")
        .args(["-Fd", "-f"])
        .arg(&archive)
        .arg(&db.name)
        .output()
        .unwrap();
    assert!(out.status.success());
    let toc = std::fs::read(archive.join("toc.dat")).unwrap();
    for cut in [3, 40, toc.len() / 2, toc.len() - 1] {
        std::fs::write(archive.join("toc.dat"), &toc[..cut]).unwrap();
        let res = pgsnap_list(&archive, false);
        let stderr = String::from_utf8_lossy(&res.stderr);
        assert_eq!(res.status.code(), Some(1), "cut at {cut}: {stderr}");
        assert!(
            stderr.starts_with("pgsnap: error:") && !stderr.contains("panicked"),
            "cut at {cut}: {stderr}"
        );
    }
    let res = pgsnap_list(&dir.path().join("missing"), false);
    assert_eq!(res.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&res.stderr).contains("missing"));
}
