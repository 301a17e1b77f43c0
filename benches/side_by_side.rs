//! Side-by-side run of pgsnap and stock pg_dump on one generated database (the README's demo):
//! provisions nothing itself (scripts/demo does), starts a throwaway cluster, generates a
//! realistic sample database, dumps it with both tools, restores pgsnap's archive with stock
//! pg_restore into a fresh database, compares fingerprints, and prints a short report.
//!
//! `cargo bench --bench side_by_side -- [--scale F] [--jobs N] [--major M] [--format d|c|t]`
//! scale 1.0 ≈ 500 MB of table data. With `--format c` stock pg_dump writes `-Fc`, which it
//! cannot parallelise (it refuses -j), against `pgsnap dump -Fc -j N`; `--format t` likewise.

#[path = "../proto-tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Cluster, Fingerprint};

struct Args {
    scale: f64,
    jobs: u32,
    major: u32,
    /// pg_dump's -F letter: d, c or t.
    format: String,
}

fn parse_args() -> Args {
    let mut args = Args {
        scale: 1.0,
        jobs: 2,
        major: 18,
        format: "d".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--scale" => args.scale = it.next().and_then(|v| v.parse().ok()).expect("--scale takes a number"),
            "--jobs" | "-j" => args.jobs = it.next().and_then(|v| v.parse().ok()).expect("--jobs takes a number"),
            "--major" => args.major = it.next().and_then(|v| v.parse().ok()).expect("--major takes 14..18"),
            "--format" | "-F" => {
                args.format = it
                    .next()
                    .filter(|f| ["d", "c", "t"].contains(&f.as_str()))
                    .expect("--format takes d, c or t")
            }
            "--bench" => {}
            other => panic!("unknown argument {other}; use --scale F --jobs N --major M --format d|c|t"),
        }
    }
    args
}

/// SQL that builds the sample database: one large table of mixed types, a medium table,
/// a few hundred small ones, foreign keys, indexes and a view.
pub fn sample_sql(scale: f64) -> String {
    let big = ((1_600_000.0 * scale) as i64).max(1000);
    let medium = ((300_000.0 * scale) as i64).max(100);
    let mut sql = format!(
        "CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text UNIQUE, country char(2));
INSERT INTO customers SELECT g, 'customer ' || g, 'c' || g || '@example.com', (ARRAY['DE','FR','US','JP'])[1 + g % 4]
  FROM generate_series(1, 10000) g;
CREATE TABLE events (
  id bigint PRIMARY KEY, customer_id int REFERENCES customers(id), label text, doc jsonb,
  amount numeric(14,2), happened timestamptz, addr inet, payload bytea, note text);
INSERT INTO events SELECT g, 1 + g % 10000, 'event ' || g,
  jsonb_build_object('k', g, 'tags', jsonb_build_array('a', 'b', g % 7), 'ok', g % 2 = 0),
  CASE WHEN g % 11 = 0 THEN NULL ELSE round((g * 1.37)::numeric, 2) END,
  timestamptz '2020-01-01 00:00:00+00' + g * interval '17 seconds',
  ('10.' || (g >> 16) % 256 || '.' || (g >> 8) % 256 || '.' || g % 256)::inet,
  decode(md5(g::text), 'hex'),
  CASE WHEN g % 5 = 0 THEN NULL ELSE repeat(md5(g::text), 2) || E'\\tend' END
  FROM generate_series(1, {big}) g;
CREATE INDEX events_happened_idx ON events (happened);
CREATE INDEX events_customer_idx ON events (customer_id);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id),
  total numeric(12,2), status text DEFAULT 'new', created date);
INSERT INTO orders SELECT g, 1 + g % 10000, (g % 1000) * 1.5, (ARRAY['new','paid','shipped'])[1 + g % 3],
  date '2021-01-01' + g % 1000 FROM generate_series(1, {medium}) g;
CREATE VIEW customer_totals AS
  SELECT c.id, c.name, sum(o.total) AS total FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id, c.name;
"
    );
    sql.push_str(
        "DO $$ BEGIN FOR i IN 1..300 LOOP
  EXECUTE format('CREATE TABLE small_%s (id int PRIMARY KEY, v text, n int)', i);
  EXECUTE format('INSERT INTO small_%s SELECT g, md5(g::text), g * %s FROM generate_series(1, 50) g', i, i);
END LOOP; END $$;
ANALYZE;
",
    );
    sql
}

/// Size of an archive: a file, or the files of a directory.
fn dir_size(path: &Path) -> u64 {
    if path.is_file() {
        return std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    }
    std::fs::read_dir(path)
        .map(|rd| rd.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Peak resident memory of a running process so far (`VmHWM`), in kB.
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `cmd` to completion; returns its wall time and the peak RSS of its main process (kB).
fn timed(what: &str, mut cmd: Command) -> (Duration, u64) {
    let start = Instant::now();
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut peak = 0;
    loop {
        if let Some(kb) = peak_rss_kb(child.id()) {
            peak = peak.max(kb);
        }
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("{what}: {e}"),
        }
    }
    let took = start.elapsed();
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{what}: {e}"));
    if !out.status.success() {
        panic!("{what} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    (took, peak)
}

fn pgsnap_binary() -> PathBuf {
    let path = std::env::var_os("PGSNAP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| support::project_root().join("target/release/pgsnap"));
    assert!(
        path.is_file(),
        "pgsnap binary not found at {}; run `cargo build --release`",
        path.display()
    );
    path
}

fn main() {
    let args = parse_args();
    let cluster = Cluster::private(args.major);
    eprintln!(
        "demo: PostgreSQL {} cluster on port {} ({})",
        args.major,
        cluster.port,
        cluster.dir.display()
    );

    let start = Instant::now();
    let db = cluster.create_database("demo", &sample_sql(args.scale));
    let size: i64 = cluster
        .psql(&db, "SELECT pg_database_size(current_database())")
        .trim()
        .parse()
        .unwrap_or(0);
    eprintln!(
        "demo: generated database {db} ({}) in {:.1?}",
        mb(size as u64),
        start.elapsed()
    );
    let source = Fingerprint::of(&cluster, &db);

    let work = cluster.dir.join("out");
    std::fs::create_dir_all(&work).expect("create output dir");
    let jobs = args.jobs.to_string();

    let f = args.format.as_str();
    // Stock pg_dump parallelises only the directory format.
    let stock_jobs: &[&str] = if f == "d" { &["-j", &jobs] } else { &[] };
    let stock_label = if f == "d" {
        format!("stock pg_dump -Fd -j {jobs}")
    } else {
        format!("stock pg_dump -F{f}")
    };
    let stock_dir = work.join(format!("pg_dump.{f}"));
    let mut c = cluster.tool("pg_dump");
    c.arg(format!("-F{f}"))
        .args(stock_jobs)
        .args(["--no-sync", "-d", &db, "-f"])
        .arg(&stock_dir);
    let (stock_time, stock_rss) = timed("pg_dump", c);

    let snap_dir = work.join(format!("pgsnap.{f}"));
    let mut c = Command::new(pgsnap_binary());
    c.args(["dump", &format!("-F{f}"), "-j", &jobs, "-h"])
        .arg(cluster.socket_dir())
        .args(["-p", &cluster.port.to_string(), "-U", "postgres", "-d", &db, "-f"])
        .arg(&snap_dir);
    let (snap_time, snap_rss) = timed("pgsnap dump", c);

    let restored = cluster.create_database("restored", "");
    let mut c = cluster.tool("pg_restore");
    // pg_restore cannot restore a tar archive in parallel.
    let restore_jobs: &[&str] = if f == "t" { &[] } else { &["-j", &jobs] };
    c.args(restore_jobs)
        .args(["--exit-on-error", "-d", &restored])
        .arg(&snap_dir);
    let (restore_time, _) = timed("pg_restore of pgsnap's archive", c);
    let target = Fingerprint::of(&cluster, &restored);
    let diff = source.diff(&target);

    println!();
    println!(
        "pgsnap demo — PostgreSQL {}, {} tables, {} rows, database {}",
        args.major,
        source.tables.len(),
        source.total_rows(),
        mb(size as u64)
    );
    println!("  {:<28} {:>10} {:>12} {:>14}", "", "time", "archive", "peak RSS");
    for (name, time, dir, rss) in [
        (stock_label.clone(), stock_time, &stock_dir, stock_rss),
        (format!("pgsnap dump -F{f} -j {jobs}"), snap_time, &snap_dir, snap_rss),
    ] {
        println!(
            "  {name:<28} {:>9.2}s {:>12} {:>11.1} MB",
            time.as_secs_f64(),
            mb(dir_size(dir)),
            rss as f64 / 1024.0
        );
    }
    println!("  (pg_dump's peak RSS is its leader process; its -j workers are separate processes)");
    println!("  speed-up: {:.2}x", stock_time.as_secs_f64() / snap_time.as_secs_f64());
    println!(
        "  stock pg_restore {} of pgsnap's archive: {:.2}s",
        restore_jobs.join(" "),
        restore_time.as_secs_f64()
    );
    if diff.is_empty() {
        println!(
            "  verdict: OK — restored schema, {} table fingerprints and {} sequences equal the source",
            target.tables.len(),
            target.sequences.len()
        );
    } else {
        println!("  verdict: MISMATCH\n{diff}");
        std::process::exit(1);
    }
}
