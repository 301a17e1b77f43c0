//! Spools: data of an archive ready before its turn — a table's page range read ahead of the
//! range before it, a custom-format or tar member finished out of order, a large object whose
//! size a tar header needs first — kept until it can be written in order.
//!
//! A spool starts in memory: its first bytes stay in the blocks they came in while the
//! directory's budget ([`SPOOL_MEMORY`], shared by all its spools) lasts, and only the rest goes
//! to a file, created then. Most spools are short-lived (a range read alongside the one before
//! it, a small table finished early) and never touch the disk: written to a file and read back,
//! they cost a sixth of the client's CPU of a one-table dump to tmpfs, and a spool larger than
//! the kernel keeps dirty is written to the disk as well as the archive. Files are sealed for
//! an encrypted archive (no plaintext at rest); memory is not (the bytes are plaintext in this
//! process anyway).

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::output::{
    ArchiveFile, FileLayer, TEMP_COUNTER, cannot_create_in_dir, parent_dir, private_file, unique_sibling,
};
use crate::crypt::seal::{RECORD, Sealer};
use crate::error::{Error, Result};

/// Memory all spools of one directory may keep together before writing files, unless its
/// maker chooses otherwise ([`SpoolDir::with_memory`]; the engine does, by `-j`): enough for
/// the small tables of a custom or tar archive finished out of order, a few MiB on the peak.
pub const SPOOL_MEMORY: usize = 4 << 20;

/// Size of the blocks bytes written by reference are gathered in.
const HELD_BLOCK: usize = 64 * 1024;

/// Read buffer for spool files.
const READ_SIZE: usize = 256 * 1024;

/// Set once a spool directory was made in the system's temporary directory instead of beside
/// its output.
static SPOOLED_IN_TEMP_DIR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether this process made a spool directory in the system's temporary directory.
pub(crate) fn spooled_in_temp_dir() -> bool {
    SPOOLED_IN_TEMP_DIR.load(Ordering::Relaxed)
}

/// A private directory for spool files, removed with everything in it when dropped.
#[derive(Debug)]
pub struct SpoolDir {
    path: PathBuf,
    /// The directory opened and locked: a live run's mark (`leftovers`).
    _lock: File,
    /// Seals every spool file when the archive is encrypted (see `crypt::seal`).
    seal: Option<Arc<Sealer>>,
    /// Memory the directory's spools may still keep.
    memory: Arc<Budget>,
}

impl SpoolDir {
    /// Creates `.<name>.pgsnap-spool-<pid>-<n>` (mode 0700) beside `beside`, or in the
    /// system's temporary directory when there is no output path (standard output).
    pub fn create(beside: Option<&Path>) -> Result<SpoolDir> {
        Self::create_sealed(beside, false)
    }

    /// [`create`](Self::create) for an archive written through `layers`: its spool files are
    /// sealed with a key held in memory when a layer asks for it.
    pub fn create_for(beside: Option<&Path>, layers: &[Arc<dyn FileLayer>]) -> Result<SpoolDir> {
        Self::create_sealed(beside, layers.iter().any(|l| l.seals_temporaries()))
    }

    /// [`create`](Self::create), the spool files sealed with a key held in memory when
    /// `sealed` (an encrypted archive: no plaintext at rest).
    pub fn create_sealed(beside: Option<&Path>, sealed: bool) -> Result<SpoolDir> {
        let (dir, name) = match beside {
            Some(p) => (
                parent_dir(p),
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "archive".into()),
            ),
            None => (std::env::temp_dir(), "stdout".to_string()),
        };
        let make = |p: &Path| {
            let mut b = fs::DirBuilder::new();
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                b.mode(0o700);
            }
            b.create(p)?;
            super::leftovers::hold_dir(p).inspect_err(|_| {
                let _ = fs::remove_dir(p);
            })
        };
        let made = match unique_sibling(&dir, &name, "spool", make) {
            // An existing file written in place in a directory nobody may write (see
            // `open_single_file`): spool in the system's temporary directory instead.
            Err(e) if beside.is_some() && cannot_create_in_dir(&e) => {
                let tmp = std::env::temp_dir();
                tracing::debug!(dir = %tmp.display(), error = %e, "spooling in the temporary directory");
                super::leftovers::remove_stale(&tmp);
                SPOOLED_IN_TEMP_DIR.store(true, Ordering::Relaxed);
                unique_sibling(&tmp, &name, "spool", make)
            }
            other => other,
        };
        let (path, lock) = made.map_err(|e| e.context("creating a directory for spool files"))?;
        let seal = if sealed { Some(Arc::new(Sealer::new()?)) } else { None };
        Ok(SpoolDir {
            path,
            _lock: lock,
            seal,
            memory: Arc::new(Budget(AtomicUsize::new(SPOOL_MEMORY))),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lets this directory's spools keep `bytes` in memory together (tests force files with 0).
    pub fn with_memory(self, bytes: usize) -> SpoolDir {
        self.memory.0.store(bytes, Ordering::Release);
        self
    }

    /// A new spool; `label` becomes part of its file's name, should it need one.
    pub fn file(&self, label: &str) -> Result<SpoolFile> {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        Ok(SpoolFile {
            path: self.path.join(format!("{label}-{n}")),
            held: Held {
                blocks: Vec::new(),
                reserved: 0,
                budget: self.memory.clone(),
            },
            file: None,
            len: 0,
            in_file: 0,
            seal: self.seal.clone(),
            pending: Vec::new(),
        })
    }
}

impl Drop for SpoolDir {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.path)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %self.path.display(), error = %e, "could not remove spool directory");
        }
    }
}

/// Bytes of memory still free for a directory's spools.
#[derive(Debug)]
struct Budget(AtomicUsize);

impl Budget {
    fn take(&self, n: usize) -> bool {
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |free| free.checked_sub(n))
            .is_ok()
    }

    fn give(&self, n: usize) {
        self.0.fetch_add(n, Ordering::AcqRel);
    }
}

/// The part of a spool kept in memory, and the budget it holds (given back when dropped).
#[derive(Debug)]
struct Held {
    blocks: Vec<Vec<u8>>,
    /// Capacity of `blocks`, taken from the budget.
    reserved: usize,
    budget: Arc<Budget>,
}

impl Held {
    /// Keeps a copy of `buf`: in the last block's spare room, or a new block the budget
    /// allows. False when it does not fit.
    fn copy_in(&mut self, buf: &[u8]) -> bool {
        if let Some(last) = self.blocks.last_mut()
            && last.capacity() - last.len() >= buf.len()
        {
            last.extend_from_slice(buf);
            return true;
        }
        let cap = buf.len().max(HELD_BLOCK);
        if !self.budget.take(cap) {
            return false;
        }
        self.reserved += cap;
        let mut block = Vec::with_capacity(cap);
        block.extend_from_slice(buf);
        self.blocks.push(block);
        true
    }

    /// Keeps `buf` itself when the budget allows; gives it back otherwise.
    fn keep(&mut self, buf: Vec<u8>) -> std::result::Result<(), Vec<u8>> {
        if !self.budget.take(buf.capacity()) {
            return Err(buf);
        }
        self.reserved += buf.capacity();
        self.blocks.push(buf);
        Ok(())
    }

    /// Hands every block to `out` ([`ArchiveFile::write_owned`]) and frees the budget.
    fn drain_into(&mut self, out: &mut dyn ArchiveFile) -> Result<()> {
        let r = std::mem::take(&mut self.blocks)
            .into_iter()
            .try_for_each(|b| out.write_owned(b));
        self.release();
        r
    }

    fn drain_to(&mut self, visit: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
        let r = std::mem::take(&mut self.blocks).iter().try_for_each(|b| visit(b));
        self.release();
        r
    }

    fn release(&mut self) {
        self.budget.give(std::mem::take(&mut self.reserved));
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.release();
    }
}

/// A spool being written: held in memory first, then in its file.
pub struct SpoolFile {
    path: PathBuf,
    held: Held,
    /// Opened for the first bytes that did not fit in memory (sealed: once a record of them is
    /// pending); everything after them goes here.
    file: Option<BufWriter<File>>,
    /// Bytes given (before sealing).
    len: u64,
    /// Of which in the file (before sealing).
    in_file: u64,
    seal: Option<Arc<Sealer>>,
    /// Sealed spools: bytes not yet sealed into a record.
    pending: Vec<u8>,
}

impl SpoolFile {
    pub fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        self.len += buf.len() as u64;
        if !self.spilled() && self.held.copy_in(buf) {
            return Ok(());
        }
        self.spill(buf)
    }

    /// [`write_all`](Self::write_all) of a buffer handed over: kept as it is while in memory.
    pub fn write_owned(&mut self, buf: Vec<u8>) -> Result<()> {
        self.len += buf.len() as u64;
        if self.spilled() {
            return self.spill(&buf);
        }
        match self.held.keep(buf) {
            Ok(()) => Ok(()),
            Err(buf) => self.spill(&buf),
        }
    }

    /// Whether bytes went past memory: then every later byte follows them. (Not whether the
    /// file exists: a sealed spool makes it only when a whole record is pending.)
    fn spilled(&self) -> bool {
        self.in_file > 0
    }

    /// To the file: bytes that did not fit in memory, and every byte after them.
    fn spill(&mut self, buf: &[u8]) -> Result<()> {
        self.in_file += buf.len() as u64;
        if self.seal.is_some() {
            self.pending.extend_from_slice(buf);
            if self.pending.len() >= RECORD {
                self.seal_pending()?;
            }
            return Ok(());
        }
        self.raw_write(buf)
    }

    fn raw_write(&mut self, buf: &[u8]) -> Result<()> {
        let file = match &mut self.file {
            Some(f) => f,
            None => {
                let f = private_file(&self.path)
                    .map_err(|e| Error::io(format!("could not create spool file \"{}\"", self.path.display()), e))?;
                self.file.insert(BufWriter::with_capacity(64 * 1024, f))
            }
        };
        file.write_all(buf)
            .map_err(|e| Error::io(format!("could not write spool file \"{}\"", self.path.display()), e))
    }

    /// Seals what is pending into records written to the file.
    fn seal_pending(&mut self) -> Result<()> {
        let Some(seal) = self.seal.clone() else {
            return Ok(());
        };
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut out = Vec::with_capacity(self.pending.len() + 64);
        for part in self.pending.chunks(RECORD) {
            seal.seal(part, &mut out)?;
        }
        self.pending.clear();
        self.raw_write(&out)
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Ends the spool (closing its file, if it has one): read back by [`Spooled::copy_into`].
    pub fn close(mut self) -> Result<Spooled> {
        self.seal_pending()?;
        let has_file = match self.file.take() {
            Some(f) => {
                f.into_inner().map_err(|e| {
                    Error::io(
                        format!("could not write spool file \"{}\"", self.path.display()),
                        e.into_error(),
                    )
                })?;
                true
            }
            None => false,
        };
        let SpoolFile {
            path,
            held,
            len,
            in_file,
            seal,
            ..
        } = self;
        Ok(Spooled {
            path,
            held,
            has_file,
            len,
            in_file,
            seal,
        })
    }
}

/// A complete spool: its memory part, then its file's. Dropped, it frees both.
#[derive(Debug)]
pub struct Spooled {
    path: PathBuf,
    held: Held,
    has_file: bool,
    len: u64,
    in_file: u64,
    seal: Option<Arc<Sealer>>,
}

impl Spooled {
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether part of it went to a file.
    pub fn has_file(&self) -> bool {
        self.has_file
    }

    /// Appends the spooled bytes to `out` (the blocks kept in memory handed over as they
    /// are), then frees them.
    pub fn copy_into(mut self, out: &mut dyn ArchiveFile) -> Result<()> {
        self.held.drain_into(out)?;
        if let Some(f) = self.open()? {
            read_back(
                f,
                self.seal.as_deref(),
                self.in_file,
                &self.path.display().to_string(),
                out,
            )?;
        }
        Ok(())
    }

    /// Feeds the spooled bytes to `visit`, then frees them.
    pub fn copy_to(mut self, visit: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
        self.held.drain_to(visit)?;
        if let Some(f) = self.open()? {
            let shown = self.path.display().to_string();
            match &self.seal {
                Some(seal) => copy_sealed(f, seal, self.in_file, &shown, visit)?,
                None => copy_exact(f, self.in_file, &shown, visit)?,
            }
        }
        Ok(())
    }

    fn open(&self) -> Result<Option<File>> {
        if !self.has_file {
            return Ok(None);
        }
        File::open(&self.path)
            .map(Some)
            .map_err(|e| Error::io(format!("could not open spool file \"{}\"", self.path.display()), e))
    }
}

impl Drop for Spooled {
    fn drop(&mut self) {
        if self.has_file {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Reads a sealed spool file: every record opened, `len` bytes of plaintext in all.
fn copy_sealed(
    mut f: File,
    seal: &Sealer,
    len: u64,
    shown: &str,
    out: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let mut raw: Vec<u8> = Vec::with_capacity(2 * READ_SIZE);
    let mut buf = vec![0u8; READ_SIZE];
    let mut plain = Vec::with_capacity(READ_SIZE);
    let mut total = 0u64;
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| Error::io(format!("could not read spool file \"{shown}\""), e))?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        plain.clear();
        let used = seal
            .open_records(&raw, &mut plain)
            .map_err(|e| e.context(format!("reading spool file \"{shown}\"")))?;
        raw.drain(..used);
        total += plain.len() as u64;
        if total > len {
            break;
        }
        out(&plain)?;
    }
    if !raw.is_empty() || total != len {
        return Err(Error::io(
            format!("spool file \"{shown}\" does not hold what was written ({len} bytes)"),
            io::Error::from(io::ErrorKind::UnexpectedEof),
        ));
    }
    Ok(())
}

/// Appends a spool file's `len` bytes to `out`: opened when sealed, and in buffers `out`
/// keeps when it keeps blocks ([`ArchiveFile::keeps_blocks`]).
fn read_back(f: File, seal: Option<&Sealer>, len: u64, shown: &str, out: &mut dyn ArchiveFile) -> Result<()> {
    match seal {
        Some(seal) => copy_sealed(f, seal, len, shown, &mut |b| out.write_all(b)),
        None if out.keeps_blocks() => copy_blocks(f, len, shown, out),
        None => copy_exact(f, len, shown, &mut |b| out.write_all(b)),
    }
}

fn copy_exact(mut f: File, len: u64, shown: &str, out: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
    let mut buf = vec![0u8; READ_SIZE];
    let mut left = len;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = read_some(&mut f, &mut buf[..want], len, shown)?;
        out(&buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// Spooled blocks read back into buffers of their own and handed to `out`
/// ([`ArchiveFile::write_owned`]): a table's sink keeps them as they are instead of copying
/// every spooled byte once more.
fn copy_blocks(mut f: File, len: u64, shown: &str, out: &mut dyn ArchiveFile) -> Result<()> {
    const BLOCK: usize = 1 << 20;
    let mut left = len;
    while left > 0 {
        let want = BLOCK.min(usize::try_from(left).unwrap_or(usize::MAX));
        // Read into the spare capacity: no zeroing of a buffer about to be overwritten.
        let mut block = Vec::with_capacity(want);
        (&mut f)
            .take(want as u64)
            .read_to_end(&mut block)
            .map_err(|e| Error::io(format!("could not read spool file \"{shown}\""), e))?;
        if block.len() < want {
            return Err(short_spool(shown, len));
        }
        out.write_owned(block)?;
        left -= want as u64;
    }
    Ok(())
}

/// One read of a spool file; its end before `len` bytes is an error.
fn read_some(f: &mut File, buf: &mut [u8], len: u64, shown: &str) -> Result<usize> {
    let n = f
        .read(buf)
        .map_err(|e| Error::io(format!("could not read spool file \"{shown}\""), e))?;
    if n == 0 {
        return Err(short_spool(shown, len));
    }
    Ok(n)
}

fn short_spool(shown: &str, len: u64) -> Error {
    Error::io(
        format!("spool file \"{shown}\" is shorter than written ({len} bytes)"),
        io::Error::from(io::ErrorKind::UnexpectedEof),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::output::tests::{MemFile, names};

    fn free(dir: &SpoolDir) -> usize {
        dir.memory.0.load(Ordering::Acquire)
    }

    /// An output that keeps the blocks it is handed.
    #[derive(Default)]
    struct Keeper(Vec<Vec<u8>>);

    impl ArchiveFile for Keeper {
        fn write_all(&mut self, buf: &[u8]) -> Result<()> {
            self.0.push(buf.to_vec());
            Ok(())
        }
        fn write_owned(&mut self, buf: Vec<u8>) -> Result<()> {
            self.0.push(buf);
            Ok(())
        }
        fn keeps_blocks(&self) -> bool {
            true
        }
        fn position(&self) -> u64 {
            self.0.iter().map(|b| b.len() as u64).sum()
        }
        fn is_atomic(&self) -> bool {
            false
        }
        fn commit(self: Box<Self>) -> Result<()> {
            Ok(())
        }
        fn describe(&self) -> String {
            "keeper".into()
        }
    }

    #[test]
    fn a_spool_within_the_budget_never_touches_the_disk() {
        let base = tempfile::tempdir().unwrap();
        let dir = SpoolDir::create(Some(&base.path().join("x.dump"))).unwrap();
        let mut s = dir.file("a").unwrap();
        s.write_all(b"small ").unwrap();
        s.write_all(b"pieces ").unwrap();
        let block = b"a block handed over".to_vec();
        let at = block.as_ptr();
        s.write_owned(block).unwrap();
        assert!(free(&dir) < SPOOL_MEMORY);
        let done = s.close().unwrap();
        assert!(!done.has_file());
        assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
        assert_eq!(done.len(), 32);
        let mut out = Keeper::default();
        done.copy_into(&mut out).unwrap();
        assert_eq!(out.0.concat(), b"small pieces a block handed over");
        // The block handed over is passed on as it is, and the memory is free again.
        assert_eq!(out.0[1].as_ptr(), at);
        assert_eq!(free(&dir), SPOOL_MEMORY);
        // Dropped unread, a spool frees its memory too.
        let mut s = dir.file("b").unwrap();
        s.write_all(b"abandoned").unwrap();
        drop(s);
        let mut s = dir.file("c").unwrap();
        s.write_all(b"finished, never copied").unwrap();
        drop(s.close().unwrap());
        assert_eq!(free(&dir), SPOOL_MEMORY);
    }

    #[test]
    fn past_the_budget_the_rest_goes_to_a_file_in_order() {
        let base = tempfile::tempdir().unwrap();
        let dir = SpoolDir::create(Some(&base.path().join("x.dump")))
            .unwrap()
            .with_memory(100 * 1024);
        let piece = |n: u8| vec![n; 50 * 1024];
        let mut a = dir.file("a").unwrap();
        a.write_all(&piece(1)).unwrap(); // a 64 KiB block of memory
        a.write_all(&piece(2)).unwrap(); // a second would exceed the budget: the file
        a.write_owned(piece(3)).unwrap(); // after a byte in the file, all of them
        // Another spool meanwhile: no memory left, straight to its file.
        let mut b = dir.file("b").unwrap();
        b.write_all(b"second spool").unwrap();
        assert_eq!(names(dir.path()).len(), 2);
        let a = a.close().unwrap();
        assert!(a.has_file());
        assert_eq!(a.len(), 150 * 1024);
        let file = dir.path().join(&names(dir.path())[0]);
        assert_eq!(fs::read(&file).unwrap(), [piece(2), piece(3)].concat());
        let mem = MemFile::default();
        let mut out: Box<dyn ArchiveFile> = Box::new(mem.clone());
        a.copy_into(out.as_mut()).unwrap();
        assert_eq!(*mem.bytes.lock().unwrap(), [piece(1), piece(2), piece(3)].concat());
        assert_eq!(free(&dir), 100 * 1024);
        // Copied, the file is gone; the other spool reads back through a visitor.
        assert_eq!(names(dir.path()).len(), 1);
        let mut seen = Vec::new();
        b.close()
            .unwrap()
            .copy_to(&mut |x| {
                seen.extend_from_slice(x);
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, b"second spool");
        assert!(names(dir.path()).is_empty());
        // Files left unread vanish with the directory.
        let mut c = dir.file("c").unwrap();
        c.write_all(&vec![7; 150 * 1024]).unwrap(); // more than the whole budget
        assert_eq!(names(dir.path()).len(), 1);
        let p = dir.path().to_path_buf();
        drop(dir);
        drop(c);
        assert!(!p.exists());
        assert!(names(base.path()).is_empty());
    }

    #[test]
    fn a_sealed_spool_that_spilled_keeps_its_order_when_memory_frees() {
        // A sealed spool's first spilled bytes wait for a whole record before its file is
        // made; memory freed meanwhile must not take the bytes that follow them.
        let base = tempfile::tempdir().unwrap();
        let dir = SpoolDir::create_sealed(Some(&base.path().join("x.dump")), true)
            .unwrap()
            .with_memory(100 * 1024);
        let mut other = dir.file("other").unwrap();
        other.write_all(&[0; 50 * 1024]).unwrap(); // holds 64 KiB of the budget
        let mut s = dir.file("s").unwrap();
        s.write_all(&[1; 50 * 1024]).unwrap(); // no room: spilled, less than a record
        drop(other); // the budget is free again
        s.write_all(&[2; 10 * 1024]).unwrap();
        let mem = MemFile::default();
        let mut out: Box<dyn ArchiveFile> = Box::new(mem.clone());
        s.close().unwrap().copy_into(out.as_mut()).unwrap();
        assert_eq!(
            *mem.bytes.lock().unwrap(),
            [vec![1; 50 * 1024], vec![2; 10 * 1024]].concat()
        );
    }

    #[test]
    fn spilled_spools_of_an_encrypted_archive_hold_no_plaintext() {
        let base = tempfile::tempdir().unwrap();
        let secret = b"card 4111-1111-1111-1111 of customer 17\n".repeat(2000);
        for sealed in [false, true] {
            let dir = SpoolDir::create_sealed(Some(&base.path().join("x.dump")), sealed)
                .unwrap()
                .with_memory(0);
            let mut s = dir.file("t").unwrap();
            s.write_all(&secret).unwrap();
            s.write_owned(secret.clone()).unwrap();
            let done = s.close().unwrap();
            let raw = fs::read(dir.path().join(&names(dir.path())[0])).unwrap();
            let clear = raw.windows(24).any(|w| w == &secret[..24]);
            assert_eq!(clear, !sealed, "sealed {sealed}");
            let mem = MemFile::default();
            let mut out: Box<dyn ArchiveFile> = Box::new(mem.clone());
            done.copy_into(out.as_mut()).unwrap();
            assert_eq!(*mem.bytes.lock().unwrap(), secret.repeat(2));
        }
    }
}
