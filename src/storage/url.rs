//! Destination URLs: what `--to` takes, parsed without touching the network.
//!
//! - `file:///abs/path` (or a bare absolute path): a local or mounted (NAS) directory.
//! - `s3://bucket[/prefix][?endpoint=URL&region=R&path_style=true|false]`: an S3 bucket or an
//!   S3-compatible store. Endpoint and region fall back to `AWS_ENDPOINT_URL` and
//!   `AWS_REGION`/`AWS_DEFAULT_REGION`; path-style addressing is the default (what
//!   S3-compatible servers expect), `path_style=false` asks for virtual-host style.
//! - `azblob://container[/prefix][?endpoint=URL]`: an Azure Blob Storage container. The
//!   endpoint falls back to the connection string's, then `AZURE_STORAGE_ENDPOINT`, then
//!   `https://ACCOUNT.blob.core.windows.net` (see [`super::azblob`]).
//! - `gcs://bucket[/prefix][?endpoint=URL]`: a Google Cloud Storage bucket. The endpoint falls
//!   back to `STORAGE_EMULATOR_HOST` (an emulator, as Google's client libraries read it), then
//!   `https://storage.googleapis.com` (see [`super::gcs`]).
//! - `sftp://[user@]host[:port]/abs/path`: a directory on an SSH server, through the OpenSSH
//!   client (the user name is not a secret; a password in the URL is refused).
//! - `webdav://host[:port]/path` (HTTP) and `webdavs://host[:port]/path` (HTTPS): a collection
//!   on a WebDAV server.
//!
//! Credentials never come from the URL: a password or a credential-looking query key is
//! refused (and so is any user name outside `sftp://`), so secrets do not land in shell
//! history, `ps` output or run records. They come from each service's usual environment
//! variables and files (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
//! `~/.aws/credentials`, `AWS_PROFILE`; `AZURE_STORAGE_ACCOUNT`, `AZURE_STORAGE_KEY`,
//! `AZURE_STORAGE_SAS_TOKEN`, `AZURE_STORAGE_CONNECTION_STRING`;
//! `GOOGLE_APPLICATION_CREDENTIALS`; ssh keys, agent and `~/.ssh`; `PGSNAP_WEBDAV_USER` with
//! `PGSNAP_WEBDAV_PASSWORD` or `PGSNAP_WEBDAV_PASSWORD_FILE`).

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
    /// An Azure Blob Storage container and a prefix inside it (as for S3).
    Azblob {
        container: String,
        prefix: String,
        endpoint: Option<String>,
    },
    /// A Google Cloud Storage bucket and a prefix inside it (as for S3).
    Gcs {
        bucket: String,
        prefix: String,
        endpoint: Option<String>,
    },
    /// A directory on an SSH server (`root` absolute, normalized).
    Sftp {
        user: Option<String>,
        host: String,
        port: Option<u16>,
        root: String,
    },
    /// A WebDAV collection; `tls` for `webdavs://` (HTTPS). `root` absolute, normalized.
    Webdav {
        tls: bool,
        host: String,
        port: Option<u16>,
        root: String,
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
            return Err(bad(
                "expected file:///path, s3://bucket/prefix, sftp://[user@]host/path, webdav(s)://host/path, azblob://container/prefix or gcs://bucket/prefix",
            ));
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let scheme_lc = scheme.to_ascii_lowercase();
        if matches!(scheme_lc.as_str(), "sftp" | "webdav" | "webdavs") {
            return parse_remote(&scheme_lc, authority, path, query).map_err(|e| bad(&e));
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
            "azblob" => {
                check_bucket(authority, "container", 3, 63, |c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
                })
                .map_err(|e| bad(&e))?;
                if authority.contains("--") {
                    return Err(bad("a container name has no consecutive hyphens"));
                }
                Ok(Location::Azblob {
                    container: authority.to_string(),
                    prefix: path.trim_matches('/').to_string(),
                    endpoint: endpoint_option(
                        query,
                        "AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_KEY or AZURE_STORAGE_CONNECTION_STRING",
                    )
                    .map_err(|e| bad(&e))?,
                })
            }
            "gcs" => {
                check_bucket(authority, "bucket", 3, 222, |c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.')
                })
                .map_err(|e| bad(&e))?;
                Ok(Location::Gcs {
                    bucket: authority.to_string(),
                    prefix: path.trim_matches('/').to_string(),
                    endpoint: endpoint_option(query, "GOOGLE_APPLICATION_CREDENTIALS").map_err(|e| bad(&e))?,
                })
            }
            _ => Err(bad(&format!(
                "unknown scheme \"{scheme}\" (file, s3, sftp, webdav, webdavs, azblob, gcs)"
            ))),
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
            Location::Azblob { container, prefix, .. } if prefix.is_empty() => write!(f, "azblob://{container}"),
            Location::Azblob { container, prefix, .. } => write!(f, "azblob://{container}/{prefix}"),
            Location::Gcs { bucket, prefix, .. } if prefix.is_empty() => write!(f, "gcs://{bucket}"),
            Location::Gcs { bucket, prefix, .. } => write!(f, "gcs://{bucket}/{prefix}"),
            Location::Sftp { user, host, port, root } => {
                write!(f, "sftp://")?;
                if let Some(u) = user {
                    write!(f, "{u}@")?;
                }
                write!(f, "{}", bracket(host))?;
                if let Some(p) = port {
                    write!(f, ":{p}")?;
                }
                write!(f, "{root}")
            }
            Location::Webdav { tls, host, port, root } => {
                write!(f, "{}://{}", if *tls { "webdavs" } else { "webdav" }, bracket(host))?;
                if let Some(p) = port {
                    write!(f, ":{p}")?;
                }
                write!(f, "{}", if root == "/" { "" } else { root })
            }
        }
    }
}

/// A container or bucket name: `min..=max` characters the service allows, starting and
/// ending with a letter or digit (Azure's and Google's naming rules, checked here so a typo is
/// a usage error rather than a 400 from the service).
fn check_bucket(
    name: &str,
    what: &str,
    min: usize,
    max: usize,
    allowed: impl Fn(char) -> bool,
) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err(format!("no {what} given"));
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if name.len() < min
        || name.len() > max
        || !name.chars().all(allowed)
        || !edge_ok(name.chars().next())
        || !edge_ok(name.chars().last())
    {
        return Err(format!(
            "\"{name}\" is not a valid {what} name ({min} to {max} lowercase letters, digits and the separators the service allows)"
        ));
    }
    Ok(())
}

/// The query of an `azblob://` or `gcs://` URL: only `endpoint=URL`; a credential-looking key
/// is refused with a pointer to the service's environment variables (`env_hint`).
fn endpoint_option(query: Option<&str>, env_hint: &str) -> std::result::Result<Option<String>, String> {
    let mut endpoint = None;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "endpoint" => {
                let v = percent_decode(v)?;
                if !(v.starts_with("http://") || v.starts_with("https://")) {
                    return Err("endpoint takes an http:// or https:// URL".to_string());
                }
                endpoint = Some(v.trim_end_matches('/').to_string());
            }
            k if is_secret_key(k) => {
                return Err(format!(
                    "credentials do not belong in the URL; use the environment ({env_hint})"
                ));
            }
            other => return Err(format!("unknown option \"{other}\" (endpoint)")),
        }
    }
    Ok(endpoint)
}

/// An IPv6 address in brackets, as URLs write it.
pub(crate) fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// `sftp://[user@]host[:port]/path`, `webdav(s)://host[:port]/path`; the error says why not.
fn parse_remote(
    scheme: &str,
    authority: &str,
    path: &str,
    query: Option<&str>,
) -> std::result::Result<Location, String> {
    if query.is_some_and(|q| !q.is_empty()) {
        return Err(format!("a {scheme} URL takes no options"));
    }
    let (user, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if let Some(u) = user {
        if scheme != "sftp" {
            return Err(
                "credentials do not belong in the URL; use PGSNAP_WEBDAV_USER with PGSNAP_WEBDAV_PASSWORD or PGSNAP_WEBDAV_PASSWORD_FILE"
                    .to_string(),
            );
        }
        if u.contains(':') {
            return Err(
                "a password does not belong in the URL; sftp:// logs in with ssh keys (PGSNAP_SFTP_KEY, ssh-agent or ~/.ssh)"
                    .to_string(),
            );
        }
        if u.is_empty() {
            return Err("empty user name".to_string());
        }
    }
    let (host, port) = split_port(hostport)?;
    if host.is_empty() {
        return Err("no host given".to_string());
    }
    if host.starts_with('-') || host.chars().any(|c| c.is_whitespace() || c == '/' || c == '\\') {
        return Err(format!("\"{host}\" is not a host name"));
    }
    let path = percent_decode(path)?;
    let root = normalize_dir(&path);
    let user = user.map(percent_decode).transpose()?;
    if user.as_deref().is_some_and(|u| u.starts_with('-')) {
        return Err("the user name may not start with '-'".to_string());
    }
    Ok(match scheme {
        "sftp" => {
            if root == "/" {
                return Err("no directory given: sftp://[user@]host[:port]/path".to_string());
            }
            Location::Sftp {
                user,
                host: host.to_string(),
                port,
                root,
            }
        }
        _ => Location::Webdav {
            tls: scheme == "webdavs",
            host: host.to_string(),
            port,
            root,
        },
    })
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
fn split_port(s: &str) -> std::result::Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, "")) => return Ok((h, None)),
            Some((h, p)) => match p.strip_prefix(':') {
                Some(p) => (h, Some(p)),
                None => return Err(format!("bad host \"{s}\"")),
            },
            None => return Err(format!("bad host \"{s}\"")),
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    match port {
        None => Ok((host, None)),
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok((host, Some(n))),
            _ => Err(format!("bad port \"{p}\"")),
        },
    }
}

/// `/a//b/` → `/a/b`.
fn normalize_dir(p: &str) -> String {
    let parts: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
    format!("/{}", parts.join("/"))
}

/// The URL with anything between `://` and `@` hidden, and the values of credential-looking
/// query keys, for error messages.
pub(crate) fn redact(url: &str) -> String {
    let (url, query) = match url.split_once('?') {
        Some((u, q)) => (u, Some(q)),
        None => (url, None),
    };
    let mut out = match (url.find("://"), url.find('@')) {
        (Some(s), Some(a)) if a > s => format!("{}://***{}", &url[..s], &url[a..]),
        _ => url.to_string(),
    };
    if let Some(q) = query {
        let pairs: Vec<String> = q
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if is_secret_key(k) => format!("{k}=***"),
                _ => p.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

/// A query key that would carry a secret (`sig` is a SAS token's signature).
fn is_secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    SECRET_KEYS.iter().any(|s| k.contains(s)) || k == "sig"
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
    fn sftp_urls() {
        let l = Location::parse("sftp://backup@nas.lan:2222/srv//dumps%20x/").unwrap();
        assert_eq!(
            l,
            Location::Sftp {
                user: Some("backup".into()),
                host: "nas.lan".into(),
                port: Some(2222),
                root: "/srv/dumps x".into(),
            }
        );
        assert_eq!(l.to_string(), "sftp://backup@nas.lan:2222/srv/dumps x");
        let l = Location::parse("sftp://[::1]/d").unwrap();
        assert_eq!(l.to_string(), "sftp://[::1]/d");
        assert!(matches!(
            l,
            Location::Sftp {
                port: None,
                user: None,
                ..
            }
        ));
        let e = Location::parse("sftp://u:hunter2pw@h/p").unwrap_err().to_string();
        assert!(e.contains("password") && !e.contains("hunter2pw"), "{e}");
        for bad in [
            "sftp://h",
            "sftp://h/",
            "sftp://h:0/p",
            "sftp://h:x/p",
            "sftp://-oProxy/p",
            "sftp://h/p?key=x",
        ] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn webdav_urls() {
        let l = Location::parse("webdavs://dav.example.com/remote.php/dav/files/me/").unwrap();
        assert_eq!(
            l,
            Location::Webdav {
                tls: true,
                host: "dav.example.com".into(),
                port: None,
                root: "/remote.php/dav/files/me".into(),
            }
        );
        assert_eq!(l.to_string(), "webdavs://dav.example.com/remote.php/dav/files/me");
        let l = Location::parse("webdav://127.0.0.1:8080").unwrap();
        assert_eq!(l.to_string(), "webdav://127.0.0.1:8080");
        assert!(matches!(
            l,
            Location::Webdav {
                tls: false,
                port: Some(8080),
                ..
            }
        ));
        let e = Location::parse("webdav://me:pw@h/p").unwrap_err().to_string();
        assert!(e.contains("PGSNAP_WEBDAV_USER") && !e.contains(":pw"), "{e}");
        assert!(Location::parse("webdav://h/p?x=1").is_err());
    }

    #[test]
    fn azblob_urls() {
        let l = Location::parse(
            "azblob://backups/nightly/db%20one/?endpoint=http%3A%2F%2F127.0.0.1%3A10000%2Fdevstoreaccount1",
        )
        .unwrap();
        assert_eq!(
            l,
            Location::Azblob {
                container: "backups".into(),
                prefix: "nightly/db one".into(),
                endpoint: Some("http://127.0.0.1:10000/devstoreaccount1".into()),
            }
        );
        assert_eq!(l.to_string(), "azblob://backups/nightly/db one");
        assert_eq!(
            Location::parse("azblob://my-backups").unwrap().to_string(),
            "azblob://my-backups"
        );
        for bad in [
            "azblob:///x",
            "azblob://ab",
            "azblob://Upper",
            "azblob://a_b_c",
            "azblob://-abc",
            "azblob://ab--cd",
            "azblob://abc?region=x",
            "azblob://abc?endpoint=ftp://x",
        ] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
        for secret in [
            "azblob://abc?sig=s3cr3t",
            "azblob://abc?account_key=s3cr3t",
            "azblob://abc?sas_token=s3cr3t",
        ] {
            let e = Location::parse(secret).unwrap_err().to_string();
            assert!(e.contains("AZURE_STORAGE_KEY") && !e.contains("s3cr3t"), "{e}");
        }
        let e = Location::parse("azblob://acct:s3cr3t@abc/x").unwrap_err().to_string();
        assert!(!e.contains("s3cr3t"), "{e}");
    }

    #[test]
    fn gcs_urls() {
        let l = Location::parse("gcs://my_bucket.example/pre/fix?endpoint=http://127.0.0.1:4443").unwrap();
        assert_eq!(
            l,
            Location::Gcs {
                bucket: "my_bucket.example".into(),
                prefix: "pre/fix".into(),
                endpoint: Some("http://127.0.0.1:4443".into()),
            }
        );
        assert_eq!(l.to_string(), "gcs://my_bucket.example/pre/fix");
        assert_eq!(
            Location::parse("gcs://bk1").unwrap(),
            Location::Gcs {
                bucket: "bk1".into(),
                prefix: String::new(),
                endpoint: None
            }
        );
        for bad in [
            "gcs://",
            "gcs://B",
            "gcs://x",
            "gcs://bk?color=red",
            "gcs://bk1?endpoint=127.0.0.1:1",
        ] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
        let e = Location::parse("gcs://bk1?token=s3cr3t").unwrap_err().to_string();
        assert!(
            e.contains("GOOGLE_APPLICATION_CREDENTIALS") && !e.contains("s3cr3t"),
            "{e}"
        );
    }
}
