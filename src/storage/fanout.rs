//! Fan-out: one archive's bytes, produced once, streamed to every destination at once.
//!
//! [`Destinations`] sits under the archive writer as its output (a
//! [`RemoteOutput`](crate::archive::writer::RemoteOutput)): the format writer (and any
//! encryption layer) writes to one [`ArchiveFile`]; that file hands each 1 MiB block to one
//! uploader thread per destination through a bounded channel. A slow destination fills its
//! channel and so slows the dump (back-pressure) instead of growing memory: per destination
//! at most [`QUEUE_BLOCKS`] blocks queued plus the parts the upload has in flight.
//!
//! Failures: each request is retried with backoff by the storage layer; a destination that
//! still fails is dropped from the fan-out (its upload aborted, nothing published there) while
//! the others complete and are committed. The dump then fails naming it: every destination
//! must succeed for exit 0 (a best-effort policy is not implemented yet). When every
//! destination failed, the dump stops at once.
//!
//! Commit order, per destination: the archive upload completes (the object appears whole,
//! never partly), then `NAME.manifest` is written — last, as the commit marker. A stale
//! manifest of an earlier backup of the same name is removed before the new archive
//! replaces it, so a manifest never vouches for bytes it does not describe.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender, bounded};

use super::{Location, Storage};
use crate::archive::output::ArchiveFile;
use crate::archive::writer::RemoteOutput;
use crate::checksum::{ChecksumKind, Hasher};
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::{FileSum, MANIFEST_FILE, SIDECAR_SUFFIX};

/// Bytes handed to the uploaders at a time.
const BLOCK: usize = 1024 * 1024;
/// Blocks queued per destination before the writer waits.
pub const QUEUE_BLOCKS: usize = 4;

/// The destinations of one dump and the archive's name under each.
pub struct Destinations {
    targets: Vec<Storage>,
    name: String,
    runtime: Arc<UploadRuntime>,
    /// Size and checksum of every file committed, as uploaded.
    sums: Arc<Mutex<Vec<FileSum>>>,
    /// The algorithm of those checksums.
    checksums: ChecksumKind,
    /// Destinations that failed (shown URL, error); nothing more is written to them.
    failed: Arc<Mutex<Vec<(String, Error)>>>,
}

impl std::fmt::Debug for Destinations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Destinations")
            .field("targets", &self.describe())
            .finish()
    }
}

/// A relative, `/`-separated name without empty, `.` or `..` components.
fn name_ok(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('/') && !name.split('/').any(|c| c.is_empty() || c == "." || c == "..")
}

impl Destinations {
    /// Opens every URL (parsing and checking them; nothing is uploaded yet); `name` is the
    /// archive's object name under each (`-f NAME`).
    pub fn open(urls: &[String], name: &str) -> Result<Destinations> {
        let mut targets = Vec::new();
        for u in urls {
            let loc = Location::parse(u)?;
            if targets.iter().any(|t: &Storage| t.location() == &loc) {
                return Err(Error::usage(format!("destination \"{loc}\" is given twice")));
            }
            targets.push(Storage::open(&loc)?);
        }
        Destinations::new(targets, name)
    }

    /// Destinations already opened (library callers with their own credentials).
    pub fn new(targets: Vec<Storage>, name: &str) -> Result<Destinations> {
        if targets.is_empty() {
            return Err(Error::usage("no destination given"));
        }
        if !name_ok(name) {
            return Err(Error::usage(format!(
                "with --to, -f names the archive under each destination (a relative name, not \"{name}\")"
            )));
        }
        // The uploads run on a small runtime of their own: the dump's writers call in from
        // plain threads and from its async tasks alike.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pgsnap-upload")
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the upload runtime", e))?;
        let keep = targets.clone();
        Ok(Destinations {
            targets,
            name: name.to_string(),
            runtime: Arc::new(UploadRuntime {
                runtime: Some(runtime),
                _destinations: keep,
            }),
            sums: Arc::new(Mutex::new(Vec::new())),
            checksums: ChecksumKind::default(),
            failed: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// Sums the uploaded files in `kind` (CRC32C unless chosen).
    pub fn with_checksums(mut self, kind: ChecksumKind) -> Destinations {
        self.checksums = kind;
        self
    }

    /// Checks every destination before anything is dumped (an unusable output fails fast,
    /// as a local path that cannot be written does); names every one that fails.
    pub fn probe(&self) -> Result<()> {
        let handle = self.handle()?;
        let results = on_own_thread(&handle, async {
            futures_util::future::join_all(self.targets.iter().map(Storage::probe)).await
        })?;
        let failed: Vec<String> = results
            .into_iter()
            .filter_map(|r| r.err())
            .map(|e| e.to_string())
            .collect();
        if failed.is_empty() {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::Storage, failed.join("; ")))
        }
    }

    pub fn targets(&self) -> &[Storage] {
        &self.targets
    }

    /// The archive's name under each destination.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The destinations that failed so far, as shown in messages.
    pub fn failed(&self) -> Vec<String> {
        lock(&self.failed).iter().map(|(d, _)| d.clone()).collect()
    }

    fn live_targets(&self) -> Vec<Storage> {
        let failed = self.failed();
        self.targets
            .iter()
            .filter(|t| !failed.contains(&t.location().to_string()))
            .cloned()
            .collect()
    }

    fn handle(&self) -> Result<tokio::runtime::Handle> {
        match &self.runtime.runtime {
            Some(r) => Ok(r.handle().clone()),
            None => Err(Error::internal("upload runtime already shut down")),
        }
    }

    /// Opens `name` on every destination still working as one [`ArchiveFile`]; `unpublish`
    /// names a commit marker of an earlier backup to remove before the new object replaces
    /// the old.
    pub fn open_file(&self, name: &str, unpublish: Option<String>) -> Result<FanOutFile> {
        let handle = self.handle()?;
        let mut uploads = Vec::new();
        for t in self.live_targets() {
            let (tx, rx) = bounded::<Msg>(QUEUE_BLOCKS);
            let dest = t.location().to_string();
            let object = name.to_string();
            let h = handle.clone();
            let storage = t.clone();
            let join = std::thread::Builder::new()
                .name("pgsnap-upload".into())
                .spawn(move || upload(h, storage, object, rx))
                .map_err(|e| Error::io("starting an upload thread", e))?;
            uploads.push(Uploader {
                storage: t,
                dest,
                tx: Some(tx),
                join: Some(join),
            });
        }
        Ok(FanOutFile {
            name: name.to_string(),
            uploads,
            buf: Vec::with_capacity(BLOCK),
            pos: 0,
            digest: Some(Hasher::new(self.checksums)),
            handle,
            unpublish,
            sums: self.sums.clone(),
            failed: self.failed.clone(),
            _runtime: self.runtime.clone(),
        })
    }

    /// Writes `bytes` as `name` to every destination still working, at once; a failure marks
    /// that destination failed.
    fn put_everywhere(&self, name: &str, bytes: Vec<u8>) -> Result<()> {
        let handle = self.handle()?;
        let targets = self.live_targets();
        let results = on_own_thread(&handle, async {
            let puts = targets.iter().map(|t| t.put_bytes(name, bytes.clone()));
            futures_util::future::join_all(puts).await
        })?;
        let mut failed = lock(&self.failed);
        for (t, r) in targets.iter().zip(results) {
            if let Err(e) = r {
                failed.push((t.location().to_string(), e));
            }
        }
        Ok(())
    }
}

/// The uploads' runtime, shared by the destinations and every file open on them, so it
/// outlives the last upload's abort whatever the order things are dropped in; with the
/// destinations, kept until it is shut down (their connections end with it, see
/// [`super::shut_down`]).
struct UploadRuntime {
    runtime: Option<tokio::runtime::Runtime>,
    _destinations: Vec<Storage>,
}

impl Drop for UploadRuntime {
    fn drop(&mut self) {
        if let Some(r) = self.runtime.take() {
            super::shut_down(r);
        }
    }
}

impl RemoteOutput for Destinations {
    fn archive_name(&self) -> &str {
        &self.name
    }

    fn open_archive(&self) -> Result<Box<dyn ArchiveFile>> {
        Ok(Box::new(self.open_file(
            &self.name,
            Some(format!("{}{SIDECAR_SUFFIX}", self.name)),
        )?))
    }

    fn begin_directory(&self) -> Result<()> {
        let handle = self.handle()?;
        let marker = format!("{}/{MANIFEST_FILE}", self.name);
        let results = on_own_thread(&handle, async {
            futures_util::future::join_all(self.targets.iter().map(|t| t.delete(&marker))).await
        })?;
        let failed: Vec<String> = results
            .into_iter()
            .filter_map(|r| r.err())
            .map(|e| e.to_string())
            .collect();
        if failed.is_empty() {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::Storage, failed.join("; ")))
        }
    }

    fn open_member(&self, name: &str) -> Result<Box<dyn ArchiveFile>> {
        Ok(Box::new(self.open_file(&format!("{}/{name}", self.name), None)?))
    }

    fn committed(&self) -> Vec<FileSum> {
        lock(&self.sums).clone()
    }

    /// Writes `NAME.manifest` to every destination that holds the complete archive, then
    /// reports every destination that failed on the way (exit 1: all must succeed).
    fn publish_manifest(&self, json: Vec<u8>, directory: bool) -> Result<()> {
        let object = if directory {
            format!("{}/{MANIFEST_FILE}", self.name)
        } else {
            format!("{}{SIDECAR_SUFFIX}", self.name)
        };
        self.put_everywhere(&object, json)?;
        let done: Vec<String> = self.live_targets().iter().map(|t| t.location().to_string()).collect();
        let failed = lock(&self.failed);
        if failed.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = failed.iter().map(|(d, _)| d.as_str()).collect();
        let detail: Vec<String> = failed.iter().map(|(_, e)| e.to_string()).collect();
        let mut msg = format!(
            "backup \"{}\" failed on {} destination{} ({}): {}",
            self.name,
            failed.len(),
            if failed.len() == 1 { "" } else { "s" },
            names.join(", "),
            detail.join("; ")
        );
        if !done.is_empty() {
            msg.push_str(&format!(" (complete and committed on {})", done.join(", ")));
        }
        Err(Error::new(ErrorKind::Storage, msg))
    }

    fn describe(&self) -> String {
        let list: Vec<String> = self
            .targets
            .iter()
            .map(|t| format!("{}/{}", t.location(), self.name))
            .collect();
        list.join(", ")
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `fut` on the upload runtime from a thread of its own (the caller may be inside
/// another runtime, where blocking on one is refused).
fn on_own_thread<F: std::future::Future + Send>(handle: &tokio::runtime::Handle, fut: F) -> Result<F::Output>
where
    F::Output: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| handle.block_on(fut))
            .join()
            .map_err(|_| Error::internal("an upload thread panicked"))
    })
}

enum Msg {
    Data(Bytes),
    /// Everything was sent: complete the upload.
    Finish,
}

struct Uploader {
    storage: Storage,
    dest: String,
    tx: Option<Sender<Msg>>,
    join: Option<JoinHandle<Result<u64>>>,
}

impl Uploader {
    /// Ends the thread (a closed channel aborts its upload) and returns its outcome.
    fn outcome(&mut self) -> Result<u64> {
        self.tx = None;
        match self.join.take() {
            Some(j) => j.join().unwrap_or_else(|_| {
                Err(Error::internal(format!(
                    "the upload thread of \"{}\" panicked",
                    self.dest
                )))
            }),
            None => Err(Error::internal("upload already ended")),
        }
    }

    fn live(&self) -> bool {
        self.join.is_some()
    }
}

/// The uploader thread of one destination: streams blocks until `Finish` (complete) or a
/// closed channel (abort).
fn upload(handle: tokio::runtime::Handle, storage: Storage, name: String, rx: Receiver<Msg>) -> Result<u64> {
    let mut up = handle.block_on(storage.put(&name))?;
    loop {
        match rx.recv() {
            Ok(Msg::Data(b)) => {
                if let Err(e) = handle.block_on(up.write(b)) {
                    let _ = handle.block_on(up.abort());
                    return Err(e);
                }
            }
            Ok(Msg::Finish) => return handle.block_on(up.finish()),
            Err(_) => {
                if let Err(e) = handle.block_on(up.abort()) {
                    tracing::warn!("{e}");
                }
                return Err(Error::cancelled(format!(
                    "destination \"{}\": upload of \"{name}\" abandoned",
                    storage.location()
                )));
            }
        }
    }
}

/// One file written to every destination; see the module documentation. Dropped without
/// `commit`, every upload is aborted.
pub struct FanOutFile {
    name: String,
    uploads: Vec<Uploader>,
    buf: Vec<u8>,
    pos: u64,
    /// `None` once committed.
    digest: Option<Hasher>,
    handle: tokio::runtime::Handle,
    unpublish: Option<String>,
    sums: Arc<Mutex<Vec<FileSum>>>,
    failed: Arc<Mutex<Vec<(String, Error)>>>,
    /// Kept until after `drop` has waited for the aborts.
    _runtime: Arc<UploadRuntime>,
}

impl FanOutFile {
    /// Marks upload `i` failed with its thread's error.
    fn drop_upload(&mut self, i: usize, fallback: &str) {
        let u = &mut self.uploads[i];
        let e = match u.outcome() {
            Ok(_) => Error::internal(fallback.to_string()),
            Err(e) => e,
        };
        tracing::warn!("destination \"{}\" failed: {e}", u.dest);
        lock(&self.failed).push((u.dest.clone(), e));
    }

    /// Errors when no destination is left.
    fn any_left(&self) -> Result<()> {
        if self.uploads.iter().any(Uploader::live) {
            return Ok(());
        }
        let failed = lock(&self.failed);
        let detail: Vec<String> = failed.iter().map(|(_, e)| e.to_string()).collect();
        Err(Error::new(
            ErrorKind::Storage,
            format!(
                "every destination failed writing \"{}\": {}",
                self.name,
                detail.join("; ")
            ),
        ))
    }

    fn send_block(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let block = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(BLOCK)));
        for i in 0..self.uploads.len() {
            let sent = match &self.uploads[i].tx {
                Some(tx) => tx.send(Msg::Data(block.clone())).is_ok(),
                None => continue,
            };
            if !sent {
                self.drop_upload(i, "upload ended early");
            }
        }
        self.any_left()
    }
}

impl ArchiveFile for FanOutFile {
    fn write_all(&mut self, mut buf: &[u8]) -> Result<()> {
        if let Some(d) = self.digest.as_mut() {
            d.update(buf);
        }
        self.pos += buf.len() as u64;
        while !buf.is_empty() {
            let room = BLOCK - self.buf.len();
            let n = room.min(buf.len());
            self.buf.extend_from_slice(&buf[..n]);
            buf = &buf[n..];
            if self.buf.len() == BLOCK {
                self.send_block()?;
            }
        }
        Ok(())
    }

    fn position(&self) -> u64 {
        self.pos
    }

    fn is_atomic(&self) -> bool {
        true
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        self.send_block()?;
        // An earlier backup's commit marker must not outlive the bytes it described.
        if let Some(marker) = self.unpublish.take() {
            let live: Vec<usize> = (0..self.uploads.len()).filter(|&i| self.uploads[i].live()).collect();
            let storages: Vec<Storage> = live.iter().map(|&i| self.uploads[i].storage.clone()).collect();
            let results = on_own_thread(&self.handle, async {
                futures_util::future::join_all(storages.iter().map(|t| t.delete(&marker))).await
            })?;
            for (i, r) in live.into_iter().zip(results) {
                if let Err(e) = r {
                    // Its upload must not complete under a stale manifest: abort it.
                    let u = &mut self.uploads[i];
                    let _ = u.outcome();
                    lock(&self.failed).push((u.dest.clone(), e));
                }
            }
            self.any_left()?;
        }
        for u in &self.uploads {
            if let Some(tx) = &u.tx {
                // A closed channel: the thread already failed; its outcome says why.
                let _ = tx.send(Msg::Finish);
            }
        }
        for i in 0..self.uploads.len() {
            if !self.uploads[i].live() {
                continue;
            }
            let u = &mut self.uploads[i];
            if let Err(e) = u.outcome() {
                tracing::warn!("destination \"{}\" failed: {e}", u.dest);
                lock(&self.failed).push((u.dest.clone(), e));
            }
        }
        let completed = self
            .uploads
            .iter()
            .filter(|u| !lock(&self.failed).iter().any(|(d, _)| d == &u.dest))
            .count();
        if completed == 0 {
            let failed = lock(&self.failed);
            let detail: Vec<String> = failed.iter().map(|(_, e)| e.to_string()).collect();
            return Err(Error::new(
                ErrorKind::Storage,
                format!(
                    "every destination failed writing \"{}\": {}",
                    self.name,
                    detail.join("; ")
                ),
            ));
        }
        let digest = self.digest.take().unwrap_or(Hasher::None);
        let file_name = self.name.rsplit('/').next().unwrap_or(&self.name).to_string();
        lock(&self.sums).push(FileSum::from_hasher(file_name, self.pos, digest));
        Ok(())
    }

    fn describe(&self) -> String {
        let list: Vec<String> = self
            .uploads
            .iter()
            .map(|u| format!("{}/{}", u.dest, self.name))
            .collect();
        list.join(", ")
    }
}

impl Drop for FanOutFile {
    fn drop(&mut self) {
        // Uncommitted: close every channel (the uploads abort) and wait for the aborts, so no
        // temporary outlives the dump that made it.
        for u in &mut self.uploads {
            if u.live() {
                let _ = u.outcome();
            }
        }
    }
}
