//! Server certificate verification with libpq's three levels: none (`require` and the
//! opportunistic modes without a root certificate file), the chain only (`verify-ca`, and
//! any mode once a root file exists) and chain plus host name (`verify-full`).
//!
//! The chain, validity and revocation checks are rustls-webpki's; the host name check is
//! libpq's own (see `names`), which differs from webpki's (common name fallback, wildcard
//! rules), so webpki's name verdict is discarded.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};

use super::{names, x509};

/// What the chain is checked against.
#[derive(Debug)]
pub(crate) struct Chain {
    pub webpki: Arc<WebPkiServerVerifier>,
    /// The trusted roots, to accept a server certificate that is itself one of them (a
    /// self-signed server certificate copied into root.crt, as OpenSSL accepts).
    pub roots: Vec<CertificateDer<'static>>,
    /// For messages: `root certificate file "…"` or `the system's trusted roots`.
    pub source: String,
}

/// A failure of our own checks, carried through rustls as `CertificateError::Other`.
#[derive(Debug)]
pub(crate) struct VerifyFailure(pub String);

impl std::fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for VerifyFailure {}

fn failure(message: String) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(VerifyFailure(message)))))
}

/// One connection's verifier: the host name it checks is the `host` the user gave for this
/// connection attempt, never the address connected to (libpq uses `connhost[].host`).
#[derive(Debug)]
pub(crate) struct ServerVerifier {
    pub chain: Option<Arc<Chain>>,
    pub check_host: bool,
    pub host: String,
    pub provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(chain) = &self.chain {
            if chain.roots.iter().any(|r| r.as_ref() == end_entity.as_ref()) {
                check_validity(end_entity, now)?;
            } else {
                match chain
                    .webpki
                    .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                {
                    Ok(_) => {}
                    // Name checks come last in webpki, so this means all else passed.
                    Err(rustls::Error::InvalidCertificate(
                        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
                    )) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        if self.check_host {
            let info =
                x509::parse(end_entity).map_err(|e| failure(format!("could not read the server certificate: {e}")))?;
            names::check_host(&self.host, &info).map_err(failure)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    // The handshake signatures are always checked, even when the certificate is not: they
    // prove the server holds the certificate's key, which channel binding relies on.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

fn check_validity(cert: &CertificateDer<'_>, now: UnixTime) -> Result<(), rustls::Error> {
    let info = x509::parse(cert).map_err(|e| failure(format!("could not read the server certificate: {e}")))?;
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    if now < info.not_before {
        return Err(rustls::Error::InvalidCertificate(CertificateError::NotValidYet));
    }
    if now > info.not_after {
        return Err(rustls::Error::InvalidCertificate(CertificateError::Expired));
    }
    Ok(())
}

/// A certificate problem in words close to OpenSSL's (what libpq users see), naming where
/// the trusted roots came from when that helps.
pub(crate) fn describe_certificate_error(err: &CertificateError, roots: Option<&str>) -> String {
    let why = match err {
        CertificateError::UnknownIssuer => match roots {
            Some(source) => format!(
                "unable to get local issuer certificate (the server certificate is not signed by a certificate authority in {source})"
            ),
            None => "unable to get local issuer certificate".into(),
        },
        CertificateError::Revoked => "certificate revoked".into(),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => "certificate has expired".into(),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "certificate is not yet valid".into()
        }
        CertificateError::UnknownRevocationStatus => {
            "unable to get certificate CRL (a revocation list was given, but none covers this certificate's issuer)"
                .into()
        }
        CertificateError::ExpiredRevocationList | CertificateError::ExpiredRevocationListContext { .. } => {
            "CRL has expired".into()
        }
        CertificateError::BadSignature => "certificate signature failure".into(),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "unsupported certificate purpose (the certificate is not for TLS servers)".into()
        }
        CertificateError::BadEncoding => "the server certificate could not be parsed".into(),
        CertificateError::Other(other) => match other.0.downcast_ref::<VerifyFailure>() {
            Some(VerifyFailure(message)) => return message.clone(),
            None => other.0.to_string(),
        },
        other => format!("{other:?}"),
    };
    format!("SSL error: certificate verify failed: {why}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        assert_eq!(
            describe_certificate_error(&CertificateError::UnknownIssuer, Some("root certificate file \"/r\"")),
            "SSL error: certificate verify failed: unable to get local issuer certificate (the server \
             certificate is not signed by a certificate authority in root certificate file \"/r\")"
        );
        assert_eq!(
            describe_certificate_error(&CertificateError::Revoked, None),
            "SSL error: certificate verify failed: certificate revoked"
        );
        let ours = CertificateError::Other(OtherError(Arc::new(VerifyFailure(
            "server certificate for \"a\" does not match host name \"b\"".into(),
        ))));
        assert_eq!(
            describe_certificate_error(&ours, None),
            "server certificate for \"a\" does not match host name \"b\""
        );
    }
}
