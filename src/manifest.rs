//! The archive manifest: proof of what a dump wrote, checked by `pgsnap verify`.
//!
//! `pgsnap.manifest` is JSON, written last, after the archive is complete and in place: its
//! presence means the dump finished. It records pgsnap's and the server's versions, the
//! database, the snapshot, start and end times, the archive version and which pg_restore
//! versions read it, format and codec, the recipients' public keys (never a secret), per file
//! its size and checksum of the bytes on disk (ciphertext when encrypted; CRC32C unless
//! `--manifest-checksums` chose SHA-256 or none, see [`crate::checksum`]), and per table the
//! rows of its COPY stream as the dump received them (one COPY data message per row).
//!
//! Where it goes: inside a directory archive (pg_restore ignores files the TOC does not
//! name); beside a single-file archive as `NAME.manifest` (a sidecar, not a trailer: bytes
//! after an age file's end make `age -d` fail, bytes after a tar's end-of-archive blocks
//! are easily lost by tools that rewrite tars, and a file cannot hold its own checksum). A
//! dump to standard output or a device has no manifest. An encrypted archive's manifest
//! names no table (row counts are per dump id), so its plaintext tells nothing about the
//! schema.
//!
//! Checksums are taken from the bytes as they are written (`archive::digest`), or, for a
//! file rewritten in place (the custom format's TOC with its data offsets), by reading it
//! back once it is complete: either way the bytes summed are those on disk.
//!
//! Version 2 names each file's checksum by its algorithm (`"crc32c"` or `"sha256"`, or
//! neither); version 1, which always had `"sha256"`, is still read.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::archive::digest::DigestLayer;
use crate::archive::output::FileLayer;
use crate::archive::toc::{Header, TocEntry};
use crate::archive::writer::{ArchiveWriter, DataSink, DataSinks, Finished, RemoteOutput};
use crate::checksum::{ChecksumKind, Hasher};
use crate::codec::Compression;
use crate::error::{Error, ErrorKind, Result};

/// Name of the manifest inside a directory archive.
pub const MANIFEST_FILE: &str = "pgsnap.manifest";
/// Suffix of a single-file archive's sidecar manifest.
pub const SIDECAR_SUFFIX: &str = ".manifest";
/// The layout version of the manifest written here.
pub const MANIFEST_VERSION: u32 = 2;
/// The oldest layout still read.
const OLDEST_MANIFEST_VERSION: u32 = 1;

/// One archive file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    /// Name inside a directory archive, or the file name of a single-file archive.
    pub name: String,
    pub size: u64,
    /// Lower-case hex CRC-32C of the bytes on disk (the default algorithm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32c: Option<String>,
    /// Lower-case hex SHA-256 of the bytes on disk (always there in version 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl FileSum {
    /// `name` of `size` bytes whose checksum in `kind` is `sum` (`None` for sizes only).
    pub fn new(name: impl Into<String>, size: u64, kind: ChecksumKind, sum: Option<String>) -> FileSum {
        let (mut crc32c, mut sha256) = (None, None);
        match kind {
            ChecksumKind::Crc32c => crc32c = sum,
            ChecksumKind::Sha256 => sha256 = sum,
            ChecksumKind::None => {}
        }
        FileSum {
            name: name.into(),
            size,
            crc32c,
            sha256,
        }
    }

    /// `name` of `size` bytes, summed by `h`.
    pub(crate) fn from_hasher(name: impl Into<String>, size: u64, h: Hasher) -> FileSum {
        let kind = h.kind();
        FileSum::new(name, size, kind, h.finish())
    }

    /// The algorithm of the checksum it records (SHA-256 when, oddly, both are there).
    pub fn kind(&self) -> ChecksumKind {
        if self.sha256.is_some() {
            ChecksumKind::Sha256
        } else if self.crc32c.is_some() {
            ChecksumKind::Crc32c
        } else {
            ChecksumKind::None
        }
    }

    /// The checksum it records, in [`FileSum::kind`].
    pub fn checksum(&self) -> Option<&str> {
        self.sha256.as_deref().or(self.crc32c.as_deref())
    }

    /// Whether `actual` (summed in this entry's kind) has this entry's size and checksum;
    /// `Err` names what differs.
    pub fn matches(&self, actual: &FileSum) -> std::result::Result<(), String> {
        if actual.size != self.size {
            return Err(format!(
                "size {} differs from the manifest's {} (truncated or replaced)",
                actual.size, self.size
            ));
        }
        if actual.checksum() != self.checksum() {
            return Err(format!(
                "{} differs from the manifest (damaged or replaced)",
                self.kind().shown()
            ));
        }
        Ok(())
    }
}

/// Rows of one table as the dump wrote them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRows {
    pub dump_id: i32,
    /// `schema.table`; left out of encrypted archives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// Data lines of its COPY stream.
    pub rows: u64,
}

/// The manifest document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub manifest_version: u32,
    pub pgsnap_version: String,
    pub server_version: String,
    pub database: String,
    pub snapshot: String,
    pub started: String,
    pub finished: String,
    pub format: String,
    pub compression: String,
    pub archive_version: String,
    pub readers: String,
    pub encrypted: bool,
    pub recipients: Vec<String>,
    pub files: Vec<FileSum>,
    pub tables: Vec<TableRows>,
}

impl Manifest {
    /// Parses a manifest; every field must be present.
    pub fn parse(text: &[u8]) -> std::result::Result<Manifest, String> {
        let m: Manifest = serde_json::from_slice(text).map_err(|e| e.to_string())?;
        if !(OLDEST_MANIFEST_VERSION..=MANIFEST_VERSION).contains(&m.manifest_version) {
            return Err(format!("unknown manifest version {}", m.manifest_version));
        }
        Ok(m)
    }

    pub fn to_json(&self) -> Result<Vec<u8>> {
        let mut v = serde_json::to_vec_pretty(self).map_err(|e| Error::internal(format!("manifest: {e}")))?;
        v.push(b'\n');
        Ok(v)
    }
}

/// Where the manifest of the archive at `archive` lives.
pub fn manifest_path(archive: &Path) -> PathBuf {
    if archive.is_dir() {
        archive.join(MANIFEST_FILE)
    } else {
        let mut s = archive.as_os_str().to_owned();
        s.push(SIDECAR_SUFFIX);
        PathBuf::from(s)
    }
}

/// Size and `kind` checksum of the file at `path`, read to its end.
pub fn sum_file(path: &Path, name: &str, kind: ChecksumKind) -> io::Result<FileSum> {
    sum_reader(fs::File::open(path)?, name, kind)
}

/// Size and `kind` checksum of what `f` yields, read to its end (a file, or an object
/// streamed from a destination).
pub fn sum_reader(mut f: impl Read, name: &str, kind: ChecksumKind) -> io::Result<FileSum> {
    let mut ctx = Hasher::new(kind);
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        ctx.update(&buf[..n]);
        size += n as u64;
    }
    Ok(FileSum::from_hasher(name, size, ctx))
}

/// `YYYY-MM-DDTHH:MM:SSZ` of `t` (UTC).
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a proleptic Gregorian date, by 400-year eras.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

// ---------------------------------------------------------------------------------------------
// Counting rows in COPY text

/// Counts the rows of a COPY text stream: one line per row, up to the `\.` end marker (the
/// lines after it, if any, are not rows). Fed block by block; lines may span blocks.
#[derive(Debug, Default, Clone)]
pub struct RowCounter {
    rows: u64,
    /// Bytes of the current line so far (up to 3 kept to recognise `\.`).
    line: Vec<u8>,
    line_len: u64,
    ended: bool,
}

impl RowCounter {
    pub fn feed(&mut self, mut block: &[u8]) {
        while !block.is_empty() && !self.ended {
            // The line in progress (it may have begun in an earlier block) one at a time:
            // it may be the end marker.
            let Some(i) = memchr::memchr(b'\n', block) else {
                self.take(block);
                return;
            };
            self.take(&block[..i]);
            self.end_line();
            if self.ended {
                return;
            }
            block = &block[i + 1..];
            // Then the whole lines before the end marker, counted in bulk: this runs over
            // every byte of a dump's data, so no per-line work.
            let body = &block[..end_marker(block).unwrap_or(block.len())];
            if let Some(last) = memchr::memrchr(b'\n', body) {
                self.rows += memchr::memchr_iter(b'\n', &body[..last]).count() as u64 + 1;
                block = &block[last + 1..];
            }
        }
    }

    /// A line ends: a row, or the end marker `\.`.
    fn end_line(&mut self) {
        if self.line_len == 2 && self.line == b"\\." {
            self.ended = true;
        } else {
            self.rows += 1;
        }
        self.line.clear();
        self.line_len = 0;
    }

    fn take(&mut self, part: &[u8]) {
        if self.line.len() < 3 {
            let room = 3 - self.line.len();
            self.line.extend_from_slice(&part[..part.len().min(room)]);
        }
        self.line_len += part.len() as u64;
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Whether the `\.` end marker was seen.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Whether the stream ended inside a line (no final newline).
    pub fn partial_line(&self) -> bool {
        self.line_len > 0
    }
}

/// Where the first complete `\.` line starts in `b`, which starts at a line start.
fn end_marker(b: &[u8]) -> Option<usize> {
    memchr::memmem::find_iter(b, b"\\.\n").find(|&p| p == 0 || b[p - 1] == b'\n')
}

// ---------------------------------------------------------------------------------------------
// Writing

/// What the dump knows that the writer does not.
#[derive(Debug, Default)]
struct Known {
    snapshot: String,
    started: Option<SystemTime>,
}

/// Handle for the dump to record what only it knows (the snapshot).
#[derive(Debug, Clone, Default)]
pub struct ManifestNotes(Arc<Mutex<Known>>);

impl ManifestNotes {
    /// Notes nobody reads (a dump with `--no-manifest`).
    pub fn none() -> ManifestNotes {
        ManifestNotes(Arc::new(Mutex::new(Known {
            snapshot: String::new(),
            started: None,
        })))
    }

    pub fn set_snapshot(&self, id: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).snapshot = id.to_string();
    }
}

/// Wraps `inner` so that its completed archive gets a manifest. `format` and `readers` as
/// the manifest states them; `layers` are asked for the public keys; a file `digests` has
/// no sum for is read back and summed in `checksums`.
pub fn wrap(
    inner: Box<dyn ArchiveWriter>,
    format: &str,
    compression: Compression,
    layers: &[Arc<dyn FileLayer>],
    remote: Option<Arc<dyn RemoteOutput>>,
    digests: Option<Arc<DigestLayer>>,
    checksums: ChecksumKind,
) -> (Box<dyn ArchiveWriter>, ManifestNotes) {
    let notes = ManifestNotes(Arc::new(Mutex::new(Known {
        snapshot: String::new(),
        started: Some(SystemTime::now()),
    })));
    let recipients: Vec<String> = layers.iter().flat_map(|l| l.public_keys()).collect();
    let w = ManifestWriter {
        inner: Some(inner),
        notes: notes.clone(),
        format: format.to_string(),
        compression,
        encrypted: layers.iter().any(|l| l.seals_temporaries()),
        recipients,
        header: None,
        tables: BTreeMap::new(),
        counts: Arc::new(Mutex::new(BTreeMap::new())),
        remote,
        digests,
        checksums,
    };
    (Box::new(w), notes)
}

struct ManifestWriter {
    inner: Option<Box<dyn ArchiveWriter>>,
    notes: ManifestNotes,
    format: String,
    compression: Compression,
    encrypted: bool,
    recipients: Vec<String>,
    header: Option<Header>,
    /// COPY data entries: dump id → `schema.table`.
    tables: BTreeMap<i32, String>,
    counts: Arc<Mutex<BTreeMap<i32, u64>>>,
    /// Destinations: the sums come from the upload, the manifest goes to each.
    remote: Option<Arc<dyn RemoteOutput>>,
    /// A local archive: the sums taken as its files were written (the writer's innermost
    /// layer); a file it has none for is read back.
    digests: Option<Arc<DigestLayer>>,
    checksums: ChecksumKind,
}

impl ArchiveWriter for ManifestWriter {
    fn start(&mut self, header: Header, entries: Vec<TocEntry>) -> Result<()> {
        self.tables = entries
            .iter()
            .filter(|e| e.had_dumper && e.desc == "TABLE DATA" && e.copy_stmt.as_deref().is_some_and(|s| !s.is_empty()))
            .map(|e| {
                let name = match &e.namespace {
                    Some(ns) if !ns.is_empty() => format!("{ns}.{}", e.tag),
                    _ => e.tag.clone(),
                };
                (e.dump_id, name)
            })
            .collect();
        self.header = Some(header.clone());
        match self.inner.as_mut() {
            Some(w) => w.start(header, entries),
            None => Err(Error::internal("manifest writer without an archive")),
        }
    }

    fn sinks(&self) -> Result<Arc<dyn DataSinks>> {
        let Some(w) = self.inner.as_ref() else {
            return Err(Error::internal("manifest writer without an archive"));
        };
        Ok(Arc::new(CountingSinks {
            inner: w.sinks()?,
            tables: self.tables.keys().copied().collect(),
            counts: self.counts.clone(),
        }))
    }

    fn data_order(&self) -> Option<Vec<i32>> {
        self.inner.as_ref().and_then(|w| w.data_order())
    }

    fn finish(mut self: Box<Self>) -> Result<Finished> {
        let Some(inner) = self.inner.take() else {
            return Err(Error::internal("manifest writer without an archive"));
        };
        let finished = inner.finish()?;
        if let Some(remote) = &self.remote {
            // Its errors name the destinations that failed and those that completed.
            let mut files = remote.committed();
            files.sort_by(|a, b| a.name.cmp(&b.name));
            remote.publish_manifest(self.manifest(files).to_json()?, self.format == "directory")?;
        } else if let Some(path) = &finished.path {
            self.write_manifest(path).map_err(|e| {
                e.context(format!(
                    "archive \"{}\" is complete but its manifest is not",
                    path.display()
                ))
            })?;
        }
        Ok(finished)
    }
}

impl ManifestWriter {
    fn write_manifest(&self, archive: &Path) -> Result<()> {
        let meta = fs::metadata(archive).map_err(|e| Error::io(format!("checking \"{}\"", archive.display()), e))?;
        // A device or FIFO (`-f /dev/null`) gets none.
        if !meta.is_dir() && !meta.is_file() {
            return Ok(());
        }
        let mut files = Vec::new();
        if meta.is_dir() {
            let mut names: Vec<String> = fs::read_dir(archive)
                .map_err(|e| Error::io(format!("reading \"{}\"", archive.display()), e))?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != MANIFEST_FILE)
                .collect();
            names.sort();
            for n in names {
                files.push(self.sum(&archive.join(&n), n)?);
            }
        } else {
            let name = archive
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            files.push(self.sum(archive, name)?);
        }
        let path = manifest_path(archive);
        let json = self.manifest(files).to_json()?;
        match write_atomically(&path, &json) {
            Err(e) if !meta.is_dir() && crate::archive::output::cannot_create_in_dir(&e) => {
                write_sidecar_in_place(&path, &json, e)
            }
            other => other,
        }
    }

    /// The sum of the archive file at `path`, named `name`: the one taken while it was
    /// written, else read back.
    fn sum(&self, path: &Path, name: String) -> Result<FileSum> {
        let read_err = |e| Error::io(format!("reading \"{}\"", path.display()), e);
        if let Some(d) = &self.digests {
            let size = fs::metadata(path).map_err(read_err)?.len();
            if let Some(s) = d.sum_of(&name, size) {
                return Ok(s);
            }
        }
        sum_file(path, &name, self.checksums).map_err(read_err)
    }

    /// The manifest of an archive made of `files`.
    fn manifest(&self, files: Vec<FileSum>) -> Manifest {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let tables = self
            .tables
            .iter()
            .filter_map(|(id, name)| {
                counts.get(id).map(|&rows| TableRows {
                    dump_id: *id,
                    table: (!self.encrypted).then(|| name.clone()),
                    rows,
                })
            })
            .collect();
        let (snapshot, started) = {
            let k = self.notes.0.lock().unwrap_or_else(|p| p.into_inner());
            (k.snapshot.clone(), k.started.unwrap_or_else(SystemTime::now))
        };
        let header = self.header.as_ref();
        let plain = self.format == "plain";
        Manifest {
            manifest_version: MANIFEST_VERSION,
            pgsnap_version: env!("CARGO_PKG_VERSION").to_string(),
            server_version: header.map(|h| h.server_version.clone()).unwrap_or_default(),
            database: header.map(|h| h.dbname.clone()).unwrap_or_default(),
            snapshot,
            started: rfc3339(started),
            finished: rfc3339(SystemTime::now()),
            format: self.format.clone(),
            compression: self.compression.name().to_string(),
            archive_version: if plain {
                "none (SQL script)".into()
            } else {
                header.map(|h| h.version.to_string()).unwrap_or_default()
            },
            readers: if plain {
                "psql".into()
            } else {
                header.map(|h| h.version.readers()).unwrap_or_default()
            },
            encrypted: self.encrypted,
            recipients: self.recipients.clone(),
            files,
            tables,
        }
    }
}

/// A single-file archive written in place in a directory nobody may write (see
/// `archive::output::open_single_file`): an existing sidecar that can be written is rewritten
/// in place; with none, the archive is complete but has no manifest, which is said (a
/// warning: the archive itself is what pg_dump would have written). An existing sidecar that
/// cannot be updated would describe another archive: that is an error.
fn write_sidecar_in_place(path: &Path, json: &[u8], why: Error) -> Result<()> {
    let shown = path.display();
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => {
            let res = fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(path)
                .and_then(|mut f| f.write_all(json).and_then(|()| f.sync_all()));
            res.map_err(|e| {
                Error::io(
                    format!("could not update manifest \"{shown}\", which describes an earlier archive"),
                    e,
                )
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            tracing::warn!(
                "no manifest written: {why}; the archive is complete, but `pgsnap verify` needs \"{shown}\""
            );
            Ok(())
        }
        _ => Err(why),
    }
}

/// Writes `bytes` to `path` through a private temporary sibling renamed into place.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let shown = path.display();
    let dir = crate::archive::output::parent_dir(path);
    let tmp = dir.join(format!(
        ".{}.pgsnap-tmp-{}-m",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = fs::remove_file(&tmp);
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let res = opts
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = res {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(format!("could not write manifest \"{shown}\""), e));
    }
    if let Ok(d) = fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

struct CountingSinks {
    inner: Arc<dyn DataSinks>,
    tables: std::collections::HashSet<i32>,
    counts: Arc<Mutex<BTreeMap<i32, u64>>>,
}

impl DataSinks for CountingSinks {
    fn open(&self, dump_id: i32) -> Result<Box<dyn DataSink>> {
        let inner = self.inner.open(dump_id)?;
        if !self.tables.contains(&dump_id) {
            return Ok(inner);
        }
        Ok(Box::new(CountingSink {
            inner,
            dump_id,
            told: None,
            counts: self.counts.clone(),
        }))
    }
}

/// Records a table's rows as the engine tells them (the COPY data messages it received): a
/// second count of every byte of the text cost 4 % of an uncompressed dump's client CPU.
/// `verify` counts the archive's lines and compares.
struct CountingSink {
    inner: Box<dyn DataSink>,
    dump_id: i32,
    told: Option<u64>,
    counts: Arc<Mutex<BTreeMap<i32, u64>>>,
}

impl DataSink for CountingSink {
    fn write(&mut self, block: Vec<u8>) -> Result<()> {
        self.inner.write(block)
    }
    fn rows(&mut self, rows: u64) {
        self.told = Some(rows);
    }
    fn start_object(&mut self, oid: u32) -> Result<()> {
        self.inner.start_object(oid)
    }
    fn end_object(&mut self) -> Result<()> {
        self.inner.end_object()
    }
    fn finish(self: Box<Self>) -> Result<u64> {
        // Every table's stream comes from the engine, which tells; a wrapper that did not pass
        // the count on must not leave a manifest that silently checks no rows.
        let rows = self.told.ok_or_else(|| {
            Error::internal(format!(
                "the rows of data entry {} were not told to the manifest",
                self.dump_id
            ))
        })?;
        let n = self.inner.finish()?;
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(self.dump_id, rows);
        Ok(n)
    }
}

/// A problem found in an archive: which file, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.what)
    }
}

/// The error for a failed verification.
pub fn problems_error(problems: &[Problem]) -> Error {
    Error::new(
        ErrorKind::Archive,
        format!("archive verification failed: {} problem(s)", problems.len()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_lines_up_to_the_end_marker() {
        let mut c = RowCounter::default();
        c.feed(b"1\ta\n2\tb");
        c.feed(b"\n3\t\\N\n\\");
        c.feed(b".\n\n");
        assert_eq!(c.rows(), 3);
        assert!(!c.partial_line());
        // Without the marker every line counts; a line that only starts like it is a row.
        let mut c = RowCounter::default();
        c.feed(b"\\.x\n\\\\.\n");
        assert_eq!(c.rows(), 2);
        let mut c = RowCounter::default();
        c.feed(b"1\n2");
        assert_eq!(c.rows(), 1);
        assert!(c.partial_line());
    }

    /// The counter against a line-by-line count, over many ways of cutting the stream.
    #[test]
    fn rows_counted_in_bulk_match_a_line_by_line_count() {
        let naive = |text: &[u8]| {
            let mut rows = 0;
            for line in text.split(|&c| c == b'\n') {
                if line == b"\\." {
                    return (rows, true);
                }
                rows += 1;
            }
            (rows - 1, false)
        };
        let mut text = Vec::new();
        for i in 0..400u32 {
            match i % 9 {
                0 => text.extend_from_slice(b"\\.\tnot the end\n"),
                1 => text.extend_from_slice(b"x\\\\.\n"),
                2 => text.extend_from_slice(b"\n"),
                _ => text.extend_from_slice(format!("{i}\tsome text {}\n", "y".repeat(i as usize % 37)).as_bytes()),
            }
        }
        let mut ended = text.clone();
        ended.extend_from_slice(b"\\.\n\n\nafter\n");
        for stream in [&text, &ended] {
            let want = naive(stream);
            for cut in [1usize, 2, 3, 5, 7, 64, 1000, stream.len()] {
                let mut c = RowCounter::default();
                for piece in stream.chunks(cut) {
                    c.feed(piece);
                }
                assert_eq!((c.rows(), c.ended()), want, "pieces of {cut}");
            }
        }
    }

    #[test]
    fn manifest_json_round_trip_and_times() {
        let m = Manifest {
            manifest_version: 1,
            pgsnap_version: "0.1.0".into(),
            server_version: "18.1".into(),
            database: "shop".into(),
            snapshot: "00000003-0000001B-1".into(),
            started: rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000)),
            finished: rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs(951_782_400)),
            format: "directory".into(),
            compression: "gzip".into(),
            archive_version: "1.14".into(),
            readers: "pg_restore 14-18".into(),
            encrypted: false,
            recipients: vec![],
            files: vec![
                FileSum::new("toc.dat", 3, ChecksumKind::Crc32c, Some("0a0b0c0d".into())),
                FileSum::new("1.dat", 3, ChecksumKind::Sha256, Some("ab".into())),
                FileSum::new("2.dat", 0, ChecksumKind::None, None),
            ],
            tables: vec![TableRows {
                dump_id: 4,
                table: Some("public.t".into()),
                rows: 9,
            }],
        };
        assert_eq!(m.started, "2023-11-14T22:13:20Z");
        assert_eq!(m.finished, "2000-02-29T00:00:00Z");
        let back = Manifest::parse(&m.to_json().unwrap()).unwrap();
        assert_eq!(back, m);
        let mut v: serde_json::Value = serde_json::from_slice(&m.to_json().unwrap()).unwrap();
        v.as_object_mut().unwrap().remove("files");
        assert!(Manifest::parse(v.to_string().as_bytes()).is_err());
    }

    #[test]
    fn files_are_summed_in_the_chosen_algorithm() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        fs::write(&p, b"abc").unwrap();
        let s = sum_file(&p, "f", ChecksumKind::Sha256).unwrap();
        assert_eq!(s.size, 3);
        assert_eq!(s.kind(), ChecksumKind::Sha256);
        assert_eq!(
            s.checksum(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        let c = sum_file(&p, "f", ChecksumKind::Crc32c).unwrap();
        assert_eq!(
            (c.kind(), c.checksum(), c.sha256.as_deref()),
            (ChecksumKind::Crc32c, Some("364b3fb7"), None)
        );
        let n = sum_file(&p, "f", ChecksumKind::None).unwrap();
        assert_eq!((n.size, n.kind(), n.checksum()), (3, ChecksumKind::None, None));
    }

    #[test]
    fn a_file_matches_its_entry_by_size_then_checksum() {
        let want = FileSum::new("f", 3, ChecksumKind::Crc32c, Some("364b3fb7".into()));
        assert_eq!(want.matches(&want.clone()), Ok(()));
        let short = FileSum::new("f", 2, ChecksumKind::Crc32c, Some("364b3fb7".into()));
        assert!(
            want.matches(&short)
                .unwrap_err()
                .starts_with("size 2 differs from the manifest's 3")
        );
        let other = FileSum::new("f", 3, ChecksumKind::Crc32c, Some("00000000".into()));
        assert_eq!(
            want.matches(&other).unwrap_err(),
            "CRC32C differs from the manifest (damaged or replaced)"
        );
        let sizes_only = FileSum::new("f", 3, ChecksumKind::None, None);
        assert_eq!(sizes_only.matches(&sizes_only.clone()), Ok(()));
    }

    #[test]
    fn a_version_1_manifest_is_still_read() {
        let v1 = br#"{"manifest_version": 1, "pgsnap_version": "0.1.0", "server_version": "18.1",
            "database": "d", "snapshot": "s", "started": "a", "finished": "b", "format": "custom",
            "compression": "gzip", "archive_version": "1.16", "readers": "pg_restore 18",
            "encrypted": false, "recipients": [], "tables": [],
            "files": [{"name": "d.dump", "size": 3,
                       "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}]}"#;
        let m = Manifest::parse(v1).unwrap();
        assert_eq!(m.files[0].kind(), ChecksumKind::Sha256);
        let newer = String::from_utf8_lossy(v1).replace("\"manifest_version\": 1", "\"manifest_version\": 3");
        assert_eq!(
            Manifest::parse(newer.as_bytes()).unwrap_err(),
            "unknown manifest version 3"
        );
    }
}
