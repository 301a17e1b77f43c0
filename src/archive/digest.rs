//! The digest layer: the checksum of each archive file, taken from its bytes as they are
//! written, so the manifest of a local archive needs no second pass over the files (reading a
//! 2 GB archive back and hashing it serially after the dump cost about a fifth of an
//! uncompressed dump's wall time).
//!
//! It is the innermost layer (after compression and encryption), so it sums what is stored.
//! A file whose earlier bytes are rewritten in place (the custom format's TOC offsets, the tar
//! headers of members whose size was unknown) has no running digest left; the manifest then
//! reads that file back, as it does any file the layer did not see.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use super::output::{ArchiveFile, FileLayer};
use crate::checksum::{ChecksumKind, Hasher};
use crate::error::Result;
use crate::manifest::FileSum;

type Sums = Arc<Mutex<HashMap<String, FileSum>>>;

/// Sums of the committed files of one archive, by name (`toc.dat`, `2565.dat.gz`, or a
/// single-file archive's file name).
pub struct DigestLayer {
    sums: Sums,
    kind: ChecksumKind,
}

impl fmt::Debug for DigestLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DigestLayer")
    }
}

impl DigestLayer {
    /// Sums in `kind`.
    pub fn new(kind: ChecksumKind) -> Arc<DigestLayer> {
        Arc::new(DigestLayer {
            sums: Sums::default(),
            kind,
        })
    }

    /// The sum of file `name` as committed, when it was written straight through (never
    /// patched) and its size is `size` (what is on disk now).
    pub fn sum_of(&self, name: &str, size: u64) -> Option<FileSum> {
        lock(&self.sums).get(name).filter(|s| s.size == size).cloned()
    }
}

fn lock(sums: &Sums) -> std::sync::MutexGuard<'_, HashMap<String, FileSum>> {
    sums.lock().unwrap_or_else(|p| p.into_inner())
}

impl FileLayer for DigestLayer {
    fn wrap(&self, name: &str, inner: Box<dyn ArchiveFile>) -> Result<Box<dyn ArchiveFile>> {
        // A file of that name opened again replaces the earlier one: its old sum is void.
        lock(&self.sums).remove(name);
        Ok(Box::new(Digesting {
            inner,
            name: name.to_string(),
            ctx: Some(Hasher::new(self.kind)),
            size: 0,
            sums: self.sums.clone(),
        }))
    }
}

/// A file being summed.
struct Digesting {
    inner: Box<dyn ArchiveFile>,
    name: String,
    /// `None` once a patch made the running digest stale.
    ctx: Option<Hasher>,
    size: u64,
    sums: Sums,
}

impl ArchiveFile for Digesting {
    fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        self.inner.write_all(buf)?;
        if let Some(ctx) = self.ctx.as_mut() {
            ctx.update(buf);
        }
        self.size += buf.len() as u64;
        Ok(())
    }

    fn position(&self) -> u64 {
        self.inner.position()
    }

    fn can_patch(&self) -> bool {
        self.inner.can_patch()
    }

    fn patch(&mut self, pos: u64, bytes: &[u8]) -> Result<()> {
        self.ctx = None;
        self.inner.patch(pos, bytes)
    }

    fn is_atomic(&self) -> bool {
        self.inner.is_atomic()
    }

    fn commit(self: Box<Self>) -> Result<()> {
        let Digesting {
            inner,
            name,
            ctx,
            size,
            sums,
        } = *self;
        inner.commit()?;
        if let Some(ctx) = ctx {
            let sum = FileSum::from_hasher(name.clone(), size, ctx);
            lock(&sums).insert(name, sum);
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::output::{MemberFile, apply_layers};

    fn sum_on_disk(path: &std::path::Path, name: &str, kind: ChecksumKind) -> FileSum {
        crate::manifest::sum_file(path, name, kind).unwrap()
    }

    /// A directory-archive member `name` at `path`, under `layer` alone.
    fn member(layer: &Arc<DigestLayer>, name: &str, path: &std::path::Path) -> Box<dyn ArchiveFile> {
        let layers: Vec<Arc<dyn FileLayer>> = vec![layer.clone()];
        apply_layers(&layers, name, Box::new(MemberFile::create(path, false).unwrap())).unwrap()
    }

    #[test]
    fn a_file_written_straight_through_is_summed_as_stored() {
        for kind in [ChecksumKind::Crc32c, ChecksumKind::Sha256, ChecksumKind::None] {
            written_straight_through(kind);
        }
    }

    fn written_straight_through(kind: ChecksumKind) {
        let dir = tempfile::tempdir().unwrap();
        let layer = DigestLayer::new(kind);
        let path = dir.path().join("2565.dat");
        let mut f = member(&layer, "2565.dat", &path);
        for i in 0..300u32 {
            f.write_all(format!("{i}\tsome row text\n").repeat(50).as_bytes())
                .unwrap();
        }
        assert_eq!(layer.sum_of("2565.dat", 0), None, "nothing before commit");
        f.commit().unwrap();
        let disk = sum_on_disk(&path, "2565.dat", kind);
        assert_eq!(disk.kind(), kind);
        assert_eq!(layer.sum_of("2565.dat", disk.size), Some(disk.clone()));
        assert_eq!(
            layer.sum_of("2565.dat", disk.size + 1),
            None,
            "another size is another file"
        );
        assert_eq!(layer.sum_of("toc.dat", 0), None);
    }

    #[test]
    fn a_patched_file_or_an_abandoned_one_has_no_sum() {
        let dir = tempfile::tempdir().unwrap();
        let layer = DigestLayer::new(ChecksumKind::Sha256);
        let layers: Vec<Arc<dyn FileLayer>> = vec![layer.clone()];
        let path = dir.path().join("a.dump");
        let atomic = crate::archive::output::AtomicFile::create(&path, false).unwrap();
        let mut f = apply_layers(&layers, "a.dump", Box::new(atomic)).unwrap();
        f.write_all(b"PGDMP0000rest").unwrap();
        assert!(f.can_patch());
        f.patch(5, b"1234").unwrap();
        f.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"PGDMP1234rest");
        assert_eq!(layer.sum_of("a.dump", 13), None, "the running digest went stale");

        let mut g = member(&layer, "b.dat", &dir.path().join("b.dat"));
        g.write_all(b"x").unwrap();
        drop(g);
        assert_eq!(layer.sum_of("b.dat", 1), None);
    }

    #[test]
    fn reopening_a_name_voids_its_earlier_sum() {
        let dir = tempfile::tempdir().unwrap();
        let layer = DigestLayer::new(ChecksumKind::Sha256);
        let mut f = member(&layer, "toc.dat", &dir.path().join("t1"));
        f.write_all(b"abc").unwrap();
        f.commit().unwrap();
        assert!(layer.sum_of("toc.dat", 3).is_some());
        let g = member(&layer, "toc.dat", &dir.path().join("t2"));
        assert_eq!(layer.sum_of("toc.dat", 3), None);
        drop(g);
    }
}
