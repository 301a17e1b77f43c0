//! Mail submission (RFC 5321 with STARTTLS, RFC 3207, and AUTH PLAIN, RFC 4616): one
//! message to its recipients, as a plain-text email. With `starttls` the session is
//! upgraded before anything but EHLO is said, and a server that does not offer STARTTLS is
//! an error (never a silent fall back to plaintext); a password is only sent over TLS.

use std::sync::Arc;

use base64ct::{Base64, Encoding};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::SendError;
use super::tls::server_name;

/// Longest reply line read (RFC 5321 allows 512; generous for chatty servers).
const LINE_LIMIT: u64 = 4096;

pub(crate) struct Submission<'a> {
    pub host: &'a str,
    pub port: u16,
    pub starttls: bool,
    pub login: Option<(String, String)>,
    pub from: &'a str,
    pub to: &'a [String],
    pub subject: &'a str,
    pub body: &'a str,
    /// Our name for EHLO.
    pub helo: &'a str,
}

pub(crate) async fn send(
    m: &Submission<'_>,
    tls: impl FnOnce() -> Result<Arc<rustls::ClientConfig>, SendError>,
) -> Result<(), SendError> {
    let shown = format!("smtp://{}:{}", m.host, m.port);
    let tcp = TcpStream::connect((m.host, m.port))
        .await
        .map_err(|e| SendError::retry(format!("could not connect to {shown}: {e}")))?;
    let mut plain = BufReader::new(tcp);
    let at = |e: SendError| SendError {
        message: format!("{shown}: {}", e.message),
        retry: e.retry,
    };
    reply(&mut plain, 220, "greeting").await.map_err(at)?;
    let caps = ehlo(&mut plain, m.helo).await.map_err(at)?;
    if !m.starttls {
        return session(&mut plain, &caps, m, false).await.map_err(at);
    }
    if !caps.iter().any(|c| c.eq_ignore_ascii_case("STARTTLS")) {
        let _ = command(&mut plain, "QUIT", 221, "QUIT").await;
        return Err(at(SendError::permanent(
            "the server does not offer STARTTLS (starttls = true refuses to send in the clear)",
        )));
    }
    command(&mut plain, "STARTTLS", 220, "STARTTLS").await.map_err(at)?;
    // Anything the server sent after its 220 would be read as if it came over TLS: refuse
    // (the STARTTLS command injection of CVE-2011-0411).
    if !plain.buffer().is_empty() {
        return Err(at(SendError::permanent(
            "the server sent data after its STARTTLS answer",
        )));
    }
    let connector = tokio_rustls::TlsConnector::from(tls()?);
    let secured = connector
        .connect(server_name(m.host)?, plain.into_inner())
        .await
        .map_err(|e| at(SendError::retry(format!("TLS handshake failed: {e}"))))?;
    let mut s = BufReader::new(secured);
    // The capabilities said in the clear may have been tampered with: ask again.
    let caps = ehlo(&mut s, m.helo).await.map_err(at)?;
    session(&mut s, &caps, m, true).await.map_err(at)
}

async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut BufReader<S>,
    caps: &[String],
    m: &Submission<'_>,
    secure: bool,
) -> Result<(), SendError> {
    if let Some((user, password)) = &m.login {
        if !secure {
            return Err(SendError::permanent("a password is never sent without TLS"));
        }
        let offers_plain = caps.iter().any(|c| {
            let mut w = c.split_whitespace();
            w.next().is_some_and(|k| k.eq_ignore_ascii_case("AUTH")) && w.any(|mech| mech.eq_ignore_ascii_case("PLAIN"))
        });
        if !offers_plain {
            return Err(SendError::permanent("the server does not offer AUTH PLAIN"));
        }
        let token = Base64::encode_string(format!("\0{user}\0{password}").as_bytes());
        command(s, &format!("AUTH PLAIN {token}"), 235, "AUTH PLAIN")
            .await
            .map_err(|e| SendError::permanent(e.message))?;
    }
    let eight_bit = caps.iter().any(|c| c.eq_ignore_ascii_case("8BITMIME"));
    let (message, body_8bit) = compose(m, eight_bit);
    let mail_from = if body_8bit {
        format!("MAIL FROM:<{}> BODY=8BITMIME", m.from)
    } else {
        format!("MAIL FROM:<{}>", m.from)
    };
    command(s, &mail_from, 250, "MAIL FROM").await?;
    for rcpt in m.to {
        command(s, &format!("RCPT TO:<{rcpt}>"), 250, &format!("RCPT TO <{rcpt}>")).await?;
    }
    command(s, "DATA", 354, "DATA").await?;
    s.get_mut()
        .write_all(message.as_bytes())
        .await
        .map_err(|e| SendError::retry(format!("sending the message: {e}")))?;
    command(s, ".", 250, "end of message").await?;
    // The message is accepted; a failed QUIT changes nothing.
    let _ = command(s, "QUIT", 221, "QUIT").await;
    Ok(())
}

/// EHLO; the capability lines after the greeting line.
async fn ehlo<S: AsyncRead + AsyncWrite + Unpin>(s: &mut BufReader<S>, name: &str) -> Result<Vec<String>, SendError> {
    let lines = command(s, &format!("EHLO {name}"), 250, "EHLO").await?;
    Ok(lines.into_iter().skip(1).collect())
}

/// Sends a command line and reads the reply, which must have code `want`.
async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut BufReader<S>,
    line: &str,
    want: u16,
    what: &str,
) -> Result<Vec<String>, SendError> {
    s.get_mut()
        .write_all(format!("{line}\r\n").as_bytes())
        .await
        .map_err(|e| SendError::retry(format!("sending {what}: {e}")))?;
    s.get_mut()
        .flush()
        .await
        .map_err(|e| SendError::retry(format!("sending {what}: {e}")))?;
    reply(s, want, what).await
}

/// Reads one (possibly multi-line) reply: `NNN-text` lines, then `NNN text`. A 4xx is
/// transient, a 5xx permanent (RFC 5321 4.2.1).
async fn reply<S: AsyncRead + Unpin>(s: &mut BufReader<S>, want: u16, what: &str) -> Result<Vec<String>, SendError> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        let n = (&mut *s)
            .take(LINE_LIMIT)
            .read_line(&mut line)
            .await
            .map_err(|e| SendError::retry(format!("reading the reply to {what}: {e}")))?;
        if n == 0 {
            return Err(SendError::retry(format!(
                "the server closed the connection after {what}"
            )));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        let code = line.get(..3).and_then(|c| c.parse::<u16>().ok());
        let Some(code) = code else {
            return Err(SendError::retry(format!("malformed reply to {what}")));
        };
        let more = line.as_bytes().get(3) == Some(&b'-');
        lines.push(line.get(4..).unwrap_or("").to_string());
        if more {
            continue;
        }
        if code == want {
            return Ok(lines);
        }
        let text: String = lines.join(" ").chars().filter(|c| !c.is_control()).take(300).collect();
        let message = format!("{what} refused: {code} {text}");
        return Err(if (400..500).contains(&code) {
            SendError::retry(message)
        } else {
            SendError::permanent(message)
        });
    }
}

/// The message as sent after DATA (dot-stuffed, CRLF, ending in `.`'s line is the
/// caller's); whether its body is 8-bit. Without 8BITMIME, a body that is not 7-bit
/// ASCII or has a line too long for SMTP (998) is sent as base64.
fn compose(m: &Submission<'_>, eight_bit_ok: bool) -> (String, bool) {
    let body = m.body.replace("\r\n", "\n");
    let long = body.lines().any(|l| l.len() > 900);
    let ascii = body.is_ascii();
    let (encoding, text, is_8bit) = if !long && ascii {
        ("7bit", body.clone(), false)
    } else if !long && eight_bit_ok {
        ("8bit", body.clone(), true)
    } else {
        let b64 = Base64::encode_string(body.as_bytes());
        let wrapped: Vec<&str> = b64
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        ("base64", wrapped.join("\n"), false)
    };
    let now = jiff::Zoned::now();
    let id = format!(
        "<{}.{}.pgsnap@{}>",
        now.timestamp().as_nanosecond(),
        std::process::id(),
        m.helo
    );
    let mut msg = String::new();
    let mut header = |k: &str, v: &str| {
        msg.push_str(k);
        msg.push_str(": ");
        msg.push_str(v);
        msg.push_str("\r\n");
    };
    header("From", m.from);
    header("To", &m.to.join(", "));
    header("Subject", &encode_header(m.subject));
    header("Date", &now.strftime("%a, %d %b %Y %H:%M:%S %z").to_string());
    header("Message-ID", &id);
    header("MIME-Version", "1.0");
    header("Content-Type", "text/plain; charset=utf-8");
    header("Content-Transfer-Encoding", encoding);
    header("Auto-Submitted", "auto-generated");
    msg.push_str("\r\n");
    for line in text.lines() {
        // Dot-stuffing (RFC 5321 4.5.2).
        if line.starts_with('.') {
            msg.push('.');
        }
        msg.push_str(line);
        msg.push_str("\r\n");
    }
    (msg, is_8bit)
}

/// A header value, as an RFC 2047 encoded word when it is not plain ASCII.
fn encode_header(v: &str) -> String {
    let v: String = v.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if v.is_ascii() {
        v
    } else {
        format!("=?utf-8?B?{}?=", Base64::encode_string(v.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub<'a>(body: &'a str, to: &'a [String]) -> Submission<'a> {
        Submission {
            host: "mx",
            port: 25,
            starttls: true,
            login: None,
            from: "pgsnap@example.com",
            to,
            subject: "Grüße",
            body,
            helo: "host",
        }
    }

    #[test]
    fn messages_are_dot_stuffed_and_encoded_as_the_server_allows() {
        let to = vec!["a@example.com".to_string(), "b@example.com".to_string()];
        let (m, eight) = compose(&sub("one\n.two\n..three\n", &to), false);
        assert!(!eight);
        assert!(m.contains("\r\nTo: a@example.com, b@example.com\r\n"), "{m}");
        assert!(m.contains("\r\nSubject: =?utf-8?B?R3LDvMOfZQ==?=\r\n"), "{m}");
        assert!(m.contains("Content-Transfer-Encoding: 7bit\r\n"), "{m}");
        assert!(m.ends_with("\r\n\r\none\r\n..two\r\n...three\r\n"), "{m}");
        let (m, eight) = compose(&sub("Fehler: Datei „x“\n", &to), true);
        assert!(eight && m.contains("8bit") && m.contains("„x“"), "{m}");
        let (m, eight) = compose(&sub("Fehler: Datei „x“\n", &to), false);
        assert!(!eight && m.contains("Content-Transfer-Encoding: base64"), "{m}");
        let long = "x".repeat(2000);
        let (m, _) = compose(&sub(&long, &to), true);
        assert!(m.lines().all(|l| l.len() <= 78), "{m}");
    }
}
