//! Merging command-line options, a connection string and the environment into
//! [`ConnSettings`], then reading each value the way libpq does.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::conninfo::{self, ConnInfo, Support};
use super::env::{ENV_VARS, Env, ProcessEnv};
use super::service;
use super::settings::{
    ChannelBinding, ConnSettings, DEFAULT_PORT, Host, Keepalives, LoadBalanceHosts, SslCertMode, SslMode,
    SslNegotiation, TargetSessionAttrs, TlsVersion,
};
use super::{PASSWORD_PROMPT, PasswordPrompt, tty_prompt};
use crate::error::{Error, ErrorKind, Result};

/// Connection flags as pg_dump takes them: `-h -p -U -d -w/-W` and the application name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnOptions {
    /// `-h`: host name, socket directory, or a comma-separated list.
    pub host: Option<String>,
    /// `-p`: port, or a comma-separated list.
    pub port: Option<String>,
    /// `-U`
    pub user: Option<String>,
    /// `-d`: a database name, or a whole connection string / URI (libpq's `dbname` rule).
    pub dbname: Option<String>,
    /// `-w` / `-W` / neither.
    pub password_prompt: PasswordPrompt,
    pub application_name: Option<String>,
}

/// Where a value came from, for error messages.
#[derive(Debug, Clone)]
enum Origin {
    Flag(&'static str),
    ConnString,
    Env(&'static str),
    /// A service file line: service name, file, line number.
    Service(Arc<(String, PathBuf, usize)>),
}

impl Origin {
    fn suffix(&self) -> String {
        match self {
            Origin::Flag(f) => format!(" (from {f})"),
            Origin::ConnString => String::new(),
            Origin::Env(v) => format!(" (from {v})"),
            Origin::Service(at) => format!(" (from service \"{}\" in \"{}\", line {})", at.0, at.1.display(), at.2),
        }
    }
}

/// The merged keyword values; later layers replace earlier ones.
#[derive(Default)]
struct Layers {
    values: BTreeMap<&'static str, (String, Origin)>,
}

impl Layers {
    fn put(&mut self, keyword: &str, value: String, origin: Origin) -> Result<()> {
        let keyword = conninfo::keyword(keyword)
            .ok_or_else(|| Error::internal(format!("unknown keyword {keyword} in resolution")))?;
        self.values.insert(keyword, (value, origin));
        Ok(())
    }

    fn get(&self, keyword: &str) -> Option<(&str, &Origin)> {
        self.values.get(keyword).map(|(v, o)| (v.as_str(), o))
    }

    /// A value that is set and not empty: libpq treats an empty value as "use the default".
    fn non_empty(&self, keyword: &str) -> Option<(&str, &Origin)> {
        self.get(keyword).filter(|(v, _)| !v.is_empty())
    }

    fn string(&self, keyword: &str) -> Option<String> {
        self.non_empty(keyword).map(|(v, _)| v.to_string())
    }

    fn path(&self, keyword: &str) -> Option<PathBuf> {
        self.non_empty(keyword).map(|(v, _)| PathBuf::from(v))
    }

    fn enumerated<T>(&self, keyword: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Option<T>> {
        match self.non_empty(keyword) {
            None => Ok(None),
            Some((v, origin)) => parse(v)
                .map(Some)
                .ok_or_else(|| Error::config(format!("invalid {keyword} value \"{v}\"{}", origin.suffix()))),
        }
    }

    /// An integer as libpq's `parse_int_param` reads it (surrounding blanks allowed).
    fn integer(&self, keyword: &str) -> Result<Option<i64>> {
        match self.non_empty(keyword) {
            None => Ok(None),
            Some((v, origin)) => v.trim().parse::<i64>().map(Some).map_err(|_| {
                Error::config(format!(
                    "invalid integer value \"{v}\" for connection option \"{keyword}\"{}",
                    origin.suffix()
                ))
            }),
        }
    }

    /// A non-negative count of seconds (or of `unit`s); negative values are refused.
    fn duration(&self, keyword: &str, unit: fn(u64) -> Duration) -> Result<Option<Duration>> {
        match self.integer(keyword)? {
            None => Ok(None),
            Some(n) => u64::try_from(n)
                .map(|n| Some(unit(n)))
                .map_err(|_| Error::config(format!("invalid value \"{n}\" for connection option \"{keyword}\""))),
        }
    }
}

impl ConnSettings {
    /// Resolves settings with libpq's precedence: `opts` flags and the connection string
    /// given as `opts.dbname` (if it is one), then the service file entry named by
    /// `service=` or `PGSERVICE` (see [`service`](super::service)), then `PG*` variables from
    /// `env`, then defaults (the default socket directory, port 5432, the OS user, database =
    /// user). As in libpq, an empty flag is ignored, while a keyword set to `''` in the
    /// connection string hides the service and environment values and takes the default.
    ///
    /// `prompt` is called once, with "Password: ", only for [`PasswordPrompt::Force`] (`-W`).
    ///
    /// A connection string in `-d` overrides `-h/-p/-U`, as in stock pg_dump (it passes
    /// `dbname` after them to libpq with expand_dbname).
    pub fn resolve(
        opts: &ConnOptions,
        env: &dyn Env,
        prompt: &mut dyn FnMut(&str) -> Result<String>,
    ) -> Result<ConnSettings> {
        // Explicit settings first, in their own layer: they decide the service to read and
        // then go on top of it.
        let mut explicit = Layers::default();
        // A connection string in -d is expanded after the other flags, so its values win,
        // as in pg_dump (libpq's expand_dbname gives the dbname keyword's string the last
        // word). Only the first dbname is expanded: one inside the string is a plain name.
        let conn_string = opts.dbname.as_deref().filter(|d| conninfo::looks_like_conninfo(d));
        let dbname_flag = if conn_string.is_some() {
            None
        } else {
            opts.dbname.clone()
        };
        let flags = [
            ("host", &opts.host, "-h"),
            ("port", &opts.port, "-p"),
            ("user", &opts.user, "-U"),
            ("dbname", &dbname_flag, "-d"),
            ("application_name", &opts.application_name, "--application-name"),
        ];
        for (keyword, value, flag) in flags {
            if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
                explicit.put(keyword, v.clone(), Origin::Flag(flag))?;
            }
        }
        if let Some(d) = conn_string {
            let info = ConnInfo::parse(d)?;
            for (k, v) in info.iter() {
                explicit.put(k, v.to_string(), Origin::ConnString)?;
            }
        }

        let mut layers = Layers::default();
        for (var, keyword) in ENV_VARS {
            if let Some(value) = env.var(var) {
                layers.put(keyword, value, Origin::Env(var))?;
            }
        }
        // libpq (parseServiceInfo): service= from the string, else PGSERVICE. Its values
        // rank above the environment and below everything given explicitly.
        let service_name = match explicit.get("service") {
            Some((name, _)) => Some(name.to_string()),
            None => env.var("PGSERVICE"),
        }
        .filter(|name| !name.is_empty());
        if let Some(name) = service_name {
            let found = service::lookup(&name, env)?;
            for v in found.values {
                let at = Arc::new((found.name.clone(), found.file.clone(), v.line));
                layers.put(v.keyword, v.value, Origin::Service(at))?;
            }
        }
        for (keyword, (value, origin)) in explicit.values {
            layers.put(keyword, value, origin)?;
        }
        if opts.password_prompt == PasswordPrompt::Force {
            let password = prompt(PASSWORD_PROMPT)?;
            layers.put("password", password, Origin::Flag("-W"))?;
        }
        interpret(&layers, env)
    }

    /// [`ConnSettings::resolve`] against the real environment, prompting on the terminal.
    pub fn from_process_env(opts: &ConnOptions) -> Result<ConnSettings> {
        ConnSettings::resolve(opts, &ProcessEnv, &mut tty_prompt)
    }
}

fn check_support(layers: &Layers) -> Result<()> {
    for (keyword, (value, origin)) in &layers.values {
        if value.is_empty() {
            continue;
        }
        let refused = match *keyword {
            // What we do anyway: never GSSAPI encryption.
            "gssencmode" => !matches!(value.as_str(), "disable" | "prefer"),
            k => conninfo::support(k) == Support::Unsupported,
        };
        if refused {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "connection option {keyword}={value}{} is not supported yet",
                    origin.suffix()
                ),
            ));
        }
        if conninfo::support(keyword) == Support::Ignored {
            tracing::debug!("ignoring connection option {keyword}{}", origin.suffix());
        }
    }
    Ok(())
}

/// Reads each merged keyword the way libpq's `connectOptions2` does.
fn interpret(layers: &Layers, env: &dyn Env) -> Result<ConnSettings> {
    check_support(layers)?;
    let default_socket_dir = env.default_socket_dir();
    let tls = interpret_tls(layers, env)?;

    let hostaddrs = parse_hostaddrs(layers)?;
    let hosts: Vec<Host> = match layers.non_empty("host") {
        Some((list, _)) => list.split(',').map(|h| Host::parse(h, &default_socket_dir)).collect(),
        // Addresses alone: each is its own host name (and its name in the password file).
        None if !hostaddrs.is_empty() => hostaddrs.iter().map(|a| Host::Tcp(a.to_string())).collect(),
        None => vec![Host::Socket(default_socket_dir.clone())],
    };
    if !hostaddrs.is_empty() && hostaddrs.len() != hosts.len() {
        return Err(Error::config(format!(
            "could not match {} host names to {} hostaddr values",
            hosts.len(),
            hostaddrs.len()
        )));
    }
    let ports = parse_ports(layers)?;
    if ports.len() != 1 && ports.len() != hosts.len() {
        return Err(Error::config(format!(
            "could not match {} port numbers to {} hosts",
            ports.len(),
            hosts.len()
        )));
    }

    let user = match layers.string("user") {
        Some(u) => u,
        None => env
            .os_user()
            .ok_or_else(|| Error::config("could not determine the operating-system user name; give one with -U"))?,
    };
    let dbname = layers.string("dbname").unwrap_or_else(|| user.clone());
    let passfile = layers
        .path("passfile")
        .or_else(|| env.home_dir().map(|h| h.join(".pgpass")));

    // libpq: below 2 seconds is raised to 2; zero or negative means wait forever.
    let connect_timeout = layers
        .integer("connect_timeout")?
        .filter(|t| *t > 0)
        .map(|t| Duration::from_secs(t.max(2).unsigned_abs()));

    let keepalives = Keepalives {
        enabled: layers.integer("keepalives")?.is_none_or(|k| k != 0),
        idle: layers.duration("keepalives_idle", Duration::from_secs)?,
        interval: layers.duration("keepalives_interval", Duration::from_secs)?,
        count: match layers.integer("keepalives_count")? {
            None => None,
            Some(n) => Some(u32::try_from(n).map_err(|_| {
                Error::config(format!(
                    "invalid value \"{n}\" for connection option \"keepalives_count\""
                ))
            })?),
        },
    };

    Ok(ConnSettings {
        host_names_given: layers.non_empty("host").is_some() || hostaddrs.is_empty(),
        hosts,
        hostaddrs,
        ports,
        user,
        dbname,
        password: layers.string("password"),
        passfile,
        default_socket_dir,
        application_name: layers
            .string("application_name")
            .or_else(|| layers.string("fallback_application_name")),
        connect_timeout,
        options: layers.string("options"),
        sslmode: tls.sslmode,
        sslrootcert: layers.path("sslrootcert"),
        sslcert: layers.path("sslcert"),
        sslkey: layers.path("sslkey"),
        sslpassword: layers.string("sslpassword"),
        sslcrl: layers.path("sslcrl"),
        sslcrldir: layers.path("sslcrldir"),
        sslcertmode: tls.sslcertmode,
        sslnegotiation: tls.sslnegotiation,
        // libpq sends SNI when the value starts with '1' (the default).
        sslsni: layers.non_empty("sslsni").is_none_or(|(v, _)| v.starts_with('1')),
        ssl_min_protocol_version: tls.min_version,
        ssl_max_protocol_version: tls.max_version,
        sslkeylogfile: layers.path("sslkeylogfile"),
        ssl_dir: env.home_dir().map(|h| h.join(".postgresql")),
        target_session_attrs: layers
            .enumerated("target_session_attrs", TargetSessionAttrs::parse)?
            .unwrap_or_default(),
        channel_binding: layers
            .enumerated("channel_binding", ChannelBinding::parse)?
            .unwrap_or_default(),
        load_balance_hosts: layers
            .enumerated("load_balance_hosts", LoadBalanceHosts::parse)?
            .unwrap_or_default(),
        keepalives,
        // libpq counts this one in milliseconds.
        tcp_user_timeout: layers.duration("tcp_user_timeout", Duration::from_millis)?,
    })
}

/// The TLS keywords whose values depend on each other, checked as libpq's
/// `connectOptions2` does before any connection attempt.
struct TlsChoice {
    sslmode: SslMode,
    sslnegotiation: SslNegotiation,
    sslcertmode: SslCertMode,
    min_version: Option<TlsVersion>,
    max_version: Option<TlsVersion>,
}

fn interpret_tls(layers: &Layers, env: &dyn Env) -> Result<TlsChoice> {
    let mut sslmode = layers.enumerated("sslmode", SslMode::parse)?;
    // The deprecated PGREQUIRESSL=1 means sslmode=require when nothing (not even PGSSLMODE)
    // set sslmode (libpq conninfo_add_defaults).
    if layers.get("sslmode").is_none() && env.var("PGREQUIRESSL").is_some_and(|v| v.starts_with('1')) {
        sslmode = Some(SslMode::Require);
    }
    // sslrootcert=system: the system's roots are only safe with the host name checked, so
    // it makes verify-full the default and refuses anything weaker (libpq 16+).
    if layers.non_empty("sslrootcert").is_some_and(|(v, _)| v == "system") {
        match sslmode {
            None => sslmode = Some(SslMode::VerifyFull),
            Some(SslMode::VerifyFull) => {}
            Some(weak) => {
                return Err(Error::config(format!(
                    "weak sslmode \"{}\" may not be used with sslrootcert=system (use \"verify-full\")",
                    weak.as_str()
                )));
            }
        }
    }
    let sslmode = sslmode.unwrap_or_default();
    let sslnegotiation = layers
        .enumerated("sslnegotiation", SslNegotiation::parse)?
        .unwrap_or_default();
    // No plaintext fallback from a direct handshake (libpq 17).
    if sslnegotiation == SslNegotiation::Direct
        && !matches!(sslmode, SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull)
    {
        return Err(Error::config(format!(
            "weak sslmode \"{}\" may not be used with sslnegotiation=direct (use \"require\", \"verify-ca\", or \"verify-full\")",
            sslmode.as_str()
        )));
    }
    let min_version = layers.enumerated("ssl_min_protocol_version", TlsVersion::parse)?;
    let max_version = layers.enumerated("ssl_max_protocol_version", TlsVersion::parse)?;
    if let (Some(min), Some(max)) = (min_version, max_version)
        && min > max
    {
        return Err(Error::config("invalid SSL protocol version range"));
    }
    if let Some(max) = max_version.filter(|m| *m < TlsVersion::Tls1_2) {
        let origin = layers
            .get("ssl_max_protocol_version")
            .map(|(_, o)| o.suffix())
            .unwrap_or_default();
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "ssl_max_protocol_version={}{origin} is not supported: pgsnap's TLS implementation (rustls) \
                 speaks TLSv1.2 and TLSv1.3 only",
                max.as_str()
            ),
        ));
    }
    let sslcertmode = layers
        .enumerated("sslcertmode", SslCertMode::parse)?
        .unwrap_or_default();
    let channel_binding = layers.enumerated("channel_binding", ChannelBinding::parse)?;
    if channel_binding == Some(ChannelBinding::Require) && sslmode == SslMode::Disable {
        // Channel binding needs TLS; libpq would fail at authentication with "channel binding
        // required, but SSL not in use". Say so before connecting.
        return Err(Error::config(
            "channel_binding=require needs an SSL connection, but sslmode is \"disable\"",
        ));
    }
    Ok(TlsChoice {
        sslmode,
        sslnegotiation,
        sslcertmode,
        min_version,
        max_version,
    })
}

fn parse_hostaddrs(layers: &Layers) -> Result<Vec<IpAddr>> {
    let Some((list, origin)) = layers.non_empty("hostaddr") else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(|a| {
            if a.is_empty() {
                // libpq allows a gap (look that host up); one tokio-postgres Config cannot.
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "empty entries in hostaddr \"{list}\"{} are not supported",
                        origin.suffix()
                    ),
                ));
            }
            a.parse()
                .map_err(|_| Error::config(format!("could not parse network address \"{a}\"{}", origin.suffix())))
        })
        .collect()
}

/// Ports as libpq reads them: an empty list entry is the default port; 1–65535 only.
fn parse_ports(layers: &Layers) -> Result<Vec<u16>> {
    let Some((list, origin)) = layers.non_empty("port") else {
        return Ok(vec![DEFAULT_PORT]);
    };
    list.split(',')
        .map(|p| {
            if p.is_empty() {
                return Ok(DEFAULT_PORT);
            }
            p.trim()
                .parse::<u16>()
                .ok()
                .filter(|n| *n != 0)
                .ok_or_else(|| Error::config(format!("invalid port number \"{p}\"{}", origin.suffix())))
        })
        .collect()
}
