//! `pgsnap verify`: proves an archive whole before anyone needs it.
//!
//! Checks, each problem named with its file:
//! 1. the manifest is there (its absence means the dump never completed) and complete;
//! 2. every file it lists exists with its size and checksum, and a directory archive holds no
//!    file it does not list;
//! 3. with the keys of an encrypted archive (or for a plain one): `toc.dat` is decrypted and
//!    parsed, every data entry is backed by its file (or member, or block), and every data
//!    file is decrypted (each age chunk authenticated, the end marker required) and
//!    decompressed to its end, its COPY text well formed (fields per line as the entry's
//!    column list, the `\.` end marker) and its rows as many as the manifest says.
//!
//! An encrypted archive checked without keys fails: its contents cannot be vouched for.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::{self, Read, Seek};
use std::path::Path;
use std::sync::Mutex;

use crate::archive::custom::{CustomReader, DataEvent};
use crate::archive::directory::{DISCOVERY_SUFFIXES, TOC_FILE};
use crate::archive::tar::TarReader;
use crate::archive::toc::{TocEntry, decode_toc};
use crate::checksum::{ChecksumKind, Hasher};
use crate::codec;
use crate::crypt::identity::Identities;
use crate::crypt::open::{open_reader, read_failure};
use crate::error::{Error, Result};
use crate::manifest::{FileSum, MANIFEST_FILE, Manifest, Problem, RowCounter};
use crate::source::{ArchiveSource, ReadSeek};

/// Largest decompressed data a single entry may expand to while verifying (a bound against
/// decompression bombs in damaged archives, far above any real table).
const DATA_LIMIT: u64 = 1 << 44;
/// Largest toc.dat read.
const TOC_LIMIT: u64 = 1 << 30;

/// What `verify` found.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    pub problems: Vec<Problem>,
    /// Files whose size and checksum matched.
    pub files_checked: usize,
    /// Data entries read to their end.
    pub entries_read: usize,
    /// Rows counted in them.
    pub rows: u64,
    /// Encrypted and checked without keys: only the manifest's sizes and checksums were
    /// compared, the contents were not read.
    pub sealed: bool,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, file: impl Into<String>, what: impl Into<String>) {
        self.problems.push(Problem {
            file: file.into(),
            what: what.into(),
        });
    }
}

/// Verifies the archive at `archive` (a directory, or the file of a single-file archive with
/// its `NAME.manifest` beside it). An error is returned only when there is no archive there;
/// everything found wrong with one is a problem in the report.
pub fn verify(archive: &Path, ids: Option<&Identities>) -> Result<VerifyReport> {
    verify_source(&ArchiveSource::Local(archive.to_path_buf()), ids)
}

/// As [`verify`], the archive read from `src` (a local path or a backup at a destination).
pub fn verify_source(src: &ArchiveSource, ids: Option<&Identities>) -> Result<VerifyReport> {
    let mut r = check_source(src, ids)?;
    if r.sealed {
        r.problem(
            src.shown(),
            "encrypted: give -i IDENTITY (or a passphrase) to check its contents",
        );
    }
    Ok(r)
}

/// As [`verify`], except that an encrypted archive without `ids` is not a problem: what
/// can be checked without decrypting (the manifest, every file's size and checksum) is, and
/// the report says `sealed`. For jobs that encrypt to keys kept elsewhere.
pub fn check(archive: &Path, ids: Option<&Identities>) -> Result<VerifyReport> {
    check_source(&ArchiveSource::Local(archive.to_path_buf()), ids)
}

/// As [`check`], the archive read from `src`.
pub fn check_source(src: &ArchiveSource, ids: Option<&Identities>) -> Result<VerifyReport> {
    if let ArchiveSource::Local(archive) = src {
        fs::metadata(archive).map_err(|e| Error::io(format!("could not open archive \"{}\"", archive.display()), e))?;
    }
    let dir = src.is_dir();
    let mut r = VerifyReport::default();
    let mshown = src.manifest_shown();
    let manifest = match src.read_manifest() {
        Ok(bytes) => match Manifest::parse(&bytes) {
            Ok(m) => Some(m),
            Err(e) => {
                r.problem(&mshown, format!("manifest unreadable or incomplete: {e}"));
                None
            }
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            r.problem(
                &mshown,
                "manifest missing: the dump did not complete, or it was removed",
            );
            None
        }
        Err(e) => {
            r.problem(&mshown, format!("manifest cannot be read: {e}"));
            None
        }
    };
    let encrypted = manifest.as_ref().is_some_and(|m| m.encrypted) || src.looks_encrypted();
    if encrypted && ids.is_none() {
        if let Some(m) = &manifest {
            check_sums(src, m, &Taken::default(), &mut r);
        }
        r.sealed = true;
        return Ok(r);
    }
    let rows: Option<BTreeMap<i32, u64>> = manifest
        .as_ref()
        .map(|m| m.tables.iter().map(|t| (t.dump_id, t.rows)).collect());
    // A directory archive's members are summed while their contents are read, so each is
    // read once (from a destination: downloaded once, not twice). The sums are compared
    // first and their problems listed first, as when they were taken in a pass of their own.
    let taken = Taken::for_manifest(manifest.as_ref().filter(|_| dir));
    let ctx = Ctx {
        ids: if encrypted { ids } else { None },
        rows,
        taken: &taken,
    };
    let mut content = VerifyReport::default();
    if dir {
        check_directory(src, &ctx, &mut content);
    } else {
        check_single(src, manifest.as_ref().map(|m| m.format.as_str()), &ctx, &mut content);
    }
    if let Some(m) = &manifest {
        check_sums(src, m, &taken, &mut r);
    }
    r.problems.append(&mut content.problems);
    r.entries_read += content.entries_read;
    r.rows += content.rows;
    Ok(r)
}

struct Ctx<'a> {
    /// Keys, when the archive is encrypted.
    ids: Option<&'a Identities>,
    /// Rows per dump id, from the manifest.
    rows: Option<BTreeMap<i32, u64>>,
    /// Sums of the members read whole while checking their contents.
    taken: &'a Taken,
}

/// Sums taken of directory members as they were read for their contents, in the algorithm
/// the manifest lists each in.
#[derive(Default)]
struct Taken {
    kinds: HashMap<String, ChecksumKind>,
    sums: Mutex<HashMap<String, FileSum>>,
}

impl Taken {
    fn for_manifest(m: Option<&Manifest>) -> Taken {
        Taken {
            kinds: m
                .map(|m| m.files.iter().map(|f| (f.name.clone(), f.kind())).collect())
                .unwrap_or_default(),
            sums: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, name: &str) -> Option<FileSum> {
        self.sums.lock().unwrap_or_else(|p| p.into_inner()).remove(name)
    }
}

/// A member's stored bytes on their way to the decrypter and decompressor, summed. Dropped,
/// it reads what the readers above left (trailing bytes after a compressed stream's end,
/// the rest of a file whose check stopped early) and records the sum; a read error there
/// records none, and the member is then summed on its own.
struct Summing<'a, R: Read> {
    inner: R,
    name: String,
    hasher: Option<Hasher>,
    size: u64,
    taken: &'a Taken,
}

impl<R: Read> Read for Summing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf);
        match &n {
            Ok(n) => {
                if let Some(h) = self.hasher.as_mut() {
                    h.update(&buf[..*n]);
                }
                self.size += *n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // The stream is not whole: no sum from it.
            Err(_) => self.hasher = None,
        }
        n
    }
}

impl<R: Read> Drop for Summing<'_, R> {
    fn drop(&mut self) {
        if self.hasher.is_none() {
            return;
        }
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match self.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
        if let Some(h) = self.hasher.take() {
            let sum = FileSum::from_hasher(self.name.clone(), self.size, h);
            self.taken
                .sums
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(self.name.clone(), sum);
        }
    }
}

fn check_sums(src: &ArchiveSource, m: &Manifest, taken: &Taken, r: &mut VerifyReport) {
    let dir = src.is_dir();
    if m.files.is_empty() {
        r.problem(src.manifest_shown(), "manifest lists no file");
    }
    let mut listed = BTreeSet::new();
    for f in &m.files {
        let member = if dir {
            if f.name.contains('/') || f.name == ".." || f.name == "." {
                r.problem(format!("{}/{}", src.shown(), f.name), "unsafe name in the manifest");
                continue;
            }
            Some(f.name.as_str())
        } else {
            None
        };
        listed.insert(f.name.clone());
        let shown = src.member_shown(member);
        let sum = match taken.get(&f.name) {
            Some(s) => Ok(s),
            None => src.sum(member, &f.name, f.kind()),
        };
        match sum {
            Ok(s) => match f.matches(&s) {
                Ok(()) => r.files_checked += 1,
                Err(what) => r.problem(shown, what),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => r.problem(shown, "missing (listed in the manifest)"),
            Err(e) => r.problem(shown, format!("cannot be read: {e}")),
        }
    }
    if dir {
        if !listed.contains(TOC_FILE) {
            r.problem(src.manifest_shown(), "manifest does not list toc.dat");
        }
        if let Ok(names) = src.member_names() {
            for n in names {
                if n != MANIFEST_FILE && !listed.contains(&n) {
                    r.problem(src.member_shown(Some(&n)), "not listed in the manifest");
                }
            }
        }
    }
}

/// Opens a member of a directory archive, decrypting when the archive is encrypted, and
/// summing its stored bytes when the manifest lists it.
fn open_file<'a>(src: &ArchiveSource, member: &str, ctx: &Ctx<'a>) -> Result<Box<dyn Read + Send + 'a>> {
    let shown = format!("\"{}\"", src.member_shown(Some(member)));
    let mut f = src
        .open(Some(member))
        .map_err(|e| Error::io(format!("could not open {shown}"), e))?;
    if let Some(&kind) = ctx.taken.kinds.get(member) {
        f = Box::new(Summing {
            inner: f,
            name: member.to_string(),
            hasher: Some(Hasher::new(kind)),
            size: 0,
            taken: ctx.taken,
        });
    }
    match ctx.ids {
        Some(ids) => Ok(Box::new(open_reader(f, ids, &shown)?)),
        None => Ok(f),
    }
}

/// Reads `r` to its end, mapping decryption damage to a clear message.
fn read_all(mut r: impl Read, name: &str, limit: u64) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    (&mut r)
        .take(limit)
        .read_to_end(&mut v)
        .map_err(|e| read_failure(name, e))?;
    Ok(v)
}

fn check_directory(src: &ArchiveSource, ctx: &Ctx<'_>, r: &mut VerifyReport) {
    let toc_shown = src.member_shown(Some(TOC_FILE));
    let toc = open_file(src, TOC_FILE, ctx).and_then(|f| read_all(f, &format!("\"{toc_shown}\""), TOC_LIMIT));
    let entries = match toc.and_then(|b| decode_toc(&b)) {
        Ok((_, entries)) => entries,
        Err(e) => {
            r.problem(toc_shown, format!("cannot be read as a TOC: {e}"));
            return;
        }
    };
    let mut seen = BTreeSet::new();
    for e in entries.iter().filter(|e| e.had_dumper) {
        seen.insert(e.dump_id);
        if e.filename.is_empty() || e.filename.contains('/') {
            r.problem(&toc_shown, format!("{} names no usable data file", e.label()));
            continue;
        }
        if e.desc == "BLOBS" {
            check_blobs_dir(src, e, ctx, r);
            continue;
        }
        let found = DISCOVERY_SUFFIXES
            .iter()
            .map(|s| (format!("{}{s}", e.filename), *s))
            .find(|(m, _)| src.has_member(m));
        let Some((member, suffix)) = found else {
            r.problem(
                src.member_shown(Some(&e.filename)),
                format!("data file of {} missing", e.label()),
            );
            continue;
        };
        let shown = src.member_shown(Some(&member));
        let res = open_file(src, &member, ctx).and_then(|f| {
            let mut d = codec::decoder_for_suffix(suffix, f)?;
            let mut check = CopyCheck::for_entry(e);
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = d
                    .read(&mut buf)
                    .map_err(|err| read_failure(&format!("\"{shown}\""), err))?;
                if n == 0 {
                    break;
                }
                check.feed(&buf[..n]);
            }
            Ok(check)
        });
        match res {
            Ok(check) => finish_entry(e, check, &shown, ctx, r),
            Err(err) => r.problem(&shown, format!("{}: {err}", e.label())),
        }
    }
    missing_in_toc(ctx, &seen, &toc_shown, r);
}

/// A BLOBS entry's blobs TOC and each large object file, read to their ends.
fn check_blobs_dir(src: &ArchiveSource, e: &TocEntry, ctx: &Ctx<'_>, r: &mut VerifyReport) {
    let shown = src.member_shown(Some(&e.filename));
    let text = match open_file(src, &e.filename, ctx).and_then(|f| read_all(f, &shown, TOC_LIMIT)) {
        Ok(t) => t,
        Err(err) => {
            r.problem(shown, format!("blobs TOC of {}: {err}", e.label()));
            return;
        }
    };
    for line in String::from_utf8_lossy(&text).lines() {
        let Some((_, name)) = line.split_once(' ') else {
            r.problem(&shown, format!("malformed line \"{line}\""));
            continue;
        };
        if name.contains('/') {
            r.problem(&shown, format!("unsafe file name \"{name}\""));
            continue;
        }
        let found = DISCOVERY_SUFFIXES
            .iter()
            .map(|s| (format!("{name}{s}"), *s))
            .find(|(m, _)| src.has_member(m));
        let Some((member, suffix)) = found else {
            r.problem(src.member_shown(Some(name)), "large object file missing");
            continue;
        };
        let pshown = src.member_shown(Some(&member));
        let res = open_file(src, &member, ctx).and_then(|f| {
            let d = codec::decoder_for_suffix(suffix, f)?;
            read_all(d, &format!("\"{pshown}\""), DATA_LIMIT).map(|_| ())
        });
        if let Err(err) = res {
            r.problem(pshown, err.to_string());
        }
    }
    r.entries_read += 1;
}

fn missing_in_toc(ctx: &Ctx<'_>, seen: &BTreeSet<i32>, toc: &str, r: &mut VerifyReport) {
    if let Some(rows) = &ctx.rows {
        for id in rows.keys().filter(|id| !seen.contains(id)) {
            r.problem(
                toc,
                format!("the manifest counts rows of dump id {id}, which has no data entry"),
            );
        }
    }
}

/// Compares what was read of entry `e` with the manifest.
fn finish_entry(e: &TocEntry, check: CopyCheck, file: &str, ctx: &Ctx<'_>, r: &mut VerifyReport) {
    r.entries_read += 1;
    if let Some(what) = check.problem() {
        r.problem(file, format!("{}: {what}", e.label()));
        return;
    }
    if !check.is_copy {
        return;
    }
    r.rows += check.rows.rows();
    if let Some(rows) = &ctx.rows {
        match rows.get(&e.dump_id) {
            Some(&n) if n != check.rows.rows() => r.problem(
                file,
                format!("{}: {} rows, the manifest says {n}", e.label(), check.rows.rows()),
            ),
            Some(_) => {}
            None => r.problem(file, format!("{}: the manifest has no row count for it", e.label())),
        }
    }
}

fn check_single(archive: &ArchiveSource, format: Option<&str>, ctx: &Ctx<'_>, r: &mut VerifyReport) {
    let shown = archive.shown();
    let quoted = format!("\"{shown}\"");
    let file_name = archive.file_name();
    let res = (|| -> Result<()> {
        let f = archive
            .open_seekable()
            .map_err(|e| Error::io(format!("could not open {quoted}"), e))?;
        let mut src: Box<dyn ReadSeek> = match ctx.ids {
            Some(ids) => {
                let mut s = open_seekable(f, ids, &quoted)?;
                // Every chunk, to the final one, must authenticate, whatever the format
                // reader below looks at.
                io::copy(&mut s, &mut io::sink()).map_err(|e| read_failure(&quoted, e))?;
                s.seek(io::SeekFrom::Start(0)).map_err(|e| read_failure(&quoted, e))?;
                Box::new(s)
            }
            None => Box::new(f),
        };
        let mut head = vec![0u8; 512];
        let n = read_up_to(&mut src, &mut head).map_err(|e| read_failure(&quoted, e))?;
        src.seek(io::SeekFrom::Start(0)).map_err(|e| read_failure(&quoted, e))?;
        if head[..n].starts_with(b"PGDMP") {
            check_custom(src, &quoted, ctx, r)
        } else if format == Some("plain") || !crate::archive::tar::looks_like_tar(&head[..n]) {
            check_plain(src, &file_name, &quoted, ctx, r)
        } else {
            check_tar(src, &quoted, ctx, r)
        }
    })();
    if let Err(e) = res {
        r.problem(shown, e.to_string());
    }
}

/// A seekable decrypting reader over an age file.
fn open_seekable(
    f: Box<dyn ReadSeek>,
    ids: &Identities,
    name: &str,
) -> Result<age::stream::StreamReader<Box<dyn ReadSeek>>> {
    let d =
        age::Decryptor::new(f).map_err(|_| Error::archive(format!("{name}: not a valid age file (damaged header)")))?;
    d.decrypt(ids.iter())
        .map_err(|e| Error::archive(format!("{name}: {} does not decrypt it ({e})", ids.described)))
}

fn read_up_to(f: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn check_custom(src: Box<dyn ReadSeek>, name: &str, ctx: &Ctx<'_>, r: &mut VerifyReport) -> Result<()> {
    let mut reader = CustomReader::new(src).map_err(|e| e.context(format!("reading {name}")))?;
    let entries: Vec<TocEntry> = reader.toc().entries.iter().filter(|e| e.had_dumper).cloned().collect();
    let mut seen = BTreeSet::new();
    for e in &entries {
        seen.insert(e.dump_id);
        let mut check = CopyCheck::for_entry(e);
        let res = reader.read_data(e.dump_id, DATA_LIMIT, &mut |ev| {
            if let DataEvent::Bytes(b) = ev {
                check.feed(b);
            }
            Ok(())
        });
        match res {
            Ok(()) => finish_entry(e, check, name, ctx, r),
            Err(err) => r.problem(name, format!("{}: {err}", e.label())),
        }
    }
    missing_in_toc(ctx, &seen, name, r);
    Ok(())
}

fn check_tar(src: Box<dyn ReadSeek>, name: &str, ctx: &Ctx<'_>, r: &mut VerifyReport) -> Result<()> {
    let mut reader = TarReader::new(src).map_err(|e| e.context(format!("reading {name}")))?;
    let entries: Vec<TocEntry> = reader.entries().iter().filter(|e| e.had_dumper).cloned().collect();
    let mut seen = BTreeSet::new();
    for e in &entries {
        seen.insert(e.dump_id);
        if e.desc == "BLOBS" {
            r.entries_read += 1;
            continue;
        }
        let Some(member) = reader.member(&e.filename) else {
            r.problem(name, format!("{}: member \"{}\" missing", e.label(), e.filename));
            continue;
        };
        let mut check = CopyCheck::for_entry(e);
        let res = reader.copy_member(&member, DATA_LIMIT, &mut |b| {
            check.feed(b);
            Ok(())
        });
        match res {
            Ok(()) => finish_entry(e, check, name, ctx, r),
            Err(err) => r.problem(name, format!("{}: {err}", e.label())),
        }
    }
    missing_in_toc(ctx, &seen, name, r);
    Ok(())
}

/// A plain script: decrypted and decompressed to its end; the rows of all its COPY blocks
/// together must be the manifest's total (a script carries no dump ids).
fn check_plain(src: Box<dyn ReadSeek>, file_name: &str, name: &str, ctx: &Ctx<'_>, r: &mut VerifyReport) -> Result<()> {
    let suffix = match Path::new(file_name).extension().and_then(|e| e.to_str()) {
        Some("gz") => ".gz",
        Some("lz4") => ".lz4",
        Some("zst") => ".zst",
        _ => "",
    };
    let mut d = codec::decoder_for_suffix(suffix, src)?;
    let mut rows = 0u64;
    let mut in_copy = false;
    let mut line = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = d.read(&mut buf).map_err(|e| read_failure(name, e))?;
        if n == 0 {
            break;
        }
        for &b in &buf[..n] {
            if b != b'\n' {
                if line.len() < 64 {
                    line.push(b);
                }
                continue;
            }
            if in_copy {
                if line == b"\\." {
                    in_copy = false;
                } else {
                    rows += 1;
                }
            } else if line.starts_with(b"COPY ") && line.ends_with(b"FROM stdin;")
                || line.starts_with(b"COPY ") && line.len() == 64
            {
                in_copy = true;
            }
            line.clear();
        }
    }
    r.entries_read += 1;
    r.rows += rows;
    if in_copy {
        r.problem(name, "the script ends inside COPY data");
    }
    if let Some(m) = &ctx.rows {
        let want: u64 = m.values().sum();
        if want != rows {
            r.problem(
                name,
                format!("{rows} rows in its COPY blocks, the manifest says {want}"),
            );
        }
    }
    Ok(())
}

/// Reads an entry's data: counts rows and checks that its COPY text is well formed.
struct CopyCheck {
    is_copy: bool,
    rows: RowCounter,
    /// Fields per line, when the entry's column list could be read.
    columns: Option<usize>,
    fields: usize,
    bad: Option<String>,
    after_end: bool,
    /// Start of the current line (up to 3 bytes), to recognise the `\.` line.
    line: Vec<u8>,
    at_end_line: bool,
    bytes: u64,
}

impl CopyCheck {
    fn for_entry(e: &TocEntry) -> CopyCheck {
        let copy = e.copy_stmt.as_deref().filter(|s| !s.is_empty());
        CopyCheck {
            is_copy: copy.is_some() && e.desc == "TABLE DATA",
            rows: RowCounter::default(),
            columns: copy.and_then(column_count),
            fields: 1,
            bad: None,
            after_end: false,
            line: Vec::new(),
            at_end_line: false,
            bytes: 0,
        }
    }

    fn feed(&mut self, b: &[u8]) {
        self.bytes += b.len() as u64;
        if !self.is_copy || self.bad.is_some() {
            return;
        }
        self.rows.feed(b);
        for &c in b {
            if self.after_end {
                if c != b'\n' {
                    self.bad = Some("bytes after the end of COPY data".into());
                }
                continue;
            }
            match c {
                b'\t' => self.fields += 1,
                b'\n' => {
                    if let Some(n) = self.columns
                        && !self.at_end_line
                        && self.fields != n.max(1)
                    {
                        self.bad = Some(format!(
                            "malformed COPY data: a line has {} fields, {n} expected",
                            self.fields
                        ));
                        return;
                    }
                    if self.line == b"\\." {
                        self.after_end = true;
                    }
                    self.fields = 1;
                    self.line.clear();
                    self.at_end_line = false;
                    continue;
                }
                _ => {}
            }
            if self.line.len() < 3 {
                self.line.push(c);
                self.at_end_line = self.line == b"\\.";
            } else {
                self.at_end_line = false;
            }
        }
    }

    fn rows_ended(&self) -> bool {
        self.rows.ended()
    }

    fn problem(&self) -> Option<String> {
        if let Some(b) = &self.bad {
            return Some(b.clone());
        }
        if self.is_copy {
            if self.rows.partial_line() {
                return Some("COPY data ends inside a line (truncated)".into());
            }
            if !self.rows_ended() {
                return Some("COPY data has no end marker \\. (truncated)".into());
            }
        }
        None
    }
}

/// Columns in `COPY name (a, b, ...) FROM stdin;` (0 for `COPY name  FROM stdin;`).
fn column_count(stmt: &str) -> Option<usize> {
    let s = stmt.strip_prefix("COPY ")?;
    let mut chars = s.char_indices().peekable();
    let mut quoted = false;
    let mut open = None;
    for (i, c) in chars.by_ref() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => {
                open = Some(i);
                break;
            }
            ' ' if !quoted && s[i..].trim_start().starts_with("FROM stdin") => return Some(0),
            _ => {}
        }
    }
    open?;
    let mut count = 1;
    let mut quoted = false;
    for (_, c) in chars {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => count += 1,
            ')' if !quoted => return Some(count),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_lists() {
        assert_eq!(column_count("COPY public.t (a, b, c) FROM stdin;\n"), Some(3));
        assert_eq!(
            column_count("COPY \"we(ird\".\"t,x\" (\"a,b\", c) FROM stdin;\n"),
            Some(2)
        );
        assert_eq!(column_count("COPY public.nocols  FROM stdin;\n"), Some(0));
    }

    fn entry(copy: &str) -> TocEntry {
        TocEntry {
            dump_id: 1,
            had_dumper: true,
            tableoid: "0".into(),
            oid: "0".into(),
            tag: "t".into(),
            desc: "TABLE DATA".into(),
            section: 3,
            defn: None,
            drop_stmt: None,
            copy_stmt: Some(copy.into()),
            namespace: Some("public".into()),
            tablespace: None,
            tableam: None,
            relkind: 0,
            owner: None,
            deps: Vec::new(),
            filename: "1.dat".into(),
        }
    }

    #[test]
    fn copy_text_checks() {
        let e = entry("COPY public.t (a, b) FROM stdin;\n");
        let mut c = CopyCheck::for_entry(&e);
        c.feed(b"1\tx\n2\t");
        c.feed(b"\\N\n\\.\n\n");
        assert_eq!(c.problem(), None);
        assert_eq!(c.rows.rows(), 2);
        let mut c = CopyCheck::for_entry(&e);
        c.feed(b"1\tx\n2\n\\.\n");
        assert!(c.problem().unwrap().contains("fields"));
        let mut c = CopyCheck::for_entry(&e);
        c.feed(b"1\tx\n2\tz\n");
        assert!(c.problem().unwrap().contains("end marker"));
        let mut c = CopyCheck::for_entry(&e);
        c.feed(b"1\tx\n2\tz");
        assert!(c.problem().unwrap().contains("truncated"));
        let mut c = CopyCheck::for_entry(&e);
        c.feed(b"1\tx\n\\.\nextra\n");
        assert!(c.problem().unwrap().contains("after the end"));
    }
}
