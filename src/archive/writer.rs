//! The archive-writer seam, in the spirit of pg_dump's format back-ends (pg_backup_archiver.c
//! calls `_ArchiveEntry`, `_StartData`/`_WriteData`/`_EndData`, `_StartLOs`…, `_CloseArchive`
//! through function pointers): the dump orchestrator hands over the header and the TOC, opens
//! one data sink per data-bearing entry, and finishes. Everything that differs between formats
//! — the header's format byte, per-entry file names or data offsets, where data goes, in which
//! order, how it is compressed and framed — stays behind [`ArchiveWriter`].
//!
//! Life of a writer:
//! 1. [`create`] checks the output (before the dump connects to anything);
//! 2. [`ArchiveWriter::start`] gets the header and every TOC entry in restore order. It comes
//!    before the data because the streaming formats write the TOC first (custom to a pipe,
//!    tar); the writer completes the entries (file names, format byte) itself;
//! 3. [`ArchiveWriter::sinks`] opens a [`DataSink`] per entry with `had_dumper`, from any
//!    thread, in any order; each receives that entry's byte stream in order (COPY text for
//!    TABLE DATA; for BLOBS, each large object between `start_object` and `end_object`);
//! 4. [`ArchiveWriter::finish`] completes the archive (offsets, toc.dat, trailers), makes it
//!    durable and moves it into place.
//!
//! Dropping a writer (or a sink) before `finish` abandons it: temporaries are removed and
//! nothing that looks like a complete archive is left — to a stream, the bytes that would make
//! it look complete are never written.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::output::FileLayer;
use super::script::ScriptOptions;
use super::toc::{Header, TocEntry};
use crate::codec::{Compression, ParallelEncoder};
use crate::error::{Error, ErrorKind, Result};

/// The archive formats with a writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `-Fd`: `toc.dat` plus a file per data entry.
    Directory,
    /// `-Fc`: one file, data blocks after the TOC.
    Custom,
    /// `-Ft`: a POSIX tar of the directory layout, uncompressed.
    Tar,
    /// `-Fp`: an SQL script, compressed as a whole when asked.
    Plain,
}

/// How a writer writes.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    pub compression: Compression,
    /// fsync files and directories before reporting success (pg_dump's default; `--no-sync`).
    pub sync: bool,
    /// Byte transforms every archive file passes through (see [`FileLayer`]).
    pub layers: Vec<Arc<dyn FileLayer>>,
    /// How the plain format prints its script (ignored by the archive formats, whose
    /// restore-time switches belong to pg_restore).
    pub script: ScriptOptions,
    /// Where the archive goes instead of a local path (destinations, `--to`).
    pub remote: Option<Arc<dyn RemoteOutput>>,
}

/// The output of an archive that is not a local path: the destinations of `--to`
/// ([`crate::storage::fanout::Destinations`]). It opens the archive's file (or a directory
/// archive's members), keeps
/// what was committed (size, checksum as uploaded) and takes the manifest last, as the commit
/// marker.
pub trait RemoteOutput: Send + Sync + std::fmt::Debug {
    /// The archive's name (messages, the manifest's file entry).
    fn archive_name(&self) -> &str;
    /// Opens the archive's file (atomic: nothing is published before `commit`).
    fn open_archive(&self) -> Result<Box<dyn super::output::ArchiveFile>>;
    /// Directory archives: removes an earlier backup's manifest of the same name, before any
    /// member is written.
    fn begin_directory(&self) -> Result<()>;
    /// Directory archives: opens member `name` (`toc.dat`, `2565.dat.gz`).
    fn open_member(&self, name: &str) -> Result<Box<dyn super::output::ArchiveFile>>;
    /// Files committed so far, with size and checksum of the bytes written.
    fn committed(&self) -> Vec<crate::manifest::FileSum>;
    /// Writes the manifest (beside a single-file archive, inside a directory one): the last
    /// object of a backup.
    fn publish_manifest(&self, json: Vec<u8>, directory: bool) -> Result<()>;
    /// Names the outputs in messages.
    fn describe(&self) -> String;
}

impl Default for WriterOptions {
    /// gzip, synced, no layers: pg_dump's defaults.
    fn default() -> Self {
        WriterOptions {
            compression: Compression::default(),
            sync: true,
            layers: Vec::new(),
            script: ScriptOptions::default(),
            remote: None,
        }
    }
}

/// One archive being written; see the module documentation.
pub trait ArchiveWriter: Send {
    /// Takes the header and the entries in TOC (restore) order, before any data.
    fn start(&mut self, header: Header, entries: Vec<TocEntry>) -> Result<()>;
    /// Opens data sinks; shared by the data workers. Valid after `start`.
    fn sinks(&self) -> Result<Arc<dyn DataSinks>>;
    /// The order in which the data entries must be written, one at a time, when the format
    /// needs one (plain: the script's order); `None` = any order, in parallel. Entries left
    /// out are not written at all. Valid after `start`.
    fn data_order(&self) -> Option<Vec<i32>> {
        None
    }
    /// Completes the archive once every data sink finished.
    fn finish(self: Box<Self>) -> Result<Finished>;
}

/// Opens the data sink of a data-bearing entry.
pub trait DataSinks: Send + Sync {
    /// The sink of entry `dump_id` (an entry with `had_dumper`); each opens once.
    fn open(&self, dump_id: i32) -> Result<Box<dyn DataSink>>;
}

/// One entry's data stream.
pub trait DataSink: Send {
    /// The next bytes, in order: COPY text of a TABLE DATA entry, or of the current large
    /// object of a BLOBS entry. May wait while earlier blocks are being compressed/written.
    fn write(&mut self, block: Vec<u8>) -> Result<()>;
    /// BLOBS entries: large object `oid` starts; its bytes follow.
    fn start_object(&mut self, oid: u32) -> Result<()>;
    /// BLOBS entries: the current large object is complete.
    fn end_object(&mut self) -> Result<()>;
    /// TABLE DATA entries: the rows of the COPY text written, told once before `finish` (see
    /// `BlockSink::rows`).
    fn rows(&mut self, _rows: u64) {}
    /// The stream is complete; returns the bytes it occupies in the archive.
    fn finish(self: Box<Self>) -> Result<u64>;
}

/// A completed archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// Where it is; `None` for standard output.
    pub path: Option<PathBuf>,
}

/// Prepares a writer of `format` at `output` (`None` = standard output, single-file formats
/// only). Refuses what pg_dump refuses: a directory archive to standard output, compression
/// in a tar archive, invalid script options for the plain format.
pub fn create(format: Format, output: Option<&Path>, opts: WriterOptions) -> Result<Box<dyn ArchiveWriter>> {
    if let Some(path) = output {
        // Leftovers of killed runs would otherwise pile up beside the outputs forever.
        super::leftovers::remove_stale(&super::leftovers::parent_of(path));
    }
    if opts.remote.is_some() && format == Format::Directory {
        return Ok(Box::new(super::directory::DirectoryWriter::create_remote(opts)?));
    }
    match format {
        Format::Directory => match output {
            Some(path) => {
                // An existing empty target is written in place: a killed run's work directory
                // is inside it, and it would make the target look non-empty.
                if path.is_dir() {
                    super::leftovers::remove_stale(path);
                }
                Ok(Box::new(super::directory::DirectoryWriter::create_with(path, opts)?))
            }
            None => Err(Error::usage(
                "an output directory must be given for the directory format",
            )),
        },
        Format::Custom => Ok(Box::new(super::custom::CustomWriter::create(output, opts)?)),
        Format::Tar => {
            if opts.compression != Compression::None {
                return Err(Error::usage("compression is not supported by tar archive format"));
            }
            Ok(Box::new(super::tar::TarWriter::create(output, opts)?))
        }
        Format::Plain => Ok(Box::new(super::plain::PlainWriter::create(output, opts)?)),
    }
}

/// The data sink every format uses: blocks compressed in parallel by a [`ParallelEncoder`]
/// whose piece sink does the format's framing.
pub(crate) struct EncodedSink(pub(crate) ParallelEncoder);

impl DataSink for EncodedSink {
    fn write(&mut self, block: Vec<u8>) -> Result<()> {
        self.0.push(block)
    }
    fn start_object(&mut self, oid: u32) -> Result<()> {
        if oid == 0 {
            return Err(Error::new(ErrorKind::Internal, "invalid OID for large object (0)"));
        }
        self.0.start_object(oid)
    }
    fn end_object(&mut self) -> Result<()> {
        self.0.end_object()
    }
    fn finish(self: Box<Self>) -> Result<u64> {
        self.0.finish()
    }
}

/// Desc of the entries whose data is a group of large objects.
pub(crate) const BLOBS: &str = "BLOBS";

/// Checks what every format needs of a TOC: unique positive dump ids.
pub(crate) fn check_entries(entries: &[TocEntry]) -> Result<()> {
    let mut seen = std::collections::HashSet::with_capacity(entries.len());
    for e in entries {
        if e.dump_id <= 0 || !seen.insert(e.dump_id) {
            return Err(Error::internal(format!(
                "dump id {} is not positive and unique in the TOC",
                e.dump_id
            )));
        }
    }
    Ok(())
}
