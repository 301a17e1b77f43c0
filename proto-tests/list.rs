//! `pgsnap list` reads archives written by stock pg_dump 15 (1.14), 16 (1.15) and 18 (1.16)
//! exactly as stock pg_restore -l lists them, and refuses damaged ones with a clear message.

mod support;

use std::path::Path;
use std::process::Command;

use support::{Scratch, TestDb};

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
        let dir = Scratch::new("pgsnap-list");
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
    let dir = Scratch::new("pgsnap-list");
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

/// `pgsnap list` of a directory archive whose toc member is `make`'s doing, under
/// `/usr/bin/time` (for the peak RSS); killed (and failed) if it has not ended in 30 s, which
/// only an unbounded reader takes. Returns stderr and the peak RSS in KiB.
fn list_odd_member(make: impl FnOnce(&Path)) -> (String, u64) {
    let dir = Scratch::new("pgsnap-list");
    let archive = dir.path().join("odd");
    std::fs::create_dir(&archive).unwrap();
    make(&archive);
    let rss_file = dir.path().join("rss");
    let mut child = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss_file)
        .arg(env!("CARGO_BIN_EXE_pgsnap"))
        .arg("list")
        .arg(&archive)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("/usr/bin/time is needed (apt-get install time)");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("pgsnap list did not end: an unbounded read");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // time(1) appends "Command exited with non-zero status 1" to its own file, not stderr.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty());
    let rss_text = std::fs::read_to_string(&rss_file).unwrap();
    let rss: u64 = rss_text
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no RSS in {rss_text:?}"));
    eprintln!("peak RSS {rss} KiB; stderr: {stderr}");
    (stderr, rss)
}

/// One `pgsnap: error:` line containing every one of `needles`, and a small peak RSS.
fn assert_refused(stderr: &str, rss_kib: u64, needles: &[&str]) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one message: {stderr}");
    assert!(lines[0].starts_with("pgsnap: error: "), "{stderr}");
    for n in needles {
        assert!(lines[0].contains(n), "{n:?} missing from: {stderr}");
    }
    assert!(rss_kib < 64 * 1024, "peak RSS {rss_kib} KiB");
}

#[test]
fn a_fifo_as_toc_dat_is_refused_at_once() {
    let (stderr, rss) = list_odd_member(|a| {
        let st = Command::new("mkfifo").arg(a.join("toc.dat")).status().unwrap();
        assert!(st.success());
    });
    assert_refused(&stderr, rss, &["toc.dat", "not a regular file"]);
}

#[test]
fn a_link_to_dev_zero_as_toc_dat_is_refused_at_once() {
    let (stderr, rss) = list_odd_member(|a| std::os::unix::fs::symlink("/dev/zero", a.join("toc.dat")).unwrap());
    assert_refused(&stderr, rss, &["toc.dat", "not a regular file"]);
}

/// `members` gzip members: the first of `head`, each other of 1 MiB of zeros (so about 1 KiB
/// expanding to 1 MiB; pg_restore and pgsnap read concatenated members as one stream).
fn gzip_bomb(head: &[u8], members: usize) -> Vec<u8> {
    use std::io::Write;
    let gz = |bytes: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    };
    let zeros = gz(&vec![0u8; 1 << 20]);
    let mut out = gz(head);
    for _ in 0..members {
        out.extend_from_slice(&zeros);
    }
    out
}

#[test]
fn a_decompression_bomb_as_toc_dat_is_refused() {
    // 3 GiB of zeros in about 3 MiB: refused at the magic check.
    let bomb = gzip_bomb(b"", 3072);
    assert!(bomb.len() < 4 << 20, "{}", bomb.len());
    let (stderr, rss) = list_odd_member(|a| std::fs::write(a.join("toc.dat.gz"), &bomb).unwrap());
    assert_refused(&stderr, rss, &["toc.dat.gz", "PGDMP"]);
    // The same behind a valid magic: refused by the expansion bound.
    let bomb = gzip_bomb(b"PGDMP", 3072);
    let (stderr, rss) = list_odd_member(|a| std::fs::write(a.join("toc.dat.gz"), &bomb).unwrap());
    assert_refused(&stderr, rss, &["toc.dat.gz", "decompression bomb"]);
}

/// Bytes of a LATIN1 text as a string (each byte is its code point).
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

#[test]
fn lists_a_latin1_archive_of_stock_pg_dump() {
    let c = support::Cluster::shared(15);
    let name = format!("list_latin1_{}", std::process::id());
    c.psql(
        "postgres",
        &format!("CREATE DATABASE {name} ENCODING 'LATIN1' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'"),
    );
    // Names and a comment outside ASCII, sent as UTF-8 and stored as LATIN1.
    let setup = c
        .tool("psql")
        .env("PGCLIENTENCODING", "UTF8")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &name, "-c"])
        .arg(
            "CREATE SCHEMA \"über\"; CREATE TABLE \"über\".\"café\" (\"naïve\" text); \
             INSERT INTO \"über\".\"café\" VALUES ('déjà vu'); COMMENT ON TABLE \"über\".\"café\" IS 'crème brûlée';",
        )
        .output()
        .unwrap();
    assert!(setup.status.success(), "{}", String::from_utf8_lossy(&setup.stderr));
    let dir = Scratch::new("pgsnap-list");
    for (format, file) in [("d", "dir"), ("c", "dump.custom"), ("t", "dump.tar")] {
        let archive = dir.path().join(file);
        let out = c
            .tool("pg_dump")
            .args([&format!("-F{format}"), "-f"])
            .arg(&archive)
            .arg(&name)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let stock = c.tool("pg_restore").arg("-l").arg(&archive).output().unwrap();
        assert!(stock.status.success());
        assert!(
            String::from_utf8(stock.stdout.clone()).is_err(),
            "stock's listing holds LATIN1 bytes, not UTF-8"
        );
        let expected = entry_lines(&latin1(&stock.stdout));
        assert!(expected.iter().any(|l| l.contains("TABLE über café")), "{expected:?}");
        let ours = pgsnap_list(&archive, false);
        assert!(
            ours.status.success(),
            "-F{format}: {}",
            String::from_utf8_lossy(&ours.stderr)
        );
        assert_eq!(
            entry_lines(&String::from_utf8(ours.stdout).unwrap()),
            expected,
            "-F{format}"
        );
        if format != "d" {
            // The same archive on standard input.
            let piped = Command::new(env!("CARGO_BIN_EXE_pgsnap"))
                .args(["list", "-"])
                .stdin(std::fs::File::open(&archive).unwrap())
                .output()
                .unwrap();
            assert!(
                piped.status.success(),
                "-F{format} on stdin: {}",
                String::from_utf8_lossy(&piped.stderr)
            );
            assert_eq!(entry_lines(&String::from_utf8(piped.stdout).unwrap()), expected);
        }
    }
    c.drop_database(&name);
}
