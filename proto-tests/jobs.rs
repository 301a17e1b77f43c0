//! Backup jobs end to end with the built binary: `retention plan`, `config check`, and
//! `pgsnap run` against a real cluster — rotation with a tiny retention, a failed run that
//! is recorded and prunes nothing, `backups list/prune`, and the archives restored by stock
//! pg_restore.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use support::checksums::{crc32c_of_file, sha256sum};
use support::{Cluster, Scratch, TestDb};

const MAJOR: u32 = 17;

fn pgsnap(args: &[&str], stdin: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgsnap"));
    // The state database goes beside the test's configuration, not into $HOME.
    if let Some(i) = args.iter().position(|a| *a == "-c")
        && let Some(dir) = args.get(i + 1).and_then(|c| Path::new(c).parent())
    {
        cmd.env("XDG_STATE_HOME", dir);
    }
    let mut child = cmd
        .args(args)
        .env_remove("PG_COLOR")
        .env_remove("PGSNAP_CONFIG")
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn retention_plan_prints_every_decision_newest_first() {
    // New York; 2026-11-01 falls back (01:xx twice), 2026-11-02 is a Monday.
    let input = "2026-10-31T12:00:00Z\n2026-11-01T05:30:00Z\n2026-11-01T06:30:00Z\n\
                 2026-11-02T01:00:00-05:00\n2026-11-03T09:00:00Z\n";
    let o = pgsnap(
        &[
            "retention",
            "plan",
            "--keep-last",
            "1",
            "--keep-daily",
            "3",
            "--keep-weekly",
            "2",
            "--keep-within",
            "36h",
            "--now",
            "2026-11-03T12:00:00Z",
            "--tz",
            "America/New_York",
        ],
        input,
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(
        out(&o),
        "keep 2026-11-03T09:00:00Z last,daily,weekly,within\n\
         keep 2026-11-02T01:00:00-05:00 daily,within\n\
         keep 2026-11-01T06:30:00Z daily,weekly\n\
         forget 2026-11-01T05:30:00Z\n\
         forget 2026-10-31T12:00:00Z\n"
    );
    // No --keep-* flag: 7 daily, 4 weekly, 12 monthly.
    let o = pgsnap(
        &["retention", "plan", "--now", "2026-11-03T12:00:00Z", "--tz", "UTC"],
        "2026-11-03T01:00:00Z\n2026-11-03T00:30:00Z\n",
    );
    assert_eq!(
        out(&o),
        "keep 2026-11-03T01:00:00Z daily,weekly,monthly\nforget 2026-11-03T00:30:00Z\n"
    );
    // Bad input: the line named, exit 1, nothing printed.
    let o = pgsnap(
        &["retention", "plan", "--now", "2026-11-03T12:00:00Z"],
        "2026-11-03T01:00:00Z\n2026-11-03 noon\n",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).starts_with("pgsnap: error: standard input: line 2: invalid timestamp"),
        "{}",
        err(&o)
    );
    assert_eq!(out(&o), "");
    for bad in [
        &["retention", "plan", "--now", "tomorrow"][..],
        &[
            "retention",
            "plan",
            "--now",
            "2026-11-03T12:00:00Z",
            "--tz",
            "Nowhere/Special",
        ],
        &[
            "retention",
            "plan",
            "--now",
            "2026-11-03T12:00:00Z",
            "--keep-daily",
            "0",
        ],
        &[
            "retention",
            "plan",
            "--now",
            "2026-11-03T12:00:00Z",
            "--keep-within",
            "-3d",
        ],
        &["retention", "plan", "--keep-daily", "3"],
    ] {
        let o = pgsnap(bad, "");
        assert_eq!(o.status.code(), Some(1), "{bad:?}");
        assert!(err(&o).starts_with("pgsnap: error: "), "{bad:?}: {}", err(&o));
    }
}

#[test]
fn config_check_names_file_line_and_key_of_every_error() {
    let fixture = support::project_root().join("fixtures/config/pgsnap.toml");
    let o = pgsnap(&["config", "check", fixture.to_str().unwrap()], "");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains(": OK, 3 job(s), 5 notifier(s)"), "{}", out(&o));
    // The daemon's settings and each schedule's policies.
    assert!(
        out(&o).contains("\nstate in /var/lib/pgsnap; daemon grace period 10m\n"),
        "{}",
        out(&o)
    );
    assert!(
        out(&o).contains("missed runs: run-once, jitter up to 5m; retention keep-daily 7"),
        "{}",
        out(&o)
    );
    assert!(out(&o).contains("missed runs: skip; retention"), "{}", out(&o));

    let dir = Scratch::new("pgsnap-jobs");
    let bad = dir.path().join("pgsnap.toml");
    std::fs::write(
        &bad,
        "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\nschedule = \"0 25 * * *\"\n\
         [jobs.a.retention]\nkeep_montly = 3\n",
    )
    .unwrap();
    let o = pgsnap(&["config", "check", bad.to_str().unwrap()], "");
    assert_eq!(o.status.code(), Some(1));
    let lines: Vec<String> = err(&o).lines().map(str::to_string).collect();
    let b = bad.display();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!("pgsnap: error: {b}:4:12: jobs.a.schedule: invalid cron")),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with(&format!(
            "pgsnap: error: {b}:6:1: jobs.a.retention.keep_montly: unknown key"
        )),
        "{lines:?}"
    );
    // Found through $PGSNAP_CONFIG too; a missing file is an error.
    let o = Command::new(env!("CARGO_BIN_EXE_pgsnap"))
        .args(["config", "check"])
        .env("PGSNAP_CONFIG", &fixture)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let o = pgsnap(&["config", "check", "/nonexistent/pgsnap.toml"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("could not read configuration file"), "{}", err(&o));
}

/// (trigger, outcome) of each run of `job` in a state database, oldest first.
fn state_rows(db: &Path, job: &str) -> Vec<(String, String)> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut s = c
        .prepare("SELECT trigger, outcome FROM runs WHERE job = ?1 ORDER BY started_ms, id")
        .unwrap();
    s.query_map([job], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn write_config(path: &Path, body: &str) {
    std::fs::write(path, body).unwrap();
}

/// The archives (not records, not temporaries) in a destination, sorted.
fn archives(dest: &Path, ext: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dest)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(ext) && !n.starts_with('.'))
        .collect();
    v.sort();
    v
}

fn records(dest: &Path) -> Vec<serde_json::Value> {
    let mut v: Vec<(String, serde_json::Value)> = std::fs::read_dir(dest)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (v["started"].as_str().unwrap().to_string(), v)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v.into_iter().map(|(_, v)| v).collect()
}

fn count(cluster: &Cluster, db: &str, table: &str) -> String {
    cluster
        .psql(db, &format!("SELECT count(*) FROM {table}"))
        .trim()
        .to_string()
}

#[test]
fn run_rotates_records_failures_and_restores_with_stock_pg_restore() {
    let db = TestDb::new(
        MAJOR,
        "jobs",
        "CREATE TABLE orders (id int PRIMARY KEY, note text);
         INSERT INTO orders SELECT g, 'n' || g FROM generate_series(1, 500) g;
         CREATE TABLE events_log (id int, at timestamptz DEFAULT now());
         INSERT INTO events_log SELECT g FROM generate_series(1, 50) g;",
    );
    let dir = Scratch::new("pgsnap-jobs");
    let dest = dir.path().join("backups");
    let config = dir.path().join("pgsnap.toml");
    let secret = dir.path().join("pw");
    std::fs::write(&secret, "not-needed-with-trust\n").unwrap();
    let socket = db.cluster.socket_dir();
    write_config(
        &config,
        &format!(
            "[jobs.shop]\ndestination = \"backups\"\nformat = \"custom\"\ncompression = \"gzip:5\"\n\
             source = {{ host = \"{}\", port = {}, user = \"postgres\", dbname = \"{}\", password_file = \"pw\" }}\n\
             retention = {{ keep_last = 2 }}\n",
            socket.display(),
            db.cluster.port,
            db.name
        ),
    );
    let cfg = config.to_str().unwrap();

    // Four runs, keep-last 2: after each, at most the two newest remain.
    for n in 1..=4 {
        db.psql(&format!("INSERT INTO orders VALUES ({}, 'run {n}')", 1000 + n));
        let o = pgsnap(&["run", "shop", "-c", cfg], "");
        assert_eq!(o.status.code(), Some(0), "run {n}: {}", err(&o));
        let text = out(&o);
        assert!(text.starts_with("backup "), "{text}");
        assert!(text.contains("job shop: policy keep-last 2 (buckets in UTC)"), "{text}");
        let kept = archives(&dest, ".dump");
        assert_eq!(kept.len(), n.min(2), "run {n}: {kept:?}\n{text}");
        if n > 2 {
            assert_eq!(text.matches("\nforget ").count(), 1, "{text}");
            assert!(text.contains("pruned 1 backup(s)"), "{text}");
        }
    }
    let recs = records(&dest);
    assert_eq!(recs.len(), 2);
    for r in &recs {
        assert_eq!(r["outcome"], "succeeded");
        assert_eq!(r["job"], "shop");
        assert_eq!(r["trigger"], "manual");
        assert_eq!(r["format"], "custom");
        assert_eq!(r["tables"], 2);
        let archive = r["archive"].as_str().unwrap();
        // The checksum recorded is the archive's.
        assert_eq!(r["files"][0]["path"], archive);
        assert_eq!(r["files"][0]["crc32c"], crc32c_of_file(&dest.join(archive)));
        assert_eq!(r["size"], std::fs::metadata(dest.join(archive)).unwrap().len());
    }
    assert_eq!(recs[1]["rows"], 504 + 50);
    // Each kept archive's sidecar manifest followed it to its final name and verifies;
    // the pruned archives' sidecars went with them.
    assert_eq!(archives(&dest, ".manifest").len(), 2, "{:?}", archives(&dest, ""));
    for r in &recs {
        let archive = dest.join(r["archive"].as_str().unwrap());
        let o = pgsnap(&["verify", archive.to_str().unwrap()], "");
        assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    }
    // No temporaries left.
    let hidden: Vec<String> = std::fs::read_dir(&dest)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && !n.starts_with(".pgsnap-shop.lock"))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");

    // The newest archive restores with stock pg_restore, with the rows of its run.
    let newest = dest.join(recs[1]["archive"].as_str().unwrap());
    let target = db.cluster.create_database("jobs_restored", "");
    let o = db
        .cluster
        .tool("pg_restore")
        .args(["-d", &target, "--exit-on-error"])
        .arg(&newest)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(count(&db.cluster, &target, "orders"), "504");
    assert_eq!(
        db.cluster
            .psql(&target, "SELECT note FROM orders WHERE id = 1004")
            .trim(),
        "run 4"
    );
    db.cluster.drop_database(&target);

    // The server is unreachable (no server on that socket), and the policy now keeps one:
    // the run fails, is recorded, and prunes nothing.
    let down = dir.path().join("no-server");
    std::fs::create_dir(&down).unwrap();
    let failing = dir.path().join("down.toml");
    write_config(
        &failing,
        &format!(
            "[jobs.shop]\ndestination = \"backups\"\nsource = {{ host = \"{}\", port = {}, dbname = \"{}\" }}\n\
             retention = {{ keep_last = 1 }}\n",
            down.display(),
            db.cluster.port,
            db.name
        ),
    );
    let o = pgsnap(&["run", "shop", "-c", failing.to_str().unwrap()], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("job \"shop\" failed:"), "{}", err(&o));
    assert!(err(&o).contains("nothing pruned"), "{}", err(&o));
    assert_eq!(archives(&dest, ".dump").len(), 2, "a failed run prunes nothing");
    let recs = records(&dest);
    assert_eq!(recs.len(), 3);
    let failed = &recs[2];
    assert_eq!(failed["outcome"], "failed");
    assert!(failed.get("archive").is_none());
    assert!(!failed["error"].as_str().unwrap().is_empty());
    // Every run is in the state database too (beside the configuration here: the tests
    // point XDG_STATE_HOME there), the failed one with its error.
    let rows = state_rows(&dir.path().join("pgsnap/state.db"), "shop");
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert!(
        rows[..4].iter().all(|r| r == &("manual".into(), "succeeded".into())),
        "{rows:?}"
    );
    assert_eq!(rows[4].1, "failed");

    // backups list: the three runs, newest first, with retention's decision.
    let o = pgsnap(
        &["backups", "list", "shop", "-c", failing.to_str().unwrap(), "--json"],
        "",
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let listed: Vec<serde_json::Value> = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0]["outcome"], "failed");
    assert_eq!(listed[1]["retention"]["rules"], serde_json::json!(["last"]));
    assert_eq!(listed[2]["retention"]["keep"], false);
    let o = pgsnap(&["backups", "list", "-c", failing.to_str().unwrap()], "");
    let text = out(&o);
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.lines().next().unwrap().contains(" failed - - error: "), "{text}");

    // prune --dry-run says what it would delete and deletes nothing; prune deletes it.
    let o = pgsnap(
        &["backups", "prune", "shop", "--dry-run", "-c", failing.to_str().unwrap()],
        "",
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = out(&o);
    assert!(text.contains("would forget "), "{text}");
    assert!(text.contains("job shop: would delete 1 backup(s)"), "{text}");
    assert_eq!(archives(&dest, ".dump").len(), 2);
    let o = pgsnap(&["backups", "prune", "shop", "-c", failing.to_str().unwrap()], "");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("job shop: deleted 1 backup(s)"), "{}", out(&o));
    assert_eq!(archives(&dest, ".dump"), [recs[1]["archive"].as_str().unwrap()]);

    let o = pgsnap(&["run", "nosuchjob", "-c", cfg], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("no job named \"nosuchjob\""), "{}", err(&o));
}

/// A tier: selected tables, a parallel directory archive, schema-only plain SQL beside it.
#[test]
fn selective_directory_and_schema_only_jobs() {
    let db = TestDb::new(
        MAJOR,
        "jobs_tiers",
        "CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 300);
         CREATE TABLE payments (id int); INSERT INTO payments SELECT generate_series(1, 30);
         CREATE TABLE audit_log (id int); INSERT INTO audit_log SELECT generate_series(1, 3);",
    );
    let dir = Scratch::new("pgsnap-jobs");
    let config = dir.path().join("pgsnap.toml");
    let source = format!(
        "source = {{ conninfo = \"host={} port={} user=postgres dbname={}\" }}",
        db.cluster.socket_dir().display(),
        db.cluster.port,
        db.name
    );
    write_config(
        &config,
        &format!(
            "[jobs.critical]\ndestination = \"critical\"\nformat = \"directory\"\nparallel = 2\n{source}\n\
             select = {{ tables = [\"public.orders\", \"public.pay*\"] }}\n\n\
             [jobs.schema]\ndestination = \"schema\"\nformat = \"plain\"\ncontent = \"schema-only\"\n\
             owners = false\nprivileges = false\n{source}\nselect = {{ exclude_tables = [\"*_log\"] }}\n"
        ),
    );
    let cfg = config.to_str().unwrap();
    let o = pgsnap(&["run", "critical", "-c", cfg], "");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let dirs = archives(&dir.path().join("critical"), ".dir");
    assert_eq!(dirs.len(), 1);
    let archive = dir.path().join("critical").join(&dirs[0]);
    let o = db.cluster.tool("pg_restore").arg("-l").arg(&archive).output().unwrap();
    let toc = out(&o);
    assert!(toc.contains("TABLE DATA public orders"), "{toc}");
    assert!(toc.contains("TABLE DATA public payments"), "{toc}");
    assert!(!toc.contains("audit_log"), "{toc}");
    let rec = &records(&dir.path().join("critical"))[0];
    assert!(rec["files"].as_array().unwrap().len() >= 3, "{rec}");

    let o = pgsnap(&["run", "schema", "-c", cfg], "");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let sql_files = archives(&dir.path().join("schema"), ".sql");
    let sql = std::fs::read_to_string(dir.path().join("schema").join(&sql_files[0])).unwrap();
    assert!(sql.contains("CREATE TABLE public.orders"), "{sql}");
    assert!(!sql.contains("audit_log"));
    assert!(!sql.contains("OWNER TO"));
    assert!(!sql.contains("COPY "));
}

/// Pre-deployment backups: tag, pin with expiry, `--until-next` released only by the next
/// success, the job's own rotation untouched, non-zero exit on failure.
#[test]
fn predeploy_pins_tags_and_releases() {
    let db = TestDb::new(
        MAJOR,
        "jobs_predeploy",
        "CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 40);
         CREATE TABLE payments (id int); INSERT INTO payments SELECT generate_series(1, 4);",
    );
    let dir = Scratch::new("pgsnap-jobs");
    let dest = dir.path().join("app");
    let config = dir.path().join("pgsnap.toml");
    let job = |host: &Path| {
        format!(
            "[jobs.app]\ndestination = \"app\"\nsource = {{ host = \"{}\", port = {}, user = \"postgres\", dbname = \"{}\" }}\n\
             retention = {{ keep_last = 1 }}\n",
            host.display(),
            db.cluster.port,
            db.name
        )
    };
    write_config(&config, &job(&db.cluster.socket_dir()));
    let cfg = config.to_str().unwrap();
    let by_tag = |tag: &str| -> serde_json::Value {
        records(&dest)
            .into_iter()
            .find(|r| r["pin"]["tag"] == tag)
            .unwrap_or_else(|| panic!("no record tagged {tag}"))
    };

    let o = pgsnap(&["run", "app", "-c", cfg], "");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));

    // Schema migration of one table: that table, kept 48 h.
    let o = pgsnap(
        &[
            "predeploy",
            "app",
            "--tag",
            "mig-1",
            "--keep",
            "48h",
            "-t",
            "orders",
            "-c",
            cfg,
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = out(&o);
    assert!(text.contains("pinned as \"mig-1\" until "), "{text}");
    let mig = by_tag("mig-1");
    assert_eq!(mig["trigger"], "predeploy");
    // The state database has both runs, with their triggers.
    assert_eq!(
        state_rows(&dir.path().join("pgsnap/state.db"), "app"),
        [
            ("manual".to_string(), "succeeded".to_string()),
            ("predeploy".to_string(), "succeeded".to_string())
        ]
    );
    let until: jiff::Timestamp = mig["pin"]["until"].as_str().unwrap().parse().unwrap();
    let started: jiff::Timestamp = mig["started"].as_str().unwrap().parse().unwrap();
    let hours = until.duration_since(started).as_secs_f64() / 3600.0;
    assert!((47.9..48.1).contains(&hours), "{hours}");
    let toc = out(&db
        .cluster
        .tool("pg_restore")
        .arg("-l")
        .arg(dest.join(mig["archive"].as_str().unwrap()))
        .output()
        .unwrap());
    assert!(toc.contains("TABLE DATA public orders"), "{toc}");
    assert!(!toc.contains("payments"), "{toc}");
    // keep_last 1 of the job's regular backups is not displaced by the pre-deploy one.
    assert_eq!(archives(&dest, ".dump").len(), 2);

    // Major releases: kept until the next successful release.
    let o = pgsnap(&["predeploy", "app", "--tag", "v1", "--until-next", "-c", cfg], "");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        out(&o).contains("until the next successful predeploy --until-next"),
        "{}",
        out(&o)
    );
    assert!(by_tag("v1")["pin"].get("until").is_none());
    let v1_archive = by_tag("v1")["archive"].as_str().unwrap().to_string();

    // A failed release backup exits 1 and releases nothing.
    let down = dir.path().join("no-server");
    std::fs::create_dir(&down).unwrap();
    let failing = dir.path().join("down.toml");
    write_config(&failing, &job(&down));
    let o = pgsnap(
        &[
            "predeploy",
            "app",
            "--tag",
            "v2",
            "--until-next",
            "-c",
            failing.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(err(&o).contains("failed"), "{}", err(&o));
    assert!(by_tag("v1")["pin"].get("until").is_none());
    assert!(dest.join(&v1_archive).exists());

    // The next successful release releases v1, which is then pruned.
    let o = pgsnap(&["predeploy", "app", "--tag", "v2", "--until-next", "-c", cfg], "");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = out(&o);
    assert!(
        text.contains(&format!("released the pin of {v1_archive} (tag v1)")),
        "{text}"
    );
    assert!(text.contains(&format!("forget {v1_archive} ")), "{text}");
    assert!(!dest.join(&v1_archive).exists());
    let listed = out(&pgsnap(&["backups", "list", "app", "-c", cfg], ""));
    assert!(listed.contains("keep pinned"), "{listed}");

    // Expiry: once mig-1's pin has run out (its record says so), prune deletes it.
    let mut mig = by_tag("mig-1");
    let mig_archive = mig["archive"].as_str().unwrap().to_string();
    mig["pin"]["until"] = "2020-01-01T00:00:00Z".into();
    let rec_path = dest.join(mig_archive.replace(".dump", ".json"));
    std::fs::write(&rec_path, serde_json::to_string(&mig).unwrap()).unwrap();
    let o = pgsnap(&["backups", "prune", "app", "-c", cfg], "");
    assert!(out(&o).contains(&format!("forget {mig_archive} ")), "{}", out(&o));
    assert!(!dest.join(&mig_archive).exists());
    // Left: the regular backup and v2.
    assert_eq!(archives(&dest, ".dump").len(), 2);

    let o = pgsnap(
        &[
            "predeploy",
            "app",
            "--tag",
            "x",
            "--keep",
            "48h",
            "--until-next",
            "-c",
            cfg,
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(1));
}

fn git(repo: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .env_remove("GIT_DIR")
        .output()
        .expect("git is needed by this test (scripts/provision installs it)");
    assert!(o.status.success(), "git {args:?}: {}", err(&o));
    out(&o)
}

fn commits(repo: &Path) -> usize {
    git(repo, &["rev-list", "--count", "HEAD"]).trim().parse().unwrap()
}

/// Sessions of `db` waiting for a lock (the dumps queued behind the test's lock).
fn lock_waiters(cluster: &Cluster, db: &str) -> usize {
    cluster
        .psql(
            "postgres",
            &format!(
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
                 WHERE NOT l.granted AND d.datname = '{db}'"
            ),
        )
        .trim()
        .parse()
        .unwrap()
}

/// A data-only archive and a schema-only SQL file from one snapshot: both dumps wait behind
/// a lock the test holds while it changes the database, and neither sees the change. The
/// schema file goes into a git work tree: committed when it changed, not when it did not,
/// its diff showing the change; a path that is not a work tree fails the run but keeps a
/// good backup; pruning takes the schema files with their archives.
#[test]
fn schema_file_from_the_archives_snapshot_committed_to_git_when_changed() {
    let db = TestDb::new(
        MAJOR,
        "jobs_schema",
        "CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 100);
         GRANT SELECT ON orders TO PUBLIC;
         CREATE TABLE blocker (id int);",
    );
    let dir = Scratch::new("pgsnap-jobs");
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q"]);
    let dest = dir.path().join("backups");
    let config = dir.path().join("pgsnap.toml");
    let job = |work_tree: &str| {
        format!(
            "[jobs.shop]\ndestination = \"backups\"\ncontent = \"data-only\"\nformat = \"custom\"\n\
             source = {{ host = \"{}\", port = {}, user = \"postgres\", dbname = \"{}\" }}\n\
             retention = {{ keep_last = 2 }}\n\
             [jobs.shop.schema_file]\nowners = false\nprivileges = false\n\
             [jobs.shop.schema_file.git]\nwork_tree = \"{work_tree}\"\nfile = \"db/schema.sql\"\n\
             author = \"Schema Bot <bot@example.com>\"\n",
            db.cluster.socket_dir().display(),
            db.cluster.port,
            db.name
        )
    };
    write_config(&config, &job("repo"));
    let cfg = config.to_str().unwrap();

    // Run 1: the test holds blocker's lock; once both dumps wait behind it (so both are
    // under their snapshot), a table is created and rows are added, then the lock goes.
    let mut holder = db
        .cluster
        .tool("psql")
        .args(["-X", "-q", "-d", &db.name, "-c"])
        .arg("BEGIN; LOCK TABLE blocker IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600);")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let holder_pid = {
        let end = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let pid = db.cluster.psql(
                "postgres",
                &format!(
                    "SELECT pid FROM pg_stat_activity WHERE datname = '{}' AND query LIKE '%pg_sleep(600)%' \
                     AND pid <> pg_backend_pid()",
                    db.name
                ),
            );
            if !pid.trim().is_empty() {
                break pid.trim().to_string();
            }
            assert!(std::time::Instant::now() < end, "the lock holder did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    let mut run = Command::new(env!("CARGO_BIN_EXE_pgsnap"))
        .args(["run", "shop", "-c", cfg])
        .env("XDG_STATE_HOME", dir.path())
        .env("TZ", "UTC")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let end = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while lock_waiters(&db.cluster, &db.name) < 2 {
        assert!(
            std::time::Instant::now() < end && run.try_wait().unwrap().is_none(),
            "the archive and schema dumps did not both wait for the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    db.psql("CREATE TABLE late (id int); INSERT INTO orders SELECT generate_series(101, 150);");
    db.cluster
        .psql("postgres", &format!("SELECT pg_terminate_backend({holder_pid})"));
    let _ = holder.wait();
    let o = run.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));

    let recs = records(&dest);
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(r["outcome"], "succeeded");
    assert_eq!(r["content"], "data-only");
    assert!(!r["snapshot"].as_str().unwrap().is_empty(), "{r}");
    assert!(
        r["snapshot_time"].as_str().unwrap().parse::<jiff::Timestamp>().is_ok(),
        "{r}"
    );
    // The archive has the rows of the snapshot: not the 50 added while the dumps waited.
    assert_eq!(r["rows"], 100, "{r}");
    let schema = &r["schema"];
    let schema_path = dest.join(schema["file"].as_str().unwrap());
    assert_eq!(schema["sha256"], sha256sum(&schema_path));
    assert_eq!(schema["size"], std::fs::metadata(&schema_path).unwrap().len());
    assert_eq!(schema["owners"], false);
    let sql = std::fs::read_to_string(&schema_path).unwrap();
    assert!(sql.contains("CREATE TABLE public.orders"), "{sql}");
    assert!(
        !sql.contains("late"),
        "the schema file saw a table created after its snapshot:\n{sql}"
    );
    for absent in ["OWNER TO", "GRANT ", "COPY ", "\\restrict"] {
        assert!(!sql.contains(absent), "{absent}:\n{sql}");
    }
    // The archive holds data only, of the same tables.
    let archive = dest.join(r["archive"].as_str().unwrap());
    let toc = out(&db.cluster.tool("pg_restore").arg("-l").arg(&archive).output().unwrap());
    assert!(toc.contains("TABLE DATA public orders"), "{toc}");
    assert!(!toc.contains("late"), "{toc}");
    // Committed: the work tree's file is the schema file, the message names job, database
    // and snapshot time.
    let g = &schema["git"];
    assert_eq!(g["committed"], true, "{r}");
    assert_eq!(g["commit"].as_str().unwrap(), git(&repo, &["rev-parse", "HEAD"]).trim());
    assert_eq!(commits(&repo), 1);
    assert_eq!(std::fs::read(repo.join("db/schema.sql")).unwrap(), sql.as_bytes());
    let message = git(&repo, &["log", "-1", "--format=%an <%ae>%n%B"]);
    assert!(message.starts_with("Schema Bot <bot@example.com>\n"), "{message}");
    assert!(message.contains("job shop"), "{message}");
    assert!(message.contains(&db.name), "{message}");
    assert!(message.contains(r["snapshot_time"].as_str().unwrap()), "{message}");

    // Run 2 sees the new table: a commit whose diff adds it.
    let o = pgsnap(&["run", "shop", "-c", cfg], "");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(commits(&repo), 2);
    let diff = git(&repo, &["show", "HEAD", "--format=", "--", "db/schema.sql"]);
    assert!(diff.contains("+CREATE TABLE public.late"), "{diff}");
    // Run 3, nothing changed: the same bytes, no commit.
    let o = pgsnap(&["run", "shop", "-c", cfg], "");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(commits(&repo), 2, "an unchanged schema made a commit");
    let recs = records(&dest);
    let (r2, r3) = (&recs[recs.len() - 2], &recs[recs.len() - 1]);
    assert_eq!(r3["schema"]["git"]["committed"], false, "{r3}");
    assert_eq!(
        r3["schema"]["sha256"], r2["schema"]["sha256"],
        "the schema file is not deterministic"
    );
    assert_eq!(r3["schema"]["git"]["commit"], r2["schema"]["git"]["commit"]);
    // A DDL change: a commit showing it.
    db.psql("ALTER TABLE orders ADD COLUMN note text");
    let o = pgsnap(&["run", "shop", "-c", cfg], "");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(commits(&repo), 3);
    let diff = git(&repo, &["show", "HEAD", "--format=", "--", "db/schema.sql"]);
    assert!(diff.contains("+    note text"), "{diff}");
    // keep_last 2: the pruned runs' schema files went with their archives.
    assert_eq!(archives(&dest, ".dump").len(), 2);
    assert_eq!(archives(&dest, ".schema.sql").len(), 2, "{:?}", archives(&dest, ""));

    // Not a work tree: the run fails (exit 1, the reason named), its archive is good and is
    // counted as a backup.
    let plain = dir.path().join("not-a-repo");
    std::fs::create_dir(&plain).unwrap();
    write_config(&config, &job("not-a-repo"));
    let o = pgsnap(&["run", "shop", "-c", cfg], "");
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(err(&o).contains("is not a git work tree"), "{}", err(&o));
    let recs = records(&dest);
    let failed = recs.last().unwrap();
    assert_eq!(failed["outcome"], "failed");
    assert_eq!(failed["failed_step"], "git");
    assert!(
        failed["schema"]["git"]["error"]
            .as_str()
            .unwrap()
            .contains("not a git work tree")
    );
    let o = pgsnap(&["backups", "list", "shop", "-c", cfg, "--json"], "");
    let listed: Vec<serde_json::Value> = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(listed[0]["archive"], failed["archive"]);
    assert_eq!(listed[0]["retention"]["keep"], true, "{}", listed[0]);
}
