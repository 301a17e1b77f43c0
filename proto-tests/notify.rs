//! A job's notifications, verification, test restore and encryption end to end, with the
//! built binary against real local servers the test starts: a PostgreSQL cluster, an HTTP
//! server that records webhook / Slack / Discord / Telegram requests, and an SMTP server
//! (aiosmtpd, STARTTLS with a certificate made here, AUTH) that receives the mail.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{Cluster, Scratch, TestDb};

const MAJOR: u32 = 17;

/// One request the HTTP server received.
#[derive(Debug, Clone)]
struct Request {
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Request {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&self.body)))
    }
}

/// Records every request; answers 500 to paths under `/fail`, 200 to the rest.
struct Recorder {
    port: u16,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl Recorder {
    fn start() -> Recorder {
        Recorder::start_with(None)
    }

    /// Over TLS (HTTPS) with this certificate chain and key.
    fn start_tls(cert: &str, key: &str) -> Recorder {
        let certs = vec![rustls::pki_types::CertificateDer::from(
            rustls::pki_types::pem::PemObject::from_pem_slice(cert.as_bytes())
                .map(|c: rustls::pki_types::CertificateDer<'static>| c.to_vec())
                .unwrap(),
        )];
        let key: rustls::pki_types::PrivateKeyDer<'static> =
            rustls::pki_types::pem::PemObject::from_pem_slice(key.as_bytes()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        Recorder::start_with(Some(Arc::new(config)))
    }

    fn start_with(tls: Option<Arc<rustls::ServerConfig>>) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let log = log.clone();
                let tls = tls.clone();
                std::thread::spawn(move || match tls {
                    None => serve(conn, &log),
                    Some(config) => {
                        let session = rustls::ServerConnection::new(config).unwrap();
                        let mut stream = rustls::StreamOwned::new(session, conn);
                        serve(&mut stream, &log);
                        stream.conn.send_close_notify();
                        let _ = stream.flush();
                    }
                });
            }
        });
        Recorder { port, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn take(&self) -> Vec<Request> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

fn serve<S: Read + Write>(conn: S, log: &Mutex<Vec<Request>>) {
    let mut r = BufReader::new(conn);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let mut parts = line.split_whitespace();
    assert_eq!(parts.next(), Some("POST"), "{line}");
    let path = parts.next().unwrap().to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap();
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    let len: usize = headers["content-length"].parse().unwrap();
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    let status = if path.starts_with("/fail") {
        "500 Internal Server Error"
    } else {
        "200 OK"
    };
    log.lock().unwrap().push(Request { path, headers, body });
    let answer = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{{\"ok\":true}}"
    );
    let w = r.get_mut();
    let _ = w.write_all(answer.as_bytes());
    let _ = w.flush();
}

/// aiosmtpd on a free port, with STARTTLS (the certificate and key given) and AUTH.
struct Smtp {
    port: u16,
    inbox: PathBuf,
    child: Child,
}

impl Smtp {
    fn start(dir: &Path, cert: &Path, key: &Path, user: &str, password: &str) -> Smtp {
        // Where scripts/provision put the venv (PGSNAP_PY_TOOLS moves it, as there).
        let python = std::env::var_os("PGSNAP_PY_TOOLS")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| support::project_root().join(".cache/pytools"))
            .join("bin/python");
        if !python.is_file() {
            panic!(
                "aiosmtpd is not installed at {}.\nFix: run ./scripts/provision (it installs aiosmtpd into \
                 .cache/pytools).",
                python.display()
            );
        }
        let port = free_port();
        let inbox = dir.join("inbox");
        std::fs::create_dir_all(&inbox).unwrap();
        let mut child = Command::new(python)
            .arg(support::project_root().join("proto-tests/support/smtp_sink.py"))
            .args(["127.0.0.1", &port.to_string()])
            .args([cert, key, &inbox])
            .args([user, password])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        assert_eq!(ready.trim(), "ready", "the SMTP server did not start");
        Smtp { port, inbox, child }
    }

    fn messages(&self) -> Vec<serde_json::Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.inbox)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        let out = names
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect();
        for p in names {
            std::fs::remove_file(p).unwrap();
        }
        out
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn pgsnap(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgsnap"))
        .args(args)
        .env_remove("PG_COLOR")
        .env_remove("PGSNAP_CONFIG")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The newest run record in `dest`.
fn newest_record(dest: &Path) -> serde_json::Value {
    let mut v: Vec<serde_json::Value> = std::fs::read_dir(dest)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json") && !p.file_name().unwrap().to_string_lossy().starts_with('.')
        })
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect();
    v.sort_by(|a: &serde_json::Value, b| a["started"].as_str().cmp(&b["started"].as_str()));
    v.pop().expect("no run record")
}

fn deliveries(record: &serde_json::Value) -> BTreeMap<String, serde_json::Value> {
    record["notifications"]
        .as_array()
        .expect("no notifications in the record")
        .iter()
        .map(|d| (d["notifier"].as_str().unwrap().to_string(), d.clone()))
        .collect()
}

fn hmac_hex(key: &[u8], body: &[u8]) -> String {
    let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key), body);
    tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether the test restore's scratch database still exists (the tests share a cluster, so
/// only this one is looked for).
fn scratch_exists(cluster: &Cluster, test_restore: &serde_json::Value) -> bool {
    let name = test_restore["database"].as_str().unwrap();
    assert!(name.starts_with("pgsnap_verify_"), "{name}");
    let found = cluster.psql(
        "postgres",
        &format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'"),
    );
    found.trim() != "0"
}

fn restore_section(cluster: &Cluster) -> String {
    format!(
        "host = \"{}\"\nport = {}\nuser = \"postgres\"\npg_restore = \"{}\"\n",
        cluster.socket_dir().display(),
        cluster.port,
        support::pg_bin(MAJOR, "pg_restore").display()
    )
}

#[test]
fn notifications_reach_real_servers_failures_are_retried_and_recorded() {
    let db = TestDb::new(
        MAJOR,
        "notify",
        "CREATE TABLE orders (id int PRIMARY KEY, note text);
         INSERT INTO orders SELECT g, 'n' || g FROM generate_series(1, 300) g;
         CREATE SCHEMA \"Audit\";
         CREATE TABLE \"Audit\".\"Trail\" (id int);
         INSERT INTO \"Audit\".\"Trail\" SELECT g FROM generate_series(1, 40) g;",
    );
    let dir = Scratch::new("pgsnap-notify");
    let http = Recorder::start();

    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_path = dir.path().join("smtp.crt");
    let key_path = dir.path().join("smtp.key");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let smtp = Smtp::start(dir.path(), &cert_path, &key_path, "pgsnap", "smtp-pass");
    let https = Recorder::start_tls(&cert.cert.pem(), &cert.signing_key.serialize_pem());
    std::fs::write(dir.path().join("smtp-password"), "smtp-pass\n").unwrap();
    std::fs::write(
        dir.path().join("discord-url"),
        format!("{}\n", http.url("/discord/123/abc")),
    )
    .unwrap();
    let closed = free_port();

    let socket = db.cluster.socket_dir();
    let config = dir.path().join("pgsnap.toml");
    let body = format!(
        "[jobs.shop]\ndestination = \"backups\"\n\
         source = {{ host = \"{host}\", port = {port}, user = \"postgres\", dbname = \"{db}\" }}\n\
         [jobs.shop.notify]\n\
         on_success = [\"hook\", \"slack\", \"discord\", \"telegram\", \"mail\", \"broken\", \"down\", \"secure\", \"untrusted\"]\n\
         on_failure = [\"hook\", \"mail\"]\n\
         [jobs.shop.verify.restore]\n{restore}\
         [notifiers.hook]\ntype = \"webhook\"\nurl = \"{hook}\"\nhmac_secret_env = \"TEST_HMAC_KEY\"\n\
         [notifiers.slack]\ntype = \"slack\"\nurl_env = \"TEST_SLACK_URL\"\n\
         [notifiers.discord]\ntype = \"discord\"\nurl_file = \"discord-url\"\n\
         [notifiers.telegram]\ntype = \"telegram\"\nbot_token_env = \"TEST_TG_TOKEN\"\nchat_id = -100123\napi_base = \"{tg}\"\n\
         [notifiers.mail]\ntype = \"email\"\nsmtp_host = \"localhost\"\nsmtp_port = {smtp}\nfrom = \"pgsnap@example.com\"\n\
         to = [\"dba@example.com\", \"oncall@example.com\"]\nusername = \"pgsnap\"\npassword_file = \"smtp-password\"\n\
         tls_ca_file = \"smtp.crt\"\n\
         [notifiers.broken]\ntype = \"webhook\"\nurl = \"{broken}\"\nattempts = 2\n\
         [notifiers.down]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{closed}/hook\"\nattempts = 2\n\
         [notifiers.secure]\ntype = \"webhook\"\nurl = \"https://localhost:{secure}/secure\"\ntls_ca_file = \"smtp.crt\"\n\
         [notifiers.untrusted]\ntype = \"webhook\"\nurl = \"https://localhost:{secure}/untrusted\"\nattempts = 1\n",
        host = socket.display(),
        port = db.cluster.port,
        db = db.name,
        restore = restore_section(&db.cluster),
        hook = http.url("/hook"),
        tg = http.url("/tg"),
        smtp = smtp.port,
        broken = http.url("/fail/hook"),
        secure = https.port,
    );
    std::fs::write(&config, &body).unwrap();
    let cfg = config.to_str().unwrap();
    let slack_url = http.url("/slack/T0/B0/xyz");
    let env = [
        ("TEST_HMAC_KEY", "hmac-key-1"),
        ("TEST_SLACK_URL", slack_url.as_str()),
        ("TEST_TG_TOKEN", "123:tok"),
    ];
    let o = pgsnap(&["config", "check", cfg], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // A good run: verified, test-restored, every notifier tried; the two broken ones fail
    // after their two tries each, and the backup still succeeds.
    let o = pgsnap(&["run", "shop", "-c", cfg], &env);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("notifier \"broken\" (webhook) failed after 2 attempt(s)"),
        "{out}"
    );
    assert!(out.contains("verify ok ("), "{out}");
    assert!(out.contains("test restore ok (2 table(s), 340 rows"), "{out}");
    let dest = dir.path().join("backups");
    let rec = newest_record(&dest);
    assert_eq!(rec["outcome"], "succeeded", "{rec:#}");
    let v = &rec["verification"];
    assert_eq!(v["ok"], true, "{v:#}");
    assert_eq!(v["contents_checked"], true);
    assert_eq!(v["rows"], 340);
    let t = &rec["test_restore"];
    assert_eq!(
        (t["ok"].as_bool(), t["tables_compared"].as_u64(), t["rows"].as_u64()),
        (Some(true), Some(2), Some(340)),
        "{t:#}"
    );
    assert_eq!(t["dropped"], true);
    assert!(
        t["pg_restore"]
            .as_str()
            .unwrap()
            .contains("pg_restore (PostgreSQL) 17."),
        "{t:#}"
    );
    assert!(!scratch_exists(&db.cluster, t), "the scratch database is dropped");

    let d = deliveries(&rec);
    assert_eq!(d.len(), 9, "{d:#?}");
    for name in ["hook", "slack", "discord", "telegram", "mail", "secure"] {
        assert_eq!(d[name]["outcome"], "delivered", "{name}: {:#}", d[name]);
        assert_eq!(d[name]["attempts"], 1);
        assert_eq!(d[name]["event"], "success");
    }
    assert_eq!(d["mail"]["channel"], "email");
    for name in ["broken", "down"] {
        assert_eq!(d[name]["outcome"], "failed", "{name}");
        assert_eq!(d[name]["attempts"], 2, "{name}");
    }
    let broken_error = d["broken"]["error"].as_str().unwrap();
    assert!(broken_error.contains("answered HTTP 500"), "{broken_error}");
    assert!(
        !broken_error.contains("/fail/hook"),
        "the URL's path is not shown: {broken_error}"
    );
    assert!(
        d["down"]["error"].as_str().unwrap().contains("could not connect"),
        "{:#}",
        d["down"]
    );

    let reqs = http.take();
    let by_path = |p: &str| -> Vec<&Request> { reqs.iter().filter(|r| r.path.starts_with(p)).collect() };
    assert_eq!(by_path("/fail/hook").len(), 2, "the failing webhook was tried twice");
    let hook = by_path("/hook");
    assert_eq!(hook.len(), 1);
    let h = hook[0];
    assert_eq!(
        h.headers["x-pgsnap-signature-256"],
        format!("sha256={}", hmac_hex(b"hmac-key-1", &h.body)),
        "the signature is the HMAC-SHA256 of the exact body"
    );
    assert_eq!(h.headers["x-pgsnap-event"], "success");
    assert_eq!(h.headers["content-type"], "application/json");
    let j = h.json();
    assert_eq!(j["event"], "success");
    assert_eq!(j["job"], "shop");
    assert_eq!(j["run"]["outcome"], "succeeded");
    assert_eq!(j["run"]["archive"], rec["archive"]);
    assert_eq!(j["run"]["test_restore"]["ok"], true);
    let slack = by_path("/slack/T0/B0/xyz");
    assert_eq!(slack.len(), 1);
    let s = slack[0].json();
    assert!(s["text"].as_str().unwrap().starts_with("pgsnap: job shop on "), "{s}");
    assert!(s["text"].as_str().unwrap().contains(" succeeded "), "{s}");
    let discord = by_path("/discord/123/abc");
    assert_eq!(discord.len(), 1);
    assert!(discord[0].json()["content"].as_str().unwrap().contains("340 rows"));
    let tg = by_path("/tg/bot123:tok/sendMessage");
    assert_eq!(tg.len(), 1, "{:?}", reqs.iter().map(|r| &r.path).collect::<Vec<_>>());
    assert_eq!(tg[0].json()["chat_id"], -100123);

    // A certificate the system's roots do not vouch for is refused.
    assert_eq!(d["untrusted"]["outcome"], "failed");
    let untrusted = d["untrusted"]["error"].as_str().unwrap();
    assert!(
        untrusted.contains("TLS handshake with https://localhost:"),
        "{untrusted}"
    );
    // HTTPS, the server's certificate checked against tls_ca_file.
    let secure = https.take();
    assert_eq!(secure.len(), 1);
    assert_eq!(secure[0].path, "/secure");
    assert_eq!(secure[0].json()["event"], "success");

    let mail = smtp.messages();
    assert_eq!(mail.len(), 1);
    let m = &mail[0];
    assert_eq!(m["tls"], true, "sent after STARTTLS");
    assert_eq!(m["authenticated"], true);
    assert_eq!(m["mail_from"], "pgsnap@example.com");
    assert_eq!(
        m["rcpt_tos"],
        serde_json::json!(["dba@example.com", "oncall@example.com"])
    );
    let content = m["content"].as_str().unwrap();
    assert!(
        content.contains("Subject: [pgsnap] job shop succeeded on "),
        "{content}"
    );
    assert!(content.contains("\"outcome\": \"succeeded\""), "{content}");

    // The server is gone: the failed run goes to on_failure's notifiers (not the others).
    let down = dir.path().join("no-server");
    std::fs::create_dir(&down).unwrap();
    std::fs::write(
        &config,
        body.replace(&socket.display().to_string(), &down.display().to_string()),
    )
    .unwrap();
    let o = pgsnap(&["run", "shop", "-c", cfg], &env);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let rec = newest_record(&dest);
    assert_eq!(rec["outcome"], "failed");
    let d = deliveries(&rec);
    assert_eq!(d.keys().collect::<Vec<_>>(), ["hook", "mail"]);
    assert!(
        d.values()
            .all(|x| x["outcome"] == "delivered" && x["event"] == "failure"),
        "{d:#?}"
    );
    let reqs = http.take();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].json()["event"], "failure");
    assert_eq!(reqs[0].json()["run"]["error"], rec["error"]);
    let mail = smtp.messages();
    assert_eq!(mail.len(), 1);
    assert!(
        mail[0]["content"]
            .as_str()
            .unwrap()
            .contains("Subject: [pgsnap] job shop FAILED on ")
    );

    // A notifier whose secret is missing fails (recorded, not retried), the backup does not.
    std::fs::write(&config, &body).unwrap();
    let o = pgsnap(&["run", "shop", "-c", cfg], &env[..2]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let d = deliveries(&newest_record(&dest));
    assert_eq!(d["telegram"]["outcome"], "failed");
    assert_eq!(d["telegram"]["attempts"], 1);
    assert!(
        d["telegram"]["error"].as_str().unwrap().contains("TEST_TG_TOKEN"),
        "{:#}",
        d["telegram"]
    );
}

#[test]
fn encrypted_jobs_verify_with_an_identity_or_say_what_they_could_not_check() {
    let db = TestDb::new(
        MAJOR,
        "notify_enc",
        "CREATE TABLE secrets (id int PRIMARY KEY, v text);
         INSERT INTO secrets SELECT g, md5(g::text) FROM generate_series(1, 200) g;
         CREATE TABLE empty_one (id int);",
    );
    let dir = Scratch::new("pgsnap-notify");
    let key = dir.path().join("key.txt");
    let o = pgsnap(&["keygen", "-o", key.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let recipient = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(recipient.starts_with("age1"), "{recipient}");
    std::fs::write(dir.path().join("recipients.txt"), format!("# ops\n{recipient}\n")).unwrap();
    std::fs::write(dir.path().join("phrase.txt"), "correct horse battery staple\n").unwrap();
    let config = dir.path().join("pgsnap.toml");
    let source = format!(
        "source = {{ host = \"{}\", port = {}, user = \"postgres\", dbname = \"{}\" }}\n",
        db.cluster.socket_dir().display(),
        db.cluster.port,
        db.name
    );
    std::fs::write(
        &config,
        format!(
            "[jobs.locked]\ndestination = \"locked\"\nformat = \"directory\"\n{source}\
             encrypt_to = [\"{recipient}\"]\n\
             [jobs.locked.verify]\nidentity_file = \"key.txt\"\n\
             [jobs.locked.verify.restore]\n{restore}\
             [jobs.sealed]\ndestination = \"sealed\"\n{source}encrypt_to_file = \"recipients.txt\"\n\
             [jobs.phrase]\ndestination = \"phrase\"\n{source}passphrase_file = \"phrase.txt\"\n",
            restore = restore_section(&db.cluster)
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();

    // With the identity: the contents are decrypted and read, the archive decrypted and
    // restored by stock pg_restore, its rows as the manifest counted them.
    let o = pgsnap(&["run", "locked", "-c", cfg], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let dest = dir.path().join("locked");
    let rec = newest_record(&dest);
    assert_eq!(rec["encrypted_to"], serde_json::json!([recipient]));
    let v = &rec["verification"];
    assert_eq!(
        (v["ok"].as_bool(), v["contents_checked"].as_bool()),
        (Some(true), Some(true)),
        "{v:#}"
    );
    assert_eq!(v["rows"], 200);
    let t = &rec["test_restore"];
    assert_eq!(
        (t["ok"].as_bool(), t["tables_compared"].as_u64(), t["rows"].as_u64()),
        (Some(true), Some(2), Some(200)),
        "{t:#}"
    );
    assert!(!scratch_exists(&db.cluster, t));
    // The decrypted copy made for pg_restore is gone; the archive really is encrypted.
    let hidden: Vec<String> = std::fs::read_dir(&dest)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && !n.ends_with(".lock"))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
    let archive = dest.join(rec["archive"].as_str().unwrap());
    let toc = std::fs::read(archive.join("toc.dat")).unwrap();
    assert!(toc.starts_with(b"age-encryption.org/v1"), "toc.dat is an age file");
    // Round trip by hand too: decrypt, then stock pg_restore into a new database.
    let plain = dir.path().join("plain.dir");
    let o = pgsnap(
        &[
            "decrypt",
            "-i",
            key.to_str().unwrap(),
            "-o",
            plain.to_str().unwrap(),
            archive.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let target = db.cluster.create_database("notify_enc_back", "");
    let o = db
        .cluster
        .tool("pg_restore")
        .args(["-d", &target, "--exit-on-error"])
        .arg(&plain)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        db.cluster
            .psql(&target, "SELECT count(*), sum(length(v)) FROM secrets")
            .trim(),
        "200|6400"
    );
    db.cluster.drop_database(&target);

    // Without an identity: sizes and checksums only, and the record says so.
    let o = pgsnap(&["run", "sealed", "-c", cfg], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("verify ok, sizes and checksums only"), "{}", text(&o));
    let rec = newest_record(&dir.path().join("sealed"));
    let v = &rec["verification"];
    assert_eq!(
        (v["ok"].as_bool(), v["contents_checked"].as_bool()),
        (Some(true), Some(false)),
        "{v:#}"
    );
    assert_eq!(v["files_checked"], 1);
    assert!(v["note"].as_str().unwrap().contains("no identity configured"), "{v:#}");
    assert_eq!(rec["encrypted_to"], serde_json::json!([recipient]));

    // A passphrase job: its passphrase file is also what verify decrypts with.
    let o = pgsnap(&["run", "phrase", "-c", cfg], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rec = newest_record(&dir.path().join("phrase"));
    assert_eq!(rec["encrypted_to"], serde_json::json!(["passphrase (scrypt)"]));
    let v = &rec["verification"];
    assert_eq!(
        (v["ok"].as_bool(), v["contents_checked"].as_bool()),
        (Some(true), Some(true)),
        "{v:#}"
    );
    assert_eq!(v["rows"], 200);
    let archive = dir.path().join("phrase").join(rec["archive"].as_str().unwrap());
    assert!(std::fs::read(&archive).unwrap().starts_with(b"age-encryption.org/v1"));
}

/// The restore server is unreachable: the run fails (exit 1, recorded with the test restore's
/// error), the verified archive stays for inspection, and nothing counts it as a backup.
#[test]
fn a_failed_test_restore_fails_the_run_and_keeps_the_archive() {
    let db = TestDb::new(
        MAJOR,
        "notify_rfail",
        "CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2);",
    );
    let dir = Scratch::new("pgsnap-notify");
    let nowhere = dir.path().join("no-server");
    std::fs::create_dir(&nowhere).unwrap();
    let config = dir.path().join("pgsnap.toml");
    std::fs::write(
        &config,
        format!(
            "[jobs.t]\ndestination = \"out\"\n\
             source = {{ host = \"{}\", port = {}, user = \"postgres\", dbname = \"{}\" }}\n\
             [jobs.t.verify.restore]\nhost = \"{}\"\nport = {}\nuser = \"postgres\"\npg_restore = \"{}\"\n",
            db.cluster.socket_dir().display(),
            db.cluster.port,
            db.name,
            nowhere.display(),
            db.cluster.port,
            support::pg_bin(MAJOR, "pg_restore").display()
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    let o = pgsnap(&["run", "t", "-c", cfg], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("the test restore failed"), "{}", text(&o));
    let dest = dir.path().join("out");
    let rec = newest_record(&dest);
    assert_eq!(rec["outcome"], "failed");
    assert_eq!(rec["verification"]["ok"], true);
    let t = &rec["test_restore"];
    assert_eq!(t["ok"], false, "{t:#}");
    assert!(
        t["error"]
            .as_str()
            .unwrap()
            .contains("connecting to the restore server"),
        "{t:#}"
    );
    let archive = dest.join(rec["archive"].as_str().expect("the archive is named"));
    assert!(archive.is_file(), "kept for inspection");
    let o = pgsnap(&["backups", "list", "t", "-c", cfg, "--json"], &[]);
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["outcome"], "failed");
}
