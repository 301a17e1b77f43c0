//! Bad input and faults, each against a real server: one clear message naming what failed,
//! a non-zero exit, no archive left that looks complete, no server session left behind.

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{Cluster, Scratch, TestDb};

fn pgsnap() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pgsnap"));
    for v in ["PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD", "PGPASSFILE"] {
        c.env_remove(v);
    }
    c.stdin(Stdio::null());
    c
}

/// A fresh directory for one test's output, removed when the test passes (see `Scratch`).
fn out_dir() -> Scratch {
    Scratch::new("pgsnap-fault")
}

/// The application_name a test's dump of `db` runs under: tests share clusters, so each one
/// looks only at its own sessions.
fn app(db: &str) -> String {
    format!("pgsnap_{db}")
}

fn dump_cmd(c: &Cluster, db: &str, out: &Path) -> Command {
    let mut cmd = pgsnap();
    cmd.env("PGAPPNAME", app(db));
    cmd.args(["dump", "-Fd", "-h"]).arg(c.socket_dir());
    cmd.args(["-p", &c.port.to_string(), "-U", "postgres", "-f"])
        .arg(out)
        .arg(db);
    cmd
}

/// The failure contract: exit 1, a message containing `needle`, nothing at `out` that looks
/// like an archive, no temporary directory beside it.
fn assert_failed(res: &Output, out: &Path, needle: &str) {
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(
        res.status.code(),
        Some(1),
        "expected exit 1, got {:?}:\n{stderr}",
        res.status
    );
    assert!(
        stderr.to_lowercase().contains(&needle.to_lowercase()),
        "message should mention {needle:?}:\n{stderr}"
    );
    assert!(
        stderr.lines().filter(|l| l.contains("error")).count() == 1,
        "one clear message:\n{stderr}"
    );
    assert!(
        !out.join("toc.dat").exists(),
        "a failed dump must not leave a toc.dat at {}",
        out.display()
    );
    if let Some(parent) = out.parent() {
        for e in std::fs::read_dir(parent).into_iter().flatten().flatten() {
            assert!(
                !e.file_name().to_string_lossy().contains("pgsnap-tmp"),
                "temporary directory left: {:?}",
                e.path()
            );
        }
    }
}

/// No session of this test's dump of `db` stays connected.
fn assert_no_sessions(c: &Cluster, db: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let sql = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{}'",
        app(db)
    );
    loop {
        let n = c.psql("postgres", &sql);
        if n.trim() == "0" {
            return;
        }
        assert!(Instant::now() < deadline, "pgsnap sessions left on the server: {n}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn unreachable_host_fails_clearly() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let parent = out_dir();
    let out = parent.join("a");
    let res = pgsnap()
        .args([
            "dump",
            "-Fd",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "-f",
        ])
        .arg(&out)
        .arg("db")
        .output()
        .unwrap();
    assert_failed(&res, &out, "127.0.0.1");
    assert!(!out.exists());
}

#[test]
fn wrong_password_fails_clearly() {
    let db = TestDb::new(15, "pw", "CREATE TABLE t (x int)");
    let role = format!("pw_user_{}", std::process::id());
    db.psql(&format!(
        "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN PASSWORD 'right' IN ROLE {}; GRANT SELECT ON t TO {role}",
        support::PASSWORD_GROUP
    ));
    let parent = out_dir();
    let out = parent.join("a");
    // Password authentication applies over TCP to members of the harness's password group.
    let over_tcp = |password: Option<&str>| {
        let mut cmd = pgsnap();
        cmd.args([
            "dump",
            "-Fd",
            "-w",
            "-h",
            "127.0.0.1",
            "-p",
            &db.cluster.port.to_string(),
            "-U",
            &role,
            "-f",
        ]);
        cmd.arg(&out).arg(&db.name);
        if let Some(p) = password {
            cmd.env("PGPASSWORD", p);
        }
        cmd.output().unwrap()
    };
    let res = over_tcp(Some("wrong"));
    assert_failed(&res, &out, "password authentication failed");
    // No password at all, with -w: says what is missing and how to give it.
    let res = over_tcp(None);
    assert_failed(&res, &out, "requires a password and none was supplied");
    // The right password works over the same path.
    let res = over_tcp(Some("right"));
    assert!(res.status.success(), "{}", String::from_utf8_lossy(&res.stderr));
    db.psql(&format!("DROP OWNED BY {role}; DROP ROLE {role}"));
}

#[test]
fn missing_database_fails_clearly() {
    let c = Cluster::shared(15);
    let parent = out_dir();
    let out = parent.join("a");
    let res = dump_cmd(&c, "no_such_database_x", &out).output().unwrap();
    assert_failed(&res, &out, "no_such_database_x");
    assert_no_sessions(&c, "no_such_database_x");
}

#[test]
fn existing_nonempty_output_is_refused_and_untouched() {
    let db = TestDb::new(15, "exists", "CREATE TABLE t (x int)");
    let parent = out_dir();
    let out = parent.join("a");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("precious.txt"), "keep me").unwrap();
    let res = dump_cmd(&db.cluster, &db.name, &out).output().unwrap();
    assert!(!res.status.success());
    assert!(String::from_utf8_lossy(&res.stderr).contains(&out.display().to_string()));
    assert_eq!(std::fs::read_to_string(out.join("precious.txt")).unwrap(), "keep me");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
}

#[test]
fn unwritable_output_is_refused() {
    let db = TestDb::new(15, "unwritable", "CREATE TABLE t (x int)");
    let parent = out_dir();
    let file = parent.join("plainfile");
    std::fs::write(&file, "x").unwrap();
    let out = file.join("archive");
    let res = dump_cmd(&db.cluster, &db.name, &out).output().unwrap();
    assert_eq!(res.status.code(), Some(1), "{}", String::from_utf8_lossy(&res.stderr));
    assert!(String::from_utf8_lossy(&res.stderr).contains("archive"));
}

fn wait_for(c: &Cluster, db: &str, sql: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.psql(db, sql).trim() != "t" {
        assert!(Instant::now() < deadline, "timed out waiting for: {sql}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn exclusive_lock_with_lock_wait_timeout_fails_fast() {
    let db = TestDb::new(
        15,
        "lockwait",
        "CREATE TABLE locked (x int); INSERT INTO locked VALUES (1)",
    );
    let c = &db.cluster;
    let mut holder = c
        .tool("psql")
        .args([
            "-X",
            "-q",
            "-d",
            &db.name,
            "-c",
            "BEGIN; LOCK TABLE locked IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60)",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(
        c,
        &db.name,
        "SELECT count(*) > 0 FROM pg_locks WHERE relation = 'locked'::regclass AND mode = 'AccessExclusiveLock' AND granted",
    );
    let parent = out_dir();
    let out = parent.join("a");
    let started = Instant::now();
    let res = dump_cmd(c, &db.name, &out)
        .args(["--lock-wait-timeout", "1s"])
        .output()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(20));
    let _ = holder.kill();
    let _ = holder.wait();
    assert_failed(&res, &out, "lock");
    assert_no_sessions(c, &db.name);
}

/// A database whose `big` table keeps a dump busy for a while (plus `extra` SQL).
fn db_with_big_table(prefix: &str, extra: &str) -> TestDb {
    TestDb::new(
        15,
        prefix,
        &format!(
            "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1500000) g; {extra} ANALYZE;"
        ),
    )
}

/// Starts `pgsnap dump -j jobs` of `db` and returns once a worker is copying `big`; the
/// condition `when` (SQL over that worker's pg_stat_activity row) may also act on it.
fn start_dump_copying_big(db: &TestDb, out: &Path, jobs: &str, when: &str) -> std::process::Child {
    let child = dump_cmd(&db.cluster, &db.name, out)
        .args(["-j", jobs])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(
        &db.cluster,
        &db.name,
        &format!(
            "SELECT {when} FROM pg_stat_activity \
             WHERE application_name = 'pgsnap_' || current_database() AND state = 'active' AND query LIKE 'COPY %public.big%'"
        ),
    );
    child
}

/// Queues an ACCESS EXCLUSIVE lock on `table` (behind the dump leader's ACCESS SHARE) while
/// the dump `child` runs, and returns the dump's output once it ended, having failed.
fn wait_with_exclusive_lock_queued(db: &TestDb, child: std::process::Child, table: &str) -> Output {
    let mut locker = db
        .cluster
        .tool("psql")
        .args([
            "-X",
            "-q",
            "-d",
            &db.name,
            "-c",
            &format!("BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE; COMMIT;"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let res = child.wait_with_output().unwrap();
    let _ = locker.wait();
    if res.status.success() {
        panic!("the dump finished before the exclusive lock was queued; make `big` bigger");
    }
    res
}

#[test]
fn exclusive_lock_queued_during_the_dump_fails_instead_of_deadlocking() {
    // `big` keeps the single worker busy while another session queues an exclusive lock on
    // `small`, which the leader already holds ACCESS SHARE on: the worker's NOWAIT re-lock
    // must fail at once (pg_dump's deadlock avoidance), not wait behind the queue.
    let db = db_with_big_table("lockq", "CREATE TABLE small (x int); INSERT INTO small VALUES (1);");
    let c = &db.cluster;
    let parent = out_dir();
    let out = parent.join("a");
    let child = start_dump_copying_big(&db, &out, "1", "count(*) > 0");
    let res = wait_with_exclusive_lock_queued(&db, child, "small");
    assert_failed(&res, &out, "could not obtain lock on relation public.small");
    assert_no_sessions(c, &db.name);
}

#[test]
fn exclusive_lock_queued_on_a_table_sent_ahead_in_a_batch_names_that_table() {
    // After `big`, the worker sends the lock and COPY of the six small tables in one batch;
    // the fourth's NOWAIT lock fails behind the queued exclusive lock: the dump fails naming
    // it, after the three before it were read, and leaves nothing behind.
    let small: String = (1..=6)
        .map(|i| format!("CREATE TABLE s{i} (x int); INSERT INTO s{i} VALUES ({i});"))
        .collect();
    let db = db_with_big_table("lockb", &small);
    let c = &db.cluster;
    let parent = out_dir();
    let out = parent.join("a");
    let child = start_dump_copying_big(&db, &out, "1", "count(*) > 0");
    let res = wait_with_exclusive_lock_queued(&db, child, "s4");
    assert_failed(&res, &out, "could not obtain lock on relation public.s4");
    assert_no_sessions(c, &db.name);
}

#[test]
fn terminated_worker_fails_the_dump() {
    let db = db_with_big_table("term", "");
    let c = &db.cluster;
    let parent = out_dir();
    let out = parent.join("a");
    let child = start_dump_copying_big(&db, &out, "2", "count(pg_terminate_backend(pid)) > 0");
    let res = child.wait_with_output().unwrap();
    assert_failed(&res, &out, "public.big");
    assert_no_sessions(c, &db.name);
}

#[test]
fn terminated_leader_stops_the_dump_at_once() {
    // One worker copies `big` (a few seconds of COPY) while the leader idles in its
    // transaction; the leader is the dump's one session not running COPY.
    let db = db_with_big_table("leader", "");
    let c = &db.cluster;
    let parent = out_dir();
    let out = parent.join("a");
    let child = start_dump_copying_big(&db, &out, "1", "count(*) > 0");
    let killed = c.psql(
        &db.name,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE application_name = 'pgsnap_' || current_database() AND query NOT LIKE 'COPY%'",
    );
    assert_eq!(killed.trim(), "1", "exactly the leader is terminated");
    let res = child.wait_with_output().unwrap();
    // Without the watchdog the worker copies on and the failure comes at COMMIT; with it,
    // the leader's loss is the one message and the worker's COPY was stopped.
    assert_failed(&res, &out, "leader connection");
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(
        stderr.contains("administrator command"),
        "the server's reason is given:\n{stderr}"
    );
    assert!(!stderr.contains("COMMIT"), "{stderr}");
    assert_no_sessions(c, &db.name);
}

#[test]
fn full_disk_fails_clearly_and_leaves_nothing() {
    let db = TestDb::new(
        15,
        "full",
        "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS v FROM generate_series(1, 300000) g;",
    );
    let c = &db.cluster;
    let mnt = out_dir();
    // A private 256 KiB tmpfs in a user+mount namespace (works as root and as a normal user).
    let script = r#"mount -t tmpfs -o size=256k tmpfs "$1" || exit 97; shift; "$@"; rc=$?; ls -A "$MNT" >&2; exit $rc"#;
    let res = Command::new("unshare")
        .args(["-rm", "sh", "-c", script, "sh"])
        .arg(&mnt)
        .arg(env!("CARGO_BIN_EXE_pgsnap"))
        .args(["dump", "-Fd", "-Z", "0", "-h"])
        .arg(c.socket_dir())
        .args(["-p", &c.port.to_string(), "-U", "postgres", "-f"])
        .arg(mnt.join("archive"))
        .arg(&db.name)
        .env("MNT", &mnt)
        .env("PGAPPNAME", app(&db.name))
        .output()
        .unwrap();
    assert_ne!(
        res.status.code(),
        Some(97),
        "could not mount a tmpfs: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no space left on device"), "{stderr}");
    // `ls -A` of the mount after the failure printed nothing: no archive, no temp dir.
    let after: Vec<&str> = stderr.lines().filter(|l| !l.contains("error")).collect();
    assert!(after.is_empty(), "left on the full disk: {after:?}");
    assert_no_sessions(c, &db.name);
}

#[test]
fn interrupt_stops_the_dump_and_leaves_nothing() {
    let db = db_with_big_table("sigint", "");
    let c = &db.cluster;
    let parent = out_dir();
    let out = parent.join("a");
    let child = start_dump_copying_big(&db, &out, "2", "count(*) > 0");
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let res = child.wait_with_output().unwrap();
    assert_failed(&res, &out, "interrupted");
    assert_no_sessions(c, &db.name);
}

/// A database with table `locked`, and a session holding ACCESS EXCLUSIVE on it until it is
/// killed: a dump of that database waits at its LOCK TABLE for as long as the test wants,
/// with its output already started (no sleeps racing the dump).
fn db_with_held_lock(prefix: &str) -> (TestDb, std::process::Child) {
    let db = TestDb::new(
        15,
        prefix,
        "CREATE TABLE locked (x int); INSERT INTO locked SELECT generate_series(1, 1000)",
    );
    let holder = db
        .cluster
        .tool("psql")
        .args([
            "-X",
            "-q",
            "-d",
            &db.name,
            "-c",
            "BEGIN; LOCK TABLE locked IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600)",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(
        &db.cluster,
        &db.name,
        "SELECT count(*) > 0 FROM pg_locks WHERE relation = 'locked'::regclass AND mode = 'AccessExclusiveLock' AND granted",
    );
    (db, holder)
}

/// Ends the lock holder of [`db_with_held_lock`]: its backend (killing psql alone would leave
/// the backend sleeping with the lock), then the client.
fn release_lock(db: &TestDb, mut holder: std::process::Child) {
    db.cluster.psql(
        &db.name,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE '%pg_sleep(600)%' AND pid <> pg_backend_pid()",
    );
    let _ = holder.wait();
}

/// Waits until this test's dump of `db` is blocked on a lock.
fn wait_for_dump_blocked(db: &TestDb) {
    wait_for(
        &db.cluster,
        &db.name,
        "SELECT count(*) > 0 FROM pg_stat_activity \
         WHERE application_name = 'pgsnap_' || current_database() AND wait_event_type = 'Lock'",
    );
}

/// pgsnap's temporaries in `dir`.
fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".pgsnap-"))
        .collect()
}

/// A dump in `format` blocked on a lock gets `signal`: exit 1, one message naming the
/// signal, no temporary output, no session of the dump left on the server.
fn signal_stops_the_dump(signal: &str, format: &str) {
    let (db, holder) = db_with_held_lock(&format!("sig{}", signal.to_lowercase()));
    let c = &db.cluster;
    let parent = out_dir();
    let out = parent.join("a");
    let mut cmd = dump_cmd(c, &db.name, &out);
    // The last -F wins, as in pg_dump.
    cmd.arg(format!("-F{format}"));
    let child = cmd.stderr(Stdio::piped()).spawn().unwrap();
    wait_for_dump_blocked(&db);
    assert!(
        !temporaries(&parent).is_empty(),
        "the blocked dump should have started its output in {}",
        parent.display()
    );
    let kill = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let res = child.wait_with_output().unwrap();
    assert_failed(&res, &out, &format!("interrupted by signal SIG{signal}"));
    assert!(!out.exists(), "nothing at the target");
    assert_eq!(temporaries(&parent), Vec::<String>::new(), "temporaries left");
    // Checked while the lock is still held: a backend left waiting on it would not notice
    // its client's death until the lock is granted.
    assert_no_sessions(c, &db.name);
    release_lock(&db, holder);
}

#[test]
fn sigterm_stops_a_directory_dump_and_leaves_nothing() {
    signal_stops_the_dump("TERM", "d");
}

#[test]
fn sighup_stops_a_custom_dump_and_leaves_nothing() {
    signal_stops_the_dump("HUP", "c");
}

#[test]
fn sigquit_stops_a_tar_dump_and_leaves_nothing() {
    signal_stops_the_dump("QUIT", "t");
}

#[test]
fn sigint_stops_a_plain_dump_and_leaves_nothing() {
    signal_stops_the_dump("INT", "p");
}

#[test]
fn timeout_stops_the_dump_and_leaves_nothing() {
    let (db, holder) = db_with_held_lock("timeout");
    let c = &db.cluster;
    let parent = out_dir();
    let out = parent.join("a");
    let inner = dump_cmd(c, &db.name, &out);
    // `timeout` sends SIGTERM; the dump waits on the lock far longer than that.
    let mut cmd = Command::new("timeout");
    cmd.arg("3").arg(inner.get_program()).args(inner.get_args());
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let res = cmd.stdin(Stdio::null()).output().unwrap();
    // timeout(1) exits 124 when it had to stop the command.
    assert_eq!(res.status.code(), Some(124), "{}", String::from_utf8_lossy(&res.stderr));
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(
        stderr.lines().filter(|l| l.contains("error")).count(),
        1,
        "one message:\n{stderr}"
    );
    assert!(stderr.contains("interrupted by signal SIGTERM"), "{stderr}");
    assert_eq!(temporaries(&parent), Vec::<String>::new(), "temporaries left");
    assert_no_sessions(c, &db.name);
    release_lock(&db, holder);
}

#[test]
fn a_killed_runs_leftovers_are_removed_by_the_next_run() {
    let (db, holder) = db_with_held_lock("sigkill");
    let c = &db.cluster;
    let parent = out_dir();
    let mut child = dump_cmd(c, &db.name, &parent.join("a")).spawn().unwrap();
    wait_for_dump_blocked(&db);
    child.kill().unwrap(); // SIGKILL: no handler runs
    child.wait().unwrap();
    let left = temporaries(&parent);
    assert_eq!(left.len(), 1, "the killed run's temporary directory stays: {left:?}");
    release_lock(&db, holder);
    // The killed run's backend goes once its lock wait ends and it finds the client gone.
    assert_no_sessions(c, &db.name);
    let res = dump_cmd(c, &db.name, &parent.join("b")).output().unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "{stderr}");
    assert!(
        stderr.contains("removed") && stderr.contains(&left[0]) && stderr.contains("no longer exists"),
        "the next run says what it removed:\n{stderr}"
    );
    assert_eq!(temporaries(&parent), Vec::<String>::new());
    assert!(parent.join("b").join("toc.dat").exists());
}

/// A run in another pid namespace (a container sharing the volume) leaves a temporary whose
/// name carries a pid that means nothing here (1, which exists here too). While that run
/// lives, a run here never removes it, however old it looks; once it is SIGKILLed (its lock
/// released with it), the next run here removes it.
#[test]
fn a_run_in_another_pid_namespace_is_judged_by_its_lock_not_its_pid() {
    let (db, holder) = db_with_held_lock("pidns");
    let c = &db.cluster;
    let parent = out_dir();
    let inner = dump_cmd(c, &db.name, &parent.join("a"));
    // A new user and pid namespace; --kill-child: SIGKILL to unshare reaches pgsnap.
    let mut cmd = Command::new("unshare");
    cmd.args(["-r", "-p", "-f", "--mount-proc", "--kill-child", "--"])
        .arg(inner.get_program())
        .args(inner.get_args());
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not run unshare (util-linux): {e}"));
    wait_for_dump_blocked(&db);
    let left = temporaries(&parent);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(
        left[0].contains(".pgsnap-tmp-1-"),
        "pgsnap is pid 1 in its namespace: {left:?}"
    );
    // Old enough that only the lock can keep it.
    std::fs::File::open(parent.join(&left[0]))
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    let here = |out: &str| {
        let mut cmd = pgsnap();
        cmd.env("PGAPPNAME", app(&db.name));
        cmd.args(["dump", "-Fd", "-T", "locked", "-h"]).arg(c.socket_dir());
        cmd.args(["-p", &c.port.to_string(), "-U", "postgres", "-f"])
            .arg(parent.join(out))
            .arg(&db.name);
        let res = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&res.stderr).into_owned();
        assert!(res.status.success(), "{stderr}");
        stderr
    };
    let stderr = here("b");
    assert!(
        !stderr.contains("removed"),
        "a live run's temporary was taken for dead:\n{stderr}"
    );
    assert_eq!(temporaries(&parent), left, "the live run's temporary stays");
    child.kill().unwrap();
    child.wait().unwrap();
    // pgsnap dies with unshare (its parent-death signal); its lock goes with it.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let free = Command::new("flock")
            .args(["-n", "-E", "75"])
            .arg(parent.join(&left[0]))
            .arg("true")
            .status()
            .unwrap();
        if free.success() {
            break;
        }
        assert!(Instant::now() < deadline, "the killed run still holds its lock");
        std::thread::sleep(Duration::from_millis(100));
    }
    let stderr = here("c");
    assert!(
        stderr.contains("removed") && stderr.contains(&left[0]) && stderr.contains("process 1 does not hold it"),
        "the next run removes it and says why:\n{stderr}"
    );
    assert_eq!(temporaries(&parent), Vec::<String>::new());
    release_lock(&db, holder);
    assert_no_sessions(c, &db.name);
}
