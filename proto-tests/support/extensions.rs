//! The test extensions of `fixtures/extensions/` (control and script files), installed by the
//! harness into the `share/extension` directory of the installation a running server was
//! started from, so fixtures may `CREATE EXTENSION` them.
//!
//! The directory is found from the postmaster's own executable (`/proc/<pid>/exe`), because
//! PostgreSQL looks for `share/` beside the real file of its executable (find_my_exec in
//! src/common/exec.c): that is right whether the server runs from the provisioned
//! installation or from a copy of it made for the unprivileged server user.
//!
//! Installing is idempotent and safe under concurrency: a file whose installed bytes are
//! already equal is left alone; any other is written beside its place and renamed over it,
//! so a reader never sees half a file, and a file hard-linked from another installation is
//! replaced rather than written through.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::project_root;

/// `fixtures/extensions/`.
pub fn fixtures_dir() -> PathBuf {
    project_root().join("fixtures/extensions")
}

/// The `share/extension` directory of the server whose postmaster runs with `pid`.
pub fn extension_dir_of(pid: i32) -> PathBuf {
    let exe = fs::read_link(format!("/proc/{pid}/exe"))
        .unwrap_or_else(|e| panic!("cannot find the executable of server process {pid}: {e}"));
    let install = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("server executable {} is not in <install>/bin", exe.display()));
    install.join("share/extension")
}

/// Installs every file of `fixtures/extensions/` into `dir` (see the module docs).
pub fn install_all(dir: &Path) {
    let entries = fs::read_dir(fixtures_dir()).unwrap_or_else(|e| panic!("read {}: {e}", fixtures_dir().display()));
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.ends_with(".control") || name.ends_with(".sql")) {
            continue;
        }
        let wanted = fs::read(entry.path()).unwrap_or_else(|e| panic!("read {name}: {e}"));
        let target = dir.join(&name);
        if fs::read(&target).is_ok_and(|have| have == wanted) {
            continue;
        }
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        fs::write(&tmp, &wanted).unwrap_or_else(|e| {
            panic!(
                "install test extension file {name}: cannot write {}: {e}\nFix: make {} writable \
                 by the user running the tests.",
                tmp.display(),
                dir.display()
            )
        });
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644)).expect("chmod extension file");
        fs::rename(&tmp, &target).unwrap_or_else(|e| panic!("install {name} in {}: {e}", dir.display()));
    }
}
