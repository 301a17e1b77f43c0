//! The only code that talks to PostgreSQL: connecting, pg_dump's session setup, snapshot
//! export/import, locks, catalog queries with typed row access, COPY streams, cancellation.

mod copy;
mod row;
mod tap;
mod tls;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio_postgres::error::SqlState;

use crate::conn::{ChannelBinding, ConnSettings, Endpoint, LoadBalanceHosts, SslMode};
use crate::error::{Error, ErrorKind, Result, Retry};
use crate::model::ServerVersion;
pub use copy::CopyChunk;
use tap::Tap;
use tls::{Failure, Outcome, PgTls, Want};

pub use row::Row;

/// The relation kinds a dump session may not expand or contact (pg_dump since the August
/// 2024 security releases).
pub const RESTRICTED_RELATION_KINDS: &str = "view, foreign-table";

/// Settings pg_dump applies to every connection (pg_dump.c `setup_connection`).
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// `--lock-wait-timeout`: bounds the leader's LOCK TABLE statements.
    pub lock_wait_timeout: Option<Duration>,
    /// `--extra-float-digits`; pg_dump uses 3 when not given.
    pub extra_float_digits: i32,
    /// `--enable-row-security`; off makes a dump fail rather than silently skip rows.
    pub row_security: bool,
    /// `-E/--encoding`; `None` keeps the server's encoding.
    pub client_encoding: Option<String>,
    /// `--role`: `SET ROLE` after connecting.
    pub role: Option<String>,
    /// `--quote-all-identifiers`: the server's deparse functions quote every identifier too.
    pub quote_all_identifiers: bool,
    /// `--serializable-deferrable`: the leader waits for a snapshot free of serialization
    /// anomalies (SERIALIZABLE, READ ONLY, DEFERRABLE).
    pub serializable_deferrable: bool,
    /// `--snapshot`: dump under this exported snapshot instead of exporting one.
    pub snapshot: Option<String>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            lock_wait_timeout: None,
            extra_float_digits: 3,
            row_security: false,
            client_encoding: None,
            role: None,
            quote_all_identifiers: false,
            serializable_deferrable: false,
            snapshot: None,
        }
    }
}

/// Where to connect: one or more candidate servers, tried in order as libpq tries its
/// hosts, each with a password-free description for messages.
#[derive(Clone)]
pub struct Target {
    candidates: Vec<(String, Endpoint)>,
}

impl Target {
    /// A target from a plain `tokio_postgres::Config` (every host of it, in order). TLS
    /// follows the config's `sslmode` (`disable`, `prefer`, `require`) without certificate
    /// verification; use [`Target::from_settings`] for libpq's certificate settings.
    pub fn new(config: tokio_postgres::Config, describe: impl Into<String>) -> Target {
        let describe = describe.into();
        Target {
            candidates: Endpoint::from_config(&config)
                .into_iter()
                .map(|e| (describe.clone(), e))
                .collect(),
        }
    }

    /// Several servers (`-h a,b`): the first that accepts the connection is used.
    pub fn from_candidates(candidates: Vec<(String, Endpoint)>) -> Target {
        Target { candidates }
    }

    /// Every host of libpq-style settings, with TLS as `sslmode` and the certificate
    /// settings ask (files are read now: a missing one fails here, before connecting).
    pub fn from_settings(settings: &ConnSettings) -> Result<Target> {
        let candidates = settings
            .target_configs()?
            .into_iter()
            .map(|(t, e)| {
                (
                    format!(
                        "{} user \"{}\" database \"{}\"",
                        t.describe(),
                        settings.user,
                        settings.dbname
                    ),
                    e,
                )
            })
            .collect();
        Ok(Target { candidates })
    }

    pub fn describe(&self) -> String {
        let mut seen: Vec<&str> = Vec::new();
        for (d, _) in &self.candidates {
            if !seen.contains(&d.as_str()) {
                seen.push(d);
            }
        }
        seen.join(", ")
    }

    pub async fn connect(&self) -> Result<Session> {
        Ok(self.connect_via(Via::Library).await?.0)
    }

    /// A session set up as the leader's was and reading under its exported snapshot: a
    /// worker (pg_dump's parallel.c workers run `setup_connection` and import the snapshot
    /// the same way).
    pub async fn connect_in_snapshot(&self, opts: &SessionOptions, snapshot: &str) -> Result<Session> {
        // A socket of our own, so that the worker can run its COPY directly (see `copy`).
        let mut session = self.connect_via(Via::OwnSocket).await?.0;
        session.setup(opts).await?;
        session.begin_snapshot_transaction().await?;
        session
            .import_snapshot(snapshot)
            .await
            .map_err(|e| e.context("importing snapshot"))?;
        Ok(session)
    }

    /// Connects to the first candidate that answers and returns a target pinned to it, so
    /// that later connections (workers importing this session's snapshot) reach the same
    /// server: the same address, and TLS exactly as this session got it (a `prefer` leader
    /// on TLS makes workers require TLS, with the same certificate checks).
    ///
    /// As libpq: each host's addresses are tried in turn; `load_balance_hosts=random`
    /// shuffles the hosts, then the addresses of each host.
    pub async fn connect_pinned(&self) -> Result<(Session, Target)> {
        self.connect_via(Via::Library).await
    }

    async fn connect_via(&self, via: Via) -> Result<(Session, Target)> {
        let mut order: Vec<&(String, Endpoint)> = self.candidates.iter().collect();
        let random = order
            .iter()
            .any(|(_, e)| e.load_balance_hosts() == LoadBalanceHosts::Random);
        if random {
            shuffle(&mut order);
        }
        // (description, endpoint, address, whether the address is worth naming)
        let mut attempts: Vec<(&str, &Endpoint, Option<IpAddr>, bool)> = Vec::new();
        let mut failures: Vec<Error> = Vec::new();
        for (describe, endpoint) in order {
            match addresses(endpoint, random).await {
                Ok(addrs) => {
                    let several = addrs.len() > 1;
                    attempts.extend(addrs.into_iter().map(|a| (describe.as_str(), endpoint, a, several)));
                }
                Err(e) => failures.push(e.context(format!("connection to {describe} failed"))),
            }
        }
        let count = attempts.len();
        for (i, (describe, endpoint, addr, name_addr)) in attempts.into_iter().enumerate() {
            let what = match addr {
                Some(a) if name_addr => format!("connection to {describe} at address {a} failed"),
                _ => format!("connection to {describe} failed"),
            };
            match Session::connect_endpoint(endpoint, addr, describe, &what, via).await {
                Ok((session, pinned)) => {
                    for f in &failures {
                        tracing::info!("{f}");
                    }
                    let pinned = Target {
                        candidates: vec![(describe.to_string(), pinned)],
                    };
                    return Ok((session, pinned));
                }
                // Connection-level failures move on to the next address; a server that
                // rejected the login ends the search, as libpq documents ("If a connection is
                // established successfully, but authentication fails, the remaining hosts in
                // the list are not tried").
                Err(e)
                    if e.kind() == ErrorKind::Connect
                        && !e.sqlstate().is_some_and(|c| c.starts_with("28"))
                        && i + 1 < count =>
                {
                    tracing::info!("{e}; trying the next address");
                    failures.push(e);
                }
                Err(e) => {
                    failures.push(e);
                    return Err(combine(failures));
                }
            }
        }
        Err(combine(failures))
    }
}

/// One error for every failed attempt, as libpq reports them (one line each, in the order
/// tried), so a TLS or authentication failure on one address is not hidden behind "connection
/// refused" on another. A missing password wins: the caller may prompt and retry.
fn combine(mut failures: Vec<Error>) -> Error {
    if let Some(i) = failures.iter().position(|e| e.kind() == ErrorKind::PasswordRequired) {
        return failures.swap_remove(i);
    }
    if failures.len() > 1 {
        let text = failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
        if let Some(last) = failures.pop() {
            return Error::new(last.kind(), text).with_retry(last.retry());
        }
    }
    failures.pop().unwrap_or_else(|| Error::config("no host to connect to"))
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target").field("describe", &self.describe()).finish()
    }
}

/// Fisher-Yates with the system's random generator (libpq uses its own PRNG seeded from
/// the clock and pid; any fair shuffle serves). Leaves the order alone if no randomness is
/// available.
fn shuffle<T>(items: &mut [T]) {
    let rng = ring::rand::SystemRandom::new();
    for i in (1..items.len()).rev() {
        let mut bytes = [0u8; 8];
        if ring::rand::SecureRandom::fill(&rng, &mut bytes).is_err() {
            return;
        }
        let j = (u64::from_le_bytes(bytes) % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// The addresses to try for one endpoint: none to look up for a socket or a `hostaddr`;
/// otherwise the host name resolved (then shuffled when load balancing).
async fn addresses(endpoint: &Endpoint, random: bool) -> Result<Vec<Option<IpAddr>>> {
    let config = endpoint.config();
    if endpoint.is_socket() || !config.get_hostaddrs().is_empty() {
        return Ok(vec![None]);
    }
    let Some(tokio_postgres::config::Host::Tcp(host)) = config.get_hosts().first() else {
        return Ok(vec![None]);
    };
    let port = config.get_ports().first().copied().unwrap_or(crate::conn::DEFAULT_PORT);
    let mut addrs: Vec<Option<IpAddr>> = Vec::new();
    let resolved = tokio::net::lookup_host((host.as_str(), port)).await.map_err(|e| {
        Error::new(
            ErrorKind::Connect,
            format!("could not translate host name \"{host}\" to address: {e}"),
        )
        .with_retry(Retry::Maybe)
    })?;
    for a in resolved {
        if !addrs.contains(&Some(a.ip())) {
            addrs.push(Some(a.ip()));
        }
    }
    if addrs.is_empty() {
        return Err(Error::new(
            ErrorKind::Connect,
            format!("could not translate host name \"{host}\" to address: no addresses"),
        ));
    }
    if random {
        shuffle(&mut addrs);
    }
    Ok(addrs)
}

/// Spawns a connection's task. It ends when the socket does: a terminated backend (its FATAL
/// message), a server gone, or our own close. Its reason is kept for `Session::ended`, so an
/// idle session's death is noticed at once.
fn watch_connection<S, T>(
    connection: tokio_postgres::Connection<S, T>,
) -> (
    tokio::task::JoinHandle<()>,
    tokio::sync::watch::Receiver<Option<String>>,
)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (ended_tx, ended) = tokio::sync::watch::channel(None);
    let conn_task = tokio::spawn(async move {
        let reason = match connection.await {
            Ok(()) => "server closed the connection".to_string(),
            Err(e) => {
                tracing::debug!("connection ended: {e}");
                let e = convert(e, "");
                match e.sqlstate() {
                    Some(code) => format!("{} (SQLSTATE {code})", e.message()),
                    None => e.message().to_string(),
                }
            }
        };
        let _ = ended_tx.send(Some(reason));
    });
    (conn_task, ended)
}

/// `endpoint` pinned to the address and the TLS a connection got.
fn pinned(endpoint: &Endpoint, addr: Option<IpAddr>, tls: bool) -> Endpoint {
    let mut config = endpoint.config().clone();
    if let Some(a) = addr {
        config.hostaddr(a);
    }
    endpoint.pinned(config, if tls { SslMode::Require } else { SslMode::Disable })
}

/// Who opens a session's socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// tokio-postgres (host lists, `sslmode` negotiation: any endpoint).
    Library,
    /// We do, for an endpoint with a one-attempt plan (a pinned target: workers, helpers),
    /// so that the stream is ours to hold for a COPY; tokio-postgres logs in over it.
    OwnSocket,
}

/// Opens the socket of `config`'s first host (its `hostaddr` if set), as tokio-postgres would: the connect timeout, TCP_NODELAY, keepalives and the user
/// timeout; the name to check a TLS certificate against (empty for a Unix socket).
async fn open_socket(config: &tokio_postgres::Config) -> std::io::Result<(tap::OwnSocket, String)> {
    use tokio_postgres::config::Host;
    let port = config.get_ports().first().copied().unwrap_or(crate::conn::DEFAULT_PORT);
    let timeout = config.get_connect_timeout().copied();
    async fn within<T>(
        timeout: Option<Duration>,
        f: impl std::future::Future<Output = std::io::Result<T>>,
    ) -> std::io::Result<T> {
        match timeout {
            Some(t) => tokio::time::timeout(t, f)
                .await
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "timeout expired"))?,
            None => f.await,
        }
    }
    match config.get_hosts().first() {
        #[cfg(unix)]
        Some(Host::Unix(dir)) => {
            let path = dir.join(format!(".s.PGSQL.{port}"));
            let socket = within(timeout, tokio::net::UnixStream::connect(path)).await?;
            Ok((tap::OwnSocket::Unix(socket), String::new()))
        }
        Some(Host::Tcp(name)) => {
            let ip = match config.get_hostaddrs().first().copied() {
                Some(ip) => ip,
                None => tokio::net::lookup_host((name.as_str(), port))
                    .await?
                    .next()
                    .ok_or_else(|| {
                        std::io::Error::other(format!("could not translate host name \"{name}\" to address"))
                    })?
                    .ip(),
            };
            let socket = within(timeout, tokio::net::TcpStream::connect((ip, port))).await?;
            socket.set_nodelay(true)?;
            let sock = socket2::SockRef::from(&socket);
            #[cfg(target_os = "linux")]
            if let Some(t) = config.get_tcp_user_timeout() {
                sock.set_tcp_user_timeout(Some(*t))?;
            }
            if config.get_keepalives() {
                let mut ka = socket2::TcpKeepalive::new().with_time(config.get_keepalives_idle());
                if let Some(i) = config.get_keepalives_interval() {
                    ka = ka.with_interval(i);
                }
                if let Some(r) = config.get_keepalives_retries() {
                    ka = ka.with_retries(r);
                }
                sock.set_tcp_keepalive(&ka)?;
            }
            Ok((tap::OwnSocket::Tcp(socket), name.clone()))
        }
        _ => Err(std::io::Error::other("no host to connect to")),
    }
}

/// One session of the connection plan of an endpoint (libpq's `sslmode` sequence).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    Plain,
    Tls(Want),
}

fn attempts(endpoint: &Endpoint) -> &'static [Attempt] {
    if endpoint.is_socket() {
        // libpq never negotiates TLS (or GSSAPI) over Unix-domain sockets.
        return &[Attempt::Plain];
    }
    match endpoint.sslmode() {
        SslMode::Disable => &[Attempt::Plain],
        // Plaintext first; TLS only if the server rejects that.
        SslMode::Allow => &[Attempt::Plain, Attempt::Tls(Want::Tls)],
        // TLS if the server has it; plaintext if the handshake or the TLS login fails.
        SslMode::Prefer => &[Attempt::Tls(Want::TlsIfAvailable), Attempt::Plain],
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => &[Attempt::Tls(Want::Tls)],
    }
}

/// A server refusal during authentication (SQLSTATE class 28: pg_hba.conf rejection, bad
/// password): the point at which libpq retries `allow` with TLS and `prefer` without.
fn rejected_at_login(err: &tokio_postgres::Error) -> bool {
    err.code().is_some_and(|c| c.code().starts_with("28"))
}

/// One connection to the server.
pub struct Session {
    client: tokio_postgres::Client,
    conn_task: tokio::task::JoinHandle<()>,
    /// Set to the reason once the connection has ended.
    ended: tokio::sync::watch::Receiver<Option<String>>,
    version: ServerVersion,
    describe: String,
    encoding: String,
    std_strings: bool,
    /// The connector of this session, reused for cancel requests (same TLS settings).
    tls: PgTls,
    tls_in_use: bool,
    /// Where cancel requests go for a session on a socket of our own.
    route: Option<Arc<CancelRoute>>,
    /// The stream, when this session can run its COPY directly ([`Via::OwnSocket`]).
    tap: Option<Tap>,
    /// Keeps this session in the process's list of live sessions while it exists.
    _live: LiveSession,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("describe", &self.describe)
            .field("version", &self.version)
            .field("tls_in_use", &self.tls_in_use)
            .finish_non_exhaustive()
    }
}

/// A handle that asks the server to cancel whatever a session is running.
#[derive(Clone)]
pub struct CancelHandle {
    token: tokio_postgres::CancelToken,
    tls: PgTls,
    route: Option<Arc<CancelRoute>>,
}

/// How to reach the server again for a session whose socket we opened (tokio-postgres
/// knows only the sockets it opened itself).
struct CancelRoute {
    config: tokio_postgres::Config,
    host: String,
}

impl CancelHandle {
    pub async fn cancel(&self) {
        let Some(route) = &self.route else {
            let _ = self.token.cancel_query(self.tls.clone()).await;
            return;
        };
        let Ok((socket, _)) = open_socket(&route.config).await else {
            return;
        };
        let Ok(connector) =
            tokio_postgres::tls::MakeTlsConnect::<tap::OwnSocket>::make_tls_connect(&mut self.tls.clone(), &route.host)
        else {
            return;
        };
        let _ = self.token.cancel_query_raw(socket, connector).await;
    }
}

/// Every session of this process that is still open, by a serial number, so that a signal
/// handler can cancel what the server is running for us (pg_dump's `sigTermHandler`, in
/// parallel.c, sends a cancel on each connection before exiting for the same reason: a
/// backend waiting on a lock would not notice the client's death for a long time).
static LIVE_SESSIONS: std::sync::Mutex<Vec<(u64, CancelHandle)>> = std::sync::Mutex::new(Vec::new());
static NEXT_SESSION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Registration of one session in [`LIVE_SESSIONS`]; removed when the session is dropped.
struct LiveSession(u64);

impl LiveSession {
    fn register(handle: CancelHandle) -> LiveSession {
        let id = NEXT_SESSION.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        LIVE_SESSIONS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((id, handle));
        LiveSession(id)
    }
}

impl Drop for LiveSession {
    fn drop(&mut self) {
        LIVE_SESSIONS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(id, _)| *id != self.0);
    }
}

/// Asks the server to cancel the running query of every session this process has open, all
/// at once; returns how many were asked. For signal handlers: the dump then fails through its
/// ordinary error path, which closes the sessions and removes the partial output.
pub async fn cancel_all_sessions() -> usize {
    let handles: Vec<CancelHandle> = LIVE_SESSIONS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(_, h)| h.clone())
        .collect();
    let n = handles.len();
    futures_util::future::join_all(handles.iter().map(CancelHandle::cancel)).await;
    n
}

/// Turns a tokio-postgres error into ours, keeping the SQLSTATE and the server's detail.
pub fn convert(err: tokio_postgres::Error, what: &str) -> Error {
    if let Some(db) = err.as_db_error() {
        return server_error(db.code().code(), db.message(), db.detail(), db.hint()).context(what.to_string());
    }
    if crate::conn::needs_password_retry(&err) {
        return Error::new(
            ErrorKind::PasswordRequired,
            "the server requires a password and none was supplied (use -W, PGPASSWORD or a password file)",
        )
        .context(what.to_string());
    }
    let text = if err.is_closed() {
        "server closed the connection unexpectedly".to_string()
    } else {
        let mut s = err.to_string();
        let mut src = std::error::Error::source(&err);
        while let Some(e) = src {
            s.push_str(&format!(": {e}"));
            src = e.source();
        }
        s
    };
    Error::new(ErrorKind::Connect, text)
        .with_retry(Retry::Maybe)
        .context(what.to_string())
}

/// A server's ErrorResponse as our error: its message with DETAIL and HINT, its SQLSTATE,
/// and the kind and retry advice the code implies.
pub(crate) fn server_error(code: &str, message: &str, detail: Option<&str>, hint: Option<&str>) -> Error {
    let mut msg = message.to_string();
    if let Some(d) = detail {
        msg.push_str(&format!("; DETAIL: {d}"));
    }
    if let Some(h) = hint {
        msg.push_str(&format!("; HINT: {h}"));
    }
    let code = SqlState::from_code(code);
    let kind = if code == SqlState::LOCK_NOT_AVAILABLE || code == SqlState::QUERY_CANCELED {
        ErrorKind::Lock
    } else if code == SqlState::ADMIN_SHUTDOWN
        || code == SqlState::INVALID_PASSWORD
        || code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
        || code == SqlState::INVALID_CATALOG_NAME
    {
        ErrorKind::Connect
    } else {
        ErrorKind::Server
    };
    let retry = if code == SqlState::ADMIN_SHUTDOWN || kind == ErrorKind::Lock {
        Retry::Maybe
    } else {
        Retry::Never
    };
    Error::new(kind, msg).with_sqlstate(code.code()).with_retry(retry)
}

/// A failed connection attempt in words: our TLS layer's own failure when it has one (a
/// typed reason, better than tokio-postgres's "error performing TLS handshake"), and
/// libpq's channel binding messages.
fn connect_error(err: tokio_postgres::Error, outcome: Outcome, endpoint: &Endpoint, what: &str) -> Error {
    if let Some(failure) = outcome.failure {
        let retry = match failure {
            Failure::NotSupported => Retry::Never,
            Failure::Handshake(_) => Retry::Maybe,
        };
        return Error::new(ErrorKind::Connect, failure.to_string())
            .with_retry(retry)
            .context(what.to_string());
    }
    // tokio-postgres reports a refused channel binding only as an authentication error
    // whose text says so; there is no typed variant to match.
    if endpoint.channel_binding() == ChannelBinding::Require
        && err.as_db_error().is_none()
        && std::error::Error::source(&err).is_some_and(|s| s.to_string().contains("channel binding"))
    {
        let message = if outcome.tls {
            "channel binding is required, but server did not offer an authentication method that supports channel binding"
        } else {
            "channel binding required, but SSL not in use"
        };
        return Error::new(ErrorKind::Connect, message).context(what.to_string());
    }
    convert(err, what)
}

impl Session {
    /// Connects to one `tokio_postgres::Config` (see [`Target::new`] for its TLS);
    /// `describe` names the target in messages (never contains a password).
    pub async fn connect(config: &tokio_postgres::Config, describe: &str) -> Result<Session> {
        Target::new(config.clone(), describe).connect().await
    }

    /// Runs `endpoint`'s connection plan against one address (`None`: the endpoint's own
    /// host, socket or `hostaddr`). Returns the session and the endpoint pinned to what
    /// worked.
    async fn connect_endpoint(
        endpoint: &Endpoint,
        addr: Option<IpAddr>,
        describe: &str,
        what: &str,
        via: Via,
    ) -> Result<(Session, Endpoint)> {
        let plan = attempts(endpoint);
        if via == Via::OwnSocket && plan.len() == 1 {
            return Session::connect_own(endpoint, addr, describe, what, plan[0]).await;
        }
        for (i, attempt) in plan.iter().enumerate() {
            let mut config = endpoint.config().clone();
            if let Some(a) = addr {
                config.hostaddr(a);
            }
            let want = match attempt {
                Attempt::Plain => {
                    config.ssl_mode(tokio_postgres::config::SslMode::Disable);
                    Want::Tls
                }
                Attempt::Tls(want) => {
                    // The connector does the SSLRequest itself (see pg::tls).
                    config
                        .ssl_mode(tokio_postgres::config::SslMode::Require)
                        .ssl_negotiation(tokio_postgres::config::SslNegotiation::Direct);
                    *want
                }
            };
            let tls = PgTls::new(endpoint.tls_config(), want);
            let result = config.connect(tls.clone()).await;
            let outcome = tls.take_outcome();
            match result {
                Ok((client, connection)) => {
                    let (conn_task, ended) = watch_connection(connection);
                    let tls_in_use = outcome.tls;
                    let session = Session::start(client, conn_task, ended, describe, tls, tls_in_use, None).await?;
                    return Ok((session, pinned(endpoint, addr, tls_in_use)));
                }
                Err(e) => {
                    let retry = match (endpoint.sslmode(), attempt) {
                        (SslMode::Prefer, Attempt::Tls(_)) => {
                            outcome.failure.is_some() || (outcome.tls && rejected_at_login(&e))
                        }
                        (SslMode::Allow, Attempt::Plain) => rejected_at_login(&e),
                        _ => false,
                    };
                    let err = connect_error(e, outcome, endpoint, what);
                    if retry && i + 1 < plan.len() {
                        tracing::info!(
                            "{err}; trying again {}",
                            if *attempt == Attempt::Plain {
                                "with SSL"
                            } else {
                                "without SSL"
                            }
                        );
                        continue;
                    }
                    return Err(err);
                }
            }
        }
        Err(Error::internal("empty connection plan"))
    }

    /// [`Via::OwnSocket`]: opens the socket, then lets tokio-postgres negotiate TLS (our
    /// connector, as in a library attempt) and log in over it.
    async fn connect_own(
        endpoint: &Endpoint,
        addr: Option<IpAddr>,
        describe: &str,
        what: &str,
        attempt: Attempt,
    ) -> Result<(Session, Endpoint)> {
        let mut config = endpoint.config().clone();
        if let Some(a) = addr {
            config.hostaddr(a);
        }
        // tokio-postgres hands the socket straight to the connector, which does the whole
        // negotiation (or none, for plaintext).
        config
            .ssl_mode(tokio_postgres::config::SslMode::Require)
            .ssl_negotiation(tokio_postgres::config::SslNegotiation::Direct);
        let want = match attempt {
            Attempt::Plain => Want::Plain,
            Attempt::Tls(want) => want,
        };
        let tls = PgTls::new(endpoint.tls_config(), want);
        let (socket, host) = open_socket(&config).await.map_err(|e| {
            Error::new(ErrorKind::Connect, e.to_string())
                .with_retry(Retry::Maybe)
                .context(what.to_string())
        })?;
        let connector =
            tokio_postgres::tls::MakeTlsConnect::<tap::OwnSocket>::make_tls_connect(&mut tls.clone(), &host)
                .map_err(|e| Error::new(ErrorKind::Connect, e.to_string()).context(what.to_string()))?;
        let result = config.connect_raw(socket, connector).await;
        let outcome = tls.take_outcome();
        let (client, connection) =
            result.map_err(|e| connect_error(e, Outcome { tap: None, ..outcome }, endpoint, what))?;
        let tap = outcome.tap.as_ref().and_then(Tap::upgrade);
        let (conn_task, ended) = watch_connection(connection);
        let route = CancelRoute { config, host };
        let mut session = Session::start(
            client,
            conn_task,
            ended,
            describe,
            tls,
            outcome.tls,
            Some(Arc::new(route)),
        )
        .await?;
        session.tap = tap;
        Ok((session, pinned(endpoint, addr, outcome.tls)))
    }

    /// Finishes a new connection: server version and encoding, refusing servers below 13.
    async fn start(
        client: tokio_postgres::Client,
        conn_task: tokio::task::JoinHandle<()>,
        ended: tokio::sync::watch::Receiver<Option<String>>,
        describe: &str,
        tls: PgTls,
        tls_in_use: bool,
        route: Option<Arc<CancelRoute>>,
    ) -> Result<Session> {
        let live = LiveSession::register(CancelHandle {
            token: client.cancel_token(),
            tls: tls.clone(),
            route: route.clone(),
        });
        let mut s = Session {
            _live: live,
            client,
            conn_task,
            ended,
            version: ServerVersion(0),
            describe: describe.to_string(),
            encoding: String::new(),
            std_strings: true,
            tls,
            tls_in_use,
            route,
            tap: None,
        };
        let row = s
            .query_one("SELECT current_setting('server_version_num')::int4, current_setting('server_encoding')")
            .await?;
        s.version = ServerVersion(row.int(0)? as u32);
        s.encoding = row.text(1)?;
        if s.version.major() < 13 {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "server version {} is not supported (pgsnap dumps PostgreSQL 13 and later)",
                    s.version.0
                ),
            ));
        }
        Ok(s)
    }

    /// Whether this connection is encrypted with TLS.
    pub fn tls_in_use(&self) -> bool {
        self.tls_in_use
    }

    pub fn version(&self) -> ServerVersion {
        self.version
    }

    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// The client encoding in effect (what the dump's ENCODING entry records).
    pub fn encoding(&self) -> &str {
        &self.encoding
    }

    pub fn standard_conforming_strings(&self) -> bool {
        self.std_strings
    }

    pub fn cancel_handle(&self) -> CancelHandle {
        CancelHandle {
            route: self.route.clone(),
            token: self.client.cancel_token(),
            tls: self.tls.clone(),
        }
    }

    /// The backend's process id (for reporting and fault-injection tests).
    pub async fn backend_pid(&self) -> Result<i32> {
        Ok(self.query_one("SELECT pg_backend_pid()").await?.int(0)? as i32)
    }

    /// Applies pg_dump's session settings (pg_dump.c `setup_connection`).
    pub async fn setup(&mut self, opts: &SessionOptions) -> Result<()> {
        // Empty search_path: every deparse function (format_type, pg_get_expr, ...) then
        // schema-qualifies what is not in pg_catalog, so the SQL we store is unambiguous.
        self.execute("SELECT pg_catalog.set_config('search_path', '', false)")
            .await?;
        let mut sets: Vec<String> = Vec::new();
        if let Some(enc) = &opts.client_encoding {
            // -E: the encoding the dump's text is written in (recorded in ENCODING).
            sets.push(format!("SET client_encoding TO {}", crate::ddl::quote::literal(enc)));
        }
        if let Some(role) = &opts.role {
            // --role: dump with that role's privileges.
            sets.push(format!("SET ROLE {}", crate::ddl::quote::ident(role)));
        }
        // Portable date and interval text, whatever the server's defaults.
        sets.push("SET DATESTYLE = ISO".into());
        sets.push("SET INTERVALSTYLE = POSTGRES".into());
        // Floats that round-trip exactly.
        sets.push(format!("SET extra_float_digits TO {}", opts.extra_float_digits));
        // Whole-table scans start at block 0, so row order is stable across dump and reload.
        sets.push("SET synchronize_seqscans TO off".into());
        // No server timeout may kill a long COPY or the idle-in-transaction leader.
        sets.push("SET statement_timeout = 0".into());
        sets.push("SET lock_timeout = 0".into());
        sets.push("SET idle_in_transaction_session_timeout = 0".into());
        if self.version.at_least(17) {
            sets.push("SET transaction_timeout = 0".into());
        }
        if opts.quote_all_identifiers {
            // The server's deparse functions (views, defaults, types) quote like we do.
            sets.push("SET quote_all_identifiers = true".into());
        }
        // Off: a table with row security policies makes the dump fail instead of silently
        // dumping only the rows this user may see (--enable-row-security turns it on).
        sets.push(format!(
            "SET row_security = {}",
            if opts.row_security { "on" } else { "off" }
        ));
        self.execute(&sets.join("; ")).await?;
        // Stops user views and foreign tables from being expanded while we run (Aug 2024
        // security releases); only where the setting exists.
        self.restrict_relation_kinds(RESTRICTED_RELATION_KINDS).await?;
        let row = self
            .query_one("SELECT pg_catalog.pg_encoding_to_char(pg_catalog.pg_char_to_encoding(current_setting('client_encoding'))), current_setting('standard_conforming_strings')")
            .await?;
        self.encoding = row.text(0)?;
        self.std_strings = row.text(1)? == "on";
        Ok(())
    }

    /// Opens the dump transaction: REPEATABLE READ, READ ONLY (pg_dump's default).
    pub async fn begin_snapshot_transaction(&self) -> Result<()> {
        self.execute("BEGIN").await?;
        self.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
    }

    /// Opens the leader's dump transaction and returns the snapshot workers import: with
    /// `--snapshot` the given one (imported here too, nothing exported), else a freshly
    /// exported one; with `--serializable-deferrable` (and no `--snapshot`) the transaction
    /// is SERIALIZABLE, READ ONLY, DEFERRABLE, whose snapshot workers can use under REPEATABLE
    /// READ with the same guarantees (pg_dump.c `setup_connection`).
    pub async fn begin_leader_transaction(&self, opts: &SessionOptions) -> Result<String> {
        if opts.serializable_deferrable && opts.snapshot.is_none() {
            self.execute("BEGIN").await?;
            self.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE")
                .await?;
        } else {
            self.begin_snapshot_transaction().await?;
        }
        match &opts.snapshot {
            Some(id) => {
                self.import_snapshot(id).await?;
                Ok(id.clone())
            }
            None => self.export_snapshot().await,
        }
    }

    /// Runs a query through the simple protocol and returns its rows as text, exactly as
    /// the server prints each value (what pg_dump's INSERT mode reads with `PQgetvalue`).
    pub async fn text_rows(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        let what = format!("{} on {}", short_sql(sql), self.describe);
        let messages = self.client.simple_query(sql).await.map_err(|e| convert(e, &what))?;
        let mut rows = Vec::new();
        for m in messages {
            if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
                let mut row = Vec::with_capacity(r.len());
                for i in 0..r.len() {
                    row.push(r.try_get(i).map_err(|e| convert(e, &what))?.map(str::to_string));
                }
                rows.push(row);
            }
        }
        Ok(rows)
    }

    /// `pg_export_snapshot()`: the id workers import.
    pub async fn export_snapshot(&self) -> Result<String> {
        self.query_one("SELECT pg_catalog.pg_export_snapshot()").await?.text(0)
    }

    /// Imports the leader's snapshot; must directly follow `begin_snapshot_transaction`.
    pub async fn import_snapshot(&self, id: &str) -> Result<()> {
        self.execute(&format!("SET TRANSACTION SNAPSHOT {}", crate::ddl::quote::literal(id)))
            .await
    }

    /// Takes ACCESS SHARE locks on `tables` (quoted qualified names), batched like pg_dump
    /// 16+, with `--lock-wait-timeout` applied as a statement timeout around them.
    pub async fn lock_tables(&self, tables: &[String], timeout: Option<Duration>) -> Result<()> {
        if tables.is_empty() {
            return Ok(());
        }
        if let Some(t) = timeout {
            self.execute(&format!("SET statement_timeout = {}", t.as_millis().max(1)))
                .await?;
        }
        let mut result = Ok(());
        let mut batch = String::new();
        for (i, t) in tables.iter().enumerate() {
            if batch.is_empty() {
                batch.push_str("LOCK TABLE ");
            } else {
                batch.push_str(", ");
            }
            batch.push_str(t);
            if batch.len() > 100_000 || i + 1 == tables.len() {
                batch.push_str(" IN ACCESS SHARE MODE");
                if let Err(e) = self.execute(&batch).await {
                    result = Err(lock_error(e, timeout));
                    break;
                }
                batch.clear();
            }
        }
        if timeout.is_some() && result.is_ok() {
            self.execute("SET statement_timeout = 0").await?;
        }
        result
    }

    /// Sets `restrict_nonsystem_relation_kind` where the server has it: normally
    /// [`RESTRICTED_RELATION_KINDS`], `view` while a foreign table's rows are read (pg_dump.c
    /// `set_restrict_relation_kind`).
    pub async fn restrict_relation_kinds(&self, kinds: &str) -> Result<()> {
        self.execute(&format!(
            "SELECT set_config(name, {}, false) FROM pg_settings WHERE name = 'restrict_nonsystem_relation_kind'",
            crate::ddl::quote::literal(kinds)
        ))
        .await
    }

    /// The worker-side re-lock (pg_dump's parallel.c `lockTableForWorker`): NOWAIT, so a
    /// queued exclusive lock makes the dump fail instead of deadlocking behind the leader.
    pub async fn lock_table_nowait(&self, table: &str) -> Result<()> {
        self.execute(&lock_sql(table))
            .await
            .map_err(|e| lock_error_nowait(e, table, ""))
    }

    pub async fn execute(&self, sql: &str) -> Result<()> {
        self.client
            .batch_execute(sql)
            .await
            .map_err(|e| convert(e, &format!("{} on {}", short_sql(sql), self.describe)))
    }

    /// Rows of `sql` in one round trip: parsed, bound and run as the unnamed statement in one
    /// message batch, as libpq's `PQexecParams` does (a prepared statement first would cost a
    /// second round trip per query, a hundred and more of them per dump).
    pub async fn query(&self, sql: &str) -> Result<Vec<Row>> {
        let rows = self
            .client
            .query_typed(sql, &[])
            .await
            .map_err(|e| convert(e, &format!("query {} on {}", short_sql(sql), self.describe)))?;
        Ok(rows.into_iter().map(Row::new).collect())
    }

    pub async fn query_one(&self, sql: &str) -> Result<Row> {
        let mut rows = self.query(sql).await?;
        if rows.len() != 1 {
            return Err(Error::internal(format!(
                "expected one row from {}, got {}",
                short_sql(sql),
                rows.len()
            )));
        }
        Ok(rows.remove(0))
    }

    /// Streams `COPY ... TO STDOUT` as the server sends it (one message per row; callers
    /// batch). Nothing is buffered beyond one message.
    pub async fn copy_out(&self, sql: &str) -> Result<impl Stream<Item = Result<Bytes>> + Send + 'static> {
        let what = format!("{} on {}", short_sql(sql), self.describe);
        let stream = self.client.copy_out(sql).await.map_err(|e| convert(e, &what))?;
        Ok(stream.map(move |r| r.map_err(|e| convert(e, &what))))
    }

    /// Locks `table` as [`Session::lock_table_nowait`] does (when given) and streams the
    /// COPY text of `sql` in chunks of whole rows up to `chunk_bytes` (a longer row is a chunk
    /// of its own). On a session on our own socket the lock and the COPY go out in one batch
    /// and the rows are read directly (see `copy`); otherwise through tokio-postgres.
    pub async fn copy_chunks(
        &self,
        lock: Option<&str>,
        sql: &str,
        chunk_bytes: usize,
    ) -> Result<std::pin::Pin<Box<dyn Stream<Item = Result<CopyChunk>> + Send>>> {
        let Some(tap) = &self.tap else {
            if let Some(table) = lock {
                self.lock_table_nowait(table).await?;
            }
            let rows = self.copy_out(sql).await?;
            return Ok(Box::pin(rows.map(|r| {
                r.map(|row| CopyChunk {
                    data: row.to_vec(),
                    rows: 1,
                })
            })));
        };
        let lock_sql = lock.map(lock_sql);
        let what = format!("{} on {}", short_sql(sql), self.describe);
        let copy = copy::RawCopy::start(tap, lock_sql.as_deref(), sql, chunk_bytes, what, |e| {
            lock_error_nowait(e, lock.unwrap_or_default(), &self.describe)
        })
        .await?;
        Ok(Box::pin(copy.into_stream()))
    }

    /// Sends the lock (of the table named, if any) and the COPY of several tables in one
    /// write, for [`Session::copy_chunks_ahead`] to read in this order (see
    /// `copy::RawCopy::send_ahead`). False when this session cannot (not on our own socket):
    /// nothing was sent.
    pub async fn send_copies_ahead(&self, requests: &[(Option<&str>, &str)]) -> Result<bool> {
        let Some(tap) = &self.tap else {
            return Ok(false);
        };
        let locks: Vec<Option<String>> = requests.iter().map(|(lock, _)| lock.map(lock_sql)).collect();
        let batch: Vec<(Option<&str>, &str)> = locks
            .iter()
            .zip(requests)
            .map(|(lock, (_, sql))| (lock.as_deref(), *sql))
            .collect();
        let what = format!("{} COPY requests on {}", requests.len(), self.describe);
        copy::RawCopy::send_ahead(tap, &batch, &what).await?;
        Ok(true)
    }

    /// As [`Session::copy_chunks`], for the oldest request [`Session::send_copies_ahead`]
    /// sent (`lock` and `sql` as sent: they name it in errors).
    pub async fn copy_chunks_ahead(
        &self,
        lock: Option<&str>,
        sql: &str,
        chunk_bytes: usize,
    ) -> Result<std::pin::Pin<Box<dyn Stream<Item = Result<CopyChunk>> + Send>>> {
        let tap = self
            .tap
            .as_ref()
            .ok_or_else(|| Error::internal("no COPY was sent ahead on this session"))?;
        let what = format!("{} on {}", short_sql(sql), self.describe);
        let copy = copy::RawCopy::resume(tap, lock.is_some(), chunk_bytes, what, |e| {
            lock_error_nowait(e, lock.unwrap_or_default(), &self.describe)
        })
        .await?;
        Ok(Box::pin(copy.into_stream()))
    }

    /// Requests sent ahead whose replies are still to be read.
    pub fn copies_ahead(&self) -> usize {
        self.tap.as_ref().map_or(0, Tap::ahead)
    }

    /// Resolves once this session's connection has ended, whoever ended it, with the reason
    /// (the server's message for a terminated backend); pending forever while it is open.
    pub fn ended(&self) -> impl std::future::Future<Output = String> + Send + 'static {
        let mut rx = self.ended.clone();
        async move {
            let got = rx.wait_for(Option::is_some).await.ok().and_then(|r| r.clone());
            // The sender is gone only with the connection task, after it sent its reason.
            got.unwrap_or_else(|| "connection closed".to_string())
        }
    }

    /// Ends the session, waiting for the connection to close.
    pub async fn close(self) {
        if let Some(tap) = &self.tap
            && tap.ahead() > 0
        {
            // Replies to requests sent ahead are still coming: tokio-postgres could not even
            // say goodbye through them.
            tap.abandon("the session closed with COPY requests sent ahead unread");
        }
        drop(self.client);
        let _ = self.conn_task.await;
    }
}

fn lock_sql(table: &str) -> String {
    format!("LOCK TABLE {table} IN ACCESS SHARE MODE NOWAIT")
}

/// A worker's failed re-lock: a queued exclusive lock in words; any other error as it is,
/// named by the statement and `describe` (the session) when given.
fn lock_error_nowait(e: Error, table: &str, describe: &str) -> Error {
    if e.sqlstate() == Some(SqlState::LOCK_NOT_AVAILABLE.code()) {
        Error::new(
            ErrorKind::Lock,
            format!(
                "could not obtain lock on relation {table}: another session requested an ACCESS \
                 EXCLUSIVE lock on it while the dump was running"
            ),
        )
        .with_sqlstate(SqlState::LOCK_NOT_AVAILABLE.code())
    } else if describe.is_empty() {
        e
    } else {
        e.context(format!("{} on {describe}", short_sql(&lock_sql(table))))
    }
}

fn lock_error(e: Error, timeout: Option<Duration>) -> Error {
    if e.sqlstate() == Some(SqlState::QUERY_CANCELED.code())
        && let Some(t) = timeout
    {
        return Error::new(
            ErrorKind::Lock,
            format!(
                "could not lock the tables to dump within --lock-wait-timeout ({} ms)",
                t.as_millis()
            ),
        )
        .with_sqlstate(SqlState::QUERY_CANCELED.code());
    }
    e
}

fn short_sql(sql: &str) -> String {
    let one_line: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.len() > 80 {
        let mut end = 77;
        while !one_line.is_char_boundary(end) {
            end -= 1;
        }
        format!("\"{}...\"", &one_line[..end])
    } else {
        format!("\"{one_line}\"")
    }
}
