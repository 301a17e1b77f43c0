//! Destination URLs: what `--to` takes, parsed without touching the network.
//!
//! - `file:///abs/path` (or a bare absolute path): a local or mounted (NAS) directory.
//! - `s3://bucket[/prefix][?endpoint=URL&region=R&path_style=true|false]`: an S3 bucket or an
//!   S3-compatible store. Endpoint and region fall back to `AWS_ENDPOINT_URL` and
//!   `AWS_REGION`/`AWS_DEFAULT_REGION`; path-style addressing is the default (what
//!   S3-compatible servers expect), `path_style=false` asks for virtual-host style.
//!
//! Credentials never come from the URL: a user name, password or a credential-looking query
//! key is refused, so secrets do not land in shell history, `ps` output or run records. They
//! come from each service's usual environment variables and files (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `~/.aws/credentials`, `AWS_PROFILE`).

use std::fmt;

use crate::error::{Error, Result};

/// A parsed destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A directory on a local or mounted filesystem (absolute).
    Fs { root: String },
    /// A bucket and a prefix inside it (no leading or trailing `/`; may be empty).
    S3 {
        bucket: String,
        prefix: String,
        endpoint: Option<String>,
        region: Option<String>,
        /// `None` = the default (path-style).
        path_style: Option<bool>,
    },
}

/// Query keys that would carry a secret; refused with a pointer to the environment.
const SECRET_KEYS: &[&str] = &[
    "access_key_id",
    "secret_access_key",
    "session_token",
    "password",
    "secret",
    "key",
    "token",
];

impl Location {
    /// Parses a `--to` URL.
    pub fn parse(url: &str) -> Result<Location> {
        let bad = |why: &str| Error::usage(format!("invalid destination \"{}\": {why}", redact(url)));
        if url.starts_with('/') {
            return Ok(Location::Fs {
                root: normalize_dir(url),
            });
        }
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(bad("expected file:///path or s3://bucket/prefix"));
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if matches!(scheme, "sftp" | "webdav" | "webdavs" | "azblob" | "gcs") {
            return Err(Error::new(
                crate::error::ErrorKind::Unsupported,
                format!(
                    "destination \"{}\": {scheme}:// destinations are not supported yet (file:// and s3:// are)",
                    redact(url)
                ),
            ));
        }
        if authority.contains('@') {
            return Err(bad(
                "credentials do not belong in the URL; use the service's environment variables or files (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ~/.aws/credentials)",
            ));
        }
        let path = percent_decode(path).map_err(|e| bad(&e))?;
        match scheme.to_ascii_lowercase().as_str() {
            "file" => {
                if !authority.is_empty() && authority != "localhost" {
                    return Err(bad("a file URL names a local path: file:///path"));
                }
                if query.is_some() {
                    return Err(bad("a file URL takes no options"));
                }
                if path.is_empty() || path == "/" {
                    return Err(bad("no directory given"));
                }
                Ok(Location::Fs {
                    root: normalize_dir(&path),
                })
            }
            "s3" => {
                if authority.is_empty() {
                    return Err(bad("no bucket given"));
                }
                let (mut endpoint, mut region, mut path_style) = (None, None, None);
                for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    let v = percent_decode(v).map_err(|e| bad(&e))?;
                    match k {
                        "endpoint" => endpoint = Some(v.trim_end_matches('/').to_string()),
                        "region" => region = Some(v),
                        "path_style" => {
                            path_style = Some(match v.as_str() {
                                "true" | "1" | "yes" => true,
                                "false" | "0" | "no" => false,
                                _ => return Err(bad("path_style takes true or false")),
                            })
                        }
                        k if SECRET_KEYS.iter().any(|s| k.to_ascii_lowercase().contains(s)) => {
                            return Err(bad(
                                "credentials do not belong in the URL; use AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or ~/.aws/credentials",
                            ));
                        }
                        other => {
                            return Err(bad(&format!(
                                "unknown option \"{other}\" (endpoint, region, path_style)"
                            )));
                        }
                    }
                }
                Ok(Location::S3 {
                    bucket: authority.to_string(),
                    prefix: path.trim_matches('/').to_string(),
                    endpoint,
                    region,
                    path_style,
                })
            }
            _ => Err(bad(&format!("unknown scheme \"{scheme}\" (file, s3)"))),
        }
    }
}

impl fmt::Display for Location {
    /// The URL as messages show it (never a secret: the URL holds none).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Fs { root } => write!(f, "file://{root}"),
            Location::S3 { bucket, prefix, .. } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Location::S3 { bucket, prefix, .. } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// `/a//b/` → `/a/b`.
fn normalize_dir(p: &str) -> String {
    let parts: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
    format!("/{}", parts.join("/"))
}

/// The URL with anything between `://` and `@` hidden, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(a)) if a > s => format!("{}://***{}", &url[..s], &url[a..]),
        _ => url.to_string(),
    }
}

pub(crate) fn percent_decode(s: &str) -> std::result::Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| "bad percent escape".to_string())?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "percent escapes are not UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_and_bare_paths() {
        assert_eq!(
            Location::parse("file:///backups//db/").unwrap(),
            Location::Fs {
                root: "/backups/db".into()
            }
        );
        assert_eq!(
            Location::parse("/mnt/nas/my%20dumps").unwrap(),
            Location::Fs {
                root: "/mnt/nas/my%20dumps".into()
            }
        );
        assert_eq!(
            Location::parse("file:///mnt/my%20dumps").unwrap(),
            Location::Fs {
                root: "/mnt/my dumps".into()
            }
        );
        assert!(Location::parse("file://host/x").is_err());
        assert!(Location::parse("file:///").is_err());
        assert!(Location::parse("relative/dir").is_err());
    }

    #[test]
    fn s3_urls_with_options() {
        let l = Location::parse(
            "s3://bk/pre/fix/?endpoint=http%3A%2F%2F127.0.0.1%3A5055/&region=eu-west-1&path_style=false",
        )
        .unwrap();
        assert_eq!(
            l,
            Location::S3 {
                bucket: "bk".into(),
                prefix: "pre/fix".into(),
                endpoint: Some("http://127.0.0.1:5055".into()),
                region: Some("eu-west-1".into()),
                path_style: Some(false),
            }
        );
        assert_eq!(l.to_string(), "s3://bk/pre/fix");
        assert_eq!(Location::parse("s3://bk").unwrap().to_string(), "s3://bk");
        assert!(Location::parse("s3:///x").is_err());
        assert!(Location::parse("s3://bk?color=red").is_err());
        assert!(Location::parse("s3://bk?path_style=maybe").is_err());
    }

    #[test]
    fn credentials_in_urls_are_refused_and_not_echoed() {
        let e = Location::parse("s3://AKID:s3cr3tv4lue@bk/x").unwrap_err().to_string();
        assert!(e.contains("environment"), "{e}");
        assert!(!e.contains("s3cr3tv4lue"), "{e}");
        assert!(Location::parse("s3://bk?secret_access_key=x").is_err());
        assert!(Location::parse("s3://bk?access_key_id=x").is_err());
    }

    #[test]
    fn other_backends_are_named_as_not_supported_yet() {
        let e = Location::parse("sftp://u@h/p").unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::Unsupported);
        let e = Location::parse("gcs://b/p").unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::Unsupported);
    }
}
