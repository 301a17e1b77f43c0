//! `pgsnap decrypt`: an encrypted archive back to the plain archive pg_restore reads.
//!
//! A directory archive is decrypted member by member into a new directory (built under a
//! hidden temporary name and renamed into place when every file decrypted and authenticated,
//! as a dump does); every member keeps its name, so the result is exactly the directory
//! archive the dump would have written without `--encrypt-to`. The manifest, which describes
//! the encrypted files, is not copied. A single-file archive (custom, tar, plain script) is
//! decrypted to a file, written atomically, or to standard output, so that
//! `pgsnap decrypt db.dump -i key | pg_restore -d db` works; to a stream, a damaged file is
//! reported when its bad chunk is reached, after the chunks before it were passed on (the
//! exit status then says the output is not to be trusted, as with `age -d`).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::archive::directory::DirectoryWriter;
use crate::archive::output::{ArchiveFile, MemberFile, StreamFile, open_single_file};
use crate::archive::read::open_regular;
use crate::archive::writer::WriterOptions;
use crate::crypt::identity::Identities;
use crate::crypt::open::{is_age, open_reader, read_failure};
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::MANIFEST_FILE;

/// What `decrypt` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptReport {
    /// Files decrypted.
    pub files: usize,
    /// Plaintext bytes written.
    pub bytes: u64,
    /// Where; `None` for standard output.
    pub output: Option<PathBuf>,
}

/// Decrypts `archive` with `ids` into `output` (`None` or `-`: standard output, single-file
/// archives only).
pub fn decrypt(archive: &Path, ids: &Identities, output: Option<&Path>, sync: bool) -> Result<DecryptReport> {
    let shown = archive.display();
    let meta = fs::metadata(archive).map_err(|e| Error::io(format!("could not open archive \"{shown}\""), e))?;
    let output = output.filter(|p| p.as_os_str() != "-");
    if meta.is_dir() {
        let Some(out) = output else {
            return Err(Error::usage(
                "an output directory (-o) must be given to decrypt a directory archive",
            ));
        };
        return decrypt_dir(archive, ids, out, sync);
    }
    let file: Box<dyn ArchiveFile> = match output {
        Some(p) => open_single_file(Some(p), sync)?,
        None => Box::new(StreamFile::stdout()?),
    };
    let name = format!("\"{shown}\"");
    let (f, _) = open_regular(archive).map_err(|e| Error::io(format!("could not open archive {name}"), e))?;
    let bytes = decrypt_into(f, ids, &name, file)?;
    Ok(DecryptReport {
        files: 1,
        bytes,
        output: output.map(Path::to_path_buf),
    })
}

/// Decrypts one age file from `src` into `out` and commits it; an unencrypted file is refused.
fn decrypt_into(mut src: fs::File, ids: &Identities, name: &str, mut out: Box<dyn ArchiveFile>) -> Result<u64> {
    let mut head = [0u8; 22];
    let n = read_up_to(&mut src, &mut head).map_err(|e| Error::io(format!("could not read {name}"), e))?;
    if !is_age(&head[..n]) {
        return Err(Error::new(
            ErrorKind::Archive,
            format!("{name} is not encrypted (no age header)"),
        ));
    }
    let mut r = open_reader(std::io::Cursor::new(head).chain(src), ids, name)?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let k = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_failure(name, e)),
        };
        out.write_all(&buf[..k])?;
        total += k as u64;
    }
    out.commit()?;
    Ok(total)
}

fn read_up_to(f: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn decrypt_dir(archive: &Path, ids: &Identities, out: &Path, sync: bool) -> Result<DecryptReport> {
    let shown = archive.display();
    let mut names = Vec::new();
    for e in fs::read_dir(archive).map_err(|e| Error::io(format!("could not read directory \"{shown}\""), e))? {
        let e = e.map_err(|e| Error::io(format!("could not read directory \"{shown}\""), e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name == MANIFEST_FILE {
            continue;
        }
        names.push(name);
    }
    names.sort();
    if !names.iter().any(|n| n == "toc.dat") {
        return Err(Error::new(
            ErrorKind::Archive,
            format!("\"{shown}\" is not a directory archive: it has no toc.dat"),
        ));
    }
    let writer = DirectoryWriter::create_with(
        out,
        WriterOptions {
            sync,
            ..WriterOptions::default()
        },
    )?;
    let mut bytes = 0;
    for name in &names {
        let path = archive.join(name);
        let label = format!("\"{}\"", path.display());
        let (f, _) = open_regular(&path).map_err(|e| Error::io(format!("could not open {label}"), e))?;
        let member = MemberFile::create(&writer.temp_dir().join(name), sync)?;
        bytes += decrypt_into(f, ids, &label, Box::new(member))?;
    }
    let target = writer.finish_files()?;
    Ok(DecryptReport {
        files: names.len(),
        bytes,
        output: Some(target),
    })
}
