//! The read side of destinations (issue 13): `pgsnap list`, `verify`, `decrypt` and `fetch`
//! given a backup's URL — on S3 (moto's server on a free loopback port) and on a `file://`
//! destination — read it through the storage layer without a local copy: a custom backup
//! verified, listed as `pg_restore -l` lists the local copy, streamed by `pgsnap fetch` into
//! stock pg_restore with data equal to the source; an encrypted tar backup decrypted on the
//! way; a directory backup fetched to a local directory; a damaged object found by `verify`
//! naming it; an uncommitted backup (no manifest) refused by every command.

#[path = "support/storage_kit.rs"]
mod storage_kit;
mod support;

use std::fs;
use std::process::{Command, Output, Stdio};

use pgsnap::storage::Storage;
use storage_kit::{rt, scratch};
use support::s3::{FaultProxy, KEY, SECRET};
use support::{Cluster, Fingerprint, TestDb};

/// moto's S3 server (proto-tests/support/s3.rs) with the bucket `backups`.
struct Moto(support::s3::Moto);

impl Moto {
    fn start() -> Moto {
        let m = support::s3::Moto::start();
        m.create_bucket("backups");
        Moto(m)
    }

    /// The destination `s3://backups/PREFIX`.
    fn dest(&self, prefix: &str) -> String {
        self.0.url("backups", prefix)
    }

    /// The backup `name` (percent-encoded as a URL path) under `s3://backups/PREFIX`.
    fn backup(&self, prefix: &str, name: &str) -> String {
        format!(
            "s3://backups/{prefix}/{}?endpoint={}&region=us-east-1",
            name.replace(' ', "%20"),
            self.0.endpoint()
        )
    }

    fn storage(&self, prefix: &str) -> Storage {
        self.0.storage("backups", prefix)
    }
}

fn pgsnap() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pgsnap"));
    for v in [
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGPASSWORD",
        "PGSNAP_PASSPHRASE",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
    ] {
        c.env_remove(v);
    }
    c.env("AWS_ACCESS_KEY_ID", KEY).env("AWS_SECRET_ACCESS_KEY", SECRET);
    c.stdin(Stdio::null());
    c
}

fn run(args: &[&str]) -> Output {
    pgsnap().args(args).output().unwrap()
}

fn ok(what: &str, out: &Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Fails with exit 1; returns stderr.
fn fails(what: &str, out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{what} should fail: {stderr}");
    stderr
}

/// `pgsnap dump -F<format> -f NAME <extra> --to S3 --to file://DIR DB`.
fn dump_to(c: &Cluster, db: &str, format: &str, name: &str, extra: &[&str], dests: &[&str]) {
    let mut cmd = pgsnap();
    cmd.arg("dump").arg(format!("-F{format}")).arg("-h").arg(c.socket_dir());
    cmd.args(["-p", &c.port.to_string(), "-U", "postgres", "-f", name]);
    cmd.args(extra);
    for d in dests {
        cmd.args(["--to", d]);
    }
    let out = cmd.arg(db).output().unwrap();
    ok(&format!("dump -F{format} --to"), &out);
}

fn entry_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// `pgsnap <args>` piped into stock pg_restore 18 restoring into a new database; returns it.
fn stream_into_pg_restore(c: &Cluster, args: &[&str]) -> String {
    let target = c.create_database("remote_rs", "");
    let mut producer = pgsnap()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = producer.stdout.take().unwrap();
    let restore = c
        .tool_of(18, "pg_restore")
        .args(["--exit-on-error", "-d", &target])
        .stdin(stdout)
        .output()
        .unwrap();
    let produced = producer.wait_with_output().unwrap();
    ok(&format!("pgsnap {args:?}"), &produced);
    ok("pg_restore from the stream", &restore);
    target
}

/// Flips one byte in the middle of `object` at `s`.
fn damage(r: &tokio::runtime::Runtime, s: &Storage, object: &str) {
    let mut bytes = r.block_on(s.get_bytes(object)).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    r.block_on(s.put_bytes(object, bytes)).unwrap();
}

#[test]
fn custom_backup_on_s3_verifies_lists_and_streams_into_stock_pg_restore() {
    let app = fs::read_to_string(support::project_root().join("fixtures/app.sql")).unwrap();
    let db = TestDb::new(18, "remote_c", &app);
    let c = &db.cluster;
    let source = Fingerprint::of(c, &db.name);
    let moto = Moto::start();
    let dir = scratch("pgsnap-remote-c");
    let name = "nightly/app 2026-11-30.dump";
    let file_dest = format!("file://{}", dir.display());
    dump_to(c, &db.name, "c", name, &["-Z", "6"], &[&moto.dest("db1"), &file_dest]);
    let local = dir.join(name);
    let s3_url = moto.backup("db1", name);
    let file_url = format!("{file_dest}/{}", name.replace(' ', "%20"));

    let stock = ok(
        "pg_restore -l",
        &c.tool_of(18, "pg_restore").arg("-l").arg(&local).output().unwrap(),
    );
    let local_list = ok("pgsnap list local", &pgsnap().arg("list").arg(&local).output().unwrap());
    for url in [&s3_url, &file_url] {
        let out = ok("verify URL", &run(&["verify", url]));
        assert!(out.contains("verified") && out.contains("rows)"), "{out}");
        // The listing from the destination is the local copy's, line for line.
        let listed = ok("list URL", &run(&["list", url]));
        assert_eq!(listed, local_list, "{url}");
        assert_eq!(entry_lines(&listed), entry_lines(&stock), "{url}");
        assert!(
            entry_lines(&listed).iter().any(|l| l.contains("TABLE DATA")),
            "{listed}"
        );
    }

    // Streamed from S3 into stock pg_restore: no local copy, data equal to the source.
    let target = stream_into_pg_restore(c, &["fetch", &s3_url]);
    let diff = source.diff(&Fingerprint::of(c, &target));
    assert!(diff.is_empty(), "restored from {s3_url} differs:\n{diff}");
    c.drop_database(&target);
    // Fetched to a file: the same bytes as the local copy.
    let copy = dir.join("copy.dump");
    ok("fetch -o", &run(&["fetch", &s3_url, "-o", copy.to_str().unwrap()]));
    assert!(fs::read(&copy).unwrap() == fs::read(&local).unwrap());
    // decrypt refuses an archive that is not encrypted, as for a local one.
    let key = dir.join("key.txt");
    ok("keygen", &run(&["keygen", "-o", key.to_str().unwrap()]));
    let key = key.to_str().unwrap();
    let e = fails("decrypt plain", &run(&["decrypt", &s3_url, "-i", key]));
    assert!(e.contains("is not encrypted"), "{e}");

    // One flipped byte in the S3 object: verify names the object; fetch fails on it.
    let r = rt();
    let s3 = moto.storage("db1");
    damage(&r, &s3, name);
    let shown = format!("s3://backups/db1/{name}");
    let e = fails("verify damaged", &run(&["verify", &s3_url]));
    assert!(
        e.contains(&shown) && e.contains("CRC32C differs from the manifest"),
        "{e}"
    );
    assert!(e.contains("failed verification"), "{e}");
    let e = fails(
        "fetch damaged",
        &run(&["fetch", &s3_url, "-o", dir.join("bad.dump").to_str().unwrap()]),
    );
    assert!(
        e.contains(&shown) && e.contains("CRC32C differs from the manifest"),
        "{e}"
    );
    assert!(!dir.join("bad.dump").exists(), "a damaged fetch left its output");

    // Without its manifest the backup is not committed: every command refuses it, naming it.
    r.block_on(s3.delete(&format!("{name}.manifest"))).unwrap();
    for cmd in ["verify", "list", "fetch"] {
        let e = fails(cmd, &run(&[cmd, &s3_url]));
        assert!(
            e.contains("not committed") && e.contains(&shown) && e.contains(".manifest"),
            "{cmd}: {e}"
        );
    }
    let e = fails("decrypt", &run(&["decrypt", &s3_url, "-i", key]));
    assert!(e.contains("not committed") && e.contains(&shown), "{e}");
    // Nothing there at all; a URL naming no archive.
    let e = fails("verify missing", &run(&["verify", &moto.backup("db1", "nothing.dump")]));
    assert!(e.contains("no archive \"nothing.dump\""), "{e}");
    let e = fails("verify bucket", &run(&["verify", "s3://backups"]));
    assert!(e.contains("no archive in it"), "{e}");
}

#[test]
fn encrypted_tar_backup_on_s3_is_decrypted_on_the_way_into_stock_pg_restore() {
    let app = fs::read_to_string(support::project_root().join("fixtures/app.sql")).unwrap();
    let db = TestDb::new(18, "remote_t", &app);
    let c = &db.cluster;
    let source = Fingerprint::of(c, &db.name);
    let moto = Moto::start();
    let dir = scratch("pgsnap-remote-t");
    let key = dir.join("key.txt");
    let recipient = ok("keygen", &run(&["keygen", "-o", key.to_str().unwrap()]))
        .trim()
        .to_string();
    let key = key.to_str().unwrap();
    let name = "app.tar";
    let file_dest = format!("file://{}", dir.display());
    dump_to(
        c,
        &db.name,
        "t",
        name,
        &["--encrypt-to", &recipient],
        &[&moto.dest("enc"), &file_dest],
    );
    let url = moto.backup("enc", name);

    // Sealed without the key; whole with it.
    let e = fails("verify without key", &run(&["verify", &url]));
    assert!(e.contains("encrypted"), "{e}");
    let out = ok("verify -i", &run(&["verify", &url, "-i", key]));
    assert!(out.contains("verified"), "{out}");

    // fetch -i decrypts on the way into stock pg_restore.
    let target = stream_into_pg_restore(c, &["fetch", &url, "-i", key]);
    let diff = source.diff(&Fingerprint::of(c, &target));
    assert!(diff.is_empty(), "restored from {url} differs:\n{diff}");
    c.drop_database(&target);
    // decrypt from the URL gives what decrypt of the local copy gives; fetch without keys
    // gives the stored (encrypted) bytes.
    let from_url = pgsnap().args(["decrypt", &url, "-i", key]).output().unwrap();
    ok("decrypt URL", &from_url);
    let from_local = pgsnap()
        .arg("decrypt")
        .arg(dir.join(name))
        .args(["-i", key])
        .output()
        .unwrap();
    ok("decrypt local", &from_local);
    assert!(from_url.stdout == from_local.stdout && !from_url.stdout.is_empty());
    let sealed = pgsnap().args(["fetch", &url]).output().unwrap();
    ok("fetch without keys", &sealed);
    assert!(sealed.stdout == fs::read(dir.join(name)).unwrap());

    // A flipped byte: verify (with the key) names the object.
    let r = rt();
    damage(&r, &moto.storage("enc"), name);
    let e = fails("verify damaged", &run(&["verify", &url, "-i", key]));
    assert!(e.contains(&format!("s3://backups/enc/{name}")), "{e}");
}

#[test]
fn directory_backup_on_s3_verifies_lists_and_fetches_to_a_local_directory() {
    let app = fs::read_to_string(support::project_root().join("fixtures/app.sql")).unwrap();
    let db = TestDb::new(18, "remote_d", &app);
    let c = &db.cluster;
    // Megabytes that compress only about twofold, so that a second download of the members
    // shows in the bytes counted below.
    c.psql(
        &db.name,
        "CREATE TABLE public.hashes AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS h \
         FROM generate_series(1, 60000) g",
    );
    let source = Fingerprint::of(c, &db.name);
    let moto = Moto::start();
    let dir = scratch("pgsnap-remote-d");
    let name = "weekly/app dir";
    let file_dest = format!("file://{}", dir.display());
    dump_to(
        c,
        &db.name,
        "d",
        name,
        &["-j", "2", "-Z", "zstd"],
        &[&moto.dest("db"), &file_dest],
    );
    let local = dir.join(name);
    let url = moto.backup("db", name);
    let file_url = format!("{file_dest}/{}", name.replace(' ', "%20"));

    let stock = ok(
        "pg_restore -l",
        &c.tool_of(18, "pg_restore").arg("-l").arg(&local).output().unwrap(),
    );
    for u in [&url, &file_url] {
        let out = ok("verify URL", &run(&["verify", u]));
        assert!(out.contains("verified"), "{out}");
        let listed = ok("list URL", &run(&["list", u]));
        assert_eq!(entry_lines(&listed), entry_lines(&stock), "{u}");
    }
    // A directory archive cannot go to a stream; fetched to a local directory it verifies
    // and restores.
    let e = fails("fetch dir to stdout", &run(&["fetch", &url]));
    assert!(e.contains("-o"), "{e}");
    let copy = dir.join("copy");
    ok("fetch -o DIR", &run(&["fetch", &url, "-o", copy.to_str().unwrap()]));
    ok("verify the copy", &pgsnap().arg("verify").arg(&copy).output().unwrap());
    let target = c.create_database("remote_d_rs", "");
    ok(
        "pg_restore the copy",
        &c.tool_of(18, "pg_restore")
            .args(["-j", "2", "-d", &target])
            .arg(&copy)
            .output()
            .unwrap(),
    );
    let diff = source.diff(&Fingerprint::of(c, &target));
    assert!(diff.is_empty(), "restored from {url} differs:\n{diff}");
    c.drop_database(&target);

    // Each member is downloaded once: its checksum is taken while its contents are read
    // (counted at a proxy in front of the S3 server; before, every member came twice).
    let r = rt();
    let s3 = moto.storage("db");
    let members = r.block_on(s3.list(&format!("{name}/"))).unwrap();
    let stored: u64 = members.iter().map(|o| o.size).sum();
    let proxy = FaultProxy::start(moto.0.port);
    let via_proxy = format!(
        "s3://backups/db/{}?endpoint=http://127.0.0.1:{}&region=us-east-1",
        name.replace(' ', "%20"),
        proxy.port
    );
    let before = moto.0.requests().len();
    ok("verify through the proxy", &run(&["verify", &via_proxy]));
    // One GET per data file, and no HEAD to learn a size the listing already gave.
    let during: Vec<String> = moto.0.requests().split_off(before);
    let member_requests = |method: &str| {
        during
            .iter()
            .filter(|l| l.contains(&format!("\"{method} /backups/db/")) && l.contains(".dat.zst"))
            .count()
    };
    let data_members = members.iter().filter(|o| o.name.ends_with(".dat.zst")).count();
    assert!(data_members > 3, "{members:?}");
    assert_eq!(member_requests("HEAD"), 0, "{during:#?}");
    assert_eq!(member_requests("GET"), data_members, "{during:#?}");
    // The listing gave the manifest's presence and size: fetched once, never asked about.
    let manifest_requests: Vec<&String> = during.iter().filter(|l| l.contains("/pgsnap.manifest ")).collect();
    assert!(
        manifest_requests.len() == 1 && manifest_requests[0].contains("\"GET "),
        "{during:#?}"
    );
    let got = proxy.received();
    assert!(stored > 1_000_000, "{stored}");
    assert!(
        got >= stored && got < stored + stored / 5 + 100_000,
        "verify downloaded {got} bytes of a {stored}-byte backup"
    );

    // A flipped byte in one data file: verify names that object.
    let data = members
        .iter()
        .filter(|o| o.name.ends_with(".dat.zst"))
        .max_by_key(|o| o.size)
        .unwrap()
        .name
        .clone();
    damage(&r, &s3, &data);
    let e = fails("verify damaged", &run(&["verify", &url]));
    assert!(e.contains(&format!("s3://backups/db/{data}")), "{e}");
    // Without its manifest: refused, named.
    r.block_on(s3.delete(&format!("{name}/pgsnap.manifest"))).unwrap();
    let e = fails("verify uncommitted", &run(&["verify", &url]));
    assert!(
        e.contains("not committed") && e.contains(&format!("s3://backups/db/{name}/pgsnap.manifest")),
        "{e}"
    );
}
