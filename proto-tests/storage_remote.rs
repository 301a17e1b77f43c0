//! Remote destinations against real servers the tests start on loopback: the storage
//! conformance suite over SFTP (OpenSSH's sshd) and WebDAV (WsgiDAV), and
//! `pgsnap dump -Fc --to sftp://… --to webdav://…` of a real cluster, fetched back through each
//! backend and restored with stock pg_restore to data equal to the source.
//!
//! The SFTP client is the system's `ssh`, configured as a user would: a key in
//! `PGSNAP_SFTP_KEY` and the server's host key in the known_hosts file an ssh config names. That
//! configuration lives in the environment of a process (`PATH` finds the `ssh` that reads the
//! test's config), which a test cannot change for itself; the SFTP tests therefore run their
//! client side in a child process: this test binary again, filtered to the same test, with
//! the environment set (see [`in_ssh_child`]).

#[path = "support/remote_servers.rs"]
mod remote_servers;
#[path = "support/storage_kit.rs"]
mod storage_kit;
mod support;

use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pgsnap::storage::{Location, Storage, WebdavCredentials};
use remote_servers::{Sshd, Wsgidav};
use storage_kit::{conformance, rt, scratch};
use support::{Fingerprint, TestDb};

/// Set in the child process of an SFTP test: what the child is to do (see [`in_ssh_child`]).
const CHILD: &str = "PGSNAP_TEST_SSH_CHILD";

fn dav_storage(dav: &Wsgidav, sub: &str, password: &str) -> Storage {
    fs::create_dir_all(dav.data.join(sub)).unwrap();
    Storage::open_with_webdav_credentials(
        &Location::parse(&dav.url(sub)).unwrap(),
        &WebdavCredentials {
            user: dav.user.clone(),
            password: password.to_string(),
        },
    )
    .unwrap()
}

/// Files left below `dir` (recursively), as relative paths.
fn files_below(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// Waits (a few seconds at most) until no temporary upload is left below `dir`: a dropped
/// upload's temporary is removed in the background.
fn no_temporaries_left(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = files_below(dir);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "left on the server under {}: {left:?}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs this binary's test `test` again in a child process with the ssh client environment of
/// `sshd` and `CHILD=task`; fails with the child's output when it fails.
fn in_ssh_child(test: &str, sshd: &Sshd, task: &str) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .envs(sshd.client_env())
        .env(CHILD, task)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{test} (child with the ssh client environment) failed:\n{}{}\nsshd log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        sshd.log()
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "the child ran no test: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    no_ssh_left(sshd, &format!("{test} (child)"));
}

#[test]
fn conformance_webdav_on_wsgidav() {
    let dav = Wsgidav::start();
    let s = dav_storage(&dav, "some/prefix", &dav.password);
    rt().block_on(conformance(&s));
    no_temporaries_left(&dav.data.join("some/prefix"));

    // A wrong password: refused when the destination is checked, naming it; nothing written.
    let bad = dav_storage(&dav, "some/prefix", "not-the-password");
    let e = rt().block_on(bad.probe()).unwrap_err().to_string();
    assert!(e.contains(&dav.url("some/prefix")), "{e}");
    let e = rt()
        .block_on(async {
            let mut up = bad.put("x.dump").await?;
            up.write(bytes::Bytes::from_static(b"data")).await?;
            up.finish().await
        })
        .unwrap_err()
        .to_string();
    assert!(e.contains("x.dump") && e.contains(&dav.url("some/prefix")), "{e}");
    assert!(!e.contains("not-the-password"), "{e}");
    assert!(files_below(&dav.data.join("some/prefix")).is_empty());
}

#[test]
fn conformance_sftp_on_sshd() {
    const TEST: &str = "conformance_sftp_on_sshd";
    if let Ok(url) = std::env::var(CHILD) {
        let s = Storage::open_url(&url).unwrap();
        rt().block_on(conformance(&s));
        return;
    }
    let sshd = Sshd::start();
    in_ssh_child(TEST, &sshd, &sshd.url("conformance dir"));
    // The directory was created on the server; nothing is left in it, no temporary either.
    let dir = sshd.data.join("conformance dir");
    assert!(dir.is_dir(), "{}", dir.display());
    no_temporaries_left(&dir);
}

fn pgsnap(envs: &[(String, OsString)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pgsnap"));
    for v in [
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGPASSWORD",
        "PGSNAP_SFTP_KEY",
        "PGSNAP_WEBDAV_USER",
        "PGSNAP_WEBDAV_PASSWORD",
        "PGSNAP_WEBDAV_PASSWORD_FILE",
    ] {
        c.env_remove(v);
    }
    c.envs(envs.iter().map(|(k, v)| (k, v)));
    c.stdin(Stdio::null());
    c
}

/// The archive and its manifest copied out of `storage` into `dest` and `dest.manifest`,
/// after checking that `name` is its only committed backup.
fn fetch(storage: &Storage, name: &str, dest: &Path) {
    let r = rt();
    let b: Vec<String> = r
        .block_on(storage.backups())
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(b, vec![name.to_string()], "{}", storage.location());
    fs::write(dest, r.block_on(storage.get_bytes(name)).unwrap()).unwrap();
    let manifest = r.block_on(storage.get_bytes(&format!("{name}.manifest"))).unwrap();
    fs::write(format!("{}.manifest", dest.display()), manifest).unwrap();
}

#[test]
fn dump_to_sftp_and_webdav_restores_with_stock_pg_restore() {
    const TEST: &str = "dump_to_sftp_and_webdav_restores_with_stock_pg_restore";
    let name = "nightly/app 2026-11-30.dump";
    if let Ok(task) = std::env::var(CHILD) {
        // The child's part: fetch the SFTP copy (url \t local path).
        let (url, dest) = task.split_once('\t').unwrap();
        fetch(&Storage::open_url(url).unwrap(), name, Path::new(dest));
        return;
    }
    let app = fs::read_to_string(support::project_root().join("fixtures/app.sql")).unwrap();
    let db = TestDb::new(18, "dest_remote", &app);
    let c = &db.cluster;
    let source = Fingerprint::of(c, &db.name);
    let sshd = Sshd::start();
    let dav = Wsgidav::start();
    fs::create_dir(dav.data.join("backups")).unwrap();
    let mut env = sshd.client_env();
    env.extend(dav.client_env());
    let dump = |env: &[(String, OsString)], to: &[String]| {
        let mut cmd = pgsnap(env);
        cmd.args(["dump", "-Fc", "-h"]).arg(c.socket_dir()).args([
            "-p",
            &c.port.to_string(),
            "-U",
            "postgres",
            "-f",
            name,
        ]);
        for t in to {
            cmd.arg("--to").arg(t);
        }
        cmd.arg(&db.name).output().unwrap()
    };
    let (sftp_url, dav_url) = (sshd.url("db1"), dav.url("backups"));

    // No ssh client: refused before anything is dumped, saying what is missing.
    let mut no_ssh = env.clone();
    no_ssh.retain(|(k, _)| k != "PATH");
    no_ssh.push(("PATH".into(), "/nonexistent".into()));
    let out = dump(&no_ssh, std::slice::from_ref(&sftp_url));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("OpenSSH client") && stderr.contains(&sftp_url),
        "{stderr}"
    );
    // A host key ssh does not know: refused (never learned), naming the destination.
    fs::write(sshd.dir.join("known_hosts"), "").unwrap();
    let out = dump(&env, std::slice::from_ref(&sftp_url));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&sftp_url), "{stderr}");
    assert!(
        fs::read_to_string(sshd.dir.join("known_hosts")).unwrap().is_empty(),
        "the host key was added to known_hosts"
    );
    let host_pub = fs::read_to_string(sshd.dir.join("host_key.pub")).unwrap();
    let key: Vec<&str> = host_pub.split_whitespace().take(2).collect();
    fs::write(
        sshd.dir.join("known_hosts"),
        format!("[127.0.0.1]:{} {}\n", sshd.port, key.join(" ")),
    )
    .unwrap();
    // A wrong WebDAV password: refused, the password never shown.
    let mut bad_dav = env.clone();
    bad_dav.retain(|(k, _)| k != "PGSNAP_WEBDAV_PASSWORD");
    bad_dav.push(("PGSNAP_WEBDAV_PASSWORD".into(), "wrong-pass-4242".into()));
    let out = dump(&bad_dav, std::slice::from_ref(&dav_url));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&dav_url) && !stderr.contains("wrong-pass-4242"),
        "{stderr}"
    );

    let out = dump(&env, &[sftp_url.clone(), dav_url.clone()]);
    assert!(
        out.status.success(),
        "dump --to sftp --to webdav failed:\n{}\nsshd log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        sshd.log()
    );

    let fetched = scratch("pgsnap-remote-fetch");
    let sftp_copy = fetched.join("sftp.dump");
    in_ssh_child(TEST, &sshd, &format!("{sftp_url}\t{}", sftp_copy.display()));
    let dav_copy = fetched.join("webdav.dump");
    fetch(&dav_storage(&dav, "backups", &dav.password), name, &dav_copy);
    for (from, local) in [(&sftp_url, &sftp_copy), (&dav_url, &dav_copy)] {
        let m: serde_json::Value =
            serde_json::from_slice(&fs::read(format!("{}.manifest", local.display())).unwrap()).unwrap();
        assert_eq!(
            m["files"][0]["size"].as_u64(),
            Some(fs::metadata(local).unwrap().len()),
            "{from}"
        );
        let target = c.create_database("dest_remote_rs", "");
        let res = c
            .tool_of(18, "pg_restore")
            .args(["-d", &target])
            .arg(local)
            .output()
            .unwrap();
        assert!(
            res.status.success(),
            "pg_restore from {from}: {}",
            String::from_utf8_lossy(&res.stderr)
        );
        let diff = source.diff(&Fingerprint::of(c, &target));
        assert!(diff.is_empty(), "restored from {from} differs:\n{diff}");
        c.drop_database(&target);
    }
    assert_eq!(fs::read(&sftp_copy).unwrap(), fs::read(&dav_copy).unwrap());
}

/// Fails when an ssh client of `sshd` is still running a few seconds after `what` exited
/// (ssh's master is told to exit as pgsnap closes its connection; it takes a moment to go).
fn no_ssh_left(sshd: &Sshd, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = sshd.ssh_clients();
        if left.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            // Ended here so a failing run leaves no ssh behind either.
            for pid in left.iter().filter_map(|l| l.split(':').next()) {
                let _ = Command::new("kill").arg(pid).status();
            }
            panic!("ssh processes left running after {what}:\n{}", left.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every command that opens an `sftp://` destination ends its ssh connection (the master
/// `ssh -M -N -o ControlPersist=yes` included) before it exits, whether it succeeded or
/// failed: a scheduled backup must not leave one idle connection behind per run.
#[test]
fn sftp_commands_leave_no_ssh_running() {
    let db = TestDb::new(
        18,
        "sshleak",
        "create table t (i int primary key, s text);\n\
         insert into t select i, repeat('x', 200) from generate_series(1, 5000) i;\n",
    );
    let c = &db.cluster;
    let sshd = Sshd::start();
    let env = sshd.client_env();
    let base = sshd.url("leak");
    let run = |what: &str, args: &[&str]| {
        let out = pgsnap(&env).args(args).output().unwrap();
        no_ssh_left(&sshd, what);
        out
    };
    let dump_args = |to: &str, extra: &[&str], dbname: &str| -> Vec<String> {
        let mut a: Vec<String> = vec!["dump".into(), "-h".into()];
        a.push(c.socket_dir().display().to_string());
        a.extend(["-p".into(), c.port.to_string(), "-U".into(), "postgres".into()]);
        a.extend(extra.iter().map(|s| s.to_string()));
        a.extend(["--to".into(), to.to_string(), dbname.to_string()]);
        a
    };
    let ok = |what: &str, out: &std::process::Output| {
        assert!(
            out.status.success(),
            "{what} failed:\n{}\nsshd log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            sshd.log()
        );
    };
    let fails = |what: &str, out: &std::process::Output| {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        assert!(stderr.contains("pgsnap: error:"), "{what}: {stderr}");
    };

    let a = dump_args(&base, &["-Fc", "-j", "2", "-f", "app.dump"], &db.name);
    let out = run(
        "dump -Fc --to sftp://",
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    ok("dump -Fc --to sftp://", &out);
    let a = dump_args(&base, &["-Fd", "-j", "2", "-f", "app.dir"], &db.name);
    let out = run(
        "dump -Fd -j 2 --to sftp://",
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    ok("dump -Fd -j 2 --to sftp://", &out);

    let archive = format!("{base}/app.dump");
    let out = run("verify sftp://", &["verify", &archive]);
    ok("verify sftp://", &out);
    let out = run("list sftp://", &["list", &archive]);
    ok("list sftp://", &out);
    let out = run("fetch sftp://", &["fetch", &archive]);
    ok("fetch sftp://", &out);
    assert!(out.stdout.starts_with(b"PGDMP"), "fetch wrote no custom archive");

    // Failures: an archive that is not there, a database that is not there (the destination
    // was already connected to when the dump fails), a directory the server refuses writes to.
    let out = run(
        "verify of a missing archive",
        &["verify", &format!("{base}/missing.dump")],
    );
    fails("verify of a missing archive", &out);
    let out = run(
        "fetch of a missing archive",
        &["fetch", &format!("{base}/missing.dump")],
    );
    fails("fetch of a missing archive", &out);
    let a = dump_args(&base, &["-Fc", "-f", "none.dump"], "no_such_database_4242");
    let out = run(
        "dump of a missing database",
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    fails("dump of a missing database", &out);
    let ro = sshd.data.join("readonly");
    fs::create_dir(&ro).unwrap();
    fs::set_permissions(&ro, std::os::unix::fs::PermissionsExt::from_mode(0o555)).unwrap();
    let a = dump_args(&sshd.url("readonly"), &["-Fc", "-f", "ro.dump"], &db.name);
    let out = run(
        "dump to a read-only directory",
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    fails("dump to a read-only directory", &out);

    // A scheduled job uploading each backup to sftp:// (its retention lists and prunes there
    // too), and the same job with a destination that refuses writes.
    let jobs = scratch("pgsnap-sshleak-jobs");
    let config = jobs.join("pgsnap.toml");
    let job = |url: &str| {
        format!(
            "[jobs.nightly]\ndestination = \"{}\"\nformat = \"custom\"\n\
             source = {{ host = \"{}\", port = {}, user = \"postgres\", dbname = \"{}\" }}\n\
             retention = {{ keep_last = 1 }}\n\
             [[jobs.nightly.destinations]]\nurl = \"{url}\"\n",
            jobs.join("local").display(),
            c.socket_dir().display(),
            c.port,
            db.name
        )
    };
    let cfg = config.to_str().unwrap();
    fs::write(&config, job(&sshd.url("jobs"))).unwrap();
    for round in ["first", "second"] {
        let what = format!("run of a job to sftp:// ({round})");
        let out = run(&what, &["run", "nightly", "-c", cfg]);
        ok(&what, &out);
    }
    fs::write(&config, job(&sshd.url("readonly"))).unwrap();
    let what = "run of a job to a read-only sftp:// directory";
    let out = run(what, &["run", "nightly", "-c", cfg]);
    fails(what, &out);
}
