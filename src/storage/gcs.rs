//! Google Cloud Storage destinations (`gcs://bucket/prefix`): how the OpenDAL operator is
//! configured from the URL and the environment, and how an upload is published.
//!
//! Credentials (the ones Google's client libraries use): the service-account or
//! authorized-user JSON file named by `GOOGLE_APPLICATION_CREDENTIALS`, else gcloud's
//! application-default credentials (`~/.config/gcloud/application_default_credentials.json`),
//! else the metadata server of a Google Cloud VM.
//!
//! Endpoint: the URL's `endpoint=` option, else `STORAGE_EMULATOR_HOST` — as Google's
//! libraries do, an emulator set there is spoken to without credentials (`host:port` means
//! `http://host:port`) — else `https://storage.googleapis.com`.
//!
//! Uploads are resumable uploads of the JSON API, sent in [`PART_SIZE`](super::PART_SIZE)
//! chunks, to a temporary name under [`UPLOADS_DIR`](super::UPLOADS_DIR); `finish` copies the
//! completed object to its name (a server-side rewrite, metadata-only within one bucket) and
//! removes the temporary. The object therefore appears under its name whole or not at all, and
//! an existing object of that name is replaced only then. (OpenDAL's unconditional GCS writer
//! uses the XML API's multipart uploads, which emulators do not implement; the resumable
//! writer is the one Google's own libraries use for large objects.) An aborted upload cancels
//! its session; a session never finished (a killed dump) leaves no object and expires on the
//! service after a week.

use opendal::Operator;

use crate::error::{Error, ErrorKind, Result};

/// Credentials a library caller hands over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GcsCredentials {
    /// No credentials: requests are not signed (an emulator; a public bucket).
    Anonymous,
    /// A service-account or authorized-user JSON key file.
    KeyFile(std::path::PathBuf),
}

/// How requests are authorized.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Auth {
    Anonymous,
    KeyFile(String),
    /// OpenDAL's default chain: application-default credentials, then the VM's metadata server.
    Default,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Settings {
    endpoint: Option<String>,
    auth: Auth,
}

/// Resolves the settings: `url_endpoint` from the URL, `env` looks a variable up, `creds`
/// from a library caller (these win).
fn resolve(
    url_endpoint: Option<&str>,
    creds: Option<&GcsCredentials>,
    env: &dyn Fn(&str) -> Option<String>,
    shown: &str,
) -> Result<Settings> {
    let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let config = |why: String| Error::new(ErrorKind::Config, format!("destination \"{shown}\": {why}"));
    let emulator = env("STORAGE_EMULATOR_HOST").map(|h| {
        let h = h.trim().trim_end_matches('/');
        if h.starts_with("http://") || h.starts_with("https://") {
            h.to_string()
        } else {
            format!("http://{h}")
        }
    });
    let endpoint = url_endpoint.map(str::to_string).or(emulator.clone());
    let auth = match creds {
        Some(GcsCredentials::Anonymous) => Auth::Anonymous,
        Some(GcsCredentials::KeyFile(p)) => Auth::KeyFile(p.to_string_lossy().into_owned()),
        None => match env("GOOGLE_APPLICATION_CREDENTIALS") {
            Some(p) => Auth::KeyFile(p),
            None if emulator.is_some() && url_endpoint.is_none() => Auth::Anonymous,
            None => Auth::Default,
        },
    };
    if let Auth::KeyFile(p) = &auth {
        // A missing file is named now, not as a failed token exchange later.
        match std::fs::metadata(p) {
            Ok(m) if m.is_file() => {}
            Ok(_) => return Err(config(format!("credentials file \"{p}\" is not a file"))),
            Err(e) => {
                return Err(config(format!(
                    "credentials file \"{p}\" (GOOGLE_APPLICATION_CREDENTIALS): {e}"
                )));
            }
        }
    }
    Ok(Settings { endpoint, auth })
}

/// The operator for `bucket`/`prefix`, from the URL's endpoint, the caller's credentials or the
/// environment.
pub(super) fn operator(
    bucket: &str,
    prefix: &str,
    endpoint: Option<&str>,
    creds: Option<&GcsCredentials>,
    shown: &str,
) -> Result<Operator> {
    let s = resolve(endpoint, creds, &|k| std::env::var(k).ok(), shown)?;
    let mut b = opendal::services::Gcs::default()
        .bucket(bucket)
        .root(&format!("/{prefix}"));
    if let Some(e) = &s.endpoint {
        b = b.endpoint(e);
    }
    b = match &s.auth {
        Auth::Anonymous => b.skip_signature().disable_vm_metadata().disable_config_load(),
        Auth::KeyFile(p) => b.credential_path(p).disable_vm_metadata(),
        Auth::Default => b,
    };
    Operator::new(b).map_err(|e| super::dal(shown, "opening", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::storage::test_env as env_of;

    #[test]
    fn endpoint_and_credentials_from_the_environment() {
        // Nothing set: Google's endpoint, the default chain.
        let s = resolve(None, None, &env_of(&[]), "gcs://b").unwrap();
        assert_eq!(
            s,
            Settings {
                endpoint: None,
                auth: Auth::Default
            }
        );
        // An emulator, as Google's libraries take it: host:port, no credentials.
        let s = resolve(
            None,
            None,
            &env_of(&[("STORAGE_EMULATOR_HOST", "127.0.0.1:4443")]),
            "gcs://b",
        )
        .unwrap();
        assert_eq!(s.endpoint.as_deref(), Some("http://127.0.0.1:4443"));
        assert_eq!(s.auth, Auth::Anonymous);
        let s = resolve(
            Some("https://gcs.example"),
            None,
            &env_of(&[("STORAGE_EMULATOR_HOST", "http://127.0.0.1:4443/")]),
            "gcs://b",
        )
        .unwrap();
        assert_eq!(s.endpoint.as_deref(), Some("https://gcs.example"));
        assert_eq!(s.auth, Auth::Default);
        // A key file named by GOOGLE_APPLICATION_CREDENTIALS must exist.
        let f = tempfile::NamedTempFile::new().unwrap();
        let path = f.path().to_str().unwrap();
        let s = resolve(
            None,
            None,
            &env_of(&[("GOOGLE_APPLICATION_CREDENTIALS", path)]),
            "gcs://b",
        )
        .unwrap();
        assert_eq!(s.auth, Auth::KeyFile(path.to_string()));
        let e = resolve(
            None,
            None,
            &env_of(&[("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json")]),
            "gcs://b/p",
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(
            e.to_string().contains("/nonexistent/key.json") && e.to_string().contains("gcs://b/p"),
            "{e}"
        );
        // The caller's credentials win.
        let s = resolve(
            None,
            Some(&GcsCredentials::Anonymous),
            &env_of(&[("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent")]),
            "gcs://b",
        )
        .unwrap();
        assert_eq!(s.auth, Auth::Anonymous);
    }
}
