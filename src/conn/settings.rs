//! The resolved settings of one connection, and their turning into a `tokio_postgres::Config`,
//! a human description and a libpq connection string.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::config as pg;

use super::conninfo::quote_value;
use super::pgpass::PassFile;
use super::tls::TlsConfig;
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

/// libpq's `sslnegotiation` (PostgreSQL 17+). Default `Postgres`: ask with an SSLRequest
/// first; `Direct` starts the TLS handshake at once (servers 17 and later only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslNegotiation {
    #[default]
    Postgres,
    Direct,
}

impl SslNegotiation {
    pub fn parse(s: &str) -> Option<SslNegotiation> {
        Some(match s {
            "postgres" => SslNegotiation::Postgres,
            "direct" => SslNegotiation::Direct,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslNegotiation::Postgres => "postgres",
            SslNegotiation::Direct => "direct",
        }
    }
}

/// libpq's `sslcertmode` (PostgreSQL 16+). Default `Allow`: send the client certificate if
/// one is configured and the server asks; `Disable` never sends one; `Require` fails when
/// the server did not ask for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslCertMode {
    Disable,
    #[default]
    Allow,
    Require,
}

impl SslCertMode {
    pub fn parse(s: &str) -> Option<SslCertMode> {
        Some(match s {
            "disable" => SslCertMode::Disable,
            "allow" => SslCertMode::Allow,
            "require" => SslCertMode::Require,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslCertMode::Disable => "disable",
            SslCertMode::Allow => "allow",
            SslCertMode::Require => "require",
        }
    }
}

/// A TLS protocol version as `ssl_min_protocol_version`/`ssl_max_protocol_version` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls1_0,
    Tls1_1,
    Tls1_2,
    Tls1_3,
}

impl TlsVersion {
    /// `TLSv1`, `TLSv1.1`, `TLSv1.2`, `TLSv1.3`, case-insensitively (libpq
    /// `sslVerifyProtocolVersion`).
    pub fn parse(s: &str) -> Option<TlsVersion> {
        Some(match s.to_ascii_lowercase().as_str() {
            "tlsv1" => TlsVersion::Tls1_0,
            "tlsv1.1" => TlsVersion::Tls1_1,
            "tlsv1.2" => TlsVersion::Tls1_2,
            "tlsv1.3" => TlsVersion::Tls1_3,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls1_0 => "TLSv1",
            TlsVersion::Tls1_1 => "TLSv1.1",
            TlsVersion::Tls1_2 => "TLSv1.2",
            TlsVersion::Tls1_3 => "TLSv1.3",
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
    /// False when only `hostaddr` was given: `hosts` then repeats the addresses, but libpq
    /// has no host name to check a certificate against (`sslmode=verify-full` fails).
    pub host_names_given: bool,
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
    /// A file of trusted root certificates, or `system` for the system's trusted roots. When
    /// unset, `root.crt` in [`ConnSettings::ssl_dir`] is used if it exists.
    pub sslrootcert: Option<PathBuf>,
    /// Client certificate (chain); unset: `postgresql.crt` in `ssl_dir` if it exists.
    pub sslcert: Option<PathBuf>,
    /// Client key; unset: `postgresql.key` in `ssl_dir`.
    pub sslkey: Option<PathBuf>,
    /// Passphrase of an encrypted `sslkey`.
    pub sslpassword: Option<String>,
    /// Certificate revocation list file; when neither it nor `sslcrldir` is set,
    /// `root.crl` in `ssl_dir` is used if it exists.
    pub sslcrl: Option<PathBuf>,
    /// A directory of certificate revocation lists (every file in it is read).
    pub sslcrldir: Option<PathBuf>,
    pub sslcertmode: SslCertMode,
    pub sslnegotiation: SslNegotiation,
    /// Send the host name in the TLS handshake (SNI); libpq `sslsni`, default on.
    pub sslsni: bool,
    /// Lowest TLS version; `None` is libpq's default, TLSv1.2.
    pub ssl_min_protocol_version: Option<TlsVersion>,
    /// Highest TLS version; `None`: no limit.
    pub ssl_max_protocol_version: Option<TlsVersion>,
    /// Append TLS session secrets to this file (NSS key log format) for debugging.
    pub sslkeylogfile: Option<PathBuf>,
    /// `~/.postgresql`, where the default certificate files live; `None` without a home.
    pub ssl_dir: Option<PathBuf>,
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

/// Everything needed to reach one host: its `tokio_postgres::Config` (exactly one host, with
/// that host's password), the `sslmode` that decides between plaintext and TLS attempts, and
/// the TLS settings, loaded once and shared by every endpoint of a [`ConnSettings`].
/// `pg::Target` connects through a list of these.
#[derive(Clone)]
pub struct Endpoint {
    pub(crate) config: tokio_postgres::Config,
    pub(crate) sslmode: SslMode,
    pub(crate) tls: Arc<TlsConfig>,
    pub(crate) load_balance: LoadBalanceHosts,
    /// A Unix-domain socket: libpq never negotiates TLS over these, whatever `sslmode` says.
    pub(crate) socket: bool,
}

impl Endpoint {
    /// The tokio-postgres side of the endpoint (host, port, user, password, timeouts).
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    pub fn sslmode(&self) -> SslMode {
        self.sslmode
    }

    pub fn load_balance_hosts(&self) -> LoadBalanceHosts {
        self.load_balance
    }

    pub fn channel_binding(&self) -> ChannelBinding {
        match self.config.get_channel_binding() {
            pg::ChannelBinding::Disable => ChannelBinding::Disable,
            pg::ChannelBinding::Require => ChannelBinding::Require,
            _ => ChannelBinding::Prefer,
        }
    }

    pub(crate) fn is_socket(&self) -> bool {
        self.socket
    }

    pub(crate) fn tls_config(&self) -> Arc<TlsConfig> {
        self.tls.clone()
    }

    /// The same endpoint with another config (e.g. the address that answered) and the
    /// `sslmode` a connection actually ended up with.
    pub(crate) fn pinned(&self, config: tokio_postgres::Config, sslmode: SslMode) -> Endpoint {
        Endpoint {
            config,
            sslmode,
            tls: self.tls.clone(),
            load_balance: LoadBalanceHosts::Disable,
            socket: self.socket,
        }
    }

    /// Endpoints for a plain `tokio_postgres::Config`, one per host in its order. Its
    /// `sslmode` keeps tokio-postgres's meaning (`disable`, `prefer`, `require`), with TLS
    /// done without certificate verification, as libpq does without a root certificate file;
    /// for libpq's certificate settings, build from [`ConnSettings`] instead.
    pub fn from_config(config: &tokio_postgres::Config) -> Vec<Endpoint> {
        let sslmode = match config.get_ssl_mode() {
            pg::SslMode::Disable => SslMode::Disable,
            pg::SslMode::Require => SslMode::Require,
            _ => SslMode::Prefer,
        };
        let direct = config.get_ssl_negotiation() == pg::SslNegotiation::Direct;
        let tls = Arc::new(TlsConfig::unverified(direct));
        let load_balance = match config.get_load_balance_hosts() {
            pg::LoadBalanceHosts::Random => LoadBalanceHosts::Random,
            _ => LoadBalanceHosts::Disable,
        };
        let mut base = tokio_postgres::Config::new();
        if let Some(u) = config.get_user() {
            base.user(u);
        }
        if let Some(p) = config.get_password() {
            base.password(p);
        }
        if let Some(d) = config.get_dbname() {
            base.dbname(d);
        }
        if let Some(o) = config.get_options() {
            base.options(o);
        }
        if let Some(a) = config.get_application_name() {
            base.application_name(a);
        }
        if let Some(t) = config.get_connect_timeout() {
            base.connect_timeout(*t);
        }
        if let Some(t) = config.get_tcp_user_timeout() {
            base.tcp_user_timeout(*t);
        }
        base.keepalives(config.get_keepalives())
            .keepalives_idle(config.get_keepalives_idle());
        if let Some(d) = config.get_keepalives_interval() {
            base.keepalives_interval(d);
        }
        if let Some(n) = config.get_keepalives_retries() {
            base.keepalives_retries(n);
        }
        base.target_session_attrs(config.get_target_session_attrs())
            .channel_binding(config.get_channel_binding());
        let hosts = config.get_hosts();
        let addrs = config.get_hostaddrs();
        let ports = config.get_ports();
        (0..hosts.len().max(addrs.len()))
            .map(|i| {
                let mut c = base.clone();
                let socket = match (hosts.get(i), addrs.get(i)) {
                    (Some(pg::Host::Tcp(h)), _) => {
                        c.host(h);
                        false
                    }
                    (Some(pg::Host::Unix(p)), _) => {
                        c.host_path(p);
                        true
                    }
                    (None, Some(a)) => {
                        c.host(a.to_string());
                        false
                    }
                    (None, None) => false,
                };
                if let Some(a) = addrs.get(i) {
                    c.hostaddr(*a);
                }
                c.port(ports.get(i).or(ports.first()).copied().unwrap_or(DEFAULT_PORT));
                Endpoint {
                    config: c,
                    sslmode,
                    tls: tls.clone(),
                    load_balance,
                    socket,
                }
            })
            .collect()
    }
}

/// Never shows the password.
impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("hosts", &self.config.get_hosts())
            .field("hostaddrs", &self.config.get_hostaddrs())
            .field("ports", &self.config.get_ports())
            .field("sslmode", &self.sslmode)
            .field("load_balance", &self.load_balance)
            .finish_non_exhaustive()
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

    /// Everything but hosts, ports, password and TLS; refuses what we cannot honour yet.
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
        // Hosts are shuffled and tried by `pg::Target`, one `Config` per host.
        c.load_balance_hosts(pg::LoadBalanceHosts::Disable);
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

    /// One `tokio_postgres::Config` trying every host in turn, for callers that bring their
    /// own TLS connector. It carries what a `Config` can: `sslmode` `disable` and `prefer`
    /// map to themselves; every other mode, and certificate settings, need the TLS layer of
    /// [`ConnSettings::target_configs`] / `pg::Target::from_settings` and are refused here
    /// rather than silently weakened.
    ///
    /// The password is the explicit one, else the password file's when it gives the same
    /// answer for every host. libpq looks the file up per host; one `Config` holds only one
    /// password, so when hosts disagree none is set (a warning says so): use
    /// [`ConnSettings::target_configs`] to try each host with its own.
    pub fn to_config(&self) -> Result<tokio_postgres::Config> {
        self.check_shape()?;
        let mut c = self.base_config()?;
        c.ssl_mode(match self.sslmode {
            SslMode::Disable => pg::SslMode::Disable,
            SslMode::Prefer => pg::SslMode::Prefer,
            mode => {
                return Err(unsupported(format!(
                    "sslmode={} cannot be expressed in a tokio_postgres::Config; connect through \
                     pgsnap::pg::Target::from_settings, which implements every sslmode",
                    mode.as_str()
                )));
            }
        });
        c.load_balance_hosts(match self.load_balance_hosts {
            LoadBalanceHosts::Disable => pg::LoadBalanceHosts::Disable,
            LoadBalanceHosts::Random => pg::LoadBalanceHosts::Random,
        });
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

    /// One [`Endpoint`] per target, each with its own password-file lookup, in the order
    /// libpq tries them (before `load_balance_hosts=random` shuffles them at connect time).
    /// Workers that must reach the same server as a leader (snapshot import) should reuse
    /// the endpoint the leader reached (`pg::Target::connect_pinned`).
    ///
    /// TLS material (root certificates, CRLs, client certificate and key) is read here, once,
    /// so a missing or unreadable file is reported before any connection attempt and every
    /// connection of a dump uses the same settings.
    pub fn target_configs(&self) -> Result<Vec<(Target, Endpoint)>> {
        self.check_shape()?;
        let base = self.base_config()?;
        let tls = Arc::new(TlsConfig::load(self)?);
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
                let endpoint = Endpoint {
                    config: c,
                    sslmode: self.sslmode,
                    tls: tls.clone(),
                    load_balance: self.load_balance_hosts,
                    socket: matches!(t.host, Host::Socket(_)),
                };
                (t, endpoint)
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
    /// `pg_restore -d`). It includes the password (and `sslpassword`) when set: keep it out
    /// of logs and command lines others can see. Default certificate files are not written
    /// out; libpq finds them the same way.
    pub fn to_conninfo_string(&self) -> String {
        let mut parts: Vec<(&str, String)> = Vec::new();
        if self.host_names_given || self.hostaddrs.is_empty() {
            let hosts: Vec<String> = self.hosts.iter().map(Host::as_conninfo_value).collect();
            parts.push(("host", hosts.join(",")));
        }
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
            ("sslcrl", &self.sslcrl),
            ("sslcrldir", &self.sslcrldir),
            ("sslkeylogfile", &self.sslkeylogfile),
        ] {
            if let Some(p) = path {
                parts.push((key, p.to_string_lossy().into_owned()));
            }
        }
        if let Some(p) = &self.sslpassword {
            parts.push(("sslpassword", p.clone()));
        }
        if self.sslcertmode != SslCertMode::Allow {
            parts.push(("sslcertmode", self.sslcertmode.as_str().to_string()));
        }
        if self.sslnegotiation != SslNegotiation::Postgres {
            parts.push(("sslnegotiation", self.sslnegotiation.as_str().to_string()));
        }
        if !self.sslsni {
            parts.push(("sslsni", "0".to_string()));
        }
        for (key, v) in [
            ("ssl_min_protocol_version", self.ssl_min_protocol_version),
            ("ssl_max_protocol_version", self.ssl_max_protocol_version),
        ] {
            if let Some(v) = v {
                parts.push((key, v.as_str().to_string()));
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
            .field("host_names_given", &self.host_names_given)
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
            .field("sslpassword", &Redacted(self.sslpassword.is_some()))
            .field("sslcrl", &self.sslcrl)
            .field("sslcrldir", &self.sslcrldir)
            .field("sslcertmode", &self.sslcertmode)
            .field("sslnegotiation", &self.sslnegotiation)
            .field("sslsni", &self.sslsni)
            .field("ssl_min_protocol_version", &self.ssl_min_protocol_version)
            .field("ssl_max_protocol_version", &self.ssl_max_protocol_version)
            .field("sslkeylogfile", &self.sslkeylogfile)
            .field("ssl_dir", &self.ssl_dir)
            .field("target_session_attrs", &self.target_session_attrs)
            .field("channel_binding", &self.channel_binding)
            .field("load_balance_hosts", &self.load_balance_hosts)
            .field("keepalives", &self.keepalives)
            .field("tcp_user_timeout", &self.tcp_user_timeout)
            .finish()
    }
}
