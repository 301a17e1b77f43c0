//! Temporary outputs of earlier runs. Every temporary pgsnap makes beside an output is named
//! `.<name>.pgsnap-<tmp|spool>-<pid>-<n>` (see `output::unique_sibling` and
//! `DirectoryWriter::create_with`). A run killed by SIGKILL, a power cut or an OOM kill cannot
//! remove its own, so the next run into the same parent removes those whose run is gone.
//!
//! Whether a run is gone is decided by a lock, not by its pid: the run holds an exclusive
//! `flock` on each temporary (the open file, or the directory itself) for as long as it uses
//! it, and the kernel drops the lock when the process dies, however it died. A pid says
//! nothing in another pid namespace (two containers sharing a volume see each other's pids as
//! absent, or as some unrelated live process); a lock on the shared file means the same from
//! every namespace. The pid in the name still counts as a hint: a temporary whose lock is free
//! is removed at once when its pid is gone from this host, and otherwise only once it is
//! [`GRACE`] old, which covers the instant between creating a temporary and locking it.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How old a temporary with a free lock must be before it is judged dead although a process
/// with its pid exists here (pid reuse, or a run in another pid namespace).
pub(crate) const GRACE: Duration = Duration::from_secs(10);

/// Takes the liveness lock on a temporary this run just created (`file` is the open file, or
/// the directory opened with [`File::open`]). Held until `file` is closed. A filesystem that
/// has no locks (some FUSE mounts) does not stop the dump: the temporary is then judged by
/// its pid alone, as a failed `try_lock` in [`owner_gone`] is.
pub(crate) fn hold(file: &File) -> io::Result<()> {
    if let Err(e) = file.lock() {
        tracing::debug!(error = %e, "no lock on a temporary: it will be judged by its pid");
    }
    Ok(())
}

/// Opens directory `dir` and takes its liveness lock; keep the returned handle open while the
/// directory is in use.
pub(crate) fn hold_dir(dir: &Path) -> io::Result<File> {
    let f = File::open(dir)?;
    hold(&f)?;
    Ok(f)
}

/// Whether the run that made the temporary at `path` (pid `pid` in its name) is gone.
fn owner_gone(path: &Path, pid: u32) -> bool {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(_) => return false,
    };
    let pid_gone = process_alive(pid) == Some(false);
    // A link, FIFO or device is never a temporary of ours, and opening it would follow the
    // link or wait for the FIFO's writer: judge by pid.
    if !meta.is_dir() && !meta.is_file() {
        return pid_gone;
    }
    let opened = {
        use std::os::unix::fs::OpenOptionsExt;
        fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(path)
    };
    let Ok(f) = opened else {
        // Cannot be opened (permissions): the pid is all there is.
        return pid_gone;
    };
    match f.try_lock() {
        // Held by a live run, in whatever pid namespace.
        Err(fs::TryLockError::WouldBlock) => false,
        Err(fs::TryLockError::Error(_)) => pid_gone,
        Ok(()) => {
            let old = meta
                .modified()
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age >= GRACE);
            pid_gone || old
        }
    }
}

/// The pid in a pgsnap temporary name, or `None` for any other name.
pub(crate) fn temp_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let at = rest.rfind(".pgsnap-")?;
    // `.<name>.` needs a non-empty name.
    if at == 0 {
        return None;
    }
    let tail = &rest[at + ".pgsnap-".len()..];
    let tail = tail.strip_prefix("tmp-").or_else(|| tail.strip_prefix("spool-"))?;
    let (pid, n) = tail.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(pid) || !digits(n) {
        return None;
    }
    pid.parse().ok()
}

/// Whether process `pid` exists, as far as this host's /proc tells; `None` when /proc is not
/// there to ask (then nothing is judged dead).
fn process_alive(pid: u32) -> Option<bool> {
    if !Path::new("/proc/self").exists() {
        return None;
    }
    Some(Path::new("/proc").join(pid.to_string()).exists())
}

/// Removes the pgsnap temporaries in `parent` that `remove` selects (given the path and the
/// pid in its name); returns what was removed with its pid. Errors (a racing removal, no
/// permission) leave an entry in place.
fn sweep(parent: &Path, remove: impl Fn(&Path, u32) -> bool) -> Vec<(PathBuf, u32)> {
    let Ok(listing) = fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in listing.flatten() {
        let name = entry.file_name();
        let Some(pid) = temp_owner(&name.to_string_lossy()) else {
            continue;
        };
        let path = entry.path();
        if !remove(&path, pid) {
            continue;
        }
        // Never follow a link someone put there: remove the link itself.
        let result = match entry.file_type() {
            Ok(t) if t.is_dir() => fs::remove_dir_all(&path),
            Ok(_) => fs::remove_file(&path),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => removed.push((path, pid)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!("could not remove \"{}\" left by an earlier run: {e}", path.display());
            }
        }
    }
    removed
}

/// Removes the temporaries that runs which no longer exist left in `parent`, saying so for
/// each. A temporary of a live run (a concurrent dump, here or in another container) is left
/// alone: its lock is held.
pub fn remove_stale(parent: &Path) {
    let own = std::process::id();
    for (path, pid) in sweep(parent, |path, pid| pid != own && owner_gone(path, pid)) {
        let why = if process_alive(pid) == Some(false) {
            format!("process {pid} no longer exists")
        } else {
            // Another pid namespace, or the pid was reused: the released lock tells.
            format!("process {pid} does not hold it any more")
        };
        tracing::warn!(
            "removed \"{}\" left behind by an earlier run that stopped ({why})",
            path.display()
        );
    }
}

/// Removes this process's own temporaries in the parent of `output`, and inside `output` when
/// it is a directory written in place, and in the system's temporary directory (spools of an
/// output written in place); empties an existing file being written in place (a backstop
/// after a signal, once the dump has been stopped).
pub fn remove_own(output: &Path) {
    let own = std::process::id();
    super::output::abandon_in_place();
    sweep(&parent_of(output), |_, pid| pid == own);
    if output.is_dir() {
        sweep(output, |_, pid| pid == own);
    }
    if super::spool::spooled_in_temp_dir() {
        sweep(&std::env::temp_dir(), |_, pid| pid == own);
    }
}

/// The directory an output's temporaries are made in.
pub(crate) fn parent_of(output: &Path) -> PathBuf {
    match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_only_pgsnap_temporary_names() {
        assert_eq!(temp_owner(".db.dump.pgsnap-tmp-123-0"), Some(123));
        assert_eq!(temp_owner(".arch.pgsnap-spool-77-12"), Some(77));
        assert_eq!(temp_owner(".a.pgsnap-x.pgsnap-tmp-5-1"), Some(5));
        for other in [
            "db.pgsnap-tmp-1-2",
            "..pgsnap-tmp-1-2",
            ".db.pgsnap-tmp-1",
            ".db.pgsnap-tmp-1-",
            ".db.pgsnap-tmp--2",
            ".db.pgsnap-tmp-1-2x",
            ".db.pgsnap-other-1-2",
            ".db.pgsnap-tmp-99999999999-2",
            "toc.dat",
        ] {
            assert_eq!(temp_owner(other), None, "{other}");
        }
    }

    #[test]
    fn removes_dead_runs_temporaries_and_keeps_live_ones_and_others() {
        let dir = tempfile::tempdir().unwrap();
        // A pid that cannot exist (above the kernel's pid_max limit of 2^22).
        let dead = 4_194_305u32;
        let own = std::process::id();
        fs::create_dir(dir.path().join(format!(".a.pgsnap-tmp-{dead}-0"))).unwrap();
        fs::write(dir.path().join(format!(".a.pgsnap-tmp-{dead}-0")).join("1.dat"), "x").unwrap();
        fs::write(dir.path().join(format!(".b.pgsnap-tmp-{dead}-3")), "x").unwrap();
        fs::create_dir(dir.path().join(format!(".c.pgsnap-spool-{own}-0"))).unwrap();
        fs::write(dir.path().join("keep.dump"), "x").unwrap();
        fs::write(dir.path().join(format!(".keep.pgsnap-notes-{dead}-0")), "x").unwrap();
        remove_stale(dir.path());
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            vec![
                format!(".c.pgsnap-spool-{own}-0"),
                format!(".keep.pgsnap-notes-{dead}-0"),
                "keep.dump".to_string()
            ]
        );
        remove_own(&dir.path().join("c"));
        assert!(!dir.path().join(format!(".c.pgsnap-spool-{own}-0")).exists());
    }

    fn age(path: &Path, by: Duration) {
        File::open(path).unwrap().set_modified(SystemTime::now() - by).unwrap();
    }

    /// Containers sharing a volume: a pid in a name says nothing about the run. The lock
    /// decides: held means alive whatever the pid; free and old means gone even when some
    /// process here has that pid.
    #[test]
    fn the_lock_decides_whatever_the_pid_says() {
        let dir = tempfile::tempdir().unwrap();
        let dead = 4_194_305u32;
        // A pid that exists on this host but is not the run's (our parent).
        let alive = std::os::unix::process::parent_id();
        // A live run in another pid namespace: its pid is absent here, its lock held.
        let live_dir = dir.path().join(format!(".a.pgsnap-tmp-{dead}-0"));
        fs::create_dir(&live_dir).unwrap();
        let held_dir = hold_dir(&live_dir).unwrap();
        let live_file = dir.path().join(format!(".b.pgsnap-tmp-{dead}-1"));
        fs::write(&live_file, "x").unwrap();
        let held_file = File::options().write(true).open(&live_file).unwrap();
        hold(&held_file).unwrap();
        age(&live_dir, GRACE * 3);
        age(&live_file, GRACE * 3);
        // A dead run whose pid now belongs to another process here: lock free, old.
        let gone_dir = dir.path().join(format!(".c.pgsnap-spool-{alive}-2"));
        fs::create_dir(&gone_dir).unwrap();
        fs::write(gone_dir.join("spool-0"), "x").unwrap();
        age(&gone_dir, GRACE * 3);
        let gone_file = dir.path().join(format!(".d.pgsnap-tmp-{alive}-3"));
        fs::write(&gone_file, "x").unwrap();
        age(&gone_file, GRACE * 3);
        // Just made, not yet locked, by a run whose pid is alive here: left for now.
        let fresh = dir.path().join(format!(".e.pgsnap-tmp-{alive}-4"));
        fs::create_dir(&fresh).unwrap();
        // A FIFO under such a name is never opened (that would wait for a writer): kept
        // while its pid lives here.
        let fifo = dir.path().join(format!(".f.pgsnap-tmp-{alive}-5"));
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        remove_stale(dir.path());
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            vec![
                format!(".a.pgsnap-tmp-{dead}-0"),
                format!(".b.pgsnap-tmp-{dead}-1"),
                format!(".e.pgsnap-tmp-{alive}-4"),
                format!(".f.pgsnap-tmp-{alive}-5"),
            ]
        );
        fs::remove_file(&fifo).unwrap();
        // The live run ends (its locks go with its descriptors): the next sweep removes both.
        drop(held_dir);
        drop(held_file);
        remove_stale(dir.path());
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from(format!(".e.pgsnap-tmp-{alive}-4"))]);
    }
}
