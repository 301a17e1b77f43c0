//! Destinations against real servers the tests start: one conformance suite (put/get/list/
//! stat/delete, a multipart-sized object, unicode and spaces in names, concurrent writers,
//! an interrupted upload never visible) run against every backend — a local directory and
//! S3 (moto's server on a free loopback port); the fan-out committing a backup on every
//! destination, or on none that failed; and `pgsnap dump -Fc --to s3://… --to file://…` of a
//! real cluster, fetched back and restored with stock pg_restore to data equal to the source.

#[path = "support/storage_kit.rs"]
mod storage_kit;
mod support;

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};

use pgsnap::archive::writer::RemoteOutput;
use pgsnap::storage::fanout::Destinations;
use pgsnap::storage::{Location, PART_SIZE, S3Credentials, Storage};
use storage_kit::{conformance, payload, rt, scratch};
use support::s3::{KEY, Moto, SECRET};
use support::{Fingerprint, TestDb};

fn fs_storage(dir: &Path) -> Storage {
    Storage::open_url(&format!("file://{}", dir.display())).unwrap()
}

#[test]
fn conformance_local_directory() {
    let dir = scratch("pgsnap-store-fs");
    let s = fs_storage(&dir);
    rt().block_on(conformance(&s));
    // Objects are private (they hold table data), and no temporary upload is left on disk.
    rt().block_on(s.put_bytes("private.bin", b"x".to_vec())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(dir.join("private.bin")).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        fs::metadata(dir.join(".pgsnap-uploads")).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let uploads = dir.join(".pgsnap-uploads");
    let left: Vec<_> = fs::read_dir(&uploads)
        .map(|r| r.filter_map(|e| e.ok()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "temporaries left in {}: {left:?}", uploads.display());
}

#[test]
fn conformance_s3_on_moto() {
    let moto = Moto::start();
    moto.create_bucket("conformance");
    rt().block_on(conformance(&moto.storage("conformance", "some/prefix")));
}

#[test]
fn a_missing_local_destination_is_an_error_not_a_new_directory() {
    let parent = scratch("pgsnap-store-missing");
    let dir = parent.join("not/there");
    let e = Storage::open_url(&format!("file://{}", dir.display())).unwrap_err();
    assert!(e.to_string().contains("not/there"), "{e}");
    assert!(!dir.exists());
}

/// Writes `data` through the fan-out as the archive writer would, then commits and publishes.
fn fan_out(d: &Destinations, data: &[u8]) -> pgsnap::Result<()> {
    let mut f = d.open_archive()?;
    for c in data.chunks(64 * 1024 + 3) {
        f.write_all(c)?;
    }
    f.commit()?;
    d.publish_manifest(b"{\"test\":true}\n".to_vec(), false)
}

#[test]
fn fan_out_commits_everywhere_or_publishes_nothing_on_the_failed_one() {
    let moto = Moto::start();
    moto.create_bucket("fan");
    let dir = scratch("pgsnap-fan");
    let data = payload(PART_SIZE + 3 * 1024 * 1024, 9);
    let r = rt();

    // Abandoned mid-way: nothing on any destination.
    {
        let d = Destinations::new(vec![moto.storage("fan", "p"), fs_storage(&dir)], "db one.dump").unwrap();
        let mut f = d.open_archive().unwrap();
        f.write_all(&data).unwrap();
        drop(f);
        for s in d.targets() {
            assert!(r.block_on(s.list("")).unwrap().is_empty(), "{}", s.location());
        }
    }

    // Abandoned after its destinations were dropped (the order a failing dump may drop
    // them in): the upload still aborts, nothing is left.
    {
        let targets = vec![moto.storage("fan", "p"), fs_storage(&dir)];
        let d = Destinations::new(targets.clone(), "db one.dump").unwrap();
        let mut f = d.open_archive().unwrap();
        f.write_all(&data).unwrap();
        drop(d);
        drop(f);
        for s in &targets {
            assert!(r.block_on(s.list("")).unwrap().is_empty(), "{}", s.location());
        }
    }

    // Both succeed: archive and manifest on each, the sum is of the bytes written.
    let d = Destinations::new(vec![moto.storage("fan", "p"), fs_storage(&dir)], "db one.dump").unwrap();
    fan_out(&d, &data).unwrap();
    let sums = d.committed();
    assert_eq!(sums.len(), 1);
    assert_eq!(sums[0].size, data.len() as u64);
    assert_eq!(sums[0].name, "db one.dump");
    for s in d.targets() {
        assert!(
            r.block_on(s.get_bytes("db one.dump")).unwrap() == data,
            "{}",
            s.location()
        );
        let b: Vec<String> = r.block_on(s.backups()).unwrap().into_iter().map(|o| o.name).collect();
        assert_eq!(b, vec!["db one.dump"], "{}", s.location());
    }

    // One destination unreachable (a closed port): retried, then named in the error; the
    // other completes and is committed; nothing is published on the failed one.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dead_loc = Location::parse(&format!("s3://fan/dead?endpoint=http://127.0.0.1:{closed}")).unwrap();
    let dead = Storage::open_with_credentials(
        &dead_loc,
        &S3Credentials {
            access_key_id: KEY.into(),
            secret_access_key: SECRET.into(),
        },
    )
    .unwrap();
    let dir2 = scratch("pgsnap-fan2");
    let d = Destinations::new(vec![dead, fs_storage(&dir2)], "db two.dump").unwrap();
    let e = fan_out(&d, &data).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("127.0.0.1:{closed}")) || msg.contains("s3://fan/dead"),
        "{msg}"
    );
    assert!(msg.contains("s3://fan/dead"), "names the failed destination: {msg}");
    assert_eq!(d.failed(), vec!["s3://fan/dead".to_string()]);
    let local = fs_storage(&dir2);
    let b: Vec<String> = r
        .block_on(local.backups())
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(b, vec!["db two.dump"]);
}

fn pgsnap() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pgsnap"));
    for v in [
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGPASSWORD",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
    ] {
        c.env_remove(v);
    }
    c.env("AWS_ACCESS_KEY_ID", KEY).env("AWS_SECRET_ACCESS_KEY", SECRET);
    c.stdin(Stdio::null());
    c
}

#[test]
fn dump_to_s3_and_a_directory_restores_with_stock_pg_restore() {
    let app = fs::read_to_string(support::project_root().join("fixtures/app.sql")).unwrap();
    let db = TestDb::new(18, "dest_e2e", &app);
    let c = &db.cluster;
    let source = Fingerprint::of(c, &db.name);
    let moto = Moto::start();
    moto.create_bucket("backups");
    let dir = scratch("pgsnap-dest-e2e");
    let name = "nightly/app 2026-11-30.dump";
    // A bucket that does not exist: refused before anything is dumped, named.
    let out = pgsnap()
        .args(["dump", "-Fc", "-h"])
        .arg(c.socket_dir())
        .args(["-p", &c.port.to_string(), "-U", "postgres", "-f", name])
        .args(["--to", &moto.url("no-such-bucket", "x")])
        .arg(&db.name)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("s3://no-such-bucket/x"), "{stderr}");
    let out = pgsnap()
        .args(["dump", "-Fc", "-h"])
        .arg(c.socket_dir())
        .args(["-p", &c.port.to_string(), "-U", "postgres", "-f", name])
        .args(["--to", &moto.url("backups", "db1")])
        .arg("--to")
        .arg(format!("file://{}", dir.display()))
        .arg(&db.name)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dump --to failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let r = rt();
    let fetched = scratch("pgsnap-dest-fetch");
    for (i, s) in [moto.storage("backups", "db1"), fs_storage(&dir)].iter().enumerate() {
        let b: Vec<String> = r.block_on(s.backups()).unwrap().into_iter().map(|o| o.name).collect();
        assert_eq!(b, vec![name.to_string()], "{}", s.location());
        // Fetched with its manifest, checked by `pgsnap verify`, restored by stock pg_restore.
        let local = fetched.join(format!("copy{i}.dump"));
        fs::write(&local, r.block_on(s.get_bytes(name)).unwrap()).unwrap();
        fs::write(
            fetched.join(format!("copy{i}.dump.manifest")),
            r.block_on(s.get_bytes(&format!("{name}.manifest"))).unwrap(),
        )
        .unwrap();
        let m: serde_json::Value =
            serde_json::from_slice(&fs::read(fetched.join(format!("copy{i}.dump.manifest"))).unwrap()).unwrap();
        assert_eq!(
            m["files"][0]["size"].as_u64(),
            Some(fs::metadata(&local).unwrap().len())
        );
        let target = c.create_database("dest_rs", "");
        let res = c
            .tool_of(18, "pg_restore")
            .args(["-d", &target])
            .arg(&local)
            .output()
            .unwrap();
        assert!(
            res.status.success(),
            "pg_restore from {}: {}",
            s.location(),
            String::from_utf8_lossy(&res.stderr)
        );
        let diff = source.diff(&Fingerprint::of(c, &target));
        assert!(diff.is_empty(), "restored from {} differs:\n{diff}", s.location());
        c.drop_database(&target);
    }
}

#[test]
fn dump_to_a_failing_destination_exits_1_naming_it() {
    let app = fs::read_to_string(support::project_root().join("fixtures/app.sql")).unwrap();
    let db = TestDb::new(18, "dest_fail", &app);
    let c = &db.cluster;
    let dir = scratch("pgsnap-dest-fail");
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = pgsnap()
        .args(["dump", "-Fc", "-h"])
        .arg(c.socket_dir())
        .args(["-p", &c.port.to_string(), "-U", "postgres", "-f", "app.dump"])
        .args(["--to", &format!("s3://nowhere/x?endpoint=http://127.0.0.1:{closed}")])
        .arg("--to")
        .arg(format!("file://{}", dir.display()))
        .arg(&db.name)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("pgsnap: error:") && stderr.contains("s3://nowhere/x"),
        "{stderr}"
    );
    // Checked before the dump starts (an unusable output fails fast): nothing was written to
    // the healthy destination either.
    assert!(stderr.contains("checking the destination"), "{stderr}");
    let written: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .filter(|n| n != ".pgsnap-uploads")
        .collect();
    assert!(written.is_empty(), "{written:?}");

    // Usage errors: --to without -f, credentials in the URL, an unsupported scheme.
    for (args, want) in [
        (vec!["--to", "file:///tmp"], "-f NAME"),
        (vec!["-f", "x.dump", "--to", "s3://AKID:s3cr3tv4lue@b/p"], "credentials"),
        (vec!["-f", "x.dump", "--to", "gcs://Bad_Bucket/p"], "not a valid bucket"),
        (
            vec!["-f", "x.dump", "--to", "file:///tmp", "--no-manifest"],
            "commits a backup",
        ),
    ] {
        let out = pgsnap().arg("dump").args(&args).arg(&db.name).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(!stderr.contains("s3cr3tv4lue"), "{stderr}");
    }
}

#[test]
fn directory_dump_to_s3_and_a_directory_restores_with_stock_pg_restore() {
    let app = fs::read_to_string(support::project_root().join("fixtures/app.sql")).unwrap();
    let db = TestDb::new(18, "dest_dir", &app);
    let c = &db.cluster;
    let source = Fingerprint::of(c, &db.name);
    let moto = Moto::start();
    moto.create_bucket("dirs");
    let dir = scratch("pgsnap-dest-dir");
    let name = "weekly/app dir";
    let out = pgsnap()
        .args(["dump", "-Fd", "-j", "2", "-Z", "zstd", "-h"])
        .arg(c.socket_dir())
        .args(["-p", &c.port.to_string(), "-U", "postgres", "-f", name])
        .args(["--to", &moto.url("dirs", "db")])
        .arg("--to")
        .arg(format!("file://{}", dir.display()))
        .arg(&db.name)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dump -Fd --to failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let r = rt();
    let fetched = scratch("pgsnap-dest-dir-fetch");
    for (i, s) in [moto.storage("dirs", "db"), fs_storage(&dir)].iter().enumerate() {
        let b: Vec<String> = r.block_on(s.backups()).unwrap().into_iter().map(|o| o.name).collect();
        assert_eq!(b, vec![name.to_string()], "{}", s.location());
        // Every member fetched into a local directory, checked, restored by stock pg_restore.
        let local = fetched.join(format!("copy{i}"));
        fs::create_dir(&local).unwrap();
        let members = r.block_on(s.list(&format!("{name}/"))).unwrap();
        assert!(members.iter().any(|o| o.name.ends_with("/toc.dat")), "{members:?}");
        for o in members {
            let file = o.name.rsplit('/').next().unwrap().to_string();
            fs::write(local.join(file), r.block_on(s.get_bytes(&o.name)).unwrap()).unwrap();
        }
        let v = pgsnap().arg("verify").arg(&local).output().unwrap();
        assert!(v.status.success(), "verify: {}", String::from_utf8_lossy(&v.stderr));
        let target = c.create_database("dest_dir_rs", "");
        let res = c
            .tool_of(18, "pg_restore")
            .args(["-d", &target])
            .arg(&local)
            .output()
            .unwrap();
        assert!(
            res.status.success(),
            "pg_restore from {}: {}",
            s.location(),
            String::from_utf8_lossy(&res.stderr)
        );
        let diff = source.diff(&Fingerprint::of(c, &target));
        assert!(diff.is_empty(), "restored from {} differs:\n{diff}", s.location());
        c.drop_database(&target);
    }
}

/// Runs `script` with `sh` in a private mount namespace (root: `unshare --mount`; otherwise a
/// user namespace mapping the caller to root), where it can mount a small tmpfs that vanishes
/// with it. Returns stdout; panics with the fix when namespaces are not available.
fn in_private_mounts(script: &str, env: &[(&str, String)]) -> String {
    let mut c = Command::new("unshare");
    if !support::cluster::is_root() {
        c.args(["--user", "--map-root-user"]);
    }
    c.args(["--mount", "--propagation", "private", "sh", "-c", script]);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.stdin(Stdio::null()).output().unwrap_or_else(|e| {
        panic!("unshare (util-linux) is needed to give the test a small filesystem: {e}; apt-get install util-linux")
    });
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success() && stdout.contains("mounted"),
        "could not mount a tmpfs in a private mount namespace (as root, or with unprivileged user \
         namespaces: sysctl kernel.unprivileged_userns_clone=1):\n{stdout}\n{stderr}"
    );
    stdout + &stderr
}

#[test]
fn a_full_local_destination_fails_alone_and_publishes_nothing_there() {
    // About 6 MB of incompressible rows: more than the 1 MiB filesystem holds.
    let db = TestDb::new(
        18,
        "dest_full",
        "CREATE TABLE noise (id int PRIMARY KEY, b bytea);
         INSERT INTO noise SELECT g, decode(md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text)
           || md5((g * 31)::text), 'hex') FROM generate_series(1, 90000) g;",
    );
    let c = &db.cluster;
    let full = scratch("pgsnap-dest-full");
    let other = scratch("pgsnap-dest-roomy");
    let conn = format!("-h '{}' -p {} -U postgres -Z 0", c.socket_dir().display(), c.port);
    let script = format!(
        r#"mount -t tmpfs -o size=1m pgsnap-full "$FULL" || exit 1
echo mounted
"$PGSNAP" dump -Fc {conn} -f 'nightly/db.dump' --to "file://$FULL" --to "file://$OTHER" {db}
echo "fanout-exit=$?"
"$PGSNAP" dump -Fc {conn} -f "$FULL/local.dump" {db}
echo "local-exit=$?"
"$PGSNAP" dump -Fd {conn} -f "$FULL/local.dir" {db}
echo "dir-exit=$?"
cd "$FULL" && find . -type f -printf 'left %p %s\n'
"#,
        db = db.name
    );
    let out = in_private_mounts(
        &script,
        &[
            ("PGSNAP", env!("CARGO_BIN_EXE_pgsnap").to_string()),
            ("FULL", full.display().to_string()),
            ("OTHER", other.display().to_string()),
        ],
    );
    // The fan-out: exit 1 naming the full destination and the disk's error; the other
    // destination committed its backup.
    assert!(out.contains("fanout-exit=1"), "{out}");
    assert!(
        out.contains(&format!("file://{}", full.display())),
        "names the destination: {out}"
    );
    assert!(out.contains("No space left on device"), "says why: {out}");
    let roomy = fs_storage(&other);
    let listed: Vec<String> = rt()
        .block_on(roomy.backups())
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(listed, vec!["nightly/db.dump"], "{out}");
    // Local archives onto the full filesystem: exit 1. No file is left on it at all: no archive,
    // manifest or toc.dat, and no temporary of the failed upload (empty directories may stay).
    assert!(out.contains("local-exit=1"), "{out}");
    assert!(out.contains("dir-exit=1"), "{out}");
    let left: Vec<&str> = out.lines().filter(|l| l.starts_with("left ")).collect();
    assert!(left.is_empty(), "a failed dump left files behind: {left:?}\n{out}");
}

#[test]
fn a_backup_on_a_read_only_mount_is_read_without_writing_to_it() {
    let db = TestDb::new(
        18,
        "dest_ro",
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 500) g;",
    );
    let c = &db.cluster;
    let mnt = scratch("pgsnap-dest-ro");
    let script = format!(
        r#"mount -t tmpfs -o size=8m pgsnap-ro "$MNT" || exit 1
echo mounted
"$PGSNAP" dump -Fc -h '{}' -p {} -U postgres -f app.dump --to "file://$MNT" {} || echo dump-failed
# As a backup copied onto a read-only share by other means: no uploads directory there.
rmdir "$MNT/.pgsnap-uploads" || exit 1
mount -o remount,ro "$MNT" || exit 1
"$PGSNAP" verify "file://$MNT/app.dump"
echo "verify-exit=$?"
"$PGSNAP" list "file://$MNT/app.dump" | grep -c 'TABLE DATA'
"$PGSNAP" dump -Fc -h '{}' -p {} -U postgres -f again.dump --to "file://$MNT" {}
echo "write-exit=$?"
"#,
        c.socket_dir().display(),
        c.port,
        db.name,
        c.socket_dir().display(),
        c.port,
        db.name
    );
    let out = in_private_mounts(
        &script,
        &[
            ("PGSNAP", env!("CARGO_BIN_EXE_pgsnap").to_string()),
            ("MNT", mnt.display().to_string()),
        ],
    );
    // Writing there is refused, naming the destination and the read-only filesystem.
    assert!(out.contains("write-exit=1"), "{out}");
    assert!(
        out.contains("cannot be written") && out.contains("Read-only file system"),
        "{out}"
    );
    assert!(!out.contains("dump-failed"), "{out}");
    assert!(
        out.contains("verify-exit=0"),
        "verify reads a read-only destination: {out}"
    );
    assert!(
        out.lines().any(|l| l.trim() == "1"),
        "list shows the one table's data: {out}"
    );
}
