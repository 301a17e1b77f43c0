//! Loading TLS settings (files, permissions, keys, CRLs) and verifying certificates, with
//! certificates made by rcgen in temporary directories; no server involved.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, IsCa, Issuer, KeyIdMethod, KeyPair,
    KeyUsagePurpose, RevokedCertParams, SerialNumber,
};
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{ServerName, UnixTime};

use super::*;
use crate::conn::{ConnOptions, ConnSettings};

/// A CA and certificates it signed, written as PEM files in a temporary directory.
struct Pki {
    dir: tempfile::TempDir,
    ca_key: KeyPair,
    ca_params: CertificateParams,
}

impl Pki {
    fn new() -> Pki {
        Pki::named("pgsnap test CA")
    }

    fn named(name: &str) -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, name);
        let pki = Pki {
            dir: tempfile::tempdir().unwrap(),
            ca_key,
            ca_params,
        };
        let ca = pki.ca_params.clone().self_signed(&pki.ca_key).unwrap();
        pki.write("root.crt", &ca.pem(), 0o644);
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str, mode: u32) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.ca_params, &self.ca_key)
    }

    /// A certificate for `sans` (DNS names or IP addresses) with serial `serial`; returns
    /// (certificate DER, certificate PEM, key PEM).
    fn leaf(&self, sans: &[&str], serial: u64) -> (Vec<u8>, String, String) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        p.serial_number = Some(SerialNumber::from(serial));
        let cert = p.signed_by(&key, &self.issuer()).unwrap();
        (cert.der().to_vec(), cert.pem(), key.serialize_pem())
    }

    fn crl(&self, revoked: &[u64]) -> String {
        let now = time_now();
        let params = CertificateRevocationListParams {
            this_update: now,
            next_update: now + std::time::Duration::from_secs(86_400),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: revoked
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
        params.signed_by(&self.issuer()).unwrap().pem().unwrap()
    }
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn no_prompt(_: &str) -> crate::Result<String> {
    panic!("prompted")
}

/// Settings for `conninfo` with HOME=`home` (its `.postgresql` holds the default files).
fn settings_in(conninfo: &str, home: &Path) -> crate::Result<ConnSettings> {
    let vars: HashMap<&str, String> = [("USER", "bob".to_string()), ("HOME", home.display().to_string())]
        .into_iter()
        .collect();
    let env = move |name: &str| vars.get(name).cloned();
    let opts = ConnOptions {
        dbname: Some(conninfo.to_string()),
        ..ConnOptions::default()
    };
    ConnSettings::resolve(&opts, &env, &mut no_prompt)
}

fn load_in(conninfo: &str, home: &Path) -> crate::Result<TlsConfig> {
    TlsConfig::load(&settings_in(conninfo, home)?)
}

fn err(r: crate::Result<TlsConfig>) -> String {
    let e = r.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Config | ErrorKind::Unsupported), "{e}");
    e.to_string()
}

#[test]
fn key_permission_rule_is_libpqs() {
    for (uid, mode, ok) in [
        (1000, 0o600, true),
        (1000, 0o400, true),
        (1000, 0o640, false),
        (1000, 0o604, false),
        (1000, 0o610, false),
        (0, 0o600, true),
        (0, 0o640, true),
        (0, 0o660, false),
        (0, 0o650, false),
        (0, 0o644, false),
    ] {
        assert_eq!(key_permissions_ok(uid, 0o100_000 | mode), ok, "uid {uid} mode {mode:o}");
    }
}

#[test]
fn disable_reads_nothing() {
    let home = tempfile::tempdir().unwrap();
    let cfg = load_in(
        "host=h sslmode=disable sslrootcert=/nonexistent/r sslcert=/nonexistent/c sslcrl=/nonexistent/l",
        home.path(),
    )
    .unwrap();
    assert_eq!(cfg.verification, Verification::None);
}

#[test]
fn root_certificate_rules() {
    let pki = Pki::new();
    let root = pki.path("root.crt");
    let home = tempfile::tempdir().unwrap();
    let dot = home.path().join(".postgresql");
    let default_root = dot.join("root.crt");

    // No root file: require and prefer do not verify; verify-* refuse, naming the file.
    for mode in ["require", "prefer", "allow"] {
        let cfg = load_in(&format!("host=h sslmode={mode}"), home.path()).unwrap();
        assert_eq!(cfg.verification, Verification::None, "{mode}");
    }
    for mode in ["verify-ca", "verify-full"] {
        assert_eq!(
            err(load_in(&format!("host=h sslmode={mode}"), home.path())),
            format!(
                "root certificate file \"{}\" does not exist; either provide the file, use the system's trusted \
                 roots with sslrootcert=system, or change sslmode to disable server certificate verification",
                default_root.display()
            )
        );
    }
    // A named root file that is missing is an error in every mode (libpq would skip it).
    assert!(
        err(load_in(
            "host=h sslmode=require sslrootcert=/nonexistent/root.crt",
            home.path()
        ))
        .contains("/nonexistent/root.crt\" does not exist")
    );

    // A root file turns on chain checks in every mode; verify-full adds the host name.
    let with_root = |mode: &str| {
        load_in(
            &format!("host=h sslmode={mode} sslrootcert={}", root.display()),
            home.path(),
        )
    };
    assert_eq!(with_root("require").unwrap().verification, Verification::Chain);
    assert_eq!(with_root("prefer").unwrap().verification, Verification::Chain);
    assert_eq!(with_root("verify-ca").unwrap().verification, Verification::Chain);
    assert_eq!(with_root("verify-full").unwrap().verification, Verification::Full);
    // ... and the default ~/.postgresql/root.crt does the same.
    std::fs::create_dir_all(&dot).unwrap();
    std::fs::copy(&root, &default_root).unwrap();
    assert_eq!(
        load_in("host=h sslmode=require", home.path()).unwrap().verification,
        Verification::Chain
    );

    // Unreadable content.
    let junk = pki.write("junk.crt", "not a certificate\n", 0o644);
    assert_eq!(
        err(load_in(
            &format!("host=h sslmode=verify-ca sslrootcert={}", junk.display()),
            home.path()
        )),
        format!(
            "could not read root certificate file \"{}\": no certificates found",
            junk.display()
        )
    );
    // verify-full needs a host name, not just hostaddr.
    assert_eq!(
        err(load_in(
            &format!("hostaddr=127.0.0.1 sslmode=verify-full sslrootcert={}", root.display()),
            home.path()
        )),
        "host name must be specified for a verified SSL connection (sslmode=verify-full with only hostaddr given)"
    );
}

#[test]
fn no_home_directory() {
    let vars = |name: &str| (name == "USER").then(|| "bob".to_string());
    let opts = ConnOptions {
        dbname: Some("host=h sslmode=verify-ca".into()),
        ..ConnOptions::default()
    };
    let s = ConnSettings::resolve(&opts, &vars, &mut no_prompt).unwrap();
    assert!(
        TlsConfig::load(&s)
            .unwrap_err()
            .to_string()
            .starts_with("could not get home directory to locate root certificate file")
    );
}

#[test]
fn client_certificate_and_key_rules() {
    let pki = Pki::new();
    let home = tempfile::tempdir().unwrap();
    let (_, cert_pem, key_pem) = pki.leaf(&["client"], 10);
    let cert = pki.write("client.crt", &cert_pem, 0o644);
    let key = pki.write("client.key", &key_pem, 0o600);
    let with = |extra: &str| {
        load_in(
            &format!("host=h sslmode=require sslcert={} {extra}", cert.display()),
            home.path(),
        )
    };

    assert!(with(&format!("sslkey={}", key.display())).unwrap().client.is_some());
    // Group/world access.
    // 0644 is refused whoever owns the file (0640 would pass for a root-owned one).
    let open_key = pki.write("open.key", &key_pem, 0o644);
    assert_eq!(
        err(with(&format!("sslkey={}", open_key.display()))),
        format!(
            "private key file \"{}\" has group or world access; file must have permissions u=rw (0600) or less if \
             owned by the current user, or permissions u=rw,g=r (0640) or less if owned by root",
            open_key.display()
        )
    );
    // Missing key, a directory as key, a key of another certificate, garbage.
    assert_eq!(
        err(with("sslkey=/nonexistent/client.key")),
        "certificate present, but not private key file \"/nonexistent/client.key\""
    );
    let key_dir = pki.path("keydir");
    std::fs::create_dir(&key_dir).unwrap();
    assert_eq!(
        err(with(&format!("sslkey={}", key_dir.display()))),
        format!("private key file \"{}\" is not a regular file", key_dir.display())
    );
    let (_, _, other_key) = pki.leaf(&["other"], 11);
    let other = pki.write("other.key", &other_key, 0o600);
    assert_eq!(
        err(with(&format!("sslkey={}", other.display()))),
        format!("certificate does not match private key file \"{}\"", other.display())
    );
    let garbage = pki.write(
        "garbage.key",
        "-----BEGIN PRIVATE KEY-----\nAQID\n-----END PRIVATE KEY-----\n",
        0o600,
    );
    assert!(
        err(with(&format!("sslkey={}", garbage.display())))
            .starts_with(&format!("could not load private key file \"{}\"", garbage.display()))
    );
    assert_eq!(
        err(with("sslkey=pkcs11:token")),
        "OpenSSL engine keys (sslkey=\"pkcs11:token\") are not supported"
    );
    // A named certificate that does not exist.
    assert_eq!(
        err(load_in(
            "host=h sslmode=require sslcert=/nonexistent/c.crt",
            home.path()
        )),
        "certificate file \"/nonexistent/c.crt\" does not exist"
    );
    // sslcertmode=disable: nothing is loaded, even a bad key.
    let cfg = with(&format!("sslkey={} sslcertmode=disable", open_key.display())).unwrap();
    assert!(cfg.client.is_none());
    // No default certificate in ~/.postgresql: no client certificate, no error.
    assert!(load_in("host=h sslmode=require", home.path()).unwrap().client.is_none());
    // Default files are found in ~/.postgresql.
    let dot = home.path().join(".postgresql");
    std::fs::create_dir_all(&dot).unwrap();
    std::fs::copy(&cert, dot.join("postgresql.crt")).unwrap();
    std::fs::copy(&key, dot.join("postgresql.key")).unwrap();
    std::fs::set_permissions(dot.join("postgresql.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(load_in("host=h sslmode=require", home.path()).unwrap().client.is_some());
}

#[test]
fn encrypted_client_key() {
    let pki = Pki::new();
    let home = tempfile::tempdir().unwrap();
    let key = KeyPair::generate().unwrap();
    let p = CertificateParams::new(vec!["client".to_string()]).unwrap();
    let cert = p.signed_by(&key, &pki.issuer()).unwrap();
    let cert_path = pki.write("c.crt", &cert.pem(), 0o644);
    // PBES2 (PBKDF2-SHA256, AES-256-CBC), what `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes.
    let params =
        pkcs8::pkcs5::pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(2048, b"saltsalt", [7u8; 16]).unwrap();
    let info = pkcs8::PrivateKeyInfoRef::try_from(key.serialized_der()).unwrap();
    let encrypted = info.encrypt_with_params(params, "hunter2").unwrap();
    let pem = format!(
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\n{}\n-----END ENCRYPTED PRIVATE KEY-----\n",
        <base64ct::Base64 as base64ct::Encoding>::encode_string(encrypted.as_bytes())
    );
    let key_path = pki.write("c.key", &pem, 0o600);
    let conninfo = |extra: &str| {
        format!(
            "host=h sslmode=require sslcert={} sslkey={} {extra}",
            cert_path.display(),
            key_path.display()
        )
    };
    assert!(
        load_in(&conninfo("sslpassword=hunter2"), home.path())
            .unwrap()
            .client
            .is_some()
    );
    assert_eq!(
        err(load_in(&conninfo(""), home.path())),
        format!(
            "could not load private key file \"{}\": the key is encrypted and no sslpassword was given",
            key_path.display()
        )
    );
    assert_eq!(
        err(load_in(&conninfo("sslpassword=wrong"), home.path())),
        format!(
            "could not load private key file \"{}\": bad decrypt (wrong sslpassword?)",
            key_path.display()
        )
    );
}

#[test]
fn crl_files() {
    let pki = Pki::new();
    let home = tempfile::tempdir().unwrap();
    let root = pki.path("root.crt");
    let crl = pki.write("root.crl", &pki.crl(&[5]), 0o644);
    let base = format!("host=h sslmode=verify-ca sslrootcert={}", root.display());
    assert!(load_in(&format!("{base} sslcrl={}", crl.display()), home.path()).is_ok());
    assert_eq!(
        err(load_in(&format!("{base} sslcrl=/nonexistent/x.crl"), home.path())),
        "certificate revocation list file \"/nonexistent/x.crl\" does not exist"
    );
    let junk = pki.write("junk.crl", "hello\n", 0o644);
    assert_eq!(
        err(load_in(&format!("{base} sslcrl={}", junk.display()), home.path())),
        format!(
            "could not read certificate revocation list file \"{}\": no CRL found",
            junk.display()
        )
    );
    // A CRL directory: CRL files are read, other files ignored.
    let crldir = pki.path("crls");
    std::fs::create_dir(&crldir).unwrap();
    std::fs::copy(&crl, crldir.join("abcd1234.r0")).unwrap();
    std::fs::write(crldir.join("README"), "not a CRL").unwrap();
    assert!(load_in(&format!("{base} sslcrldir={}", crldir.display()), home.path()).is_ok());
    assert!(
        err(load_in(&format!("{base} sslcrldir=/nonexistent/crls"), home.path()))
            .starts_with("could not read certificate revocation list directory")
    );
}

/// Runs `cfg`'s verifier for `host` on a certificate chain.
fn verify(cfg: &TlsConfig, host: &str, cert: &[u8]) -> Result<(), String> {
    let verifier = verify::ServerVerifier {
        chain: cfg.chain.clone(),
        check_host: cfg.verification == Verification::Full,
        host: host.to_string(),
        provider: cfg.provider.clone(),
    };
    let (name, _) = server_name(host, true);
    let cert = CertificateDer::from(cert.to_vec());
    verifier
        .verify_server_cert(&cert, &[], &name, &[], UnixTime::now())
        .map(|_| ())
        .map_err(|e| match e {
            rustls::Error::InvalidCertificate(c) => {
                verify::describe_certificate_error(&c, cfg.chain.as_ref().map(|c| c.source.as_str()))
            }
            other => other.to_string(),
        })
}

#[test]
fn verification_levels() {
    let pki = Pki::new();
    let home = tempfile::tempdir().unwrap();
    let root = pki.path("root.crt");
    let (server, _, _) = pki.leaf(&["localhost", "127.0.0.1"], 5);
    let full = load_in(
        &format!("host=h sslmode=verify-full sslrootcert={}", root.display()),
        home.path(),
    )
    .unwrap();
    assert_eq!(verify(&full, "localhost", &server), Ok(()));
    assert_eq!(verify(&full, "127.0.0.1", &server), Ok(()));
    assert_eq!(
        verify(&full, "db.example", &server),
        Err("server certificate for \"localhost\" (and 1 other name) does not match host name \"db.example\"".into())
    );
    // verify-ca: any name.
    let ca = load_in(
        &format!("host=h sslmode=verify-ca sslrootcert={}", root.display()),
        home.path(),
    )
    .unwrap();
    assert_eq!(verify(&ca, "db.example", &server), Ok(()));
    // Another CA's root.
    let other = Pki::named("another CA");
    let wrong = load_in(
        &format!(
            "host=h sslmode=verify-full sslrootcert={}",
            other.path("root.crt").display()
        ),
        home.path(),
    )
    .unwrap();
    let e = verify(&wrong, "localhost", &server).unwrap_err();
    assert!(
        e.starts_with("SSL error: certificate verify failed: unable to get local issuer certificate"),
        "{e}"
    );
    assert!(e.contains(&other.path("root.crt").display().to_string()), "{e}");
    // require without a root: anything.
    let none = load_in("host=h sslmode=require", home.path()).unwrap();
    assert_eq!(verify(&none, "db.example", &other.leaf(&["x"], 1).0), Ok(()));
}

#[test]
fn revoked_server_certificate() {
    let pki = Pki::new();
    let home = tempfile::tempdir().unwrap();
    let crl = pki.write("root.crl", &pki.crl(&[5]), 0o644);
    let cfg = load_in(
        &format!(
            "host=h sslmode=verify-full sslrootcert={} sslcrl={}",
            pki.path("root.crt").display(),
            crl.display()
        ),
        home.path(),
    )
    .unwrap();
    let (revoked, _, _) = pki.leaf(&["localhost"], 5);
    let (good, _, _) = pki.leaf(&["localhost"], 6);
    assert_eq!(
        verify(&cfg, "localhost", &revoked),
        Err("SSL error: certificate verify failed: certificate revoked".into())
    );
    assert_eq!(verify(&cfg, "localhost", &good), Ok(()));
}

#[test]
fn self_signed_server_certificate_as_its_own_root() {
    // The classic setup of libpq's docs: the server's self-signed certificate is root.crt.
    let home = tempfile::tempdir().unwrap();
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec!["db.example".to_string()]).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = p.self_signed(&key).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("server.crt");
    std::fs::write(&root, cert.pem()).unwrap();
    let cfg = load_in(
        &format!("host=h sslmode=verify-full sslrootcert={}", root.display()),
        home.path(),
    )
    .unwrap();
    assert_eq!(verify(&cfg, "db.example", cert.der()), Ok(()));
    assert!(verify(&cfg, "other.example", cert.der()).is_err());
}

#[test]
fn server_names_and_sni() {
    let (n, sni) = server_name("db.example", true);
    assert_eq!((n.to_str().to_string(), sni), ("db.example".to_string(), true));
    assert!(!server_name("db.example", false).1, "sslsni=0");
    assert!(matches!(server_name("127.0.0.1", true).0, ServerName::IpAddress(_)));
    assert!(matches!(server_name("::1", true).0, ServerName::IpAddress(_)));
    // Numeric-looking hosts never go out as SNI (libpq's test), nor do names rustls rejects.
    assert!(!server_name("127.1", true).1);
    assert!(!server_name("bad host name", true).1);
}

#[test]
fn protocol_versions() {
    let names = |min, max| -> Vec<String> { versions(min, max).iter().map(|v| format!("{:?}", v.version)).collect() };
    assert_eq!(names(None, None), vec!["TLSv1_2", "TLSv1_3"]);
    assert_eq!(names(Some(TlsVersion::Tls1_3), None), vec!["TLSv1_3"]);
    assert_eq!(names(None, Some(TlsVersion::Tls1_2)), vec!["TLSv1_2"]);
    assert_eq!(names(Some(TlsVersion::Tls1_0), None), vec!["TLSv1_2", "TLSv1_3"]);
}

#[test]
fn channel_binding_hash_is_the_certificate_hash() {
    use sha2::Digest;
    let pki = Pki::new();
    let (der, _, _) = pki.leaf(&["localhost"], 3);
    // rcgen signs ECDSA P-256 with SHA-256.
    assert_eq!(tls_server_end_point(&der), Some(sha2::Sha256::digest(&der).to_vec()));
    assert_eq!(tls_server_end_point(b"garbage"), None);
}
