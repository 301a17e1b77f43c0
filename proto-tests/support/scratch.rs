//! Scratch directories for the tests: removed when the test passes, kept when it fails so
//! its files can be looked at (the kept path is printed on stderr, which the test runner
//! shows with the failure).
//!
//! A test binds the guard for its whole body (`let out = out_dir();`): a temporary such as
//! `out_dir().join("a")` would remove the directory at the end of the statement.

use std::ffi::OsStr;
use std::io::ErrorKind;
use std::ops::Deref;
use std::path::{Path, PathBuf};

/// A new directory `<prefix>XXXXXX` under the system's temporary directory. Dropped normally
/// it is removed; dropped while its thread panics (a failing test unwinding) it is kept.
#[derive(Debug)]
pub struct Scratch(Option<tempfile::TempDir>);

impl Scratch {
    pub fn new(prefix: &str) -> Scratch {
        Scratch(Some(tempfile::Builder::new().prefix(prefix).tempdir().unwrap()))
    }

    pub fn path(&self) -> &Path {
        // Emptied only by drop.
        self.0.as_ref().unwrap().path()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let Some(dir) = self.0.take() else {
            return;
        };
        if std::thread::panicking() {
            eprintln!("kept {}", dir.keep().display());
        } else {
            let path = dir.path().to_path_buf();
            // Said, not a panic: the test passed. Gone already is fine (a test removed it).
            match dir.close() {
                Err(e) if e.kind() != ErrorKind::NotFound => {
                    eprintln!("could not remove {}: {e}", path.display())
                }
                _ => {}
            }
        }
    }
}

impl Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.path()
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        self.path()
    }
}

impl AsRef<OsStr> for Scratch {
    fn as_ref(&self) -> &OsStr {
        self.path().as_os_str()
    }
}

/// A path inside a [`Scratch`] of its own, owning it: what a helper returns for the file or
/// archive it made in a fresh directory, so the directory lives as long as the path.
#[derive(Debug)]
pub struct ScratchPath {
    path: PathBuf,
    _dir: Scratch,
}

impl ScratchPath {
    /// `name` inside a new [`Scratch`] named by `prefix` (nothing is created at `name`).
    pub fn new(prefix: &str, name: impl AsRef<Path>) -> ScratchPath {
        let dir = Scratch::new(prefix);
        ScratchPath {
            path: dir.join(name),
            _dir: dir,
        }
    }
}

impl Deref for ScratchPath {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for ScratchPath {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<OsStr> for ScratchPath {
    fn as_ref(&self) -> &OsStr {
        self.path.as_os_str()
    }
}
