//! Byte encoding of the archive header and TOC (archive-format.md §1–§3), for archive
//! versions 1.14, 1.15 and 1.16. Pure: bytes in, bytes out; the caller supplies the creation
//! time. Mirrors `WriteHead`/`ReadHead` and `WriteToc`/`ReadToc` (pg_backup_archiver.c) and
//! the directory/tar per-entry trailer (`_WriteExtraToc`/`_ReadExtraToc`, pg_backup_directory.c).

use std::fmt;
use std::ops::RangeInclusive;

use crate::codec::Compression;
use crate::error::{Error, ErrorKind, Result};

/// First five bytes of every toc.dat and custom-format file.
pub const MAGIC: &[u8; 5] = b"PGDMP";

/// `intSize` and `offSize` this crate writes (what pg_dump writes on 64-bit machines).
const INT_SIZE: u8 = 4;
const OFF_SIZE: u8 = 8;

/// Archive format version 1.x written into the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ArchiveVersion {
    /// pg_dump 14/15; readable by pg_restore 14–18.
    V1_14,
    /// pg_dump 16; compression algorithm byte (lz4, zstd); pg_restore 16–18.
    V1_15,
    /// pg_dump 17/18; per-entry relkind, BLOB METADATA; pg_restore 17–18.
    V1_16,
}

impl ArchiveVersion {
    /// Every version this crate reads and writes, oldest first.
    pub const ALL: [ArchiveVersion; 3] = [ArchiveVersion::V1_14, ArchiveVersion::V1_15, ArchiveVersion::V1_16];

    /// The minor version byte (14, 15 or 16).
    pub fn minor(self) -> u8 {
        match self {
            ArchiveVersion::V1_14 => 14,
            ArchiveVersion::V1_15 => 15,
            ArchiveVersion::V1_16 => 16,
        }
    }

    /// The version with minor byte `minor`, if this crate knows it.
    pub fn from_minor(minor: u8) -> Option<ArchiveVersion> {
        ArchiveVersion::ALL.into_iter().find(|v| v.minor() == minor)
    }

    /// The pg_restore major versions that accept this archive version (§1.2): a pg_restore
    /// reads up to its own minor, and 18 is the newest one considered.
    pub fn pg_restore_majors(self) -> RangeInclusive<u32> {
        match self {
            ArchiveVersion::V1_14 => 14..=18,
            ArchiveVersion::V1_15 => 16..=18,
            ArchiveVersion::V1_16 => 17..=18,
        }
    }

    /// "pg_restore 14–18"-style wording for messages.
    pub fn readers(self) -> String {
        let r = self.pg_restore_majors();
        format!("pg_restore {}–{}", r.start(), r.end())
    }

    /// The lowest version whose header can describe `c` (1.14 for none/gzip, 1.15 otherwise).
    pub fn lowest_for(c: Compression) -> ArchiveVersion {
        ArchiveVersion::from_minor(c.min_archive_minor()).unwrap_or(ArchiveVersion::V1_15)
    }
}

impl fmt::Display for ArchiveVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "1.{}", self.minor())
    }
}

/// The header's format byte (`ArchiveFormat` in pg_backup.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArchiveFormat {
    /// A custom-format (`-Fc`) file.
    Custom,
    /// A tar archive's toc.dat, and also a directory archive's toc.dat (pg_restore expects 3
    /// there, not the directory code 5).
    Tar,
}

impl ArchiveFormat {
    /// The byte stored in the header: 1 custom, 3 tar/directory.
    pub fn byte(self) -> u8 {
        match self {
            ArchiveFormat::Custom => 1,
            ArchiveFormat::Tar => 3,
        }
    }

    /// The format with header byte `b`, if readable here.
    pub fn from_byte(b: u8) -> Option<ArchiveFormat> {
        match b {
            1 => Some(ArchiveFormat::Custom),
            3 => Some(ArchiveFormat::Tar),
            _ => None,
        }
    }
}

/// The header's compression field, whose shape depends on the version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeaderCompression {
    /// Archive ≤ 1.14: a zlib level int (0 none, -1 default, 1..9).
    ZlibLevel(i32),
    /// Archive ≥ 1.15: an algorithm byte (0 none, 1 gzip, 2 lz4, 3 zstd).
    Algorithm(u8),
}

impl HeaderCompression {
    /// The field describing `c` in a `version` header; lz4/zstd in a 1.14 header is refused
    /// because pg_restore 14/15 cannot read those data files.
    pub fn for_archive(version: ArchiveVersion, c: Compression) -> Result<HeaderCompression> {
        if version >= ArchiveVersion::V1_15 {
            return Ok(HeaderCompression::Algorithm(c.algorithm_byte()));
        }
        match c.zlib_level_int() {
            Some(level) => Ok(HeaderCompression::ZlibLevel(level)),
            None => Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{} compression needs archive version {} or later ({}); archive {} is read by {}",
                    c.name(),
                    ArchiveVersion::lowest_for(c),
                    ArchiveVersion::lowest_for(c).readers(),
                    version,
                    version.readers()
                ),
            )),
        }
    }

    /// The algorithm byte this field means (a ≤1.14 level ≠ 0 means gzip, as pg_restore 16+
    /// reads it).
    pub fn algorithm_byte(self) -> u8 {
        match self {
            HeaderCompression::ZlibLevel(0) => 0,
            HeaderCompression::ZlibLevel(_) => 1,
            HeaderCompression::Algorithm(a) => a,
        }
    }

    /// The algorithm's name: none, gzip, lz4, zstd (or "unknown").
    pub fn name(self) -> &'static str {
        match self.algorithm_byte() {
            0 => "none",
            1 => "gzip",
            2 => "lz4",
            3 => "zstd",
            _ => "unknown",
        }
    }
}

/// Broken-down creation time as C's `struct tm` (`tm_mon` 0–11, `tm_year` = year − 1900,
/// `tm_isdst` 0/1). Informational only; readers show it in `pg_restore -l`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CreateTime {
    pub sec: i32,
    pub min: i32,
    pub hour: i32,
    pub mday: i32,
    pub mon: i32,
    pub year: i32,
    pub isdst: i32,
}

/// The archive header (first part of toc.dat / a custom file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub version: ArchiveVersion,
    pub format: ArchiveFormat,
    pub compression: HeaderCompression,
    pub created: CreateTime,
    /// Name of the dumped database.
    pub dbname: String,
    /// Free text shown as "Dumped from database version".
    pub server_version: String,
    /// Free text shown as "Dumped by pg_dump version".
    pub dump_version: String,
}

/// One TOC entry (`TocEntry` in pg_backup_archiver.h). Optional strings are written as NULL
/// when `None`, which pg_restore distinguishes from `""` for several fields (§3.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TocEntry {
    /// Positive and unique within the TOC.
    pub dump_id: i32,
    /// Whether the entry has a data payload (TABLE DATA, BLOBS).
    pub had_dumper: bool,
    /// Decimal catalog OID, or "0".
    pub tableoid: String,
    /// Decimal object OID, or "0".
    pub oid: String,
    pub tag: String,
    pub desc: String,
    /// 1 none, 2 pre-data, 3 data, 4 post-data.
    pub section: i32,
    pub defn: Option<String>,
    pub drop_stmt: Option<String>,
    pub copy_stmt: Option<String>,
    pub namespace: Option<String>,
    pub tablespace: Option<String>,
    pub tableam: Option<String>,
    /// pg_class relkind as an int (`'r'` = 114), 0 for non-relations; stored only in 1.16.
    pub relkind: i32,
    pub owner: Option<String>,
    /// Dump ids this entry depends on; for TABLE DATA the first must be its TABLE.
    pub deps: Vec<i32>,
    /// Directory/tar data file name without compression suffix (`2565.dat`), `""` when none.
    pub filename: String,
}

impl TocEntry {
    /// "TOC entry 2565 (TABLE DATA public t)" for messages.
    pub fn label(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("TOC entry {} ({} {} {})", self.dump_id, self.desc, ns, self.tag),
            None => format!("TOC entry {} ({} {})", self.dump_id, self.desc, self.tag),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding

pub(crate) fn put_int(out: &mut Vec<u8>, v: i32) {
    // `WriteInt`: sign byte, then the magnitude little-endian in intSize bytes.
    out.push(u8::from(v < 0));
    out.extend_from_slice(&v.unsigned_abs().to_le_bytes());
}

pub(crate) fn put_len(out: &mut Vec<u8>, len: usize) {
    // TOC strings come from catalog text (at most 1 GB per PostgreSQL value) and entry counts
    // are bounded by i32 dump ids, so every length fits the format's signed 32-bit int.
    let len = i32::try_from(len).expect("TOC length fits i32"); // INVARIANT: see the comment above
    put_int(out, len);
}

pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn put_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => put_str(out, s),
        None => put_int(out, -1),
    }
}

/// Appends the header (`WriteHead`). A compression field of the other shape than `version`
/// uses is translated: algorithm byte 0 ↔ level 0, anything else ↔ gzip.
pub(crate) fn encode_header(h: &Header, out: &mut Vec<u8>) {
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, h.version.minor(), 0, INT_SIZE, OFF_SIZE, h.format.byte()]);
    if h.version >= ArchiveVersion::V1_15 {
        out.push(h.compression.algorithm_byte());
    } else {
        let level = match h.compression {
            HeaderCompression::ZlibLevel(l) => l,
            HeaderCompression::Algorithm(0) => 0,
            HeaderCompression::Algorithm(_) => -1,
        };
        put_int(out, level);
    }
    let t = &h.created;
    for v in [t.sec, t.min, t.hour, t.mday, t.mon, t.year, t.isdst] {
        put_int(out, v);
    }
    put_str(out, &h.dbname);
    put_str(out, &h.server_version);
    put_str(out, &h.dump_version);
}

/// Appends one entry up to and including the dependency terminator, without the
/// format-specific trailer (`WriteToc` minus `WriteExtraTocPtr`).
pub(crate) fn encode_entry_body(version: ArchiveVersion, e: &TocEntry, out: &mut Vec<u8>) {
    put_int(out, e.dump_id);
    put_int(out, i32::from(e.had_dumper));
    put_str(out, &e.tableoid);
    put_str(out, &e.oid);
    put_str(out, &e.tag);
    put_str(out, &e.desc);
    put_int(out, e.section);
    put_opt(out, e.defn.as_deref());
    put_opt(out, e.drop_stmt.as_deref());
    put_opt(out, e.copy_stmt.as_deref());
    put_opt(out, e.namespace.as_deref());
    put_opt(out, e.tablespace.as_deref());
    put_opt(out, e.tableam.as_deref());
    if version >= ArchiveVersion::V1_16 {
        put_int(out, e.relkind);
    }
    put_opt(out, e.owner.as_deref());
    // Obsolete "with oids" flag: always the string "false", never NULL.
    put_str(out, "false");
    for d in &e.deps {
        put_str(out, &d.to_string());
    }
    put_int(out, -1);
}

/// Encodes a complete directory/tar `toc.dat`: header, entry count, entries each ending with
/// its data file name. `header.format` should be [`ArchiveFormat::Tar`] for a directory.
pub fn encode_toc(header: &Header, entries: &[TocEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + entries.len() * 192);
    encode_header(header, &mut out);
    put_len(&mut out, entries.len());
    for e in entries {
        encode_entry_body(header.version, e, &mut out);
        put_str(&mut out, &e.filename);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// Where in the TOC a field is being read, for error messages.
#[derive(Clone, Copy)]
pub(crate) enum Place {
    Header,
    Entry { index: usize, dump_id: Option<i32> },
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Place::Header => f.write_str("the header"),
            Place::Entry {
                index,
                dump_id: Some(id),
            } => write!(f, "TOC entry #{} (dumpId {id})", index + 1),
            Place::Entry { index, dump_id: None } => write!(f, "TOC entry #{}", index + 1),
        }
    }
}

/// A bounds-checked reader over TOC bytes; every read names its field for errors.
pub(crate) struct TocReader<'a> {
    buf: &'a [u8],
    pos: usize,
    int_size: usize,
    /// `offSize` from the header (custom-format offsets).
    off_size: usize,
    /// Set when a read ran past the end: the buffer length that read needed.
    needed: Option<usize>,
    /// The first string that was not UTF-8 (decoded as LATIN1 meanwhile), described; see
    /// [`TocReader::check_encoding`].
    non_utf8: Option<String>,
}

impl<'a> TocReader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        TocReader {
            buf,
            pos: 0,
            int_size: usize::from(INT_SIZE),
            off_size: usize::from(OFF_SIZE),
            needed: None,
            non_utf8: None,
        }
    }

    /// Bytes consumed so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// The intSize and offSize the header announced.
    pub(crate) fn sizes(&self) -> (usize, usize) {
        (self.int_size, self.off_size)
    }

    /// After a truncation error: how long the buffer had to be for the failing read.
    pub(crate) fn needed(&self) -> Option<usize> {
        self.needed
    }

    pub(crate) fn take(&mut self, n: usize, field: &str, at: Place) -> Result<&'a [u8]> {
        let remain = self.buf.len() - self.pos;
        if n > remain {
            self.needed = Some(self.pos.saturating_add(n));
            return Err(Error::archive(format!(
                "TOC is truncated: field \"{field}\" of {at} needs {n} bytes at offset {:#x}, only {remain} remain",
                self.pos
            )));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn byte(&mut self, field: &str, at: Place) -> Result<u8> {
        Ok(self.take(1, field, at)?[0])
    }

    /// `ReadInt`: any non-zero sign byte means negative; the value must fit an i32.
    pub(crate) fn int(&mut self, field: &str, at: Place) -> Result<i32> {
        let start = self.pos;
        let raw = self.take(1 + self.int_size, field, at)?;
        let mut magnitude: u64 = 0;
        for (i, &b) in raw[1..].iter().enumerate() {
            if i >= 4 {
                if b != 0 {
                    return Err(out_of_range(field, at, start));
                }
            } else {
                magnitude |= u64::from(b) << (8 * i);
            }
        }
        let v = if raw[0] == 0 {
            i64::try_from(magnitude).ok()
        } else {
            i64::try_from(magnitude).ok().map(|m| -m)
        };
        v.and_then(|v| i32::try_from(v).ok())
            .ok_or_else(|| out_of_range(field, at, start))
    }

    /// `ReadStr`: length -1 is NULL; other negative lengths are damage.
    pub(crate) fn opt_str(&mut self, field: &str, at: Place) -> Result<Option<String>> {
        let start = self.pos;
        let len = self.int(field, at)?;
        if len == -1 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| {
            Error::archive(format!(
                "field \"{field}\" of {at} has invalid string length {len} at offset {start:#x}"
            ))
        })?;
        let bytes = self.take(len, field, at)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Some(s.to_string())),
            Err(e) => {
                // pg_dump writes every string in the dump's client encoding, named only by
                // the ENCODING entry further on; read it as LATIN1 for now (byte = code point)
                // and let `check_encoding` decide once that entry is known.
                if self.non_utf8.is_none() {
                    self.non_utf8 = Some(format!(
                        "field \"{field}\" of {at} is not valid UTF-8 (invalid byte at offset {:#x})",
                        start + 1 + self.int_size + e.valid_up_to()
                    ));
                }
                Ok(Some(bytes.iter().map(|&b| char::from(b)).collect()))
            }
        }
    }

    /// After the whole TOC was read: strings that were not UTF-8 are right as LATIN1 only if
    /// the archive's client encoding (its ENCODING entry, `SET client_encoding = '…';`) is
    /// LATIN1; otherwise they are an error naming the first such field and the encoding.
    pub(crate) fn check_encoding(&self, entries: &[TocEntry]) -> Result<()> {
        let Some(what) = &self.non_utf8 else {
            return Ok(());
        };
        match archive_encoding(entries) {
            Some(enc) if enc.eq_ignore_ascii_case("LATIN1") => Ok(()),
            Some(enc) => Err(Error::archive(format!(
                "{what}, and the archive's client encoding is {enc}; pgsnap reads archives in UTF8 and LATIN1"
            ))),
            None => Err(Error::archive(format!(
                "{what}, and the archive has no ENCODING entry naming its client encoding"
            ))),
        }
    }

    /// A string that pg_restore dereferences without a NULL check.
    pub(crate) fn str(&mut self, field: &str, at: Place) -> Result<String> {
        let start = self.pos;
        self.opt_str(field, at)?.ok_or_else(|| {
            Error::archive(format!(
                "field \"{field}\" of {at} is NULL at offset {start:#x}, which no reader accepts"
            ))
        })
    }
}

fn out_of_range(field: &str, at: Place, offset: usize) -> Error {
    Error::archive(format!(
        "field \"{field}\" of {at} at offset {offset:#x} does not fit a 32-bit integer"
    ))
}

/// Reads and validates the header (`ReadHead`), expecting `format`.
pub(crate) fn decode_header(r: &mut TocReader<'_>, format: ArchiveFormat) -> Result<Header> {
    let at = Place::Header;
    let head = &r.buf[..r.buf.len().min(MAGIC.len())];
    if head != &MAGIC[..head.len()] || r.buf.is_empty() {
        return Err(Error::archive(
            "not a pg_dump archive: the file does not start with \"PGDMP\"",
        ));
    }
    r.take(MAGIC.len(), "magic", at)?;
    let major = r.byte("version major", at)?;
    let minor = r.byte("version minor", at)?;
    r.byte("version revision", at)?;
    let version = match ArchiveVersion::from_minor(minor) {
        Some(v) if major == 1 => v,
        _ if major == 1 && minor < 14 => {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "archive version 1.{minor} (pg_dump 13 or older) is not supported; \
                     this reader handles 1.14 to 1.16 (pg_dump 14 and later)"
                ),
            ));
        }
        _ => {
            return Err(Error::archive(format!(
                "unsupported version ({major}.{minor}) in file header"
            )));
        }
    };
    let int_size = r.byte("intSize", at)?;
    if !(1..=32).contains(&int_size) {
        return Err(Error::archive(format!(
            "sanity check on integer size ({int_size}) failed"
        )));
    }
    r.int_size = usize::from(int_size);
    let off_size = r.byte("offSize", at)?;
    if !(1..=32).contains(&off_size) {
        return Err(Error::archive(format!(
            "sanity check on offset size ({off_size}) failed"
        )));
    }
    r.off_size = usize::from(off_size);
    let fmt_byte = r.byte("format", at)?;
    if fmt_byte != format.byte() {
        return Err(Error::archive(format!(
            "expected format ({}) differs from format found in file ({fmt_byte})",
            format.byte()
        )));
    }
    let compression = if version >= ArchiveVersion::V1_15 {
        let a = r.byte("compression algorithm", at)?;
        if a > 3 {
            return Err(Error::archive(format!(
                "invalid compression algorithm code {a} in file header"
            )));
        }
        HeaderCompression::Algorithm(a)
    } else {
        HeaderCompression::ZlibLevel(r.int("compression level", at)?)
    };
    let created = CreateTime {
        sec: r.int("tm_sec", at)?,
        min: r.int("tm_min", at)?,
        hour: r.int("tm_hour", at)?,
        mday: r.int("tm_mday", at)?,
        mon: r.int("tm_mon", at)?,
        year: r.int("tm_year", at)?,
        isdst: r.int("tm_isdst", at)?,
    };
    // Informational strings; NULL is read as empty rather than refused.
    let dbname = r.opt_str("dbname", at)?.unwrap_or_default();
    let server_version = r.opt_str("server version", at)?.unwrap_or_default();
    let dump_version = r.opt_str("pg_dump version", at)?.unwrap_or_default();
    Ok(Header {
        version,
        format,
        compression,
        created,
        dbname,
        server_version,
        dump_version,
    })
}

/// Reads one entry up to its dependency terminator (`ReadToc` minus `ReadExtraTocPtr`); the
/// `filename` field is left empty.
pub(crate) fn decode_entry_body(r: &mut TocReader<'_>, version: ArchiveVersion, index: usize) -> Result<TocEntry> {
    let mut at = Place::Entry { index, dump_id: None };
    let dump_id = r.int("dumpId", at)?;
    if dump_id <= 0 {
        return Err(Error::archive(format!(
            "entry ID {dump_id} out of range in {at} -- perhaps a corrupt TOC (dump ids must be > 0)"
        )));
    }
    at = Place::Entry {
        index,
        dump_id: Some(dump_id),
    };
    let had_dumper = r.int("hadDumper", at)? != 0;
    let tableoid = r.str("tableoid", at)?;
    let oid = r.str("oid", at)?;
    let tag = r.opt_str("tag", at)?.unwrap_or_default();
    let desc = r.opt_str("desc", at)?.unwrap_or_default();
    let section = r.int("section", at)?;
    let defn = r.opt_str("defn", at)?;
    let drop_stmt = r.opt_str("dropStmt", at)?;
    let copy_stmt = r.opt_str("copyStmt", at)?;
    let namespace = r.opt_str("namespace", at)?;
    let tablespace = r.opt_str("tablespace", at)?;
    let tableam = r.opt_str("tableam", at)?;
    let relkind = if version >= ArchiveVersion::V1_16 {
        r.int("relkind", at)?
    } else {
        0
    };
    let owner = r.opt_str("owner", at)?;
    let with_oids = r.str("withOids", at)?;
    if with_oids != "false" {
        tracing::warn!("{at} is marked WITH OIDS ({with_oids:?}), which PostgreSQL 12+ cannot restore");
    }
    let mut deps = Vec::new();
    while let Some(d) = r.opt_str("dependency", at)? {
        let id = d
            .parse::<i32>()
            .map_err(|_| Error::archive(format!("dependency {d:?} of {at} is not a dump id")))?;
        deps.push(id);
    }
    Ok(TocEntry {
        dump_id,
        had_dumper,
        tableoid,
        oid,
        tag,
        desc,
        section,
        defn,
        drop_stmt,
        copy_stmt,
        namespace,
        tablespace,
        tableam,
        relkind,
        owner,
        deps,
        filename: String::new(),
    })
}

/// The client encoding named by the archive's ENCODING entry (`SET client_encoding = 'X';`,
/// as pg_dump's `dumpEncoding` writes it).
pub fn archive_encoding(entries: &[TocEntry]) -> Option<&str> {
    let defn = entries.iter().find(|e| e.desc == "ENCODING")?.defn.as_deref()?;
    let rest = &defn[defn.find('\'')? + 1..];
    Some(&rest[..rest.find('\'')?])
}

/// Reads the entry count; it must be non-negative.
pub(crate) fn decode_count(r: &mut TocReader<'_>) -> Result<usize> {
    let start = r.position();
    let n = r.int("TOC entry count", Place::Header)?;
    usize::try_from(n).map_err(|_| Error::archive(format!("negative TOC entry count {n} at offset {start:#x}")))
}

/// Decodes and validates a directory/tar `toc.dat`. Every kind of damage (truncation,
/// bad magic, unknown version, out-of-range ints, bad lengths, dumpId ≤ 0, bytes after the
/// last entry) is an [`ErrorKind::Archive`] error, except archives older than 1.14, which are
/// [`ErrorKind::Unsupported`].
pub fn decode_toc(buf: &[u8]) -> Result<(Header, Vec<TocEntry>)> {
    let mut r = TocReader::new(buf);
    let header = decode_header(&mut r, ArchiveFormat::Tar)?;
    let count = decode_count(&mut r)?;
    // Each entry takes at least ~60 bytes, so a huge count cannot force a huge allocation.
    let mut entries = Vec::with_capacity(count.min(buf.len() / 32));
    for index in 0..count {
        let mut e = decode_entry_body(&mut r, header.version, index)?;
        e.filename = r.str(
            "filename",
            Place::Entry {
                index,
                dump_id: Some(e.dump_id),
            },
        )?;
        entries.push(e);
    }
    r.check_encoding(&entries)?;
    let extra = buf.len() - r.position();
    if extra != 0 {
        return Err(Error::archive(format!(
            "{extra} unexpected bytes after the last of {count} TOC entries (offset {:#x})",
            r.position()
        )));
    }
    Ok((header, entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test bytes written as hex tokens and quoted text, e.g. `"00 04 00 00 00 'tiny'"`; inside
    /// quotes `\\n` is a newline and `\\'` a quote.
    fn bytes(spec: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let mut chars = spec.chars();
        let mut hex = String::new();
        while let Some(c) = chars.next() {
            if c == '\'' {
                loop {
                    match chars.next().unwrap() {
                        '\'' => break,
                        '\\' => match chars.next().unwrap() {
                            'n' => out.push(b'\n'),
                            other => out.extend_from_slice(other.to_string().as_bytes()),
                        },
                        other => out.extend_from_slice(other.to_string().as_bytes()),
                    }
                }
            } else if c.is_ascii_hexdigit() {
                hex.push(c);
                if hex.len() == 2 {
                    out.push(u8::from_str_radix(&hex, 16).unwrap());
                    hex.clear();
                }
            } else {
                assert!(c.is_whitespace() && hex.is_empty(), "bad test bytes near {c:?}");
            }
        }
        assert!(hex.is_empty());
        out
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    // Worked example of archive-format.md §9: database `tiny`, one table, a sequence, an index.
    const CREATED: CreateTime = CreateTime {
        sec: 26,
        min: 32,
        hour: 1,
        mday: 24,
        mon: 10,
        year: 126,
        isdst: 0,
    };

    fn header(version: ArchiveVersion, compression: HeaderCompression, server: &str, dump: &str) -> Header {
        Header {
            version,
            format: ArchiveFormat::Tar,
            compression,
            created: CREATED,
            dbname: "tiny".into(),
            server_version: server.into(),
            dump_version: dump.into(),
        }
    }

    fn special(dump_id: i32, desc: &str, defn: &str) -> TocEntry {
        TocEntry {
            dump_id,
            tableoid: "0".into(),
            oid: "0".into(),
            tag: desc.into(),
            desc: desc.into(),
            section: 2,
            defn: s(defn),
            ..TocEntry::default()
        }
    }

    fn table(dump_id: i32, oid: &str, relkind: i32) -> TocEntry {
        TocEntry {
            dump_id,
            tableoid: "1259".into(),
            oid: oid.into(),
            tag: "t".into(),
            desc: "TABLE".into(),
            section: 2,
            defn: s("CREATE TABLE public.t (\n    id integer,\n    name text\n);\n"),
            drop_stmt: s("DROP TABLE public.t;\n"),
            namespace: s("public"),
            tablespace: s(""),
            tableam: s("heap"),
            relkind,
            owner: s("postgres"),
            ..TocEntry::default()
        }
    }

    fn table_data(dump_id: i32, oid: &str, table_id: i32) -> TocEntry {
        TocEntry {
            dump_id,
            had_dumper: true,
            tableoid: "0".into(),
            oid: oid.into(),
            tag: "t".into(),
            desc: "TABLE DATA".into(),
            section: 3,
            copy_stmt: s("COPY public.t (id, name) FROM stdin;\n"),
            namespace: s("public"),
            owner: s("postgres"),
            deps: vec![table_id],
            filename: format!("{dump_id}.dat"),
            ..TocEntry::default()
        }
    }

    /// All nine entries of the example; `ids` = (ENCODING, STDSTRINGS, SEARCHPATH, DATABASE,
    /// SEQUENCE, TABLE, TABLE DATA, SEQUENCE SET, INDEX), `oids` = (database, sequence, table,
    /// index), `relkind` of the table.
    fn example_entries(ids: [i32; 9], oids: [&str; 4], relkind: i32) -> Vec<TocEntry> {
        let [db_oid, seq_oid, tab_oid, idx_oid] = oids;
        vec![
            special(ids[0], "ENCODING", "SET client_encoding = 'UTF8';\n"),
            special(ids[1], "STDSTRINGS", "SET standard_conforming_strings = 'on';\n"),
            special(
                ids[2],
                "SEARCHPATH",
                "SELECT pg_catalog.set_config('search_path', '', false);\n",
            ),
            TocEntry {
                dump_id: ids[3],
                tableoid: "1262".into(),
                oid: db_oid.into(),
                tag: "tiny".into(),
                desc: "DATABASE".into(),
                section: 2,
                defn: s("CREATE DATABASE tiny WITH TEMPLATE = template0 ENCODING = 'UTF8' \
                         LOCALE_PROVIDER = libc LOCALE = 'C';\n"),
                drop_stmt: s("DROP DATABASE tiny;\n"),
                owner: s("postgres"),
                ..TocEntry::default()
            },
            TocEntry {
                dump_id: ids[4],
                tableoid: "1259".into(),
                oid: seq_oid.into(),
                tag: "s".into(),
                desc: "SEQUENCE".into(),
                section: 2,
                defn: s(
                    "CREATE SEQUENCE public.s\n    START WITH 10\n    INCREMENT BY 1\n    NO MINVALUE\n    \
                         NO MAXVALUE\n    CACHE 1;\n",
                ),
                drop_stmt: s("DROP SEQUENCE public.s;\n"),
                namespace: s("public"),
                owner: s("postgres"),
                ..TocEntry::default()
            },
            table(ids[5], tab_oid, relkind),
            table_data(ids[6], tab_oid, ids[5]),
            TocEntry {
                dump_id: ids[7],
                tableoid: "0".into(),
                oid: "0".into(),
                tag: "s".into(),
                desc: "SEQUENCE SET".into(),
                section: 3,
                defn: s("SELECT pg_catalog.setval('public.s', 42, true);\n"),
                namespace: s("public"),
                owner: s("postgres"),
                deps: vec![ids[4]],
                ..TocEntry::default()
            },
            TocEntry {
                dump_id: ids[8],
                tableoid: "1259".into(),
                oid: idx_oid.into(),
                tag: "t_name_idx".into(),
                desc: "INDEX".into(),
                section: 4,
                defn: s("CREATE INDEX t_name_idx ON public.t USING btree (name);\n"),
                drop_stmt: s("DROP INDEX public.t_name_idx;\n"),
                namespace: s("public"),
                tablespace: s(""),
                owner: s("postgres"),
                deps: vec![ids[5]],
                ..TocEntry::default()
            },
        ]
    }

    fn example18() -> (Header, Vec<TocEntry>) {
        (
            header(ArchiveVersion::V1_16, HeaderCompression::Algorithm(1), "18.6", "18.6"),
            example_entries(
                [2569, 2570, 2571, 2572, 220, 219, 2565, 2573, 2417],
                ["16395", "16403", "16397", "16402"],
                114,
            ),
        )
    }

    fn example15() -> (Header, Vec<TocEntry>) {
        (
            header(
                ArchiveVersion::V1_14,
                HeaderCompression::ZlibLevel(-1),
                "15.19",
                "15.18 (Debian 15.18-0+deb12u1)",
            ),
            // §9.2 elides the index OID; any five-digit OID gives the documented offsets.
            example_entries(
                [2538, 2539, 2540, 2541, 215, 214, 2534, 2542, 2391],
                ["16394", "16402", "16396", "16401"],
                0,
            ),
        )
    }

    // §9.1, offsets 0000-004e (header) with the entry count of the test TOC appended separately.
    const HEADER_18: &str = "
        50 47 44 4d 50  01 10 00  04 08 03  01
        00 1a 00 00 00  00 20 00 00 00  00 01 00 00 00  00 18 00 00 00
        00 0a 00 00 00  00 7e 00 00 00  00 00 00 00 00
        00 04 00 00 00 'tiny'  00 04 00 00 00 '18.6'  00 04 00 00 00 '18.6'";

    // §9.1 TOC entry #6, offsets 0420-04ed.
    const TABLE_18: &str = "
        00 db 00 00 00  00 00 00 00 00
        00 04 00 00 00 '1259'  00 05 00 00 00 '16397'  00 01 00 00 00 't'  00 05 00 00 00 'TABLE'
        00 02 00 00 00
        00 39 00 00 00 'CREATE TABLE public.t (\\n    id integer,\\n    name text\\n);\\n'
        00 15 00 00 00 'DROP TABLE public.t;\\n'
        01 01 00 00 00
        00 06 00 00 00 'public'  00 00 00 00 00  00 04 00 00 00 'heap'
        00 72 00 00 00
        00 08 00 00 00 'postgres'  00 05 00 00 00 'false'
        01 01 00 00 00
        00 00 00 00 00";

    // §9.1 TOC entry #7, offsets 04ee-05a0.
    const TABLE_DATA_18: &str = "
        00 05 0a 00 00  00 01 00 00 00
        00 01 00 00 00 '0'  00 05 00 00 00 '16397'  00 01 00 00 00 't'  00 0a 00 00 00 'TABLE DATA'
        00 03 00 00 00
        01 01 00 00 00  01 01 00 00 00
        00 25 00 00 00 'COPY public.t (id, name) FROM stdin;\\n'
        00 06 00 00 00 'public'  01 01 00 00 00  01 01 00 00 00
        00 00 00 00 00
        00 08 00 00 00 'postgres'  00 05 00 00 00 'false'
        00 03 00 00 00 '219'  01 01 00 00 00
        00 08 00 00 00 '2565.dat'";

    // §9.2, offsets 0000-0068.
    const HEADER_15: &str = "
        50 47 44 4d 50  01 0e 00  04 08 03  01 01 00 00 00
        00 1a 00 00 00  00 20 00 00 00  00 01 00 00 00  00 18 00 00 00
        00 0a 00 00 00  00 7e 00 00 00  00 00 00 00 00
        00 04 00 00 00 'tiny'  00 05 00 00 00 '15.19'  00 1e 00 00 00 '15.18 (Debian 15.18-0+deb12u1)'";

    // §9.2 TOC entry #6, offsets 0426-04ee.
    const TABLE_15: &str = "
        00 d6 00 00 00  00 00 00 00 00
        00 04 00 00 00 '1259'  00 05 00 00 00 '16396'  00 01 00 00 00 't'  00 05 00 00 00 'TABLE'
        00 02 00 00 00
        00 39 00 00 00 'CREATE TABLE public.t (\\n    id integer,\\n    name text\\n);\\n'
        00 15 00 00 00 'DROP TABLE public.t;\\n'
        01 01 00 00 00
        00 06 00 00 00 'public'  00 00 00 00 00  00 04 00 00 00 'heap'
        00 08 00 00 00 'postgres'  00 05 00 00 00 'false'
        01 01 00 00 00
        00 00 00 00 00";

    // §9.2 TOC entry #7, offsets 04ef-059c.
    const TABLE_DATA_15: &str = "
        00 e6 09 00 00  00 01 00 00 00
        00 01 00 00 00 '0'  00 05 00 00 00 '16396'  00 01 00 00 00 't'  00 0a 00 00 00 'TABLE DATA'
        00 03 00 00 00
        01 01 00 00 00  01 01 00 00 00
        00 25 00 00 00 'COPY public.t (id, name) FROM stdin;\\n'
        00 06 00 00 00 'public'  01 01 00 00 00  01 01 00 00 00
        00 08 00 00 00 'postgres'  00 05 00 00 00 'false'
        00 03 00 00 00 '214'  01 01 00 00 00
        00 08 00 00 00 '2534.dat'";

    // §9.1 ENCODING entry (#1, 004f-00dd), to pin NULL owner and the relkind position.
    const ENCODING_18: &str = "
        00 09 0a 00 00  00 00 00 00 00
        00 01 00 00 00 '0'  00 01 00 00 00 '0'  00 08 00 00 00 'ENCODING'  00 08 00 00 00 'ENCODING'
        00 02 00 00 00
        00 1e 00 00 00 'SET client_encoding = \\'UTF8\\';\\n'
        01 01 00 00 00  01 01 00 00 00  01 01 00 00 00  01 01 00 00 00  01 01 00 00 00
        00 00 00 00 00
        01 01 00 00 00
        00 05 00 00 00 'false'
        01 01 00 00 00
        00 00 00 00 00";

    fn expect_toc(header_hex: &str, count: u8, entries_hex: &[&str]) -> Vec<u8> {
        let mut out = bytes(header_hex);
        out.extend_from_slice(&[0, count, 0, 0, 0]);
        for e in entries_hex {
            out.extend_from_slice(&bytes(e));
        }
        out
    }

    #[test]
    fn quote_escapes_in_test_helper() {
        // The ENCODING defn contains quotes; the helper reads \' as a literal quote.
        assert_eq!(bytes("'a\\'b\\''"), b"a'b'");
    }

    #[test]
    fn example_18_header_and_table_entries_are_byte_exact() {
        let (h, all) = example18();
        assert_eq!(bytes(HEADER_18).len(), 0x4a, "transcribed header spans 0000-0049");
        assert_eq!(bytes(TABLE_18).len(), 0x4ee - 0x420);
        assert_eq!(bytes(TABLE_DATA_18).len(), 0x5a1 - 0x4ee);
        let picked = vec![all[5].clone(), all[6].clone()];
        let expected = expect_toc(HEADER_18, 2, &[TABLE_18, TABLE_DATA_18]);
        assert_eq!(encode_toc(&h, &picked), expected);
        assert_eq!(decode_toc(&expected).unwrap(), (h, picked));
    }

    #[test]
    fn example_15_header_and_table_entries_are_byte_exact() {
        let (h, all) = example15();
        assert_eq!(bytes(HEADER_15).len(), 0x69);
        assert_eq!(bytes(TABLE_15).len(), 0x4ef - 0x426);
        assert_eq!(bytes(TABLE_DATA_15).len(), 0x59d - 0x4ef);
        let picked = vec![all[5].clone(), all[6].clone()];
        let expected = expect_toc(HEADER_15, 2, &[TABLE_15, TABLE_DATA_15]);
        assert_eq!(encode_toc(&h, &picked), expected);
        assert_eq!(decode_toc(&expected).unwrap(), (h, picked));
    }

    #[test]
    fn example_18_encoding_entry_is_byte_exact() {
        let (h, all) = example18();
        let expected = expect_toc(HEADER_18, 1, &[ENCODING_18]);
        assert_eq!(encode_toc(&h, &all[..1]), expected);
    }

    /// Start offset of each entry in an encoded TOC.
    fn entry_offsets(h: &Header, entries: &[TocEntry]) -> Vec<usize> {
        let mut out = Vec::new();
        encode_header(h, &mut out);
        put_len(&mut out, entries.len());
        let mut starts = Vec::new();
        for e in entries {
            starts.push(out.len());
            encode_entry_body(h.version, e, &mut out);
            put_str(&mut out, &e.filename);
        }
        starts
    }

    #[test]
    fn example_18_whole_toc_has_documented_layout() {
        let (h, all) = example18();
        let toc = encode_toc(&h, &all);
        assert_eq!(toc.len(), 1848, "ex18/toc.dat size");
        assert_eq!(
            entry_offsets(&h, &all),
            [0x4f, 0xde, 0x17b, 0x228, 0x31e, 0x420, 0x4ee, 0x5a1, 0x655],
            "entry start offsets of §9.1"
        );
        assert_eq!(&toc[0x420..0x4ee], &bytes(TABLE_18)[..]);
        assert_eq!(&toc[0x4ee..0x5a1], &bytes(TABLE_DATA_18)[..]);
        assert_eq!(&toc[0x4f..0xde], &bytes(ENCODING_18)[..]);
        assert_eq!(decode_toc(&toc).unwrap(), (h, all));
    }

    #[test]
    fn example_15_whole_toc_has_documented_layout() {
        let (h, all) = example15();
        let toc = encode_toc(&h, &all);
        let starts = entry_offsets(&h, &all);
        assert_eq!(starts[0], 0x6e);
        assert_eq!(&starts[5..7], &[0x426, 0x4ef]);
        assert_eq!(&toc[0x426..0x4ef], &bytes(TABLE_15)[..]);
        assert_eq!(&toc[0x4ef..0x59d], &bytes(TABLE_DATA_15)[..]);
        assert_eq!(toc.len(), 1834, "ex15/toc.dat size");
        assert_eq!(decode_toc(&toc).unwrap(), (h, all));
    }

    fn rich_entries() -> Vec<TocEntry> {
        let mut v = example18().1;
        v.push(TocEntry {
            dump_id: 3000,
            had_dumper: true,
            tableoid: "0".into(),
            oid: "0".into(),
            tag: "BLOBS".into(),
            desc: "BLOBS".into(),
            section: 3,
            defn: s(""),
            drop_stmt: s(""),
            deps: vec![1, 2, i32::MAX],
            filename: "blobs.toc".into(),
            ..TocEntry::default()
        });
        v.push(TocEntry {
            dump_id: i32::MAX,
            tableoid: "2606".into(),
            oid: "4294967295".into(),
            tag: "naïve \"quoted\" ü".into(),
            desc: "COMMENT".into(),
            section: 1,
            defn: s("COMMENT ON TABLE public.t IS 'ünïcødé';\n"),
            relkind: 0,
            ..TocEntry::default()
        });
        v
    }

    #[test]
    fn round_trip_every_version() {
        for version in ArchiveVersion::ALL {
            let compression = match version {
                ArchiveVersion::V1_14 => HeaderCompression::ZlibLevel(6),
                _ => HeaderCompression::Algorithm(3),
            };
            let h = header(version, compression, "17.2", "pgsnap 0.1.0");
            let mut entries = rich_entries();
            if version < ArchiveVersion::V1_16 {
                // relkind is not stored before 1.16 and reads back as 0.
                for e in &mut entries {
                    e.relkind = 0;
                }
            }
            let toc = encode_toc(&h, &entries);
            assert_eq!(toc[6], version.minor());
            assert_eq!(decode_toc(&toc).unwrap(), (h, entries), "{version}");
        }
    }

    #[test]
    fn relkind_is_dropped_before_1_16() {
        let h = header(ArchiveVersion::V1_15, HeaderCompression::Algorithm(1), "16", "16");
        let e = table(5, "1", 114);
        let (_, back) = decode_toc(&encode_toc(&h, &[e])).unwrap();
        assert_eq!(back[0].relkind, 0);
        let h16 = Header {
            version: ArchiveVersion::V1_16,
            ..h.clone()
        };
        assert_eq!(
            encode_toc(&h16, &[table(5, "1", 114)]).len(),
            encode_toc(&h, &[table(5, "1", 114)]).len() + 5
        );
    }

    #[test]
    fn empty_toc_round_trips() {
        let h = header(ArchiveVersion::V1_14, HeaderCompression::ZlibLevel(0), "", "");
        let toc = encode_toc(&h, &[]);
        assert_eq!(decode_toc(&toc).unwrap(), (h, vec![]));
    }

    #[test]
    fn compression_field_follows_the_version() {
        let gz = Compression::Gzip { level: 6 };
        let zs = Compression::Zstd { level: 3, long: false };
        assert_eq!(
            HeaderCompression::for_archive(ArchiveVersion::V1_14, gz).unwrap(),
            HeaderCompression::ZlibLevel(6)
        );
        assert_eq!(
            HeaderCompression::for_archive(ArchiveVersion::V1_14, Compression::None).unwrap(),
            HeaderCompression::ZlibLevel(0)
        );
        assert_eq!(
            HeaderCompression::for_archive(ArchiveVersion::V1_16, zs).unwrap(),
            HeaderCompression::Algorithm(3)
        );
        let err = HeaderCompression::for_archive(ArchiveVersion::V1_14, zs).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert!(
            err.to_string().contains("1.15") && err.to_string().contains("pg_restore 16–18"),
            "{err}"
        );

        // A mismatched shape is translated rather than written wrongly.
        let mut h = header(ArchiveVersion::V1_14, HeaderCompression::Algorithm(1), "", "");
        assert_eq!(&encode_toc(&h, &[])[11..16], &[1, 1, 0, 0, 0]);
        h.version = ArchiveVersion::V1_15;
        h.compression = HeaderCompression::ZlibLevel(-1);
        assert_eq!(encode_toc(&h, &[])[11], 1);
        h.compression = HeaderCompression::ZlibLevel(0);
        assert_eq!(encode_toc(&h, &[])[11], 0);
    }

    #[test]
    fn version_facts() {
        assert_eq!(ArchiveVersion::V1_14.pg_restore_majors(), 14..=18);
        assert_eq!(ArchiveVersion::V1_15.pg_restore_majors(), 16..=18);
        assert_eq!(ArchiveVersion::V1_16.pg_restore_majors(), 17..=18);
        assert_eq!(ArchiveVersion::V1_16.readers(), "pg_restore 17–18");
        assert_eq!(ArchiveVersion::V1_15.to_string(), "1.15");
        assert_eq!(
            ArchiveVersion::lowest_for(Compression::Gzip { level: 1 }),
            ArchiveVersion::V1_14
        );
        assert_eq!(
            ArchiveVersion::lowest_for(Compression::Lz4 { level: 1 }),
            ArchiveVersion::V1_15
        );
        assert_eq!(ArchiveFormat::from_byte(3), Some(ArchiveFormat::Tar));
        assert_eq!(ArchiveFormat::from_byte(5), None);
        assert_eq!(ArchiveFormat::Custom.byte(), 1);
    }

    fn archive_err(buf: &[u8]) -> Error {
        match decode_toc(buf) {
            Ok(_) => panic!("damaged TOC decoded"),
            Err(e) => e,
        }
    }

    #[test]
    fn every_truncation_is_an_archive_error() {
        for (h, entries) in [example18(), example15()] {
            let toc = encode_toc(&h, &entries);
            for cut in 0..toc.len() {
                let e = archive_err(&toc[..cut]);
                assert_eq!(e.kind(), ErrorKind::Archive, "cut at {cut}: {e}");
            }
        }
    }

    #[test]
    fn truncation_names_field_and_entry() {
        let (h, entries) = example18();
        let toc = encode_toc(&h, &entries);
        // Inside the owner string of TABLE DATA (§9.1: 0570-057c).
        let msg = archive_err(&toc[..0x575]).to_string();
        assert!(
            msg.contains("\"owner\"") && msg.contains("#7") && msg.contains("dumpId 2565"),
            "{msg}"
        );
        let msg = archive_err(&toc[..0x30]).to_string();
        assert!(msg.contains("\"dbname\"") && msg.contains("header"), "{msg}");
        let msg = archive_err(&toc[..0x4c]).to_string();
        assert!(msg.contains("entry count"), "{msg}");
    }

    #[test]
    fn bad_magic() {
        let (h, entries) = example18();
        let mut toc = encode_toc(&h, &entries);
        toc[0] = b'X';
        let e = archive_err(&toc);
        assert_eq!(e.kind(), ErrorKind::Archive);
        assert!(e.to_string().contains("PGDMP"));
        assert_eq!(archive_err(b"").kind(), ErrorKind::Archive);
        assert_eq!(archive_err(b"PK\x03\x04").kind(), ErrorKind::Archive);
    }

    #[test]
    fn versions_outside_1_14_to_1_16() {
        let (h, entries) = example18();
        let mut toc = encode_toc(&h, &entries);
        toc[6] = 17;
        let e = archive_err(&toc);
        assert_eq!(e.kind(), ErrorKind::Archive);
        assert!(
            e.to_string().contains("unsupported version (1.17) in file header"),
            "{e}"
        );
        toc[6] = 13;
        let e = archive_err(&toc);
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.to_string().contains("1.13"), "{e}");
        toc[6] = 16;
        toc[5] = 2;
        assert_eq!(archive_err(&toc).kind(), ErrorKind::Archive);
        // The revision byte is ignored, as pg_restore does.
        toc[5] = 1;
        toc[7] = 7;
        assert!(decode_toc(&toc).is_ok());
    }

    #[test]
    fn header_sanity_checks() {
        let (h, entries) = example18();
        let toc = encode_toc(&h, &entries);
        for (offset, value, needle) in [
            (8, 0, "integer size"),
            (8, 33, "integer size"),
            (9, 0, "offset size"),
            (10, 5, "expected format (3)"),
            (10, 1, "expected format (3)"),
            (11, 4, "compression algorithm"),
        ] {
            let mut bad = toc.clone();
            bad[offset] = value;
            let e = archive_err(&bad);
            assert_eq!(e.kind(), ErrorKind::Archive);
            assert!(e.to_string().contains(needle), "{offset}={value}: {e}");
        }
    }

    #[test]
    fn wider_ints_are_read_when_they_fit() {
        // An intSize-8 archive (pg_restore accepts it): re-encode ints with four extra zero bytes.
        let h = header(ArchiveVersion::V1_16, HeaderCompression::Algorithm(0), "a", "b");
        let e = table_data(7, "1", 6);
        let narrow = encode_toc(&h, std::slice::from_ref(&e));
        let mut wide = narrow[..11].to_vec();
        wide[8] = 8;
        wide.push(narrow[11]);
        let mut r = TocReader::new(&narrow);
        r.pos = 12;
        // Copy the rest, widening each int; strings are copied as they come.
        let widen = |r: &mut TocReader<'_>, wide: &mut Vec<u8>, string: bool| {
            let v = r.int("x", Place::Header).unwrap();
            let raw = &narrow[r.pos - 5..r.pos];
            wide.extend_from_slice(raw);
            wide.extend_from_slice(&[0, 0, 0, 0]);
            if string && v > 0 {
                wide.extend_from_slice(r.take(v as usize, "x", Place::Header).unwrap());
            }
        };
        for _ in 0..7 {
            widen(&mut r, &mut wide, false);
        }
        for _ in 0..3 {
            widen(&mut r, &mut wide, true);
        }
        widen(&mut r, &mut wide, false); // count
        let layout = [0, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1];
        for is_str in layout {
            widen(&mut r, &mut wide, is_str == 1);
        }
        assert_eq!(r.pos, narrow.len());
        assert_eq!(decode_toc(&wide).unwrap(), (h, vec![e]));
        // A non-zero high byte does not fit an i32.
        let last = wide.len() - 5 - 4;
        wide[last] = 1;
        assert!(archive_err(&wide).to_string().contains("32-bit"));
    }

    #[test]
    fn dump_id_must_be_positive() {
        let (h, entries) = example18();
        let mut toc = encode_toc(&h, &entries);
        // §9.1 entry #1 dumpId at 004f-0053.
        toc[0x50..0x54].copy_from_slice(&[0, 0, 0, 0]);
        let e = archive_err(&toc);
        assert!(e.to_string().contains("entry ID 0 out of range"), "{e}");
        toc[0x4f] = 1;
        toc[0x50] = 5;
        assert!(archive_err(&toc).to_string().contains("entry ID -5"));
    }

    #[test]
    fn negative_string_lengths_other_than_null() {
        let (h, entries) = example18();
        let toc = encode_toc(&h, &entries);
        // §9.1 entry #1 tableoid length at 0059-005d.
        let mut bad = toc.clone();
        bad[0x59..0x5e].copy_from_slice(&[1, 2, 0, 0, 0]);
        let e = archive_err(&bad);
        assert!(e.to_string().contains("invalid string length -2"), "{e}");
        // NULL where pg_restore needs a string.
        bad[0x59..0x5e].copy_from_slice(&[1, 1, 0, 0, 0]);
        let e = archive_err(&bad);
        assert_eq!(e.kind(), ErrorKind::Archive);
        // Huge length.
        bad[0x59..0x5e].copy_from_slice(&[0, 0xff, 0xff, 0xff, 0x7f]);
        assert!(archive_err(&bad).to_string().contains("truncated"));
        // Magnitude 2^31 with a positive sign does not fit.
        bad[0x59..0x5e].copy_from_slice(&[0, 0, 0, 0, 0x80]);
        assert!(archive_err(&bad).to_string().contains("32-bit"));
    }

    #[test]
    fn count_must_be_exact() {
        let (h, entries) = example18();
        let mut toc = encode_toc(&h, &entries);
        // Count at 004a-004e: claim 10 entries (truncated) and 8 (trailing bytes).
        toc[0x4b] = 10;
        assert!(archive_err(&toc).to_string().contains("truncated"));
        toc[0x4b] = 8;
        assert!(archive_err(&toc).to_string().contains("unexpected bytes"));
        toc[0x4a] = 1;
        assert!(archive_err(&toc).to_string().contains("negative TOC entry count"));
        toc[0x4a..0x4f].copy_from_slice(&[0, 0xff, 0xff, 0xff, 0x7f]);
        assert_eq!(archive_err(&toc).kind(), ErrorKind::Archive);
    }

    #[test]
    fn non_utf8_and_bad_deps_name_the_entry() {
        let (h, entries) = example18();
        let toc = encode_toc(&h, &entries);
        let mut bad = toc.clone();
        // 'ENCODING' tag of entry #1 starts at 0x6a.
        bad[0x6a] = 0xff;
        let msg = archive_err(&bad).to_string();
        assert!(
            msg.contains("UTF-8") && msg.contains("\"tag\"") && msg.contains("dumpId 2569"),
            "{msg}"
        );
        // TABLE DATA dependency '219' at 0x58b-0x58d.
        let mut bad = toc.clone();
        bad[0x58d] = b'x';
        let msg = archive_err(&bad).to_string();
        assert!(
            msg.contains("dependency \"2x9\"") && msg.contains("dumpId 2565"),
            "{msg}"
        );
    }

    #[test]
    fn random_damage_never_panics() {
        let (h, entries) = example18();
        let toc = encode_toc(&h, &entries);
        let mut x: u32 = 12345;
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let mut bad = toc.clone();
            let at = x as usize % bad.len();
            bad[at] = (x >> 8) as u8;
            let _ = decode_toc(&bad);
        }
    }

    #[test]
    fn label_names_the_object() {
        let (_, entries) = example18();
        assert_eq!(entries[6].label(), "TOC entry 2565 (TABLE DATA public t)");
        assert_eq!(entries[0].label(), "TOC entry 2569 (ENCODING ENCODING)");
    }
}
