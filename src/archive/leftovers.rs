//! Temporary outputs of earlier runs. Every temporary pgsnap makes beside an output is named
//! `.<name>.pgsnap-<tmp|spool>-<pid>-<n>` (see `output::unique_sibling` and
//! `DirectoryWriter::create_with`). A run killed by SIGKILL, a power cut or an OOM kill cannot
//! remove its own, so the next run into the same parent removes those whose process is gone.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

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

/// Removes the pgsnap temporaries in `parent` whose owner `remove` selects; returns what was
/// removed with its pid. Errors (a racing removal, no permission) leave an entry in place.
fn sweep(parent: &Path, remove: impl Fn(u32) -> bool) -> Vec<(PathBuf, u32)> {
    let Ok(listing) = fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in listing.flatten() {
        let name = entry.file_name();
        let Some(pid) = temp_owner(&name.to_string_lossy()) else {
            continue;
        };
        if !remove(pid) {
            continue;
        }
        let path = entry.path();
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
/// each. A temporary of a live process (a concurrent dump) is left alone.
pub fn remove_stale(parent: &Path) {
    let own = std::process::id();
    for (path, pid) in sweep(parent, |pid| pid != own && process_alive(pid) == Some(false)) {
        tracing::warn!(
            "removed \"{}\" left behind by an earlier run that stopped (process {pid} no longer exists)",
            path.display()
        );
    }
}

/// Removes this process's own temporaries in the parent of `output`, and inside `output` when
/// it is a directory written in place (a backstop after a signal, once the dump has been
/// stopped).
pub fn remove_own(output: &Path) {
    let own = std::process::id();
    sweep(&parent_of(output), |pid| pid == own);
    if output.is_dir() {
        sweep(output, |pid| pid == own);
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
}
