//! Relation statistics (`STATISTICS DATA`, pg_dump 18's `--statistics` and
//! `--statistics-only`), compared with stock pg_dump 18 on a database of analyzed tables,
//! expression indexes, partitions and materialized views: the same `pg_restore -l` entries
//! in the same order, the same SQL as stock `pg_restore -f -` prints it, and — restored by
//! stock pg_restore 18 — the same `pg_stats` rows as the source. Servers before 18 are dumped
//! too (stock pg_dump 18 reads the same `pg_stats` view there); their statistics restore into
//! an 18 cluster.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use support::compare::{check_ok, fixture, listing};
use support::{Cluster, Scratch, TestDb};

const STOCK: u32 = 18;

/// The statistics of every user relation, as text: what `pg_restore_attribute_stats` set.
const PG_STATS: &str = "SELECT schemaname, tablename, attname, inherited, null_frac, avg_width, n_distinct, \
     most_common_vals::text, most_common_freqs::text, histogram_bounds::text, correlation, most_common_elems::text, \
     most_common_elem_freqs::text, elem_count_histogram::text, range_length_histogram::text, range_empty_frac, \
     range_bounds_histogram::text FROM pg_stats WHERE schemaname NOT IN ('pg_catalog', 'information_schema') \
     ORDER BY 1, 2, 3, 4";

fn in_env(c: &Cluster, mut cmd: Command) -> Command {
    cmd.env("PGHOST", c.socket_dir())
        .env("PGPORT", c.port.to_string())
        .env("PGUSER", "postgres")
        .env_remove("PGDATABASE")
        .env_remove("PGPASSWORD")
        .env_remove("PG_COLOR")
        .stdin(Stdio::null());
    cmd
}

/// Stock pg_dump 18 (`stock`) or pgsnap, with `args`, writing `out`.
fn dump(c: &Cluster, db: &str, stock: bool, args: &[&str], out: &Path) -> Output {
    let mut cmd = if stock {
        in_env(c, c.tool_of(STOCK, "pg_dump"))
    } else {
        let mut cmd = in_env(c, Command::new(env!("CARGO_BIN_EXE_pgsnap")));
        cmd.arg("dump");
        cmd
    };
    cmd.args(args).arg("-f").arg(out).arg(db).output().unwrap()
}

/// What stock pg_restore 18 prints of an archive (or the script itself), without the lines
/// that name the dumping program or hold the random `\restrict` key.
fn script_of(c: &Cluster, archive: &Path, plain: bool) -> String {
    let text = if plain {
        std::fs::read_to_string(archive).unwrap()
    } else {
        let out = c
            .tool_of(STOCK, "pg_restore")
            .args(["-f", "-"])
            .arg(archive)
            .output()
            .unwrap();
        check_ok("pg_restore -f -", &out);
        String::from_utf8(out.stdout).unwrap()
    };
    text.lines()
        .filter(|l| !l.starts_with("-- Dump") && !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n stock:  {x}\n pgsnap: {y}", i + 1);
        }
    }
    format!("lengths differ: {} vs {} lines", a.lines().count(), b.lines().count())
}

/// Dumps `db` of `c` with both programs and each flag set; asserts the same entries in the
/// same order and the same printed SQL. Returns the pair of archives of the first set.
fn compare(c: &Cluster, db: &str, cases: &[(&str, &[&str])], dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut archives = Vec::new();
    for (i, (name, args)) in cases.iter().enumerate() {
        let plain = args.contains(&"-Fp");
        let s = dir.join(format!("stock{i}"));
        let p = dir.join(format!("pgsnap{i}"));
        check_ok(&format!("stock pg_dump {name}"), &dump(c, db, true, args, &s));
        check_ok(&format!("pgsnap dump {name}"), &dump(c, db, false, args, &p));
        if !plain {
            let (ls, lp) = (listing(c, STOCK, &s), listing(c, STOCK, &p));
            assert!(
                ls.iter().any(|l| l.contains("STATISTICS DATA")),
                "{name}: stock wrote no statistics entries"
            );
            assert_eq!(lp, ls, "{name}: entries or their order differ from stock pg_dump 18's");
        }
        let (ss, sp) = (script_of(c, &s, plain), script_of(c, &p, plain));
        assert!(
            ss.contains("pg_restore_attribute_stats"),
            "{name}: no attribute statistics"
        );
        assert!(
            ss == sp,
            "{name}: SQL differs from stock's: {}",
            first_difference(&ss, &sp)
        );
        archives.push((s, p));
    }
    archives
}

/// Restores `archive` with stock pg_restore 18 into a fresh database of `into`; its pg_stats.
fn restored_stats(into: &Cluster, archive: &Path) -> String {
    let db = into.create_database("stats_restored", "");
    let out = in_env(into, into.tool_of(STOCK, "pg_restore"))
        .args(["-d", &db])
        .arg(archive)
        .output()
        .unwrap();
    check_ok("pg_restore", &out);
    let stats = into.psql(&db, PG_STATS);
    into.drop_database(&db);
    stats
}

#[test]
fn statistics_entries_match_stock_pg_dump_18() {
    let db = TestDb::new(18, "stats", &fixture("statistics.sql"));
    let c = &db.cluster;
    let dir = Scratch::new("pgsnap-statistics");
    let cases: &[(&str, &[&str])] = &[
        ("-Fd --statistics", &["-Fd", "--statistics"]),
        ("-Fd --statistics-only", &["-Fd", "--statistics-only"]),
        ("-Fc --no-data --statistics", &["-Fc", "--no-data", "--statistics"]),
        (
            "-Fd -j 2 --statistics, two tables",
            &[
                "-Fd",
                "-j",
                "2",
                "--statistics",
                "-t",
                "shop.customer",
                "-t",
                "shop.status_counts",
            ],
        ),
        (
            "-Ft --statistics without the matview's data",
            &["-Ft", "--statistics", "--exclude-table-data=shop.status_counts"],
        ),
        (
            "-Fd --statistics --section=post-data",
            &["-Fd", "--statistics", "--section=post-data"],
        ),
        ("-Fp --statistics", &["-Fp", "--statistics", "--restrict-key=k"]),
    ];
    let archives = compare(c, &db.name, cases, dir.path());
    let source = db.psql(PG_STATS);
    assert!(
        source.lines().count() > 20,
        "the fixture has too few statistics:\n{source}"
    );
    let (s, p) = &archives[0];
    assert_eq!(restored_stats(c, s), source, "stock's restore lost statistics");
    assert_eq!(
        restored_stats(c, p),
        source,
        "pgsnap's archive restores other statistics"
    );
}

#[test]
fn statistics_from_a_14_server_match_stock_pg_dump_18() {
    let db = TestDb::new(14, "stats14", &fixture("statistics.sql"));
    let dir = Scratch::new("pgsnap-statistics");
    let cases: &[(&str, &[&str])] = &[
        ("-Fd --statistics from 14", &["-Fd", "--statistics"]),
        (
            "-Fp --statistics-only from 14",
            &["-Fp", "--statistics-only", "--restrict-key=k"],
        ),
    ];
    let archives = compare(&db.cluster, &db.name, cases, dir.path());
    // 14's pg_stats has no range fields (17+); its rows restore into 18 all the same.
    let source_rows: usize = db
        .psql("SELECT count(*) FROM pg_stats WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")
        .trim()
        .parse()
        .unwrap();
    let target = Cluster::shared(18);
    let (s, p) = &archives[0];
    let stock = restored_stats(&target, s);
    assert_eq!(
        restored_stats(&target, p),
        stock,
        "pgsnap's archive restores other statistics"
    );
    assert_eq!(
        stock.lines().count(),
        source_rows,
        "statistics rows lost in the restore"
    );
}

/// `--archive-version` cannot ask for a version older than the statistics entries need.
#[test]
fn statistics_need_archive_version_1_16() {
    let db = TestDb::new(18, "stats_version", "CREATE TABLE t (a int); ANALYZE t;");
    let dir = Scratch::new("pgsnap-statistics");
    let out_path = dir.path().join("x.dump");
    let out = dump(
        &db.cluster,
        &db.name,
        false,
        &["-Fc", "--statistics", "--archive-version", "1.14"],
        &out_path,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "pgsnap: error: statistics entries need archive version 1.16 or later (read by pg_restore 17–18), but \
         version 1.14 was requested (read by pg_restore 14–18)"
    );
    assert!(!out_path.exists());
}
