//! TLS and connection services against real servers. Each TLS test starts a private cluster
//! with its own certificate authority (made here with rcgen): a server certificate for
//! `localhost` and `127.0.0.1`, client certificates, CRLs. The server side is checked from
//! `pg_stat_ssl`, so "it connected" always also means "it connected the way it should".

mod support;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pgsnap::conn::{ConnOptions, ConnSettings};
use pgsnap::pg::{Session, Target};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType, IsCa, Issuer, KeyIdMethod, KeyPair,
    KeyUsagePurpose, RevokedCertParams, SerialNumber,
};
use support::{Cluster, ClusterOptions, Fingerprint, PASSWORD_GROUP, Scratch, ScratchPath, TestDb};

/// Server major version for the TLS clusters (17+ for direct TLS negotiation).
const MAJOR: u32 = 18;
const SERVER_SERIAL: u64 = 1000;

/// A certificate authority and the files made from it, in a temporary directory that the
/// client side reads.
struct Pki {
    dir: Scratch,
    ca_key: KeyPair,
    ca_params: CertificateParams,
    server_cert: String,
    server_key: String,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} CA"));
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let dir = Scratch::new("pgsnap-tls");
        std::fs::write(dir.path().join("root.crt"), ca.pem()).unwrap();
        let mut pki = Pki {
            dir,
            ca_key,
            ca_params,
            server_cert: String::new(),
            server_key: String::new(),
        };
        let (cert, key) = pki.issue(&["localhost", "127.0.0.1"], "localhost", SERVER_SERIAL);
        pki.server_cert = cert;
        pki.server_key = key;
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn root(&self) -> String {
        self.path("root.crt").display().to_string()
    }

    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.ca_params, &self.ca_key)
    }

    /// A certificate (PEM) and its key (PEM, PKCS#8) signed by this CA.
    fn issue(&self, sans: &[&str], common_name: &str, serial: u64) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        p.distinguished_name.push(DnType::CommonName, common_name);
        p.serial_number = Some(SerialNumber::from(serial));
        let cert = p.signed_by(&key, &self.issuer()).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// Writes a client certificate for `user` (CN = user) and its key (0600); returns paths.
    fn client(&self, user: &str, serial: u64) -> (PathBuf, PathBuf) {
        let (cert, key) = self.issue(&[], user, serial);
        (
            self.write(&format!("{user}.crt"), &cert, 0o644),
            self.write(&format!("{user}.key"), &key, 0o600),
        )
    }

    fn write(&self, name: &str, text: &str, mode: u32) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    /// A CRL of this CA revoking `serials`.
    fn crl(&self, name: &str, serials: &[u64]) -> PathBuf {
        let now = time::OffsetDateTime::now_utc();
        let params = CertificateRevocationListParams {
            this_update: now,
            next_update: now + std::time::Duration::from_secs(86_400),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|s| RevokedCertParams {
                    serial_number: SerialNumber::from(*s),
                    revocation_time: now,
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let pem = params.signed_by(&self.issuer()).unwrap().pem().unwrap();
        self.write(name, &pem, 0o644)
    }

    /// A private cluster serving TLS with this CA's server certificate, trusting this CA
    /// for client certificates, with `hba` lines ahead of the harness's own.
    fn cluster(&self, hba: &str) -> Cluster {
        let root = std::fs::read(self.path("root.crt")).unwrap();
        Cluster::private_with(
            MAJOR,
            ClusterOptions {
                conf: "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ca_file = 'root.crt'\n"
                    .into(),
                hba: hba.into(),
                files: vec![
                    ("server.crt".into(), self.server_cert.clone().into_bytes()),
                    ("server.key".into(), self.server_key.clone().into_bytes()),
                    ("root.crt".into(), root),
                ],
            },
        )
    }
}

/// An environment for resolution: HOME is an empty directory (no ~/.postgresql, no
/// ~/.pg_service.conf), plus `vars`.
fn env_with(vars: &[(&str, &str)]) -> (Scratch, HashMap<String, String>) {
    let home = Scratch::new("pgsnap-tls");
    let mut map: HashMap<String, String> = [("HOME".to_string(), home.path().display().to_string())].into();
    map.insert("USER".into(), "postgres".into());
    for (k, v) in vars {
        map.insert(k.to_string(), v.to_string());
    }
    (home, map)
}

fn settings(conninfo: &str, vars: &[(&str, &str)]) -> pgsnap::Result<ConnSettings> {
    let (_home, map) = env_with(vars);
    let env = move |name: &str| map.get(name).cloned();
    let opts = ConnOptions {
        dbname: Some(conninfo.to_string()),
        ..ConnOptions::default()
    };
    ConnSettings::resolve(&opts, &env, &mut |_| panic!("no prompt in tests"))
}

async fn connect_with(conninfo: &str, vars: &[(&str, &str)]) -> pgsnap::Result<Session> {
    Target::from_settings(&settings(conninfo, vars)?)?.connect().await
}

async fn connect(conninfo: &str) -> pgsnap::Result<Session> {
    connect_with(conninfo, &[]).await
}

/// `ssl` and `client_dn` of the session as the server sees them.
async fn server_view(s: &Session) -> (bool, String) {
    let row = s
        .query_one("SELECT ssl, coalesce(client_dn, '') FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .await
        .unwrap();
    (row.bool(0).unwrap(), row.text(1).unwrap())
}

async fn expect_tls(conninfo: &str) -> Session {
    let s = connect(conninfo).await.unwrap_or_else(|e| panic!("{conninfo}: {e}"));
    assert!(s.tls_in_use(), "{conninfo}");
    assert!(server_view(&s).await.0, "server sees no SSL for {conninfo}");
    s
}

async fn expect_failure(conninfo: &str, want: &str) -> pgsnap::Error {
    let e = match connect(conninfo).await {
        Ok(_) => panic!("{conninfo}: connected, expected \"{want}\""),
        Err(e) => e,
    };
    assert!(e.to_string().contains(want), "{conninfo}:\n  got: {e}\n  want: {want}");
    e
}

#[tokio::test]
async fn verify_full_verify_ca_and_require_against_a_tls_cluster() {
    let pki = Pki::new("main");
    let c = pki.cluster("");
    let base = format!("port={} user=postgres dbname=postgres", c.port);
    let root = pki.root();

    // verify-full: the host name (DNS or IP) is checked against the certificate's SANs.
    for host in ["host=localhost", "host=127.0.0.1", "host=localhost hostaddr=127.0.0.1"] {
        expect_tls(&format!("{base} {host} sslmode=verify-full sslrootcert={root}")).await;
    }
    // A wrong host name (reached through hostaddr) is refused with libpq's message ...
    let e = expect_failure(
        &format!("{base} host=db.example hostaddr=127.0.0.1 sslmode=verify-full sslrootcert={root}"),
        "server certificate for \"localhost\" (and 1 other name) does not match host name \"db.example\"",
    )
    .await;
    assert_eq!(e.kind(), pgsnap::ErrorKind::Connect);
    // ... but verify-ca does not look at names.
    expect_tls(&format!(
        "{base} host=db.example hostaddr=127.0.0.1 sslmode=verify-ca sslrootcert={root}"
    ))
    .await;

    // Another CA's root: refused, in every verifying mode, naming the root file.
    let other = Pki::new("other");
    for mode in ["verify-full", "verify-ca", "require"] {
        let e = expect_failure(
            &format!("{base} host=localhost sslmode={mode} sslrootcert={}", other.root()),
            "certificate verify failed: unable to get local issuer certificate",
        )
        .await;
        assert!(e.to_string().contains(&other.root()), "{e}");
    }
    // require without a root file: encrypted, not verified. A missing default root file
    // makes verify modes fail before connecting.
    expect_tls(&format!("{base} host=localhost sslmode=require")).await;
    let e = connect(&format!("{base} host=localhost sslmode=verify-full"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), pgsnap::ErrorKind::Config);
    assert!(e.to_string().contains("root.crt\" does not exist"), "{e}");
    // The default sslmode (prefer) takes TLS when offered.
    expect_tls(&format!("{base} host=localhost")).await;

    // A CRL revoking the server certificate: refused; one revoking something else: fine.
    let revoking = pki.crl("revoking.crl", &[SERVER_SERIAL]);
    expect_failure(
        &format!(
            "{base} host=localhost sslmode=verify-full sslrootcert={root} sslcrl={}",
            revoking.display()
        ),
        "certificate verify failed: certificate revoked",
    )
    .await;
    let harmless = pki.crl("harmless.crl", &[SERVER_SERIAL + 1]);
    expect_tls(&format!(
        "{base} host=localhost sslmode=verify-full sslrootcert={root} sslcrl={}",
        harmless.display()
    ))
    .await;
    let crl_dir = pki.path("crls");
    std::fs::create_dir(&crl_dir).unwrap();
    std::fs::copy(&revoking, crl_dir.join("5a6b7c8d.r0")).unwrap();
    expect_failure(
        &format!(
            "{base} host=localhost sslmode=verify-ca sslrootcert={root} sslcrldir={}",
            crl_dir.display()
        ),
        "certificate revoked",
    )
    .await;

    // Protocol versions: a TLS 1.3-only client still connects to PG's defaults; TLS 1.2 max too.
    for range in ["ssl_min_protocol_version=TLSv1.3", "ssl_max_protocol_version=TLSv1.2"] {
        expect_tls(&format!(
            "{base} host=localhost sslmode=verify-full sslrootcert={root} {range}"
        ))
        .await;
    }
    // Direct TLS negotiation (PostgreSQL 17+), with ALPN.
    expect_tls(&format!(
        "{base} host=localhost sslmode=verify-full sslrootcert={root} sslnegotiation=direct"
    ))
    .await;

    // The environment variables work like the keywords.
    let s = connect_with(
        &format!("{base} host=localhost"),
        &[
            ("PGSSLMODE", "verify-full"),
            ("PGSSLROOTCERT", &root),
            ("PGSSLNEGOTIATION", "direct"),
        ],
    )
    .await
    .unwrap();
    assert!(server_view(&s).await.0);
    let e = connect_with(
        &format!("{base} host=db.example hostaddr=127.0.0.1"),
        &[("PGSSLMODE", "verify-full"), ("PGSSLROOTCERT", &root)],
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("does not match host name \"db.example\""), "{e}");
}

#[tokio::test]
async fn client_certificates_encrypted_keys_and_channel_binding() {
    let pki = Pki::new("clients");
    let c = pki.cluster(&format!(
        "hostssl all certuser 127.0.0.1/32 cert\nhostssl all certuser2 127.0.0.1/32 cert\n\
         hostnossl all +{PASSWORD_GROUP} 127.0.0.1/32 reject\n"
    ));
    c.psql(
        "postgres",
        &format!(
            "CREATE ROLE certuser LOGIN; CREATE ROLE certuser2 LOGIN; SET password_encryption = 'scram-sha-256';
             CREATE ROLE scram LOGIN PASSWORD 'scram-pw' IN ROLE {PASSWORD_GROUP};"
        ),
    );
    let base = format!(
        "host=localhost port={} dbname=postgres sslrootcert={}",
        c.port,
        pki.root()
    );

    // A client certificate logs in with `cert` authentication.
    let (cert, key) = pki.client("certuser", 2001);
    let s = expect_tls(&format!(
        "{base} user=certuser sslmode=verify-full sslcert={} sslkey={}",
        cert.display(),
        key.display()
    ))
    .await;
    assert_eq!(server_view(&s).await.1, "/CN=certuser");
    // Without one, `cert` authentication refuses.
    expect_failure(&format!("{base} user=certuser sslmode=verify-full"), "certificate").await;
    // sslcertmode=require: fine when the server asks for a certificate (ssl_ca_file is set).
    expect_tls(&format!(
        "{base} user=certuser sslmode=verify-full sslcertmode=require sslcert={} sslkey={}",
        cert.display(),
        key.display()
    ))
    .await;

    // An encrypted key (PKCS#8, PBES2 with PBKDF2-SHA256 and AES-256-CBC, as `openssl pkcs8
    // -topk8 -v2 aes-256-cbc` writes it) with sslpassword.
    let key2 = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, "certuser2");
    let cert2 = p.signed_by(&key2, &pki.issuer()).unwrap();
    let cert2_path = pki.write("certuser2.crt", &cert2.pem(), 0o644);
    let params =
        pkcs8::pkcs5::pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(2048, b"0123456789abcdef", [9; 16]).unwrap();
    let encrypted = pkcs8::PrivateKeyInfoRef::try_from(key2.serialized_der())
        .unwrap()
        .encrypt_with_params(params, "open sesame")
        .unwrap();
    let pem = format!(
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\n{}\n-----END ENCRYPTED PRIVATE KEY-----\n",
        <base64ct::Base64 as base64ct::Encoding>::encode_string(encrypted.as_bytes())
    );
    let key2_path = pki.write("certuser2.key", &pem, 0o600);
    let with_key2 = format!(
        "{base} user=certuser2 sslmode=verify-full sslcert={} sslkey={}",
        cert2_path.display(),
        key2_path.display()
    );
    let s = expect_tls(&format!("{with_key2} sslpassword='open sesame'")).await;
    assert_eq!(server_view(&s).await.1, "/CN=certuser2");
    let e = connect(&format!("{with_key2} sslpassword=wrong")).await.unwrap_err();
    assert_eq!(e.kind(), pgsnap::ErrorKind::Config);
    assert!(e.to_string().contains("bad decrypt (wrong sslpassword?)"), "{e}");
    // A key readable by others is refused before connecting, as libpq does.
    std::fs::set_permissions(&key2_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = connect(&format!("{with_key2} sslpassword='open sesame'"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("has group or world access"), "{e}");

    // channel_binding=require: SCRAM-SHA-256-PLUS over TLS.
    let scram = format!("{base} user=scram password=scram-pw");
    for mode in ["require", "verify-full"] {
        expect_tls(&format!("{scram} sslmode={mode} channel_binding=require")).await;
    }
    // ... refused before connecting with sslmode=disable.
    let e = connect(&format!("{scram} sslmode=disable channel_binding=require"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), pgsnap::ErrorKind::Config);
    assert!(
        e.to_string()
            .contains("channel_binding=require needs an SSL connection"),
        "{e}"
    );
    // ... and with a server that authenticates without SCRAM (cert), refused after the
    // handshake with libpq's message.
    expect_failure(
        &format!(
            "{base} user=certuser sslmode=verify-full channel_binding=require sslcert={} sslkey={}",
            cert.display(),
            key.display()
        ),
        "channel binding is required, but server did not offer an authentication method that supports channel binding",
    )
    .await;
}

#[tokio::test]
async fn allow_and_prefer_follow_the_server_like_libpq() {
    let pki = Pki::new("modes");
    // tls_only may only come over TLS, plain_only only without.
    let c = pki.cluster("hostnossl all tls_only 127.0.0.1/32 reject\nhostssl all plain_only 127.0.0.1/32 reject\n");
    c.psql("postgres", "CREATE ROLE tls_only LOGIN; CREATE ROLE plain_only LOGIN;");
    let base = format!("host=127.0.0.1 port={} dbname=postgres", c.port);
    let ssl_of = |conninfo: String| async move {
        let s = connect(&conninfo).await.unwrap_or_else(|e| panic!("{conninfo}: {e}"));
        let (server_ssl, _) = server_view(&s).await;
        assert_eq!(server_ssl, s.tls_in_use(), "{conninfo}");
        server_ssl
    };
    // allow: plaintext first; TLS only because the server rejected plaintext.
    assert!(!ssl_of(format!("{base} user=postgres sslmode=allow")).await);
    assert!(ssl_of(format!("{base} user=tls_only sslmode=allow")).await);
    // prefer: TLS first; plaintext only because the server rejected TLS.
    assert!(ssl_of(format!("{base} user=postgres sslmode=prefer")).await);
    assert!(!ssl_of(format!("{base} user=plain_only sslmode=prefer")).await);
    // disable and require do not retry.
    expect_failure(&format!("{base} user=tls_only sslmode=disable"), "no encryption").await;
    expect_failure(&format!("{base} user=plain_only sslmode=require"), "SSL encryption").await;
    // A Unix-domain socket never uses TLS, whatever sslmode says (as libpq).
    let sock = format!(
        "host={} port={} user=postgres dbname=postgres",
        c.socket_dir().display(),
        c.port
    );
    for mode in ["prefer", "require"] {
        let s = connect(&format!("{sock} sslmode={mode}")).await.unwrap();
        assert!(!s.tls_in_use());
    }
}

#[tokio::test]
async fn a_server_without_tls() {
    let db = TestDb::new(16, "notls", "");
    let c = &db.cluster;
    let base = format!("host=127.0.0.1 port={} user=postgres dbname={}", c.port, db.name);
    for mode in ["prefer", "allow", "disable"] {
        let s = connect(&format!("{base} sslmode={mode}")).await.unwrap();
        assert!(!s.tls_in_use(), "{mode}");
        assert!(!server_view(&s).await.0, "{mode}");
    }
    for mode in ["require", "verify-ca", "verify-full"] {
        let root = Pki::new("unused");
        expect_failure(
            &format!("{base} sslmode={mode} sslrootcert={}", root.root()),
            "server does not support SSL, but SSL was required",
        )
        .await;
    }
    // Direct TLS negotiation is refused by a server older than 17; the error says why.
    expect_failure(
        &format!("{base} sslmode=require sslnegotiation=direct"),
        "with sslnegotiation=direct the server must be PostgreSQL 17 or later",
    )
    .await;
    // channel_binding=require without TLS.
    c.psql(
        &db.name,
        &format!(
            "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cb_user') THEN
               SET password_encryption = 'scram-sha-256';
               CREATE ROLE cb_user LOGIN PASSWORD 'cb-pw' IN ROLE {PASSWORD_GROUP}; END IF; END$$"
        ),
    );
    expect_failure(
        &format!(
            "host=127.0.0.1 port={} user=cb_user password=cb-pw dbname={} channel_binding=require",
            c.port, db.name
        ),
        "channel binding required, but SSL not in use",
    )
    .await;
}

fn pgsnap() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pgsnap"));
    for v in [
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGPASSWORD",
        "PGSERVICE",
        "PGSERVICEFILE",
        "PGSSLMODE",
    ] {
        c.env_remove(v);
    }
    c
}

/// `archive` in a fresh directory, removed when the test passes (see `ScratchPath`).
fn archive_path() -> ScratchPath {
    ScratchPath::new("pgsnap-tls", "archive")
}

fn check(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Restores `archive` with stock pg_restore into a fresh database and compares the data.
fn restores_to(c: &Cluster, archive: &Path, source: &Fingerprint) {
    let target = c.create_database("tls_restored", "");
    let out = c
        .tool("pg_restore")
        .args(["-d", &target])
        .arg(archive)
        .output()
        .unwrap();
    check("pg_restore", &out);
    assert_eq!(Fingerprint::data_of(c, &target).tables, source.tables);
    c.drop_database(&target);
}

#[test]
fn dump_with_two_jobs_over_verify_full_restores() {
    let pki = Pki::new("dump");
    // Any plaintext TCP connection is refused: a worker without TLS would fail the dump.
    let c = pki.cluster("hostnossl all all 127.0.0.1/32 reject\n");
    let db = c.create_database(
        "tls_dump",
        &std::fs::read_to_string(support::project_root().join("fixtures").join("awkward.sql")).unwrap(),
    );
    let source = Fingerprint::data_of(&c, &db);
    let home = Scratch::new("pgsnap-tls");

    let archive = archive_path();
    let out = pgsnap()
        .env("HOME", home.path())
        .args(["dump", "-Fd", "-j", "2", "-f"])
        .arg(&archive)
        .arg("-d")
        .arg(format!(
            "host=localhost port={} user=postgres dbname={db} sslmode=verify-full sslrootcert={}",
            c.port,
            pki.root()
        ))
        .output()
        .unwrap();
    check("pgsnap dump over verify-full", &out);
    restores_to(&c, &archive, &source);

    // sslrootcert=system uses the platform's roots (SSL_CERT_FILE here) and implies
    // verify-full.
    let archive = archive_path();
    let out = pgsnap()
        .env("HOME", home.path())
        .env("SSL_CERT_FILE", pki.path("root.crt"))
        .env_remove("SSL_CERT_DIR")
        .args(["dump", "-Fd", "-j", "2", "-f"])
        .arg(&archive)
        .arg("-d")
        .arg(format!(
            "host=localhost port={} user=postgres dbname={db} sslrootcert=system",
            c.port
        ))
        .output()
        .unwrap();
    check("pgsnap dump with sslrootcert=system", &out);
    restores_to(&c, &archive, &source);
    let mismatched = archive_path();
    let out = pgsnap()
        .env("HOME", home.path())
        .env("SSL_CERT_FILE", pki.path("root.crt"))
        .env_remove("SSL_CERT_DIR")
        .args(["dump", "-Fd", "-f"])
        .arg(&mismatched)
        .arg("-d")
        .arg(format!(
            "host=db.example hostaddr=127.0.0.1 port={} user=postgres dbname={db} sslrootcert=system",
            c.port
        ))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does not match host name \"db.example\""), "{stderr}");
}

#[tokio::test]
async fn service_files_connect_with_libpq_precedence() {
    let db = TestDb::new(MAJOR, "svc", "CREATE TABLE t (i int); INSERT INTO t VALUES (1), (2);");
    let c = &db.cluster;
    let dir = Scratch::new("pgsnap-tls");
    let file = dir.path().join("services.conf");
    std::fs::write(
        &file,
        format!(
            "# test services\n[main]\nhost={sock}\nport={port}\nuser=postgres\ndbname={db}\napplication_name=from-service\n\
             [wrongport]\nhost={sock}\nport=1\nuser=postgres\ndbname={db}\n",
            sock = c.socket_dir().display(),
            port = c.port,
            db = db.name
        ),
    )
    .unwrap();
    let file_s = file.display().to_string();
    let app_name = |s: Session| async move {
        s.query_one("SELECT current_setting('application_name') || ':' || current_database()")
            .await
            .unwrap()
            .text(0)
            .unwrap()
    };
    // service= in the string, PGSERVICE in the environment.
    let s = connect_with("service=main", &[("PGSERVICEFILE", &file_s)])
        .await
        .unwrap();
    assert_eq!(app_name(s).await, format!("from-service:{}", db.name));
    let s = connect_with("", &[("PGSERVICEFILE", &file_s), ("PGSERVICE", "main")])
        .await
        .unwrap();
    assert_eq!(app_name(s).await, format!("from-service:{}", db.name));
    // Explicit settings beat the service; the service beats the environment.
    let s = connect_with(
        "service=main application_name=explicit",
        &[("PGSERVICEFILE", &file_s), ("PGAPPNAME", "from-env")],
    )
    .await
    .unwrap();
    assert_eq!(app_name(s).await, format!("explicit:{}", db.name));
    let s = connect_with("service=wrongport", &[("PGSERVICEFILE", &file_s), ("PGPORT", "2")]).await;
    assert!(s.is_err(), "the service's port 1 wins over PGPORT");
    let s = connect_with(
        &format!("service=wrongport port={}", c.port),
        &[("PGSERVICEFILE", &file_s)],
    )
    .await
    .unwrap();
    assert!(app_name(s).await.ends_with(&db.name));
    // A service defined nowhere.
    let e = connect_with("service=nope", &[("PGSERVICEFILE", &file_s)])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), pgsnap::ErrorKind::Config);
    assert_eq!(e.to_string(), "definition of service \"nope\" not found");

    // The binary reads the real environment: PGSERVICEFILE + PGSERVICE, and
    // PGSYSCONFDIR/pg_service.conf.
    let source = Fingerprint::data_of(c, &db.name);
    let archive = archive_path();
    let out = pgsnap()
        .env("PGSERVICEFILE", &file)
        .env("PGSERVICE", "main")
        .args(["dump", "-Fd", "-f"])
        .arg(&archive)
        .output()
        .unwrap();
    check("pgsnap dump with PGSERVICE", &out);
    restores_to(c, &archive, &source);
    let sysconf = Scratch::new("pgsnap-tls");
    std::fs::copy(&file, sysconf.path().join("pg_service.conf")).unwrap();
    let archive = archive_path();
    let out = pgsnap()
        .env("HOME", dir.path())
        .env("PGSYSCONFDIR", sysconf.path())
        .args(["dump", "-Fd", "-f"])
        .arg(&archive)
        .args(["-d", "service=main"])
        .output()
        .unwrap();
    check("pgsnap dump with service= and PGSYSCONFDIR", &out);
    restores_to(c, &archive, &source);
}

#[tokio::test]
async fn load_balance_hosts_random_tries_hosts_in_random_order() {
    let db = TestDb::new(MAJOR, "lb", "");
    let c = &db.cluster;
    // Two hosts of which only the second answers: either order ends on the live one.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let hosts = format!(
        "host=127.0.0.1,{} port={dead},{} user=postgres dbname={}",
        c.socket_dir().display(),
        c.port,
        db.name
    );
    for mode in ["disable", "random"] {
        let s = connect(&format!("{hosts} load_balance_hosts={mode}")).await.unwrap();
        assert!(!s.tls_in_use());
    }
    // With both hosts alive (the same server through TCP and the socket), random picks each
    // of them over enough tries; disable always picks the first.
    let both = format!(
        "host=127.0.0.1,{} port={} user=postgres dbname={}",
        c.socket_dir().display(),
        c.port,
        db.name
    );
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let s = connect(&format!("{both} load_balance_hosts=random")).await.unwrap();
        let addr = s
            .query_one("SELECT coalesce(host(inet_client_addr()), 'socket')")
            .await
            .unwrap()
            .text(0)
            .unwrap();
        seen.insert(addr);
        if seen.len() == 2 {
            break;
        }
    }
    assert_eq!(seen.len(), 2, "random never picked one of the hosts: {seen:?}");
    for _ in 0..5 {
        let s = connect(&format!("{both} load_balance_hosts=disable")).await.unwrap();
        let addr = s
            .query_one("SELECT coalesce(host(inet_client_addr()), 'socket')")
            .await
            .unwrap()
            .text(0)
            .unwrap();
        assert_eq!(addr, "127.0.0.1");
    }
    // PGLOADBALANCEHOSTS is read like the keyword.
    assert_eq!(
        settings(&both, &[("PGLOADBALANCEHOSTS", "random")])
            .unwrap()
            .load_balance_hosts,
        pgsnap::conn::LoadBalanceHosts::Random
    );
}
