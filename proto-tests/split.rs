//! Large tables read as `ctid` page ranges by several workers (issue 10), against real
//! servers: split tables in every format and codec restore with the stock pg_restore versions
//! that read their archive (`-j 2` too) with every row exactly once, also while the table is
//! updated, deleted from and inserted into during the dump; dropping a running library
//! `dump()` leaves no session on the server and nothing on disk; `--progress=json` prints one
//! JSON object per event. A tiny split threshold (`DumpOptions::split_pages`) makes small
//! tables split, so the tests stay fast.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pgsnap::codec::Compression;
use pgsnap::dump::OutputFormat;
use pgsnap::pg::Target;
use pgsnap::progress::{Event, Progress};
use support::{Cluster, Scratch, TestDb};

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

/// A fresh directory for one test's output, removed when the test passes (see `Scratch`).
fn out_dir() -> Scratch {
    Scratch::new("pgsnap-split")
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
        let out = out_dir();
        let path = out.join(format!("archive.{}", format.name()));
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
        let out = out_dir();
        let path = out.join(format!("busy.{}", format.name()));
        let mut opts = options(&db, format, spec, &path);
        opts.progress = Arc::new(Dawdle::default());
        let at_start = commits.load(Ordering::SeqCst);
        let report = rt.block_on(pgsnap::dump(opts)).unwrap();
        let during = commits.load(Ordering::SeqCst) - at_start;
        assert!(during > 0, "no transaction committed while the dump ran");
        let big = report.tables.iter().find(|t| t.table == "public.big").unwrap();
        assert!(big.parts >= 4, "big was read in {} parts", big.parts);
        archives.push((out, path, big.rows));
    }
    stop.store(true, Ordering::SeqCst);
    rt.block_on(writer).unwrap();
    let (count, distinct, sum) = {
        let v: Vec<String> = before.split('|').map(String::from).collect();
        (v[0].clone(), v[1].clone(), v[2].clone())
    };
    for (_out, path, rows) in archives {
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

/// Holds every worker at its first block of COPY text until the test lets go: the dump is then
/// surely running, a worker's session open in the middle of its COPY. Polling the server for
/// an active COPY instead missed it when the ranges were read in a few milliseconds each.
#[derive(Debug, Default)]
struct Hold {
    reached: AtomicBool,
    released: AtomicBool,
}

impl Progress for Hold {
    fn event(&self, e: &Event) {
        if matches!(e, Event::PieceWritten { .. }) {
            self.reached.store(true, Ordering::SeqCst);
            // Bounded, so a failed test cannot leave a worker waiting forever.
            let until = Instant::now() + Duration::from_secs(60);
            while !self.released.load(Ordering::SeqCst) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
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
    let hold = Arc::new(Hold::default());
    opts.progress = hold.clone();
    let rt = runtime();
    let dumping = rt.spawn(pgsnap::dump(opts));
    // Wait until a worker hands over table data (and is held there), then drop the dump.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !hold.reached.load(Ordering::SeqCst) {
        assert!(!dumping.is_finished(), "the dump ended before any table data");
        assert!(Instant::now() < deadline, "no worker ever handed over table data");
        std::thread::sleep(Duration::from_millis(5));
    }
    let copying = db.psql(&format!(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}' AND query LIKE 'COPY%'"
    ));
    assert_ne!(copying.trim(), "0", "no worker session in a COPY while the dump runs");
    assert!(!dumping.is_finished(), "the dump finished before it could be dropped");
    dumping.abort();
    // Let the held workers go on: they find the dump dropped and end.
    hold.released.store(true, Ordering::SeqCst);
    let aborted = rt.block_on(dumping);
    assert!(
        aborted.is_err_and(|e| e.is_cancelled()),
        "the dump task was not cancelled"
    );
    // Sessions end and temporaries go away shortly after (the released workers notice the drop).
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

/// A table's parts as the events tell them.
#[derive(Default, Debug)]
struct Seen {
    started: usize,
    parts: u64,
    part_started: u64,
    part_finished: u64,
    part_rows: u64,
    part_bytes: u64,
    piece_bytes: u64,
    finished: Option<(u64, u64, u64)>,
}

fn num(o: &serde_json::Value, key: &str) -> u64 {
    o[key].as_u64().unwrap_or_else(|| panic!("{key} is not a count in {o}"))
}

/// Checks a dump's progress events (JSON lines) of `big_db`: one plan first; per table one
/// start, each part started and finished by one worker that wrote only its own pieces, one
/// finish after its parts; rows and bytes add up from pieces to parts to table.
fn check_events(lines: &[String]) -> std::collections::BTreeMap<String, Seen> {
    let mut planned = None;
    let mut tables: std::collections::BTreeMap<String, Seen> = Default::default();
    // worker -> the (table, range) it is reading now.
    let mut busy: std::collections::HashMap<u64, (String, serde_json::Value)> = Default::default();
    for (n, line) in lines.iter().enumerate() {
        let o: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(o.is_object(), "not an object: {line}");
        let event = o["event"].as_str().unwrap_or_else(|| panic!("no event: {line}"));
        if event == "planned" {
            assert_eq!(n, 0, "planned comes first: {lines:#?}");
            planned = Some((num(&o, "tables"), num(&o, "estimated_bytes")));
            continue;
        }
        assert!(planned.is_some(), "{line} before the plan");
        let table = o["table"]
            .as_str()
            .unwrap_or_else(|| panic!("no table: {line}"))
            .to_string();
        let t = tables.entry(table.clone()).or_default();
        match event {
            "table_started" => {
                t.started += 1;
                t.parts = num(&o, "parts");
                assert!(num(&o, "pages") > 0 || table == "public.small", "{line}");
            }
            "part_started" => {
                assert_eq!(t.started, 1, "a part before its table: {line}");
                t.part_started += 1;
                let prev = busy.insert(num(&o, "worker"), (table.clone(), o["range"].clone()));
                assert!(prev.is_none(), "worker busy twice: {line}");
            }
            "piece_written" => {
                let w = num(&o, "worker");
                assert_eq!(busy.get(&w), Some(&(table.clone(), o["range"].clone())), "{line}");
                t.piece_bytes += num(&o, "bytes");
            }
            "part_finished" => {
                let w = num(&o, "worker");
                assert_eq!(busy.remove(&w), Some((table.clone(), o["range"].clone())), "{line}");
                t.part_finished += 1;
                t.part_rows += num(&o, "rows");
                t.part_bytes += num(&o, "bytes");
            }
            "table_finished" => {
                assert_eq!(t.part_finished, t.parts, "finished before its parts: {line}");
                assert!(o["elapsed_s"].as_f64().is_some_and(|e| e >= 0.0), "{line}");
                assert!(t.finished.is_none(), "finished twice: {line}");
                t.finished = Some((num(&o, "rows"), num(&o, "bytes"), num(&o, "written")));
            }
            other => panic!("unknown event {other:?}: {line}"),
        }
    }
    assert_eq!(planned.map(|p| p.0), Some(2), "{lines:#?}");
    assert!(planned.is_some_and(|p| p.1 >= 8192), "{lines:#?}");
    assert!(busy.is_empty(), "parts never finished: {busy:?}");
    assert_eq!(tables.keys().collect::<Vec<_>>(), ["public.big", "public.small"]);
    for (name, t) in &tables {
        assert_eq!(t.started, 1, "{name}");
        assert_eq!((t.part_started, t.part_finished), (t.parts, t.parts), "{name}");
        let (rows, bytes, written) = t.finished.unwrap_or_else(|| panic!("{name} never finished"));
        // The bytes add up: pieces = parts = table, plus the `\.` trailer in the last piece.
        assert_eq!((rows, bytes), (t.part_rows, t.part_bytes), "{name}");
        assert_eq!(
            t.piece_bytes,
            bytes + pgsnap::engine::COPY_TRAILER.len() as u64,
            "{name}"
        );
        assert!(written > 0, "{name}");
    }
    tables
}

/// `pgsnap dump -Fd -j 2` of `db` into `dir` with `extra` options; its standard error,
/// after checking it succeeded.
fn dump_cli(db: &TestDb, dir: &Path, extra: &[&str]) -> String {
    let c = &db.cluster;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgsnap"));
    for v in ["PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD", "PGPASSFILE"] {
        cmd.env_remove(v);
    }
    let out = cmd
        .stdin(Stdio::null())
        .args(["dump", "-Fd", "-j", "2"])
        .args(extra)
        .arg("-h")
        .arg(c.socket_dir())
        .args(["-p", &c.port.to_string(), "-U", "postgres", "-f"])
        .arg(dir)
        .arg(&db.name)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

/// [`dump_cli`] with `--progress=json`: the events, checked to add up, per table.
fn dump_with_json_events(db: &TestDb, dir: &Path, extra: &[&str]) -> std::collections::BTreeMap<String, Seen> {
    let stderr = dump_cli(db, dir, &[&["--progress=json"], extra].concat());
    let lines: Vec<String> = stderr.lines().map(str::to_string).collect();
    check_events(&lines)
}

#[test]
fn progress_json_prints_one_object_per_event() {
    let db = big_db(15, "split_json");
    let parent = out_dir();
    let dir = parent.join("archive");
    let tables = dump_with_json_events(&db, &dir, &[]);
    let (rows, bytes, _) = tables["public.big"].finished.unwrap();
    assert_eq!(rows as i64, ROWS - ROWS / 97 + 300);
    assert!(bytes > 0);
    assert_eq!(tables["public.small"].finished.unwrap().0, 10);
    // The archive's data files hold what the events counted (uncompressed, gzip-inflated).
    let data: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "gz"))
        .map(|p| {
            let mut d = flate2::read::MultiGzDecoder::new(std::fs::File::open(p).unwrap());
            std::io::copy(&mut d, &mut std::io::sink()).unwrap()
        })
        .sum();
    assert_eq!(data, tables.values().map(|t| t.piece_bytes).sum::<u64>());
}

#[test]
fn split_tables_larger_than_chooses_which_tables_split() {
    let db = big_db(15, "split_flag");
    let parent = out_dir();
    let rows = (ROWS - ROWS / 97 + 300) as u64;
    // `big` is about 60 pages: the default 64 MB leaves it whole, 32 kB (4 pages) splits it,
    // and `small` (one page) stays whole.
    let default = dump_with_json_events(&db, &parent.join("default"), &[]);
    assert_eq!(default["public.big"].parts, 1);
    let low = dump_with_json_events(&db, &parent.join("low"), &["--split-tables-larger-than=32kB"]);
    assert!(low["public.big"].parts >= 4, "{:?}", low["public.big"]);
    assert_eq!(low["public.big"].finished.unwrap().0, rows);
    assert_eq!(low["public.small"].parts, 1);
    // 0 never splits, whatever the size.
    let off = dump_with_json_events(
        &db,
        &parent.join("off"),
        &["--split-tables-larger-than", "0", "--split-tables-larger-than=0"],
    );
    assert_eq!(off["public.big"].parts, 1);
    assert_eq!(off["public.big"].finished.unwrap().0, rows);
}

#[test]
fn verbose_names_split_tables_that_pass_through_the_whole_buffer_cache() {
    let db = big_db(15, "split_ring");
    // Larger than a quarter of the test clusters' shared_buffers (64MB): 1000-byte rows stay
    // inline and uncompressed, seven to a page.
    db.psql(
        "CREATE TABLE fat AS SELECT g AS id, repeat('x', 1000) AS pad FROM generate_series(1, 20000) g; ANALYZE fat;",
    );
    let buffers: u64 = db
        .psql("SELECT setting FROM pg_settings WHERE name = 'shared_buffers'")
        .trim()
        .parse()
        .unwrap();
    let fat_pages: u64 = db
        .psql("SELECT pg_relation_size('fat') / current_setting('block_size')::int")
        .trim()
        .parse()
        .unwrap();
    assert!(
        fat_pages > buffers / 4,
        "fat: {fat_pages} pages, shared_buffers {buffers}"
    );
    let parent = out_dir();
    let stderr = dump_cli(&db, &parent.join("split"), &["-v", "--split-tables-larger-than=32kB"]);
    let named: Vec<&str> = stderr.lines().filter(|l| l.contains("whole buffer cache")).collect();
    assert_eq!(named.len(), 1, "{stderr}");
    assert!(
        named[0].starts_with("pgsnap: reading table \"public.fat\" as ")
            && named[0].contains("--split-tables-larger-than"),
        "{}",
        named[0]
    );
    // `big` is split too, but small enough for the ring rule; unsplit, `fat` is not named.
    assert!(stderr.contains("dumping contents of table \"public.big\""), "{stderr}");
    let whole = dump_cli(&db, &parent.join("whole"), &["-v", "--split-tables-larger-than=0"]);
    assert!(!whole.contains("whole buffer cache"), "{whole}");
    assert!(whole.contains("dumping contents of table \"public.fat\""), "{whole}");
}

/// Collects the events as their JSON lines.
#[derive(Debug, Default)]
struct Recorder(std::sync::Mutex<Vec<String>>);

impl Progress for Recorder {
    fn event(&self, e: &Event) {
        self.0.lock().unwrap().push(pgsnap::progress::to_json(e));
    }
}

#[test]
fn progress_events_of_a_split_table_add_up() {
    let db = big_db(15, "split_events");
    let out = out_dir();
    let path = out.join("archive");
    let mut opts = options(&db, OutputFormat::Directory, "gzip:1", &path);
    let recorder = Arc::new(Recorder::default());
    opts.progress = recorder.clone();
    let report = runtime().block_on(pgsnap::dump(opts)).unwrap();
    let lines = recorder.0.lock().unwrap().clone();
    let tables = check_events(&lines);
    let big = &tables["public.big"];
    assert!(big.parts >= 4, "big was read in {} parts", big.parts);
    for t in &report.tables {
        let seen = &tables[&t.table];
        assert_eq!(seen.finished, Some((t.rows, t.bytes, t.written)), "{}", t.table);
    }
}
