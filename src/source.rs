//! Where an archive is read from: a path on this machine, or a backup at a destination URL
//! (issue 13, the read side).
//!
//! `pgsnap list`, `verify`, `decrypt` and `fetch` take either. [`ArchiveSource`] gives them
//! one way in — the archive's manifest, the names of a directory archive's members, a
//! member or the single file as a stream (or as a seekable reader for the custom and tar
//! readers) — so each check and copy is written once.
//!
//! A URL names one backup under a destination: `s3://bucket/prefix/NAME?endpoint=…` is the
//! backup `NAME` at the destination `s3://bucket/prefix?endpoint=…` (every scheme
//! [`Storage`] opens). `NAME` is a single-file archive (custom, tar, plain) with its
//! `NAME.manifest` beside it, or a directory archive: the objects under `NAME/`, its
//! `NAME/pgsnap.manifest` among them. A backup whose manifest was never written (an
//! interrupted or still running dump) is refused: it is not a backup.
//!
//! Objects are streamed, never copied to local disk: a reader pulls the object through a
//! small bounded queue filled by its own thread (so the download runs ahead of the
//! decompression and checks), and a seek opens a ranged read at the new position unless it
//! lands a little ahead of the current one, where reading on is cheaper than a new request.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use crossbeam_channel::{Receiver, bounded};

use crate::archive::directory::TOC_FILE;
use crate::archive::read::{ArchiveToc, Kind, list_toc, open_regular, read_stream_from};
use crate::archive::toc::decode_toc;
use crate::checksum::ChecksumKind;
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::{FileSum, MANIFEST_FILE, SIDECAR_SUFFIX, manifest_path, sum_file, sum_reader};
use crate::storage::{PART_SIZE, Storage};

/// Chunks (of up to [`PART_SIZE`]) a reader's download may run ahead of its consumer.
const READ_AHEAD: usize = 2;
/// A forward seek at most this far is served by reading on in the current download.
const SKIP_LIMIT: u64 = PART_SIZE as u64;

/// A reader that can also seek (the custom and tar readers need both).
pub trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// An archive to read: a local path, or a committed backup at a destination.
#[derive(Debug)]
pub enum ArchiveSource {
    Local(PathBuf),
    Remote(Remote),
}

/// Whether the command-line argument `arg` is a destination URL rather than a local path.
pub fn is_url(arg: &Path) -> bool {
    arg.to_str().is_some_and(|s| s.contains("://"))
}

impl ArchiveSource {
    /// The archive named on the command line: a URL (see the module documentation) is
    /// opened at its destination and must be a committed backup; anything else is a local
    /// path, checked by the command as before.
    pub fn from_arg(arg: &Path) -> Result<ArchiveSource> {
        match arg.to_str() {
            Some(url) if is_url(arg) => Ok(ArchiveSource::Remote(Remote::open(url)?)),
            _ => Ok(ArchiveSource::Local(arg.to_path_buf())),
        }
    }

    /// The archive as messages name it.
    pub fn shown(&self) -> String {
        match self {
            ArchiveSource::Local(p) => p.display().to_string(),
            ArchiveSource::Remote(r) => r.url.clone(),
        }
    }

    /// A directory archive (else a single file).
    pub fn is_dir(&self) -> bool {
        match self {
            ArchiveSource::Local(p) => p.is_dir(),
            ArchiveSource::Remote(r) => r.dir,
        }
    }

    /// The last component of the archive's name (a plain script's suffix says its codec).
    pub fn file_name(&self) -> String {
        match self {
            ArchiveSource::Local(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            ArchiveSource::Remote(r) => r.name.rsplit('/').next().unwrap_or_default().to_string(),
        }
    }

    /// The manifest as messages name it.
    pub fn manifest_shown(&self) -> String {
        match self {
            ArchiveSource::Local(p) => manifest_path(p).display().to_string(),
            ArchiveSource::Remote(r) if r.dir => format!("{}/{MANIFEST_FILE}", r.url),
            ArchiveSource::Remote(r) => format!("{}{SIDECAR_SUFFIX}", r.url),
        }
    }

    /// A member of a directory archive (`Some`) or the single file (`None`) as messages name
    /// it.
    pub fn member_shown(&self, member: Option<&str>) -> String {
        match (self, member) {
            (ArchiveSource::Local(p), Some(m)) => p.join(m).display().to_string(),
            (ArchiveSource::Remote(r), Some(m)) => format!("{}/{m}", r.url),
            (_, None) => self.shown(),
        }
    }

    /// The manifest's bytes (`NotFound` when there is none).
    pub fn read_manifest(&self) -> io::Result<Vec<u8>> {
        match self {
            ArchiveSource::Local(p) => fs::read(manifest_path(p)),
            ArchiveSource::Remote(r) => Ok(r.manifest.clone()),
        }
    }

    /// The names in a directory archive, manifest included, sorted.
    pub fn member_names(&self) -> io::Result<Vec<String>> {
        match self {
            ArchiveSource::Local(p) => {
                let mut names = Vec::new();
                for e in fs::read_dir(p)? {
                    names.push(e?.file_name().to_string_lossy().into_owned());
                }
                names.sort();
                Ok(names)
            }
            ArchiveSource::Remote(r) => Ok(r.members.keys().cloned().collect()),
        }
    }

    /// Whether a directory archive holds `member`.
    pub fn has_member(&self, member: &str) -> bool {
        match self {
            ArchiveSource::Local(p) => p.join(member).exists(),
            ArchiveSource::Remote(r) => r.members.contains_key(member),
        }
    }

    /// Opens a member of a directory archive (`Some`) or the single file (`None`). Local
    /// files must be regular files (a FIFO in an archive's place is refused, not waited on).
    pub fn open(&self, member: Option<&str>) -> io::Result<Box<dyn Read + Send>> {
        match self {
            ArchiveSource::Local(p) => {
                let path = member.map_or_else(|| p.clone(), |m| p.join(m));
                let (f, _) = open_regular(&path)?;
                Ok(Box::new(io::BufReader::with_capacity(256 * 1024, f)))
            }
            ArchiveSource::Remote(r) => {
                let (object, size) = r.object(member)?;
                Ok(Box::new(r.stream(object, 0, size)))
            }
        }
    }

    /// Opens the single file for reading and seeking.
    pub fn open_seekable(&self) -> io::Result<Box<dyn ReadSeek>> {
        match self {
            ArchiveSource::Local(p) => Ok(Box::new(open_regular(p)?.0)),
            ArchiveSource::Remote(r) => {
                let (object, size) = r.object(None)?;
                Ok(Box::new(RemoteSeek {
                    remote: r.shared.clone(),
                    object,
                    size,
                    pos: 0,
                    current: None,
                }))
            }
        }
    }

    /// Size and `kind` checksum of a member (`Some`) or of the single file (`None`) as
    /// stored; `name` is recorded in the result.
    pub fn sum(&self, member: Option<&str>, name: &str, kind: ChecksumKind) -> io::Result<FileSum> {
        match self {
            ArchiveSource::Local(p) => sum_file(&member.map_or_else(|| p.clone(), |m| p.join(m)), name, kind),
            ArchiveSource::Remote(_) => sum_reader(self.open(member)?, name, kind),
        }
    }

    /// The header and entries of the archive (custom, tar or directory; not decrypted).
    pub fn read_toc(&self) -> Result<ArchiveToc> {
        let r = match self {
            ArchiveSource::Local(p) => return crate::archive::read::read_archive_toc(p),
            ArchiveSource::Remote(r) => r,
        };
        let in_archive = |e: Error| e.context(format!("reading archive \"{}\"", r.url));
        if r.dir {
            let toc = self.member_shown(Some(TOC_FILE));
            let mut bytes = Vec::new();
            self.open(Some(TOC_FILE))
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .map_err(|e| Error::io(format!("could not read \"{toc}\""), e))?;
            let (header, entries) = decode_toc(&bytes).map_err(|e| e.context(format!("reading \"{toc}\"")))?;
            return Ok(ArchiveToc {
                kind: Kind::Directory,
                header,
                entries,
            });
        }
        let mut f = self
            .open(None)
            .map_err(|e| Error::io(format!("could not open \"{}\"", r.url), e))?;
        // Only the TOC at the start is read; dropping the reader stops the download.
        read_stream_from(&mut f, &format!("\"{}\"", r.url)).map_err(in_archive)
    }

    /// Whether the archive's first file (a directory archive's `toc.dat`) starts with an
    /// age header.
    pub fn looks_encrypted(&self) -> bool {
        let member = self.is_dir().then_some(TOC_FILE);
        let magic = crate::crypt::open::AGE_MAGIC;
        let mut head = vec![0u8; magic.len()];
        self.open(member)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok_and(|()| crate::crypt::open::is_age(&head))
    }

    /// What `pg_restore -l` (`-C` with `create`) prints for this archive.
    pub fn list(&self, create: bool) -> Result<String> {
        Ok(list_toc(&self.read_toc()?, create))
    }
}

/// A committed backup at a destination.
pub struct Remote {
    shared: Arc<Shared>,
    /// The archive's object name (a directory archive: the prefix of its members, no `/`).
    name: String,
    /// `destination/name`, as messages show it.
    url: String,
    dir: bool,
    /// Single file: its size.
    size: u64,
    /// Directory archive: member name → size.
    members: BTreeMap<String, u64>,
    manifest: Vec<u8>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("url", &self.url)
            .field("dir", &self.dir)
            .finish()
    }
}

/// The destination and the runtime its requests run on.
struct Shared {
    storage: Storage,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Before `storage` is dropped: its connections (ssh masters) end with the runtime.
        if let Some(r) = self.runtime.take() {
            crate::storage::shut_down(r);
        }
    }
}

impl Shared {
    fn handle(&self) -> Result<tokio::runtime::Handle> {
        self.runtime
            .as_ref()
            .map(|r| r.handle().clone())
            .ok_or_else(|| Error::internal("the storage runtime is gone"))
    }

    /// Runs `fut` to its end on a thread of its own (so that this works from plain threads
    /// and from inside a caller's runtime alike).
    fn run<T: Send>(&self, fut: impl std::future::Future<Output = Result<T>> + Send) -> Result<T> {
        let handle = self.handle()?;
        std::thread::scope(|s| {
            s.spawn(|| handle.block_on(fut))
                .join()
                .map_err(|_| Error::internal("a storage thread panicked"))?
        })
    }
}

/// Splits `scheme://authority/path/NAME[?query]` into the destination URL
/// (`scheme://authority/path[?query]`) and the percent-decoded `NAME`.
fn split_url(url: &str) -> Result<(String, String)> {
    let bad = |why: &str| Error::usage(format!("invalid archive URL \"{}\": {why}", shown_url(url)));
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let base = base.trim_end_matches('/');
    let Some((scheme, rest)) = base.split_once("://") else {
        return Err(bad("expected scheme://…/NAME"));
    };
    let Some((parent, name)) = rest.rsplit_once('/') else {
        return Err(bad("it names a destination but no archive in it (…/NAME)"));
    };
    if parent.is_empty() && scheme != "file" {
        return Err(bad("it names a destination but no archive in it (…/NAME)"));
    }
    let name = crate::storage::url::percent_decode(name).map_err(|e| bad(&e))?;
    if name.is_empty() || name == "." || name == ".." {
        return Err(bad("no archive name"));
    }
    let mut dest = format!("{scheme}://{parent}");
    if scheme == "file" && parent.is_empty() {
        dest.push('/');
    }
    if let Some(q) = query {
        dest.push('?');
        dest.push_str(q);
    }
    Ok((dest, name))
}

/// `url` without its query (endpoints and options) and with any user part hidden.
fn shown_url(url: &str) -> String {
    crate::storage::url::redact(url.split('?').next().unwrap_or_default())
}

impl Remote {
    /// Opens the backup at `url`: a single object with its sidecar manifest, or a directory
    /// archive's objects with theirs. Anything else is an error naming what is missing.
    pub fn open(url: &str) -> Result<Remote> {
        let (dest, name) = split_url(url)?;
        let storage = Storage::open_url(&dest)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("pgsnap-read")
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the storage runtime", e))?;
        let shared = Arc::new(Shared {
            storage,
            runtime: Some(runtime),
        });
        let shown = format!("{}/{name}", shared.storage.location());
        let s = &shared.storage;
        let (single, members) = shared.run(async {
            match s.stat(&name).await? {
                Some(o) => Ok((Some(o.size), Vec::new())),
                None => Ok((None, s.list(&format!("{name}/")).await?)),
            }
        })?;
        let (dir, size, members, manifest_object) = match single {
            Some(size) => (false, size, BTreeMap::new(), format!("{name}{SIDECAR_SUFFIX}")),
            None if members.is_empty() => {
                return Err(Error::new(
                    ErrorKind::Archive,
                    format!(
                        "no archive \"{name}\" at \"{}\" (no such object, nor a directory archive of that name)",
                        s.location()
                    ),
                ));
            }
            None => {
                let prefix = format!("{name}/");
                let members: BTreeMap<String, u64> = members
                    .into_iter()
                    .filter_map(|o| o.name.strip_prefix(&prefix).map(|m| (m.to_string(), o.size)))
                    .collect();
                (true, 0, members, format!("{name}/{MANIFEST_FILE}"))
            }
        };
        // A directory archive's listing already says whether its manifest is there, and its
        // size; a sidecar is asked for once.
        let manifest = shared.run(async {
            let size = if dir {
                members.get(MANIFEST_FILE).copied()
            } else {
                s.stat(&manifest_object).await?.map(|o| o.size)
            };
            match size {
                Some(size) => s.get_bytes_sized(&manifest_object, size).await.map(Some),
                None => Ok(None),
            }
        })?;
        let Some(manifest) = manifest else {
            return Err(Error::new(
                ErrorKind::Archive,
                format!(
                    "backup \"{shown}\" is not committed: its manifest \"{}/{manifest_object}\" is missing (the dump did not complete, or is still uploading); refusing to read it",
                    s.location()
                ),
            ));
        };
        Ok(Remote {
            shared: shared.clone(),
            name,
            url: shown,
            dir,
            size,
            members,
            manifest,
        })
    }

    /// The object holding a member (`Some`) or the single file (`None`), with its size.
    fn object(&self, member: Option<&str>) -> io::Result<(String, u64)> {
        match member {
            None if !self.dir => Ok((self.name.clone(), self.size)),
            Some(m) if self.dir => match self.members.get(m) {
                Some(&size) => Ok((format!("{}/{m}", self.name), size)),
                None => Err(io::Error::new(io::ErrorKind::NotFound, "no such object")),
            },
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a member of a directory archive",
            )),
        }
    }

    fn stream(&self, object: String, offset: u64, size: u64) -> RemoteRead {
        RemoteRead::start(self.shared.clone(), object, offset, size)
    }
}

/// A download read through [`Read`]: its own thread pulls the object's chunks into a queue
/// of [`READ_AHEAD`]; dropping the reader stops the download and waits for the thread, so
/// the destination (and its connections) is never left to a thread that outlives pgsnap's
/// `main`.
struct RemoteRead {
    rx: Receiver<io::Result<Bytes>>,
    chunk: Bytes,
    done: bool,
    /// Dropped to stop the thread while it awaits the next chunk.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RemoteRead {
    /// Reads `object` from `offset` to `size`, its listed size.
    fn start(shared: Arc<Shared>, object: String, offset: u64, size: u64) -> RemoteRead {
        let (tx, rx) = bounded::<io::Result<Bytes>>(READ_AHEAD);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let handle = shared.handle();
        let spawned = std::thread::Builder::new().name("pgsnap-get".into()).spawn(move || {
            let handle = match handle {
                Ok(h) => h,
                Err(e) => {
                    let _ = tx.send(Err(io::Error::other(e)));
                    return;
                }
            };
            let download = async {
                let mut d = match shared.storage.get_range(&object, offset, size).await {
                    Ok(d) => d,
                    Err(e) => {
                        let _ = tx.send(Err(io::Error::other(e)));
                        return;
                    }
                };
                loop {
                    let item = match d.next().await {
                        Ok(Some(b)) if b.is_empty() => continue,
                        Ok(Some(b)) => Ok(b),
                        // An empty chunk marks the end.
                        Ok(None) => Ok(Bytes::new()),
                        Err(e) => Err(io::Error::other(e)),
                    };
                    let last = !matches!(&item, Ok(b) if !b.is_empty());
                    // The reader went away: stop downloading.
                    if tx.send(item).is_err() || last {
                        return;
                    }
                }
            };
            handle.block_on(async {
                tokio::select! {
                    // The reader went away while the download waited on the network.
                    _ = stopped => {}
                    () = download => {}
                }
            });
            // `shared` is let go of here, outside the runtime it may be the last user of.
            drop(shared);
        });
        let (rx, thread) = match spawned {
            Ok(t) => (rx, Some(t)),
            Err(e) => {
                let (tx, rx) = bounded(1);
                let _ = tx.send(Err(e));
                (rx, None)
            }
        };
        RemoteRead {
            rx,
            chunk: Bytes::new(),
            done: false,
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for RemoteRead {
    fn drop(&mut self) {
        // Unblocks a thread waiting to queue a chunk (the queue is disconnected) or awaiting
        // the next one (the stop signal), then waits for it to let go of the destination.
        self.rx = bounded(1).1;
        self.stop = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Read for RemoteRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(b)) if b.is_empty() => self.done = true,
                Ok(Ok(b)) => self.chunk = b,
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Err(io::Error::other("the download stopped without an end"));
                }
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        let _ = self.chunk.split_to(n);
        Ok(n)
    }
}

/// A seekable reader over one object: reads stream from the position; a seek far from it
/// (or backwards) starts a ranged download there on the next read.
struct RemoteSeek {
    remote: Arc<Shared>,
    object: String,
    size: u64,
    pos: u64,
    /// The download in progress and the position it has reached.
    current: Option<RemoteRead>,
}

impl Read for RemoteSeek {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.size {
            return Ok(0);
        }
        let r = self
            .current
            .get_or_insert_with(|| RemoteRead::start(self.remote.clone(), self.object.clone(), self.pos, self.size));
        let n = r.read(buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the object ended at byte {} of {}", self.pos, self.size),
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for RemoteSeek {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        match target.checked_sub(self.pos) {
            Some(0) => {}
            // A little ahead: read on in the current download.
            Some(n) if n <= SKIP_LIMIT && target <= self.size && self.current.is_some() => {
                if let Some(r) = self.current.as_mut() {
                    let skipped = io::copy(&mut r.by_ref().take(n), &mut io::sink())?;
                    if skipped != n {
                        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the object ended early"));
                    }
                }
            }
            // Behind, or far ahead: a new ranged download on the next read.
            _ => self.current = None,
        }
        self.pos = target;
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_destination_and_name() {
        assert_eq!(
            split_url("s3://bk/pre/fix/backup_2026-11-29.dump?endpoint=http://127.0.0.1:9000").unwrap(),
            (
                "s3://bk/pre/fix?endpoint=http://127.0.0.1:9000".to_string(),
                "backup_2026-11-29.dump".to_string()
            )
        );
        assert_eq!(
            split_url("s3://bk/x.dump").unwrap(),
            ("s3://bk".to_string(), "x.dump".to_string())
        );
        assert_eq!(
            split_url("file:///backups/db/app%20dir/").unwrap(),
            ("file:///backups/db".to_string(), "app dir".to_string())
        );
        assert_eq!(
            split_url("file:///x.dump").unwrap(),
            ("file:///".to_string(), "x.dump".to_string())
        );
        for bad in ["s3://bk", "s3://bk/", "nourl", "s3://bk/%zz"] {
            assert!(split_url(bad).is_err(), "{bad}");
        }
        assert!(is_url(Path::new("s3://b/x")));
        assert!(!is_url(Path::new("/backups/x.dump")));
    }

    #[test]
    fn shown_urls_hide_options_and_users() {
        assert_eq!(shown_url("s3://b/x?endpoint=http://h"), "s3://b/x");
        assert_eq!(shown_url("sftp://u:pw@h/x"), "sftp://***@h/x");
    }

    #[test]
    fn an_uncommitted_backup_is_refused_naming_it() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("half.dump"), b"PGDMP").unwrap();
        let url = format!("file://{}/half.dump", d.path().display());
        let e = Remote::open(&url).unwrap_err().to_string();
        assert!(e.contains("not committed") && e.contains("half.dump.manifest"), "{e}");
        fs::create_dir(d.path().join("half dir")).unwrap();
        fs::write(d.path().join("half dir/toc.dat"), b"PGDMP").unwrap();
        let e = Remote::open(&format!("file://{}/half%20dir", d.path().display()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("not committed") && e.contains("half dir/pgsnap.manifest"),
            "{e}"
        );
        let e = Remote::open(&format!("file://{}/nothing", d.path().display()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no archive \"nothing\""), "{e}");
    }

    #[test]
    fn a_remote_object_reads_and_seeks_like_a_file() {
        let d = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..3 * PART_SIZE as u32 + 77).map(|i| (i % 251) as u8).collect();
        fs::write(d.path().join("big.dump"), &data).unwrap();
        fs::write(d.path().join("big.dump.manifest"), b"{}").unwrap();
        let src = ArchiveSource::from_arg(Path::new(&format!("file://{}/big.dump", d.path().display()))).unwrap();
        assert!(!src.is_dir());
        assert_eq!(src.read_manifest().unwrap(), b"{}");
        let mut all = Vec::new();
        src.open(None).unwrap().read_to_end(&mut all).unwrap();
        assert!(all == data);
        let mut s = src.open_seekable().unwrap();
        let mut buf = [0u8; 5];
        for at in [0u64, 10, 100_000, 3 * PART_SIZE as u64, 1000, PART_SIZE as u64 * 2 + 3] {
            s.seek(SeekFrom::Start(at)).unwrap();
            s.read_exact(&mut buf).unwrap();
            assert_eq!(&buf[..], &data[at as usize..at as usize + 5], "at {at}");
        }
        s.seek(SeekFrom::End(-2)).unwrap();
        let mut tail = Vec::new();
        s.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, &data[data.len() - 2..]);
        assert_eq!(
            src.sum(None, "big.dump", ChecksumKind::Sha256).unwrap(),
            sum_reader(&data[..], "big.dump", ChecksumKind::Sha256).unwrap()
        );
    }
}
