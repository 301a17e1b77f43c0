//! Output targets pg_dump accepts for the directory format, each run side by side with stock
//! pg_dump of the server's major: an existing empty directory is written in place (a mount
//! point included, its mode and owner kept), `-f .` in an empty working directory, an empty
//! target inside a directory nobody may write, a symbolic link to an empty directory, and for
//! `-Fc`/`-Ft` an existing file inside a directory nobody may write. A failure in place
//! leaves the directory empty, or the file empty.
//!
//! Mount points are private tmpfs mounts in a user+mount namespace (`unshare -rm`, as root or
//! as a normal user); a test that cannot mount fails with the reason, it never skips.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::compare::check_ok;
use support::{Cluster, Fingerprint, Scratch, TestDb};

/// Exit status of the namespace scripts when a mount fails.
const MOUNT_FAILED: i32 = 97;

/// A fresh directory, removed when the test passes (see `Scratch`).
fn fresh_dir(prefix: &str) -> Scratch {
    Scratch::new(prefix)
}

/// Connection arguments for both tools.
fn conn_args(c: &Cluster) -> Vec<String> {
    vec![
        "-h".into(),
        c.socket_dir().display().to_string(),
        "-p".into(),
        c.port.to_string(),
        "-U".into(),
        "postgres".into(),
    ]
}

/// `pgsnap dump -Fd` and stock `pg_dump -Fd` as shell words, output `-f "$1"`, database `db`.
fn commands(c: &Cluster, db: &str, extra: &str) -> (String, String) {
    commands_as(c, db, "-Fd", extra)
}

/// [`commands`] with another format flag.
fn commands_as(c: &Cluster, db: &str, format: &str, extra: &str) -> (String, String) {
    let conn = conn_args(c)
        .iter()
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    (
        format!(
            "'{}' dump {format} {conn} {extra} -f \"$1\" '{db}'",
            env!("CARGO_BIN_EXE_pgsnap")
        ),
        format!(
            "'{}' {format} {conn} {extra} -f \"$1\" '{db}'",
            c.bin("pg_dump").display()
        ),
    )
}

/// Runs `script` with `sh` in a new user+mount namespace; fails the test loudly when the
/// namespace or a mount cannot be made.
fn in_namespace(script: &str) -> Output {
    let res = Command::new("unshare")
        .args(["-rm", "sh", "-c", script])
        .env("PGAPPNAME", "pgsnap_targets")
        .output()
        .unwrap_or_else(|e| panic!("could not run unshare (util-linux): {e}"));
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_ne!(
        res.status.code(),
        Some(MOUNT_FAILED),
        "could not mount a tmpfs in a user+mount namespace (needs unshare and unprivileged \
         user namespaces, or root):\n{stderr}"
    );
    assert!(
        !stderr.contains("unshare:"),
        "could not make a user+mount namespace:\n{stderr}"
    );
    res
}

/// `key=value` lines the scripts print.
fn field<'a>(stdout: &'a str, key: &str) -> &'a str {
    let prefix = format!("{key}=");
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {key}= in the script's output:\n{stdout}"))
}

/// Restores `archive` with stock pg_restore into a fresh database and checks its data equals
/// `source`'s.
fn restores_equal(c: &Cluster, archive: &Path, source: &Fingerprint) {
    let target = c.create_database("tgt_restore", "");
    let out = c
        .tool("pg_restore")
        .args(["-d", &target])
        .arg(archive)
        .output()
        .unwrap();
    check_ok("pg_restore", &out);
    let got = Fingerprint::data_of(c, &target);
    assert_eq!(source.tables, got.tables, "restored data differs");
    c.drop_database(&target);
}

fn small_db(prefix: &str) -> TestDb {
    TestDb::new(
        15,
        prefix,
        "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 5000) g; \
         CREATE TABLE u (a text); INSERT INTO u VALUES ('x'), (NULL);",
    )
}

/// Names in `dir`.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn empty_mount_point_is_written_in_place_like_stock() {
    let db = small_db("tgt_mount");
    let c = &db.cluster;
    let base = fresh_dir("pgsnap-target");
    let (ours, stock) = commands(c, &db.name, "");
    // Two empty tmpfs mount points of mode 0751; each tool dumps into one, then the mounts'
    // mode and contents are reported and copied out before the namespace ends.
    let script = format!(
        r#"set -u
B='{base}'
mkdir "$B/m1" "$B/m2" || exit 1
mount -t tmpfs -o size=64m,mode=0751 tmpfs "$B/m1" || exit {MOUNT_FAILED}
mount -t tmpfs -o size=64m,mode=0751 tmpfs "$B/m2" || exit {MOUNT_FAILED}
set -- "$B/m1"; {ours}; echo "ours=$?"
set -- "$B/m2"; {stock}; echo "stock=$?"
echo "ours_mode=$(stat -c %a "$B/m1")"
echo "stock_mode=$(stat -c %a "$B/m2")"
echo "ours_files=$(ls -A "$B/m1" | tr '\n' ' ')"
cp -a "$B/m1" "$B/ours" && cp -a "$B/m2" "$B/stock"
"#,
        base = base.display()
    );
    let res = in_namespace(&script);
    let stdout = String::from_utf8_lossy(&res.stdout);
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(
        field(&stdout, "stock"),
        "0",
        "stock pg_dump into an empty mount point:\n{stderr}"
    );
    assert_eq!(
        field(&stdout, "ours"),
        "0",
        "pgsnap into an empty mount point:\n{stderr}"
    );
    assert_eq!(field(&stdout, "stock_mode"), "751");
    assert_eq!(field(&stdout, "ours_mode"), "751", "the mount point keeps its mode");
    let files = field(&stdout, "ours_files");
    // The archive and its manifest, nothing hidden left behind.
    let files: Vec<&str> = files.split_whitespace().collect();
    assert!(
        files.contains(&"toc.dat") && files.contains(&"pgsnap.manifest") && !files.iter().any(|f| f.starts_with('.')),
        "{files:?}"
    );
    restores_equal(c, &base.join("ours"), &Fingerprint::data_of(c, &db.name));
}

#[test]
fn a_failure_at_a_mount_point_leaves_it_empty() {
    let db = TestDb::new(
        15,
        "tgt_full",
        "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS v FROM generate_series(1, 300000) g;",
    );
    let c = &db.cluster;
    let base = fresh_dir("pgsnap-target");
    let (ours, _) = commands(c, &db.name, "-Z 0");
    let script = format!(
        r#"set -u
M='{base}/m'
mkdir "$M" || exit 1
mount -t tmpfs -o size=256k,mode=0751 tmpfs "$M" || exit {MOUNT_FAILED}
set -- "$M"; {ours}; echo "ours=$?"
echo "mode=$(stat -c %a "$M")"
echo "left=$(ls -A "$M" | tr '\n' ' ')"
"#,
        base = base.display()
    );
    let res = in_namespace(&script);
    let stdout = String::from_utf8_lossy(&res.stdout);
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(field(&stdout, "ours"), "1", "{stderr}");
    assert!(stderr.contains("no space left on device"), "{stderr}");
    assert_eq!(
        stderr.lines().filter(|l| l.contains("error")).count(),
        1,
        "one message:\n{stderr}"
    );
    assert_eq!(field(&stdout, "left"), "", "the mount point is left empty");
    assert_eq!(field(&stdout, "mode"), "751");
}

#[test]
fn empty_target_in_a_directory_nobody_may_write_like_stock() {
    let db = small_db("tgt_ro");
    let c = &db.cluster;
    let base = fresh_dir("pgsnap-target");
    let (ours, stock) = commands(c, &db.name, "");
    // P is a read-only filesystem (EROFS for root too); its empty subdirectories t1 and t2
    // are writable mounts. Creating anything in P fails.
    let script = format!(
        r#"set -u
P='{base}/p'
mkdir "$P" || exit 1
mount -t tmpfs -o size=1m tmpfs "$P" || exit {MOUNT_FAILED}
mkdir "$P/t1" "$P/t2" || exit 1
mount -t tmpfs -o size=64m,mode=0700 tmpfs "$P/t1" || exit {MOUNT_FAILED}
mount -t tmpfs -o size=64m,mode=0700 tmpfs "$P/t2" || exit {MOUNT_FAILED}
mount -o remount,ro "$P" || exit {MOUNT_FAILED}
if mkdir "$P/probe" 2>/dev/null; then echo "parent_writable=yes"; else echo "parent_writable=no"; fi
set -- "$P/t1"; {ours}; echo "ours=$?"
set -- "$P/t2"; {stock}; echo "stock=$?"
set -- "$P/new"; {ours}; echo "ours_new=$?"
cp -a "$P/t1" "{base}/ours"
echo "parent=$(ls -A "$P" | tr '\n' ' ')"
"#,
        base = base.display()
    );
    let res = in_namespace(&script);
    let stdout = String::from_utf8_lossy(&res.stdout);
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(field(&stdout, "parent_writable"), "no");
    assert_eq!(field(&stdout, "stock"), "0", "stock pg_dump:\n{stderr}");
    assert_eq!(field(&stdout, "ours"), "0", "pgsnap:\n{stderr}");
    // A new target there cannot be made, by anyone: one clear error.
    assert_eq!(field(&stdout, "ours_new"), "1", "{stderr}");
    assert!(stderr.contains("Read-only file system"), "{stderr}");
    assert_eq!(field(&stdout, "parent").trim(), "t1 t2");
    restores_equal(c, &base.join("ours"), &Fingerprint::data_of(c, &db.name));
}

#[test]
fn dot_in_an_empty_working_directory_like_stock() {
    let db = small_db("tgt_dot");
    let c = &db.cluster;
    let ours_dir = fresh_dir("pgsnap-dot");
    let stock_dir = fresh_dir("pgsnap-dot-stock");
    let res = c
        .tool("pg_dump")
        .args(["-Fd", "-f", "."])
        .arg(&db.name)
        .current_dir(&stock_dir)
        .output()
        .unwrap();
    check_ok("stock pg_dump -f .", &res);
    let res = Command::new(env!("CARGO_BIN_EXE_pgsnap"))
        .args(["dump", "-Fd", "-f", "."])
        .args(conn_args(c))
        .arg(&db.name)
        .current_dir(&ours_dir)
        .output()
        .unwrap();
    check_ok("pgsnap dump -f .", &res);
    assert!(
        names(&ours_dir).contains(&"toc.dat".to_string()),
        "{:?}",
        names(&ours_dir)
    );
    // Stock's files and pgsnap's manifest.
    assert!(names(&ours_dir).contains(&"pgsnap.manifest".to_string()));
    assert_eq!(
        names(&ours_dir).len(),
        names(&stock_dir).len() + 1,
        "{:?} vs {:?}",
        names(&ours_dir),
        names(&stock_dir)
    );
    restores_equal(c, &ours_dir, &Fingerprint::data_of(c, &db.name));
    // `.` that is not empty is refused, as stock refuses it, and left untouched.
    let res = Command::new(env!("CARGO_BIN_EXE_pgsnap"))
        .args(["dump", "-Fd", "-f", "."])
        .args(conn_args(c))
        .arg(&db.name)
        .current_dir(&ours_dir)
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&res.stderr).contains("not empty"));
    let stock = c
        .tool("pg_dump")
        .args(["-Fd", "-f", "."])
        .arg(&db.name)
        .current_dir(&stock_dir)
        .output()
        .unwrap();
    assert_eq!(stock.status.code(), Some(1), "stock refuses a non-empty . too");
}

#[test]
fn link_to_an_empty_directory_is_followed_like_stock() {
    use std::os::unix::fs::PermissionsExt;
    let db = small_db("tgt_link");
    let c = &db.cluster;
    let base = fresh_dir("pgsnap-link");
    let mut outs = Vec::new();
    for tool in ["ours", "stock"] {
        let real = base.join(format!("{tool}-real"));
        std::fs::create_dir(&real).unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o751)).unwrap();
        let link = base.join(format!("{tool}-link"));
        std::os::unix::fs::symlink(&real, &link).unwrap();
        outs.push((real, link));
    }
    let ours = Command::new(env!("CARGO_BIN_EXE_pgsnap"))
        .args(["dump", "-Fd", "-f"])
        .arg(&outs[0].1)
        .args(conn_args(c))
        .arg(&db.name)
        .output()
        .unwrap();
    check_ok("pgsnap dump -f LINK", &ours);
    let stock = c
        .tool("pg_dump")
        .args(["-Fd", "-f"])
        .arg(&outs[1].1)
        .arg(&db.name)
        .output()
        .unwrap();
    check_ok("stock pg_dump -f LINK", &stock);
    for (real, link) in &outs {
        assert!(
            std::fs::symlink_metadata(link).unwrap().file_type().is_symlink(),
            "the link stays"
        );
        assert_eq!(
            std::fs::metadata(real).unwrap().permissions().mode() & 0o777,
            0o751,
            "the directory keeps its mode"
        );
        assert!(names(real).contains(&"toc.dat".to_string()), "{:?}", names(real));
    }
    let ours_names = names(&outs[0].0);
    assert!(ours_names.contains(&"pgsnap.manifest".to_string()));
    assert!(!ours_names.iter().any(|n| n.starts_with('.')), "{ours_names:?}");
    assert_eq!(ours_names.len(), names(&outs[1].0).len() + 1);
    restores_equal(c, &outs[0].1, &Fingerprint::data_of(c, &db.name));
    // A link to a directory that is not empty is refused by both, and nothing is written.
    let before = names(&outs[0].0);
    let again = Command::new(env!("CARGO_BIN_EXE_pgsnap"))
        .args(["dump", "-Fd", "-f"])
        .arg(&outs[0].1)
        .args(conn_args(c))
        .arg(&db.name)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
    assert_eq!(names(&outs[0].0), before);
}

/// Shell lines making `$B/p` a read-only filesystem holding files `NAME.dump` for each of
/// `names`, each a writable file (of mode 0640, holding "old") bind-mounted from `$B/w`, a
/// tmpfs of `size`: files that can be written where nothing can be created or removed.
fn writable_files_in_read_only_dir(size: &str, names: &[&str]) -> String {
    let mut s = format!(
        "mkdir \"$B/w\" \"$B/p\" || exit 1\n\
         mount -t tmpfs -o size={size} tmpfs \"$B/w\" || exit {MOUNT_FAILED}\n\
         mount -t tmpfs -o size=1m tmpfs \"$B/p\" || exit {MOUNT_FAILED}\n"
    );
    for n in names {
        s += &format!(
            "echo old > \"$B/w/{n}\" && chmod 0640 \"$B/w/{n}\" && : > \"$B/p/{n}.dump\" || exit 1\n\
             mount --bind \"$B/w/{n}\" \"$B/p/{n}.dump\" || exit {MOUNT_FAILED}\n"
        );
    }
    s += &format!(
        "mount -o remount,ro \"$B/p\" || exit {MOUNT_FAILED}\n\
         if touch \"$B/p/probe\" 2>/dev/null; then echo parent_writable=yes; else echo parent_writable=no; fi\n"
    );
    s
}

#[test]
fn existing_file_in_a_directory_nobody_may_write_like_stock() {
    let db = small_db("tgt_rofile");
    let c = &db.cluster;
    let base = fresh_dir("pgsnap-rofile");
    let (ours_c, stock_c) = commands_as(c, &db.name, "-Fc", "");
    let (ours_t, stock_t) = commands_as(c, &db.name, "-Ft", "");
    let script = format!(
        r#"set -u
B='{base}'
{setup}
set -- "$B/p/oc.dump"; {ours_c}; echo "ours_c=$?"
set -- "$B/p/ot.dump"; {ours_t}; echo "ours_t=$?"
set -- "$B/p/sc.dump"; {stock_c}; echo "stock_c=$?"
set -- "$B/p/st.dump"; {stock_t}; echo "stock_t=$?"
echo "mode=$(stat -c %a "$B/w/oc")"
echo "parent=$(ls -A "$B/p" | tr '\n' ' ')"
cp "$B/p/oc.dump" "$B/ours.dump" && cp "$B/p/ot.dump" "$B/ours.tar"
"#,
        base = base.display(),
        setup = writable_files_in_read_only_dir("64m", &["oc", "ot", "sc", "st"]),
    );
    let res = in_namespace(&script);
    let stdout = String::from_utf8_lossy(&res.stdout);
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(field(&stdout, "parent_writable"), "no");
    assert_eq!(field(&stdout, "stock_c"), "0", "stock pg_dump -Fc:\n{stderr}");
    assert_eq!(field(&stdout, "stock_t"), "0", "stock pg_dump -Ft:\n{stderr}");
    assert_eq!(field(&stdout, "ours_c"), "0", "pgsnap -Fc:\n{stderr}");
    assert_eq!(field(&stdout, "ours_t"), "0", "pgsnap -Ft:\n{stderr}");
    assert_eq!(field(&stdout, "mode"), "640", "the file keeps its mode");
    // Nothing could be made beside the files: no temporaries, and no sidecar manifest, which
    // is said once per dump.
    assert_eq!(field(&stdout, "parent").trim(), "oc.dump ot.dump sc.dump st.dump");
    assert_eq!(
        stderr.matches("no manifest written").count(),
        2,
        "a warning per dump:\n{stderr}"
    );
    assert!(!stderr.contains("error"), "{stderr}");
    let source = Fingerprint::data_of(c, &db.name);
    restores_equal(c, &base.join("ours.dump"), &source);
    restores_equal(c, &base.join("ours.tar"), &source);
}

#[test]
fn a_failure_writing_a_file_in_place_leaves_it_empty() {
    let db = TestDb::new(
        15,
        "tgt_rofull",
        "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS v FROM generate_series(1, 300000) g;",
    );
    let c = &db.cluster;
    let base = fresh_dir("pgsnap-rofull");
    let (ours, _) = commands_as(c, &db.name, "-Fc", "-Z 0");
    let script = format!(
        r#"set -u
B='{base}'
{setup}
set -- "$B/p/f.dump"; {ours}; echo "ours=$?"
echo "size=$(stat -c %s "$B/w/f")"
echo "parent=$(ls -A "$B/p" | tr '\n' ' ')"
"#,
        base = base.display(),
        setup = writable_files_in_read_only_dir("256k", &["f"]),
    );
    let res = in_namespace(&script);
    let stdout = String::from_utf8_lossy(&res.stdout);
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(field(&stdout, "parent_writable"), "no");
    assert_eq!(field(&stdout, "ours"), "1", "{stderr}");
    assert!(stderr.contains("no space left on device"), "{stderr}");
    assert_eq!(
        stderr.lines().filter(|l| l.contains("error")).count(),
        1,
        "one message:\n{stderr}"
    );
    assert_eq!(field(&stdout, "size"), "0", "the partial archive is emptied");
    assert_eq!(field(&stdout, "parent").trim(), "f.dump");
}
