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
//!
//! `pgsnap fetch` is the same copy without the requirement to decrypt: it brings an archive
//! (most usefully a backup at a destination URL) to a file, a directory or standard output,
//! decrypting it when keys are given, so that `pgsnap fetch s3://b/p/x.dump | pg_restore -d
//! db` restores from the destination without a local copy. What is read from a destination
//! is checked against its manifest (size and checksum of every file as stored): a mismatch
//! fails the copy, before a file output is put in place.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::archive::directory::{DirectoryWriter, TOC_FILE};
use crate::archive::output::{ArchiveFile, MemberFile, StreamFile, open_single_file};
use crate::archive::writer::WriterOptions;
use crate::checksum::Hasher;
use crate::crypt::identity::Identities;
use crate::crypt::open::{is_age, open_reader, read_failure};
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::{FileSum, MANIFEST_FILE, Manifest};
use crate::source::ArchiveSource;

/// What `decrypt` (or `fetch`) wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptReport {
    /// Files decrypted (or copied).
    pub files: usize,
    /// Bytes written.
    pub bytes: u64,
    /// Where; `None` for standard output.
    pub output: Option<PathBuf>,
}

/// Decrypts `archive` with `ids` into `output` (`None` or `-`: standard output, single-file
/// archives only).
pub fn decrypt(archive: &Path, ids: &Identities, output: Option<&Path>, sync: bool) -> Result<DecryptReport> {
    decrypt_source(&ArchiveSource::Local(archive.to_path_buf()), ids, output, sync)
}

/// As [`decrypt`], the archive read from `src` (a local path or a backup at a destination).
pub fn decrypt_source(
    src: &ArchiveSource,
    ids: &Identities,
    output: Option<&Path>,
    sync: bool,
) -> Result<DecryptReport> {
    copy_out(src, Some(ids), true, output, sync)
}

/// `pgsnap fetch`: copies the archive read from `src` into `output` (`None` or `-`: standard
/// output, single-file archives only), decrypting it when `ids` are given and it is
/// encrypted.
pub fn fetch(
    src: &ArchiveSource,
    ids: Option<&Identities>,
    output: Option<&Path>,
    sync: bool,
) -> Result<DecryptReport> {
    copy_out(src, ids, false, output, sync)
}

/// The copy behind both: `must_decrypt` refuses an archive that is not encrypted.
fn copy_out(
    src: &ArchiveSource,
    ids: Option<&Identities>,
    must_decrypt: bool,
    output: Option<&Path>,
    sync: bool,
) -> Result<DecryptReport> {
    let shown = src.shown();
    if let ArchiveSource::Local(archive) = src {
        fs::metadata(archive).map_err(|e| Error::io(format!("could not open archive \"{shown}\""), e))?;
    }
    let output = output.filter(|p| p.as_os_str() != "-");
    let expected = expected_sums(src)?;
    if src.is_dir() {
        let Some(out) = output else {
            return Err(Error::usage(format!(
                "an output directory (-o) must be given to {} a directory archive",
                if must_decrypt { "decrypt" } else { "fetch" }
            )));
        };
        return copy_dir(src, ids, must_decrypt, out, sync, expected.as_deref());
    }
    let file: Box<dyn ArchiveFile> = match output {
        Some(p) => open_single_file(Some(p), sync)?,
        None => Box::new(StreamFile::stdout()?),
    };
    let name = format!("\"{shown}\"");
    let f = src
        .open(None)
        .map_err(|e| Error::io(format!("could not open archive {name}"), e))?;
    let expect = expected.as_ref().and_then(|v| v.first());
    let bytes = copy_one(f, ids, must_decrypt, &name, file, expect)?;
    Ok(DecryptReport {
        files: 1,
        bytes,
        output: output.map(Path::to_path_buf),
    })
}

/// The sizes and checksums a copy from a destination must match (its manifest's); `None`
/// for a local archive, whose copy is checked by `pgsnap verify` instead.
fn expected_sums(src: &ArchiveSource) -> Result<Option<Vec<FileSum>>> {
    if matches!(src, ArchiveSource::Local(_)) {
        return Ok(None);
    }
    let shown = src.manifest_shown();
    let bytes = src
        .read_manifest()
        .map_err(|e| Error::io(format!("could not read \"{shown}\""), e))?;
    let m = Manifest::parse(&bytes)
        .map_err(|e| Error::archive(format!("\"{shown}\": manifest unreadable or incomplete: {e}")))?;
    Ok(Some(m.files))
}

/// Counts and digests the bytes read through it (the stored bytes, before decryption), when
/// there is a manifest's sum to check them against.
struct Digesting<'a, R> {
    inner: R,
    sum: Option<&'a mut (Hasher, u64)>,
}

impl<R: Read> Read for Digesting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some((ctx, size)) = self.sum.as_mut() {
            ctx.update(&buf[..n]);
            *size += n as u64;
        }
        Ok(n)
    }
}

/// Copies one file from `src` into `out`, decrypting it when it is an age file and `ids` are
/// given, and commits it; with `must_decrypt`, an unencrypted file is refused. With `expect`,
/// the bytes read must have its size and checksum, else nothing is committed.
fn copy_one(
    src: Box<dyn Read + Send>,
    ids: Option<&Identities>,
    must_decrypt: bool,
    name: &str,
    mut out: Box<dyn ArchiveFile>,
    expect: Option<&FileSum>,
) -> Result<u64> {
    let mut sum = expect.map(|want| (Hasher::new(want.kind()), 0u64));
    let mut src = Digesting {
        inner: src,
        sum: sum.as_mut(),
    };
    let mut head = [0u8; 22];
    let n = read_up_to(&mut src, &mut head).map_err(|e| Error::io(format!("could not read {name}"), e))?;
    let encrypted = is_age(&head[..n]);
    if must_decrypt && !encrypted {
        return Err(Error::new(
            ErrorKind::Archive,
            format!("{name} is not encrypted (no age header)"),
        ));
    }
    let whole = std::io::Cursor::new(head[..n].to_vec()).chain(src);
    let (mut r, decrypting): (Box<dyn Read + '_>, bool) = match ids {
        Some(ids) if encrypted => (Box::new(open_reader(whole, ids, name)?), true),
        _ => (Box::new(whole), false),
    };
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let k = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if decrypting => return Err(read_failure(name, e)),
            Err(e) => return Err(Error::io(format!("could not read {name}"), e)),
        };
        out.write_all(&buf[..k])?;
        total += k as u64;
    }
    drop(r);
    if let (Some(want), Some((ctx, size))) = (expect, sum) {
        let got = FileSum::from_hasher(want.name.clone(), size, ctx);
        want.matches(&got)
            .map_err(|what| Error::archive(format!("{name}: {what}")))?;
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

/// A directory archive, member by member, into a new directory built under a temporary
/// name. Decrypted, the manifest (which describes the encrypted files) is left out; copied as
/// stored, it comes along, so the copy verifies.
fn copy_dir(
    src: &ArchiveSource,
    ids: Option<&Identities>,
    must_decrypt: bool,
    out: &Path,
    sync: bool,
    expected: Option<&[FileSum]>,
) -> Result<DecryptReport> {
    let shown = src.shown();
    let mut names = src
        .member_names()
        .map_err(|e| Error::io(format!("could not read directory \"{shown}\""), e))?;
    if !names.iter().any(|n| n == TOC_FILE) {
        return Err(Error::new(
            ErrorKind::Archive,
            format!("\"{shown}\" is not a directory archive: it has no toc.dat"),
        ));
    }
    let decrypting = must_decrypt || (ids.is_some() && src.looks_encrypted());
    names.retain(|n| n != MANIFEST_FILE || !decrypting);
    let writer = DirectoryWriter::create_with(
        out,
        WriterOptions {
            sync,
            ..WriterOptions::default()
        },
    )?;
    let mut bytes = 0;
    for name in &names {
        let label = format!("\"{}\"", src.member_shown(Some(name)));
        let f = src
            .open(Some(name))
            .map_err(|e| Error::io(format!("could not open {label}"), e))?;
        let expect = match expected {
            Some(files) if name != MANIFEST_FILE => Some(
                files
                    .iter()
                    .find(|f| &f.name == name)
                    .ok_or_else(|| Error::archive(format!("{label}: not listed in the manifest")))?,
            ),
            _ => None,
        };
        let member = MemberFile::create(&writer.temp_dir().join(name), sync)?;
        let keys = if decrypting { ids } else { None };
        bytes += copy_one(
            f,
            keys,
            decrypting && name != MANIFEST_FILE,
            &label,
            Box::new(member),
            expect,
        )?;
    }
    let target = writer.finish_files()?;
    Ok(DecryptReport {
        files: names.len(),
        bytes,
        output: Some(target),
    })
}
