//! An S3 server for the tests (moto's server mode on a free loopback port), and a fault
//! injecting TCP proxy to put between pgsnap and it.
//!
//! [`FaultProxy`] forwards each connection to the server, or, per the [`Fault`] set, resets
//! it, answers it with an HTTP error status, forwards it slowly, or cuts every connection
//! once a number of request bytes went through (an outage in the middle of an upload).
//! A fault can be limited to the next `n` connections (a transient fault, after which the
//! proxy forwards again).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pgsnap::storage::{Location, S3Credentials, Storage};

pub const KEY: &str = "pgsnaptest";
pub const SECRET: &str = "pgsnaptestsecret";

/// moto's S3 server on a free loopback port, stopped on drop.
pub struct Moto {
    child: Child,
    pub port: u16,
    venv: PathBuf,
    /// The server's request log (one line per request, as werkzeug writes it to stderr).
    log: PathBuf,
}

impl Moto {
    pub fn start() -> Moto {
        let venv = std::env::var_os("PGSNAP_MOTO_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| super::project_root().join(".cache/moto"));
        let server = venv.join("bin/moto_server");
        assert!(
            server.exists(),
            "moto's S3 server is not installed at {}: run ./scripts/provision (it installs moto[server] into .cache/moto)",
            server.display()
        );
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = std::env::temp_dir().join(format!("pgsnap-moto-{}-{port}.log", std::process::id()));
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on port {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { child, port, venv, log }
    }

    /// The request lines the server has logged so far (`"GET /bucket/key HTTP/1.1" 200`),
    /// without the colour codes werkzeug puts around some.
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(" HTTP/1."))
            .map(strip_colour)
            .collect()
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates `bucket` with boto3 (a moto dependency, in the same venv).
    pub fn create_bucket(&self, bucket: &str) {
        let out = Command::new(self.venv.join("bin/python"))
            .arg("-c")
            .arg(format!(
                "import boto3; boto3.client('s3', endpoint_url='{}', aws_access_key_id='{KEY}', \
                 aws_secret_access_key='{SECRET}', region_name='us-east-1').create_bucket(Bucket='{bucket}')",
                self.endpoint()
            ))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "create bucket: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The `--to` URL of `bucket/prefix` on this server.
    pub fn url(&self, bucket: &str, prefix: &str) -> String {
        url_at(self.port, bucket, prefix)
    }

    /// The destination opened directly (not through a proxy), with the test credentials.
    pub fn storage(&self, bucket: &str, prefix: &str) -> Storage {
        let loc = Location::parse(&self.url(bucket, prefix)).unwrap();
        Storage::open_with_credentials(
            &loc,
            &S3Credentials {
                access_key_id: KEY.into(),
                secret_access_key: SECRET.into(),
            },
        )
        .unwrap()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// `line` without ANSI SGR sequences (`ESC [ … m`).
fn strip_colour(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// An `s3://` URL of a server on a loopback `port`.
pub fn url_at(port: u16, bucket: &str, prefix: &str) -> String {
    format!("s3://{bucket}/{prefix}?endpoint=http://127.0.0.1:{port}&region=us-east-1")
}

/// What the proxy does to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forwards it.
    Pass,
    /// Waits for the request, then closes the connection without reading it (RST).
    Reset,
    /// Reads the request (head and body), answers with this status and closes.
    Status(u16),
    /// Forwards it, pausing this long before each piece of up to 16 KiB, both ways.
    Slow(Duration),
    /// Forwards until this many request bytes went through the proxy in all (counting from
    /// when the fault was set), then cuts every connection and resets every new one.
    CutAfter(u64),
}

struct State {
    fault: Fault,
    /// Connections left that get `fault` (`None`: all); then the proxy forwards.
    budget: Option<u32>,
}

/// See the module documentation. Stops accepting when dropped.
pub struct FaultProxy {
    pub port: u16,
    state: Arc<Mutex<State>>,
    /// Connections that got a fault.
    faulted: Arc<AtomicU64>,
    /// Request bytes forwarded since the fault was set.
    sent: Arc<AtomicU64>,
    /// Response bytes forwarded since the proxy started.
    received: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl FaultProxy {
    /// A proxy to `127.0.0.1:upstream`, forwarding until told otherwise.
    pub fn start(upstream: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            fault: Fault::Pass,
            budget: None,
        }));
        let faulted = Arc::new(AtomicU64::new(0));
        let sent = Arc::new(AtomicU64::new(0));
        let received = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, fa, se, sp) = (state.clone(), faulted.clone(), sent.clone(), stop.clone());
        let re = received.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let fault = {
                    let mut s = st.lock().unwrap();
                    match s.budget {
                        Some(0) => Fault::Pass,
                        Some(n) => {
                            s.budget = Some(n - 1);
                            s.fault
                        }
                        None => s.fault,
                    }
                };
                let (fa, se, re) = (fa.clone(), se.clone(), re.clone());
                std::thread::spawn(move || handle(client, upstream, fault, &fa, &se, re));
            }
        });
        FaultProxy {
            port,
            state,
            faulted,
            sent,
            received,
            stop,
        }
    }

    /// Response bytes (heads and bodies) forwarded to clients so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::SeqCst)
    }

    /// Applies `fault` to every new connection (`None`), or to the next `n` only.
    pub fn set(&self, fault: Fault, n: Option<u32>) {
        let mut s = self.state.lock().unwrap();
        s.fault = fault;
        s.budget = n;
        self.sent.store(0, Ordering::SeqCst);
    }

    /// Connections that got a fault so far.
    pub fn faulted(&self) -> u64 {
        self.faulted.load(Ordering::SeqCst)
    }

    pub fn url(&self, bucket: &str, prefix: &str) -> String {
        url_at(self.port, bucket, prefix)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Cuts a connection at once.
fn reset(s: &TcpStream) {
    let _ = s.shutdown(Shutdown::Both);
}

fn handle(
    mut client: TcpStream,
    upstream: u16,
    fault: Fault,
    faulted: &AtomicU64,
    sent: &Arc<AtomicU64>,
    received: Arc<AtomicU64>,
) {
    match fault {
        Fault::Pass | Fault::Slow(_) | Fault::CutAfter(_) => {
            if let Fault::CutAfter(limit) = fault
                && sent.load(Ordering::SeqCst) >= limit
            {
                faulted.fetch_add(1, Ordering::SeqCst);
                reset(&client);
                return;
            }
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                reset(&client);
                return;
            };
            if matches!(fault, Fault::Slow(_)) {
                faulted.fetch_add(1, Ordering::SeqCst);
            }
            let delay = match fault {
                Fault::Slow(d) => d,
                _ => Duration::ZERO,
            };
            let limit = match fault {
                Fault::CutAfter(n) => Some(n),
                _ => None,
            };
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let up_sent = sent.clone();
            let up = std::thread::spawn(move || pipe(client, server, delay, Some((up_sent, limit))));
            pipe(s2, c2, delay, Some((received, None)));
            let _ = up.join();
        }
        Fault::Reset => {
            faulted.fetch_add(1, Ordering::SeqCst);
            // Closing a socket with unread data sends RST: wait for the request, read none.
            let _ = client.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 1];
            let _ = client.peek(&mut buf);
            drop(client);
        }
        Fault::Status(code) => {
            faulted.fetch_add(1, Ordering::SeqCst);
            let _ = client.set_read_timeout(Some(Duration::from_secs(10)));
            read_request(&mut client);
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>ServiceUnavailable</Code>\
                 <Message>injected fault {code}</Message></Error>"
            );
            let _ = write!(
                client,
                "HTTP/1.1 {code} Injected\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = client.flush();
            let _ = client.shutdown(Shutdown::Both);
        }
    }
}

/// Reads one request's head and its `Content-Length` body.
fn read_request(c: &mut TcpStream) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match c.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let len: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let _ = std::io::copy(&mut c.take(len), &mut std::io::sink());
}

/// Copies `from` to `to` until either ends; counts the bytes into `count` and cuts both
/// when it passes the limit.
fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration, count: Option<(Arc<AtomicU64>, Option<u64>)>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some((sent, limit)) = &count {
            let total = sent.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
            if limit.is_some_and(|l| total > l) {
                reset(&from);
                reset(&to);
                break;
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}
