//! One dump of a database of at least 1 GB fanned out to three destinations at once — a local
//! directory, S3 (moto's server) and SFTP (OpenSSH's sshd) — with pgsnap's wall time and peak
//! RSS beside a dump of the same database to one local file, then every copy restored with
//! stock pg_restore straight from its destination and compared with the source, table by
//! table (issue 13). Driven by `scripts/fanout`; see benches/README.md.
//!
//! `cargo bench --bench fanout -- [--size 1300MB] [--major 18] [--jobs 2] [--out FILE]`
//!
//! The archive is custom format (`-Fc`, gzip, `-j N`): the format a streamed destination
//! restores from without a local copy (`pgsnap fetch URL | pg_restore -d DB`). Each run is
//! timed as a whole process by GNU time (wall seconds and the largest resident set).

#[path = "dataset.rs"]
mod dataset;
#[path = "../proto-tests/support/remote_servers.rs"]
mod remote_servers;
#[path = "../proto-tests/support/mod.rs"]
mod support;

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use remote_servers::Sshd;
use support::cluster::ClusterOptions;
use support::s3::{KEY, Moto, SECRET};
use support::{Cluster, Fingerprint};

struct Args {
    size: u64,
    major: u32,
    jobs: u32,
    out: Option<PathBuf>,
}

fn parse_args() -> Args {
    let mut a = Args {
        size: 1_300_000_000,
        major: 18,
        jobs: 2,
        out: None,
    };
    let usage = "use --size 1300MB|2GB --major 14..18 --jobs N --out FILE";
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        // `cargo bench` passes --bench to every bench binary.
        if flag == "--bench" {
            continue;
        }
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value; {usage}"));
        match flag.as_str() {
            "--size" => a.size = dataset::parse_size(&value).unwrap_or_else(|| panic!("bad --size {value}; {usage}")),
            "--major" => a.major = value.parse().unwrap_or_else(|_| panic!("bad --major {value}")),
            "--jobs" => a.jobs = value.parse().unwrap_or_else(|_| panic!("bad --jobs {value}")),
            "--out" => a.out = Some(PathBuf::from(value)),
            _ => panic!("unknown flag {flag}; {usage}"),
        }
    }
    a
}

/// Runs `cmd` under GNU time; returns (wall seconds, peak RSS in KB). Panics, with stderr, on
/// failure.
fn timed(what: &str, cmd: &mut Command) -> (f64, u64) {
    let report = tempfile::NamedTempFile::new().unwrap();
    let program = cmd.get_program().to_owned();
    let args: Vec<OsString> = cmd.get_args().map(|a| a.to_owned()).collect();
    let mut timed = Command::new("/usr/bin/time");
    timed
        .arg("-f")
        .arg("%e %M")
        .arg("-o")
        .arg(report.path())
        .arg(program)
        .args(args)
        .stdin(Stdio::null());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => timed.env(k, v),
            None => timed.env_remove(k),
        };
    }
    let out = timed.output().unwrap_or_else(|e| panic!("{what}: /usr/bin/time: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(report.path()).unwrap();
    let mut f = text.split_whitespace();
    let wall = f.next().and_then(|x| x.parse().ok()).unwrap_or(0.0);
    let rss = f.next().and_then(|x| x.parse().ok()).unwrap_or(0);
    (wall, rss)
}

/// `pgsnap` with the S3 and SFTP credentials in its environment (never on its command line).
fn pgsnap(bin: &Path, sshd: &Sshd) -> Command {
    let mut c = Command::new(bin);
    for v in [
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
    ] {
        c.env_remove(v);
    }
    c.env("AWS_ACCESS_KEY_ID", KEY).env("AWS_SECRET_ACCESS_KEY", SECRET);
    c.envs(sshd.client_env());
    c
}

/// Restores a custom archive streamed by `pgsnap fetch URL` (or read from `local`) with stock
/// pg_restore into a new database; returns it and the seconds taken.
fn restore(cluster: &Cluster, bin: &Path, sshd: &Sshd, from: &str, local: bool) -> (String, f64) {
    let db = cluster.create_database("fanout_rs", "");
    let started = Instant::now();
    let mut pg_restore = cluster.tool("pg_restore");
    pg_restore.args(["-d", &db, "--no-owner"]);
    let ok = if local {
        pg_restore.arg(from).status().unwrap().success()
    } else {
        // Streamed: no local copy of the archive is made.
        let mut fetch = pgsnap(bin, sshd)
            .args(["fetch", from])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let restored = pg_restore
            .stdin(fetch.stdout.take().unwrap())
            .status()
            .unwrap()
            .success();
        let fetched = fetch.wait().unwrap().success();
        assert!(fetched, "pgsnap fetch {from} failed");
        restored
    };
    assert!(ok, "pg_restore from {from} failed");
    (db, started.elapsed().as_secs_f64())
}

fn main() {
    let args = parse_args();
    let bin = support::compare::pgsnap_bin();
    assert!(bin.is_file(), "no pgsnap binary at {}", bin.display());
    let opts = ClusterOptions {
        conf: "shared_buffers = '256MB'\nmax_wal_size = '8GB'\ncheckpoint_timeout = '30min'\n\
               synchronous_commit = off\n"
            .into(),
        ..ClusterOptions::default()
    };
    let cluster = Cluster::private_with(args.major, opts);
    eprintln!("fanout: PostgreSQL {} on port {}", args.major, cluster.port);
    let started = Instant::now();
    let db = cluster.create_database("fanout", "");
    for (i, stmt) in dataset::main_db_sql(args.size).iter().enumerate() {
        cluster.psql(&db, stmt);
        eprint!("\rfanout: loading, step {}", i + 1);
    }
    let db_size: u64 = cluster
        .psql(&db, "SELECT pg_database_size(current_database())")
        .trim()
        .parse()
        .unwrap();
    eprintln!(
        "\nfanout: loaded {:.0} MB in {:.0?}",
        db_size as f64 / 1e6,
        started.elapsed()
    );
    if db_size < 1_000_000_000 {
        eprintln!("fanout: the database is under 1 GB; pass a larger --size for the issue's figure");
    }

    let work = cluster.dir.join("fanout-out");
    std::fs::create_dir_all(work.join("nas")).unwrap();
    let moto = Moto::start();
    moto.create_bucket("backups");
    let sshd = Sshd::start();
    let name = "nightly/app.dump";
    let conn = |c: &mut Command| {
        c.arg("-h")
            .arg(cluster.socket_dir())
            .args(["-p", &cluster.port.to_string(), "-U", "postgres"]);
    };
    let jobs = args.jobs.to_string();

    // The same dump to one local file: the baseline the fan-out is compared with.
    let single = work.join("single.dump");
    let mut c = pgsnap(&bin, &sshd);
    c.args(["dump", "-Fc", "-j", &jobs, "--no-sync", "-f"]).arg(&single);
    conn(&mut c);
    c.arg(&db);
    let (single_wall, single_rss) = timed("pgsnap dump to a local file", &mut c);
    let single_size = std::fs::metadata(&single).unwrap().len();
    eprintln!("fanout: local file {single_wall:.2} s, {single_rss} KB");

    let nas = format!("file://{}", work.join("nas").display());
    let s3 = moto.url("backups", "db1");
    let sftp = sshd.url("db1");
    let mut c = pgsnap(&bin, &sshd);
    c.args(["dump", "-Fc", "-j", &jobs, "-f", name])
        .args(["--to", &nas, "--to", &s3, "--to", &sftp]);
    conn(&mut c);
    c.arg(&db);
    let (fan_wall, fan_rss) = timed("pgsnap dump --to file --to s3 --to sftp", &mut c);
    eprintln!("fanout: three destinations {fan_wall:.2} s, {fan_rss} KB");

    // Every copy: its manifest checked by `pgsnap verify` against the destination, then
    // restored by stock pg_restore and compared with the source.
    let source = Fingerprint::data_of(&cluster, &db);
    let with_name = |url: &str| match url.split_once('?') {
        Some((base, q)) => format!("{base}/{name}?{q}"),
        None => format!("{url}/{name}"),
    };
    let mut rows = String::new();
    for (label, url, local) in [
        ("local directory (file://)", nas.clone(), true),
        ("S3 (moto)", s3.clone(), false),
        ("SFTP (OpenSSH sshd)", sftp.clone(), false),
    ] {
        let backup = with_name(&url);
        let (verify_wall, _) = timed(
            &format!("pgsnap verify {backup}"),
            pgsnap(&bin, &sshd).args(["verify", &backup]),
        );
        let from = if local {
            work.join("nas").join(name).display().to_string()
        } else {
            backup.clone()
        };
        let (restored, restore_wall) = restore(&cluster, &bin, &sshd, &from, local);
        let diff = source.diff(&Fingerprint::data_of(&cluster, &restored));
        assert!(
            diff.is_empty(),
            "restored from {label} differs from the source:\n{diff}"
        );
        cluster.drop_database(&restored);
        eprintln!("fanout: {label}: verified in {verify_wall:.1} s, restored and equal in {restore_wall:.1} s");
        writeln!(
            rows,
            "| {label} | {verify_wall:.1} | {restore_wall:.1} | {} tables, {} rows equal |",
            source.tables.len(),
            source.total_rows()
        )
        .unwrap();
    }

    let mut report = String::new();
    writeln!(
        report,
        "pgsnap {} (release), PostgreSQL {} (server, pg_restore); database {:.0} MB; `-Fc -j {}` (gzip)\n",
        env!("CARGO_PKG_VERSION"),
        args.major,
        db_size as f64 / 1e6,
        args.jobs
    )
    .unwrap();
    writeln!(report, "| dump | wall s | peak RSS MB | archive MB |").unwrap();
    writeln!(report, "|---|---:|---:|---:|").unwrap();
    writeln!(
        report,
        "| one local file (`-f FILE`) | {single_wall:.2} | {:.1} | {:.1} |",
        single_rss as f64 / 1024.0,
        single_size as f64 / 1e6
    )
    .unwrap();
    writeln!(
        report,
        "| three destinations at once (`--to file:// --to s3:// --to sftp://`) | {fan_wall:.2} | {:.1} | {:.1} each |\n",
        fan_rss as f64 / 1024.0,
        single_size as f64 / 1e6
    )
    .unwrap();
    writeln!(
        report,
        "| copy | `pgsnap verify` s | restore s (stock pg_restore) | compared with the source |"
    )
    .unwrap();
    writeln!(report, "|---|---:|---:|---|").unwrap();
    report.push_str(&rows);
    println!("{report}");
    if let Some(out) = &args.out {
        std::fs::write(out, &report).unwrap();
    }
}
