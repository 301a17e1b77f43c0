//! Where archive bytes go, below the format writers.
//!
//! [`ArchiveFile`] is one output file or stream: the single file of `-Fc`/`-Ft`, or one member
//! file of a directory archive. Implementations here: [`AtomicFile`] (a hidden temporary
//! sibling, renamed into place by `commit`), [`StreamFile`] (standard output, a pipe or a
//! device: written in place), [`MemberFile`] (a file inside a directory archive's temporary
//! directory) and [`HoldBack`] (withholds the last bytes until `commit`, so an interrupted
//! stream never looks complete). A [`FileLayer`] wraps a file in a byte transform
//! (encryption, digests, …) without the format writers knowing; a remote destination is
//! another `ArchiveFile`. Dropping a file without `commit` abandons it: temporaries are
//! removed, streams are left as they are.
//!
//! Spool files for data ready before its turn are in `spool`.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, ErrorKind, Result};

/// Write buffer of single-file outputs and spool files.
const BUF_SIZE: usize = 256 * 1024;

/// Distinguishes temporary names made by one process.
pub(super) static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// One output file or stream of an archive. See the module documentation.
pub trait ArchiveFile: Send {
    /// Appends `buf`.
    fn write_all(&mut self, buf: &[u8]) -> Result<()>;
    /// Appends `buf`, handed over: a file that keeps blocks (a table's sink) takes it
    /// without a copy.
    fn write_owned(&mut self, buf: Vec<u8>) -> Result<()> {
        self.write_all(&buf)
    }
    /// Whether [`write_owned`](Self::write_owned) keeps the buffer (then copies into it pay
    /// for themselves; otherwise one reused buffer is cheaper).
    fn keeps_blocks(&self) -> bool {
        false
    }
    /// Bytes written so far.
    fn position(&self) -> u64;
    /// Whether [`patch`](Self::patch) can overwrite bytes written earlier (a seekable file,
    /// not a pipe, and no layer whose output depends on every byte in order).
    fn can_patch(&self) -> bool {
        false
    }
    /// Overwrites `bytes` at `pos` (< [`position`](Self::position)); the length of the file
    /// does not change.
    fn patch(&mut self, pos: u64, bytes: &[u8]) -> Result<()> {
        let _ = (pos, bytes);
        Err(Error::new(
            ErrorKind::Internal,
            format!("{} cannot be rewritten in place", self.describe()),
        ))
    }
    /// Whether an abandoned file leaves nothing behind (it only appears on `commit`).
    fn is_atomic(&self) -> bool;
    /// Completes the file: flushes, makes it durable when asked, moves it into place.
    fn commit(self: Box<Self>) -> Result<()>;
    /// Names the file in messages.
    fn describe(&self) -> String;
}

/// A byte transform applied to archive files (encryption, digests, …).
pub trait FileLayer: Send + Sync + fmt::Debug {
    /// Wraps `inner`, the archive file named `name` (`toc.dat`, `2565.dat.gz`, or the file
    /// name of a single-file archive).
    fn wrap(&self, name: &str, inner: Box<dyn ArchiveFile>) -> Result<Box<dyn ArchiveFile>>;
    /// Whether temporary files written while the archive is built (spools) must be sealed
    /// too, because this layer keeps the archive's bytes from the disk (encryption).
    fn seals_temporaries(&self) -> bool {
        false
    }
    /// Public keys the files are encrypted to, for the manifest (never a secret).
    fn public_keys(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Wraps `file` in `layers`; bytes pass through `layers[0]` first, the file last.
pub fn apply_layers(
    layers: &[Arc<dyn FileLayer>],
    name: &str,
    file: Box<dyn ArchiveFile>,
) -> Result<Box<dyn ArchiveFile>> {
    let mut f = file;
    for layer in layers.iter().rev() {
        f = layer.wrap(name, f)?;
    }
    Ok(f)
}

/// Opens the single file of a `-Fc`/`-Ft` archive: standard output when `path` is `None`; a
/// device or FIFO in place (as pg_dump writes `-f /dev/null`); otherwise an [`AtomicFile`]
/// beside the target (following a symbolic link to the file it names). An existing file in a
/// directory where no temporary can be made (not writable by this user, a read-only mount
/// with a writable file bind-mounted on it) is written in place instead, as pg_dump writes it
/// (`fopen(..., PG_BINARY_W)` in `_allocAH`/`InitArchiveFmt_Custom`): see [`InPlaceFile`].
pub fn open_single_file(path: Option<&Path>, sync: bool) -> Result<Box<dyn ArchiveFile>> {
    let Some(path) = path else {
        return Ok(Box::new(StreamFile::stdout()?));
    };
    let shown = path.display();
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(Error::usage(format!(
            "could not open output file \"{shown}\": it is a directory"
        ))),
        Ok(m) if !m.is_file() => Ok(Box::new(StreamFile::open_existing(path)?)),
        Ok(_) => {
            let real = fs::canonicalize(path).map_err(|e| Error::io(format!("resolving \"{shown}\""), e))?;
            match AtomicFile::create(&real, sync) {
                Ok(f) => Ok(Box::new(f)),
                Err(e) if cannot_create_in_dir(&e) => {
                    tracing::debug!(target = %real.display(), error = %e, "no temporary beside the output: writing the existing file in place");
                    Ok(Box::new(InPlaceFile::open(&real, sync)?))
                }
                Err(e) => Err(e),
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Box::new(AtomicFile::create(path, sync)?)),
        Err(e) => Err(Error::io(format!("could not open output file \"{shown}\""), e)),
    }
}

/// Whether `e` says nothing can be created in a directory (permission, a read-only mount).
pub(crate) fn cannot_create_in_dir(e: &Error) -> bool {
    matches!(
        e.io_error_kind(),
        Some(io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem)
    )
}

/// Existing files being written in place and not yet committed; emptied by
/// [`abandon_in_place`] when a run is stopped before the writers could be dropped.
static IN_PLACE: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

fn in_place_list() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    IN_PLACE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Empties every file this process is writing in place and has not committed (a backstop
/// after a signal, once the dump has been stopped).
pub fn abandon_in_place() {
    for path in in_place_list().drain(..) {
        if let Err(e) = OpenOptions::new().write(true).open(&path).and_then(|f| f.set_len(0)) {
            tracing::warn!("could not empty the partial \"{}\": {e}", path.display());
        }
    }
}

/// An existing regular file written in place: truncated when opened, as pg_dump does, and
/// truncated to nothing again if abandoned before `commit`. Used only when no temporary can
/// be made beside it (its directory is not writable): then it cannot be replaced by a rename
/// nor removed, and an empty file is the one state no reader takes for an archive, so a
/// failed dump never leaves a partial archive that looks whole. The file keeps its mode and
/// owner (pg_dump's behaviour; a new file is created 0600). The previous contents are lost
/// from the start, as with pg_dump: there is nowhere else to put the new archive.
pub struct InPlaceFile {
    path: PathBuf,
    file: Option<BufWriter<File>>,
    pos: u64,
    sync: bool,
}

impl InPlaceFile {
    pub fn open(path: &Path, sync: bool) -> Result<InPlaceFile> {
        let f = OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(path)
            .map_err(|e| Error::io(format!("could not open output file \"{}\"", path.display()), e))?;
        in_place_list().push(path.to_path_buf());
        Ok(InPlaceFile {
            path: path.to_path_buf(),
            file: Some(BufWriter::with_capacity(BUF_SIZE, f)),
            pos: 0,
            sync,
        })
    }

    fn forget(&self) {
        in_place_list().retain(|p| p != &self.path);
    }
}

impl ArchiveFile for InPlaceFile {
    fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        append(writer(&mut self.file, &self.path)?, buf, &self.path)?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn position(&self) -> u64 {
        self.pos
    }

    fn can_patch(&self) -> bool {
        true
    }

    fn patch(&mut self, pos: u64, bytes: &[u8]) -> Result<()> {
        patch_written(writer(&mut self.file, &self.path)?, self.pos, pos, bytes, &self.path)
    }

    fn is_atomic(&self) -> bool {
        false
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        let shown = self.path.display().to_string();
        let Some(f) = self.file.take() else {
            return Err(Error::internal(format!("\"{shown}\" was already committed")));
        };
        let result = f
            .into_inner()
            .map_err(|e| Error::io(format!("could not write to file \"{shown}\""), e.into_error()))
            .and_then(|f| {
                if self.sync {
                    f.sync_all()
                        .map_err(|e| Error::io(format!("could not fsync \"{shown}\""), e))?;
                }
                Ok(f)
            });
        match result {
            Ok(_) => {
                self.forget();
                tracing::debug!(target = %shown, "archive file written in place");
                Ok(())
            }
            Err(e) => {
                self.empty();
                Err(e)
            }
        }
    }

    fn describe(&self) -> String {
        format!("\"{}\"", self.path.display())
    }
}

impl InPlaceFile {
    /// Abandons the file: truncated to nothing (and made durable when syncing).
    fn empty(&mut self) {
        // Unwritten buffered bytes are dropped with the writer, never flushed.
        if let Some(w) = self.file.take() {
            let (f, _) = w.into_parts();
            drop(f);
        }
        let res = OpenOptions::new().write(true).open(&self.path).and_then(|f| {
            f.set_len(0)?;
            if self.sync { f.sync_all() } else { Ok(()) }
        });
        if let Err(e) = res {
            tracing::warn!("could not empty the partial \"{}\": {e}", self.path.display());
        }
        self.forget();
    }
}

impl Drop for InPlaceFile {
    fn drop(&mut self) {
        if self.file.is_some() {
            self.empty();
        }
    }
}

/// Opens the single file of a `-Fc`/`-Ft`/`-Fp` archive where `opts` sends it (the remote
/// output when there is one, else `path` as [`open_single_file`] does) and wraps it in the
/// layers; returns it with the archive's name.
pub(crate) fn open_archive_output(
    path: Option<&Path>,
    opts: &super::writer::WriterOptions,
) -> Result<(Box<dyn ArchiveFile>, String)> {
    let (file, name) = match &opts.remote {
        Some(r) => (
            r.open_archive()?,
            r.archive_name().rsplit('/').next().unwrap_or("-").to_string(),
        ),
        None => (
            open_single_file(path, opts.sync)?,
            path.and_then(|p| p.file_name())
                .map_or_else(|| "-".to_string(), |n| n.to_string_lossy().into_owned()),
        ),
    };
    Ok((apply_layers(&opts.layers, &name, file)?, name))
}

/// The directory an output path is created in (`.` for a bare name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Checks that `parent` is an existing directory before anything is written beside it;
/// `action` opens the message (`could not open output file "x"`), `missing` names the parent
/// when it does not exist.
pub(super) fn check_parent(parent: &Path, action: &str, missing: &str) -> Result<()> {
    match fs::metadata(parent) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::usage(format!(
            "{action}: \"{}\" is not a directory",
            parent.display()
        ))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::usage(format!(
            "{action}: {missing} \"{}\" does not exist",
            parent.display()
        ))),
        Err(e) => Err(Error::io(format!("checking \"{}\"", parent.display()), e)),
    }
}

pub(super) fn private_file(path: &Path) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// [`private_file`] holding the liveness lock of a temporary (see `leftovers`).
fn locked_private_file(path: &Path) -> io::Result<File> {
    let f = private_file(path)?;
    if let Err(e) = super::leftovers::hold(&f) {
        let _ = fs::remove_file(path);
        return Err(e);
    }
    Ok(f)
}

fn sync_path(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(format!("could not fsync \"{}\"", path.display()), e))
}

/// `pwrite` of `bytes` at `pos`.
/// The open writer of an archive file not yet committed (`name` names it in the error).
fn writer<'a>(file: &'a mut Option<BufWriter<File>>, name: &Path) -> Result<&'a mut BufWriter<File>> {
    file.as_mut()
        .ok_or_else(|| Error::internal(format!("\"{}\" was already committed", name.display())))
}

/// Appends `buf` to a buffered output file. The path is formatted only for an error: this
/// runs once per block of every single-file archive.
fn append(f: &mut BufWriter<File>, buf: &[u8], path: &Path) -> Result<()> {
    f.write_all(buf)
        .map_err(|e| Error::io(format!("could not write to file \"{}\"", path.display()), e))
}

/// Overwrites `bytes` at `pos` of a buffered output file of which `end` bytes were written
/// (the custom format's data offsets, filled in once known): only within what was written.
fn patch_written(f: &mut BufWriter<File>, end: u64, pos: u64, bytes: &[u8], path: &Path) -> Result<()> {
    if pos + bytes.len() as u64 > end {
        return Err(Error::internal(format!(
            "patch of {} bytes at {pos} beyond the end ({end})",
            bytes.len()
        )));
    }
    let io_err = |e| Error::io(format!("could not write to file \"{}\"", path.display()), e);
    f.flush().map_err(io_err)?;
    write_at(f.get_ref(), pos, bytes).map_err(io_err)
}

fn write_at(file: &File, pos: u64, bytes: &[u8]) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::write_all_at(file, bytes, pos)
    }
    #[cfg(not(unix))]
    {
        let mut f = file;
        let back = f.stream_position()?;
        f.seek(io::SeekFrom::Start(pos))?;
        f.write_all(bytes)?;
        f.seek(io::SeekFrom::Start(back))?;
        Ok(())
    }
}

/// Creates `<dir>/.<name>.pgsnap-<what>-<pid>-<n>` with `make`, retrying on leftovers.
pub(super) fn unique_sibling<T>(
    dir: &Path,
    name: &str,
    what: &str,
    make: impl Fn(&Path) -> io::Result<T>,
) -> Result<(PathBuf, T)> {
    let pid = std::process::id();
    let mut last = None;
    for _ in 0..16 {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let p = dir.join(format!(".{name}.pgsnap-{what}-{pid}-{n}"));
        match make(&p) {
            Ok(t) => return Ok((p, t)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(Error::io(format!("could not create \"{}\"", p.display()), e)),
        }
    }
    Err(Error::io(
        format!("could not create a temporary name in \"{}\"", dir.display()),
        last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists)),
    ))
}

/// A file written under a hidden temporary name beside its target and renamed into place by
/// [`commit`](ArchiveFile::commit) (after an fsync when `sync`); dropped uncommitted, the
/// temporary is removed and the target is untouched. Mode 0600: dumps hold table data.
pub struct AtomicFile {
    target: PathBuf,
    tmp: PathBuf,
    file: Option<BufWriter<File>>,
    pos: u64,
    sync: bool,
}

impl AtomicFile {
    /// Prepares `target`; its parent must exist. An existing regular file is replaced on commit.
    pub fn create(target: &Path, sync: bool) -> Result<AtomicFile> {
        let shown = target.display();
        let Some(name) = target.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            return Err(Error::usage(format!(
                "invalid output file \"{shown}\": it has no final name"
            )));
        };
        let parent = parent_dir(target);
        check_parent(&parent, &format!("could not open output file \"{shown}\""), "directory")?;
        let (tmp, file) = unique_sibling(&parent, &name, "tmp", locked_private_file)
            .map_err(|e| e.context(format!("preparing output file \"{shown}\"")))?;
        tracing::debug!(tmp = %tmp.display(), target = %shown, "created temporary archive file");
        Ok(AtomicFile {
            target: target.to_path_buf(),
            tmp,
            file: Some(BufWriter::with_capacity(BUF_SIZE, file)),
            pos: 0,
            sync,
        })
    }

    /// The temporary file being written.
    pub fn temp_path(&self) -> &Path {
        &self.tmp
    }
}

impl ArchiveFile for AtomicFile {
    fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        append(writer(&mut self.file, &self.target)?, buf, &self.tmp)?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn position(&self) -> u64 {
        self.pos
    }

    fn can_patch(&self) -> bool {
        true
    }

    fn patch(&mut self, pos: u64, bytes: &[u8]) -> Result<()> {
        patch_written(writer(&mut self.file, &self.target)?, self.pos, pos, bytes, &self.tmp)
    }

    fn is_atomic(&self) -> bool {
        true
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        let shown = self.target.display().to_string();
        let tmp = self.tmp.display().to_string();
        let Some(f) = self.file.take() else {
            return Err(Error::internal(format!("\"{shown}\" was already committed")));
        };
        let f = f
            .into_inner()
            .map_err(|e| Error::io(format!("could not write to file \"{tmp}\""), e.into_error()))?;
        if self.sync {
            f.sync_all()
                .map_err(|e| Error::io(format!("could not fsync \"{tmp}\""), e))?;
        }
        drop(f);
        if let Err(e) = fs::rename(&self.tmp, &self.target) {
            let _ = fs::remove_file(&self.tmp);
            return Err(Error::io(
                format!("could not move the finished archive into place at \"{shown}\""),
                e,
            ));
        }
        if self.sync {
            sync_path(&parent_dir(&self.target)).map_err(|e| {
                e.context(format!(
                    "archive \"{shown}\" is complete but its directory could not be synced"
                ))
            })?;
        }
        tracing::debug!(target = %shown, "archive file renamed into place");
        Ok(())
    }

    fn describe(&self) -> String {
        format!("\"{}\"", self.target.display())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some()
            && let Err(e) = fs::remove_file(&self.tmp)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(tmp = %self.tmp.display(), error = %e, "could not remove temporary archive file");
        }
    }
}

/// Standard output, a pipe or a device, written in place: an interruption leaves what was
/// written. Patchable only when it is a regular file written from its start without
/// `O_APPEND` (`pgsnap dump -Fc > file`, as pg_dump's `checkSeek` allows).
pub struct StreamFile {
    file: BufWriter<File>,
    pos: u64,
    patchable: bool,
    name: String,
    sync: bool,
}

impl StreamFile {
    /// A duplicate of the process's standard output.
    pub fn stdout() -> Result<StreamFile> {
        use std::os::fd::AsFd;
        let fd = io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::io("could not open standard output", e))?;
        Self::from_file(File::from(fd), "standard output".to_string(), false)
    }

    /// An existing device or FIFO opened for writing.
    pub fn open_existing(path: &Path) -> Result<StreamFile> {
        let f = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| Error::io(format!("could not open output file \"{}\"", path.display()), e))?;
        Self::from_file(f, format!("\"{}\"", path.display()), false)
    }

    fn from_file(mut f: File, name: String, sync: bool) -> Result<StreamFile> {
        let regular = f.metadata().map(|m| m.is_file()).unwrap_or(false);
        let at_start = regular && f.stream_position().map(|p| p == 0).unwrap_or(false);
        let patchable = at_start && !is_append_only(&f);
        Ok(StreamFile {
            file: BufWriter::with_capacity(BUF_SIZE, f),
            pos: 0,
            patchable,
            name,
            sync: sync && regular,
        })
    }
}

/// Whether the descriptor was opened with `O_APPEND` (writes would ignore positions), read
/// from /proc; unknown counts as append-only.
fn is_append_only(f: &File) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        const O_APPEND: u32 = 0o2000;
        let Ok(text) = fs::read_to_string(format!("/proc/self/fdinfo/{}", f.as_raw_fd())) else {
            return true;
        };
        text.lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            .is_none_or(|flags| flags & O_APPEND != 0)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = f;
        true
    }
}

impl ArchiveFile for StreamFile {
    fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        self.file
            .write_all(buf)
            .map_err(|e| Error::io(format!("could not write to {}", self.name), e))?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn position(&self) -> u64 {
        self.pos
    }

    fn can_patch(&self) -> bool {
        self.patchable
    }

    fn patch(&mut self, pos: u64, bytes: &[u8]) -> Result<()> {
        if !self.patchable || pos + bytes.len() as u64 > self.pos {
            return Err(Error::internal(format!("{} cannot be rewritten there", self.name)));
        }
        self.file
            .flush()
            .map_err(|e| Error::io(format!("could not write to {}", self.name), e))?;
        write_at(self.file.get_ref(), pos, bytes).map_err(|e| Error::io(format!("could not write to {}", self.name), e))
    }

    fn is_atomic(&self) -> bool {
        false
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        self.file
            .flush()
            .map_err(|e| Error::io(format!("could not write to {}", self.name), e))?;
        if self.sync {
            self.file
                .get_ref()
                .sync_all()
                .map_err(|e| Error::io(format!("could not fsync {}", self.name), e))?;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// A file inside a directory archive's temporary directory (which itself appears only when
/// complete); commit flushes and, when `sync`, fsyncs it.
pub struct MemberFile {
    path: PathBuf,
    file: BufWriter<File>,
    pos: u64,
    sync: bool,
}

impl MemberFile {
    /// Creates `path` (mode 0600); fails if it exists.
    pub fn create(path: &Path, sync: bool) -> Result<MemberFile> {
        let f =
            private_file(path).map_err(|e| Error::io(format!("could not create file \"{}\"", path.display()), e))?;
        Ok(MemberFile {
            path: path.to_path_buf(),
            file: BufWriter::with_capacity(64 * 1024, f),
            pos: 0,
            sync,
        })
    }
}

impl ArchiveFile for MemberFile {
    fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        self.file
            .write_all(buf)
            .map_err(|e| Error::io(format!("could not write to file \"{}\"", self.path.display()), e))?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn position(&self) -> u64 {
        self.pos
    }

    fn is_atomic(&self) -> bool {
        true
    }

    fn commit(self: Box<Self>) -> Result<()> {
        let shown = self.path.display().to_string();
        let f = self
            .file
            .into_inner()
            .map_err(|e| Error::io(format!("could not write to file \"{shown}\""), e.into_error()))?;
        if self.sync {
            f.sync_all()
                .map_err(|e| Error::io(format!("could not fsync \"{shown}\""), e))?;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("\"{}\"", self.path.display())
    }
}

/// Withholds the last `n` bytes written until `commit`. On a stream that cannot be removed
/// after a failure, the archive then always ends short of its last bytes, which every reader
/// notices (e.g. the custom format's final end-of-data marker), instead of ending at a point
/// that may look complete.
pub struct HoldBack {
    inner: Box<dyn ArchiveFile>,
    held: Vec<u8>,
    n: usize,
}

impl HoldBack {
    pub fn new(inner: Box<dyn ArchiveFile>, n: usize) -> HoldBack {
        HoldBack {
            inner,
            held: Vec::with_capacity(2 * n),
            n,
        }
    }
}

impl ArchiveFile for HoldBack {
    fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        if buf.len() >= self.n {
            let (pass, keep) = buf.split_at(buf.len() - self.n);
            if !self.held.is_empty() {
                self.inner.write_all(&self.held)?;
                self.held.clear();
            }
            self.inner.write_all(pass)?;
            self.held.extend_from_slice(keep);
        } else {
            self.held.extend_from_slice(buf);
            if self.held.len() > self.n {
                let excess = self.held.len() - self.n;
                self.inner.write_all(&self.held[..excess])?;
                self.held.drain(..excess);
            }
        }
        Ok(())
    }

    fn position(&self) -> u64 {
        self.inner.position() + self.held.len() as u64
    }

    fn can_patch(&self) -> bool {
        self.inner.can_patch()
    }

    fn patch(&mut self, pos: u64, bytes: &[u8]) -> Result<()> {
        let flushed = self.inner.position();
        let end = pos + bytes.len() as u64;
        if pos < flushed {
            let upto = (end.min(flushed) - pos) as usize;
            self.inner.patch(pos, &bytes[..upto])?;
        }
        if end > flushed {
            let from = flushed.max(pos);
            let src = (from - pos) as usize;
            let dst = (from - flushed) as usize;
            let n = bytes.len() - src;
            if dst + n > self.held.len() {
                return Err(Error::internal("patch beyond the end of the held-back bytes"));
            }
            self.held[dst..dst + n].copy_from_slice(&bytes[src..]);
        }
        Ok(())
    }

    fn is_atomic(&self) -> bool {
        self.inner.is_atomic()
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        let held = std::mem::take(&mut self.held);
        self.inner.write_all(&held)?;
        self.inner.commit()
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Mutex;

    use super::*;

    /// An in-memory file for tests: shares its bytes, optionally patchable, records commit.
    #[derive(Clone, Default)]
    pub(crate) struct MemFile {
        pub bytes: Arc<Mutex<Vec<u8>>>,
        pub committed: Arc<Mutex<bool>>,
        pub patchable: bool,
        /// Fail writes once this many bytes were written.
        pub fail_after: Option<usize>,
    }

    impl ArchiveFile for MemFile {
        fn write_all(&mut self, buf: &[u8]) -> Result<()> {
            let mut b = self.bytes.lock().unwrap();
            if let Some(limit) = self.fail_after
                && b.len() + buf.len() > limit
            {
                return Err(Error::io("memory file", io::Error::other("no space left (simulated)")));
            }
            b.extend_from_slice(buf);
            Ok(())
        }
        fn position(&self) -> u64 {
            self.bytes.lock().unwrap().len() as u64
        }
        fn can_patch(&self) -> bool {
            self.patchable
        }
        fn patch(&mut self, pos: u64, bytes: &[u8]) -> Result<()> {
            assert!(self.patchable);
            let mut b = self.bytes.lock().unwrap();
            b[pos as usize..pos as usize + bytes.len()].copy_from_slice(bytes);
            Ok(())
        }
        fn is_atomic(&self) -> bool {
            false
        }
        fn commit(self: Box<Self>) -> Result<()> {
            *self.committed.lock().unwrap() = true;
            Ok(())
        }
        fn describe(&self) -> String {
            "memory".into()
        }
    }

    /// A directory's entries, sorted.
    pub(crate) fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn atomic_file_appears_only_on_commit() {
        let base = tempfile::tempdir().unwrap();
        let target = base.path().join("db.dump");
        let mut f = Box::new(AtomicFile::create(&target, true).unwrap());
        let tmp_name = f.temp_path().file_name().unwrap().to_string_lossy().into_owned();
        assert!(tmp_name.starts_with(".db.dump.pgsnap-tmp-"), "{tmp_name}");
        f.write_all(b"hello world").unwrap();
        f.patch(0, b"HELLO").unwrap();
        assert_eq!(f.position(), 11);
        assert!(!target.exists());
        f.commit().unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"HELLO world");
        assert_eq!(names(base.path()), vec!["db.dump"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o600);
        }
        // Replaces an existing file atomically; abandoning leaves the old one.
        let mut g = AtomicFile::create(&target, false).unwrap();
        g.write_all(b"new").unwrap();
        drop(g);
        assert_eq!(fs::read(&target).unwrap(), b"HELLO world");
        assert_eq!(names(base.path()), vec!["db.dump"]);
        assert!(f_patch_beyond_end_fails(&target));
    }

    fn f_patch_beyond_end_fails(target: &Path) -> bool {
        let mut f = AtomicFile::create(target, false).unwrap();
        f.write_all(b"abc").unwrap();
        f.patch(2, b"xy").is_err()
    }

    #[test]
    fn single_file_targets() {
        let base = tempfile::tempdir().unwrap();
        let e = open_single_file(Some(base.path()), false).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::Usage);
        let e = open_single_file(Some(&base.path().join("no/such/file")), false)
            .err()
            .unwrap();
        assert!(e.to_string().contains("does not exist"), "{e}");
        // A device is written in place, never replaced.
        let f = open_single_file(Some(Path::new("/dev/null")), false).unwrap();
        assert!(!f.is_atomic() && !f.can_patch());
        let mut f = f;
        f.write_all(b"discarded").unwrap();
        f.commit().unwrap();
        assert!(Path::new("/dev/null").exists());
        // A symbolic link: the file it names is replaced, the link stays.
        #[cfg(unix)]
        {
            let real = base.path().join("real.dump");
            fs::write(&real, b"old").unwrap();
            let link = base.path().join("link.dump");
            std::os::unix::fs::symlink(&real, &link).unwrap();
            let mut f = open_single_file(Some(&link), false).unwrap();
            assert!(f.is_atomic());
            f.write_all(b"new").unwrap();
            f.commit().unwrap();
            assert_eq!(fs::read(&real).unwrap(), b"new");
            assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        }
    }

    #[test]
    fn hold_back_keeps_the_tail_until_commit() {
        let mem = MemFile {
            patchable: true,
            ..MemFile::default()
        };
        let mut h = Box::new(HoldBack::new(Box::new(mem.clone()), 5));
        h.write_all(b"ab").unwrap();
        assert_eq!(*mem.bytes.lock().unwrap(), b"");
        h.write_all(b"cdefg").unwrap();
        assert_eq!(*mem.bytes.lock().unwrap(), b"ab");
        h.write_all(b"0123456789").unwrap();
        assert_eq!(*mem.bytes.lock().unwrap(), b"abcdefg01234");
        h.write_all(b"X").unwrap();
        assert_eq!(h.position(), 18);
        // A patch spanning the written part and the held part.
        h.patch(10, b"ABCDEF").unwrap();
        h.commit().unwrap();
        assert_eq!(*mem.bytes.lock().unwrap(), b"abcdefg012ABCDEF9X");
        assert!(*mem.committed.lock().unwrap());

        // Abandoned: the tail never appears.
        let mem = MemFile::default();
        let mut h = HoldBack::new(Box::new(mem.clone()), 5);
        h.write_all(b"complete-looking\0\0\0\0\0").unwrap();
        drop(h);
        assert_eq!(*mem.bytes.lock().unwrap(), b"complete-looking");
    }

    /// A layer that upper-cases ASCII: visible in the bytes, and cannot patch.
    #[derive(Debug)]
    pub(crate) struct Upper;
    struct UpperFile(Box<dyn ArchiveFile>);
    impl ArchiveFile for UpperFile {
        fn write_all(&mut self, buf: &[u8]) -> Result<()> {
            self.0.write_all(&buf.to_ascii_uppercase())
        }
        fn position(&self) -> u64 {
            self.0.position()
        }
        fn is_atomic(&self) -> bool {
            self.0.is_atomic()
        }
        fn commit(self: Box<Self>) -> Result<()> {
            self.0.commit()
        }
        fn describe(&self) -> String {
            self.0.describe()
        }
    }
    impl FileLayer for Upper {
        fn wrap(&self, _name: &str, inner: Box<dyn ArchiveFile>) -> Result<Box<dyn ArchiveFile>> {
            Ok(Box::new(UpperFile(inner)))
        }
    }

    #[test]
    fn layers_wrap_in_order_and_hide_patching() {
        let mem = MemFile {
            patchable: true,
            ..MemFile::default()
        };
        let layers: Vec<Arc<dyn FileLayer>> = vec![Arc::new(Upper)];
        let mut f = apply_layers(&layers, "toc.dat", Box::new(mem.clone())).unwrap();
        assert!(!f.can_patch(), "a layer that does not patch hides the file's ability");
        f.write_all(b"abc").unwrap();
        f.commit().unwrap();
        assert_eq!(*mem.bytes.lock().unwrap(), b"ABC");
    }
}
