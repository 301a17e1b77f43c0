//! The resolved settings of one connection, and their turning into a `tokio_postgres::Config`,
//! a human description and a libpq connection string.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_postgres::config as pg;

use super::conninfo::quote_value;
use super::pgpass::PassFile;
use crate::error::{Error, ErrorKind, Result};

/// The port libpq uses when none is given.
pub const DEFAULT_PORT: u16 = 5432;

/// `application_name` sent when none is configured (pg_dump sends "pg_dump" the same way,
/// as a fallback name).
pub const DEFAULT_APPLICATION_NAME: &str = "pgsnap";

/// One entry of the `host` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A host name or IP address.
    Tcp(String),
    /// A directory holding the server's Unix socket `.s.PGSQL.<port>` (a host starting with
    /// `/`, as in libpq).
    Socket(PathBuf),
}

impl Host {
    /// libpq's reading of one `host` list entry; an empty entry is the default socket dir.
    pub fn parse(entry: &str, default_socket_dir: &Path) -> Host {
        if entry.is_empty() {
            Host::Socket(default_socket_dir.to_path_buf())
        } else if entry.starts_with('/') {
            Host::Socket(PathBuf::from(entry))
        } else {
            Host::Tcp(entry.to_string())
        }
    }

    fn as_conninfo_value(&self) -> String {
        match self {
            Host::Tcp(h) => h.clone(),
            Host::Socket(p) => p.to_string_lossy().into_owned(),
        }
    }
}

/// libpq's `sslmode`, all six values. Default `Prefer`, as in libpq.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    Disable,
    Allow,
    #[default]
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn parse(s: &str) -> Option<SslMode> {
        Some(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// libpq's `target_session_attrs`. Default `Any`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TargetSessionAttrs {
    #[default]
    Any,
    ReadWrite,
    ReadOnly,
    Primary,
    Standby,
    PreferStandby,
}

impl TargetSessionAttrs {
    pub fn parse(s: &str) -> Option<TargetSessionAttrs> {
        Some(match s {
            "any" => TargetSessionAttrs::Any,
            "read-write" => TargetSessionAttrs::ReadWrite,
            "read-only" => TargetSessionAttrs::ReadOnly,
            "primary" => TargetSessionAttrs::Primary,
            "standby" => TargetSessionAttrs::Standby,
            "prefer-standby" => TargetSessionAttrs::PreferStandby,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TargetSessionAttrs::Any => "any",
            TargetSessionAttrs::ReadWrite => "read-write",
            TargetSessionAttrs::ReadOnly => "read-only",
            TargetSessionAttrs::Primary => "primary",
            TargetSessionAttrs::Standby => "standby",
            TargetSessionAttrs::PreferStandby => "prefer-standby",
        }
    }
}

/// libpq's `channel_binding`. Default `Prefer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChannelBinding {
    Disable,
    #[default]
    Prefer,
    Require,
}

impl ChannelBinding {
    pub fn parse(s: &str) -> Option<ChannelBinding> {
        Some(match s {
            "disable" => ChannelBinding::Disable,
            "prefer" => ChannelBinding::Prefer,
            "require" => ChannelBinding::Require,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelBinding::Disable => "disable",
            ChannelBinding::Prefer => "prefer",
            ChannelBinding::Require => "require",
        }
    }
}

/// libpq's `load_balance_hosts`. Default `Disable` (hosts tried in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoadBalanceHosts {
    #[default]
    Disable,
    Random,
}

impl LoadBalanceHosts {
    pub fn parse(s: &str) -> Option<LoadBalanceHosts> {
        Some(match s {
            "disable" => LoadBalanceHosts::Disable,
            "random" => LoadBalanceHosts::Random,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LoadBalanceHosts::Disable => "disable",
            LoadBalanceHosts::Random => "random",
        }
    }
}

/// TCP keepalive settings (ignored for sockets). libpq default: on, kernel timings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalives {
    pub enabled: bool,
    pub idle: Option<Duration>,
    pub interval: Option<Duration>,
    /// libpq `keepalives_count` (tokio-postgres calls it retries).
    pub count: Option<u32>,
}

impl Default for Keepalives {
    fn default() -> Keepalives {
        Keepalives {
            enabled: true,
            idle: None,
            interval: None,
            count: None,
        }
    }
}

/// The resolved settings of one libpq-style connection. Built by
/// [`ConnSettings::resolve`](super::ConnSettings::resolve); every field is plain data.
///
/// `Debug` and `Display` never show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnSettings {
    /// Never empty after resolution. With only `hostaddr` given, each address is also its host.
    pub hosts: Vec<Host>,
    /// Empty, or one numeric address per host (used instead of resolving the host name).
    pub hostaddrs: Vec<IpAddr>,
    /// One port for every host, or one per host.
    pub ports: Vec<u16>,
    pub user: String,
    pub dbname: String,
    /// A password given outright (prompt, connection string or `PGPASSWORD`). When `None`,
    /// the password file is searched per host.
    pub password: Option<String>,
    /// The password file to search; `None` when no home directory is known.
    pub passfile: Option<PathBuf>,
    /// The socket directory whose connections count as `localhost` in the password file
    /// (libpq's compiled-in default socket directory).
    pub default_socket_dir: PathBuf,
    pub application_name: Option<String>,
    pub connect_timeout: Option<Duration>,
    pub options: Option<String>,
    pub sslmode: SslMode,
    pub sslrootcert: Option<PathBuf>,
    pub sslcert: Option<PathBuf>,
    pub sslkey: Option<PathBuf>,
    pub target_session_attrs: TargetSessionAttrs,
    pub channel_binding: ChannelBinding,
    pub load_balance_hosts: LoadBalanceHosts,
    pub keepalives: Keepalives,
    pub tcp_user_timeout: Option<Duration>,
}

/// One place to try: a host with its port (and address, when `hostaddr` gave one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: Host,
    pub hostaddr: Option<IpAddr>,
    pub port: u16,
}

impl Target {
    /// `host "db" port 5432`, `host "db" (address 10.0.0.5) port 5432` or
    /// `socket "/tmp/.s.PGSQL.5432"`.
    pub fn describe(&self) -> String {
        match (&self.host, self.hostaddr) {
            (Host::Socket(dir), _) => {
                format!("socket \"{}\"", dir.join(format!(".s.PGSQL.{}", self.port)).display())
            }
            (Host::Tcp(h), None) => format!("host \"{h}\" port {}", self.port),
            (Host::Tcp(h), Some(a)) => format!("host \"{h}\" (address {a}) port {}", self.port),
        }
    }
}

fn unsupported(message: String) -> Error {
    Error::new(ErrorKind::Unsupported, message)
}

impl ConnSettings {
    /// The (host, address, port) triples in the order they are tried.
    pub fn targets(&self) -> Vec<Target> {
        self.hosts
            .iter()
            .enumerate()
            .map(|(i, host)| Target {
                host: host.clone(),
                hostaddr: self.hostaddrs.get(i).copied(),
                port: self
                    .ports
                    .get(i)
                    .or(self.ports.first())
                    .copied()
                    .unwrap_or(DEFAULT_PORT),
            })
            .collect()
    }

    /// The name a target is looked up by in the password file: its host name; for a socket,
    /// `localhost` if the directory is the default one, else the directory path (libpq
    /// "The Password File").
    pub fn passfile_host(&self, target: &Target) -> String {
        match &target.host {
            Host::Tcp(h) => h.clone(),
            Host::Socket(dir) if *dir == self.default_socket_dir => "localhost".to_string(),
            Host::Socket(dir) => dir.to_string_lossy().into_owned(),
        }
    }

    /// The password for one target: the explicit one, else the password file's.
    pub fn password_for(&self, target: &Target) -> Option<String> {
        if let Some(p) = &self.password {
            return Some(p.clone());
        }
        let file = PassFile::load_or_warn(self.passfile.as_deref()?)?;
        self.passfile_password(&file, target)
    }

    fn passfile_password(&self, file: &PassFile, target: &Target) -> Option<String> {
        let port = target.port.to_string();
        file.find(&self.passfile_host(target), &port, &self.dbname, &self.user)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
    }

    fn check_shape(&self) -> Result<()> {
        if self.hosts.is_empty() {
            return Err(Error::config("no host to connect to"));
        }
        if self.ports.len() != 1 && self.ports.len() != self.hosts.len() {
            return Err(Error::config(format!(
                "could not match {} port numbers to {} hosts",
                self.ports.len(),
                self.hosts.len()
            )));
        }
        if !self.hostaddrs.is_empty() && self.hostaddrs.len() != self.hosts.len() {
            return Err(Error::config(format!(
                "could not match {} host names to {} hostaddr values",
                self.hosts.len(),
                self.hostaddrs.len()
            )));
        }
        Ok(())
    }

    /// Everything but hosts, ports and password; refuses what we cannot honour yet.
    fn base_config(&self) -> Result<tokio_postgres::Config> {
        let mut c = tokio_postgres::Config::new();
        c.user(&self.user).dbname(&self.dbname);
        c.application_name(self.application_name.as_deref().unwrap_or(DEFAULT_APPLICATION_NAME));
        if let Some(o) = &self.options {
            c.options(o);
        }
        if let Some(t) = self.connect_timeout {
            c.connect_timeout(t);
        }
        if let Some(t) = self.tcp_user_timeout {
            c.tcp_user_timeout(t);
        }
        c.keepalives(self.keepalives.enabled);
        if let Some(d) = self.keepalives.idle {
            c.keepalives_idle(d);
        }
        if let Some(d) = self.keepalives.interval {
            c.keepalives_interval(d);
        }
        if let Some(n) = self.keepalives.count {
            c.keepalives_retries(n);
        }
        c.ssl_mode(match self.sslmode {
            SslMode::Disable => pg::SslMode::Disable,
            // Without a TLS connector tokio-postgres skips TLS under Prefer; libpq's `allow`
            // (plain first, TLS if refused) then behaves the same.
            SslMode::Allow | SslMode::Prefer => pg::SslMode::Prefer,
            mode @ (SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull) => {
                return Err(unsupported(format!(
                    "sslmode={} is not supported yet: pgsnap cannot make TLS connections; \
                     use sslmode=disable or prefer",
                    mode.as_str()
                )));
            }
        });
        c.target_session_attrs(match self.target_session_attrs {
            TargetSessionAttrs::Any => pg::TargetSessionAttrs::Any,
            TargetSessionAttrs::ReadWrite => pg::TargetSessionAttrs::ReadWrite,
            TargetSessionAttrs::ReadOnly => pg::TargetSessionAttrs::ReadOnly,
            other => {
                return Err(unsupported(format!(
                    "target_session_attrs={} is not supported yet; use any, read-write or read-only",
                    other.as_str()
                )));
            }
        });
        c.channel_binding(match self.channel_binding {
            ChannelBinding::Disable => pg::ChannelBinding::Disable,
            ChannelBinding::Prefer => pg::ChannelBinding::Prefer,
            ChannelBinding::Require => pg::ChannelBinding::Require,
        });
        c.load_balance_hosts(match self.load_balance_hosts {
            LoadBalanceHosts::Disable => pg::LoadBalanceHosts::Disable,
            LoadBalanceHosts::Random => pg::LoadBalanceHosts::Random,
        });
        Ok(c)
    }

    fn add_target(c: &mut tokio_postgres::Config, target: &Target) {
        match &target.host {
            Host::Tcp(h) => c.host(h),
            Host::Socket(p) => c.host_path(p),
        };
        if let Some(a) = target.hostaddr {
            c.hostaddr(a);
        }
    }

    /// One `Config` trying every host in turn, as libpq does.
    ///
    /// The password is the explicit one, else the password file's when it gives the same
    /// answer for every host. libpq looks the file up per host; one `Config` holds only one
    /// password, so when hosts disagree none is set (a warning says so): use
    /// [`ConnSettings::target_configs`] to try each host with its own.
    pub fn to_config(&self) -> Result<tokio_postgres::Config> {
        self.check_shape()?;
        let mut c = self.base_config()?;
        let targets = self.targets();
        for t in &targets {
            Self::add_target(&mut c, t);
        }
        // Ports are added as given: one shared, or one per host.
        for p in &self.ports {
            c.port(*p);
        }
        if let Some(p) = &self.password {
            c.password(p.as_bytes());
        } else if let Some(file) = self.passfile.as_deref().and_then(PassFile::load_or_warn) {
            let found: Vec<Option<String>> = targets.iter().map(|t| self.passfile_password(&file, t)).collect();
            if found.windows(2).all(|w| w[0] == w[1]) {
                if let Some(Some(p)) = found.first() {
                    c.password(p.as_bytes());
                }
            } else {
                // Sending one host's password to another would leak it; send none.
                tracing::warn!(
                    "the password file has different entries for the hosts of {}; connecting without one",
                    self.describe()
                );
            }
        }
        Ok(c)
    }

    /// One `Config` per target, each with its own password-file lookup, in the order libpq
    /// tries them. Workers that must reach the same server as a leader (snapshot import)
    /// should reuse the config of the target the leader reached.
    pub fn target_configs(&self) -> Result<Vec<(Target, tokio_postgres::Config)>> {
        self.check_shape()?;
        let base = self.base_config()?;
        let file = match &self.password {
            Some(_) => None,
            None => self.passfile.as_deref().and_then(PassFile::load_or_warn),
        };
        Ok(self
            .targets()
            .into_iter()
            .map(|t| {
                let mut c = base.clone();
                Self::add_target(&mut c, &t);
                c.port(t.port);
                let password = match (&self.password, &file) {
                    (Some(p), _) => Some(p.clone()),
                    (None, Some(f)) => self.passfile_password(f, &t),
                    (None, None) => None,
                };
                if let Some(p) = password {
                    c.password(p.as_bytes());
                }
                (t, c)
            })
            .collect())
    }

    /// For messages: `host "127.0.0.1" port 5432 user "bob" database "shop"`, or
    /// `socket "/tmp/.s.PGSQL.5432" user ...`; several hosts are listed with commas. Never
    /// includes the password.
    pub fn describe(&self) -> String {
        let targets: Vec<String> = self.targets().iter().map(Target::describe).collect();
        format!(
            "{} user \"{}\" database \"{}\"",
            targets.join(", "),
            self.user,
            self.dbname
        )
    }

    /// A libpq `key=value` string with the same meaning, for stock tools (`psql`,
    /// `pg_restore -d`). It includes the password when one is set: keep it out of logs and
    /// command lines others can see.
    pub fn to_conninfo_string(&self) -> String {
        let mut parts: Vec<(&str, String)> = Vec::new();
        let hosts: Vec<String> = self.hosts.iter().map(Host::as_conninfo_value).collect();
        parts.push(("host", hosts.join(",")));
        if !self.hostaddrs.is_empty() {
            let addrs: Vec<String> = self.hostaddrs.iter().map(IpAddr::to_string).collect();
            parts.push(("hostaddr", addrs.join(",")));
        }
        let ports: Vec<String> = self.ports.iter().map(u16::to_string).collect();
        parts.push(("port", ports.join(",")));
        parts.push(("user", self.user.clone()));
        parts.push(("dbname", self.dbname.clone()));
        if let Some(p) = &self.password {
            parts.push(("password", p.clone()));
        } else if let Some(f) = &self.passfile {
            parts.push(("passfile", f.to_string_lossy().into_owned()));
        }
        if let Some(a) = &self.application_name {
            parts.push(("application_name", a.clone()));
        }
        if let Some(o) = &self.options {
            parts.push(("options", o.clone()));
        }
        if let Some(t) = self.connect_timeout {
            parts.push(("connect_timeout", t.as_secs().to_string()));
        }
        parts.push(("sslmode", self.sslmode.as_str().to_string()));
        for (key, path) in [
            ("sslrootcert", &self.sslrootcert),
            ("sslcert", &self.sslcert),
            ("sslkey", &self.sslkey),
        ] {
            if let Some(p) = path {
                parts.push((key, p.to_string_lossy().into_owned()));
            }
        }
        if self.target_session_attrs != TargetSessionAttrs::Any {
            parts.push(("target_session_attrs", self.target_session_attrs.as_str().to_string()));
        }
        if self.channel_binding != ChannelBinding::Prefer {
            parts.push(("channel_binding", self.channel_binding.as_str().to_string()));
        }
        if self.load_balance_hosts != LoadBalanceHosts::Disable {
            parts.push(("load_balance_hosts", self.load_balance_hosts.as_str().to_string()));
        }
        if !self.keepalives.enabled {
            parts.push(("keepalives", "0".to_string()));
        }
        for (key, d) in [
            ("keepalives_idle", self.keepalives.idle),
            ("keepalives_interval", self.keepalives.interval),
        ] {
            if let Some(d) = d {
                parts.push((key, d.as_secs().to_string()));
            }
        }
        if let Some(n) = self.keepalives.count {
            parts.push(("keepalives_count", n.to_string()));
        }
        if let Some(t) = self.tcp_user_timeout {
            parts.push(("tcp_user_timeout", t.as_millis().to_string()));
        }
        let pairs: Vec<String> = parts.iter().map(|(k, v)| format!("{k}={}", quote_value(v))).collect();
        pairs.join(" ")
    }
}

impl fmt::Display for ConnSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// By hand, so the password can never reach a log.
impl fmt::Debug for ConnSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Redacted(bool);
        impl fmt::Debug for Redacted {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(if self.0 { "<redacted>" } else { "None" })
            }
        }
        f.debug_struct("ConnSettings")
            .field("hosts", &self.hosts)
            .field("hostaddrs", &self.hostaddrs)
            .field("ports", &self.ports)
            .field("user", &self.user)
            .field("dbname", &self.dbname)
            .field("password", &Redacted(self.password.is_some()))
            .field("passfile", &self.passfile)
            .field("default_socket_dir", &self.default_socket_dir)
            .field("application_name", &self.application_name)
            .field("connect_timeout", &self.connect_timeout)
            .field("options", &self.options)
            .field("sslmode", &self.sslmode)
            .field("sslrootcert", &self.sslrootcert)
            .field("sslcert", &self.sslcert)
            .field("sslkey", &self.sslkey)
            .field("target_session_attrs", &self.target_session_attrs)
            .field("channel_binding", &self.channel_binding)
            .field("load_balance_hosts", &self.load_balance_hosts)
            .field("keepalives", &self.keepalives)
            .field("tcp_user_timeout", &self.tcp_user_timeout)
            .finish()
    }
}
