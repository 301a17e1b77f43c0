//! pgsnap against stock pg_dump of the same major, in one run, on one generated database
//! (issues 7 and 10). Driven by `scripts/bench`; see `benches/README.md`.
//!
//! `cargo bench --bench dump_vs_stock -- [--size 2GB] [--runs 3] [--jobs 2] [--major 18]
//! [--cases a,b,...] [--out FILE] [--work DIR]`
//!
//! The dataset: a wide table of text, jsonb, numeric, bytea, timestamps and NULLs holding
//! most of the bytes, a medium table, 300 small tables, and a second database of 10 000
//! small tables. Each case runs both tools the same way (format, codec, -j), alternating
//! stock and pgsnap, `--runs` times each after one warm-up pair; each run is timed as a whole
//! process by GNU time (`/usr/bin/time`: wall, user and system CPU of the process and its
//! children, and the largest resident set among them). Medians are reported, and the median
//! of each round's ratio (the A/B figure: the runs of one round follow one another, so their
//! ratio is spared the machine's drift between rounds). Some cases run pgsnap again in every
//! round with other arguments: the encrypted cases with `--encrypt-to` (what encryption adds),
//! the one-table case at `-j 2` and `-j 4` (what splitting the table gains over `-j 1`).

#[path = "dataset.rs"]
mod dataset;
#[path = "../proto-tests/support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use support::Cluster;
use support::cluster::ClusterOptions;

struct Args {
    /// Target size of the main database's table data, in bytes.
    size: u64,
    runs: usize,
    jobs: u32,
    major: u32,
    cases: Option<Vec<String>>,
    out: Option<PathBuf>,
    /// Where the archives are written (default: beside the cluster). A tmpfs such as
    /// /dev/shm takes the disk out of the figures: on a slow disk the uncompressed cases
    /// measure its write speed, not the tools.
    work: Option<PathBuf>,
}

fn parse_args() -> Args {
    let mut a = Args {
        size: 2_000_000_000,
        runs: 3,
        jobs: 2,
        major: 18,
        cases: None,
        out: None,
        work: None,
    };
    let mut it = std::env::args().skip(1);
    let usage = "use --size 2GB|200MB --runs N --jobs N --major 14..18 --cases LIST --out FILE --work DIR";
    while let Some(arg) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| panic!("{arg} needs a value; {usage}"));
        match arg.as_str() {
            "--size" => {
                a.size = dataset::parse_size(&val()).unwrap_or_else(|| panic!("--size takes e.g. 2GB or 200MB"))
            }
            "--runs" => a.runs = val().parse().ok().filter(|n| *n >= 1).expect("--runs takes N >= 1"),
            "--jobs" | "-j" => a.jobs = val().parse().ok().filter(|n| *n >= 1).expect("--jobs takes N >= 1"),
            "--major" => a.major = val().parse().expect("--major takes 14..18"),
            "--cases" => a.cases = Some(val().split(',').map(str::to_string).collect()),
            "--out" => a.out = Some(PathBuf::from(val())),
            "--work" => a.work = Some(PathBuf::from(val())),
            "--bench" => {}
            other => panic!("unknown argument {other}; {usage}"),
        }
    }
    a
}

/// SQL for the second database: 10 000 small tables of 20 rows each.
fn many_tables_sql() -> Vec<String> {
    (0..10)
        .map(|k| {
            format!(
                "DO $$ BEGIN FOR i IN {}..{} LOOP
  EXECUTE format('CREATE TABLE t_%s (id int PRIMARY KEY, v text, n numeric)', i);
  EXECUTE format('INSERT INTO t_%s SELECT g, md5(g::text), g * 1.5 FROM generate_series(1, 20) g', i);
END LOOP; END $$",
                k * 1000 + 1,
                k * 1000 + 1000
            )
        })
        .chain(std::iter::once("ANALYZE".to_string()))
        .collect()
}

/// SQL for the third database: one table list-partitioned 2 000 ways, with a primary key
/// and one more index (so 4 000 INDEX ATTACH entries), 10 rows a partition.
fn partitions_sql() -> Vec<String> {
    vec![
        "CREATE TABLE m (id int, k int, v text, PRIMARY KEY (id, k)) PARTITION BY LIST (k); \
         CREATE INDEX ON m (v)"
            .to_string(),
        "DO $$ BEGIN FOR i IN 1..2000 LOOP \
           EXECUTE format('CREATE TABLE m_%s PARTITION OF m FOR VALUES IN (%s)', i, i); \
         END LOOP; END $$"
            .to_string(),
        "INSERT INTO m SELECT g, g % 2000 + 1, md5(g::text) FROM generate_series(1, 20000) g".to_string(),
        "ANALYZE".to_string(),
    ]
}

/// One whole-process measurement.
#[derive(Debug, Clone, Copy)]
struct Run {
    wall: f64,
    cpu: f64,
    /// CPU seconds of the whole machine over the run: server and client together.
    all_cpu: f64,
    rss_kb: u64,
    bytes: u64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[derive(Debug, Clone, Copy)]
struct Summary {
    wall: f64,
    cpu: f64,
    all_cpu: f64,
    rss_mb: f64,
    bytes: u64,
}

fn summarise(runs: &[Run]) -> Summary {
    Summary {
        wall: median(runs.iter().map(|r| r.wall).collect()),
        cpu: median(runs.iter().map(|r| r.cpu).collect()),
        all_cpu: median(runs.iter().map(|r| r.all_cpu).collect()),
        rss_mb: median(runs.iter().map(|r| r.rss_kb as f64 / 1024.0).collect()),
        bytes: runs.iter().map(|r| r.bytes).max().unwrap_or(0),
    }
}

/// Size of an archive: a file, or the files of a directory.
fn archive_size(path: &Path) -> u64 {
    if path.is_file() {
        return std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    }
    std::fs::read_dir(path)
        .map(|rd| rd.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

fn remove(path: &Path) {
    let _ = std::fs::remove_dir_all(path);
    let _ = std::fs::remove_file(path);
}

/// CPU seconds the whole machine has spent busy since boot (`/proc/stat`'s first line: every
/// state but idle and iowait, in USER_HZ ticks of 1/100 s). The difference over a run is the
/// server's and the client's CPU together, so a run's distance to the machine's limit shows.
fn machine_busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0.0;
    };
    let ticks: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user already)
    let busy: u64 = ticks
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, t)| t)
        .sum();
    busy as f64 / 100.0
}

/// Runs `program args` under GNU time, output at `out` (removed before and after).
fn measure(what: &str, program: &Path, args: &[String], env: &[(&str, String)], out: &Path) -> Run {
    remove(out);
    let stats = out.with_extension("time");
    let mut c = Command::new("/usr/bin/time");
    c.args(["-f", "%e %U %S %M", "-o"]).arg(&stats).arg(program).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let busy_before = machine_busy_seconds();
    let res = c
        .stdout(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not run /usr/bin/time (apt-get install time): {e}"));
    if !res.status.success() {
        panic!("{what} failed:\n{}", String::from_utf8_lossy(&res.stderr));
    }
    let all_cpu = machine_busy_seconds() - busy_before;
    let text = std::fs::read_to_string(&stats).unwrap_or_default();
    let f: Vec<f64> = text
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    assert_eq!(f.len(), 4, "{what}: unexpected GNU time output {text:?}");
    let run = Run {
        wall: f[0],
        cpu: f[1] + f[2],
        all_cpu,
        rss_kb: f[3] as u64,
        bytes: archive_size(out),
    };
    remove(out);
    let _ = std::fs::remove_file(&stats);
    run
}

/// A benchmark case: the same dump made by both tools.
struct Case {
    name: &'static str,
    label: String,
    db: String,
    /// pg_dump arguments after the connection (format, codec, -j, selection); pgsnap takes
    /// the same, except where `ours` overrides them.
    stock: Vec<String>,
    ours: Vec<String>,
    file: &'static str,
    /// More pgsnap runs in every round, each against pgsnap's `ours` run of the same round
    /// (a ratio per round, then their median): a label and the arguments replacing `ours`.
    variants: Vec<Variant>,
}

struct Variant {
    tool: String,
    args: Vec<String>,
    /// What the per-round ratio says: `Slowdown` for an added cost (encryption, issue 11: at
    /// most 10 %), `Speedup` for pgsnap against itself at another -j (issue 10).
    kind: VariantKind,
}

#[derive(Clone, Copy)]
enum VariantKind {
    Slowdown,
    Speedup,
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn cases(main_db: &str, many_db: &str, parts_db: &str, j: u32, recipient: &str) -> Vec<Case> {
    let same = |name, label: String, db: &str, args: String, file| Case {
        name,
        label,
        db: db.to_string(),
        stock: words(&args),
        ours: words(&args),
        file,
        variants: Vec::new(),
    };
    let encrypted = |name, label: String, args: String, file| {
        let mut ours = words(&args);
        ours.extend(["--encrypt-to".to_string(), recipient.to_string()]);
        Case {
            variants: vec![Variant {
                tool: "pgsnap --encrypt-to".into(),
                args: ours,
                kind: VariantKind::Slowdown,
            }],
            ..same(name, label, main_db, args, file)
        }
    };
    let mut all = vec![
        same(
            "gzip",
            format!("whole db -Fd -Z gzip:6 -j {j}"),
            main_db,
            format!("-Fd -Z gzip:6 -j {j}"),
            "d",
        ),
        same(
            "zstd",
            format!("whole db -Fd -Z zstd:3 -j {j}"),
            main_db,
            format!("-Fd -Z zstd:3 -j {j}"),
            "d",
        ),
        same(
            "none",
            format!("whole db -Fd -Z 0 -j {j} (floor)"),
            main_db,
            format!("-Fd -Z 0 -j {j}"),
            "d",
        ),
        same(
            "table-j1",
            "one large table -t wide -Fd -j 1".into(),
            main_db,
            "-Fd -j 1 -t wide".into(),
            "d",
        ),
        same(
            "table-j2",
            "one large table -t wide -Fd -j 2".into(),
            main_db,
            "-Fd -j 2 -t wide".into(),
            "d",
        ),
        same(
            "many",
            format!("10 000 small tables -Fd -j {j}"),
            many_db,
            format!("-Fd -j {j}"),
            "d",
        ),
        same(
            "partitions",
            format!("2 000 partitions, 2 indexes -Fd -j {j}"),
            parts_db,
            format!("-Fd -j {j}"),
            "d",
        ),
        same(
            "custom",
            "whole db -Fc (gzip, one job)".into(),
            main_db,
            "-Fc".into(),
            "c",
        ),
        Case {
            name: "custom-j",
            label: format!("whole db -Fc; pgsnap -j {j} (stock cannot)"),
            db: main_db.to_string(),
            stock: words("-Fc"),
            ours: words(&format!("-Fc -j {j}")),
            file: "c",
            variants: Vec::new(),
        },
        encrypted(
            "encrypt",
            format!("whole db -Fd -Z gzip:6 -j {j}, encrypted"),
            format!("-Fd -Z gzip:6 -j {j}"),
            "d",
        ),
        encrypted(
            "encrypt-custom",
            "whole db -Fc (gzip, one job), encrypted".into(),
            "-Fc".into(),
            "c",
        ),
    ];
    // Issue 10's split-table target: pgsnap's own -j 2 and -j 4 against its -j 1 on one
    // table, uncompressed, in the same rounds (stock's -j cannot split a table: its -j 1 run
    // is the yardstick).
    let table = |jobs: u32| words(&format!("-Fd -Z 0 -j {jobs} -t wide"));
    all.push(Case {
        variants: [2, 4]
            .map(|jobs| Variant {
                tool: format!("pgsnap -j {jobs}"),
                args: table(jobs),
                kind: VariantKind::Speedup,
            })
            .into(),
        ..same(
            "table-none",
            "one large table -t wide -Fd -Z 0 (-j 1 unless said)".into(),
            main_db,
            "-Fd -Z 0 -j 1 -t wide".into(),
            "d",
        )
    });
    all
}

fn main() {
    let args = parse_args();
    let pgsnap = support::compare::pgsnap_bin();
    assert!(pgsnap.is_file(), "no pgsnap binary at {}", pgsnap.display());
    let opts = ClusterOptions {
        conf: "shared_buffers = '256MB'\nmax_wal_size = '8GB'\ncheckpoint_timeout = '30min'\n\
               synchronous_commit = off\nmax_locks_per_transaction = 256\n"
            .into(),
        ..ClusterOptions::default()
    };
    let cluster = Cluster::private_with(args.major, opts);
    eprintln!("bench: PostgreSQL {} on port {}", args.major, cluster.port);
    let pg_dump = cluster.bin("pg_dump");
    let version = String::from_utf8_lossy(&Command::new(&pg_dump).arg("--version").output().unwrap().stdout)
        .trim()
        .to_string();

    let started = Instant::now();
    let main_db = cluster.create_database("bench", "");
    for (i, stmt) in dataset::main_db_sql(args.size).iter().enumerate() {
        cluster.psql(&main_db, stmt);
        eprint!("\rbench: loading the main database, step {}", i + 1);
    }
    let many_db = cluster.create_database("many", "");
    // 10 000 tables take a while to make: only when a case dumps them.
    if args.cases.as_ref().is_none_or(|c| c.iter().any(|c| c == "many")) {
        for stmt in many_tables_sql() {
            cluster.psql(&many_db, &stmt);
        }
    }
    let parts_db = cluster.create_database("partitions", "");
    if args.cases.as_ref().is_none_or(|c| c.iter().any(|c| c == "partitions")) {
        for stmt in partitions_sql() {
            cluster.psql(&parts_db, &stmt);
        }
    }
    // The load leaves gigabytes of dirty buffers and WAL: written now, so a spread checkpoint
    // does not take CPU from the runs of the first cases (minutes of them).
    cluster.psql(&main_db, "CHECKPOINT");
    let size = |db: &str| -> u64 {
        cluster
            .psql(db, "SELECT pg_database_size(current_database())")
            .trim()
            .parse()
            .unwrap_or(0)
    };
    let data: u64 = cluster
        .psql(
            &main_db,
            "SELECT sum(pg_total_relation_size(c.oid) - pg_indexes_size(c.oid)) FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = 'public'",
        )
        .trim()
        .parse()
        .unwrap_or(0);
    eprintln!(
        "\nbench: loaded in {:.0?}: main database {:.0} MB ({:.0} MB table data), 10 000-table database {:.0} MB",
        started.elapsed(),
        size(&main_db) as f64 / 1e6,
        data as f64 / 1e6,
        size(&many_db) as f64 / 1e6
    );

    let work = args.work.clone().unwrap_or_else(|| cluster.dir.join("bench-out"));
    std::fs::create_dir_all(&work).unwrap();
    let conn = |db: &str| -> Vec<String> {
        vec![
            "-h".into(),
            cluster.socket_dir().display().to_string(),
            "-p".into(),
            cluster.port.to_string(),
            "-U".into(),
            "postgres".into(),
            "-d".into(),
            db.to_string(),
        ]
    };
    let env = vec![("PGTZ", "UTC".to_string())];
    // An X25519 identity for the encrypted cases; only its public recipient is used.
    let key = work.join("bench.key");
    let _ = std::fs::remove_file(&key);
    let keygen = Command::new(&pgsnap)
        .arg("keygen")
        .arg("-o")
        .arg(&key)
        .output()
        .unwrap();
    assert!(
        keygen.status.success(),
        "pgsnap keygen: {}",
        String::from_utf8_lossy(&keygen.stderr)
    );
    let recipient = String::from_utf8_lossy(&keygen.stdout).trim().to_string();
    let mut rows = String::new();
    let mut notes = String::new();
    for case in cases(&main_db, &many_db, &parts_db, args.jobs, &recipient) {
        if let Some(only) = &args.cases
            && !only.iter().any(|c| c == case.name)
        {
            continue;
        }
        let out_stock = work.join(format!("stock.{}", case.file));
        let out_ours = work.join(format!("pgsnap.{}", case.file));
        let mut stock_args = case.stock.clone();
        stock_args.extend(["--no-sync".to_string(), "-f".into(), out_stock.display().to_string()]);
        stock_args.extend(conn(&case.db));
        let pgsnap_args = |args: &[String]| {
            let mut a = vec!["dump".to_string()];
            a.extend(args.iter().cloned());
            a.extend(["--no-sync".to_string(), "-f".into(), out_ours.display().to_string()]);
            a.extend(conn(&case.db));
            a
        };
        let our_args = pgsnap_args(&case.ours);
        let variant_args: Vec<Vec<String>> = case.variants.iter().map(|v| pgsnap_args(&v.args)).collect();
        let (mut stock, mut ours) = (Vec::new(), Vec::new());
        let mut variants: Vec<Vec<Run>> = vec![Vec::new(); case.variants.len()];
        // One warm-up round (caches, catalogs), then alternating rounds.
        for round in 0..=args.runs {
            let s = measure("stock pg_dump", &pg_dump, &stock_args, &env, &out_stock);
            let o = measure("pgsnap dump", &pgsnap, &our_args, &env, &out_ours);
            let v: Vec<Run> = case
                .variants
                .iter()
                .zip(&variant_args)
                .map(|(v, a)| measure(&v.tool, &pgsnap, a, &env, &out_ours))
                .collect();
            if round > 0 {
                stock.push(s);
                ours.push(o);
                for (all, r) in variants.iter_mut().zip(v) {
                    all.push(r);
                }
            }
        }
        let (s, o) = (summarise(&stock), summarise(&ours));
        // Each round's runs follow one another: the ratio within a round is spared the
        // machine's drift between rounds, and its median is the A/B figure.
        let ratios =
            |a: &[Run], b: &[Run]| -> Vec<f64> { a.iter().zip(b).map(|(a, b)| a.wall / b.wall.max(0.001)).collect() };
        let paired = |a: &[Run], b: &[Run]| median(ratios(a, b));
        let per_round = |a: &[Run], b: &[Run]| {
            ratios(a, b)
                .iter()
                .map(|r| format!("{r:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        eprintln!(
            "bench: {}: stock {:.2}s, pgsnap {:.2}s ({:.2}x, paired {:.2}x)",
            case.label,
            s.wall,
            o.wall,
            s.wall / o.wall,
            paired(&stock, &ours)
        );
        let mut tools = vec![
            ("pg_dump".to_string(), s, None),
            ("pgsnap".to_string(), o, Some(paired(&stock, &ours))),
        ];
        for (v, runs) in case.variants.iter().zip(&variants) {
            let m = summarise(runs);
            let note = match v.kind {
                VariantKind::Slowdown => {
                    let r = paired(runs, &ours);
                    format!(
                        "- {}: `{}` adds {:+.1}% to pgsnap's wall time (median of per-round ratios {}; \
                         {:.2} s vs {:.2} s), {:+.1}% client CPU",
                        case.label,
                        v.tool,
                        (r - 1.0) * 100.0,
                        per_round(runs, &ours),
                        m.wall,
                        o.wall,
                        (m.cpu / o.cpu.max(0.001) - 1.0) * 100.0
                    )
                }
                VariantKind::Speedup => format!(
                    "- {}: `{}` is {:.2}x pgsnap's run in the same round (median of per-round ratios {}; \
                     {:.2} s vs {:.2} s; machine cores busy {:.2} vs {:.2})",
                    case.label,
                    v.tool,
                    paired(&ours, runs),
                    per_round(&ours, runs),
                    m.wall,
                    o.wall,
                    m.all_cpu / m.wall.max(0.001),
                    o.all_cpu / o.wall.max(0.001)
                ),
            };
            eprintln!("bench: {}", note.trim_start_matches("- "));
            let _ = writeln!(notes, "{note}");
            tools.push((v.tool.clone(), m, Some(paired(&stock, runs))));
        }
        for (tool, m, pair) in tools {
            let _ = writeln!(
                rows,
                "| {} | {tool} | {:.2} | {:.1} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} |{}",
                case.label,
                m.wall,
                m.bytes as f64 / 1e6,
                m.rss_mb,
                m.cpu,
                m.cpu / m.wall.max(0.001),
                m.all_cpu,
                m.all_cpu / m.wall.max(0.001),
                match pair {
                    Some(p) => format!(
                        " {:.2}x | {p:.2}x | {:.2} |",
                        s.wall / m.wall.max(0.001),
                        m.bytes as f64 / s.bytes.max(1) as f64
                    ),
                    None => " | | |".to_string(),
                }
            );
        }
    }
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let report = format!(
        "{version} (server and client), pgsnap {}; {cpus} CPUs, load average at the end {}; \
         main database {:.0} MB ({:.0} MB table data); archives written to {}; medians of {} runs after a \
         warm-up\n\n\
         | case | tool | wall s | archive MB | peak RSS MB | client CPU s | client cores busy | machine CPU s | machine cores busy | speed-up (stock/pgsnap medians) | speed-up (median of rounds) | size pgsnap/stock |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n{rows}{}",
        env!("CARGO_PKG_VERSION"),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        size(&main_db) as f64 / 1e6,
        data as f64 / 1e6,
        work.display(),
        args.runs,
        if notes.is_empty() {
            String::new()
        } else {
            format!("\n{notes}")
        },
    );
    println!("\n{report}");
    if let Some(path) = &args.out {
        std::fs::write(path, &report).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}
