//! TLS settings of a connection, loaded the way libpq's `initialize_SSL`
//! (fe-secure-openssl.c) loads them, but once per [`ConnSettings`] instead of per
//! connection, so bad files are reported before connecting and the leader and every worker
//! use exactly the same material. rustls with the ring provider does the TLS.
//!
//! - Root certificates: `sslrootcert`, else `~/.postgresql/root.crt` when it exists, or
//!   `system` for the platform's roots (`SSL_CERT_FILE`/`SSL_CERT_DIR` honoured, as OpenSSL
//!   does). A present root file turns on chain verification in every mode, as in libpq.
//! - Revocation: `sslcrl` / `sslcrldir`, else `~/.postgresql/root.crl`, only with a root file.
//! - Client certificate: `sslcert`/`sslkey` (else `~/.postgresql/postgresql.crt`/`.key`), the
//!   key under libpq's permission rule and decrypted with `sslpassword`.
//!
//! Deliberate differences from libpq: a file named explicitly (`sslrootcert`, `sslcert`,
//! `sslcrl`, `sslcrldir`) that does not exist is an error instead of being skipped, and bad
//! files are errors even in `prefer`/`allow` (libpq would fall back to plaintext).

mod key;
mod names;
pub(crate) mod pem;
mod verify;
mod x509;

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rustls::client::{ResolvesClientCert, Resumption, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, ServerName};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, KeyLog, RootCertStore, SignatureScheme, SupportedProtocolVersion};

use super::settings::{ConnSettings, SslCertMode, SslMode, SslNegotiation, TlsVersion};
use crate::error::{Error, ErrorKind, Result};

pub(crate) use x509::EndPointHash;

/// The ALPN protocol name PostgreSQL 17+ servers expect (and require with direct TLS).
pub(crate) const ALPN_POSTGRESQL: &[u8] = b"postgresql";

/// How much of the server certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verification {
    /// Nothing (libpq `require`, `prefer`, `allow` without a root certificate file).
    None,
    /// The chain up to a trusted root, validity and revocation (`verify-ca`).
    Chain,
    /// The chain and the host name (`verify-full`).
    Full,
}

/// Loaded TLS settings; see the module docs.
pub(crate) struct TlsConfig {
    provider: Arc<CryptoProvider>,
    versions: Vec<&'static SupportedProtocolVersion>,
    /// For protocol-version error hints: the configured range as libpq names it.
    version_range: (TlsVersion, TlsVersion),
    pub(crate) verification: Verification,
    chain: Option<Arc<verify::Chain>>,
    client: Option<Arc<CertifiedKey>>,
    pub(crate) certmode: SslCertMode,
    sni: bool,
    /// `sslnegotiation=direct`: TLS from the first byte, no SSLRequest.
    pub(crate) direct: bool,
    keylog: Option<Arc<KeyLogPath>>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("verification", &self.verification)
            .field("client_certificate", &self.client.is_some())
            .field("certmode", &self.certmode)
            .field("direct", &self.direct)
            .finish_non_exhaustive()
    }
}

/// What one handshake needs: a rustls config carrying this connection's verifier, the name
/// given to rustls, and a probe telling afterwards whether the server asked for a client
/// certificate.
pub(crate) struct Handshake {
    pub config: Arc<ClientConfig>,
    pub server_name: ServerName<'static>,
    pub probe: Arc<Probe>,
}

#[derive(Debug, Default)]
pub(crate) struct Probe {
    certificate_requested: AtomicBool,
}

impl Probe {
    pub fn certificate_requested(&self) -> bool {
        self.certificate_requested.load(Ordering::Relaxed)
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn config_error(message: String) -> Error {
    Error::config(message)
}

impl TlsConfig {
    /// TLS without certificate checks and without client certificate (libpq's behaviour
    /// when no certificate files exist).
    pub(crate) fn unverified(direct: bool) -> TlsConfig {
        TlsConfig {
            provider: provider(),
            versions: versions(None, None),
            version_range: (TlsVersion::Tls1_2, TlsVersion::Tls1_3),
            verification: Verification::None,
            chain: None,
            client: None,
            certmode: SslCertMode::Allow,
            sni: true,
            direct,
            keylog: None,
        }
    }

    /// Reads every file the settings name (or the default files that exist). With
    /// `sslmode=disable` nothing is read, as libpq never initializes TLS then.
    pub(crate) fn load(s: &ConnSettings) -> Result<TlsConfig> {
        let mut cfg = TlsConfig::unverified(s.sslnegotiation == SslNegotiation::Direct);
        if s.sslmode == SslMode::Disable {
            return Ok(cfg);
        }
        cfg.versions = versions(s.ssl_min_protocol_version, s.ssl_max_protocol_version);
        cfg.version_range = (
            s.ssl_min_protocol_version.unwrap_or(TlsVersion::Tls1_2),
            s.ssl_max_protocol_version.unwrap_or(TlsVersion::Tls1_3),
        );
        cfg.sni = s.sslsni;
        cfg.certmode = s.sslcertmode;
        cfg.keylog = s.sslkeylogfile.clone().map(|p| Arc::new(KeyLogPath(p)));
        let dir = s.ssl_dir.as_deref();
        let full = s.sslmode == SslMode::VerifyFull;
        let must_verify = matches!(s.sslmode, SslMode::VerifyCa | SslMode::VerifyFull);

        match s.sslrootcert.as_deref() {
            Some(p) if p == Path::new("system") => {
                let roots = system_roots()?;
                cfg.chain = Some(Arc::new(build_chain(
                    &cfg.provider,
                    roots,
                    Vec::new(),
                    "the system's trusted roots".into(),
                )?));
                cfg.verification = Verification::Full;
            }
            explicit => {
                let path = explicit
                    .map(Path::to_path_buf)
                    .or_else(|| dir.map(|d| d.join("root.crt")));
                match path {
                    Some(path) if fs::metadata(&path).is_ok() => {
                        let (roots, mut crls) = read_roots(&path)?;
                        crls.extend(read_crls(s, dir)?);
                        let source = format!("root certificate file \"{}\"", path.display());
                        cfg.chain = Some(Arc::new(build_chain(&cfg.provider, roots, crls, source)?));
                        cfg.verification = if full { Verification::Full } else { Verification::Chain };
                    }
                    Some(path) if must_verify || explicit.is_some() => {
                        return Err(config_error(format!(
                            "root certificate file \"{}\" does not exist; either provide the file, use the \
                             system's trusted roots with sslrootcert=system, or change sslmode to disable \
                             server certificate verification",
                            path.display()
                        )));
                    }
                    None if must_verify => {
                        return Err(config_error(
                            "could not get home directory to locate root certificate file; either provide \
                             the file, use the system's trusted roots with sslrootcert=system, or change \
                             sslmode to disable server certificate verification"
                                .into(),
                        ));
                    }
                    _ => {}
                }
            }
        }
        if full && !s.host_names_given {
            return Err(config_error(
                "host name must be specified for a verified SSL connection (sslmode=verify-full with only \
                 hostaddr given)"
                    .into(),
            ));
        }
        if s.sslcertmode != SslCertMode::Disable {
            cfg.client = load_client_certificate(s, dir, &cfg.provider)?;
        }
        Ok(cfg)
    }

    /// The rustls setup of one connection to `host` (the host name the user gave, or the
    /// address when only `hostaddr` was given).
    pub(crate) fn handshake(&self, host: &str) -> Result<Handshake> {
        let probe = Arc::new(Probe::default());
        let verifier = Arc::new(verify::ServerVerifier {
            chain: self.chain.clone(),
            check_host: self.verification == Verification::Full,
            host: host.to_string(),
            provider: self.provider.clone(),
        });
        let mut config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&self.versions)
            .map_err(|e| Error::internal(format!("TLS protocol versions: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_client_cert_resolver(Arc::new(ClientCertificate {
                key: self.client.clone().filter(|_| self.certmode != SslCertMode::Disable),
                probe: probe.clone(),
            }));
        config.alpn_protocols = vec![ALPN_POSTGRESQL.to_vec()];
        // libpq builds a fresh context per connection and never resumes sessions.
        config.resumption = Resumption::disabled();
        let (server_name, sni) = server_name(host, self.sni);
        config.enable_sni = sni;
        if let Some(k) = &self.keylog {
            config.key_log = k.clone();
        }
        Ok(Handshake {
            config: Arc::new(config),
            server_name,
            probe,
        })
    }

    /// Words for a failed handshake (`err` as tokio-rustls returns it).
    pub(crate) fn describe_handshake_error(&self, err: &io::Error) -> String {
        let source = self.chain.as_ref().map(|c| c.source.as_str());
        let tls_error = err.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>());
        let mut message = match tls_error {
            Some(rustls::Error::InvalidCertificate(e)) => verify::describe_certificate_error(e, source),
            Some(rustls::Error::AlertReceived(alert)) => {
                format!("SSL error: the server refused the handshake with alert \"{alert:?}\"")
            }
            Some(e) => format!("SSL error: {e}"),
            None if err.kind() == io::ErrorKind::UnexpectedEof => "SSL SYSCALL error: EOF detected".to_string(),
            None => format!("SSL SYSCALL error: {err}"),
        };
        let version_trouble = matches!(
            tls_error,
            Some(rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion))
                | Some(rustls::Error::PeerIncompatible(_))
        );
        if version_trouble {
            message.push_str(&format!(
                ". This may indicate that the server does not support any SSL protocol version between {} and {}.",
                self.version_range.0.as_str(),
                self.version_range.1.as_str()
            ));
        }
        if self.direct && tls_error.is_none() {
            message.push_str(
                " (with sslnegotiation=direct the server must be PostgreSQL 17 or later; older servers close \
                 the connection)",
            );
        }
        message
    }
}

/// rustls speaks TLS 1.2 and 1.3; lower `ssl_min_protocol_version` values therefore mean
/// 1.2, and a maximum below 1.2 is refused when settings are resolved.
fn versions(min: Option<TlsVersion>, max: Option<TlsVersion>) -> Vec<&'static SupportedProtocolVersion> {
    let min = min.unwrap_or(TlsVersion::Tls1_2);
    let max = max.unwrap_or(TlsVersion::Tls1_3);
    [
        (TlsVersion::Tls1_2, &rustls::version::TLS12),
        (TlsVersion::Tls1_3, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(v, _)| *v <= max && (*v >= min || min < TlsVersion::Tls1_2))
    .map(|(_, p)| p)
    .collect()
}

/// libpq sends SNI unless the host looks numeric (`strspn(host, "0123456789.")` covers it,
/// or it has a colon) or `sslsni=0`. rustls needs a name either way; an address parses as
/// one (and never goes out as SNI), anything else unusable gets a placeholder with SNI off.
fn server_name(host: &str, sni: bool) -> (ServerName<'static>, bool) {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return (ServerName::IpAddress(ip.into()), false);
    }
    let numeric = !host.is_empty() && host.chars().all(|c| c.is_ascii_digit() || c == '.');
    if sni
        && !numeric
        && !host.contains(':')
        && let Ok(name) = ServerName::try_from(host.to_string())
    {
        return (name, true);
    }
    // INVARIANT: a fixed, valid DNS name.
    let placeholder = ServerName::try_from("pgsnap.invalid").expect("valid DNS name");
    (placeholder, false)
}

/// libpq's rule for key files (fe-secure-openssl.c): no group or other access, except that
/// a root-owned file may be group-readable (0640), so system-wide keys can be shared with a
/// group.
pub(crate) fn key_permissions_ok(owner_uid: u32, mode: u32) -> bool {
    if owner_uid == 0 {
        mode & 0o037 == 0
    } else {
        mode & 0o077 == 0
    }
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| config_error(format!("could not read {what} \"{}\": {e}", path.display())))
}

/// The certificates (and any CRLs) of a PEM root file, as `SSL_CTX_load_verify_locations`.
fn read_roots(path: &Path) -> Result<(Vec<CertificateDer<'static>>, Vec<CertificateRevocationListDer<'static>>)> {
    let bytes = read_file(path, "root certificate file")?;
    let bad = |why: String| {
        config_error(format!(
            "could not read root certificate file \"{}\": {why}",
            path.display()
        ))
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| bad("not a PEM file".into()))?;
    let mut certs = Vec::new();
    let mut crls = Vec::new();
    for block in pem::parse(text).map_err(bad)? {
        match block.label.as_str() {
            "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => certs.push(CertificateDer::from(block.der)),
            "X509 CRL" => crls.push(CertificateRevocationListDer::from(block.der)),
            _ => {}
        }
    }
    if certs.is_empty() {
        return Err(bad("no certificates found".into()));
    }
    Ok((certs, crls))
}

pub(crate) fn system_roots() -> Result<Vec<CertificateDer<'static>>> {
    let found = rustls_native_certs::load_native_certs();
    if found.certs.is_empty() {
        let why = found
            .errors
            .first()
            .map_or_else(|| "none found".to_string(), ToString::to_string);
        return Err(config_error(format!(
            "could not load system root certificate paths: {why}"
        )));
    }
    Ok(found.certs)
}

fn build_chain(
    provider: &Arc<CryptoProvider>,
    roots: Vec<CertificateDer<'static>>,
    crls: Vec<CertificateRevocationListDer<'static>>,
    source: String,
) -> Result<verify::Chain> {
    let mut store = RootCertStore::empty();
    for (i, root) in roots.iter().enumerate() {
        store
            .add(root.clone())
            .map_err(|e| config_error(format!("could not use certificate {} of {source}: {e}", i + 1)))?;
    }
    let check_crls = !crls.is_empty();
    let mut builder = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone());
    if check_crls {
        // OpenSSL's X509_V_FLAG_CRL_CHECK_ALL, as libpq sets it: every certificate of the
        // chain needs a CRL, and an expired CRL fails.
        builder = builder.with_crls(crls).enforce_revocation_expiration();
    }
    let webpki = builder
        .build()
        .map_err(|e| config_error(format!("could not use {source}: {e}")))?;
    Ok(verify::Chain { webpki, roots, source })
}

/// CRLs from `sslcrl`/`sslcrldir`, else `root.crl` in the default directory if present.
fn read_crls(s: &ConnSettings, dir: Option<&Path>) -> Result<Vec<CertificateRevocationListDer<'static>>> {
    let mut crls = Vec::new();
    if let Some(file) = &s.sslcrl {
        if fs::metadata(file).is_err() {
            return Err(config_error(format!(
                "certificate revocation list file \"{}\" does not exist",
                file.display()
            )));
        }
        let found = crls_in(file, &read_file(file, "certificate revocation list file")?)?;
        if found.is_empty() {
            return Err(config_error(format!(
                "could not read certificate revocation list file \"{}\": no CRL found",
                file.display()
            )));
        }
        crls.extend(found);
    }
    if let Some(d) = &s.sslcrldir {
        let entries = fs::read_dir(d).map_err(|e| {
            config_error(format!(
                "could not read certificate revocation list directory \"{}\": {e}",
                d.display()
            ))
        })?;
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
        paths.sort();
        for p in paths {
            crls.extend(crls_in(&p, &read_file(&p, "certificate revocation list file")?)?);
        }
    }
    if s.sslcrl.is_none()
        && s.sslcrldir.is_none()
        && let Some(default) = dir.map(|d| d.join("root.crl"))
        && default.is_file()
    {
        crls.extend(crls_in(
            &default,
            &read_file(&default, "certificate revocation list file")?,
        )?);
    }
    Ok(crls)
}

/// The CRLs in one file: PEM `X509 CRL` blocks, or the whole file as DER. Files without a
/// CRL yield none (a CRL directory may hold other files).
fn crls_in(path: &Path, bytes: &[u8]) -> Result<Vec<CertificateRevocationListDer<'static>>> {
    let bad = |why: String| {
        config_error(format!(
            "could not read certificate revocation list file \"{}\": {why}",
            path.display()
        ))
    };
    let ders: Vec<Vec<u8>> = if pem::looks_like_pem(bytes) {
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not a PEM file".into()))?;
        pem::parse(text)
            .map_err(bad)?
            .into_iter()
            .filter(|b| b.label == "X509 CRL")
            .map(|b| b.der)
            .collect()
    } else if bytes.first() == Some(&0x30) {
        vec![bytes.to_vec()]
    } else {
        Vec::new()
    };
    for der in &ders {
        webpki::OwnedCertRevocationList::from_der(der).map_err(|e| bad(format!("{e:?}")))?;
    }
    Ok(ders.into_iter().map(CertificateRevocationListDer::from).collect())
}

fn load_client_certificate(
    s: &ConnSettings,
    dir: Option<&Path>,
    provider: &Arc<CryptoProvider>,
) -> Result<Option<Arc<CertifiedKey>>> {
    let Some(cert_path) = s.sslcert.clone().or_else(|| dir.map(|d| d.join("postgresql.crt"))) else {
        return Ok(None);
    };
    match fs::metadata(&cert_path) {
        Ok(_) => {}
        Err(e) if s.sslcert.is_none() && matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => {
            // No default certificate: go on without one; the server decides.
            return Ok(None);
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(config_error(format!(
                "certificate file \"{}\" does not exist",
                cert_path.display()
            )));
        }
        Err(e) => {
            return Err(config_error(format!(
                "could not open certificate file \"{}\": {e}",
                cert_path.display()
            )));
        }
    }
    let bytes = read_file(&cert_path, "certificate file")?;
    let bad_cert = |why: String| {
        config_error(format!(
            "could not read certificate file \"{}\": {why}",
            cert_path.display()
        ))
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| bad_cert("not a PEM file".into()))?;
    let chain: Vec<CertificateDer<'static>> = pem::parse(text)
        .map_err(bad_cert)?
        .into_iter()
        .filter(|b| {
            matches!(
                b.label.as_str(),
                "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE"
            )
        })
        .map(|b| CertificateDer::from(b.der))
        .collect();
    if chain.is_empty() {
        return Err(bad_cert("no certificates found".into()));
    }

    let Some(key_path) = s.sslkey.clone().or_else(|| dir.map(|d| d.join("postgresql.key"))) else {
        return Err(config_error(format!(
            "certificate present, but no private key file for \"{}\" (set sslkey)",
            cert_path.display()
        )));
    };
    let shown = key_path.display().to_string();
    let meta = match fs::metadata(&key_path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound && shown.contains(':') => {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("OpenSSL engine keys (sslkey=\"{shown}\") are not supported"),
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(config_error(format!(
                "certificate present, but not private key file \"{shown}\""
            )));
        }
        Err(e) => {
            return Err(config_error(format!(
                "could not stat private key file \"{shown}\": {e}"
            )));
        }
    };
    if !meta.is_file() {
        return Err(config_error(format!(
            "private key file \"{shown}\" is not a regular file"
        )));
    }
    if !key_permissions_ok(meta.uid(), meta.mode()) {
        return Err(config_error(format!(
            "private key file \"{shown}\" has group or world access; file must have permissions u=rw (0600) \
             or less if owned by the current user, or permissions u=rw,g=r (0640) or less if owned by root"
        )));
    }
    let bytes = read_file(&key_path, "private key file")?;
    let key = key::decode(&bytes, s.sslpassword.as_deref()).map_err(|e| config_error(e.describe(&shown)))?;
    match CertifiedKey::from_der(chain, key, provider) {
        Ok(k) => Ok(Some(Arc::new(k))),
        Err(rustls::Error::InconsistentKeys(_)) => Err(config_error(format!(
            "certificate does not match private key file \"{shown}\""
        ))),
        Err(e) => Err(config_error(format!(
            "could not load private key file \"{shown}\": {e}"
        ))),
    }
}

/// Sends the client certificate when the server asks (and notes that it asked, for
/// `sslcertmode=require`).
#[derive(Debug)]
struct ClientCertificate {
    key: Option<Arc<CertifiedKey>>,
    probe: Arc<Probe>,
}

impl ResolvesClientCert for ClientCertificate {
    fn resolve(&self, _root_hint_subjects: &[&[u8]], _sigschemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        self.probe.certificate_requested.store(true, Ordering::Relaxed);
        self.key.clone()
    }

    fn has_certs(&self) -> bool {
        self.key.is_some()
    }
}

/// `sslkeylogfile`: TLS secrets appended in NSS key log format (file created 0600), for
/// decrypting captures while debugging. A file that cannot be opened only warns.
#[derive(Debug)]
struct KeyLogPath(PathBuf);

impl KeyLog for KeyLogPath {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let line = format!("{label} {} {}\n", hex(client_random), hex(secret));
        let written = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&self.0)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = written {
            tracing::warn!("could not write SSL key logging file \"{}\": {e}", self.0.display());
        }
    }
}

/// The `tls-server-end-point` channel binding data of a server certificate (RFC 5929).
pub(crate) fn tls_server_end_point(cert: &[u8]) -> Option<Vec<u8>> {
    use sha2::Digest;
    let hash = x509::parse(cert).ok()?.end_point_hash?;
    Some(match hash {
        EndPointHash::Sha224 => sha2::Sha224::digest(cert).to_vec(),
        EndPointHash::Sha256 => sha2::Sha256::digest(cert).to_vec(),
        EndPointHash::Sha384 => sha2::Sha384::digest(cert).to_vec(),
        EndPointHash::Sha512 => sha2::Sha512::digest(cert).to_vec(),
    })
}

#[cfg(test)]
mod tests;
