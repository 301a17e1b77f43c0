//! The tar archive format (`pg_dump -Ft`, pg_backup_tar.c): a POSIX ustar file holding the
//! directory layout — `toc.dat` first (format byte 3, each entry naming its member), then the
//! data members in TOC order (`<dumpId>.dat`; for a BLOBS entry one `blob_<oid>.dat` per large
//! object followed by `blobs.toc`, or `blobs_<dumpId>.toc` from archive 1.16 on), then two
//! zero blocks. Never compressed (pg_dump refuses: "compression is not supported by tar
//! archive format"); pg_restore reads the members in order and refuses out-of-order data.
//!
//! A member's header carries its size, so a member can only be written once its size is
//! known: data ready before its turn is spooled (as pg_dump spools every member to a
//! temporary file); on an output that can be rewritten in place the member at the head of the
//! TOC order streams and gets its size patched in. To a pipe the last data member is held back
//! until the dump succeeded, so a failed dump never ends with what looks like a complete
//! archive. pg_dump's `restore.sql` member (a script for humans, never read by pg_restore) is
//! not written.
//!
//! [`TarReader`] lists and reads members with every header checked (checksum, magic, sizes
//! against the file); [`read_toc_stream`] reads just the TOC from a stream.

use std::collections::HashSet;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::ordered::{Framing, OrderedOutput, UnitWriter};
use super::output::{ArchiveFile, open_archive_output};
use super::spool::{SpoolDir, SpoolFile};
use super::toc::{ArchiveFormat, ArchiveVersion, Header, MAGIC, TocEntry, decode_toc, encode_toc};
use super::writer::{ArchiveWriter, BLOBS, DataSink, DataSinks, EncodedSink, Finished, WriterOptions, check_entries};
use crate::codec::{Compression, ParallelEncoder, Piece, PieceCodec, PieceSink};
use crate::error::{Error, Result};

/// Tar's block size.
pub const BLOCK: usize = 512;
/// Name of the TOC member (always first).
pub const TOC_MEMBER: &str = "toc.dat";

const OFF_NAME: usize = 0;
const OFF_MODE: usize = 100;
const OFF_UID: usize = 108;
const OFF_GID: usize = 116;
const OFF_SIZE: usize = 124;
const OFF_MTIME: usize = 136;
const OFF_CHECKSUM: usize = 148;
const OFF_TYPEFLAG: usize = 156;
const OFF_MAGIC: usize = 257;
const OFF_VERSION: usize = 263;
const OFF_UNAME: usize = 265;
const OFF_GNAME: usize = 297;
const OFF_DEVMAJOR: usize = 329;
const OFF_DEVMINOR: usize = 337;

/// Zero bytes that pad a member of `size` bytes to a whole block.
pub fn padding(size: u64) -> usize {
    ((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64) as usize
}

/// Writes `val` into a numeric field: octal digits with a trailing space when it fits, else
/// GNU base-256 (0x80, then big-endian binary), as pg_dump's `print_tar_number` does.
fn put_number(field: &mut [u8], val: u64) {
    let len = field.len();
    if len < 22 && val >= 1u64 << ((len - 1) * 3) {
        field[0] = 0x80;
        let mut v = val;
        for b in field[1..].iter_mut().rev() {
            *b = (v & 0xff) as u8;
            v >>= 8;
        }
    } else {
        field[len - 1] = b' ';
        let mut v = val;
        for b in field[..len - 1].iter_mut().rev() {
            *b = b'0' + (v & 7) as u8;
            v >>= 3;
        }
    }
}

/// Reads a numeric field: base-256 after 0x80, otherwise octal digits up to the first
/// non-octal byte (`read_tar_number`). `None` when it overflows 64 bits.
fn get_number(field: &[u8]) -> Option<u64> {
    let mut result: u64 = 0;
    if field.first() == Some(&0x80) {
        for &b in &field[1..] {
            result = result.checked_mul(256)?.checked_add(u64::from(b))?;
        }
    } else {
        for &b in field.iter().take_while(|b| (b'0'..=b'7').contains(b)) {
            result = result.checked_mul(8)?.checked_add(u64::from(b - b'0'))?;
        }
    }
    Some(result)
}

/// Sum of the header's bytes with the checksum field counted as spaces (`tarChecksum`).
fn checksum(h: &[u8; BLOCK]) -> u64 {
    h.iter()
        .enumerate()
        .map(|(i, &b)| {
            if (OFF_CHECKSUM..OFF_CHECKSUM + 8).contains(&i) {
                u64::from(b' ')
            } else {
                u64::from(b)
            }
        })
        .sum()
}

/// A ustar header for a regular file, laid out as pg_dump's `tarCreateHeader` lays it out
/// (mode 0600, uid 04000, gid 02000, owner names "postgres").
pub fn header(name: &str, size: u64, mtime: u64) -> Result<[u8; BLOCK]> {
    if name.len() > 99 || name.is_empty() {
        return Err(Error::internal(format!("tar member name \"{name}\" is too long")));
    }
    let mut h = [0u8; BLOCK];
    h[OFF_NAME..OFF_NAME + name.len()].copy_from_slice(name.as_bytes());
    put_number(&mut h[OFF_MODE..OFF_MODE + 8], 0o600);
    put_number(&mut h[OFF_UID..OFF_UID + 8], 0o4000);
    put_number(&mut h[OFF_GID..OFF_GID + 8], 0o2000);
    put_number(&mut h[OFF_SIZE..OFF_SIZE + 12], size);
    put_number(&mut h[OFF_MTIME..OFF_MTIME + 12], mtime);
    h[OFF_TYPEFLAG] = b'0';
    h[OFF_MAGIC..OFF_MAGIC + 6].copy_from_slice(b"ustar\0");
    h[OFF_VERSION..OFF_VERSION + 2].copy_from_slice(b"00");
    h[OFF_UNAME..OFF_UNAME + 8].copy_from_slice(b"postgres");
    h[OFF_GNAME..OFF_GNAME + 8].copy_from_slice(b"postgres");
    put_number(&mut h[OFF_DEVMAJOR..OFF_DEVMAJOR + 8], 0);
    put_number(&mut h[OFF_DEVMINOR..OFF_DEVMINOR + 8], 0);
    let sum = checksum(&h);
    put_number(&mut h[OFF_CHECKSUM..OFF_CHECKSUM + 8], sum);
    Ok(h)
}

/// What a 512-byte block is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// All zero (end-of-archive marker, skipped by pg_restore).
    Zero,
    /// A member header.
    Member { name: String, size: u64 },
}

/// Checks and decodes a header block: checksum and ustar magic (`isValidTarHeader`).
pub fn parse_header(h: &[u8; BLOCK], offset: u64) -> Result<Block> {
    if h.iter().all(|&b| b == 0) {
        return Ok(Block::Zero);
    }
    let stored = get_number(&h[OFF_CHECKSUM..OFF_CHECKSUM + 8]);
    let computed = checksum(h);
    if stored != Some(computed) {
        return Err(Error::archive(format!(
            "corrupt tar header found at file position {offset} (expected {}, computed {computed})",
            stored.map_or_else(|| "?".to_string(), |s| s.to_string())
        )));
    }
    let magic = &h[OFF_MAGIC..OFF_MAGIC + 8];
    if !(magic.starts_with(b"ustar\0") && &h[OFF_VERSION..OFF_VERSION + 2] == b"00"
        || magic == b"ustar  \0"
        || magic == b"ustar00\0")
    {
        return Err(Error::archive(format!(
            "tar header at file position {offset} is not a ustar header"
        )));
    }
    let raw = &h[OFF_NAME..OFF_NAME + 100];
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    let name = String::from_utf8_lossy(&raw[..end]).into_owned();
    let size = get_number(&h[OFF_SIZE..OFF_SIZE + 12])
        .ok_or_else(|| Error::archive(format!("tar header at file position {offset} has an invalid size")))?;
    Ok(Block::Member { name, size })
}

/// Whether `h` starts a tar archive (format detection, as pg_restore's `isValidTarHeader`).
pub fn looks_like_tar(h: &[u8]) -> bool {
    let Ok(block) = <&[u8; BLOCK]>::try_from(h.get(..BLOCK).unwrap_or(&[])) else {
        return false;
    };
    matches!(parse_header(block, 0), Ok(Block::Member { .. }))
}

/// Name of the blobs TOC member of BLOBS entry `dump_id` (pg_dump 17+ names it per entry).
pub fn blobs_toc_name(version: ArchiveVersion, dump_id: i32) -> String {
    if version >= ArchiveVersion::V1_16 {
        format!("blobs_{dump_id}.toc")
    } else {
        "blobs.toc".to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Writes a tar archive; see the module documentation.
pub struct TarWriter {
    path: Option<PathBuf>,
    file: Option<Box<dyn ArchiveFile>>,
    spool: Option<Arc<SpoolDir>>,
    mtime: u64,
    started: Option<Started>,
}

struct Started {
    /// The toc.dat member, when it waits for `finish` (no data at all).
    pending_toc: Option<Vec<u8>>,
    ordered: Arc<OrderedOutput>,
    sinks: Arc<TarSinks>,
}

impl TarWriter {
    /// Opens the output: `path` (written atomically) or standard output. `opts.compression`
    /// must be none.
    pub fn create(path: Option<&Path>, opts: WriterOptions) -> Result<TarWriter> {
        if opts.compression != Compression::None {
            return Err(Error::usage("compression is not supported by tar archive format"));
        }
        let (file, _name) = open_archive_output(path, &opts)?;
        let mtime = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Ok(TarWriter {
            path: path.map(Path::to_path_buf),
            file: Some(file),
            spool: Some(Arc::new(SpoolDir::create_for(path, &opts.layers)?)),
            mtime,
            started: None,
        })
    }

    #[cfg(test)]
    fn with_file(file: Box<dyn ArchiveFile>, spool: SpoolDir, mtime: u64) -> TarWriter {
        TarWriter {
            path: None,
            file: Some(file),
            spool: Some(Arc::new(spool)),
            mtime,
            started: None,
        }
    }
}

/// A whole member: header, content, padding.
fn member(name: &str, content: &[u8], mtime: u64) -> Result<Vec<u8>> {
    let mut v = Vec::with_capacity(BLOCK + content.len() + BLOCK);
    v.extend_from_slice(&header(name, content.len() as u64, mtime)?);
    v.extend_from_slice(content);
    v.resize(v.len() + padding(content.len() as u64), 0);
    Ok(v)
}

impl ArchiveWriter for TarWriter {
    fn start(&mut self, mut header: Header, mut entries: Vec<TocEntry>) -> Result<()> {
        check_entries(&entries)?;
        if self.started.is_some() {
            return Err(Error::internal("tar archive started twice"));
        }
        let (Some(mut file), Some(spool)) = (self.file.take(), self.spool.take()) else {
            return Err(Error::internal("tar archive output is gone"));
        };
        header.format = ArchiveFormat::Tar;
        // Every entry with data names `<dumpId>.dat`, BLOBS included (pg_backup_tar.c
        // `_ArchiveEntry`); the large objects' own members follow their own naming.
        for e in &mut entries {
            e.filename = if e.had_dumper {
                format!("{}.dat", e.dump_id)
            } else {
                String::new()
            };
        }
        let toc = member(TOC_MEMBER, &encode_toc(&header, &entries), self.mtime)?;
        let data: Vec<&TocEntry> = entries.iter().filter(|e| e.had_dumper).collect();
        let pending_toc = if data.is_empty() {
            // Nothing would follow the TOC: writing it now could leave a complete-looking
            // archive behind a failure.
            Some(toc)
        } else {
            file.write_all(&toc)?;
            None
        };
        let ids: Vec<i32> = data.iter().map(|e| e.dump_id).collect();
        let framing = MemberFraming {
            units: data
                .iter()
                .map(|e| (e.desc != BLOBS).then(|| e.filename.clone()))
                .collect(),
            mtime: self.mtime,
        };
        let live_ok = file.can_patch();
        let hold_last = !file.is_atomic();
        let ordered = OrderedOutput::new(file, &ids, Box::new(framing), spool.clone(), live_ok, hold_last)?;
        let sinks = Arc::new(TarSinks {
            ordered: ordered.clone(),
            blobs: data.iter().filter(|e| e.desc == BLOBS).map(|e| e.dump_id).collect(),
            version: header.version,
            mtime: self.mtime,
            open: Mutex::new(HashSet::new()),
            object_spool: spool,
        });
        self.started = Some(Started {
            pending_toc,
            ordered,
            sinks,
        });
        Ok(())
    }

    fn sinks(&self) -> Result<Arc<dyn DataSinks>> {
        match &self.started {
            Some(s) => Ok(s.sinks.clone()),
            None => Err(Error::internal("tar archive: sinks before start")),
        }
    }

    fn finish(mut self: Box<Self>) -> Result<Finished> {
        let Some(s) = self.started.take() else {
            return Err(Error::internal("tar archive finished before start"));
        };
        let mut file = s.ordered.finish()?;
        if let Some(toc) = &s.pending_toc {
            file.write_all(toc)?;
        }
        // End of archive: two zero blocks.
        file.write_all(&[0u8; 2 * BLOCK])?;
        file.commit()?;
        Ok(Finished {
            path: self.path.clone(),
        })
    }
}

/// TABLE DATA units are members framed here (header before, padding after); a BLOBS unit is
/// a run of complete members its sink writes itself.
struct MemberFraming {
    /// Per unit: the member name, `None` for BLOBS.
    units: Vec<Option<String>>,
    mtime: u64,
}

impl Framing for MemberFraming {
    fn before(&self, idx: usize, size: Option<u64>) -> Result<Vec<u8>> {
        match &self.units[idx] {
            // A live member gets size 0 now and its real size patched in at the end.
            Some(name) => Ok(header(name, size.unwrap_or(0), self.mtime)?.to_vec()),
            None => Ok(Vec::new()),
        }
    }

    fn after(&self, idx: usize, start: u64, size: u64, out: &mut dyn ArchiveFile) -> Result<Vec<u8>> {
        match &self.units[idx] {
            Some(name) => {
                if out.can_patch() {
                    out.patch(start, &header(name, size, self.mtime)?)?;
                }
                Ok(vec![0u8; padding(size)])
            }
            None => Ok(Vec::new()),
        }
    }
}

struct TarSinks {
    ordered: Arc<OrderedOutput>,
    blobs: HashSet<i32>,
    version: ArchiveVersion,
    mtime: u64,
    open: Mutex<HashSet<i32>>,
    object_spool: Arc<SpoolDir>,
}

impl DataSinks for TarSinks {
    fn open(&self, dump_id: i32) -> Result<Box<dyn DataSink>> {
        {
            let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            if !open.insert(dump_id) {
                return Err(Error::internal(format!("data of dump id {dump_id} opened twice")));
            }
        }
        let unit = self.ordered.open(dump_id)?;
        let label = format!("data of dump id {dump_id}");
        let codec = PieceCodec::Member(Compression::None);
        if self.blobs.contains(&dump_id) {
            let sink = BlobMembers {
                unit: Some(unit),
                spool: self.object_spool.clone(),
                current: None,
                lines: Vec::new(),
                toc_name: blobs_toc_name(self.version, dump_id),
                mtime: self.mtime,
                written: 0,
            };
            Ok(Box::new(EncodedSink(ParallelEncoder::new(codec, label, sink)?)))
        } else {
            let sink = RawMember {
                unit: Some(unit),
                written: 0,
            };
            Ok(Box::new(EncodedSink(ParallelEncoder::new(codec, label, sink)?)))
        }
    }
}

/// A table's data member content.
struct RawMember {
    unit: Option<UnitWriter>,
    written: u64,
}

impl PieceSink for RawMember {
    fn piece(&mut self, piece: Piece) -> Result<()> {
        let Some(unit) = self.unit.as_mut() else {
            return Err(Error::internal("tar member already ended"));
        };
        unit.write(&piece.data)?;
        self.written += piece.data.len() as u64;
        Ok(())
    }

    fn finish(&mut self) -> Result<u64> {
        match self.unit.take() {
            Some(unit) => unit.finish(),
            None => Err(Error::internal("tar member already ended")),
        }
        .map(|_| self.written)
    }
}

/// A BLOBS entry's members: each large object spooled until its size is known, then written
/// as `blob_<oid>.dat`; the blobs TOC member last (pg_dump closes it after the objects).
struct BlobMembers {
    unit: Option<UnitWriter>,
    spool: Arc<SpoolDir>,
    current: Option<(u32, SpoolFile)>,
    lines: Vec<u8>,
    toc_name: String,
    mtime: u64,
    written: u64,
}

impl BlobMembers {
    fn unit(&mut self) -> Result<&mut UnitWriter> {
        self.unit
            .as_mut()
            .ok_or_else(|| Error::internal("tar BLOBS data already ended"))
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.unit()?.write(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }
}

impl PieceSink for BlobMembers {
    fn piece(&mut self, piece: Piece) -> Result<()> {
        match self.current.as_mut() {
            Some((_, f)) => f.write_all(&piece.data),
            None => Err(Error::internal("large object data outside an object")),
        }
    }

    fn start_object(&mut self, oid: u32) -> Result<()> {
        if self.current.is_some() {
            return Err(Error::internal("large object started inside another"));
        }
        self.current = Some((oid, self.spool.file(&format!("blob_{oid}"))?));
        Ok(())
    }

    fn end_object(&mut self) -> Result<()> {
        let Some((oid, f)) = self.current.take() else {
            return Err(Error::internal("end of a large object that was not started"));
        };
        let name = format!("blob_{oid}.dat");
        let spooled = f.close()?;
        let size = spooled.len();
        self.write(&header(&name, size, self.mtime)?)?;
        let unit = self.unit()?;
        spooled.copy_to(&mut |b| unit.write(b))?;
        self.written += size;
        self.write(&vec![0u8; padding(size)])?;
        self.lines.extend_from_slice(format!("{oid} {name}\n").as_bytes());
        Ok(())
    }

    fn finish(&mut self) -> Result<u64> {
        if self.current.is_some() {
            return Err(Error::internal("BLOBS data ended inside a large object"));
        }
        let toc = member(&self.toc_name, &self.lines, self.mtime)?;
        self.write(&toc)?;
        match self.unit.take() {
            Some(unit) => unit.finish().map(|_| self.written),
            None => Err(Error::internal("tar BLOBS data already ended")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

/// One member of a tar archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    /// File position of its content.
    pub offset: u64,
    pub size: u64,
}

/// A tar archive opened for reading from a seekable source: every header checked, every
/// size checked against the file, `toc.dat` first and decoded.
pub struct TarReader<R> {
    src: R,
    members: Vec<Member>,
    header: Header,
    entries: Vec<TocEntry>,
}

/// Largest toc.dat read into memory.
const TOC_LIMIT: u64 = 1 << 30;

impl<R: Read + Seek> TarReader<R> {
    pub fn new(mut src: R) -> Result<Self> {
        let len = src
            .seek(SeekFrom::End(0))
            .map_err(|e| Error::io("could not determine the archive's size", e))?;
        src.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io("could not seek in the archive", e))?;
        let mut members = Vec::new();
        let mut pos = 0u64;
        let mut h = [0u8; BLOCK];
        while pos + BLOCK as u64 <= len {
            src.read_exact(&mut h)
                .map_err(|e| Error::io("could not read from input file", e))?;
            match parse_header(&h, pos)? {
                Block::Zero => {
                    pos += BLOCK as u64;
                }
                Block::Member { name, size } => {
                    let offset = pos + BLOCK as u64;
                    let end = offset
                        .checked_add(size)
                        .filter(|&e| e <= len)
                        .ok_or_else(|| {
                            Error::archive(format!(
                                "tar member \"{name}\" at file position {pos} claims {size} bytes, more than the archive holds ({len} bytes)"
                            ))
                        })?;
                    pos = end + padding(size) as u64;
                    if pos > len {
                        return Err(Error::archive(format!(
                            "tar archive is truncated: member \"{name}\" lacks {} bytes of padding",
                            pos - len
                        )));
                    }
                    members.push(Member { name, offset, size });
                    src.seek(SeekFrom::Start(pos.min(len)))
                        .map_err(|e| Error::io("could not seek in the archive", e))?;
                }
            }
        }
        if pos < len {
            return Err(Error::archive(format!(
                "incomplete tar header found ({} bytes) at file position {pos}",
                len - pos
            )));
        }
        match members.first() {
            Some(m) if m.name == TOC_MEMBER => {}
            Some(m) => {
                return Err(Error::archive(format!(
                    "the first member of the tar archive is \"{}\", not {TOC_MEMBER}",
                    m.name
                )));
            }
            None => return Err(Error::archive("the tar archive has no members")),
        }
        let toc = members[0].clone();
        if toc.size > TOC_LIMIT {
            return Err(Error::archive(format!(
                "{TOC_MEMBER} is implausibly large ({} bytes)",
                toc.size
            )));
        }
        let mut r = TarReader {
            src,
            members,
            header: Header {
                version: ArchiveVersion::V1_14,
                format: ArchiveFormat::Tar,
                compression: super::toc::HeaderCompression::ZlibLevel(0),
                created: Default::default(),
                dbname: String::new(),
                server_version: String::new(),
                dump_version: String::new(),
            },
            entries: Vec::new(),
        };
        let mut buf = Vec::new();
        r.copy_member(&toc, u64::MAX, &mut |b| {
            buf.extend_from_slice(b);
            Ok(())
        })?;
        let (header, entries) = decode_toc(&buf).map_err(|e| e.context(format!("reading {TOC_MEMBER}")))?;
        r.header = header;
        r.entries = entries;
        Ok(r)
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn entries(&self) -> &[TocEntry] {
        &self.entries
    }

    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// Feeds the content of `member` to `visit` (at most `limit` bytes, else an error).
    pub fn copy_member(
        &mut self,
        member: &Member,
        limit: u64,
        visit: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        if member.size > limit {
            return Err(Error::archive(format!(
                "tar member \"{}\" is larger ({} bytes) than allowed",
                member.name, member.size
            )));
        }
        self.src
            .seek(SeekFrom::Start(member.offset))
            .map_err(|e| Error::io("could not seek in the archive", e))?;
        let mut left = member.size;
        let mut buf = vec![0u8; 64 * 1024];
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            self.src
                .read_exact(&mut buf[..want])
                .map_err(|e| Error::io(format!("could not read tar member \"{}\"", member.name), e))?;
            visit(&buf[..want])?;
            left -= want as u64;
        }
        Ok(())
    }

    /// The member named `name`.
    pub fn member(&self, name: &str) -> Option<Member> {
        self.members.iter().find(|m| m.name == name).cloned()
    }
}

/// Reads only the header and TOC of a tar archive from a stream (standard input): the first
/// member must be `toc.dat`.
pub fn read_toc_stream(src: &mut dyn Read) -> Result<(Header, Vec<TocEntry>)> {
    let mut h = [0u8; BLOCK];
    read_full(src, &mut h)?;
    let size = match parse_header(&h, 0)? {
        Block::Member { name, size } if name == TOC_MEMBER => size,
        Block::Member { name, .. } => {
            return Err(Error::archive(format!(
                "the first member of the tar archive is \"{name}\", not {TOC_MEMBER}"
            )));
        }
        Block::Zero => return Err(Error::archive("the tar archive has no members")),
    };
    if size > TOC_LIMIT {
        return Err(Error::archive(format!(
            "{TOC_MEMBER} is implausibly large ({size} bytes)"
        )));
    }
    // The magic is checked on the first bytes, so a stream of garbage behind a plausible tar
    // header is refused before more of it is read (as the directory reader does); after
    // that, memory grows with the bytes received.
    let mut buf = Vec::new();
    let mut src = src.take(size);
    (&mut src)
        .take(MAGIC.len() as u64)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io("could not read from input file", e))?;
    if buf.len() == MAGIC.len() && buf[..] != MAGIC[..] {
        return Err(Error::archive(format!(
            "{TOC_MEMBER} is not a pg_dump TOC: it does not start with \"PGDMP\""
        )));
    }
    src.read_to_end(&mut buf)
        .map_err(|e| Error::io("could not read from input file", e))?;
    if (buf.len() as u64) < size {
        return Err(Error::archive(format!(
            "{TOC_MEMBER} is truncated: {} of {size} bytes",
            buf.len()
        )));
    }
    decode_toc(&buf).map_err(|e| e.context(format!("reading {TOC_MEMBER}")))
}

fn read_full(src: &mut dyn Read, buf: &mut [u8]) -> Result<()> {
    let mut got = 0;
    while got < buf.len() {
        match src.read(&mut buf[got..]) {
            Ok(0) => {
                return Err(Error::archive(format!("incomplete tar header found ({got} bytes)")));
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("could not read from input file", e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io::Cursor;

    use super::super::custom::tests::{entries, header as archive_header, objects, rows};
    use super::super::output::tests::MemFile;
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn header_layout_and_checksum() {
        let h = header("2565.dat", 25, 0o14_000_000_000).unwrap();
        assert_eq!(&h[..9], b"2565.dat\0");
        assert_eq!(&h[OFF_MODE..OFF_MODE + 8], b"0000600 ");
        assert_eq!(&h[OFF_UID..OFF_UID + 8], b"0004000 ");
        assert_eq!(&h[OFF_GID..OFF_GID + 8], b"0002000 ");
        assert_eq!(&h[OFF_SIZE..OFF_SIZE + 12], b"00000000031 ");
        assert_eq!(&h[OFF_MTIME..OFF_MTIME + 12], b"14000000000 ");
        assert_eq!(h[OFF_TYPEFLAG], b'0');
        assert_eq!(&h[OFF_MAGIC..OFF_MAGIC + 8], b"ustar\x0000");
        assert_eq!(&h[OFF_UNAME..OFF_UNAME + 9], b"postgres\0");
        // The checksum field: octal sum of the bytes with the field as spaces.
        let stored = get_number(&h[OFF_CHECKSUM..OFF_CHECKSUM + 8]).unwrap();
        assert_eq!(stored, checksum(&h));
        assert_eq!(h[OFF_CHECKSUM + 7], b' ');
        assert_eq!(
            parse_header(&h, 0).unwrap(),
            Block::Member {
                name: "2565.dat".into(),
                size: 25
            }
        );
        assert!(looks_like_tar(&h));
        assert!(header(&"x".repeat(100), 0, 0).is_err());
    }

    #[test]
    fn sizes_beyond_octal_use_base_256() {
        let big = 1u64 << 36; // 64 GiB does not fit 11 octal digits
        let h = header("1.dat", big, 0).unwrap();
        assert_eq!(h[OFF_SIZE], 0x80);
        assert_eq!(get_number(&h[OFF_SIZE..OFF_SIZE + 12]), Some(big));
        assert_eq!(
            parse_header(&h, 0).unwrap(),
            Block::Member {
                name: "1.dat".into(),
                size: big
            }
        );
        let mut f = [0u8; 12];
        put_number(&mut f, (1 << 33) - 1);
        assert_eq!(&f, b"77777777777 ");
        assert_eq!(padding(0), 0);
        assert_eq!(padding(1), 511);
        assert_eq!(padding(512), 0);
    }

    #[test]
    fn damaged_headers_are_refused() {
        let h = header("toc.dat", 10, 0).unwrap();
        let mut bad = h;
        bad[0] = b'T';
        assert!(
            parse_header(&bad, 0)
                .unwrap_err()
                .to_string()
                .contains("corrupt tar header")
        );
        let mut bad = h;
        bad[OFF_MAGIC] = b'X';
        let sum = checksum(&bad);
        put_number(&mut bad[OFF_CHECKSUM..OFF_CHECKSUM + 8], sum);
        assert!(parse_header(&bad, 0).unwrap_err().to_string().contains("ustar"));
        assert_eq!(parse_header(&[0u8; BLOCK], 0).unwrap(), Block::Zero);
        assert!(!looks_like_tar(b"PGDMP"));
    }

    fn write(file: Box<dyn ArchiveFile>, order: &[i32]) -> Result<()> {
        let base = tempfile::tempdir().unwrap();
        let mut w: Box<dyn ArchiveWriter> = Box::new(TarWriter::with_file(
            file,
            SpoolDir::create(Some(&base.path().join("x"))).unwrap(),
            1_700_000_000,
        ));
        w.start(archive_header(Compression::None), entries())?;
        let sinks = w.sinks()?;
        for &id in order {
            let mut s = sinks.open(id)?;
            if id == 12 {
                for (oid, bytes) in objects() {
                    s.start_object(oid)?;
                    for piece in bytes.chunks(100_000) {
                        s.write(piece.to_vec())?;
                    }
                    s.end_object()?;
                }
            } else {
                for block in rows(30_000 + id as usize, id as usize).chunks(200_003) {
                    s.write(block.to_vec())?;
                }
            }
            s.finish()?;
        }
        drop(sinks);
        w.finish()?;
        Ok(())
    }

    type Members = (TarReader<Cursor<Vec<u8>>>, HashMap<String, Vec<u8>>);

    fn members_of(bytes: &[u8]) -> Members {
        let mut r = TarReader::new(Cursor::new(bytes.to_vec())).unwrap();
        let mut all = HashMap::new();
        for m in r.members().to_vec() {
            let mut v = Vec::new();
            r.copy_member(&m, u64::MAX, &mut |b| {
                v.extend_from_slice(b);
                Ok(())
            })
            .unwrap();
            all.insert(m.name.clone(), v);
        }
        (r, all)
    }

    #[test]
    fn writes_pg_dump_layout_streamed_or_spooled() {
        for patchable in [true, false] {
            let mem = MemFile {
                patchable,
                ..MemFile::default()
            };
            write(Box::new(mem.clone()), &[13, 10, 12, 11]).unwrap();
            let bytes = mem.bytes.lock().unwrap().clone();
            assert_eq!(bytes.len() % BLOCK, 0);
            assert!(bytes[bytes.len() - 2 * BLOCK..].iter().all(|&b| b == 0));
            let (r, all) = members_of(&bytes);
            let names: Vec<&str> = r.members().iter().map(|m| m.name.as_str()).collect();
            assert_eq!(
                names,
                [
                    "toc.dat",
                    "10.dat",
                    "11.dat",
                    "blob_16444.dat",
                    "blob_16445.dat",
                    "blob_3000000000.dat",
                    "blobs.toc",
                    "13.dat"
                ]
            );
            let mut h = archive_header(Compression::None);
            h.format = ArchiveFormat::Tar;
            assert_eq!(r.header(), &h);
            let mut want = entries();
            for e in &mut want {
                if e.had_dumper {
                    e.filename = format!("{}.dat", e.dump_id);
                }
            }
            assert_eq!(r.entries(), &want[..]);
            for id in [10, 11, 13] {
                assert_eq!(all[&format!("{id}.dat")], rows(30_000 + id as usize, id as usize));
            }
            for (oid, data) in objects() {
                assert_eq!(all[&format!("blob_{oid}.dat")], data);
            }
            assert_eq!(
                all["blobs.toc"],
                b"16444 blob_16444.dat\n16445 blob_16445.dat\n3000000000 blob_3000000000.dat\n"
            );
        }
    }

    #[test]
    fn blobs_toc_name_follows_the_version() {
        assert_eq!(blobs_toc_name(ArchiveVersion::V1_15, 7), "blobs.toc");
        assert_eq!(blobs_toc_name(ArchiveVersion::V1_16, 7), "blobs_7.toc");
    }

    #[test]
    fn a_failed_stream_lacks_its_last_member() {
        let mem = MemFile::default();
        let base = tempfile::tempdir().unwrap();
        let mut w: Box<dyn ArchiveWriter> = Box::new(TarWriter::with_file(
            Box::new(mem.clone()),
            SpoolDir::create(Some(&base.path().join("x"))).unwrap(),
            0,
        ));
        w.start(archive_header(Compression::None), entries()).unwrap();
        let sinks = w.sinks().unwrap();
        for id in [10, 11, 12, 13] {
            let mut s = sinks.open(id).unwrap();
            if id != 12 {
                s.write(rows(10, 1)).unwrap();
            }
            s.finish().unwrap();
        }
        drop(sinks);
        drop(w); // the dump fails after all data was written
        let bytes = mem.bytes.lock().unwrap().clone();
        let r = TarReader::new(Cursor::new(bytes)).unwrap();
        let names: Vec<&str> = r.members().iter().map(|m| m.name.as_str()).collect();
        assert!(!names.contains(&"13.dat"), "{names:?}");
        assert!(names.contains(&"11.dat"));
    }

    #[test]
    fn a_toc_without_data_waits_for_finish() {
        let mem = MemFile::default();
        let base = tempfile::tempdir().unwrap();
        let mut w: Box<dyn ArchiveWriter> = Box::new(TarWriter::with_file(
            Box::new(mem.clone()),
            SpoolDir::create(Some(&base.path().join("x"))).unwrap(),
            0,
        ));
        let schema_only: Vec<TocEntry> = entries().into_iter().filter(|e| !e.had_dumper).collect();
        w.start(archive_header(Compression::None), schema_only.clone()).unwrap();
        assert!(mem.bytes.lock().unwrap().is_empty());
        w.finish().unwrap();
        let r = TarReader::new(Cursor::new(mem.bytes.lock().unwrap().clone())).unwrap();
        assert_eq!(r.entries(), &schema_only[..]);
        assert_eq!(r.members().len(), 1);
    }

    #[test]
    fn compression_is_refused() {
        let e = TarWriter::create(
            None,
            WriterOptions {
                compression: Compression::Gzip { level: 6 },
                sync: false,
                layers: Vec::new(),
                script: Default::default(),
                remote: None,
            },
        )
        .err()
        .unwrap();
        assert_eq!(e.kind(), ErrorKind::Usage);
        assert!(
            e.to_string()
                .contains("compression is not supported by tar archive format")
        );
    }

    #[test]
    fn damaged_archives_never_panic() {
        let mem = MemFile::default();
        let base = tempfile::tempdir().unwrap();
        let mut w: Box<dyn ArchiveWriter> = Box::new(TarWriter::with_file(
            Box::new(mem.clone()),
            SpoolDir::create(Some(&base.path().join("x"))).unwrap(),
            0,
        ));
        w.start(archive_header(Compression::None), entries()).unwrap();
        let sinks = w.sinks().unwrap();
        for id in [10, 11, 12, 13] {
            let mut s = sinks.open(id).unwrap();
            if id == 12 {
                s.start_object(5).unwrap();
                s.write(b"abc".to_vec()).unwrap();
                s.end_object().unwrap();
            } else {
                s.write(rows(5, 1)).unwrap();
            }
            s.finish().unwrap();
        }
        drop(sinks);
        w.finish().unwrap();
        let good = mem.bytes.lock().unwrap().clone();
        assert!(TarReader::new(Cursor::new(good.clone())).is_ok());
        for cut in (0..good.len()).step_by(7) {
            let r = TarReader::new(Cursor::new(good[..cut].to_vec()));
            // Cuts inside a header or a member's blocks are errors; a cut at a block boundary
            // is a shorter archive that pg_restore reads as far as it goes.
            if cut % BLOCK != 0 {
                assert!(r.is_err(), "cut at {cut} read back");
            }
            let _ = read_toc_stream(&mut &good[..cut]);
        }
        let mut x: u64 = 0x1234_5678;
        for _ in 0..3000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut bad = good.clone();
            let at = (x as usize) % bad.len();
            bad[at] ^= 1 << ((x >> 32) % 8);
            let _ = TarReader::new(Cursor::new(bad.clone()));
            let _ = read_toc_stream(&mut &bad[..]);
        }
    }

    #[test]
    fn stream_toc_matches_file_toc() {
        let mem = MemFile::default();
        write(Box::new(mem.clone()), &[10, 11, 12, 13]).unwrap();
        let bytes = mem.bytes.lock().unwrap().clone();
        let (h, e) = read_toc_stream(&mut &bytes[..]).unwrap();
        let r = TarReader::new(Cursor::new(bytes)).unwrap();
        assert_eq!((&h, &e[..]), (r.header(), r.entries()));
    }
}
