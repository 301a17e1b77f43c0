//! Large tables read as `ctid` page ranges by several workers (issue 10), against real
//! servers: split tables in every format and codec restore with the stock pg_restore versions
//! that read their archive (`-j 2` too) with every row exactly once, also while the table is
//! updated, deleted from and inserted into during the dump; dropping a running library
//! `dump()` leaves no session on the server and nothing on disk; `--progress=json` prints one
//! JSON object per event. A tiny split threshold (`DumpOptions::split_pages`) makes small
//! tables split, so the tests stay fast.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pgsnap::archive::output::{ArchiveFile, FileLayer};
use pgsnap::codec::Compression;
use pgsnap::dump::OutputFormat;
use pgsnap::pg::Target;
use pgsnap::progress::{Event, Progress};
use support::{Cluster, TestDb};

const ROWS: i64 = 6000;

/// `big` spans about 60 pages, so a threshold of 4 pages splits it into a dozen ranges.
fn big_db(major: u32, prefix: &str) -> TestDb {
    TestDb::new(
        major,
        prefix,
        &format!(
            "CREATE TABLE big (id int PRIMARY KEY, balance int NOT NULL, pad text);
             INSERT INTO big SELECT g, g % 100, repeat(md5(g::text), 1 + g % 3) FROM generate_series(1, {ROWS}) g;
             -- Dead tuples and moved rows: the ranges must read exactly the snapshot's rows.
             UPDATE big SET pad = pad || 'x' WHERE id % 10 = 0;
             DELETE FROM big WHERE id % 97 = 0;
             INSERT INTO big SELECT g, 7, 'late' FROM generate_series({ROWS} + 1, {ROWS} + 300) g;
             CREATE TABLE small (id int); INSERT INTO small SELECT generate_series(1, 10);
             ANALYZE;"
        ),
    )
}

/// Rows, distinct ids, sum of balances and a digest of every row, in id order.
const CHECK: &str = "SELECT count(*), count(DISTINCT id), sum(balance), \
     md5(string_agg(id || ':' || balance || ':' || coalesce(pad, ''), ',' ORDER BY id)) FROM big";

fn target(db: &TestDb) -> Target {
    Target::new(
        format!("{} application_name=pgsnap_split_{}", db.conninfo(), db.name)
            .parse()
            .unwrap(),
        format!("test database {}", db.name),
    )
}

fn out_dir() -> PathBuf {
    tempfile::Builder::new()
        .prefix("pgsnap-split")
        .tempdir()
        .unwrap()
        .keep()
}

fn options(db: &TestDb, format: OutputFormat, spec: &str, output: &Path) -> pgsnap::DumpOptions {
    let mut opts = pgsnap::DumpOptions::new(target(db), output);
    opts.format = format;
    opts.compression = Compression::parse(spec).unwrap();
    opts.jobs = 3;
    opts.split_pages = 4;
    opts.sync = false;
    opts
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn restore(c: &Cluster, major: u32, archive: &Path, parallel: bool) -> String {
    let restored = c.create_database("split_restored", "");
    let mut cmd = c.tool_of(major, "pg_restore");
    cmd.args(["-d", &restored]);
    if parallel {
        cmd.args(["-j", "2"]);
    }
    let out = cmd.arg(archive).output().unwrap();
    assert!(
        out.status.success(),
        "pg_restore {major} of {}: {}",
        archive.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let got = c.psql(&restored, CHECK);
    c.drop_database(&restored);
    got
}

/// Dumps `big` split in `format` with each codec, then restores each archive with every
/// reader version (`-j 2` where the format allows it, every other version).
fn every_codec_restores(format: OutputFormat, codecs: &[(&str, &[u32])]) {
    let db = big_db(18, "split_fmt");
    let c = &db.cluster;
    let source = db.psql(CHECK);
    let rt = runtime();
    for (spec, readers) in codecs {
        let path = out_dir().join(format!("archive.{}", format.name()));
        let report = rt
            .block_on(pgsnap::dump(options(&db, format, spec, &path)))
            .unwrap_or_else(|e| panic!("{} {spec}: {e}", format.name()));
        let big = report.tables.iter().find(|t| t.table == "public.big").unwrap();
        assert!(
            big.parts >= 4,
            "{} {spec}: big was read in {} parts",
            format.name(),
            big.parts
        );
        assert_eq!(big.rows as i64, ROWS - ROWS / 97 + 300);
        let small = report.tables.iter().find(|t| t.table == "public.small").unwrap();
        assert_eq!(small.parts, 1, "a 1-page table is not split");
        let may_parallel = format != OutputFormat::Tar;
        for (i, major) in readers.iter().enumerate() {
            let got = restore(c, *major, &path, may_parallel && i % 2 == 0);
            assert_eq!(got, source, "{} -Z {spec}, pg_restore {major}", format.name());
        }
    }
}

const ALL_CODECS: &[(&str, &[u32])] = &[
    ("none", &[14, 15, 16, 17, 18]),
    ("gzip:1", &[14, 15, 16, 17, 18]),
    ("lz4", &[16, 17, 18]),
    ("zstd:1", &[16, 17, 18]),
];

#[test]
fn split_directory_archives_restore_with_every_codec() {
    every_codec_restores(OutputFormat::Directory, ALL_CODECS);
}

#[test]
fn split_custom_archives_restore_with_every_codec() {
    // gzip here is one zlib stream stitched from the ranges' pieces.
    every_codec_restores(OutputFormat::Custom, ALL_CODECS);
}

#[test]
fn split_tar_archives_restore() {
    every_codec_restores(OutputFormat::Tar, &[("none", &[14, 15, 16, 17, 18])]);
}

/// Holds the first few blocks back, so the dump surely overlaps the concurrent writers.
#[derive(Debug, Default)]
struct Dawdle {
    pieces: AtomicUsize,
}

impl Progress for Dawdle {
    fn event(&self, e: &Event) {
        if matches!(e, Event::PieceWritten { .. }) && self.pieces.fetch_add(1, Ordering::SeqCst) < 4 {
            std::thread::sleep(Duration::from_millis(150));
        }
    }
}

#[test]
fn rows_changed_during_a_split_dump_are_read_exactly_once() {
    let db = big_db(18, "split_busy");
    let c = &db.cluster;
    db.psql("CREATE SEQUENCE new_ids START 1000000");
    // Every transaction keeps the row count and the sum of balances: a lost row or one read
    // twice (old and new version in different ranges) shows.
    let before = db
        .psql("SELECT count(*), count(DISTINCT id), sum(balance) FROM big")
        .trim()
        .to_string();
    let rt = runtime();
    let stop = Arc::new(AtomicBool::new(false));
    let commits = Arc::new(AtomicU64::new(0));
    let writer = {
        let conninfo = db.conninfo();
        let stop = stop.clone();
        let commits = commits.clone();
        rt.spawn(async move {
            let (client, conn) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            let mut i: i64 = 0;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let (a, b, d, m) = (1 + (i * 37) % ROWS, 1 + (i * 91) % ROWS, 1 + (i * 53) % ROWS, 1 + (i * 13) % ROWS);
                client
                    .batch_execute(&format!(
                        "BEGIN;
                         UPDATE big SET balance = balance + CASE WHEN id = {a} THEN 1 ELSE -1 END
                           WHERE id IN ({a}, {b}) AND {a} <> {b}
                             AND (SELECT count(*) FROM big WHERE id IN ({a}, {b})) = 2;
                         WITH gone AS (DELETE FROM big WHERE id = (SELECT min(id) FROM big WHERE id >= {d}) RETURNING balance, pad)
                           INSERT INTO big SELECT nextval('new_ids'), balance, pad FROM gone;
                         UPDATE big SET pad = pad || 'm' WHERE id BETWEEN {m} AND {m} + 40;
                         COMMIT;"
                    ))
                    .await
                    .unwrap();
                commits.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    // Let the writers get going before the snapshot.
    while commits.load(Ordering::SeqCst) < 5 {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut archives = Vec::new();
    for (format, spec) in [(OutputFormat::Directory, "gzip:1"), (OutputFormat::Custom, "zstd:1")] {
        let path = out_dir().join(format!("busy.{}", format.name()));
        let mut opts = options(&db, format, spec, &path);
        opts.progress = Arc::new(Dawdle::default());
        let at_start = commits.load(Ordering::SeqCst);
        let report = rt.block_on(pgsnap::dump(opts)).unwrap();
        let during = commits.load(Ordering::SeqCst) - at_start;
        assert!(during > 0, "no transaction committed while the dump ran");
        let big = report.tables.iter().find(|t| t.table == "public.big").unwrap();
        assert!(big.parts >= 4, "big was read in {} parts", big.parts);
        archives.push((path, big.rows));
    }
    stop.store(true, Ordering::SeqCst);
    rt.block_on(writer).unwrap();
    let (count, distinct, sum) = {
        let v: Vec<String> = before.split('|').map(String::from).collect();
        (v[0].clone(), v[1].clone(), v[2].clone())
    };
    for (path, rows) in archives {
        assert_eq!(rows.to_string(), count, "rows the dump read");
        for major in [16, 17, 18] {
            let got = restore(c, major, &path, true);
            let v: Vec<&str> = got.trim().split('|').collect();
            assert_eq!(
                (v[0], v[1], v[2]),
                (count.as_str(), distinct.as_str(), sum.as_str()),
                "{} restored by pg_restore {major}: rows, distinct ids, sum",
                path.display()
            );
        }
    }
}

/// A layer that makes every write slow, so the dump is surely still running when dropped.
#[derive(Debug)]
struct Slow;

struct SlowFile(Box<dyn ArchiveFile>);

impl FileLayer for Slow {
    fn wrap(&self, _name: &str, inner: Box<dyn ArchiveFile>) -> pgsnap::Result<Box<dyn ArchiveFile>> {
        Ok(Box::new(SlowFile(inner)))
    }
}

impl ArchiveFile for SlowFile {
    fn write_all(&mut self, buf: &[u8]) -> pgsnap::Result<()> {
        std::thread::sleep(Duration::from_millis(100));
        self.0.write_all(buf)
    }
    fn position(&self) -> u64 {
        self.0.position()
    }
    fn is_atomic(&self) -> bool {
        self.0.is_atomic()
    }
    fn commit(self: Box<Self>) -> pgsnap::Result<()> {
        self.0.commit()
    }
    fn describe(&self) -> String {
        self.0.describe()
    }
}

#[test]
fn dropping_a_running_dump_leaves_no_session_and_no_output() {
    let db = TestDb::new(
        18,
        "split_drop",
        "CREATE TABLE big (id int, pad text);
         INSERT INTO big SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 150000) g;
         CREATE TABLE other AS SELECT g AS id FROM generate_series(1, 100) g;",
    );
    let app = format!("pgsnap_split_{}", db.name);
    let sessions = format!("SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}'");
    let parent = out_dir();
    let path = parent.join("archive");
    let mut opts = options(&db, OutputFormat::Directory, "gzip:1", &path);
    opts.jobs = 2;
    opts.split_pages = 64;
    opts.layers = vec![Arc::new(Slow)];
    let rt = runtime();
    let dumping = rt.spawn(pgsnap::dump(opts));
    // Wait until the workers stream table data, then drop the dump.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let copying = db.psql(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}' AND query LIKE 'COPY%' AND state = 'active'"
        ));
        if copying.trim() != "0" {
            break;
        }
        assert!(!dumping.is_finished(), "the dump finished before it could be dropped");
        assert!(Instant::now() < deadline, "no worker ever ran COPY");
        std::thread::sleep(Duration::from_millis(20));
    }
    dumping.abort();
    let aborted = rt.block_on(dumping);
    assert!(
        aborted.is_err_and(|e| e.is_cancelled()),
        "the dump task was not cancelled"
    );
    // Sessions end and temporaries go away shortly after (blocked writes finish first).
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left = db.psql(&sessions).trim().to_string();
        let files: Vec<String> = std::fs::read_dir(&parent)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        if left == "0" && files.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after dropping the dump: {left} sessions left, files {files:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!path.exists());
}

/// A small strict JSON reader: enough to check that each line is one well-formed object.
mod json {
    use std::collections::BTreeMap;

    #[derive(Debug, Clone, PartialEq)]
    pub enum Value {
        Null,
        Bool(bool),
        Num(f64),
        Str(String),
        Arr(Vec<Value>),
        Obj(BTreeMap<String, Value>),
    }

    pub fn parse(s: &str) -> Result<Value, String> {
        let b = s.as_bytes();
        let mut i = 0;
        let v = value(b, &mut i)?;
        ws(b, &mut i);
        if i != b.len() {
            return Err(format!("trailing bytes at {i}"));
        }
        Ok(v)
    }

    fn ws(b: &[u8], i: &mut usize) {
        while *i < b.len() && b" \t\r\n".contains(&b[*i]) {
            *i += 1;
        }
    }

    fn value(b: &[u8], i: &mut usize) -> Result<Value, String> {
        ws(b, i);
        let rest = &b[*i..];
        for (lit, v) in [
            (&b"null"[..], Value::Null),
            (b"true", Value::Bool(true)),
            (b"false", Value::Bool(false)),
        ] {
            if rest.starts_with(lit) {
                *i += lit.len();
                return Ok(v);
            }
        }
        match rest.first() {
            Some(b'"') => string(b, i).map(Value::Str),
            Some(b'[') => {
                *i += 1;
                let mut out = Vec::new();
                ws(b, i);
                if b.get(*i) == Some(&b']') {
                    *i += 1;
                    return Ok(Value::Arr(out));
                }
                loop {
                    out.push(value(b, i)?);
                    ws(b, i);
                    match b.get(*i) {
                        Some(b',') => *i += 1,
                        Some(b']') => {
                            *i += 1;
                            return Ok(Value::Arr(out));
                        }
                        _ => return Err(format!("bad array at {i}")),
                    }
                }
            }
            Some(b'{') => {
                *i += 1;
                let mut out = BTreeMap::new();
                ws(b, i);
                if b.get(*i) == Some(&b'}') {
                    *i += 1;
                    return Ok(Value::Obj(out));
                }
                loop {
                    ws(b, i);
                    let k = string(b, i)?;
                    ws(b, i);
                    if b.get(*i) != Some(&b':') {
                        return Err(format!("expected : at {i}"));
                    }
                    *i += 1;
                    let v = value(b, i)?;
                    if out.insert(k, v).is_some() {
                        return Err("duplicate key".into());
                    }
                    ws(b, i);
                    match b.get(*i) {
                        Some(b',') => *i += 1,
                        Some(b'}') => {
                            *i += 1;
                            return Ok(Value::Obj(out));
                        }
                        _ => return Err(format!("bad object at {i}")),
                    }
                }
            }
            Some(c) if *c == b'-' || c.is_ascii_digit() => {
                let start = *i;
                while *i < b.len() && (b[*i].is_ascii_digit() || b"+-.eE".contains(&b[*i])) {
                    *i += 1;
                }
                let t = std::str::from_utf8(&b[start..*i]).unwrap();
                t.parse().map(Value::Num).map_err(|e| format!("{t}: {e}"))
            }
            _ => Err(format!("unexpected input at {i}")),
        }
    }

    fn string(b: &[u8], i: &mut usize) -> Result<String, String> {
        if b.get(*i) != Some(&b'"') {
            return Err(format!("expected string at {i}"));
        }
        *i += 1;
        let mut out = Vec::new();
        loop {
            match b.get(*i) {
                None => return Err("unterminated string".into()),
                Some(b'"') => {
                    *i += 1;
                    return String::from_utf8(out).map_err(|e| e.to_string());
                }
                Some(b'\\') => {
                    let esc = *b.get(*i + 1).ok_or("bad escape")?;
                    *i += 2;
                    match esc {
                        b'"' | b'\\' | b'/' => out.push(esc),
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'u' => {
                            let hex = std::str::from_utf8(b.get(*i..*i + 4).ok_or("bad \\u")?).unwrap();
                            let cp = u32::from_str_radix(hex, 16).map_err(|e| e.to_string())?;
                            *i += 4;
                            let ch = char::from_u32(cp).ok_or("bad code point")?;
                            out.extend_from_slice(ch.to_string().as_bytes());
                        }
                        _ => return Err("bad escape".into()),
                    }
                }
                Some(c) if *c < 0x20 => return Err("control character in string".into()),
                Some(c) => {
                    out.push(*c);
                    *i += 1;
                }
            }
        }
    }
}

#[test]
fn progress_json_prints_one_object_per_event() {
    let db = big_db(15, "split_json");
    let dir = out_dir().join("archive");
    let c = &db.cluster;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgsnap"));
    for v in ["PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD", "PGPASSFILE"] {
        cmd.env_remove(v);
    }
    let out = cmd
        .stdin(Stdio::null())
        .args(["dump", "-Fd", "-j", "2", "--progress=json", "-h"])
        .arg(c.socket_dir())
        .args(["-p", &c.port.to_string(), "-U", "postgres", "-f"])
        .arg(&dir)
        .arg(&db.name)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let mut started = Vec::new();
    let mut finished = std::collections::BTreeMap::new();
    let mut pieces = 0;
    for line in stderr.lines() {
        let json::Value::Obj(o) = json::parse(line).unwrap_or_else(|e| panic!("{e}: {line}")) else {
            panic!("not an object: {line}");
        };
        let json::Value::Str(table) = &o["table"] else {
            panic!("no table: {line}")
        };
        match &o["event"] {
            json::Value::Str(e) if e == "table_started" => started.push(table.clone()),
            json::Value::Str(e) if e == "piece_written" => pieces += 1,
            json::Value::Str(e) if e == "table_finished" => {
                let (json::Value::Num(rows), json::Value::Num(elapsed)) = (&o["rows"], &o["elapsed_s"]) else {
                    panic!("{line}")
                };
                assert!(*elapsed >= 0.0);
                finished.insert(table.clone(), *rows as i64);
            }
            other => panic!("unknown event {other:?}"),
        }
    }
    started.sort();
    assert_eq!(started, ["public.big", "public.small"]);
    assert!(pieces >= 2, "{stderr}");
    assert_eq!(finished["public.big"], ROWS - ROWS / 97 + 300);
    assert_eq!(finished["public.small"], 10);
}
