//! The directory archive format (`pg_dump -Fd`, archive-format.md §5): `toc.dat` plus one
//! data file per data-bearing entry.
//!
//! [`DirectoryWriter`] builds the archive in a hidden sibling directory and renames it into
//! place only when finished, so a failed or interrupted dump never leaves something at the
//! target that looks like a whole archive; an existing empty target (`-f .`, a mount point)
//! is filled in place instead, toc.dat last, and emptied again on failure. Each data file is written as the engine delivers
//! it: compressed pieces (gzip members, lz4/zstd frames) concatenated, which every
//! pg_restore 14–18 reads (archive-format.md §7.3). [`DirectoryReader`] opens an
//! existing archive the way pg_restore 16+ does (`_PrintFileData`, pg_backup_directory.c).

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::codec::{self, Compression, ParallelEncoder, Piece, PieceCodec, PieceSink};
use crate::error::{Error, Result};

use super::output::{ArchiveFile, MemberFile, apply_layers, check_parent, parent_dir};
use super::toc::{ArchiveFormat, ArchiveVersion, Header, MAGIC, TocEntry, decode_toc, encode_toc};
use super::writer::{ArchiveWriter, BLOBS, DataSink, DataSinks, EncodedSink, Finished, WriterOptions, check_entries};

/// Name of the TOC file inside a directory archive.
pub const TOC_FILE: &str = "toc.dat";

/// Suffixes tried, in order, when looking for a data file or toc.dat (pg_restore 16+:
/// `InitDiscoverCompressFileHandle`, compress_io.c). A plain file wins over compressed ones.
pub const DISCOVERY_SUFFIXES: [&str; 4] = ["", ".gz", ".lz4", ".zst"];

/// Distinguishes temporary directories made by one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// `<dumpId>.dat`: the data file name stored in the TOC (never with a compression suffix).
pub fn data_file_name(dump_id: i32) -> String {
    format!("{dump_id}.dat")
}

/// Writes a directory archive into a temporary sibling of the target, then renames it into
/// place on [`finish`](ArchiveWriter::finish) (an existing empty target: into a hidden
/// directory inside it, moved up file by file, toc.dat last). Dropped without `finish`, it
/// removes everything it wrote.
#[derive(Debug)]
pub struct DirectoryWriter {
    target: PathBuf,
    tmp: PathBuf,
    /// The target is an existing empty directory, `tmp` is inside it.
    in_place: bool,
    opts: WriterOptions,
    /// Set once the temporary directory is gone (renamed or removed).
    done: bool,
    /// The temporary directory opened and locked: a live run's mark (`leftovers`); none
    /// when writing to destinations.
    _lock: Option<File>,
    started: Option<(Header, Vec<TocEntry>, Arc<DirSinks>)>,
}

impl DirectoryWriter {
    /// [`DirectoryWriter::create_with`] with default options (sync on).
    pub fn create(target: &Path, compression: Compression) -> Result<Self> {
        Self::create_with(
            target,
            WriterOptions {
                compression,
                ..WriterOptions::default()
            },
        )
    }

    /// Prepares to write the archive to `opts.remote` (destinations): every member goes
    /// there as it is written, nothing is built locally; the manifest written after it is
    /// the commit marker.
    pub fn create_remote(opts: WriterOptions) -> Result<Self> {
        let Some(remote) = &opts.remote else {
            return Err(Error::internal("directory archive: no remote output"));
        };
        remote.begin_directory()?;
        Ok(DirectoryWriter {
            target: PathBuf::from(remote.archive_name()),
            tmp: PathBuf::new(),
            in_place: false,
            opts,
            // No local work directory to move or remove.
            done: true,
            _lock: None,
            started: None,
        })
    }

    /// Prepares to write an archive at `target`. Refuses a target that is a file, a symbolic
    /// link or a non-empty directory, and a missing or unwritable parent. A new target is built
    /// in `<parent>/.<name>.pgsnap-tmp-<pid>-<n>` (mode 0700) and renamed into place. An
    /// existing empty directory (`-f .`, a mount point) is written in place, as pg_dump does
    /// (`_ArchiveEntry`/`InitArchiveFmt_Directory` only require it to be empty): the files
    /// are built in a hidden directory inside it, on its own filesystem, and moved up at the
    /// end with toc.dat last; the directory itself, its mode and its owner, stay as they were.
    ///
    /// A symbolic link is followed, as pg_dump follows it (`opendir`/`mkdir` on the path): a
    /// link to an existing empty directory is written in place like that directory; a link to
    /// anything else, or to nothing, is refused.
    pub fn create_with(target: &Path, opts: WriterOptions) -> Result<Self> {
        let shown = target.display();
        let resolved;
        let target = match fs::symlink_metadata(target) {
            Ok(m) if m.file_type().is_symlink() => match fs::canonicalize(target) {
                Ok(real) if real.is_dir() => {
                    resolved = real;
                    resolved.as_path()
                }
                Ok(real) => {
                    return Err(Error::usage(format!(
                        "could not create directory \"{shown}\": it is a symbolic link to \"{}\", which is not a directory",
                        real.display()
                    )));
                }
                Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => {
                    return Err(Error::usage(format!(
                        "could not create directory \"{shown}\": it is a symbolic link to a directory that does not exist"
                    )));
                }
                Err(e) => return Err(Error::io(format!("resolving \"{shown}\""), e)),
            },
            _ => target,
        };
        let in_place = match fs::symlink_metadata(target) {
            Ok(m) if m.is_dir() => {
                let mut listing = fs::read_dir(target).map_err(|e| Error::io(format!("reading \"{shown}\""), e))?;
                if listing.next().is_some() {
                    return Err(Error::usage(format!(
                        "could not create directory \"{shown}\": it exists and is not empty"
                    )));
                }
                true
            }
            Ok(_) => {
                return Err(Error::usage(format!(
                    "could not create directory \"{shown}\": a file with that name exists"
                )));
            }
            // Absent (or under a non-directory, which the parent check below reports).
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => false,
            Err(e) => return Err(Error::io(format!("checking \"{shown}\""), e)),
        };
        let (workdir_parent, name) = if in_place {
            let name = target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "archive".to_string());
            (target.to_path_buf(), name)
        } else {
            let Some(name) = target.file_name().map(|n| n.to_string_lossy().into_owned()) else {
                return Err(Error::usage(format!(
                    "invalid output directory \"{shown}\": it has no final name"
                )));
            };
            let parent = parent_dir(target);
            check_parent(
                &parent,
                &format!("could not create directory \"{shown}\""),
                "parent directory",
            )?;
            (parent, name)
        };
        let pid = std::process::id();
        let mut last_err = None;
        for _ in 0..16 {
            let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
            let tmp = workdir_parent.join(format!(".{name}.pgsnap-tmp-{pid}-{n}"));
            match private_dir_builder().create(&tmp) {
                Ok(()) => {
                    let lock = match super::leftovers::hold_dir(&tmp) {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = fs::remove_dir(&tmp);
                            return Err(Error::io(format!("could not lock directory \"{}\"", tmp.display()), e));
                        }
                    };
                    tracing::debug!(tmp = %tmp.display(), target = %shown, in_place, "created temporary archive directory");
                    return Ok(DirectoryWriter {
                        target: target.to_path_buf(),
                        tmp,
                        in_place,
                        opts,
                        done: false,
                        _lock: Some(lock),
                        started: None,
                    });
                }
                // Left over from an earlier process with the same pid: pick another number.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
                Err(e) => {
                    return Err(
                        Error::io(format!("could not create directory \"{}\"", tmp.display()), e)
                            .context(format!("preparing output directory \"{shown}\"")),
                    );
                }
            }
        }
        let e = last_err.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists));
        Err(Error::io(
            format!("could not create a temporary directory for \"{shown}\""),
            e,
        ))
    }

    /// Where the archive will appear after `finish`.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The temporary directory being filled.
    pub fn temp_dir(&self) -> &Path {
        &self.tmp
    }

    /// Completes an archive whose files were put into [`temp_dir`](Self::temp_dir) by the
    /// caller (`pgsnap decrypt` writes every member itself): syncs it and renames it into
    /// place. Never call it after `start`.
    pub fn finish_files(mut self) -> Result<PathBuf> {
        if self.started.is_some() {
            return Err(Error::internal("finish_files on a started directory archive"));
        }
        self.move_into_place()?;
        Ok(self.target.clone())
    }

    /// Renames the complete temporary directory to the target (after syncing it).
    fn move_into_place(&mut self) -> Result<()> {
        let shown = self.target.display().to_string();
        if self.opts.sync {
            sync_path(&self.tmp)?;
        }
        if self.in_place {
            return self.move_up_in_place();
        }
        // rename(2) replaces an empty directory atomically; a target that stopped being empty
        // since `create` makes it fail instead of being overwritten.
        if let Err(first) = fs::rename(&self.tmp, &self.target) {
            let retry = is_empty_dir(&self.target) && fs::remove_dir(&self.target).is_ok();
            if !retry {
                return Err(Error::io(
                    format!("could not move the finished archive into place at \"{shown}\""),
                    first,
                ));
            }
            fs::rename(&self.tmp, &self.target).map_err(|e| {
                Error::io(
                    format!("could not move the finished archive into place at \"{shown}\""),
                    e,
                )
            })?;
        }
        self.done = true;
        if self.opts.sync {
            sync_path(&parent_dir(&self.target)).map_err(|e| {
                e.context(format!(
                    "archive \"{shown}\" is complete but its parent could not be synced"
                ))
            })?;
        }
        tracing::debug!(target = %shown, "archive directory renamed into place");
        Ok(())
    }
}

impl DirectoryWriter {
    /// In-place finish: moves every file of the hidden work directory up into the target
    /// (same filesystem, so each move is a rename), toc.dat last, which is the moment the
    /// archive becomes complete; then removes the emptied work directory. A failure before
    /// toc.dat moves the files already moved back out (removes them), so the target is left
    /// as empty as it was found.
    fn move_up_in_place(&mut self) -> Result<()> {
        let shown = self.target.display().to_string();
        let fail = |what: String, e: io::Error| {
            Error::io(
                format!("could not move the finished archive into place at \"{shown}\": {what}"),
                e,
            )
        };
        let tmp_name = self.tmp.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        // Someone else's files appeared meanwhile: never mix an archive into them.
        let listing = fs::read_dir(&self.target).map_err(|e| fail("reading it".into(), e))?;
        for entry in listing {
            let entry = entry.map_err(|e| fail("reading it".into(), e))?;
            if entry.file_name() != tmp_name {
                return Err(fail(
                    format!(
                        "\"{}\" appeared in it during the dump",
                        entry.file_name().to_string_lossy()
                    ),
                    io::Error::from(io::ErrorKind::AlreadyExists),
                ));
            }
        }
        let mut names: Vec<std::ffi::OsString> = Vec::new();
        for entry in fs::read_dir(&self.tmp).map_err(|e| fail("reading the work directory".into(), e))? {
            let entry = entry.map_err(|e| fail("reading the work directory".into(), e))?;
            if entry.file_name() != TOC_FILE {
                names.push(entry.file_name());
            }
        }
        names.push(TOC_FILE.into());
        let mut moved: Vec<PathBuf> = Vec::with_capacity(names.len());
        for n in &names {
            let to = self.target.join(n);
            let result = match fs::symlink_metadata(&to) {
                Ok(_) => Err(io::Error::from(io::ErrorKind::AlreadyExists)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => fs::rename(self.tmp.join(n), &to),
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                for m in &moved {
                    let _ = fs::remove_file(m);
                }
                return Err(fail(format!("moving \"{}\"", n.to_string_lossy()), e));
            }
            moved.push(to);
        }
        self.done = true;
        if let Err(e) = fs::remove_dir(&self.tmp) {
            tracing::warn!(tmp = %self.tmp.display(), error = %e, "could not remove the emptied work directory");
        }
        if self.opts.sync {
            sync_path(&self.target)
                .map_err(|e| e.context(format!("archive \"{shown}\" is complete but could not be synced")))?;
        }
        tracing::debug!(target = %shown, "archive files moved into place");
        Ok(())
    }
}

impl ArchiveWriter for DirectoryWriter {
    fn start(&mut self, mut header: Header, mut entries: Vec<TocEntry>) -> Result<()> {
        check_entries(&entries)?;
        if self.started.is_some() {
            return Err(Error::internal("directory archive started twice"));
        }
        // A directory toc.dat carries the tar code (pg_restore expects 3, not 5).
        header.format = ArchiveFormat::Tar;
        let mut blobs = HashMap::new();
        for e in &mut entries {
            e.filename = if !e.had_dumper {
                String::new()
            } else if e.desc == BLOBS {
                let name = blobs_toc_name(header.version, e.dump_id);
                if blobs.values().any(|n| *n == name) {
                    return Err(Error::internal(format!(
                        "archive {} holds one BLOBS entry only (readers before pg_restore 17 read \"{name}\")",
                        header.version
                    )));
                }
                blobs.insert(e.dump_id, name.clone());
                name
            } else {
                data_file_name(e.dump_id)
            };
        }
        let sinks = Arc::new(DirSinks(Arc::new(DirShared {
            dir: self.tmp.clone(),
            opts: self.opts.clone(),
            data: entries.iter().filter(|e| e.had_dumper).map(|e| e.dump_id).collect(),
            blobs,
            state: Mutex::new((HashSet::new(), HashSet::new())),
        })));
        self.started = Some((header, entries, sinks));
        Ok(())
    }

    fn sinks(&self) -> Result<Arc<dyn DataSinks>> {
        match &self.started {
            Some((_, _, s)) => Ok(s.clone()),
            None => Err(Error::internal("directory archive: sinks before start")),
        }
    }

    /// Writes `toc.dat` (never compressed), makes the directory durable, and renames it to
    /// the target. On error the temporary directory is removed and nothing appears there.
    fn finish(mut self: Box<Self>) -> Result<Finished> {
        let Some((header, entries, sinks)) = self.started.take() else {
            return Err(Error::internal("directory archive finished before start"));
        };
        let sinks = &sinks.0;
        {
            let state = sinks.state.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(id) = sinks.data.iter().find(|id| !state.1.contains(id)) {
                return Err(Error::internal(format!(
                    "the data of dump id {id} was not complete when the archive was finished"
                )));
            }
        }
        let mut toc = sinks.create(TOC_FILE)?;
        toc.write_all(&encode_toc(&header, &entries))?;
        toc.commit()?;
        if self.opts.remote.is_some() {
            return Ok(Finished { path: None });
        }
        self.move_into_place()?;
        Ok(Finished {
            path: Some(self.target.clone()),
        })
    }
}

impl Drop for DirectoryWriter {
    fn drop(&mut self) {
        if !self.done
            && let Err(e) = fs::remove_dir_all(&self.tmp)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(tmp = %self.tmp.display(), error = %e, "could not remove temporary archive directory");
        }
    }
}

/// Name of the blobs TOC file of BLOBS entry `dump_id`: `blobs.toc` before archive 1.16
/// (readers older than 17 open that fixed name), `blobs_<dumpId>.toc` from 1.16 on.
pub fn blobs_toc_name(version: ArchiveVersion, dump_id: i32) -> String {
    if version >= ArchiveVersion::V1_16 {
        format!("blobs_{dump_id}.toc")
    } else {
        "blobs.toc".to_string()
    }
}

/// Opens data files in the temporary directory.
#[derive(Debug)]
struct DirSinks(Arc<DirShared>);

#[derive(Debug)]
struct DirShared {
    dir: PathBuf,
    opts: WriterOptions,
    data: HashSet<i32>,
    /// BLOBS entries and their blobs TOC file names.
    blobs: HashMap<i32, String>,
    /// Opened and finished dump ids.
    state: Mutex<(HashSet<i32>, HashSet<i32>)>,
}

impl DirShared {
    /// A new file in the archive (mode 0600), through the writer's layers.
    fn create(&self, name: &str) -> Result<Box<dyn ArchiveFile>> {
        if !is_plain_name(name) {
            return Err(Error::internal(format!("invalid archive member name \"{name}\"")));
        }
        let f: Box<dyn ArchiveFile> = match &self.opts.remote {
            Some(r) => r.open_member(name)?,
            None => Box::new(MemberFile::create(&self.dir.join(name), self.opts.sync)?),
        };
        apply_layers(&self.opts.layers, name, f)
    }

    fn finished(&self, dump_id: i32) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1.insert(dump_id);
    }
}

impl DataSinks for DirSinks {
    fn open(&self, dump_id: i32) -> Result<Box<dyn DataSink>> {
        if !self.0.data.contains(&dump_id) {
            return Err(Error::internal(format!("dump id {dump_id} has no data in the TOC")));
        }
        if !self.0.state.lock().unwrap_or_else(|p| p.into_inner()).0.insert(dump_id) {
            return Err(Error::internal(format!("data of dump id {dump_id} opened twice")));
        }
        let c = self.0.opts.compression;
        let label = format!("data of dump id {dump_id}");
        let sink: Box<dyn DataSink> = match self.0.blobs.get(&dump_id) {
            Some(toc_name) => Box::new(EncodedSink(ParallelEncoder::new(
                PieceCodec::Member(c),
                label,
                BlobFiles {
                    owner: self.0.clone(),
                    dump_id,
                    toc_name: toc_name.clone(),
                    current: None,
                    lines: Vec::new(),
                    written: 0,
                },
            )?)),
            None => {
                let file = self
                    .0
                    .create(&format!("{}{}", data_file_name(dump_id), c.file_suffix()))?;
                Box::new(EncodedSink(ParallelEncoder::new(
                    PieceCodec::Member(c),
                    label,
                    DataFile {
                        owner: self.0.clone(),
                        dump_id,
                        file: Some(file),
                    },
                )?))
            }
        };
        Ok(sink)
    }
}

/// A table's data file: the compressed members/frames in order.
struct DataFile {
    owner: Arc<DirShared>,
    dump_id: i32,
    file: Option<Box<dyn ArchiveFile>>,
}

impl PieceSink for DataFile {
    fn piece(&mut self, piece: Piece) -> Result<()> {
        match self.file.as_mut() {
            Some(f) => f.write_all(&piece.data),
            None => Err(Error::internal("data file already closed")),
        }
    }

    fn finish(&mut self) -> Result<u64> {
        let Some(f) = self.file.take() else {
            return Err(Error::internal("data file already closed"));
        };
        let n = f.position();
        f.commit()?;
        self.owner.finished(self.dump_id);
        Ok(n)
    }
}

/// A BLOBS entry's files: `blob_<oid>.dat[.gz|.lz4|.zst]` per large object and the blobs TOC
/// (uncompressed, lines `<oid> blob_<oid>.dat`, no suffix — pg_restore discovers it).
struct BlobFiles {
    owner: Arc<DirShared>,
    dump_id: i32,
    toc_name: String,
    current: Option<Box<dyn ArchiveFile>>,
    lines: Vec<u8>,
    written: u64,
}

impl PieceSink for BlobFiles {
    fn piece(&mut self, piece: Piece) -> Result<()> {
        match self.current.as_mut() {
            Some(f) => f.write_all(&piece.data),
            None => Err(Error::internal("large object data outside an object")),
        }
    }

    fn start_object(&mut self, oid: u32) -> Result<()> {
        if self.current.is_some() {
            return Err(Error::internal("large object started inside another"));
        }
        let name = format!("blob_{oid}.dat");
        let suffix = self.owner.opts.compression.file_suffix();
        self.current = Some(self.owner.create(&format!("{name}{suffix}"))?);
        self.lines.extend_from_slice(format!("{oid} {name}\n").as_bytes());
        Ok(())
    }

    fn end_object(&mut self) -> Result<()> {
        let Some(f) = self.current.take() else {
            return Err(Error::internal("end of a large object that was not started"));
        };
        self.written += f.position();
        f.commit()
    }

    fn finish(&mut self) -> Result<u64> {
        if self.current.is_some() {
            return Err(Error::internal("BLOBS data ended inside a large object"));
        }
        let mut toc = self.owner.create(&self.toc_name)?;
        toc.write_all(&self.lines)?;
        self.written += toc.position();
        toc.commit()?;
        self.owner.finished(self.dump_id);
        Ok(self.written)
    }
}

fn is_empty_dir(path: &Path) -> bool {
    fs::read_dir(path).map(|mut d| d.next().is_none()).unwrap_or(false)
}

/// A single path component that stays inside the archive directory.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

#[cfg(unix)]
fn private_dir_builder() -> fs::DirBuilder {
    use std::os::unix::fs::DirBuilderExt;
    let mut b = fs::DirBuilder::new();
    b.mode(0o700);
    b
}

#[cfg(not(unix))]
fn private_dir_builder() -> fs::DirBuilder {
    fs::DirBuilder::new()
}

/// fsync a file or directory by path.
fn sync_path(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(format!("could not fsync \"{}\"", path.display()), e))
}

/// An existing directory archive: its header and entries, and access to data files.
#[derive(Debug)]
pub struct DirectoryReader {
    path: PathBuf,
    header: Header,
    entries: Vec<TocEntry>,
}

impl DirectoryReader {
    /// Reads and decodes `<path>/toc.dat` (or a compressed `toc.dat.gz`/`.lz4`/`.zst`, which
    /// pg_restore also accepts).
    pub fn open(path: &Path) -> Result<Self> {
        let shown = path.display();
        match fs::metadata(path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::archive(format!(
                    "\"{shown}\" is not a directory archive (not a directory)"
                )));
            }
            Err(e) => return Err(Error::io(format!("could not open archive directory \"{shown}\""), e)),
        }
        let Some(found) = discover(path, TOC_FILE)? else {
            return Err(Error::archive(format!(
                "\"{shown}\" is not a directory archive: no {TOC_FILE} (nor .gz, .lz4, .zst) in it"
            )));
        };
        let toc_path = found.path.clone();
        let buf = read_toc_file(found)?;
        let (header, entries) =
            decode_toc(&buf).map_err(|e| e.context(format!("reading \"{}\"", toc_path.display())))?;
        Ok(DirectoryReader {
            path: path.to_path_buf(),
            header,
            entries,
        })
    }

    /// The archive directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Entries in TOC (restore) order.
    pub fn entries(&self) -> &[TocEntry] {
        &self.entries
    }

    /// Locates the entry's data file by suffix discovery (`N.dat`, then `.gz`, `.lz4`,
    /// `.zst`); returns its path and suffix.
    pub fn find_data_file(&self, entry: &TocEntry) -> Result<(PathBuf, &'static str)> {
        let name = self.checked_name(entry)?;
        for suffix in DISCOVERY_SUFFIXES {
            let p = self.path.join(format!("{name}{suffix}"));
            match fs::metadata(&p) {
                Ok(_) => return Ok((p, suffix)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(format!("checking \"{}\"", p.display()), e)),
            }
        }
        Err(self.missing(entry, name))
    }

    /// Opens the entry's data file, decompressing by its suffix. A missing file is an
    /// [`ErrorKind::Archive`] error naming it.
    pub fn open_data(&self, entry: &TocEntry) -> Result<Box<dyn Read + Send>> {
        let name = self.checked_name(entry)?;
        match discover(&self.path, name)? {
            Some(found) => Ok(found.reader),
            None => Err(self.missing(entry, name)),
        }
    }

    fn checked_name<'e>(&self, entry: &'e TocEntry) -> Result<&'e str> {
        let name = entry.filename.as_str();
        if name.is_empty() {
            return Err(Error::archive(format!("{} has no data file", entry.label())));
        }
        // pg_restore joins the name blindly; refuse names that would leave the directory.
        if !is_plain_name(name) {
            return Err(Error::archive(format!(
                "{} names an unsafe data file \"{name}\"",
                entry.label()
            )));
        }
        Ok(name)
    }

    fn missing(&self, entry: &TocEntry, name: &str) -> Error {
        Error::archive(format!(
            "could not open input file \"{}\" (nor .gz, .lz4, .zst) for {}: it does not exist",
            self.path.join(name).display(),
            entry.label()
        ))
    }
}

/// A member file found by suffix discovery.
struct Found {
    reader: Box<dyn Read + Send>,
    path: PathBuf,
    /// Bytes read from the file on disk so far (before decompression).
    consumed: Arc<AtomicU64>,
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens the first of `<dir>/<name>` + each discovery suffix that exists, decoding by suffix.
/// Only regular files are opened (pg_restore refuses a member that is not one): a FIFO would
/// block forever, a link to a device would never end.
fn discover(dir: &Path, name: &str) -> Result<Option<Found>> {
    for suffix in DISCOVERY_SUFFIXES {
        let p = dir.join(format!("{name}{suffix}"));
        match super::read::open_regular(&p) {
            Ok((f, _)) => {
                let consumed = Arc::new(AtomicU64::new(0));
                let counted = Counting {
                    inner: f,
                    count: consumed.clone(),
                };
                let reader = codec::decoder_for_suffix(suffix, counted)
                    .map_err(|e| e.context(format!("opening \"{}\"", p.display())))?;
                return Ok(Some(Found {
                    reader,
                    path: p,
                    consumed,
                }));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("could not open input file \"{}\"", p.display()), e)),
        }
    }
    Ok(None)
}

/// A compressed toc.dat may expand at most this many times what was read of it so far…
const TOC_MAX_RATIO: u64 = 128;
/// …once past this size. SQL text rarely compresses beyond 10:1, so no real TOC comes near,
/// while a decompression bomb (ratios near 1000:1) stops here, memory held to this size.
const TOC_FREE_SIZE: usize = 16 << 20;
/// Read granularity of a toc.dat.
const TOC_CHUNK: usize = 256 << 10;

/// Reads a discovered toc.dat whole, bounded: it must start with the archive magic, checked
/// on the first bytes so that garbage (a bomb of zeros) is refused before anything more is
/// decompressed; and past [`TOC_FREE_SIZE`] its expansion over the bytes read from disk must
/// stay under [`TOC_MAX_RATIO`]. A plain toc.dat expands 1:1 and is bounded by its size.
fn read_toc_file(found: Found) -> Result<Vec<u8>> {
    let Found {
        mut reader,
        path,
        consumed,
    } = found;
    let shown = path.display();
    let read_err = |e| Error::io(format!("reading \"{shown}\""), e);
    let mut buf = Vec::new();
    (&mut reader)
        .take(MAGIC.len() as u64)
        .read_to_end(&mut buf)
        .map_err(read_err)?;
    if buf.as_slice() != MAGIC.as_slice() {
        return Err(Error::archive(format!(
            "\"{shown}\" is not a toc.dat: it does not start with \"PGDMP\""
        )));
    }
    loop {
        let n = (&mut reader)
            .take(TOC_CHUNK as u64)
            .read_to_end(&mut buf)
            .map_err(read_err)?;
        if n == 0 {
            return Ok(buf);
        }
        let read = consumed.load(Ordering::Relaxed);
        if buf.len() > TOC_FREE_SIZE && buf.len() as u64 > read.saturating_mul(TOC_MAX_RATIO) {
            return Err(Error::archive(format!(
                "\"{shown}\" expands more than {TOC_MAX_RATIO} times ({} bytes from {read}); \
                 refusing it as a likely decompression bomb (decompress it yourself if it is genuine)",
                buf.len()
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::custom::tests::header;
    use super::super::toc::HeaderCompression;
    use super::*;
    use crate::error::ErrorKind;

    const ROWS: &[u8] = b"1\talpha\n2\tbeta\n3\t\\N\n\\.\n\n\n";

    fn entries(data_id: i32) -> Vec<TocEntry> {
        vec![
            TocEntry {
                dump_id: 1,
                tableoid: "1259".into(),
                oid: "16397".into(),
                tag: "t".into(),
                desc: "TABLE".into(),
                section: 2,
                defn: Some("CREATE TABLE public.t (id integer, name text);\n".into()),
                drop_stmt: Some("DROP TABLE public.t;\n".into()),
                namespace: Some("public".into()),
                tablespace: Some(String::new()),
                tableam: Some("heap".into()),
                owner: Some("postgres".into()),
                ..TocEntry::default()
            },
            TocEntry {
                dump_id: data_id,
                had_dumper: true,
                tableoid: "0".into(),
                oid: "16397".into(),
                tag: "t".into(),
                desc: "TABLE DATA".into(),
                section: 3,
                copy_stmt: Some("COPY public.t (id, name) FROM stdin;\n".into()),
                namespace: Some("public".into()),
                owner: Some("postgres".into()),
                deps: vec![1],
                filename: data_file_name(data_id),
                ..TocEntry::default()
            },
        ]
    }

    /// Writes a complete archive with `ROWS` as the data of entry 2.
    fn write_archive(target: &Path, c: Compression) -> Result<PathBuf> {
        let mut w: Box<dyn ArchiveWriter> = Box::new(DirectoryWriter::create(target, c)?);
        w.start(header(c), entries(2))?;
        let sinks = w.sinks()?;
        let mut d = sinks.open(2)?;
        // In several blocks, as the engine delivers them.
        for block in ROWS.chunks(7) {
            d.write(block.to_vec())?;
        }
        d.finish()?;
        drop(sinks);
        Ok(w.finish()?.path.unwrap())
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn read_all(mut r: Box<dyn Read + Send>) -> Vec<u8> {
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn finish_produces_a_readable_archive() {
        let base = tempfile::tempdir().unwrap();
        for c in [
            Compression::None,
            Compression::Gzip { level: 6 },
            Compression::Lz4 { level: 1 },
            Compression::Zstd { level: 3, long: false },
        ] {
            let target = base.path().join(format!("out-{}", c.name()));
            assert_eq!(write_archive(&target, c).unwrap(), target);
            assert_eq!(
                names(&target),
                vec![format!("2.dat{}", c.file_suffix()), "toc.dat".to_string()]
            );
            let r = DirectoryReader::open(&target).unwrap();
            assert_eq!(r.header(), &header(c));
            assert_eq!(r.entries(), &entries(2)[..]);
            assert_eq!(read_all(r.open_data(&r.entries()[1]).unwrap()), ROWS, "{c}");
            assert_eq!(r.find_data_file(&r.entries()[1]).unwrap().1, c.file_suffix());
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                assert_eq!(fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o700);
            }
        }
        // No temporary directories left beside the archives.
        assert!(
            names(base.path()).iter().all(|n| n.starts_with("out-")),
            "{:?}",
            names(base.path())
        );
    }

    #[test]
    fn temp_dir_is_a_hidden_sibling() {
        let base = tempfile::tempdir().unwrap();
        let w = DirectoryWriter::create(&base.path().join("arch"), Compression::None).unwrap();
        let tmp_name = w.temp_dir().file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            tmp_name.starts_with(&format!(".arch.pgsnap-tmp-{}-", std::process::id())),
            "{tmp_name}"
        );
        assert_eq!(w.temp_dir().parent(), Some(base.path()));
        let w2 =
            DirectoryWriter::create(&base.path().join("arch"), Compression::Zstd { level: 3, long: false }).unwrap();
        assert_ne!(w.temp_dir(), w2.temp_dir());
    }

    #[test]
    fn dropping_midway_leaves_nothing() {
        let base = tempfile::tempdir().unwrap();
        let target = base.path().join("out");
        {
            let mut w: Box<dyn ArchiveWriter> =
                Box::new(DirectoryWriter::create(&target, Compression::Gzip { level: 1 }).unwrap());
            w.start(header(Compression::Gzip { level: 1 }), entries(5)).unwrap();
            let sinks = w.sinks().unwrap();
            let mut d = sinks.open(5).unwrap();
            d.write(b"partial".to_vec()).unwrap();
            // Simulated failure: sink and writer go out of scope without finish.
        }
        assert!(!target.exists());
        assert!(names(base.path()).is_empty(), "{:?}", names(base.path()));
    }

    #[test]
    fn unfinished_data_blocks_finish() {
        let base = tempfile::tempdir().unwrap();
        let target = base.path().join("out");
        let mut w: Box<dyn ArchiveWriter> = Box::new(DirectoryWriter::create(&target, Compression::None).unwrap());
        w.start(header(Compression::None), entries(5)).unwrap();
        let sinks = w.sinks().unwrap();
        let mut d = sinks.open(5).unwrap();
        assert!(sinks.open(5).is_err(), "opened twice");
        assert!(sinks.open(1).is_err(), "no data");
        d.write(b"x".to_vec()).unwrap();
        drop(d);
        drop(sinks);
        let e = w.finish().unwrap_err();
        assert!(e.to_string().contains("dump id 5"), "{e}");
        assert!(names(base.path()).is_empty());
    }

    #[test]
    fn existing_non_empty_target_is_refused() {
        let base = tempfile::tempdir().unwrap();
        let target = base.path().join("out");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("keep.txt"), b"x").unwrap();
        let e = DirectoryWriter::create(&target, Compression::None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage);
        assert!(e.to_string().contains("not empty"), "{e}");
        assert_eq!(names(&target), vec!["keep.txt"]);
        assert_eq!(names(base.path()), vec!["out"]);
    }

    #[test]
    fn existing_file_or_missing_parent_is_refused() {
        let base = tempfile::tempdir().unwrap();
        let file = base.path().join("afile");
        fs::write(&file, b"x").unwrap();
        let e = DirectoryWriter::create(&file, Compression::None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage);
        assert!(e.to_string().contains("file with that name exists"), "{e}");

        let e = DirectoryWriter::create(&base.path().join("no/such/out"), Compression::None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage);
        assert!(e.to_string().contains("does not exist"), "{e}");

        let e = DirectoryWriter::create(&file.join("out"), Compression::None).unwrap_err();
        assert!(e.to_string().contains("is not a directory"), "{e}");

        #[cfg(unix)]
        {
            // Links to a file, to nothing, and to a non-empty directory are refused, and
            // nothing is written through them.
            let link = base.path().join("link");
            std::os::unix::fs::symlink(&file, &link).unwrap();
            let e = DirectoryWriter::create(&link, Compression::None).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Usage);
            assert!(e.to_string().contains("not a directory"), "{e}");
            let dangling = base.path().join("dangling");
            std::os::unix::fs::symlink(base.path().join("nowhere"), &dangling).unwrap();
            let e = DirectoryWriter::create(&dangling, Compression::None).unwrap_err();
            assert!(e.to_string().contains("does not exist"), "{e}");
            assert!(!base.path().join("nowhere").exists());
            let full = base.path().join("full");
            fs::create_dir(&full).unwrap();
            fs::write(full.join("keep"), b"x").unwrap();
            let to_full = base.path().join("to_full");
            std::os::unix::fs::symlink(&full, &to_full).unwrap();
            let e = DirectoryWriter::create(&to_full, Compression::None).unwrap_err();
            assert!(e.to_string().contains("not empty"), "{e}");
            assert_eq!(names(&full), vec!["keep"]);
        }
    }

    /// A link to an existing empty directory is followed, as pg_dump follows it: the archive
    /// is written into the directory it names (its mode kept, toc.dat last), the link stays.
    #[cfg(unix)]
    #[test]
    fn link_to_an_empty_directory_is_written_through() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().unwrap();
        let real = base.path().join("real");
        fs::create_dir(&real).unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o750)).unwrap();
        let link = base.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        // Abandoned: the directory it names is left empty.
        let w = DirectoryWriter::create(&link, Compression::None).unwrap();
        assert_eq!(w.temp_dir().parent(), Some(fs::canonicalize(&real).unwrap().as_path()));
        drop(w);
        assert!(names(&real).is_empty());
        write_archive(&link, Compression::Gzip { level: 6 }).unwrap();
        assert_eq!(names(&real), vec!["2.dat.gz", "toc.dat"]);
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(fs::metadata(&real).unwrap().permissions().mode() & 0o777, 0o750);
        let r = DirectoryReader::open(&link).unwrap();
        assert!(!r.entries().is_empty());
        assert_eq!(names(base.path()), vec!["link", "real"]);
    }

    #[cfg(unix)]
    #[test]
    fn unwritable_parent_is_refused() {
        // /proc/self is a directory nobody may create entries in, root included, so this
        // runs the same for every user.
        let e = DirectoryWriter::create(Path::new("/proc/self/pgsnap-out"), Compression::None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io, "{e}");
        assert!(e.to_string().contains("pgsnap-out"), "{e}");
        assert!(!Path::new("/proc/self/pgsnap-out").exists());
    }

    #[test]
    fn existing_empty_target_is_written_in_place() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let base = tempfile::tempdir().unwrap();
        let target = base.path().join("out");
        fs::create_dir(&target).unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o751)).unwrap();
        let ino = fs::metadata(&target).unwrap().ino();
        let w = DirectoryWriter::create(&target, Compression::None).unwrap();
        assert_eq!(
            w.temp_dir().parent(),
            Some(target.as_path()),
            "work directory inside the target"
        );
        drop(w);
        assert!(names(&target).is_empty());
        write_archive(&target, Compression::Gzip { level: 6 }).unwrap();
        assert_eq!(names(&target), vec!["2.dat.gz", "toc.dat"]);
        assert_eq!(names(base.path()), vec!["out"]);
        let m = fs::metadata(&target).unwrap();
        assert_eq!(m.ino(), ino, "the directory itself is kept, not replaced");
        assert_eq!(m.permissions().mode() & 0o777, 0o751, "its mode is kept");
        let r = DirectoryReader::open(&target).unwrap();
        assert_eq!(read_all(r.open_data(&r.entries()[1]).unwrap()), ROWS);
    }

    #[test]
    fn in_place_failure_leaves_the_directory_empty() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().unwrap();
        let target = base.path().join("mnt");
        fs::create_dir(&target).unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o755)).unwrap();
        {
            let mut w: Box<dyn ArchiveWriter> =
                Box::new(DirectoryWriter::create(&target, Compression::Gzip { level: 1 }).unwrap());
            w.start(header(Compression::Gzip { level: 1 }), entries(5)).unwrap();
            let sinks = w.sinks().unwrap();
            let mut d = sinks.open(5).unwrap();
            d.write(b"partial".to_vec()).unwrap();
        }
        assert!(names(&target).is_empty(), "{:?}", names(&target));
        assert_eq!(fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o755);
        // A file that appears in the target during the dump stops the finish; the archive's
        // files are taken back out and the stranger's file is left alone.
        let mut w: Box<dyn ArchiveWriter> = Box::new(DirectoryWriter::create(&target, Compression::None).unwrap());
        w.start(header(Compression::None), Vec::new()).unwrap();
        fs::write(target.join("other"), b"x").unwrap();
        let e = w.finish().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
        assert!(e.to_string().contains("appeared"), "{e}");
        assert_eq!(names(&target), vec!["other"]);
    }

    #[test]
    fn target_filled_meanwhile_is_not_overwritten() {
        let base = tempfile::tempdir().unwrap();
        let target = base.path().join("out");
        let mut w: Box<dyn ArchiveWriter> = Box::new(DirectoryWriter::create(&target, Compression::None).unwrap());
        w.start(header(Compression::None), Vec::new()).unwrap();
        fs::create_dir(&target).unwrap();
        fs::write(target.join("other"), b"x").unwrap();
        let e = w.finish().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
        assert_eq!(names(&target), vec!["other"]);
        assert_eq!(names(base.path()), vec!["out"]);
    }

    fn blobs_entry(id: i32) -> TocEntry {
        TocEntry {
            dump_id: id,
            had_dumper: true,
            tableoid: "0".into(),
            oid: "0".into(),
            tag: "BLOBS".into(),
            desc: "BLOBS".into(),
            section: 3,
            ..TocEntry::default()
        }
    }

    #[test]
    fn large_objects_get_files_and_a_blobs_toc() {
        let objects: Vec<(u32, Vec<u8>)> = vec![
            (16444, b"hello large object".to_vec()),
            (16445, Vec::new()),
            (4_000_000_000, (0..2_500_000u32).map(|i| (i % 253) as u8).collect()),
        ];
        for (c, version, toc_name) in [
            (Compression::Gzip { level: 6 }, ArchiveVersion::V1_14, "blobs.toc"),
            (
                Compression::Zstd { level: 3, long: false },
                ArchiveVersion::V1_15,
                "blobs.toc",
            ),
            (Compression::Lz4 { level: 1 }, ArchiveVersion::V1_16, "blobs_9.toc"),
            (Compression::None, ArchiveVersion::V1_16, "blobs_9.toc"),
        ] {
            let base = tempfile::tempdir().unwrap();
            let target = base.path().join("out");
            let mut w: Box<dyn ArchiveWriter> = Box::new(DirectoryWriter::create(&target, c).unwrap());
            let mut h = header(c);
            h.version = version;
            h.compression = HeaderCompression::for_archive(version, c).unwrap();
            let mut toc = entries(2);
            toc.push(blobs_entry(9));
            w.start(h, toc).unwrap();
            let sinks = w.sinks().unwrap();
            let mut b = sinks.open(9).unwrap();
            for (oid, bytes) in &objects {
                b.start_object(*oid).unwrap();
                for piece in bytes.chunks(1 << 20) {
                    b.write(piece.to_vec()).unwrap();
                }
                b.end_object().unwrap();
            }
            b.finish().unwrap();
            let mut d = sinks.open(2).unwrap();
            d.write(ROWS.to_vec()).unwrap();
            d.finish().unwrap();
            drop(sinks);
            w.finish().unwrap();

            let r = DirectoryReader::open(&target).unwrap();
            assert_eq!(r.entries()[2].filename, toc_name, "{c}");
            let lines = fs::read_to_string(target.join(toc_name)).unwrap();
            assert_eq!(
                lines,
                "16444 blob_16444.dat\n16445 blob_16445.dat\n4000000000 blob_4000000000.dat\n"
            );
            for (oid, bytes) in &objects {
                let name = format!("blob_{oid}.dat");
                let f = File::open(target.join(format!("{name}{}", c.file_suffix()))).unwrap();
                assert_eq!(
                    &read_all(codec::decoder_for_suffix(c.file_suffix(), f).unwrap()),
                    bytes,
                    "{c} {oid}"
                );
            }
        }
    }

    #[test]
    fn one_blobs_entry_before_1_16() {
        let base = tempfile::tempdir().unwrap();
        let mut w: Box<dyn ArchiveWriter> =
            Box::new(DirectoryWriter::create(&base.path().join("o"), Compression::None).unwrap());
        let mut toc = entries(2);
        toc.push(blobs_entry(8));
        toc.push(blobs_entry(9));
        assert!(w.start(header(Compression::None), toc).is_err());
    }

    #[test]
    fn layers_see_every_file() {
        use super::super::output::tests::Upper;
        let base = tempfile::tempdir().unwrap();
        let target = base.path().join("out");
        let mut w: Box<dyn ArchiveWriter> = Box::new(
            DirectoryWriter::create_with(
                &target,
                WriterOptions {
                    compression: Compression::None,
                    sync: false,
                    layers: vec![Arc::new(Upper)],
                    script: Default::default(),
                    remote: None,
                },
            )
            .unwrap(),
        );
        w.start(header(Compression::None), entries(2)).unwrap();
        let sinks = w.sinks().unwrap();
        let mut d = sinks.open(2).unwrap();
        d.write(b"abc\n".to_vec()).unwrap();
        d.finish().unwrap();
        drop(sinks);
        w.finish().unwrap();
        assert_eq!(fs::read(target.join("2.dat")).unwrap(), b"ABC\n");
        let toc = fs::read(target.join("toc.dat")).unwrap();
        assert!(
            toc.windows(14).any(|w| w == b"CREATE TABLE P"),
            "toc.dat passed the layer too"
        );
    }

    #[test]
    fn reader_discovers_suffixes_plain_first() {
        let base = tempfile::tempdir().unwrap();
        let target = base.path().join("out");
        write_archive(&target, Compression::Zstd { level: 3, long: false }).unwrap();
        let r = DirectoryReader::open(&target).unwrap();
        let data = &r.entries()[1];
        fs::write(target.join("2.dat"), b"plain wins\n").unwrap();
        assert_eq!(read_all(r.open_data(data).unwrap()), b"plain wins\n");
        fs::remove_file(target.join("2.dat")).unwrap();
        assert_eq!(read_all(r.open_data(data).unwrap()), ROWS);
    }

    #[test]
    fn reader_reports_missing_and_unsafe_files() {
        let base = tempfile::tempdir().unwrap();
        let target = base.path().join("out");
        write_archive(&target, Compression::Gzip { level: 6 }).unwrap();
        fs::remove_file(target.join("2.dat.gz")).unwrap();
        let r = DirectoryReader::open(&target).unwrap();
        let e = r.open_data(&r.entries()[1]).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::Archive);
        assert!(
            e.to_string().contains("2.dat") && e.to_string().contains("TOC entry 2"),
            "{e}"
        );
        assert_eq!(
            r.find_data_file(&r.entries()[1]).unwrap_err().kind(),
            ErrorKind::Archive
        );
        // An entry without data, and a name that would leave the directory.
        assert!(
            r.open_data(&r.entries()[0])
                .err()
                .unwrap()
                .to_string()
                .contains("no data file")
        );
        let mut evil = r.entries()[1].clone();
        evil.filename = "../../etc/passwd".into();
        assert!(r.open_data(&evil).err().unwrap().to_string().contains("unsafe"));
    }

    #[test]
    fn reader_accepts_compressed_toc_and_rejects_non_archives() {
        let base = tempfile::tempdir().unwrap();
        let target = base.path().join("out");
        write_archive(&target, Compression::Gzip { level: 6 }).unwrap();
        let toc = fs::read(target.join("toc.dat")).unwrap();
        fs::write(
            target.join("toc.dat.gz"),
            codec::compress_member(Compression::Gzip { level: 6 }, &toc).unwrap(),
        )
        .unwrap();
        fs::remove_file(target.join("toc.dat")).unwrap();
        assert_eq!(DirectoryReader::open(&target).unwrap().entries().len(), 2);

        let empty = base.path().join("empty");
        fs::create_dir(&empty).unwrap();
        let e = DirectoryReader::open(&empty).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Archive);
        assert!(e.to_string().contains("toc.dat"), "{e}");

        fs::write(empty.join("toc.dat"), b"not an archive").unwrap();
        let e = DirectoryReader::open(&empty).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Archive);
        assert!(
            e.to_string().contains("toc.dat") && e.to_string().contains("PGDMP"),
            "{e}"
        );

        assert_eq!(
            DirectoryReader::open(&target.join("toc.dat.gz")).unwrap_err().kind(),
            ErrorKind::Archive
        );
        assert_eq!(
            DirectoryReader::open(&base.path().join("missing")).unwrap_err().kind(),
            ErrorKind::Io
        );
    }
}
