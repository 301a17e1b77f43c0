//! Destinations: one storage contract over every place a backup can go (issue 13).
//!
//! [`Storage`] is the contract — put a stream, get a stream, list, stat, delete — over
//! OpenDAL, for the backends this build carries: a local or mounted directory (`file://`),
//! S3 or an S3-compatible store (`s3://`), an SSH server ([`sftp`]), a WebDAV server
//! ([`webdav`]), Azure Blob Storage ([`azblob`]) and Google Cloud Storage ([`gcs`]). Every
//! operation goes through OpenDAL's retry layer: a transient failure (connection reset, 5xx,
//! throttling) is retried with exponential backoff before it is reported.
//!
//! Uploads stream in bounded memory: S3 objects are written as multipart uploads of
//! [`PART_SIZE`] parts, Azure blobs as block blobs of [`PART_SIZE`] blocks (visible once the
//! block list is committed), files through a temporary file in [`UPLOADS_DIR`] renamed into
//! place. SFTP and WebDAV servers write in place, so uploads there go to a temporary name in
//! [`UPLOADS_DIR`] and are renamed (SFTP rename, WebDAV MOVE) on `finish`; GCS objects are
//! resumable uploads of [`PART_SIZE`] chunks to a temporary object copied to their name on
//! `finish`. None is visible under its name before `finish`, and an abandoned upload is
//! aborted (the multipart upload, the resumable session, the temporary object; staged Azure
//! blocks are never committed).
//!
//! Publication is atomic per backup: a single-file archive `NAME` counts as a backup only
//! once its sidecar manifest `NAME.manifest` exists, and the manifest is the last object a
//! dump writes ([`fanout`]). [`Storage::backups`] lists only committed ones.
//!
//! Credentials come from each service's usual environment variables and files, never from
//! the command line (see [`url`]).

pub mod azblob;
pub mod fanout;
pub mod gcs;
pub mod sftp;
pub mod url;
pub mod webdav;

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use opendal::{ErrorKind as DalKind, Operator};

pub use azblob::AzureCredentials;
pub use gcs::GcsCredentials;
pub use url::Location;
pub use webdav::WebdavCredentials;

use crate::error::{Error, ErrorKind, Result};
use crate::manifest::{MANIFEST_FILE, SIDECAR_SUFFIX};

/// Size of one part of a multipart upload (S3's minimum is 5 MiB, its maximum part count
/// 10 000: 8 MiB parts carry objects up to about 80 GB).
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts of one upload in flight at once.
pub const PARTS_IN_FLIGHT: usize = 2;
/// Directory under a `file://`, `sftp://`, `webdav://` or `gcs://` destination where uploads
/// are written before they are renamed (copied, on GCS) into place; never listed.
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

/// Credentials a library caller holds, of any backend (see
/// [`Storage::open_with_credentials`]).
#[derive(Debug, Clone, Copy)]
pub enum Credentials<'a> {
    S3(&'a S3Credentials),
    Azure(&'a AzureCredentials),
    Gcs(&'a GcsCredentials),
    Webdav(&'a WebdavCredentials),
}

impl<'a> From<&'a S3Credentials> for Credentials<'a> {
    fn from(c: &'a S3Credentials) -> Self {
        Credentials::S3(c)
    }
}

impl<'a> From<&'a AzureCredentials> for Credentials<'a> {
    fn from(c: &'a AzureCredentials) -> Self {
        Credentials::Azure(c)
    }
}

impl<'a> From<&'a GcsCredentials> for Credentials<'a> {
    fn from(c: &'a GcsCredentials) -> Self {
        Credentials::Gcs(c)
    }
}

impl<'a> From<&'a WebdavCredentials> for Credentials<'a> {
    fn from(c: &'a WebdavCredentials) -> Self {
        Credentials::Webdav(c)
    }
}

/// One destination; see the module documentation.
#[derive(Debug, Clone)]
pub struct Storage {
    op: Operator,
    location: Location,
    publish: Publish,
}

/// How an upload reaches its name.
#[derive(Debug, Clone)]
enum Publish {
    /// The service never shows a partial object: S3 (multipart), files (OpenDAL's own
    /// temporary file and rename).
    Direct,
    /// A directory that can be read but not written (a read-only mount): uploads are refused
    /// with the reason, so nothing is ever written there in place.
    ReadOnly(String),
    /// Written under a temporary name in [`UPLOADS_DIR`], renamed onto its name at the end
    /// (SFTP).
    Rename,
    /// Streamed by one PUT to a temporary name, then MOVEd (WebDAV).
    Stream(webdav::Streamer),
    /// Written as a resumable upload to a temporary name, copied onto its name at the end
    /// and the temporary removed (GCS: OpenDAL's plain GCS writer uses XML multipart uploads,
    /// which emulators lack; a conditional write takes the resumable path).
    Copy,
}

/// Where the bytes of an upload go.
enum Sink {
    Dal(opendal::Writer),
    Put(webdav::PutStream),
}

/// An upload in progress; [`finish`](Upload::finish) publishes it, [`abort`](Upload::abort)
/// (or an error) leaves nothing under its name.
pub struct Upload {
    sink: Sink,
    /// The temporary name and the operator to rename (and on failure remove) it with, for
    /// uploads published by a rename; `None` once finished or aborted.
    staged: Option<(Operator, String)>,
    /// Published by copying the temporary (GCS) rather than renaming it.
    by_copy: bool,
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
    /// from its own configuration; tests) instead of the environment's: [`S3Credentials`],
    /// [`AzureCredentials`], [`GcsCredentials`] or [`WebdavCredentials`], of the location's
    /// kind.
    pub fn open_with_credentials<'a>(location: &Location, creds: impl Into<Credentials<'a>>) -> Result<Storage> {
        Storage::open_inner(location, Some(creds.into()))
    }

    /// Opens a `webdav://` or `webdavs://` location with a user and password the caller holds
    /// instead of `PGSNAP_WEBDAV_USER` / `PGSNAP_WEBDAV_PASSWORD`.
    pub fn open_with_webdav_credentials(location: &Location, creds: &WebdavCredentials) -> Result<Storage> {
        Storage::open_with_credentials(location, creds)
    }

    fn open_inner(location: &Location, creds: Option<Credentials<'_>>) -> Result<Storage> {
        init();
        let shown = location.to_string();
        let (mut s3, mut azure, mut gcs, mut dav_creds) = (None, None, None, None);
        match creds {
            None => {}
            Some(Credentials::S3(c)) if matches!(location, Location::S3 { .. }) => s3 = Some(c),
            Some(Credentials::Azure(c)) if matches!(location, Location::Azblob { .. }) => azure = Some(c),
            Some(Credentials::Gcs(c)) if matches!(location, Location::Gcs { .. }) => gcs = Some(c),
            Some(Credentials::Webdav(c)) if matches!(location, Location::Webdav { .. }) => dav_creds = Some(c),
            Some(other) => {
                return Err(Error::usage(format!(
                    "destination \"{shown}\": {} credentials do not apply to it",
                    match other {
                        Credentials::S3(_) => "S3",
                        Credentials::Azure(_) => "Azure",
                        Credentials::Gcs(_) => "GCS",
                        Credentials::Webdav(_) => "WebDAV",
                    }
                )));
            }
        }
        let mut publish = Publish::Direct;
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
                let writable = match std::fs::DirBuilder::new().mode(0o700).create(&uploads) {
                    Ok(()) => true,
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => true,
                    // A read-only mount or directory still reads (list, verify, fetch); an
                    // upload there is refused, naming the destination and why.
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied
                        ) =>
                    {
                        publish = Publish::ReadOnly(Error::io(format!("creating \"{uploads}\""), e).to_string());
                        false
                    }
                    Err(e) => {
                        return Err(Error::io(format!("destination \"{shown}\": creating \"{uploads}\""), e));
                    }
                };
                let mut b = opendal::services::Fs::default().root(root);
                if writable {
                    b = b.atomic_write_dir(&uploads);
                }
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
                if let Some(c) = s3 {
                    b = b
                        .access_key_id(&c.access_key_id)
                        .secret_access_key(&c.secret_access_key);
                }
                if *path_style == Some(false) {
                    b = b.enable_virtual_host_style();
                }
                Operator::new(b).map_err(|e| dal(&shown, "opening", e))?
            }
            Location::Sftp { .. } => {
                publish = Publish::Rename;
                sftp::open(location)?
            }
            Location::Webdav { .. } => {
                let (op, streamer) = webdav::open(location, dav_creds)?;
                publish = Publish::Stream(streamer);
                op
            }
            Location::Azblob {
                container,
                prefix,
                endpoint,
            } => azblob::operator(container, prefix, endpoint.as_deref(), azure, &shown)?,
            Location::Gcs {
                bucket,
                prefix,
                endpoint,
            } => {
                publish = Publish::Copy;
                gcs::operator(bucket, prefix, endpoint.as_deref(), gcs, &shown)?
            }
        };
        Ok(Storage {
            op: op.layer(retry_layer()),
            location: location.clone(),
            publish,
        })
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Starts a streaming upload of `name`.
    pub async fn put(&self, name: &str) -> Result<Upload> {
        check_name(name)?;
        let shown = self.location.to_string();
        let starting = |e| dal(&shown, &format!("starting the upload of \"{name}\""), e);
        let (sink, staged) = match &self.publish {
            Publish::ReadOnly(why) => {
                return Err(Error::new(
                    ErrorKind::Io,
                    format!("destination \"{shown}\" cannot be written: {why}"),
                ));
            }
            Publish::Direct => (
                Sink::Dal(
                    self.op
                        .writer_with(name)
                        .chunk(PART_SIZE)
                        .concurrent(PARTS_IN_FLIGHT)
                        .await
                        .map_err(starting)?,
                ),
                None,
            ),
            Publish::Rename => {
                let tmp = temporary_name();
                let w = self.op.writer_with(&tmp).chunk(PART_SIZE).await.map_err(starting)?;
                (Sink::Dal(w), Some((self.op.clone(), tmp)))
            }
            Publish::Stream(streamer) => {
                self.op.create_dir(&format!("{UPLOADS_DIR}/")).await.map_err(starting)?;
                let tmp = temporary_name();
                (Sink::Put(streamer.start(&tmp, name)), Some((self.op.clone(), tmp)))
            }
            Publish::Copy => {
                // "If not exists" (always true of a fresh temporary name) makes OpenDAL take
                // GCS's resumable upload.
                let tmp = temporary_name();
                let w = self
                    .op
                    .writer_with(&tmp)
                    .chunk(PART_SIZE)
                    .concurrent(PARTS_IN_FLIGHT)
                    .if_not_exists(true)
                    .await
                    .map_err(starting)?;
                (Sink::Dal(w), Some((self.op.clone(), tmp)))
            }
        };
        let local = match &self.location {
            Location::Fs { root } => Some(std::path::Path::new(root).join(name)),
            _ => None,
        };
        Ok(Upload {
            sink,
            staged,
            by_copy: matches!(self.publish, Publish::Copy),
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
        self.read_from(name, 0, None, format!("reading \"{name}\"")).await
    }

    /// Opens bytes `offset..end` of `name`, whose size the caller already knows (a listed
    /// object): an open end makes OpenDAL ask for the object's size first, one more request
    /// per read.
    pub async fn get_range(&self, name: &str, offset: u64, end: u64) -> Result<Download> {
        self.read_from(
            name,
            offset,
            Some(end),
            format!("reading \"{name}\" from byte {offset}"),
        )
        .await
    }

    async fn read_from(&self, name: &str, offset: u64, end: Option<u64>, what: String) -> Result<Download> {
        check_name(name)?;
        let shown = self.location.to_string();
        let reader = self
            .op
            .reader_with(name)
            .chunk(PART_SIZE)
            .await
            .map_err(|e| dal(&shown, &what, e))?;
        let stream = match end {
            Some(end) => reader.into_bytes_stream(offset..end.max(offset)).await,
            None => reader.into_bytes_stream(offset..).await,
        }
        .map_err(|e| dal(&shown, &what, e))?;
        Ok(Download {
            stream,
            name: name.to_string(),
            shown,
        })
    }

    /// The whole of `name` (small objects: manifests).
    pub async fn get_bytes(&self, name: &str) -> Result<Vec<u8>> {
        collect(self.get(name).await?).await
    }

    /// The whole of `name`, whose size a listing or stat already gave.
    pub async fn get_bytes_sized(&self, name: &str, size: u64) -> Result<Vec<u8>> {
        collect(self.get_range(name, 0, size).await?).await
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

impl Storage {
    /// When `name` was last written; `None` when the service does not say (or it is gone).
    pub async fn modified(&self, name: &str) -> Result<Option<jiff::Timestamp>> {
        check_name(name)?;
        match self.op.stat(name).await {
            Ok(m) => Ok(m.last_modified().map(|t| t.into_inner())),
            Err(e) if e.kind() == DalKind::NotFound => Ok(None),
            Err(e) => Err(dal(&self.location.to_string(), &format!("checking \"{name}\""), e)),
        }
    }

    /// The janitor: removes what interrupted uploads left behind, once it is older than
    /// `older_than` at `now`, and returns what it removed.
    ///
    /// - Temporaries of uploads into a `file://` destination (in [`UPLOADS_DIR`]). An S3
    ///   multipart upload that was never completed or aborted is not visible through this
    ///   contract; a bucket lifecycle rule (`AbortIncompleteMultipartUpload`) removes those.
    /// - Objects the caller owns that belong to no committed backup: `owner` maps an object
    ///   name to the group it belongs to (a backup's archive, its files, its manifest, its
    ///   record), or `None` for objects that are not the caller's (never touched). A group is
    ///   left alone when any of its objects is part of a committed backup
    ///   ([`backups`](Storage::backups)) or was written within `older_than` (an upload in
    ///   progress elsewhere); otherwise all of it is removed, its manifest first.
    ///
    /// The caller makes sure no run of its own is writing here (its run lock).
    pub async fn janitor(
        &self,
        owner: &(dyn Fn(&str) -> Option<String> + Sync),
        older_than: Duration,
        now: jiff::Timestamp,
    ) -> Result<Vec<String>> {
        let shown = self.location.to_string();
        let cutoff = now.checked_sub(older_than).unwrap_or(jiff::Timestamp::MIN);
        let old = |t: Option<jiff::Timestamp>| t.is_some_and(|t| t < cutoff);
        let mut removed = Vec::new();
        if let Location::Fs { root } = &self.location {
            let dir = std::path::Path::new(root).join(UPLOADS_DIR);
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for e in entries.flatten() {
                    let modified = e
                        .metadata()
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| jiff::Timestamp::try_from(t).ok());
                    if !old(modified) {
                        continue;
                    }
                    let p = e.path();
                    let r = if p.is_dir() {
                        std::fs::remove_dir_all(&p)
                    } else {
                        std::fs::remove_file(&p)
                    };
                    match r {
                        Ok(()) => removed.push(format!("{UPLOADS_DIR}/{}", e.file_name().to_string_lossy())),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            return Err(Error::io(
                                format!("destination \"{shown}\": removing \"{}\"", p.display()),
                                e,
                            ));
                        }
                    }
                }
            }
        }
        let all = self.list("").await?;
        let committed = self.backups().await?;
        let in_backup = |name: &str| {
            committed.iter().any(|b| {
                name == b.name
                    || name
                        .strip_prefix(b.name.as_str())
                        .is_some_and(|rest| rest == SIDECAR_SUFFIX || rest.starts_with('/'))
            })
        };
        let mut groups: std::collections::BTreeMap<String, Vec<&ObjectInfo>> = Default::default();
        for o in &all {
            if let Some(g) = owner(&o.name) {
                groups.entry(g).or_default().push(o);
            }
        }
        'group: for (_, objects) in groups {
            if objects.iter().any(|o| in_backup(&o.name)) {
                continue;
            }
            for o in &objects {
                if !old(self.modified(&o.name).await?) {
                    continue 'group;
                }
            }
            // The commit markers first: a crash midway leaves nothing that looks committed.
            let mut order: Vec<&ObjectInfo> = objects.clone();
            order.sort_by_key(|o| !(o.name.ends_with(SIDECAR_SUFFIX) || o.name.ends_with(MANIFEST_FILE)));
            for o in order {
                self.delete(&o.name).await?;
                removed.push(o.name.clone());
            }
        }
        Ok(removed)
    }
}

impl Upload {
    /// Appends `bytes`; waits while earlier parts are in flight (back-pressure).
    pub async fn write(&mut self, bytes: Bytes) -> Result<()> {
        let n = bytes.len() as u64;
        match &mut self.sink {
            Sink::Dal(w) => w
                .write(bytes)
                .await
                .map_err(|e| dal(&self.shown, &format!("uploading \"{}\"", self.name), e))?,
            Sink::Put(p) => p.write(bytes).await?,
        }
        self.written += n;
        Ok(())
    }

    /// Completes the upload: the object appears under its name. Returns its size.
    pub async fn finish(mut self) -> Result<u64> {
        let completing = format!("completing the upload of \"{}\"", self.name);
        let done = match &mut self.sink {
            Sink::Dal(w) => w
                .close()
                .await
                .map(|_| ())
                .map_err(|e| dal(&self.shown, &completing, e)),
            Sink::Put(p) => p.finish().await,
        };
        if let Err(e) = done {
            // A writer that failed to complete (a full disk at the last flush) still holds its
            // temporary, OpenDAL's in `.pgsnap-uploads/` for files: abort removes it.
            if let Sink::Dal(w) = &mut self.sink
                && let Err(a) = w.abort().await
                && a.kind() != DalKind::Unsupported
            {
                tracing::warn!("destination \"{}\": aborting the failed upload: {a}", self.shown);
            }
            self.discard_staged().await;
            return Err(e);
        }
        if let Some((op, tmp)) = self.staged.take() {
            // The object appears under its name whole, in one step.
            if let Err(e) = publish_staged(&op, &tmp, &self.name, self.by_copy).await {
                let _ = op.delete(&tmp).await;
                return Err(dal(&self.shown, &completing, e));
            }
        }
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
        let aborted = match &mut self.sink {
            Sink::Dal(w) => match w.abort().await {
                // SFTP's writer cannot abort: the temporary is removed below.
                Err(e) if e.kind() == DalKind::Unsupported && self.staged.is_some() => Ok(()),
                r => r.map_err(|e| dal(&self.shown, &format!("aborting the upload of \"{}\"", self.name), e)),
            },
            Sink::Put(p) => {
                p.abort().await;
                Ok(())
            }
        };
        self.discard_staged().await;
        aborted
    }

    /// Removes the temporary of a renamed upload that will not be published.
    async fn discard_staged(&mut self) {
        if let Some((op, tmp)) = self.staged.take() {
            if let Err(e) = op.delete(&tmp).await {
                tracing::warn!(
                    "destination \"{}\": removing the abandoned upload \"{tmp}\": {e}",
                    self.shown
                );
            }
            if matches!(self.sink, Sink::Put(_)) {
                tokio::spawn(delete_again_later(op, tmp));
            }
        }
    }
}

/// Removes the temporary `tmp` of a broken-off WebDAV PUT again, twice, a moment apart: the
/// server may still be handling the PUT when the first DELETE arrives and create the file after
/// it (wsgidav under load did, leaving the temporary for good). Whatever survives this (the
/// process exits first) is the janitor's: it is in the unlisted uploads directory.
async fn delete_again_later(op: Operator, tmp: String) {
    for wait in [Duration::from_millis(300), Duration::from_secs(2)] {
        tokio::time::sleep(wait).await;
        let _ = op.delete(&tmp).await;
    }
}

impl Drop for Upload {
    /// Dropped unfinished (a panic, a cancelled task): the temporary of a renamed upload is
    /// removed in the background when a runtime is at hand; it is never visible under the
    /// upload's name either way.
    fn drop(&mut self) {
        if let Some((op, tmp)) = self.staged.take()
            && let Ok(h) = tokio::runtime::Handle::try_current()
        {
            let again = if let Sink::Put(p) = &mut self.sink {
                p.cancel();
                true
            } else {
                false
            };
            h.spawn(async move {
                let _ = op.delete(&tmp).await;
                if again {
                    delete_again_later(op, tmp).await;
                }
            });
        }
    }
}

/// Renames the finished temporary `tmp` onto `name`. Replacing an existing object is one
/// step on WebDAV (MOVE with `Overwrite: T`) and on servers with POSIX rename; a server whose
/// rename refuses an existing target gets the old object removed first. With `by_copy` (GCS,
/// whose objects are immutable) the temporary is copied onto `name` server-side and removed.
async fn publish_staged(op: &Operator, tmp: &str, name: &str, by_copy: bool) -> opendal::Result<()> {
    if by_copy {
        op.copy(tmp, name).await?;
        // A temporary left behind is unlisted (in UPLOADS_DIR); the object is published.
        if let Err(e) = op.delete(tmp).await {
            tracing::warn!("removing the temporary \"{tmp}\": {e}");
        }
        return Ok(());
    }
    if let Some((dir, _)) = name.rsplit_once('/') {
        op.create_dir(&format!("{dir}/")).await?;
    }
    match op.rename(tmp, name).await {
        Ok(()) => Ok(()),
        Err(first) => match op.stat(name).await {
            Ok(_) => {
                op.delete(name).await?;
                op.rename(tmp, name).await
            }
            Err(_) => Err(first),
        },
    }
}

/// A stand-in for the process environment in the backends' credential tests: looks `vars` up.
#[cfg(test)]
pub(crate) fn test_env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
}

/// A name in [`UPLOADS_DIR`] no other upload (of this or another process) uses.
fn temporary_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{UPLOADS_DIR}/{}-{nanos:x}-{n}.part", std::process::id())
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

/// Every byte of a download, in one buffer (small objects).
async fn collect(mut d: Download) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(b) = d.next().await? {
        out.extend_from_slice(&b);
    }
    Ok(out)
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

/// Longest wait for a storage runtime's connections to close in [`shut_down`].
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// Waits (up to [`CLOSE_WAIT`]) until the current runtime has no task left but the caller:
/// the closes of connections whose [`Storage`] was dropped, see [`shut_down`]. For a runtime
/// whose storages are all dropped; one still holding a live connection waits the whole time.
pub(crate) async fn settle() {
    let deadline = tokio::time::Instant::now() + CLOSE_WAIT;
    let metrics = tokio::runtime::Handle::current().metrics();
    while metrics.num_alive_tasks() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Shuts down a runtime that storage requests ran on and waits (up to [`CLOSE_WAIT`]) until its
/// tasks are gone; callable from anywhere, a caller's async task included.
///
/// Why it must wait: an SFTP destination's connection is an OpenSSH master (`ssh -M -f -N -o
/// ControlPersist=yes`) that detaches from pgsnap and lives until it is told `ssh -O exit`.
/// OpenDAL's SFTP service offers no close; the `openssh` crate's `Session` sends that exit
/// when it is dropped, and each session is owned by a task on this runtime. Shutting the
/// runtime down drops those tasks, so the masters end, but only if pgsnap waits for it:
/// `shutdown_background` returned at once and the process could exit before any task was
/// dropped, leaving the master behind for good. Callers keep their [`Storage`]s (OpenDAL's
/// connection pool) alive until this returns: a pooled connection dropped first makes its
/// session close asynchronously, which the shutdown could cut between removing the control
/// socket and `ssh -O exit` reaching it.
pub(crate) fn shut_down(runtime: tokio::runtime::Runtime) {
    // A runtime cannot be shut down (blocking) from inside another runtime's task: a thread
    // of its own does it.
    std::thread::scope(|s| {
        let _ = s.spawn(move || runtime.shutdown_timeout(CLOSE_WAIT)).join();
    });
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
