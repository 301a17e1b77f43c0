//! TLS for notifications: the system's root certificates, or the PEM certificates of the
//! notifier's `tls_ca_file` instead.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use super::SendError;

pub(crate) fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, SendError> {
    let roots: Vec<CertificateDer<'static>> = match ca_file {
        None => crate::conn::tls::system_roots().map_err(|e| SendError::permanent(e.to_string()))?,
        Some(p) => {
            let shown = p.display();
            let text = std::fs::read_to_string(p)
                .map_err(|e| SendError::permanent(format!("could not read tls_ca_file \"{shown}\": {e}")))?;
            let blocks = crate::conn::tls::pem::parse(&text)
                .map_err(|e| SendError::permanent(format!("tls_ca_file \"{shown}\": {e}")))?;
            let certs: Vec<CertificateDer<'static>> = blocks
                .into_iter()
                .filter(|b| b.label == "CERTIFICATE")
                .map(|b| CertificateDer::from(b.der))
                .collect();
            if certs.is_empty() {
                return Err(SendError::permanent(format!(
                    "tls_ca_file \"{shown}\" holds no certificate"
                )));
            }
            certs
        }
    };
    let mut store = RootCertStore::empty();
    for c in roots {
        // One unusable system root must not stop the others (as rustls-native-certs' users do).
        let _ = store.add(c);
    }
    if store.is_empty() {
        return Err(SendError::permanent("no usable root certificate to verify the server"));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SendError::permanent(format!("TLS setup: {e}")))?
        .with_root_certificates(store)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The name the server's certificate must carry.
pub(crate) fn server_name(host: &str) -> Result<rustls::pki_types::ServerName<'static>, SendError> {
    rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|_| SendError::permanent(format!("\"{host}\" is not a valid TLS server name")))
}
