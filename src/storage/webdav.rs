//! WebDAV destinations (`webdav://`, `webdavs://`): OpenDAL's WebDAV service for reading,
//! listing, stat, delete and MOVE, plus a streaming upload of our own.
//!
//! OpenDAL's WebDAV writer sends an object in one PUT whose body it holds in memory whole; an
//! archive of many GB cannot be. Uploads here are one PUT with a chunked request body fed
//! through a bounded channel (a few blocks in memory, back-pressure on the writer), to a
//! temporary name under [`UPLOADS_DIR`](super::UPLOADS_DIR); `finish` MOVEs it onto its name
//! (RFC 4918 §9.9, `Overwrite: T`), so a partly written object is never visible under its
//! name, whether the server writes PUT bodies in place or not.
//!
//! Credentials: `PGSNAP_WEBDAV_USER` with `PGSNAP_WEBDAV_PASSWORD`, or with
//! `PGSNAP_WEBDAV_PASSWORD_FILE` (its first line), sent as HTTP basic authentication — over
//! `webdavs://` (HTTPS) unless the server is on the local machine.

use std::time::Duration;

use bytes::Bytes;
use opendal::Operator;
use tokio::sync::mpsc;

use super::url::{Location, bracket};
use crate::error::{Error, ErrorKind, Result};

/// User name and password handed over by a library caller; shown redacted.
#[derive(Clone, Default)]
pub struct WebdavCredentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for WebdavCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebdavCredentials")
            .field("user", &self.user)
            .field("password", &"***")
            .finish()
    }
}

impl WebdavCredentials {
    /// From `PGSNAP_WEBDAV_USER` and `PGSNAP_WEBDAV_PASSWORD` / `PGSNAP_WEBDAV_PASSWORD_FILE`;
    /// `None` when no user is set (an anonymous server).
    pub fn from_env() -> Result<Option<WebdavCredentials>> {
        let user = std::env::var("PGSNAP_WEBDAV_USER").ok().filter(|u| !u.is_empty());
        let password = std::env::var("PGSNAP_WEBDAV_PASSWORD").ok();
        let file = std::env::var_os("PGSNAP_WEBDAV_PASSWORD_FILE").filter(|f| !f.is_empty());
        let Some(user) = user else {
            if password.is_some() || file.is_some() {
                return Err(Error::new(
                    ErrorKind::Config,
                    "PGSNAP_WEBDAV_PASSWORD or PGSNAP_WEBDAV_PASSWORD_FILE is set but PGSNAP_WEBDAV_USER is not",
                ));
            }
            return Ok(None);
        };
        let password = match (password, file) {
            (Some(_), Some(_)) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "set PGSNAP_WEBDAV_PASSWORD or PGSNAP_WEBDAV_PASSWORD_FILE, not both",
                ));
            }
            (Some(p), None) => p,
            (None, Some(f)) => {
                let text = std::fs::read_to_string(&f).map_err(|e| {
                    Error::io(
                        format!(
                            "reading the WebDAV password file \"{}\" (PGSNAP_WEBDAV_PASSWORD_FILE)",
                            std::path::Path::new(&f).display()
                        ),
                        e,
                    )
                })?;
                text.lines().next().unwrap_or("").to_string()
            }
            (None, None) => String::new(),
        };
        Ok(Some(WebdavCredentials { user, password }))
    }
}

/// The parts of a `webdav(s)://` location.
struct Parts<'a> {
    tls: bool,
    host: &'a str,
    port: Option<u16>,
    root: &'a str,
}

fn parts(location: &Location) -> Result<Parts<'_>> {
    match location {
        Location::Webdav { tls, host, port, root } => Ok(Parts {
            tls: *tls,
            host,
            port: *port,
            root,
        }),
        _ => Err(Error::internal("not a WebDAV location")),
    }
}

/// `http(s)://host[:port]`.
fn origin(p: &Parts<'_>) -> String {
    let scheme = if p.tls { "https" } else { "http" };
    match p.port {
        Some(port) => format!("{scheme}://{}:{port}", bracket(p.host)),
        None => format!("{scheme}://{}", bracket(p.host)),
    }
}

/// The operator over the collection at `location`, and the streaming uploader beside it.
pub(super) fn open(location: &Location, creds: Option<&WebdavCredentials>) -> Result<(Operator, Streamer)> {
    let shown = location.to_string();
    let p = parts(location)?;
    let env_creds;
    let creds = match creds {
        Some(c) => Some(c),
        None => {
            env_creds = WebdavCredentials::from_env()?;
            env_creds.as_ref()
        }
    };
    let local = matches!(p.host, "localhost" | "127.0.0.1" | "::1");
    if creds.is_some() && !p.tls && !local {
        tracing::warn!("destination \"{shown}\": the WebDAV password is sent unencrypted over http; use webdavs://");
    }
    let mut b = opendal::services::Webdav::default().endpoint(&origin(&p)).root(p.root);
    if let Some(c) = creds {
        b = b.username(&c.user).password(&c.password);
    }
    let op = Operator::new(b).map_err(|e| super::dal(&shown, "opening", e))?;
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| Error::new(ErrorKind::Storage, format!("destination \"{shown}\": {e}")))?;
    let auth = creds.map(|c| {
        use base64ct::Encoding;
        format!(
            "Basic {}",
            base64ct::Base64::encode_string(format!("{}:{}", c.user, c.password).as_bytes())
        )
    });
    let mut base = origin(&p);
    base.push_str(&encode_path(p.root.trim_end_matches('/')));
    base.push('/');
    Ok((
        op,
        Streamer {
            client,
            base,
            auth,
            shown,
        },
    ))
}

/// Percent-encodes a path for a request line: everything but unreserved characters and `/`.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Starts streaming PUTs to one WebDAV collection.
#[derive(Clone)]
pub(super) struct Streamer {
    client: reqwest::Client,
    /// `http(s)://host[:port]/root/`, encoded.
    base: String,
    auth: Option<String>,
    shown: String,
}

impl std::fmt::Debug for Streamer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streamer")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Blocks queued between the writer and the request body.
const QUEUED: usize = 2;

type Chunk = std::result::Result<Bytes, std::io::Error>;

impl Streamer {
    /// Starts the PUT of `name` (relative to the collection; its parent must exist); messages
    /// call it `shown_as`.
    pub(super) fn start(&self, name: &str, shown_as: &str) -> PutStream {
        let (tx, rx) = mpsc::channel::<Chunk>(QUEUED);
        let body = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
        let mut req = self
            .client
            .put(format!("{}{}", self.base, encode_path(name)))
            .body(reqwest::Body::wrap_stream(body));
        if let Some(a) = &self.auth {
            req = req.header(reqwest::header::AUTHORIZATION, a);
        }
        let task = tokio::spawn(async move { req.send().await });
        PutStream {
            tx: Some(tx),
            task: Some(task),
            shown: self.shown.clone(),
            name: shown_as.to_string(),
        }
    }
}

/// One PUT in progress.
pub(super) struct PutStream {
    tx: Option<mpsc::Sender<Chunk>>,
    task: Option<tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>>,
    shown: String,
    name: String,
}

impl PutStream {
    /// Queues `bytes` for the request body; waits while the queue is full.
    pub(super) async fn write(&mut self, bytes: Bytes) -> Result<()> {
        let sent = match &self.tx {
            Some(tx) => tx.send(Ok(bytes)).await.is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        // The request ended before its body did: its outcome says why.
        self.tx = None;
        match self.outcome().await {
            Err(e) => Err(e),
            Ok(()) => Err(Error::new(
                ErrorKind::Storage,
                format!(
                    "destination \"{}\": uploading \"{}\": the server ended the upload early",
                    self.shown, self.name
                ),
            )),
        }
    }

    /// Ends the body and waits for the server's answer.
    pub(super) async fn finish(&mut self) -> Result<()> {
        self.tx = None;
        self.outcome().await
    }

    /// Breaks the request off (the server sees the body end in an error, not complete).
    pub(super) async fn abort(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Err(std::io::Error::other("upload abandoned"))).await;
        }
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }

    /// Breaks the request off without waiting (dropped unfinished).
    pub(super) fn cancel(&mut self) {
        self.tx = None;
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    async fn outcome(&mut self) -> Result<()> {
        let Some(task) = self.task.take() else {
            return Err(Error::internal("upload already ended"));
        };
        let resp = task
            .await
            .map_err(|e| Error::internal(format!("the WebDAV upload task failed: {e}")))?
            .map_err(|e| {
                Error::new(
                    ErrorKind::Storage,
                    format!(
                        "destination \"{}\": uploading \"{}\": {}",
                        self.shown,
                        self.name,
                        error_chain(&e)
                    ),
                )
                .with_retry(crate::error::Retry::Maybe)
            })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry = if status.is_server_error() || status.as_u16() == 429 {
            crate::error::Retry::Maybe
        } else {
            crate::error::Retry::Never
        };
        let hint = match status.as_u16() {
            401 | 403 => " (check PGSNAP_WEBDAV_USER and PGSNAP_WEBDAV_PASSWORD)",
            409 => " (the parent collection does not exist)",
            507 => " (the server is out of space)",
            _ => "",
        };
        Err(Error::new(
            ErrorKind::Storage,
            format!(
                "destination \"{}\": uploading \"{}\": the server answered {status}{hint}",
                self.shown, self.name
            ),
        )
        .with_retry(retry))
    }
}

impl Drop for PutStream {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// An error with its causes, `a: b: c` (reqwest's own message names only the outermost).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded_for_the_request_line() {
        assert_eq!(encode_path("/a b/ü%.dump"), "/a%20b/%C3%BC%25.dump");
        assert_eq!(encode_path("x/y-1_2.~z"), "x/y-1_2.~z");
    }

    #[test]
    fn credentials_do_not_show_in_debug() {
        let c = WebdavCredentials {
            user: "me".into(),
            password: "hunter2pw".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2pw"));
    }
}
