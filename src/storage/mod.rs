//! Destinations: one storage contract over every place a backup can go (issue 13).
//!
//! [`Storage`] is the contract — put a stream, get a stream, list, stat, delete — over
//! OpenDAL, for the backends this build carries: a local or mounted directory (`file://`) and
//! S3 or an S3-compatible store (`s3://`). SFTP, WebDAV, Azure Blob and GCS URLs are parsed
//! and refused as not supported yet. Every operation goes through OpenDAL's retry layer:
//! a transient failure (connection reset, 5xx, throttling) is retried with exponential
//! backoff before it is reported.
//!
//! Uploads stream in bounded memory: S3 objects are written as multipart uploads of
//! [`PART_SIZE`] parts, files are written through a temporary file in
//! [`UPLOADS_DIR`] and renamed into place when complete; neither is visible under its name
//! before `finish`, and an abandoned upload is aborted (the multipart upload, the temporary
//! file).
//!
//! Publication is atomic per backup: a single-file archive `NAME` counts as a backup only
//! once its sidecar manifest `NAME.manifest` exists, and the manifest is the last object a
//! dump writes ([`fanout`]). [`Storage::backups`] lists only committed ones.
//!
//! Credentials come from each service's usual environment variables and files, never from
//! the command line (see [`url`]).

pub mod fanout;
pub mod url;

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use opendal::{ErrorKind as DalKind, Operator};

pub use url::Location;

use crate::error::{Error, ErrorKind, Result};
use crate::manifest::{MANIFEST_FILE, SIDECAR_SUFFIX};

/// Size of one part of a multipart upload (S3's minimum is 5 MiB, its maximum part count
/// 10 000: 8 MiB parts carry objects up to about 80 GB).
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts of one upload in flight at once.
pub const PARTS_IN_FLIGHT: usize = 2;
/// Directory under a `file://` destination where uploads are written before they are renamed
/// into place; never listed.
pub const UPLOADS_DIR: &str = ".pgsnap-uploads";

/// One object: its name relative to the destination, and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub name: String,
    pub size: u64,
}

/// S3 credentials handed over by a library caller; shown redacted.
#[derive(Clone, Default)]
pub struct S3Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"***")
            .finish()
    }
}

/// One destination; see the module documentation.
#[derive(Debug, Clone)]
pub struct Storage {
    op: Operator,
    location: Location,
}

/// An upload in progress; [`finish`](Upload::finish) publishes it, [`abort`](Upload::abort)
/// (or an error) leaves nothing under its name.
pub struct Upload {
    writer: opendal::Writer,
    /// The file a `file://` upload becomes, made private once in place.
    local: Option<std::path::PathBuf>,
    name: String,
    written: u64,
    shown: String,
}

/// An object being read, chunk by chunk.
pub struct Download {
    stream: opendal::FuturesBytesStream,
    name: String,
    shown: String,
}

/// Says each retry in one line (OpenDAL's default prints the error's debug form, with a
/// backtrace when RUST_BACKTRACE is set).
struct RetryNotice;

impl opendal::layers::RetryInterceptor for RetryNotice {
    fn intercept(&self, event: opendal::layers::RetryEvent<'_>) {
        tracing::warn!(
            "storage: retrying {:?} (attempt {}) in {:.1}s: {}",
            event.op,
            event.attempt,
            event.retry_after.as_secs_f64(),
            event.err
        );
    }
}

/// Retry policy of every operation: 5 tries, 250 ms doubling to 4 s, with jitter.
fn retry_layer() -> opendal::layers::RetryLayer<RetryNotice> {
    opendal::layers::RetryLayer::new()
        .with_max_times(4)
        .with_min_delay(Duration::from_millis(250))
        .with_max_delay(Duration::from_secs(4))
        .with_factor(2.0)
        .with_jitter()
        .with_notify(RetryNotice)
}

/// OpenDAL's HTTP transport and rustls' process-wide provider (ring, as the rest of pgsnap),
/// installed once.
fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Already installed by another part of the process: that one stays.
        let _ = rustls::crypto::ring::default_provider().install_default();
        opendal::init_default_registry();
        // The facade installs its HTTP transport only with a default TLS provider; this build
        // uses ring (above), so the transport is installed here.
        opendal_http_transport_reqwest::install_default();
    });
}

impl Storage {
    /// Opens the destination at `url` (see [`Location::parse`]).
    pub fn open_url(url: &str) -> Result<Storage> {
        Storage::open(&Location::parse(url)?)
    }

    /// Opens `location`. A `file://` directory must exist (a missing NAS mount is an error,
    /// not a new directory on the local disk); nothing remote is contacted yet.
    pub fn open(location: &Location) -> Result<Storage> {
        Storage::open_inner(location, None)
    }

    /// Opens `location` with credentials the caller holds (a library caller reading them
    /// from its own configuration; tests). Only S3 destinations take them.
    pub fn open_with_credentials(location: &Location, creds: &S3Credentials) -> Result<Storage> {
        Storage::open_inner(location, Some(creds))
    }

    fn open_inner(location: &Location, creds: Option<&S3Credentials>) -> Result<Storage> {
        init();
        let shown = location.to_string();
        let op = match location {
            Location::Fs { root } => {
                match std::fs::metadata(root) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => {
                        return Err(Error::usage(format!(
                            "destination \"{shown}\": \"{root}\" is not a directory"
                        )));
                    }
                    Err(e) => return Err(Error::io(format!("destination \"{shown}\""), e)),
                }
                // Temporaries hold table data: private to the owner (as local archives are).
                let uploads = format!("{root}/{UPLOADS_DIR}");
                if let Err(e) = std::fs::DirBuilder::new().mode(0o700).create(&uploads)
                    && e.kind() != std::io::ErrorKind::AlreadyExists
                {
                    return Err(Error::io(format!("destination \"{shown}\": creating \"{uploads}\""), e));
                }
                let b = opendal::services::Fs::default().root(root).atomic_write_dir(&uploads);
                Operator::new(b).map_err(|e| dal(&shown, "opening", e))?
            }
            Location::S3 {
                bucket,
                prefix,
                endpoint,
                region,
                path_style,
            } => {
                let mut b = opendal::services::S3::default()
                    .bucket(bucket)
                    .root(&format!("/{prefix}"));
                if let Some(e) = endpoint {
                    b = b.endpoint(e);
                }
                // S3-compatible servers take any region; AWS needs the bucket's.
                let region = region
                    .clone()
                    .or_else(|| std::env::var("AWS_REGION").ok())
                    .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
                    .unwrap_or_else(|| "us-east-1".to_string());
                b = b.region(&region);
                if let Some(c) = creds {
                    b = b
                        .access_key_id(&c.access_key_id)
                        .secret_access_key(&c.secret_access_key);
                }
                if *path_style == Some(false) {
                    b = b.enable_virtual_host_style();
                }
                Operator::new(b).map_err(|e| dal(&shown, "opening", e))?
            }
        };
        Ok(Storage {
            op: op.layer(retry_layer()),
            location: location.clone(),
        })
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Starts a streaming upload of `name`.
    pub async fn put(&self, name: &str) -> Result<Upload> {
        check_name(name)?;
        let writer = self
            .op
            .writer_with(name)
            .chunk(PART_SIZE)
            .concurrent(PARTS_IN_FLIGHT)
            .await
            .map_err(|e| {
                dal(
                    &self.location.to_string(),
                    &format!("starting the upload of \"{name}\""),
                    e,
                )
            })?;
        let local = match &self.location {
            Location::Fs { root } => Some(std::path::Path::new(root).join(name)),
            Location::S3 { .. } => None,
        };
        Ok(Upload {
            writer,
            local,
            name: name.to_string(),
            written: 0,
            shown: self.location.to_string(),
        })
    }

    /// Writes `bytes` as `name` in one go (small objects: manifests).
    pub async fn put_bytes(&self, name: &str, bytes: Vec<u8>) -> Result<()> {
        let mut up = self.put(name).await?;
        up.write(Bytes::from(bytes)).await?;
        up.finish().await.map(|_| ())
    }

    /// Opens `name` for reading.
    pub async fn get(&self, name: &str) -> Result<Download> {
        check_name(name)?;
        let shown = self.location.to_string();
        let what = format!("reading \"{name}\"");
        let reader = self
            .op
            .reader_with(name)
            .chunk(PART_SIZE)
            .await
            .map_err(|e| dal(&shown, &what, e))?;
        let stream = reader.into_bytes_stream(..).await.map_err(|e| dal(&shown, &what, e))?;
        Ok(Download {
            stream,
            name: name.to_string(),
            shown,
        })
    }

    /// Opens `name` for reading from byte `offset` to its end (a reader seeking in a remote
    /// archive: one ranged request instead of reading up to there).
    pub async fn get_from(&self, name: &str, offset: u64) -> Result<Download> {
        check_name(name)?;
        let shown = self.location.to_string();
        let what = format!("reading \"{name}\" from byte {offset}");
        let reader = self
            .op
            .reader_with(name)
            .chunk(PART_SIZE)
            .await
            .map_err(|e| dal(&shown, &what, e))?;
        let stream = reader
            .into_bytes_stream(offset..)
            .await
            .map_err(|e| dal(&shown, &what, e))?;
        Ok(Download {
            stream,
            name: name.to_string(),
            shown,
        })
    }

    /// The whole of `name` (small objects: manifests).
    pub async fn get_bytes(&self, name: &str) -> Result<Vec<u8>> {
        let mut d = self.get(name).await?;
        let mut out = Vec::new();
        while let Some(b) = d.next().await? {
            out.extend_from_slice(&b);
        }
        Ok(out)
    }

    /// Every object whose name starts with `prefix` (`""`: all), at any depth, sorted by
    /// name; uploads in progress are not objects and are not listed.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let shown = self.location.to_string();
        // Listing works on directories: list the prefix's directory, keep the matches.
        let dir = match prefix.rfind('/') {
            Some(i) => &prefix[..=i],
            None => "",
        };
        let entries = self
            .op
            .list_with(dir)
            .recursive(true)
            .await
            .map_err(|e| dal(&shown, "listing", e))?;
        let mut out = Vec::new();
        for e in entries {
            let name = e.path().trim_start_matches('/').to_string();
            if !e.metadata().is_file() || !name.starts_with(prefix) || name.starts_with(&format!("{UPLOADS_DIR}/")) {
                continue;
            }
            // Listings of some services carry no size; ask.
            let size = match e.metadata().content_length() {
                0 => self.op.stat(&name).await.map(|m| m.content_length()).unwrap_or(0),
                n => n,
            };
            out.push(ObjectInfo { name, size });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Checks that the destination answers and can be listed (reachable, bucket there,
    /// credentials accepted where the server checks them) without writing anything.
    pub async fn probe(&self) -> Result<()> {
        self.op
            .list_with("")
            .limit(1)
            .await
            .map(|_| ())
            .map_err(|e| dal(&self.location.to_string(), "checking the destination", e))
    }

    /// Size of `name`; `None` when there is no such object.
    pub async fn stat(&self, name: &str) -> Result<Option<ObjectInfo>> {
        check_name(name)?;
        match self.op.stat(name).await {
            Ok(m) if m.is_file() => Ok(Some(ObjectInfo {
                name: name.to_string(),
                size: m.content_length(),
            })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == DalKind::NotFound => Ok(None),
            Err(e) => Err(dal(&self.location.to_string(), &format!("checking \"{name}\""), e)),
        }
    }

    /// Removes `name`; removing what is not there is not an error.
    pub async fn delete(&self, name: &str) -> Result<()> {
        check_name(name)?;
        self.op
            .delete(name)
            .await
            .map_err(|e| dal(&self.location.to_string(), &format!("removing \"{name}\""), e))
    }

    /// The committed backups: single-file archives `NAME` with a `NAME.manifest` beside
    /// them, and directory archives `NAME/` holding a `NAME/pgsnap.manifest` (size: all its
    /// files). An archive whose manifest was never written (an interrupted dump) is not a
    /// backup.
    pub async fn backups(&self) -> Result<Vec<ObjectInfo>> {
        let all = self.list("").await?;
        let names: std::collections::HashSet<&str> = all.iter().map(|o| o.name.as_str()).collect();
        let dir_marker = format!("/{MANIFEST_FILE}");
        let mut out: Vec<ObjectInfo> = all
            .iter()
            .filter(|o| {
                !o.name.ends_with(SIDECAR_SUFFIX) && names.contains(format!("{}{SIDECAR_SUFFIX}", o.name).as_str())
            })
            .cloned()
            .collect();
        for m in all.iter().filter(|o| o.name.ends_with(&dir_marker)) {
            let dir = &m.name[..m.name.len() - dir_marker.len()];
            let inside = format!("{dir}/");
            let size = all.iter().filter(|o| o.name.starts_with(&inside)).map(|o| o.size).sum();
            out.push(ObjectInfo {
                name: dir.to_string(),
                size,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

impl Upload {
    /// Appends `bytes`; waits while earlier parts are in flight (back-pressure).
    pub async fn write(&mut self, bytes: Bytes) -> Result<()> {
        let n = bytes.len() as u64;
        self.writer
            .write(bytes)
            .await
            .map_err(|e| dal(&self.shown, &format!("uploading \"{}\"", self.name), e))?;
        self.written += n;
        Ok(())
    }

    /// Completes the upload: the object appears under its name. Returns its size.
    pub async fn finish(mut self) -> Result<u64> {
        self.writer
            .close()
            .await
            .map_err(|e| dal(&self.shown, &format!("completing the upload of \"{}\"", self.name), e))?;
        // OpenDAL creates files with the process umask; a dump holds table data (mode 0600,
        // as local archives). The temporary lived in the private uploads directory until now.
        if let Some(p) = &self.local {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
                Error::io(
                    format!("destination \"{}\": making \"{}\" private", self.shown, self.name),
                    e,
                )
            })?;
        }
        Ok(self.written)
    }

    /// Abandons the upload; nothing appears under its name.
    pub async fn abort(mut self) -> Result<()> {
        self.writer
            .abort()
            .await
            .map_err(|e| dal(&self.shown, &format!("aborting the upload of \"{}\"", self.name), e))
    }
}

impl Download {
    /// The next chunk; `None` at the end.
    pub async fn next(&mut self) -> Result<Option<Bytes>> {
        match self.stream.next().await {
            None => Ok(None),
            Some(Ok(b)) => Ok(Some(b)),
            Some(Err(e)) => Err(Error::new(
                ErrorKind::Storage,
                format!("destination \"{}\": reading \"{}\": {e}", self.shown, self.name),
            )),
        }
    }
}

/// Object names are relative, `/`-separated, without empty, `.` or `..` components.
fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.starts_with('/')
        || name.split('/').any(|c| c.is_empty() || c == "." || c == "..")
        || name.contains('\0')
    {
        return Err(Error::usage(format!("invalid object name \"{name}\"")));
    }
    Ok(())
}

fn dal(dest: &str, what: &str, e: opendal::Error) -> Error {
    let retry = if e.is_temporary() {
        crate::error::Retry::Maybe
    } else {
        crate::error::Retry::Never
    };
    let kind = match e.kind() {
        DalKind::ConfigInvalid => ErrorKind::Config,
        _ => ErrorKind::Storage,
    };
    Error::new(kind, format!("destination \"{dest}\": {what}: {e}")).with_retry(retry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_stay_inside_the_destination() {
        for bad in ["", "/abs", "a/../b", "a//b", "./a", "a/"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        for good in ["db.dump", "dir/db dump ü.dump", "a/b/c.manifest"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
    }
}
