//! Encrypted archives against real servers: every format dumped with `--encrypt-to` holds no
//! plaintext of its rows, is private on disk (files 0600, directories 0700), and after
//! `pgsnap decrypt` restores with stock pg_restore to data identical to the source; the stock
//! `age` tool decrypts each enveloped file to the same bytes; X25519, ssh-ed25519 and
//! passphrase keys work, either of two recipients decrypts; wrong keys and damaged files are
//! refused with the file named.

mod support;

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use support::checksums::{crc32c_of_file, sha256sum};
use support::{Cluster, Fingerprint, Scratch, TestDb};

/// One way of damaging a file's bytes.
type Edit = Box<dyn Fn(&mut Vec<u8>)>;

/// Rows whose text must never appear in an encrypted archive.
const CANARY: &str = "canary-plaintext-row";

fn source_sql() -> String {
    let app = fs::read_to_string(support::project_root().join("fixtures/app.sql")).expect("fixture");
    format!(
        "{app}\nCREATE TABLE public.secrets (id int PRIMARY KEY, note text NOT NULL);\n\
         INSERT INTO public.secrets SELECT i, '{CANARY}-' || i FROM generate_series(1, 20000) i;\n\
         CREATE TABLE public.empty_one (x int);\n"
    )
}

fn pgsnap() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pgsnap"));
    for v in [
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGPASSWORD",
        "PGPASSFILE",
        "PGSNAP_PASSPHRASE",
    ] {
        c.env_remove(v);
    }
    c.stdin(Stdio::null());
    c
}

fn check_ok(what: &str, out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("error"),
        "{what} failed ({}):\n{stderr}",
        out.status
    );
}

/// A fresh directory for one test's files, removed when the test passes (see `Scratch`).
fn work_dir() -> Scratch {
    Scratch::new("pgsnap-crypt")
}

/// `pgsnap dump -F<format> -f <out> <extra> <db>`.
fn dump(c: &Cluster, db: &str, format: &str, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = pgsnap();
    cmd.arg("dump").arg(format!("-F{format}")).arg("-h").arg(c.socket_dir());
    cmd.args(["-p", &c.port.to_string(), "-U", "postgres", "-f"]).arg(out);
    cmd.args(extra).arg(db);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(name);
    let out = pgsnap().arg("keygen").arg("-o").arg(&key).output().unwrap();
    check_ok("pgsnap keygen", &out);
    let recipient = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(recipient.starts_with("age1"), "{recipient}");
    assert_eq!(fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    (key, recipient)
}

/// `pgsnap decrypt ARCHIVE <keys> [-o OUT]`.
fn decrypt(archive: &Path, keys: &[&str], out: Option<&Path>, env: &[(&str, &str)]) -> Output {
    let mut cmd = pgsnap();
    cmd.arg("decrypt").arg(archive).args(keys);
    if let Some(o) = out {
        cmd.arg("-o").arg(o);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// Every file under `path` (itself when a file).
fn files_of(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut v: Vec<PathBuf> = fs::read_dir(path).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

/// No file holds a canary row; every file is an age file (but the manifest) and private.
fn assert_sealed(archive: &Path) {
    if archive.is_dir() {
        assert_eq!(fs::metadata(archive).unwrap().permissions().mode() & 0o777, 0o700);
    }
    for f in files_of(archive) {
        let bytes = fs::read(&f).unwrap();
        assert!(
            !bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()),
            "{} holds plaintext rows",
            f.display()
        );
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            f.display()
        );
        if !f.ends_with("pgsnap.manifest") {
            assert!(
                bytes.starts_with(b"age-encryption.org/v1\n"),
                "{} is not an age file",
                f.display()
            );
        }
    }
    // Nothing but the archive was left beside it (no spool, no temporary).
    let parent = archive.parent().unwrap();
    for e in fs::read_dir(parent).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains(".pgsnap-"), "left behind: {name}");
    }
}

/// Restores `archive` (a plain archive) with stock pg_restore 18 and compares with `source`.
fn restore_and_compare(c: &Cluster, archive: &Path, source: &Fingerprint, what: &str) {
    let target = c.create_database("crypt_rs", "");
    let out = c
        .tool_of(18, "pg_restore")
        .args(["-d", &target])
        .arg(archive)
        .output()
        .unwrap();
    check_ok(&format!("pg_restore of {what}"), &out);
    let diff = source.diff(&Fingerprint::of(c, &target));
    assert!(diff.is_empty(), "{what}: restored database differs:\n{diff}");
    c.drop_database(&target);
}

/// Stock `age -d -i KEY FILE`.
fn stock_age_decrypt(key: &Path, file: &Path) -> Vec<u8> {
    let out = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(key)
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .expect("the stock age tool (Debian package age; scripts/provision installs it)");
    assert!(
        out.status.success(),
        "age -d {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn every_format_round_trips_encrypted_to_x25519() {
    let db = TestDb::new(18, "crypt_rt", &source_sql());
    let c = &db.cluster;
    let source = Fingerprint::of(c, &db.name);
    let work = work_dir();
    let (key, recipient) = keygen(&work, "key.txt");

    // Directory, parallel, zstd: every member enveloped, names kept.
    let dir = work.join("d");
    let out = dump(
        c,
        &db.name,
        "d",
        &dir,
        &["-j", "2", "-Z", "zstd", "--encrypt-to", &recipient],
        &[],
    );
    check_ok("dump -Fd encrypted", &out);
    assert_sealed(&dir);
    let plain_dir = work.join("d.plain");
    check_ok(
        "decrypt -Fd",
        &decrypt(&dir, &["-i", key.to_str().unwrap()], Some(&plain_dir), &[]),
    );
    restore_and_compare(c, &plain_dir, &source, "-Fd -j 2 -Z zstd");
    // The stock age tool gives the same bytes as pgsnap decrypt, member by member.
    for f in files_of(&dir) {
        let name = f.file_name().unwrap();
        if name == "pgsnap.manifest" {
            continue;
        }
        assert_eq!(
            stock_age_decrypt(&key, &f),
            fs::read(plain_dir.join(name)).unwrap(),
            "{}",
            f.display()
        );
    }

    // Custom (gzip), decrypted to a pipe straight into pg_restore.
    let custom = work.join("db.dump");
    check_ok(
        "dump -Fc encrypted",
        &dump(c, &db.name, "c", &custom, &["-j", "2", "--encrypt-to", &recipient], &[]),
    );
    assert_sealed(&custom);
    let target = c.create_database("crypt_rs", "");
    let mut dec = pgsnap()
        .arg("decrypt")
        .arg(&custom)
        .arg("-i")
        .arg(&key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let restore = c
        .tool_of(18, "pg_restore")
        .args(["-d", &target])
        .stdin(dec.stdout.take().unwrap())
        .output()
        .unwrap();
    let dec = dec.wait_with_output().unwrap();
    check_ok("pgsnap decrypt | ", &dec);
    check_ok("| pg_restore -d", &restore);
    let diff = source.diff(&Fingerprint::of(c, &target));
    assert!(diff.is_empty(), "-Fc via a pipe: restored database differs:\n{diff}");
    c.drop_database(&target);
    let piped = decrypt(&custom, &["-i", key.to_str().unwrap()], None, &[]);
    check_ok("decrypt -Fc to stdout", &piped);
    assert_eq!(stock_age_decrypt(&key, &custom), piped.stdout);

    // Tar, decrypted to a file.
    let tar = work.join("db.tar");
    check_ok(
        "dump -Ft encrypted",
        &dump(c, &db.name, "t", &tar, &["--encrypt-to", &recipient], &[]),
    );
    assert_sealed(&tar);
    let plain_tar = work.join("plain.tar");
    check_ok(
        "decrypt -Ft",
        &decrypt(&tar, &["-i", key.to_str().unwrap()], Some(&plain_tar), &[]),
    );
    assert_eq!(fs::metadata(&plain_tar).unwrap().permissions().mode() & 0o777, 0o600);
    restore_and_compare(c, &plain_tar, &source, "-Ft");

    // Plain script, gzip-compressed, replayed through psql.
    let script = work.join("db.sql.gz");
    check_ok(
        "dump -Fp encrypted",
        &dump(c, &db.name, "p", &script, &["-Z", "6", "--encrypt-to", &recipient], &[]),
    );
    assert_sealed(&script);
    let dec = decrypt(&script, &["-i", key.to_str().unwrap()], None, &[]);
    check_ok("decrypt -Fp", &dec);
    let sql = {
        let mut s = String::new();
        use std::io::Read;
        flate2::read::MultiGzDecoder::new(&dec.stdout[..])
            .read_to_string(&mut s)
            .unwrap();
        s
    };
    let target = c.create_database("crypt_rs", "");
    c.psql(&target, &sql);
    let diff = source.diff(&Fingerprint::of(c, &target));
    assert!(diff.is_empty(), "-Fp: replayed database differs:\n{diff}");
    c.drop_database(&target);
}

#[test]
fn ssh_passphrase_and_two_recipients() {
    let db = TestDb::new(18, "crypt_keys", &source_sql());
    let c = &db.cluster;
    let source = Fingerprint::of(c, &db.name);
    let work = work_dir();

    // An ssh-ed25519 recipient; the private key decrypts (pgsnap and stock age).
    let ssh_key = work.join("id_ed25519");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "backup@test", "-f"])
        .arg(&ssh_key)
        .output()
        .expect("ssh-keygen (openssh-client; scripts/provision installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ssh_pub = fs::read_to_string(work.join("id_ed25519.pub")).unwrap();
    let custom = work.join("ssh.dump");
    check_ok(
        "dump -Fc to ssh",
        &dump(c, &db.name, "c", &custom, &["--encrypt-to", ssh_pub.trim()], &[]),
    );
    assert_sealed(&custom);
    let plain = work.join("ssh.plain.dump");
    check_ok(
        "decrypt with ssh key",
        &decrypt(&custom, &["-i", ssh_key.to_str().unwrap()], Some(&plain), &[]),
    );
    assert_eq!(stock_age_decrypt(&ssh_key, &custom), fs::read(&plain).unwrap());
    restore_and_compare(c, &plain, &source, "ssh-ed25519");

    // A passphrase from a file for the dump, from the environment for decrypt.
    let pw = work.join("pw");
    fs::write(&pw, "correct horse battery staple\n").unwrap();
    let pdir = work.join("pass.d");
    check_ok(
        "dump -Fd with passphrase",
        &dump(
            c,
            &db.name,
            "d",
            &pdir,
            &["-j", "2", "--passphrase-file", pw.to_str().unwrap()],
            &[],
        ),
    );
    assert_sealed(&pdir);
    let pplain = work.join("pass.plain");
    check_ok(
        "decrypt with PGSNAP_PASSPHRASE",
        &decrypt(
            &pdir,
            &[],
            Some(&pplain),
            &[("PGSNAP_PASSPHRASE", "correct horse battery staple")],
        ),
    );
    restore_and_compare(c, &pplain, &source, "passphrase");
    // --encrypt-with-passphrase takes it from the environment; a wrong one is refused.
    let penv = work.join("penv.dump");
    check_ok(
        "dump -Fc --encrypt-with-passphrase",
        &dump(
            c,
            &db.name,
            "c",
            &penv,
            &["--encrypt-with-passphrase"],
            &[("PGSNAP_PASSPHRASE", "from the environment")],
        ),
    );
    let wrong = decrypt(
        &penv,
        &["--passphrase-file", pw.to_str().unwrap()],
        Some(&work.join("x")),
        &[],
    );
    assert!(!wrong.status.success());
    let msg = String::from_utf8_lossy(&wrong.stderr);
    assert!(msg.contains("penv.dump") && !msg.contains("correct horse"), "{msg}");
    assert!(!work.join("x").exists());

    // Two recipients, one given on the command line and one in a file: either decrypts.
    let (key_a, rec_a) = keygen(&work, "a.txt");
    let (key_b, rec_b) = keygen(&work, "b.txt");
    let list = work.join("recipients");
    fs::write(&list, format!("# the restore team\n\n{rec_b}\n")).unwrap();
    let two = work.join("two.tar");
    check_ok(
        "dump -Ft to two recipients",
        &dump(
            c,
            &db.name,
            "t",
            &two,
            &["--encrypt-to", &rec_a, "--encrypt-to-file", list.to_str().unwrap()],
            &[],
        ),
    );
    let a = decrypt(&two, &["-i", key_a.to_str().unwrap()], None, &[]);
    let b = decrypt(&two, &["-i", key_b.to_str().unwrap()], None, &[]);
    check_ok("decrypt with A", &a);
    check_ok("decrypt with B", &b);
    assert_eq!(a.stdout, b.stdout);
    let plain_two = work.join("two.plain.tar");
    fs::File::create(&plain_two).unwrap().write_all(&a.stdout).unwrap();
    restore_and_compare(c, &plain_two, &source, "two recipients");
}

#[test]
fn bad_keys_and_flags_are_refused_before_connecting() {
    let work = work_dir();
    let (_, recipient) = keygen(&work, "k.txt");
    // keygen never overwrites.
    let again = pgsnap()
        .arg("keygen")
        .arg("-o")
        .arg(work.join("k.txt"))
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwritten"));
    let cases: &[(&[&str], &str)] = &[
        (&["--encrypt-to", "age1notakey"], "invalid age recipient"),
        (&["--encrypt-to", "bob@example.com"], "invalid recipient"),
        (
            &["--encrypt-to-file", "/nonexistent/recipients"],
            "could not read recipients file",
        ),
        (
            &["--passphrase-file", "/nonexistent/pw"],
            "could not read passphrase file",
        ),
        (&["--encrypt-with-passphrase"], "PGSNAP_PASSPHRASE"),
        (
            &["--encrypt-to", recipient.as_str(), "--passphrase-file", "/x"],
            "cannot be combined",
        ),
    ];
    for (flags, expected) in cases {
        let out = pgsnap()
            .arg("dump")
            .args(["-Fc", "-f"])
            .arg(work.join("never.dump"))
            .args(*flags)
            // Nothing listens here: key problems must be found first.
            .args(["-h", "/nonexistent", "db"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(expected), "{flags:?}: {err}");
        assert!(!work.join("never.dump").exists());
    }
    let out = pgsnap().args(["decrypt", "/nonexistent"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no key given"));
}

/// `pgsnap verify ARCHIVE <keys>`.
fn verify(archive: &Path, keys: &[&str]) -> Output {
    pgsnap().arg("verify").arg(archive).args(keys).output().unwrap()
}

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        fs::create_dir(to).unwrap();
        for f in files_of(from) {
            fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
        }
    } else {
        fs::copy(from, to).unwrap();
        let mut side = from.as_os_str().to_owned();
        side.push(".manifest");
        let mut to_side = to.as_os_str().to_owned();
        to_side.push(".manifest");
        if Path::new(&side).exists() {
            fs::copy(&side, &to_side).unwrap();
        }
    }
}

/// A damaged copy must fail `verify` with exit 1 (never a panic) and a message naming
/// `names` (any of them).
fn assert_detected(case: &str, out: &Output, names: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{case}: not detected (exit {}):\n{err}",
        out.status
    );
    assert!(!err.contains("panicked"), "{case}: panic:\n{err}");
    assert!(
        names.iter().any(|n| err.contains(n)),
        "{case}: the message names none of {names:?}:\n{err}"
    );
}

/// A small deterministic generator for damage offsets.
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

/// The manifest of the archive at `a` and each file entry with the file it names.
fn manifest_and_files(a: &Path) -> (serde_json::Value, Vec<(serde_json::Value, PathBuf)>) {
    let side = if a.is_dir() {
        a.join("pgsnap.manifest")
    } else {
        let mut s = a.as_os_str().to_owned();
        s.push(".manifest");
        PathBuf::from(s)
    };
    let m: serde_json::Value = serde_json::from_slice(&fs::read(&side).unwrap()).unwrap();
    let files = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let path = if a.is_dir() {
                a.join(f["name"].as_str().unwrap())
            } else {
                a.to_path_buf()
            };
            (f.clone(), path)
        })
        .collect();
    (m, files)
}

#[test]
fn manifest_records_the_dump_and_verify_passes_whole_archives() {
    let db = TestDb::new(18, "crypt_mf", &source_sql());
    let c = &db.cluster;
    let work = work_dir();
    let (key, recipient) = keygen(&work, "key.txt");

    // Unencrypted: names and rows of every table, verified without keys.
    let plain = work.join("plain.d");
    check_ok("dump -Fd", &dump(c, &db.name, "d", &plain, &["-j", "2"], &[]));
    let m: serde_json::Value = serde_json::from_slice(&fs::read(plain.join("pgsnap.manifest")).unwrap()).unwrap();
    assert_eq!(m["format"], "directory");
    assert_eq!(m["database"], db.name.as_str());
    assert_eq!(m["encrypted"], false);
    assert_eq!(m["archive_version"], "1.14");
    assert!(m["snapshot"].as_str().unwrap().len() > 5, "{m}");
    assert!(m["readers"].as_str().unwrap().contains("14"), "{m}");
    let secrets = m["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "public.secrets")
        .expect("rows of public.secrets");
    assert_eq!(secrets["rows"], 20000);
    let listed: Vec<&str> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(listed.contains(&"toc.dat"), "{listed:?}");
    assert_eq!(listed.len(), files_of(&plain).len() - 1);
    let ok = verify(&plain, &[]);
    check_ok("verify -Fd", &ok);
    assert!(String::from_utf8_lossy(&ok.stdout).contains("verified"));

    // Unencrypted single files and compressed directories: sums taken while writing (a
    // plain script, zstd members) and read back after a rewrite in place (the custom TOC's
    // offsets, tar headers) must both be what is on disk.
    for (format, name, extra) in [
        ("c", "open.dump", &[][..]),
        ("t", "open.tar", &[][..]),
        ("p", "open.sql.gz", &["-Z", "gzip:5"][..]),
        ("d", "open.d", &["-Z", "zstd", "-j", "2"][..]),
    ] {
        let a = work.join(name);
        check_ok(&format!("dump -F{format}"), &dump(c, &db.name, format, &a, extra, &[]));
        check_ok(&format!("verify -F{format}"), &verify(&a, &[]));
        // The default checksum is CRC32C, of the bytes on disk (computed here from its
        // definition, not by pgsnap's code).
        let (m, files) = manifest_and_files(&a);
        for (entry, path) in &files {
            assert_eq!(
                entry["crc32c"].as_str(),
                Some(crc32c_of_file(path).as_str()),
                "{format}: {entry}"
            );
            assert!(entry.get("sha256").is_none(), "{entry}");
        }
        assert_eq!(m["manifest_version"], 2);
    }

    // `--manifest-checksums=SHA256` (pg_basebackup's option): what `sha256sum` prints;
    // `NONE`: sizes only. Both verify; damage is still named under SHA-256.
    for (format, name) in [("c", "sha.dump"), ("d", "sha.d")] {
        let a = work.join(name);
        check_ok(
            &format!("dump -F{format} --manifest-checksums=SHA256"),
            &dump(c, &db.name, format, &a, &["--manifest-checksums=SHA256"], &[]),
        );
        check_ok(&format!("verify -F{format} sha256"), &verify(&a, &[]));
        let (_, files) = manifest_and_files(&a);
        for (entry, path) in &files {
            assert_eq!(entry["sha256"].as_str(), Some(sha256sum(path).as_str()), "{entry}");
            assert!(entry.get("crc32c").is_none(), "{entry}");
        }
    }
    let sha_dump = work.join("sha.dump");
    let mut bytes = fs::read(&sha_dump).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    fs::write(&sha_dump, &bytes).unwrap();
    let bad = verify(&sha_dump, &[]);
    assert_detected("a flipped byte under SHA-256", &bad, &["sha.dump"]);
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("SHA-256 differs from the manifest"),
        "{bad:?}"
    );
    let sizes = work.join("sizes.dump");
    check_ok(
        "dump -Fc --manifest-checksums=none",
        &dump(c, &db.name, "c", &sizes, &["--manifest-checksums=none"], &[]),
    );
    check_ok("verify sizes only", &verify(&sizes, &[]));
    let (_, files) = manifest_and_files(&sizes);
    assert!(
        files
            .iter()
            .all(|(e, _)| e.get("crc32c").is_none() && e.get("sha256").is_none())
    );

    // Encrypted single-file archives: a sidecar manifest with the recipient, no table names.
    for (format, name) in [("c", "db.dump"), ("t", "db.tar"), ("p", "db.sql")] {
        let a = work.join(name);
        check_ok(
            &format!("dump -F{format} encrypted"),
            &dump(c, &db.name, format, &a, &["--encrypt-to", &recipient], &[]),
        );
        let side = work.join(format!("{name}.manifest"));
        let text = fs::read_to_string(&side).unwrap();
        assert!(
            !text.contains("public.secrets") && !text.contains("AGE-SECRET"),
            "{text}"
        );
        let m: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(m["recipients"], serde_json::json!([recipient]));
        assert_eq!(m["encrypted"], true);
        assert_eq!(m["files"][0]["size"], fs::metadata(&a).unwrap().len());
        assert_eq!(fs::metadata(&side).unwrap().permissions().mode() & 0o777, 0o600);
        check_ok(
            &format!("verify -F{format}"),
            &verify(&a, &["-i", key.to_str().unwrap()]),
        );
    }

    // `--no-manifest` (a schema file kept in git): no sidecar, no pgsnap.manifest; verify
    // refuses such an archive, naming the missing manifest, as nothing proves it whole.
    let schema = work.join("schema.sql");
    check_ok(
        "dump -Fp -s --no-manifest",
        &dump(c, &db.name, "p", &schema, &["-s", "--no-manifest"], &[]),
    );
    assert!(
        fs::read_to_string(&schema)
            .unwrap()
            .contains("CREATE TABLE public.secrets")
    );
    assert!(!work.join("schema.sql.manifest").exists());
    assert_detected(
        "verify without a manifest",
        &verify(&schema, &[]),
        &["schema.sql.manifest"],
    );
    let bare = work.join("bare.d");
    check_ok(
        "dump -Fd --no-manifest",
        &dump(c, &db.name, "d", &bare, &["--no-manifest"], &[]),
    );
    assert!(bare.join("toc.dat").is_file() && !bare.join("pgsnap.manifest").exists());
    // Without the flag the same script gets its sidecar.
    check_ok("dump -Fp -s", &dump(c, &db.name, "p", &schema, &["-s"], &[]));
    assert!(work.join("schema.sql.manifest").is_file());
    check_ok("verify -Fp -s", &verify(&schema, &[]));
}

#[test]
fn damaged_archives_are_all_detected() {
    let db = TestDb::new(18, "crypt_dmg", &source_sql());
    let c = &db.cluster;
    let work = work_dir();
    let (key, recipient) = keygen(&work, "key.txt");
    let (other_key, _) = keygen(&work, "other.txt");
    let k = ["-i", key.to_str().unwrap()];
    let wrong = ["-i", other_key.to_str().unwrap()];

    // Dumped once each; every case damages a copy.
    let dir = work.join("a.d");
    let dir2 = work.join("b.d");
    let custom = work.join("c.dump");
    let pw = work.join("pw");
    fs::write(&pw, "the right passphrase\n").unwrap();
    let bad_pw = work.join("bad_pw");
    fs::write(&bad_pw, "a wrong passphrase\n").unwrap();
    let tar = work.join("p.tar");
    for (format, out, extra) in [
        ("d", &dir, vec!["-j", "2", "--encrypt-to", recipient.as_str()]),
        ("d", &dir2, vec!["-j", "2", "--encrypt-to", recipient.as_str()]),
        ("c", &custom, vec!["--encrypt-to", recipient.as_str()]),
        ("t", &tar, vec!["--passphrase-file", pw.to_str().unwrap()]),
    ] {
        check_ok(
            &format!("dump -F{format}"),
            &dump(c, &db.name, format, out, &extra, &[]),
        );
    }
    check_ok("verify intact -Fd", &verify(&dir, &k));
    check_ok("verify intact -Fc", &verify(&custom, &k));
    check_ok(
        "verify intact passphrase -Ft",
        &verify(&tar, &["--passphrase-file", pw.to_str().unwrap()]),
    );

    let mut n = 0usize;
    let mut case = |label: String| {
        n += 1;
        work.join(format!("case{n}-{}", label.replace(['/', ' '], "_")))
    };

    // Keys.
    for (a, name) in [(&dir, "a.d"), (&custom, "c.dump")] {
        assert_detected(&format!("{name} wrong identity"), &verify(a, &wrong), &[name]);
        assert_detected(&format!("{name} no identity"), &verify(a, &[]), &[name]);
        let d = decrypt(a, &wrong, Some(&case("wrong-id-out".into())), &[]);
        assert_detected(&format!("decrypt {name} wrong identity"), &d, &[name]);
    }
    assert_detected(
        "wrong passphrase",
        &verify(&tar, &["--passphrase-file", bad_pw.to_str().unwrap()]),
        &["p.tar"],
    );
    assert_detected(
        "decrypt with a wrong passphrase",
        &decrypt(&tar, &[], None, &[("PGSNAP_PASSPHRASE", "a wrong passphrase")]),
        &["p.tar"],
    );

    // Every file of the directory archive and the custom file: truncated at several points,
    // and one byte flipped at random offsets.
    let mut rng = Lcg(0x5eed);
    let mut targets: Vec<(PathBuf, String)> = files_of(&dir)
        .into_iter()
        .filter(|f| !f.ends_with("pgsnap.manifest"))
        .map(|f| (dir.clone(), f.file_name().unwrap().to_string_lossy().into_owned()))
        .collect();
    targets.push((custom.clone(), String::new()));
    let flips_each = 200 / targets.len() + 1;
    let mut damaged = 0;
    for (archive, member) in &targets {
        let src = if member.is_empty() {
            archive.clone()
        } else {
            archive.join(member)
        };
        let len = fs::metadata(&src).unwrap().len();
        let shown = if member.is_empty() {
            "c.dump".to_string()
        } else {
            member.clone()
        };
        let mut edits: Vec<(String, Edit)> = Vec::new();
        for cut in [0, 1, 40, len / 2, len.saturating_sub(17), len - 1] {
            edits.push((
                format!("truncated at {cut}"),
                Box::new(move |b: &mut Vec<u8>| b.truncate(cut as usize)),
            ));
        }
        for _ in 0..flips_each {
            let at = rng.below(len) as usize;
            let bit = 1u8 << rng.below(8);
            edits.push((
                format!("bit flipped at {at}"),
                Box::new(move |b: &mut Vec<u8>| b[at] ^= bit),
            ));
        }
        for (what, edit) in edits {
            let copy = case(format!("{shown}-{what}"));
            copy_tree(archive, &copy);
            let victim = if member.is_empty() {
                copy.clone()
            } else {
                copy.join(member)
            };
            let mut bytes = fs::read(&victim).unwrap();
            edit(&mut bytes);
            fs::write(&victim, &bytes).unwrap();
            let label = format!("{shown} {what}");
            assert_detected(&label, &verify(&copy, &k), &[&shown]);
            if member.is_empty() {
                assert_detected(
                    &format!("decrypt {label}"),
                    &decrypt(&copy, &k, Some(&case("out".into())), &[]),
                    &[&shown],
                );
            }
            damaged += 1;
        }
    }
    assert!(damaged >= 200, "only {damaged} damaged files generated");

    // A missing data file; a missing, an edited and an invalid manifest; a data file swapped
    // in from another dump of the same database (same name, same key, same rows).
    let data_file = files_of(&dir)
        .into_iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .find(|n| n.ends_with(".dat.gz"))
        .unwrap();
    let copy = case("missing-data".into());
    copy_tree(&dir, &copy);
    fs::remove_file(copy.join(&data_file)).unwrap();
    assert_detected("missing data file", &verify(&copy, &k), &[&data_file]);

    let copy = case("missing-manifest".into());
    copy_tree(&dir, &copy);
    fs::remove_file(copy.join("pgsnap.manifest")).unwrap();
    assert_detected("missing manifest", &verify(&copy, &k), &["pgsnap.manifest"]);

    let copy = case("missing-sidecar".into());
    copy_tree(&custom, &copy);
    let mut side = copy.as_os_str().to_owned();
    side.push(".manifest");
    fs::remove_file(&side).unwrap();
    assert_detected("missing sidecar manifest", &verify(&copy, &k), &[".manifest"]);

    let text = fs::read_to_string(dir.join("pgsnap.manifest")).unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&text).unwrap();
    let rows = m["tables"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|t| t["rows"] == 20000)
        .unwrap();
    rows["rows"] = serde_json::json!(19999);
    let copy = case("edited-rows".into());
    copy_tree(&dir, &copy);
    fs::write(copy.join("pgsnap.manifest"), serde_json::to_vec(&m).unwrap()).unwrap();
    assert_detected("manifest with an edited row count", &verify(&copy, &k), &[".dat"]);

    let mut m: serde_json::Value = serde_json::from_str(&text).unwrap();
    let sum = m["files"][0]["crc32c"]
        .as_str()
        .expect("a CRC32C by default")
        .to_string();
    m["files"][0]["crc32c"] = serde_json::json!(if sum == "00000000" { "00000001" } else { "00000000" });
    let first = m["files"][0]["name"].as_str().unwrap().to_string();
    let copy = case("edited-sum".into());
    copy_tree(&dir, &copy);
    fs::write(copy.join("pgsnap.manifest"), serde_json::to_vec(&m).unwrap()).unwrap();
    assert_detected("manifest with an edited checksum", &verify(&copy, &k), &[&first]);

    let copy = case("truncated-manifest".into());
    copy_tree(&dir, &copy);
    fs::write(copy.join("pgsnap.manifest"), &text.as_bytes()[..text.len() / 2]).unwrap();
    assert_detected("truncated manifest", &verify(&copy, &k), &["pgsnap.manifest"]);

    let copy = case("swapped".into());
    copy_tree(&dir, &copy);
    fs::copy(dir2.join(&data_file), copy.join(&data_file)).unwrap();
    assert_detected("data file from another dump", &verify(&copy, &k), &[&data_file]);
}
