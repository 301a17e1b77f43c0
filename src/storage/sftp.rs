//! SFTP destinations (`sftp://[user@]host[:port]/path`) through OpenDAL's SFTP service, which
//! drives the OpenSSH client (`ssh`, found in `PATH`) with one master connection per
//! destination. The masters are ended (`ssh -O exit`) when the runtime the destination's
//! requests ran on is shut down, which pgsnap waits for before it exits
//! (`storage::shut_down`).
//!
//! Authentication is ssh's own, never a password: the key in `PGSNAP_SFTP_KEY` when set (then
//! only that key is offered), otherwise ssh's defaults (`~/.ssh/id_*`, the agent in
//! `SSH_AUTH_SOCK`, `IdentityFile` of `~/.ssh/config`). The server's host key must already be
//! in `~/.ssh/known_hosts` (or `/etc/ssh/ssh_known_hosts`, or the `UserKnownHostsFile` that
//! `~/.ssh/config` names for the host): checking is strict, an unknown or changed key is
//! refused, never added. Anything else ssh can be told (a jump host, a different
//! known_hosts file, ciphers) goes into a `Host` block of `~/.ssh/config`; ssh reads it from
//! the home directory of the OS user (not `$HOME`).
//!
//! OpenDAL's SFTP writer writes into the file under its final name as the bytes arrive and
//! cannot abort; uploads are therefore written under a temporary name in
//! [`UPLOADS_DIR`](super::UPLOADS_DIR) and renamed into place by [`Storage`](super::Storage)
//! when complete.

use std::path::{Path, PathBuf};

use opendal::Operator;

use super::url::{Location, bracket};
use crate::error::{Error, ErrorKind, Result};

/// The environment variable naming the private key file to log in with.
pub const KEY_ENV: &str = "PGSNAP_SFTP_KEY";

/// `name` in one of the `PATH` directories, executable.
fn in_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// The operator over the directory at `location`; nothing is contacted yet.
pub(super) fn open(location: &Location) -> Result<Operator> {
    let shown = location.to_string();
    let Location::Sftp { user, host, port, root } = location else {
        return Err(Error::internal("not an SFTP location"));
    };
    if in_path("ssh").is_none() {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "destination \"{shown}\": sftp:// destinations need the OpenSSH client \"ssh\" in PATH, which was not found (Debian/Ubuntu: apt-get install openssh-client)"
            ),
        ));
    }
    let mut b = opendal::services::Sftp::default()
        .endpoint(&format!("ssh://{}:{}", bracket(host), port.unwrap_or(22)))
        .root(root)
        // Strict: a host key not in known_hosts is refused, never learned silently.
        .known_hosts_strategy("strict");
    if let Some(u) = user {
        b = b.user(u);
    }
    if let Some(key) = std::env::var_os(KEY_ENV).filter(|k| !k.is_empty()) {
        let key = Path::new(&key);
        match std::fs::metadata(key) {
            Ok(m) if m.is_file() => {}
            Ok(_) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("{KEY_ENV}=\"{}\" is not a file", key.display()),
                ));
            }
            Err(e) => return Err(Error::io(format!("{KEY_ENV}=\"{}\"", key.display()), e)),
        }
        let Some(k) = key.to_str() else {
            return Err(Error::new(
                ErrorKind::Config,
                format!("{KEY_ENV}=\"{}\" is not valid UTF-8", key.display()),
            ));
        };
        b = b.key(k);
    }
    Operator::new(b).map_err(|e| super::dal(&shown, "opening", e))
}
