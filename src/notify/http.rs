//! One HTTP/1.1 POST of a JSON body, over TCP or TLS, reading the status. Enough for
//! webhooks: no redirects (a webhook that moved is an error to fix, and following one
//! would send the body somewhere unchecked), no keep-alive (`Connection: close`).

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::SendError;
use super::tls::server_name;

/// Largest answer read (status line, headers and the start of the body).
const ANSWER_LIMIT: u64 = 64 * 1024;

/// The parts of an `http://` or `https://` URL a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, at least `/`.
    pub target: String,
}

impl Url {
    /// How messages name the destination: never the path, which may hold a token.
    pub fn shown(&self) -> String {
        format!(
            "{}://{}:{}",
            if self.tls { "https" } else { "http" },
            self.host,
            self.port
        )
    }
}

/// Parses a URL; the error never repeats the URL (it may be a secret).
pub(crate) fn parse_url(s: &str) -> Result<Url, String> {
    let (tls, rest) = if let Some(r) = s.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = s.strip_prefix("http://") {
        (false, r)
    } else {
        return Err("the URL is not http:// or https://".into());
    };
    let (authority, target) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    let target = target.split('#').next().unwrap_or("/").to_string();
    if authority.contains('@') {
        return Err("user information in the URL is not supported".into());
    }
    let default_port = if tls { 443 } else { 80 };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let Some((h, after)) = v6.split_once(']') else {
            return Err("the URL's IPv6 address lacks its ']'".into());
        };
        match after.strip_prefix(':') {
            Some(p) => (h.to_string(), p.parse().map_err(|_| "the URL's port is not a number")?),
            None if after.is_empty() => (h.to_string(), default_port),
            None => return Err("the URL's host is malformed".into()),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().map_err(|_| "the URL's port is not a number")?),
            None => (authority.to_string(), default_port),
        }
    };
    if host.is_empty() || target.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the URL's host is empty or it holds spaces".into());
    }
    Ok(Url {
        tls,
        host,
        port,
        target,
    })
}

/// POSTs `body` (JSON) with `headers`; Ok on a 2xx answer. A 4xx other than 408 and 429
/// is permanent (a wrong URL or token does not heal by retrying); everything else is
/// worth another try.
pub(crate) async fn post(
    url: &str,
    body: &[u8],
    headers: &[(String, String)],
    tls: impl FnOnce() -> Result<Arc<rustls::ClientConfig>, SendError>,
) -> Result<(), SendError> {
    let url = parse_url(url).map_err(SendError::permanent)?;
    let shown = url.shown();
    let tcp = TcpStream::connect((url.host.as_str(), url.port))
        .await
        .map_err(|e| SendError::retry(format!("could not connect to {shown}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    let answer = if url.tls {
        let connector = tokio_rustls::TlsConnector::from(tls()?);
        let mut s = connector
            .connect(server_name(&url.host)?, tcp)
            .await
            .map_err(|e| SendError::retry(format!("TLS handshake with {shown} failed: {e}")))?;
        exchange(&mut s, &url, body, headers).await
    } else {
        let mut s = tcp;
        exchange(&mut s, &url, body, headers).await
    }
    .map_err(|e| SendError::retry(format!("{shown}: {e}")))?;
    let status = parse_status(&answer).map_err(|e| SendError::retry(format!("{shown}: {e}")))?;
    if (200..300).contains(&status) {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&answer);
    let reply: String = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let message = format!(
        "{shown} answered HTTP {status}{}",
        if reply.is_empty() {
            String::new()
        } else {
            format!(": {reply}")
        }
    );
    if (400..500).contains(&status) && status != 408 && status != 429 {
        Err(SendError::permanent(message))
    } else {
        Err(SendError::retry(message))
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    url: &Url,
    body: &[u8],
    headers: &[(String, String)],
) -> std::io::Result<Vec<u8>> {
    let host = if url.host.contains(':') {
        format!("[{}]", url.host)
    } else {
        url.host.clone()
    };
    let default_port = if url.tls { 443 } else { 80 };
    let host_header = if url.port == default_port {
        host
    } else {
        format!("{host}:{}", url.port)
    };
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: pgsnap/{}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nAccept: */*\r\nConnection: close\r\n",
        url.target,
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await?;
    s.write_all(body).await?;
    s.flush().await?;
    let mut answer = Vec::new();
    // Read to the end (the server closes), or until enough to judge.
    let mut limited = s.take(ANSWER_LIMIT);
    match limited.read_to_end(&mut answer).await {
        Ok(_) => {}
        // A TLS server that closes without close_notify: what arrived still counts.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !answer.is_empty() => {}
        Err(e) => return Err(e),
    }
    Ok(answer)
}

/// The status code of `HTTP/1.x NNN reason`.
fn parse_status(answer: &[u8]) -> Result<u16, String> {
    let line_end = answer.windows(2).position(|w| w == b"\r\n").unwrap_or(answer.len());
    let line = String::from_utf8_lossy(&answer[..line_end]);
    let mut parts = line.split(' ');
    match (parts.next(), parts.next().and_then(|c| c.parse::<u16>().ok())) {
        (Some(v), Some(code)) if v.starts_with("HTTP/1.") => Ok(code),
        _ if answer.is_empty() => Err("the server closed the connection without answering".into()),
        _ => Err("the answer is not HTTP/1.x".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_split_and_never_shown_whole() {
        let u = parse_url("https://hooks.slack.com/services/T0/B0/secret").unwrap();
        assert_eq!(
            u,
            Url {
                tls: true,
                host: "hooks.slack.com".into(),
                port: 443,
                target: "/services/T0/B0/secret".into()
            }
        );
        assert_eq!(u.shown(), "https://hooks.slack.com:443");
        let u = parse_url("http://127.0.0.1:8080?x=1#frag").unwrap();
        assert_eq!((u.port, u.target.as_str()), (8080, "/?x=1"));
        let u = parse_url("http://[::1]:9/a").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9));
        for bad in [
            "ftp://x/",
            "http://:80/",
            "http://h:port/",
            "http://u:p@h/",
            "http://h/a b",
        ] {
            let e = parse_url(bad).unwrap_err();
            assert!(!e.contains(bad), "{e}");
        }
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"HTTP/1.1 204 No Content\r\n\r\n"), Ok(204));
        assert_eq!(parse_status(b"HTTP/1.0 500\r\n"), Ok(500));
        assert!(parse_status(b"").is_err());
        assert!(parse_status(b"SSH-2.0-OpenSSH\r\n").is_err());
    }
}
