//! Which PostgreSQL installation the throwaway servers run from, and a check, before initdb,
//! that the server's OS user can reach it.
//!
//! As a normal user the servers run from the provisioned installation itself
//! (`.pg/<major>/`, or `$PGSNAP_PG_ROOT/<major>/`). As root they run as the unprivileged user
//! `pgsnaptest` (initdb refuses root), which must execute `bin/initdb` and `bin/postgres` and
//! read `lib/` and `share/`. A checkout in root's home (mode 0700 on Debian) is out of its
//! reach, and loosening the modes of the user's own directories is not ours to do. So as root
//! the servers run from a *mirror*: the installation's `bin/`, `lib/` and `share/`
//! hard-linked (copied where a link is impossible or the file is not readable by everyone)
//! into `/var/tmp/pgsnap-pg-mirror/<major>-<version>-<stamp>/` (`$PGSNAP_PG_MIRROR` names
//! another directory). Symbolic links would not do: PostgreSQL follows links to its own
//! executable and looks for `lib/` and `share/` beside the real file (find_my_exec in
//! src/common/exec.c).
//!
//! * The stamp hashes the path, mode, size, mtime and link target of every entry, so
//!   checkouts and worktrees holding the same installation share one mirror, and a
//!   re-provisioned installation that differs gets a new one.
//! * A mirror is built in `<key>.tmp-<pid>-<n>/` and renamed into place: concurrent builders
//!   race harmlessly (the first rename wins, the others remove their copy), and a published
//!   mirror is always complete.
//! * Every process that runs servers from a mirror holds a shared lock on `<key>.lock` until
//!   it exits, and a process that joins a running server also holds the mirror that server
//!   was started from (which differs if the installation changed meanwhile); a run's servers
//!   stop when its last process lets go of them. A mirror whose lock nobody holds is removed when a newer mirror is published (its installation was
//!   re-provisioned) and by `scripts/reap-test-clusters`, which `scripts/test` and
//!   `scripts/demo` run before and after their work.
//! * Installations that are not self-contained (no `share/` beside `bin/`, as in Debian's
//!   layout) run in place; `check_server_user_access` explains if that cannot work.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use super::cluster::{SERVER_OS_USER, is_root, project_root, uid};

/// Where mirrors live unless `PGSNAP_PG_MIRROR` says otherwise: a directory every user may
/// enter on most systems, on the same file system as the home directories on most single-disk
/// machines and containers (so mirrors are hard links), and not in RAM as a tmpfs `/tmp` is.
pub const DEFAULT_MIRROR_BASE: &str = "/var/tmp/pgsnap-pg-mirror";

/// The parts of an installation a server needs.
const MIRRORED: [&str; 3] = ["bin", "lib", "share"];

/// The directory holding the provisioned installations, one per major version.
pub fn pg_root() -> PathBuf {
    std::env::var_os("PGSNAP_PG_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join(".pg"))
}

pub fn mirror_base() -> PathBuf {
    std::env::var_os("PGSNAP_PG_MIRROR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_MIRROR_BASE))
}

/// The installation the servers of `major` run from: a mirror of the provisioned one when
/// root, the provisioned one otherwise. Built once per process, and kept (locked) until exit.
pub fn server_install(major: u32) -> PathBuf {
    let src = pg_root().join(major.to_string());
    if !is_root() || !MIRRORED.iter().all(|d| src.join(d).is_dir()) {
        return src;
    }
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, m)) = held.iter().find(|(from, _)| *from == src) {
        return m.dir.clone();
    }
    let mirror = Mirror::of(&mirror_base(), &src, major);
    let dir = mirror.dir.clone();
    held.push((src, mirror));
    dir
}

/// The mirrors this process holds until it exits, by the installation they mirror (if built
/// by this process).
static HELD: Mutex<Vec<(PathBuf, Mirror)>> = Mutex::new(Vec::new());

/// As root, also holds the mirror that the running server of `data` was started from. It is
/// this process's own unless the installation changed since the server started (another
/// process re-provisioned it, or changed a file in it); then it must still not be reaped
/// while this process uses the server. Call with the cluster's setup lock held, so the
/// process that started the server still holds it meanwhile.
pub fn hold_mirror_of_server(data: &Path) {
    if !is_root() {
        return;
    }
    let Some(pid) = fs::read_to_string(data.join("postmaster.pid"))
        .ok()
        .and_then(|t| t.lines().next().map(|l| l.trim().to_string()))
    else {
        return;
    };
    let Ok(exe) = fs::read_link(format!("/proc/{pid}/exe")) else {
        return;
    };
    let Some(dir) = exe.parent().and_then(Path::parent).map(Path::to_path_buf) else {
        return;
    };
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    if dir.parent() != Some(mirror_base().as_path()) || held.iter().any(|(_, m)| m.dir == dir) {
        return; // not a mirror (an installation run in place), or held already
    }
    let mut lock_name = dir.file_name().unwrap_or_default().to_os_string();
    lock_name.push(".lock");
    let lock_path = dir.with_file_name(lock_name);
    let Ok(lock) = OpenOptions::new().write(true).open(&lock_path) else {
        return;
    };
    if lock.lock_shared().is_ok() && same_file(&lock, &lock_path) && dir.is_dir() {
        held.push((exe, Mirror { dir, _lock: lock }));
    }
}

/// A server-side program (initdb, pg_ctl, postgres) of `major`, as the server user runs it.
pub fn server_bin(major: u32, tool: &str) -> PathBuf {
    server_install(major).join("bin").join(tool)
}

/// A published mirror, with the shared lock that keeps it from being reaped while held.
pub struct Mirror {
    pub dir: PathBuf,
    _lock: File,
}

impl Mirror {
    /// The mirror of installation `src` under `base`, built (and published) if missing.
    pub fn of(base: &Path, src: &Path, major: u32) -> Mirror {
        let key = mirror_key(src, major);
        loop {
            if !prepare_base(base) {
                continue; // a reaper removed the (empty) base just after it was created
            }
            let lock_path = base.join(format!("{key}.lock"));
            let lock = match OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
            {
                Ok(f) => f,
                // A reaper removed the (empty) base meanwhile: start again.
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => panic!("open {}: {e}", lock_path.display()),
            };
            lock.lock_shared().expect("lock mirror shared");
            // A reaper may have removed the lock file (and the mirror) between open and lock;
            // then this lock guards nothing.
            if !same_file(&lock, &lock_path) {
                continue;
            }
            let dir = base.join(&key);
            if !dir.is_dir() {
                build(src, base, &key);
            }
            return Mirror { dir, _lock: lock };
        }
    }
}

/// `<major>-<version>-<stamp>`: the version from provisioning's `.version`, the stamp a hash
/// of every mirrored entry's path, type, mode, size, mtime and link target.
pub fn mirror_key(src: &Path, major: u32) -> String {
    let version: String = fs::read_to_string(src.join(".version"))
        .unwrap_or_default()
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    let mut hash = Fnv1a::default();
    hash.write(version.as_bytes());
    for d in MIRRORED {
        stamp_tree(&src.join(d), Path::new(d), &mut hash);
    }
    let version = if version.is_empty() { "unversioned" } else { &version };
    format!("{major}-{version}-{:016x}", hash.0)
}

/// FNV-1a (64 bit): stable across builds and toolchains, unlike `DefaultHasher`, so every
/// checkout names the same installation alike. Not a defence: the base is root's own.
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes.iter().chain([&0u8]) {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

fn sorted_entries(dir: &Path) -> Vec<fs::DirEntry> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    entries.sort_by_key(|e| e.file_name());
    entries
}

fn stamp_tree(dir: &Path, rel: &Path, hash: &mut Fnv1a) {
    for e in sorted_entries(dir) {
        let rel = rel.join(e.file_name());
        let m = fs::symlink_metadata(e.path()).unwrap_or_else(|err| panic!("stat {}: {err}", e.path().display()));
        hash.write(rel.as_os_str().as_bytes());
        if m.is_dir() {
            hash.write(format!("d {:o}", m.mode()).as_bytes());
            stamp_tree(&e.path(), &rel, hash);
        } else if m.file_type().is_symlink() {
            hash.write(b"l");
            hash.write(fs::read_link(e.path()).unwrap_or_default().as_os_str().as_bytes());
        } else {
            let meta = format!("f {:o} {} {}.{}", m.mode(), m.size(), m.mtime(), m.mtime_nsec());
            hash.write(meta.as_bytes());
        }
    }
}

/// Creates the base (0755) if missing; refuses a base that others could write to, since the
/// server user executes what is in it. False if the base vanished meanwhile.
fn prepare_base(base: &Path) -> bool {
    if !base.exists() {
        fs::create_dir_all(base).unwrap_or_else(|e| panic!("create {}: {e}", base.display()));
        let _ = fs::set_permissions(base, fs::Permissions::from_mode(0o755));
    }
    let Ok(m) = fs::metadata(base) else { return false };
    if !m.is_dir() || m.uid() != uid() || m.mode() & 0o022 != 0 {
        panic!(
            "refusing to run test servers from binaries in {}: it is not a directory of uid {} that only its \
             owner may write (mode {:04o}, owner uid {}).\nFix: remove it, or set PGSNAP_PG_MIRROR to \
             another directory for the mirrored PostgreSQL binaries.",
            base.display(),
            uid(),
            m.mode() & 0o7777,
            m.uid()
        );
    }
    true
}

fn make_dir(path: &Path) {
    fs::create_dir(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod 0755");
}

/// Builds the mirror `base/key` from `src` in a private directory and renames it into place.
fn build(src: &Path, base: &Path, key: &str) {
    static N: AtomicU32 = AtomicU32::new(0);
    let tmp = base.join(format!(
        "{key}.tmp-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&tmp);
    make_dir(&tmp);
    for d in MIRRORED {
        mirror_tree(&src.join(d), &tmp.join(d));
    }
    if let Ok(version) = fs::read(src.join(".version")) {
        fs::write(tmp.join(".version"), version).expect("write .version");
        fs::set_permissions(tmp.join(".version"), fs::Permissions::from_mode(0o644)).expect("chmod .version");
    }
    let dir = base.join(key);
    match fs::rename(&tmp, &dir) {
        // Published: mirrors of earlier installations that no process uses are stale now.
        Ok(()) => reap_unused_mirrors(base, Some(key)),
        // Another process published the same mirror first.
        Err(_) if dir.is_dir() => {
            let _ = fs::remove_dir_all(&tmp);
        }
        Err(e) => panic!("publish {} as {}: {e}", tmp.display(), dir.display()),
    }
}

fn mirror_tree(src: &Path, dst: &Path) {
    make_dir(dst);
    for e in sorted_entries(src) {
        let (from, to) = (e.path(), dst.join(e.file_name()));
        let m = fs::symlink_metadata(&from).unwrap_or_else(|err| panic!("stat {}: {err}", from.display()));
        if m.is_dir() {
            mirror_tree(&from, &to);
        } else if m.file_type().is_symlink() {
            // The installation's links are relative (libpq.so.5 -> libpq.so.5.15), so they
            // resolve inside the mirror.
            let target = fs::read_link(&from).unwrap_or_else(|err| panic!("readlink {}: {err}", from.display()));
            symlink(&target, &to).unwrap_or_else(|err| panic!("symlink {}: {err}", to.display()));
        } else if m.is_file() {
            mirror_file(&from, &to, &m);
        }
    }
}

/// Hard-links a file that everyone may read (and execute, if it is a program) and only its
/// owner may write; copies it otherwise, or where linking fails (another file system, or a
/// kernel that protects hard links), with such a mode and the original mtime.
fn mirror_file(from: &Path, to: &Path, m: &fs::Metadata) {
    let mode = m.mode() & 0o7777;
    let executable = mode & 0o111 != 0;
    let public = mode & 0o004 != 0 && (!executable || mode & 0o001 != 0) && mode & 0o7022 == 0;
    if public && fs::hard_link(from, to).is_ok() {
        return;
    }
    fs::copy(from, to).unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), to.display()));
    let mode = if executable { 0o755 } else { 0o644 };
    fs::set_permissions(to, fs::Permissions::from_mode(mode)).expect("chmod mirrored file");
    if let Ok(mtime) = m.modified() {
        let _ = File::options().write(true).open(to).and_then(|f| f.set_modified(mtime));
    }
}

fn same_file(f: &File, path: &Path) -> bool {
    match (f.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

/// Removes the mirrors under `base` (and unfinished builds of them) that no process holds,
/// except `keep`. `scripts/reap-test-clusters` does the same in shell.
pub fn reap_unused_mirrors(base: &Path, keep: Option<&str>) {
    let Ok(entries) = fs::read_dir(base) else { return };
    let names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for name in &names {
        let Some(key) = name.strip_suffix(".lock") else {
            continue;
        };
        if Some(key) == keep {
            continue;
        }
        let path = base.join(name);
        let Ok(lock) = OpenOptions::new().write(true).open(&path) else {
            continue;
        };
        // Held exclusively while removing, so no process can start using it meanwhile; and
        // only if the file is still the one on disk (another reaper may have replaced it).
        if lock.try_lock().is_err() || !same_file(&lock, &path) {
            continue;
        }
        let _ = fs::remove_dir_all(base.join(key));
        let tmp_prefix = format!("{key}.tmp-");
        for tmp in names.iter().filter(|n| n.starts_with(&tmp_prefix)) {
            let _ = fs::remove_dir_all(base.join(tmp));
        }
        let _ = fs::remove_file(&path);
    }
}

/// Run by the server user: prints the first item it cannot use and exits 3. Items are
/// `x:<dir>` (must enter), `f:<program>` (must execute), `w:<dir>` (must write and enter).
const ACCESS_SCRIPT: &str = r#"for p; do
  case $p in
    x:*|f:*) [ -x "${p#??}" ] ;;
    w:*) [ -w "${p#??}" ] && [ -x "${p#??}" ] ;;
  esac || { printf '%s' "$p"; exit 3; }
done"#;

/// As root, before initdb: checks that the server user can execute `initdb` of `major` and
/// write the cluster directory `dir`. Otherwise panics with one message that names what
/// blocks it, the user and the fix, instead of leaving runuser's bare "Permission denied".
pub fn check_server_user_access(major: u32, dir: &Path) {
    if !is_root() {
        return;
    }
    let initdb = server_bin(major, "initdb");
    let mut items: Vec<OsString> = Vec::new();
    for (path, last) in [(initdb.as_path(), "f:"), (dir, "w:")] {
        let mut parents: Vec<&Path> = path.ancestors().skip(1).collect();
        parents.reverse();
        for p in parents {
            items.push(tagged("x:", p));
        }
        items.push(tagged(last, path));
    }
    let out = Command::new("runuser")
        .args(["-u", SERVER_OS_USER, "--", "sh", "-c", ACCESS_SCRIPT, "sh"])
        .args(&items)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run runuser ({e}), which starts test servers as the OS user {SERVER_OS_USER} when \
                 the tests run as root.\nFix: run ./scripts/provision as root (it installs util-linux)."
            )
        });
    if out.status.success() {
        return;
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.code() != Some(3) || stdout.len() < 2 {
        panic!(
            "cannot run commands as the OS user {SERVER_OS_USER}, which runs the test servers when the tests \
             run as root: {}\nFix: run ./scripts/provision as root (it creates that user).",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let (kind, path) = stdout.split_at(2);
    panic!("{}", access_message(major, &initdb, dir, kind, Path::new(path)));
}

fn tagged(tag: &str, path: &Path) -> OsString {
    let mut s = OsString::from(tag);
    s.push(path.as_os_str());
    s
}

fn access_message(major: u32, initdb: &Path, dir: &Path, kind: &str, path: &Path) -> String {
    let user = SERVER_OS_USER;
    let problem = match kind {
        "x:" => format!("cannot enter the directory {}{}", path.display(), describe(path)),
        "f:" => format!(
            "cannot execute {}{} (not executable for it, or on a file system mounted noexec)",
            path.display(),
            describe(path)
        ),
        _ => format!(
            "cannot write the cluster directory {}{}",
            path.display(),
            describe(path)
        ),
    };
    let (goal, fix) = if kind != "w:" && initdb.starts_with(path) {
        let fix = if initdb.starts_with(mirror_base()) {
            format!(
                "Fix: set PGSNAP_PG_MIRROR to a directory that every user may enter, on a file system \
                 mounted with exec (it is {}); the harness mirrors the PostgreSQL binaries there so that \
                 {user} need not reach the checkout.",
                mirror_base().display()
            )
        } else {
            format!(
                "Fix: install PostgreSQL with ./scripts/provision (self-contained installations are \
                 mirrored where {user} can reach them) or point PGSNAP_PG_ROOT at one."
            )
        };
        (
            format!("to run PostgreSQL {major}'s initdb at {}", initdb.display()),
            fix,
        )
    } else {
        (
            format!("to create a cluster in {}", dir.display()),
            "Fix: point TMPDIR at a directory that every user may enter, e.g. `TMPDIR=/tmp` (test clusters \
             live in $TMPDIR/pgsnap-test-<uid>/)."
                .to_string(),
        )
    };
    format!(
        "test servers run as the OS user {user} when the tests run as root (initdb refuses root), but {user} \
         {problem} {goal}.\n{fix}"
    )
}

/// ` (mode 0700, owner root)`, for messages.
fn describe(path: &Path) -> String {
    let Ok(m) = fs::metadata(path) else {
        return String::new();
    };
    let owner = fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| {
            passwd.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2] == m.uid().to_string()).then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| format!("uid {}", m.uid()));
    format!(" (mode {:04o}, owner {owner})", m.mode() & 0o7777)
}
