//! `pgsnap daemon` end to end with the built binary and a real (private) cluster, on a
//! schedule of a few seconds: runs fire on time and rotate; a run still going when its next
//! fire time comes makes that turn skipped, never overlapping (a dump is held up by a lock
//! the test holds); a second daemon on the same state refuses the jobs; SIGTERM lets a
//! running dump finish within the grace period; after a restart a missed run is run once
//! (`run-once`) or recorded as skipped (`skip`); a server that goes down gives a failed run
//! and the next run after it returns succeeds; a bad configuration on SIGHUP is refused and
//! a good one changes the schedule; SIGTERM past the grace period cancels the dump and
//! leaves no half backup listed. The state database is read directly.

mod support;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use support::{Cluster, Scratch};

const MAJOR: u32 = 17;

fn pgsnap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgsnap"))
        .args(args)
        .env_remove("PG_COLOR")
        .env_remove("PGSNAP_CONFIG")
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// A daemon process with its stderr in a file (read while it runs).
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(config: &Path, log: PathBuf) -> Daemon {
        let child = Command::new(env!("CARGO_BIN_EXE_pgsnap"))
            .args(["daemon", "-c"])
            .arg(config)
            .env_remove("PG_COLOR")
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Daemon { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, name: &str) {
        let o = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .output()
            .unwrap();
        assert!(o.status.success());
    }

    /// Waits for the process to end; its exit code.
    fn wait(&mut self, limit: Duration) -> Option<i32> {
        let end = Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code();
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                panic!("daemon still running after {limit:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone)]
struct Run {
    job: String,
    trigger: String,
    scheduled_for: Option<Timestamp>,
    started: Timestamp,
    finished: Option<Timestamp>,
    outcome: String,
    error: Option<String>,
    record_path: Option<String>,
}

fn runs(state: &Path, job: &str) -> Vec<Run> {
    if !state.join("state.db").exists() {
        return Vec::new();
    }
    let c = rusqlite::Connection::open(state.join("state.db")).unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    // The daemon creates the file before its tables: looked at in between, it has no runs.
    let Ok(mut s) = c.prepare(
        "SELECT job, trigger, scheduled_for, started, finished, outcome, error, record_path
         FROM runs WHERE job = ?1 ORDER BY started_ms, id",
    ) else {
        return Vec::new();
    };
    let ts = |v: Option<String>| v.map(|s| s.parse::<Timestamp>().unwrap());
    s.query_map([job], |r| {
        Ok(Run {
            job: r.get(0)?,
            trigger: r.get(1)?,
            scheduled_for: ts(r.get(2)?),
            started: r.get::<_, String>(3)?.parse().unwrap(),
            finished: ts(r.get(4)?),
            outcome: r.get(5)?,
            error: r.get(6)?,
            record_path: r.get(7)?,
        })
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>, log: &dyn Fn() -> String) -> T {
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}\n{}", log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A transaction holding an ACCESS EXCLUSIVE lock on `slow`: a dump of it waits until it ends.
struct TableLock {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl TableLock {
    fn take(cluster: &Cluster, db: &str) -> TableLock {
        let mut child = cluster
            .tool("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"BEGIN;\nLOCK TABLE slow IN ACCESS EXCLUSIVE MODE;\n")
            .unwrap();
        stdin.flush().unwrap();
        let held = || {
            (cluster
                .psql(
                    db,
                    "SELECT count(*) FROM pg_locks WHERE relation = 'slow'::regclass \
                     AND mode = 'AccessExclusiveLock' AND granted",
                )
                .trim()
                == "1")
                .then_some(())
        };
        wait_for("the lock on slow", Duration::from_secs(10), held, &String::new);
        TableLock {
            child,
            stdin: Some(stdin),
        }
    }

    fn release(mut self) {
        let mut stdin = self.stdin.take().unwrap();
        stdin.write_all(b"COMMIT;\n").unwrap();
        drop(stdin);
        assert!(self.child.wait().unwrap().success());
    }
}

impl Drop for TableLock {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Some session of ours waits for a lock on the database (a dump held up).
fn dump_waiting(cluster: &Cluster, db: &str) -> Option<()> {
    let n = cluster.psql(
        "postgres",
        &format!("SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}' AND wait_event_type = 'Lock'"),
    );
    (n.trim() != "0").then_some(())
}

fn config(cluster: &Cluster, db: &str, fast: &str, grace: &str) -> String {
    let source = format!(
        "source = {{ host = \"{}\", port = {}, user = \"postgres\", dbname = \"{db}\" }}",
        cluster.socket_dir().display(),
        cluster.port
    );
    format!(
        "[daemon]\nstate_dir = \"state\"\ngrace_period = \"{grace}\"\n\n\
         [jobs.fast]\nschedule = \"{fast}\"\ndestination = \"backups\"\n{source}\n\
         retention = {{ keep_last = 2 }}\n\n\
         [jobs.schema]\nschedule = \"*/3 * * * * *\"\nmissed = \"skip\"\njitter = \"800ms\"\n\
         content = \"schema-only\"\n\
         format = \"plain\"\ndestination = \"schema\"\n{source}\n\
         select = {{ exclude_tables = [\"slow\"] }}\nretention = {{ keep_last = 1 }}\n"
    )
}

/// The archives listed in a destination (names not starting with a dot), sorted.
fn visible(dest: &Path, ext: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dest)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(ext) && !n.starts_with('.'))
        .collect();
    v.sort();
    v
}

fn partials(dest: &Path) -> Vec<String> {
    std::fs::read_dir(dest)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".partial"))
        .collect()
}

fn scheduled_successes_after(state: &Path, t: Timestamp) -> Vec<Run> {
    runs(state, "fast")
        .into_iter()
        .filter(|r| r.trigger == "schedule" && r.outcome == "succeeded" && r.started > t)
        .collect()
}

/// Waits until the clock is 0.2–0.6 s past an even second.
fn just_after_an_even_second() {
    loop {
        let now = Timestamp::now();
        let ms = now.as_second().rem_euclid(2) * 1000 + i64::from(now.subsec_millisecond());
        if (200..600).contains(&ms) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn daemon_schedules_rotates_skips_overlaps_recovers_and_stops_cleanly() {
    let cluster = Cluster::private(MAJOR);
    let db = cluster.create_database(
        "daemon",
        "CREATE TABLE t AS SELECT g AS id, 'row ' || g AS note FROM generate_series(1, 2000) g;
         CREATE TABLE slow (id int); INSERT INTO slow VALUES (1);",
    );
    let dir = Scratch::new("pgsnap-daemon");
    let cfg = dir.path().join("pgsnap.toml");
    let state = dir.path().join("state");
    let dest = dir.path().join("backups");
    std::fs::write(&cfg, config(&cluster, &db, "*/2 * * * * *", "30s")).unwrap();
    let cfg_s = cfg.to_str().unwrap();

    // 1. On time, rotated to two.
    let t0 = Timestamp::now();
    let mut d = Daemon::start(&cfg, dir.path().join("d1.log"));
    let log1 = d.log.clone();
    let log = move || std::fs::read_to_string(&log1).unwrap_or_default();
    wait_for(
        "three scheduled backups",
        Duration::from_secs(20),
        || (scheduled_successes_after(&state, t0).len() >= 3).then_some(()),
        &log,
    );
    let text = log();
    assert!(text.contains("pgsnap: daemon started: 2 job(s) scheduled"), "{text}");
    assert!(
        text.contains("pgsnap: job \"fast\": schedule \"*/2 * * * * *\" (UTC), next run at "),
        "{text}"
    );
    assert!(
        !text.contains("\x1b["),
        "no colour when stderr is not a terminal: {text}"
    );
    let mut checked = 0;
    for r in scheduled_successes_after(&state, t0) {
        let fire = r.scheduled_for.expect("a scheduled run names its fire time");
        assert_eq!(fire.as_second() % 2, 0, "{r:?}");
        assert_eq!(fire.subsec_nanosecond(), 0, "{r:?}");
        let late = r.started.duration_since(fire);
        assert!(
            late >= jiff::SignedDuration::ZERO && late < jiff::SignedDuration::from_millis(1500),
            "started {late:?} after its fire time: {r:?}"
        );
        // The JSON record beside the backup says the same (those rotation kept).
        if let Ok(text) = std::fs::read_to_string(r.record_path.as_ref().unwrap()) {
            let rec: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(rec["trigger"], "schedule");
            assert_eq!(rec["outcome"], "succeeded");
            assert_eq!(rec["job"], r.job);
            checked += 1;
        }
    }
    assert!(checked >= 1);
    wait_for(
        "rotation to two backups",
        Duration::from_secs(5),
        || (visible(&dest, ".dump").len() == 2).then_some(()),
        &log,
    );

    // 2. A dump held up by a lock: the fire times that come meanwhile are skipped; no
    //    two runs of the job overlap.
    let lock = TableLock::take(&cluster, &db);
    wait_for(
        "a dump waiting for the lock",
        Duration::from_secs(10),
        || dump_waiting(&cluster, &db),
        &log,
    );
    let t_lock = Timestamp::now();
    wait_for(
        "two skipped turns",
        Duration::from_secs(10),
        || {
            let skipped = runs(&state, "fast")
                .into_iter()
                .filter(|r| r.outcome == "skipped" && r.started > t_lock)
                .count();
            (skipped >= 2).then_some(())
        },
        &log,
    );
    lock.release();
    wait_for(
        "the held-up run to succeed",
        Duration::from_secs(10),
        || {
            runs(&state, "fast")
                .into_iter()
                .any(|r| r.outcome == "succeeded" && r.finished.unwrap() > t_lock)
                .then_some(())
        },
        &log,
    );
    let all = runs(&state, "fast");
    for r in all.iter().filter(|r| r.outcome == "skipped") {
        assert!(r.error.as_deref().unwrap().contains("is still going"), "{r:?}");
    }
    let ran: Vec<&Run> = all.iter().filter(|r| r.outcome != "skipped").collect();
    for w in ran.windows(2) {
        assert!(
            w[1].started >= w[0].finished.unwrap(),
            "overlapping runs:\n{:?}\n{:?}",
            w[0],
            w[1]
        );
    }

    // 3. A second daemon on the same state refuses both jobs, and so has nothing to do.
    let mut d2 = Daemon::start(&cfg, dir.path().join("d2.log"));
    assert_eq!(d2.wait(Duration::from_secs(10)), Some(1));
    let text2 = d2.log();
    assert!(
        text2.contains("job \"fast\" not scheduled: job \"fast\" is scheduled by another pgsnap daemon")
            && text2.contains(&format!("(process {})", d.child.id())),
        "{text2}"
    );
    assert!(text2.contains("pgsnap: error: no job to schedule"), "{text2}");
    assert!(d.running());

    // 4. SIGTERM while a dump is held up: it may finish within the grace period, and does.
    let lock = TableLock::take(&cluster, &db);
    wait_for(
        "a dump waiting for the lock",
        Duration::from_secs(10),
        || dump_waiting(&cluster, &db),
        &log,
    );
    let t_term = Timestamp::now();
    d.signal("TERM");
    std::thread::sleep(Duration::from_millis(700));
    assert!(d.running(), "the daemon waits for the running dump\n{}", log());
    lock.release();
    assert_eq!(d.wait(Duration::from_secs(15)), Some(0), "{}", log());
    let text = log();
    assert!(
        text.contains("SIGTERM received: stopping; ") && text.contains("running backup(s) may finish within 30s"),
        "{text}"
    );
    let last = runs(&state, "fast").pop().unwrap();
    assert_eq!(last.outcome, "succeeded", "{last:?}");
    assert!(last.finished.unwrap() > t_term);
    let stopped = Timestamp::now();

    // 5. Down for over two fire times: `fast` (run-once) catches up once, at start;
    //    `schema` (skip) records the missed run as skipped.
    std::thread::sleep(Duration::from_millis(4500));
    // Restarted just after one of `fast`'s fire times (even seconds), so the daemon is up long
    // before the next: no fire falls between `t_restart` and its start, where it would be
    // caught up as the latest missed one although it is after `t_restart`.
    just_after_an_even_second();
    let t_restart = Timestamp::now();
    let mut d = Daemon::start(&cfg, dir.path().join("d3.log"));
    let log3 = d.log.clone();
    let log = move || std::fs::read_to_string(&log3).unwrap_or_default();
    let catch_up = wait_for(
        "the catch-up run",
        Duration::from_secs(5),
        || {
            runs(&state, "fast")
                .into_iter()
                .find(|r| r.started > t_restart && r.outcome == "succeeded")
        },
        &log,
    );
    let fire = catch_up.scheduled_for.unwrap();
    assert!(fire > stopped && fire < t_restart, "{catch_up:?}");
    assert!(
        catch_up.started.duration_since(t_restart) < jiff::SignedDuration::from_secs(2),
        "{catch_up:?}"
    );
    let missed: Vec<Run> = runs(&state, "fast")
        .into_iter()
        .filter(|r| r.scheduled_for.is_some_and(|f| f > stopped && f < t_restart))
        .collect();
    assert_eq!(missed.len(), 1, "one catch-up run however many were missed: {missed:?}");
    let skipped = runs(&state, "schema")
        .into_iter()
        .find(|r| r.started >= t_restart && r.outcome == "skipped")
        .expect("the schema job's missed run is recorded as skipped");
    assert!(
        skipped
            .error
            .unwrap()
            .contains("missed while the daemon was not running")
    );
    assert!(log().contains("running it once now"), "{}", log());

    // 6. The server goes down: a failed run is recorded (and its JSON record written); when
    //    it is back, the next run succeeds.
    cluster.stop();
    let t_down = Timestamp::now();
    let log_at_down = log().len();
    let failed = wait_for(
        "a failed run while the server is down",
        Duration::from_secs(10),
        || {
            runs(&state, "fast")
                .into_iter()
                .find(|r| r.started > t_down && r.outcome == "failed")
        },
        &log,
    );
    assert!(!failed.error.clone().unwrap().is_empty());
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(failed.record_path.unwrap()).unwrap()).unwrap();
    assert_eq!(rec["outcome"], "failed");
    assert!(log().contains("pgsnap: error: job \"fast\" failed: "), "{}", log());
    // Down past the second fire time after the last good backup, with no run going: the
    // job is overdue (the daemon says so once; status shows it).
    wait_for(
        "the overdue event",
        Duration::from_secs(10),
        || {
            log()[log_at_down..]
                .contains("pgsnap: warning: job \"fast\" is overdue: no successful run since ")
                .then_some(())
        },
        &log,
    );
    let o = pgsnap(&["status", "--json", "-c", cfg_s]);
    let st: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let fast = st.as_array().unwrap().iter().find(|j| j["job"] == "fast").unwrap();
    assert_eq!(fast["overdue"], true, "{st}");
    let o = pgsnap(&["status", "-c", cfg_s]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("  OVERDUE since "),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    cluster.start();
    let t_up = Timestamp::now();
    wait_for(
        "a successful run after the server is back",
        Duration::from_secs(10),
        || (!scheduled_successes_after(&state, t_up).is_empty()).then_some(()),
        &log,
    );

    // status: every job, from the state.
    let o = pgsnap(&["status", "--json", "-c", cfg_s]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let st: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let fast = st.as_array().unwrap().iter().find(|j| j["job"] == "fast").unwrap();
    assert_eq!(fast["schedule"], "*/2 * * * * *");
    assert_eq!(fast["daemon_pid"], d.child.id());
    assert_eq!(fast["overdue"], false);
    assert_eq!(fast["last_good"]["outcome"], "succeeded");
    assert_eq!(fast["last_good_present"], true);
    assert!(fast["next_run"].as_str().unwrap().parse::<Timestamp>().unwrap() > t_up);
    let o = pgsnap(&["status", "-c", cfg_s]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        text.contains("job fast: schedule \"*/2 * * * * *\" (UTC), scheduled by daemon"),
        "{text}"
    );
    assert!(text.contains("  last good: "), "{text}");

    // 7. SIGHUP with a bad configuration keeps the old one; with a good one, the new
    //    schedule (every 5 s) and grace period (1 s) apply.
    std::fs::write(&cfg, "[jobs.fast]\nschedul = \"* * * * *\"\n").unwrap();
    d.signal("HUP");
    wait_for(
        "the refused reload",
        Duration::from_secs(5),
        || log().contains("configuration not reloaded").then_some(()),
        &log,
    );
    assert!(log().contains("jobs.fast.schedul: unknown key"), "{}", log());
    let t_bad = Timestamp::now();
    wait_for(
        "runs going on under the old configuration",
        Duration::from_secs(6),
        || (!scheduled_successes_after(&state, t_bad).is_empty()).then_some(()),
        &log,
    );
    std::fs::write(&cfg, config(&cluster, &db, "*/5 * * * * *", "1s")).unwrap();
    d.signal("HUP");
    wait_for(
        "the reload",
        Duration::from_secs(5),
        || log().contains("configuration reloaded").then_some(()),
        &log,
    );
    let t_hup = Timestamp::now();
    let after = wait_for(
        "two runs on the new schedule",
        Duration::from_secs(14),
        || {
            let v: Vec<Run> = runs(&state, "fast")
                .into_iter()
                .filter(|r| r.trigger == "schedule" && r.started > t_hup)
                .collect();
            (v.len() >= 2).then_some(v)
        },
        &log,
    );
    for r in &after {
        assert_eq!(r.scheduled_for.unwrap().as_second() % 5, 0, "{after:?}");
    }
    assert_eq!(
        after[1].scheduled_for.unwrap().as_second() - after[0].scheduled_for.unwrap().as_second(),
        5,
        "{after:?}"
    );

    // 8. A manual run while the scheduled one goes is refused; SIGTERM past the 1 s grace
    //    period cancels the dump: a failed run, no partial output, no backup listed for it.
    let lock = TableLock::take(&cluster, &db);
    wait_for(
        "a dump waiting for the lock",
        Duration::from_secs(10),
        || dump_waiting(&cluster, &db),
        &log,
    );
    let o = pgsnap(&["run", "fast", "-c", cfg_s]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("job \"fast\" is already running"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let before = visible(&dest, ".dump");
    let t_term = Timestamp::now();
    d.signal("TERM");
    assert_eq!(d.wait(Duration::from_secs(15)), Some(0), "{}", log());
    assert!(log().contains("pgsnap: warning: cancelling "), "{}", log());
    let last = runs(&state, "fast").pop().unwrap();
    assert_eq!(last.outcome, "failed", "{last:?}");
    assert!(last.finished.unwrap() > t_term);
    assert_eq!(visible(&dest, ".dump"), before);
    assert!(partials(&dest).is_empty(), "{:?}", partials(&dest));
    let o = pgsnap(&["backups", "list", "fast", "--json", "-c", cfg_s]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(listed[0]["outcome"], "failed", "{listed:?}");
    assert!(listed[0].get("archive").is_none());
    lock.release();
    // `schema` starts each run up to 800 ms after its fire time (jitter), never before, and
    // not always at once.
    let late: Vec<i64> = runs(&state, "schema")
        .iter()
        .filter(|r| r.outcome != "skipped")
        .filter_map(|r| Some(r.started.duration_since(r.scheduled_for?).as_millis() as i64))
        .collect();
    assert!(late.len() >= 5, "{late:?}");
    assert!(late.iter().all(|ms| (0..1300).contains(ms)), "{late:?}");
    assert!(late.iter().any(|ms| *ms > 60), "{late:?}");
    // The daemon's lock is gone with it.
    let o = pgsnap(&["status", "--json", "-c", cfg_s]);
    let st: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(st[0].get("daemon_pid").is_none(), "{st}");
}

/// A scheduled test restore in the state: (ok, archive, tables, rows, error).
type RestoreRow = (bool, String, Option<i64>, Option<i64>, Option<String>);

/// Each scheduled test restore of `job`, oldest first.
fn restores(state: &Path, job: &str) -> Vec<RestoreRow> {
    if !state.join("state.db").exists() {
        return Vec::new();
    }
    let c = rusqlite::Connection::open(state.join("state.db")).unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    let Ok(mut s) =
        c.prepare("SELECT ok, archive, tables, rows, error FROM restores WHERE job = ?1 ORDER BY at_ms, id")
    else {
        return Vec::new();
    };
    s.query_map([job], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// `verify.restore.schedule`: the daemon test-restores the latest good backup on its own
/// schedule (the job has none for backups); a backup that fails it is marked, stops counting
/// as a backup (the next restore takes the good one before it), is kept while it is the
/// newest, and is pruned once a newer good backup exists. Evidence in the state and
/// `pgsnap status`.
#[test]
fn scheduled_test_restores_check_the_latest_good_backup_and_mark_failures() {
    let cluster = Cluster::shared(MAJOR);
    let db = cluster.create_database(
        "restores",
        "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 700) g;
         CREATE TABLE u AS SELECT g AS id FROM generate_series(1, 30) g;",
    );
    let dir = Scratch::new("pgsnap-daemon");
    let cfg = dir.path().join("pgsnap.toml");
    let state = dir.path().join("state");
    let dest = dir.path().join("backups");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nstate_dir = \"state\"\ngrace_period = \"5s\"\n\n\
             [jobs.checked]\ndestination = \"backups\"\n\
             source = {{ host = \"{host}\", port = {port}, user = \"postgres\", dbname = \"{db}\" }}\n\
             retention = {{ keep_last = 1 }}\n\
             [jobs.checked.verify.restore]\nhost = \"{host}\"\nport = {port}\nuser = \"postgres\"\n\
             pg_restore = \"{pg_restore}\"\nschedule = \"*/3 * * * * *\"\n",
            host = cluster.socket_dir().display(),
            port = cluster.port,
            pg_restore = support::pg_bin(MAJOR, "pg_restore").display(),
        ),
    )
    .unwrap();
    let cfg_s = cfg.to_str().unwrap();

    // Two backups; with a restore schedule, no test restore follows a run.
    for _ in 0..2 {
        let o = pgsnap(&["run", "checked", "--no-prune", "-c", cfg_s]);
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        std::thread::sleep(Duration::from_millis(1100));
    }
    let mut names = visible(&dest, ".dump");
    assert_eq!(names.len(), 2);
    let good = dest.join(names.remove(0));
    let broken = dest.join(names.remove(0));
    for n in visible(&dest, ".json") {
        let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dest.join(n)).unwrap()).unwrap();
        assert!(r.get("test_restore").is_none(), "{r}");
    }
    // The newer archive is damaged after its run.
    let len = std::fs::metadata(&broken).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&broken)
        .unwrap()
        .set_len(len / 2)
        .unwrap();

    let mut d = Daemon::start(&cfg, dir.path().join("d.log"));
    let log_path = d.log.clone();
    let log = move || std::fs::read_to_string(&log_path).unwrap_or_default();
    let seen = wait_for(
        "two scheduled test restores",
        Duration::from_secs(40),
        || {
            let r = restores(&state, "checked");
            (r.len() >= 2).then_some(r)
        },
        &log,
    );
    // The first took the newest backup and failed; the second the good one before it.
    assert!(!seen[0].0, "{seen:?}");
    assert_eq!(seen[0].1, broken.display().to_string());
    assert!(
        seen[0].4.as_deref().is_some_and(|e| e.contains("pg_restore failed")),
        "{seen:?}"
    );
    assert!(seen[1].0, "{seen:?}\n{}", log());
    assert_eq!(seen[1].1, good.display().to_string());
    assert_eq!((seen[1].2, seen[1].3), (Some(2), Some(730)), "{seen:?}");
    let text = log();
    assert!(
        text.contains("job \"checked\": test restore schedule \"*/3 * * * * *\" (UTC), next at "),
        "{text}"
    );
    assert!(text.contains("the backup no longer counts as a good backup"), "{text}");

    let o = pgsnap(&["status", "-c", cfg_s]);
    let status = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        status.contains("last test restore: ") && status.contains(" ok (2 table(s), 730 rows as in the manifest) of "),
        "{status}"
    );
    assert!(status.contains("next test restore: "), "{status}");
    d.signal("TERM");
    assert_eq!(d.wait(Duration::from_secs(20)), Some(0), "{}", log());
    // No scratch database left behind.
    let left = cluster.psql(
        "postgres",
        "SELECT count(*) FROM pg_database WHERE datname LIKE 'pgsnap\\_verify\\_checked\\_%'",
    );
    assert_eq!(left.trim(), "0");

    // The damaged backup is marked, not counted by retention, kept while it is the newest.
    let o = pgsnap(&["backups", "list", "checked", "-c", cfg_s]);
    let list = String::from_utf8_lossy(&o.stdout).into_owned();
    let broken_name = broken.file_name().unwrap().to_str().unwrap();
    let good_name = good.file_name().unwrap().to_str().unwrap();
    let line = list.lines().find(|l| l.contains(broken_name)).unwrap();
    assert!(
        line.contains("FAILED-CHECK not a backup, kept until a newer good backup exists: scheduled test restore at "),
        "{list}"
    );
    assert!(
        list.lines()
            .find(|l| l.contains(good_name))
            .unwrap()
            .ends_with("keep last"),
        "{list}"
    );
    let o = pgsnap(&["backups", "list", "checked", "--json", "-c", cfg_s]);
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(listed[0]["failed_check"]["superseded"], false, "{}", listed[0]);
    assert_eq!(listed[0]["restores"][0]["ok"], false, "{}", listed[0]);
    assert!(listed[0].get("retention").is_none(), "{}", listed[0]);

    // A new good backup: pruning forgets the older good one (keep_last 1) and the damaged one.
    let o = pgsnap(&["run", "checked", "-c", cfg_s]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        text.contains(&format!("forget {broken_name} ")) && text.contains("(failed check: scheduled test restore at "),
        "{text}"
    );
    assert!(text.contains(&format!("forget {good_name} ")), "{text}");
    assert_eq!(visible(&dest, ".dump").len(), 1, "{text}");
    assert!(!broken.exists() && !good.exists());
}
