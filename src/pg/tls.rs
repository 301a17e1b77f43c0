//! The TLS connector handed to tokio-postgres. It does the whole negotiation itself, so
//! that every libpq `sslmode` can be expressed with tokio-postgres's three: a TLS-capable
//! attempt runs tokio-postgres in `sslmode=require` + `sslnegotiation=direct` (which hands
//! the raw socket straight to this connector), and the connector then either sends the
//! SSLRequest and reads the answer (`sslnegotiation=postgres`) or starts the handshake at
//! once (`direct`). A server without TLS answering `N` yields a plaintext stream when the
//! attempt allows it (`prefer`), and a typed failure otherwise.
//!
//! After the handshake it checks ALPN as libpq 17+ does, enforces `sslcertmode=require`, and
//! exposes `tls-server-end-point` so tokio-postgres can use SCRAM-SHA-256-PLUS.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

use super::tap::{self, Io, Tap};
use crate::conn::SslCertMode;
use crate::conn::tls::{ALPN_POSTGRESQL, TlsConfig, tls_server_end_point};

/// The SSLRequest packet: length 8, code 1234.5679.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// Whether a plaintext answer to the SSLRequest is acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    /// No TLS: plaintext at once (the socket was opened by us, see `pg::connect_own`).
    Plain,
    /// `prefer`: TLS if the server has it, else go on in plaintext.
    TlsIfAvailable,
    /// `require` and stronger (and `allow`'s second attempt).
    Tls,
}

/// What happened on the wire, read by the caller after tokio-postgres returns.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// The connection runs over TLS.
    pub tls: bool,
    /// Why TLS failed, in words fit for the user.
    pub failure: Option<Failure>,
    /// The stream the connection runs over (weak: a cancel request's stream must not
    /// outlive it).
    pub tap: Option<std::sync::Weak<Mutex<tap::State>>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The server answered the SSLRequest with `N` and TLS was required.
    NotSupported,
    /// The handshake or a post-handshake check failed.
    Handshake(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::NotSupported => f.write_str("server does not support SSL, but SSL was required"),
            Failure::Handshake(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Failure {}

/// `MakeTlsConnect` for one connection attempt (and its cancel requests).
#[derive(Clone)]
pub(crate) struct PgTls {
    config: Arc<TlsConfig>,
    want: Want,
    outcome: Arc<Mutex<Outcome>>,
}

impl PgTls {
    pub fn new(config: Arc<TlsConfig>, want: Want) -> PgTls {
        PgTls {
            config,
            want,
            outcome: Arc::default(),
        }
    }

    /// The outcome of the attempt so far (cleared for the next use).
    pub fn take_outcome(&self) -> Outcome {
        let mut o = self.outcome.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::take(&mut *o)
    }

    fn record(outcome: &Mutex<Outcome>, f: impl FnOnce(&mut Outcome)) {
        let mut o = outcome.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut o);
    }
}

impl<S> MakeTlsConnect<S> for PgTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgStream;
    type TlsConnect = PgTlsConnect;
    type Error = Failure;

    fn make_tls_connect(&mut self, host: &str) -> Result<PgTlsConnect, Failure> {
        Ok(PgTlsConnect {
            host: host.to_string(),
            config: self.config.clone(),
            want: self.want,
            outcome: self.outcome.clone(),
        })
    }
}

pub(crate) struct PgTlsConnect {
    host: String,
    config: Arc<TlsConfig>,
    want: Want,
    outcome: Arc<Mutex<Outcome>>,
}

impl<S> TlsConnect<S> for PgTlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgStream;
    type Error = Failure;
    type Future = Pin<Box<dyn Future<Output = Result<PgStream, Failure>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let result = negotiate(&self, stream).await;
            PgTls::record(&self.outcome, |o| match &result {
                Ok(s) => {
                    o.tls = s.tls;
                    o.tap = Some(s.tap.downgrade());
                }
                Err(e) => o.failure = Some(e.clone()),
            });
            result
        })
    }
}

async fn negotiate<S>(c: &PgTlsConnect, mut stream: S) -> Result<PgStream, Failure>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    if c.want == Want::Plain {
        return Ok(PgStream::plain(stream));
    }
    let io_failure = |e: io::Error| Failure::Handshake(format!("could not send SSL negotiation packet: {e}"));
    if !c.config.direct {
        stream.write_all(&SSL_REQUEST).await.map_err(io_failure)?;
        stream.flush().await.map_err(io_failure)?;
        let mut answer = [0u8; 1];
        stream.read_exact(&mut answer).await.map_err(|e| {
            Failure::Handshake(format!(
                "could not receive the answer to the SSL negotiation packet: {e}"
            ))
        })?;
        match answer[0] {
            b'S' => {}
            b'N' if c.want == Want::TlsIfAvailable => return Ok(PgStream::plain(stream)),
            b'N' => return Err(Failure::NotSupported),
            // An ErrorResponse: a server too old or too broken to answer SSLRequest.
            b'E' => {
                return Err(Failure::Handshake(
                    "server sent an error response during SSL exchange".into(),
                ));
            }
            other => {
                return Err(Failure::Handshake(format!(
                    "received invalid response to SSL negotiation: {}",
                    char::from(other).escape_default()
                )));
            }
        }
    }
    let setup = c
        .config
        .handshake(&c.host)
        .map_err(|e| Failure::Handshake(e.to_string()))?;
    let connector = tokio_rustls::TlsConnector::from(setup.config);
    let tls = connector
        .connect(setup.server_name, stream)
        .await
        .map_err(|e| Failure::Handshake(c.config.describe_handshake_error(&e)))?;
    let (_, session) = tls.get_ref();
    // libpq 17+: ALPN is mandatory for direct TLS, and any other protocol is refused.
    match session.alpn_protocol() {
        Some(p) if p != ALPN_POSTGRESQL => {
            return Err(Failure::Handshake(
                "SSL connection was established with unexpected ALPN protocol".into(),
            ));
        }
        None if c.config.direct => {
            return Err(Failure::Handshake(
                "direct SSL connection was established without ALPN protocol negotiation extension".into(),
            ));
        }
        _ => {}
    }
    if c.config.certmode == SslCertMode::Require && !setup.probe.certificate_requested() {
        return Err(Failure::Handshake("server did not request an SSL certificate".into()));
    }
    // tokio-postgres uses this for SCRAM-SHA-256-PLUS.
    let binding = session
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|cert| tls_server_end_point(cert));
    Ok(PgStream {
        tap: Tap::new(Box::new(tls)),
        tls: true,
        binding,
    })
}

/// A connection stream: TLS, or plaintext (no TLS asked for, or a `prefer` negotiation the
/// server declined), shared with our COPY reader through its [`Tap`].
pub(crate) struct PgStream {
    tap: Tap,
    tls: bool,
    /// The `tls-server-end-point` channel binding data, if the server's certificate gives one.
    binding: Option<Vec<u8>>,
}

impl PgStream {
    fn plain(stream: impl Io + 'static) -> PgStream {
        PgStream {
            tap: Tap::new(Box::new(stream)),
            tls: false,
            binding: None,
        }
    }
}

impl AsyncRead for PgStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tap).poll_read(cx, buf)
    }
}

impl AsyncWrite for PgStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tap).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tap).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tap).poll_shutdown(cx)
    }
}

impl TlsStream for PgStream {
    fn channel_binding(&self) -> ChannelBinding {
        self.binding
            .clone()
            .map_or_else(ChannelBinding::none, ChannelBinding::tls_server_end_point)
    }
}
