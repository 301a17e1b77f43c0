//! Opening any archive pgsnap or pg_dump writes — directory, custom, tar — by looking at it
//! the way pg_restore does (`_discoverArchiveFormat`, pg_backup_archiver.c): a directory is a
//! directory archive; a file starting with "PGDMP" is a custom archive; a file whose first
//! block is a valid tar header is a tar archive. Standard input (`-`) holds a custom or tar
//! archive. Paths must name directories or regular files.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;

use super::custom::{CustomReader, read_toc};
use super::directory::DirectoryReader;
use super::list::{ListOptions, list_with};
use super::tar::{BLOCK, TarReader, looks_like_tar, read_toc_stream};
use super::toc::{Header, MAGIC, TocEntry};
use super::zone::local_zone;
use crate::error::{Error, Result};

/// The kind of archive found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Directory,
    Custom,
    Tar,
}

impl Kind {
    /// As pg_restore -l names the format.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Directory => "DIRECTORY",
            Kind::Custom => "CUSTOM",
            Kind::Tar => "TAR",
        }
    }
}

/// An archive's header and entries.
#[derive(Debug, Clone)]
pub struct ArchiveToc {
    pub kind: Kind,
    pub header: Header,
    pub entries: Vec<TocEntry>,
}

/// Reads the TOC of the archive at `path` (`-` = standard input).
pub fn read_archive_toc(path: &Path) -> Result<ArchiveToc> {
    if path.as_os_str() == "-" {
        return read_stream(&mut io::stdin().lock());
    }
    let shown = path.display();
    let meta = fs::metadata(path).map_err(|e| Error::io(format!("could not open input file \"{shown}\""), e))?;
    if meta.is_dir() {
        let r = DirectoryReader::open(path)?;
        return Ok(ArchiveToc {
            kind: Kind::Directory,
            header: r.header().clone(),
            entries: r.entries().to_vec(),
        });
    }
    if !meta.is_file() {
        return Err(Error::usage(format!(
            "\"{shown}\" is neither a regular file nor a directory; pipe it to standard input and give \"-\""
        )));
    }
    let (mut f, _) = open_regular(path).map_err(|e| Error::io(format!("could not open input file \"{shown}\""), e))?;
    let mut head = Vec::with_capacity(BLOCK);
    (&mut f)
        .take(BLOCK as u64)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(format!("could not read input file \"{shown}\""), e))?;
    let in_file = |e: Error| e.context(format!("reading archive \"{shown}\""));
    match detect(&head).map_err(in_file)? {
        Kind::Custom => {
            let r = CustomReader::new(f).map_err(in_file)?;
            Ok(ArchiveToc {
                kind: Kind::Custom,
                header: r.toc().header.clone(),
                entries: r.toc().entries.clone(),
            })
        }
        _ => {
            let r = TarReader::new(f).map_err(in_file)?;
            Ok(ArchiveToc {
                kind: Kind::Tar,
                header: r.header().clone(),
                entries: r.entries().to_vec(),
            })
        }
    }
}

/// Opens `path` for reading if it is a regular file (links followed), with its size. The
/// open does not wait (O_NONBLOCK), so a FIFO put in an archive's place is refused at once
/// instead of blocking until someone writes to it; anything but a regular file (a FIFO, a
/// device such as /dev/zero, a socket) is an `InvalidInput` error saying so, as pg_restore
/// refuses such a toc.dat.
pub(crate) fn open_regular(path: &Path) -> io::Result<(File, u64)> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
    }
    // O_NONBLOCK means nothing to a regular file's reads; the descriptor is used as is.
    Ok((f, meta.len()))
}

/// Reads a custom or tar archive's TOC from a stream.
pub fn read_stream(src: &mut dyn Read) -> Result<ArchiveToc> {
    read_stream_from(src, "standard input")
}

/// As [`read_stream`], the stream named `name` in errors.
pub fn read_stream_from(src: &mut dyn Read, name: &str) -> Result<ArchiveToc> {
    let mut head = Vec::with_capacity(BLOCK);
    src.take(BLOCK as u64)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(format!("could not read from {name}"), e))?;
    let kind = detect(&head)?;
    let mut whole = io::Cursor::new(head).chain(src);
    let (header, entries) = match kind {
        Kind::Custom => {
            let (toc, _) = read_toc(&mut whole, None)?;
            (toc.header, toc.entries)
        }
        _ => read_toc_stream(&mut whole)?,
    };
    Ok(ArchiveToc { kind, header, entries })
}

/// Tells a custom from a tar archive by its first bytes.
fn detect(head: &[u8]) -> Result<Kind> {
    if head.len() < MAGIC.len() {
        return Err(Error::archive(format!(
            "input file is too short (read {}, expected {})",
            head.len(),
            MAGIC.len()
        )));
    }
    if head.starts_with(MAGIC) {
        return Ok(Kind::Custom);
    }
    if looks_like_tar(head) {
        return Ok(Kind::Tar);
    }
    if head.starts_with(b"--") || head.starts_with(b"\n--") || head.starts_with(b"SET ") {
        return Err(Error::archive(
            "input file appears to be a text format dump; restore it with psql",
        ));
    }
    Err(Error::archive("input file does not appear to be a valid archive"))
}

/// The listing `pg_restore -l` (`-C` with `create`) prints for the archive at `path`.
pub fn list_archive(path: &Path, create: bool) -> Result<String> {
    Ok(list_toc(&read_archive_toc(path)?, create))
}

/// The listing `pg_restore -l` (`-C` with `create`) prints for an archive's TOC, wherever it
/// was read from.
pub fn list_toc(toc: &ArchiveToc, create: bool) -> String {
    list_with(
        &toc.header,
        &toc.entries,
        ListOptions {
            create_db: create,
            format_label: Some(toc.kind.label()),
            created: Some(local_zone().stamp(&toc.header.created)),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn detection() {
        assert_eq!(detect(b"PGDMP\x01\x0e").unwrap(), Kind::Custom);
        let h = super::super::tar::header("toc.dat", 3, 0).unwrap();
        assert_eq!(detect(&h).unwrap(), Kind::Tar);
        assert!(detect(b"PGD").unwrap_err().to_string().contains("too short"));
        assert!(
            detect(b"--\n-- PostgreSQL database dump\n")
                .unwrap_err()
                .to_string()
                .contains("psql")
        );
        assert_eq!(detect(b"hello world").unwrap_err().kind(), ErrorKind::Archive);
    }

    #[test]
    fn paths_must_be_files_or_directories() {
        let e = read_archive_toc(Path::new("/dev/null")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage, "{e}");
        let e = read_archive_toc(Path::new("/no/such/archive")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("empty");
        fs::write(&f, b"").unwrap();
        assert!(read_archive_toc(&f).unwrap_err().to_string().contains("too short"));
    }
}
