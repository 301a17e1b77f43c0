//! The process environment as connection resolution sees it: `PG*` variables, the home
//! directory, the OS user and the default socket directory. Behind a trait so tests never
//! read or mutate the real environment.

use std::path::PathBuf;

/// Environment variables libpq reads as defaults for keywords (libpq "Environment
/// Variables"). Each applies only when no connection string, flag or service file set the
/// keyword. `PGSERVICEFILE`, `PGSYSCONFDIR` (where service files are) and the deprecated
/// `PGREQUIRESSL` are read where they apply, not through this table.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("PGHOST", "host"),
    ("PGHOSTADDR", "hostaddr"),
    ("PGPORT", "port"),
    ("PGDATABASE", "dbname"),
    ("PGUSER", "user"),
    ("PGPASSWORD", "password"),
    ("PGPASSFILE", "passfile"),
    ("PGAPPNAME", "application_name"),
    ("PGCONNECT_TIMEOUT", "connect_timeout"),
    ("PGOPTIONS", "options"),
    ("PGSSLMODE", "sslmode"),
    ("PGSSLROOTCERT", "sslrootcert"),
    ("PGSSLCERT", "sslcert"),
    ("PGSSLKEY", "sslkey"),
    ("PGTARGETSESSIONATTRS", "target_session_attrs"),
    ("PGCHANNELBINDING", "channel_binding"),
    ("PGLOADBALANCEHOSTS", "load_balance_hosts"),
    ("PGGSSENCMODE", "gssencmode"),
    ("PGSSLNEGOTIATION", "sslnegotiation"),
    ("PGCLIENTENCODING", "client_encoding"),
    ("PGSSLCOMPRESSION", "sslcompression"),
    ("PGSSLSNI", "sslsni"),
    ("PGSSLCRL", "sslcrl"),
    ("PGSSLCRLDIR", "sslcrldir"),
    ("PGSSLMINPROTOCOLVERSION", "ssl_min_protocol_version"),
    ("PGSSLMAXPROTOCOLVERSION", "ssl_max_protocol_version"),
    ("PGKRBSRVNAME", "krbsrvname"),
    ("PGGSSLIB", "gsslib"),
    ("PGSERVICE", "service"),
    ("PGSSLCERTMODE", "sslcertmode"),
    // Set in the environment they would change the connection, so they are refused rather
    // than silently dropped (see `conninfo::Support::Unsupported`).
    ("PGREQUIREAUTH", "require_auth"),
    ("PGREQUIREPEER", "requirepeer"),
    ("PGGSSDELEGATION", "gssdelegation"),
    ("PGMINPROTOCOLVERSION", "min_protocol_version"),
    ("PGMAXPROTOCOLVERSION", "max_protocol_version"),
];

/// What resolution reads from outside the command line. Only `var` is required; the other
/// methods derive from it by default, which is what test environments want.
pub trait Env {
    /// An environment variable (`None` when unset; set-but-empty is `Some("")`).
    fn var(&self, name: &str) -> Option<String>;

    /// Where `.pgpass` lives: `$HOME`.
    fn home_dir(&self) -> Option<PathBuf> {
        self.var("HOME").filter(|h| !h.is_empty()).map(PathBuf::from)
    }

    /// The default user name: `$USER`, then `$LOGNAME`.
    fn os_user(&self) -> Option<String> {
        ["USER", "LOGNAME"]
            .iter()
            .find_map(|v| self.var(v).filter(|u| !u.is_empty()))
    }

    /// The socket directory used when no host is given, and the one whose connections match
    /// `localhost` in `.pgpass`. libpq compiles this in; see [`ProcessEnv`] for ours.
    fn default_socket_dir(&self) -> PathBuf {
        PathBuf::from("/tmp")
    }

    /// Where the system-wide `pg_service.conf` is looked for when `PGSYSCONFDIR` is unset.
    fn default_sysconf_dir(&self) -> PathBuf {
        PathBuf::from(super::service::DEFAULT_SYSCONF_DIR)
    }
}

/// Any `Fn(&str) -> Option<String>` is an environment (home, user and socket dir derived).
impl<F: Fn(&str) -> Option<String>> Env for F {
    fn var(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl ProcessEnv {
    pub fn from_process_env() -> ProcessEnv {
        ProcessEnv
    }
}

/// Debian/Ubuntu builds of PostgreSQL (the servers this project targets) put sockets in
/// `/var/run/postgresql`; upstream's compiled default is `/tmp`. We take the first when it
/// exists, which is what the libpq of that machine most likely does.
const DEBIAN_SOCKET_DIR: &str = "/var/run/postgresql";

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        // A non-UTF-8 value cannot be a valid setting; treat it as unset.
        std::env::var(name).ok()
    }

    /// `$HOME`, else the home field of our passwd entry (libpq falls back the same way).
    fn home_dir(&self) -> Option<PathBuf> {
        self.var("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .or_else(|| passwd_entry().map(|e| PathBuf::from(e.home)))
    }

    /// `$USER`, `$LOGNAME`, then the passwd entry of our effective uid, then `id -un`
    /// (covers users that only exist in LDAP/NSS). libpq itself asks getpwuid(geteuid()).
    fn os_user(&self) -> Option<String> {
        ["USER", "LOGNAME"]
            .iter()
            .find_map(|v| self.var(v).filter(|u| !u.is_empty()))
            .or_else(|| passwd_entry().map(|e| e.name))
            .or_else(id_un)
    }

    fn default_socket_dir(&self) -> PathBuf {
        if std::path::Path::new(DEBIAN_SOCKET_DIR).is_dir() {
            PathBuf::from(DEBIAN_SOCKET_DIR)
        } else {
            PathBuf::from("/tmp")
        }
    }
}

struct PasswdEntry {
    name: String,
    home: String,
}

/// Our effective uid without unsafe code: `/proc/self` belongs to it.
fn effective_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

fn passwd_entry() -> Option<PasswdEntry> {
    let uid = effective_uid()?;
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd_lookup(&passwd, uid)
}

/// `name:password:uid:gid:gecos:home:shell` lines.
fn passwd_lookup(passwd: &str, uid: u32) -> Option<PasswdEntry> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() < 7 || fields[2].parse::<u32>().ok()? != uid {
            return None;
        }
        Some(PasswdEntry {
            name: fields[0].to_string(),
            home: fields[5].to_string(),
        })
    })
}

fn id_un() -> Option<String> {
    let out = std::process::Command::new("id").arg("-un").output().ok()?;
    let name = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::conninfo;

    #[test]
    fn every_env_var_names_a_keyword() {
        for (var, kw) in ENV_VARS {
            assert!(conninfo::keyword(kw).is_some(), "{var} -> {kw}");
        }
    }

    #[test]
    fn closure_env_derives_home_and_user() {
        let env = |name: &str| match name {
            "HOME" => Some("/home/alice".to_string()),
            "LOGNAME" => Some("alice".to_string()),
            "USER" => Some(String::new()),
            _ => None,
        };
        assert_eq!(env.home_dir(), Some(PathBuf::from("/home/alice")));
        assert_eq!(env.os_user(), Some("alice".to_string()));
        assert_eq!(env.default_socket_dir(), PathBuf::from("/tmp"));
        let empty = |_: &str| None;
        assert_eq!(empty.home_dir(), None);
        assert_eq!(empty.os_user(), None);
    }

    #[test]
    fn passwd_lines() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n#junk\nbob:x:1000:1000:Bob,,,:/home/bob:/bin/sh\n";
        let bob = passwd_lookup(passwd, 1000).unwrap();
        assert_eq!((bob.name.as_str(), bob.home.as_str()), ("bob", "/home/bob"));
        assert!(passwd_lookup(passwd, 7).is_none());
    }
}
