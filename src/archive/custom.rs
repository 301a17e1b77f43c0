//! The custom archive format (`pg_dump -Fc`, archive-format.md §6): one file holding the
//! header (format byte 1), the TOC with a data offset per entry, then one data block per
//! data-bearing entry, in TOC order (pg_backup_custom.c).
//!
//! Writing ([`CustomWriter`]): header and TOC go out first with every data offset "not set"
//! (flag 1); blocks follow in TOC order through an [`OrderedOutput`] (tables dumped before
//! their turn are spooled); when the output can be rewritten in place, the TOC is written
//! again with flag 2 and the real block positions — same length, offsets are fixed width —
//! as pg_dump's `_CloseArchive` does. To a pipe the offsets stay unset, which pg_restore
//! handles by scanning forward (§6.4), and the last five bytes (the final end-of-data marker)
//! are held back until the dump succeeded, so a failed dump never looks complete.
//!
//! Compression inside a block must suit pg_restore's reader (§7.4): gzip is ONE zlib stream
//! per table/large object, stitched from pieces deflated in parallel; zstd pieces are
//! complete frames, each ending exactly at the end of a chunk; lz4 frames; none.
//!
//! Reading ([`CustomReader`], [`read_toc`]): the TOC from a file or a stream, and each entry's
//! data with every length checked against the file and the decompressed size bounded.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::ordered::{Framing, OrderedOutput, UnitWriter};
use super::output::{ArchiveFile, HoldBack, open_archive_output};
use super::spool::SpoolDir;
use super::toc::{
    ArchiveFormat, Header, Place, TocEntry, TocReader, decode_count, decode_entry_body, decode_header,
    encode_entry_body, encode_header, put_int, put_len,
};
use super::writer::{ArchiveWriter, BLOBS, DataSink, DataSinks, EncodedSink, Finished, WriterOptions, check_entries};
use crate::codec::{self, Compression, ParallelEncoder, Piece, PieceCodec, PieceSink, ZlibStream};
use crate::error::{Error, ErrorKind, Result};

/// Block type of table data (`BLK_DATA`).
pub const BLK_DATA: u8 = 1;
/// Block type of a group of large objects (`BLK_BLOBS`).
pub const BLK_BLOBS: u8 = 3;

/// Largest chunk written: the length is a signed 32-bit int.
const MAX_CHUNK: usize = 1 << 30;

/// An entry's data position in the TOC (`WriteOffset` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataPos {
    /// Flag 1: the entry has data; its position was not recorded.
    NotSet,
    /// Flag 2: the block starts at this file position.
    At(u64),
    /// Flag 3: no data.
    NoData,
}

/// Appends an offset: flag byte, then eight bytes of position, least significant first.
pub(crate) fn put_offset(out: &mut Vec<u8>, pos: DataPos) {
    let (flag, at) = match pos {
        DataPos::NotSet => (1u8, 0u64),
        DataPos::At(p) => (2, p),
        DataPos::NoData => (3, 0),
    };
    out.push(flag);
    out.extend_from_slice(&at.to_le_bytes());
}

/// Encodes header (format byte 1) and TOC, each entry ending with its data position.
pub fn encode_custom_toc(header: &Header, entries: &[TocEntry], pos: impl Fn(&TocEntry) -> DataPos) -> Vec<u8> {
    let mut h = header.clone();
    h.format = ArchiveFormat::Custom;
    let mut out = Vec::with_capacity(128 + entries.len() * 200);
    encode_header(&h, &mut out);
    put_len(&mut out, entries.len());
    for e in entries {
        encode_entry_body(h.version, e, &mut out);
        put_offset(&mut out, if e.had_dumper { pos(e) } else { DataPos::NoData });
    }
    out
}

/// A chunk: its length as an int, then the bytes. `bytes` must be non-empty and fit an i32.
fn put_chunk(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Block header: type byte and the entry's dump id (`_StartData`/`_StartLOs`).
fn block_header(kind: u8, dump_id: i32) -> Vec<u8> {
    let mut v = vec![kind];
    put_int(&mut v, dump_id);
    v
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Writes a custom archive; see the module documentation.
pub struct CustomWriter {
    path: Option<PathBuf>,
    opts: WriterOptions,
    file: Option<Box<dyn ArchiveFile>>,
    spool: Option<Arc<SpoolDir>>,
    started: Option<Started>,
}

struct Started {
    header: Header,
    entries: Vec<TocEntry>,
    toc_len: usize,
    ordered: Arc<OrderedOutput>,
    sinks: Arc<CustomSinks>,
}

impl CustomWriter {
    /// Opens the output: `path` (written atomically) or standard output.
    pub fn create(path: Option<&Path>, opts: WriterOptions) -> Result<CustomWriter> {
        let (mut file, _name) = open_archive_output(path, &opts)?;
        if !file.is_atomic() {
            // The end-of-data int of the last block (or the end of the TOC): never written
            // unless the dump succeeds.
            file = Box::new(HoldBack::new(file, 5));
        }
        let spool = Arc::new(SpoolDir::create_for(path, &opts.layers)?);
        Ok(CustomWriter {
            path: path.map(Path::to_path_buf),
            opts,
            file: Some(file),
            spool: Some(spool),
            started: None,
        })
    }
}

impl ArchiveWriter for CustomWriter {
    fn start(&mut self, mut header: Header, entries: Vec<TocEntry>) -> Result<()> {
        check_entries(&entries)?;
        if self.started.is_some() {
            return Err(Error::internal("custom archive started twice"));
        }
        let (Some(mut file), Some(spool)) = (self.file.take(), self.spool.take()) else {
            return Err(Error::internal("custom archive output is gone"));
        };
        header.format = ArchiveFormat::Custom;
        let toc = encode_custom_toc(&header, &entries, |_| DataPos::NotSet);
        file.write_all(&toc)?;
        let data: Vec<&TocEntry> = entries.iter().filter(|e| e.had_dumper).collect();
        let ids: Vec<i32> = data.iter().map(|e| e.dump_id).collect();
        let framing = BlockFraming(
            data.iter()
                .map(|e| (if e.desc == BLOBS { BLK_BLOBS } else { BLK_DATA }, e.dump_id))
                .collect(),
        );
        let ordered = OrderedOutput::new(file, &ids, Box::new(framing), spool, true, false)?;
        let sinks = Arc::new(CustomSinks {
            ordered: ordered.clone(),
            compression: self.opts.compression,
            blobs: data.iter().filter(|e| e.desc == BLOBS).map(|e| e.dump_id).collect(),
            open: Mutex::new(HashSet::new()),
        });
        self.started = Some(Started {
            header,
            toc_len: toc.len(),
            entries,
            ordered,
            sinks,
        });
        Ok(())
    }

    fn sinks(&self) -> Result<Arc<dyn DataSinks>> {
        match &self.started {
            Some(s) => Ok(s.sinks.clone()),
            None => Err(Error::internal("custom archive: sinks before start")),
        }
    }

    fn finish(mut self: Box<Self>) -> Result<Finished> {
        let Some(s) = self.started.take() else {
            return Err(Error::internal("custom archive finished before start"));
        };
        let mut file = s.ordered.finish()?;
        if file.can_patch() {
            let starts = s.ordered.starts();
            let pos_of: HashMap<i32, u64> = s
                .entries
                .iter()
                .filter(|e| e.had_dumper)
                .zip(starts)
                .filter_map(|(e, p)| p.map(|p| (e.dump_id, p)))
                .collect();
            let toc = encode_custom_toc(&s.header, &s.entries, |e| {
                pos_of.get(&e.dump_id).map_or(DataPos::NotSet, |&p| DataPos::At(p))
            });
            if toc.len() != s.toc_len {
                return Err(Error::internal(
                    "custom archive TOC changed length when offsets were filled in",
                ));
            }
            file.patch(0, &toc)?;
        }
        file.commit()?;
        Ok(Finished {
            path: self.path.clone(),
        })
    }
}

/// Frames each unit with its block header; the sink writes the rest of the block.
struct BlockFraming(Vec<(u8, i32)>);

impl Framing for BlockFraming {
    fn before(&self, idx: usize, _size: Option<u64>) -> Result<Vec<u8>> {
        let (kind, id) = self.0[idx];
        Ok(block_header(kind, id))
    }
    fn after(&self, _: usize, _: u64, _: u64, _: &mut dyn ArchiveFile) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }
}

struct CustomSinks {
    ordered: Arc<OrderedOutput>,
    compression: Compression,
    blobs: HashSet<i32>,
    open: Mutex<HashSet<i32>>,
}

impl DataSinks for CustomSinks {
    fn open(&self, dump_id: i32) -> Result<Box<dyn DataSink>> {
        {
            let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            if !open.insert(dump_id) {
                return Err(Error::internal(format!("data of dump id {dump_id} opened twice")));
            }
        }
        let unit = self.ordered.open(dump_id)?;
        let codec = match self.compression {
            Compression::Gzip { level } => PieceCodec::Deflate { level },
            c => PieceCodec::Member(c),
        };
        let sink = BlockWriter {
            unit: Some(unit),
            compression: self.compression,
            blobs: self.blobs.contains(&dump_id),
            stream: None,
            in_object: false,
            written: 0,
            buf: Vec::new(),
        };
        Ok(Box::new(EncodedSink(ParallelEncoder::new(
            codec,
            format!("data of dump id {dump_id}"),
            sink,
        )?)))
    }
}

/// The body of one data block: chunks of one compressed stream (table data), or per large
/// object its OID, its stream's chunks and an end marker; then the end marker of the block.
struct BlockWriter {
    unit: Option<UnitWriter>,
    compression: Compression,
    blobs: bool,
    /// The current stream, once its first bytes are written.
    stream: Option<StreamState>,
    in_object: bool,
    written: u64,
    buf: Vec<u8>,
}

enum StreamState {
    Zlib(ZlibStream),
    /// A stream of frames/raw chunks; whether any chunk was written.
    Plain {
        any: bool,
    },
}

impl BlockWriter {
    fn emit(&mut self) -> Result<()> {
        let Some(unit) = self.unit.as_mut() else {
            return Err(Error::internal("data block already ended"));
        };
        unit.write(&self.buf)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    fn chunks(&mut self, data: &[u8]) {
        for c in data.chunks(MAX_CHUNK) {
            put_chunk(&mut self.buf, c);
        }
    }

    fn begin_stream(&mut self) -> StreamState {
        match self.compression {
            Compression::Gzip { level } => StreamState::Zlib(ZlibStream::new(level)),
            _ => StreamState::Plain { any: false },
        }
    }

    /// Ends the current stream: the zlib trailer (with the header too when no piece came);
    /// for an empty zstd/lz4 stream one empty frame (pg_dump writes a frame per stream);
    /// then the end-of-data int.
    fn end_stream(&mut self) -> Result<()> {
        let (state, fresh) = match self.stream.take() {
            Some(s) => (s, false),
            None => (self.begin_stream(), true),
        };
        match state {
            StreamState::Zlib(z) => {
                let mut tail = Vec::with_capacity(8);
                if fresh {
                    tail.extend_from_slice(&z.header());
                }
                tail.extend_from_slice(&z.trailer());
                self.chunks(&tail);
            }
            StreamState::Plain { any: false } if self.compression != Compression::None => {
                let empty = codec::compress_member(self.compression, b"")
                    .map_err(|e| Error::io("compressing an empty stream", e))?;
                self.chunks(&empty);
            }
            StreamState::Plain { .. } => {}
        }
        put_int(&mut self.buf, 0);
        self.emit()
    }
}

impl PieceSink for BlockWriter {
    fn piece(&mut self, piece: Piece) -> Result<()> {
        if self.blobs && !self.in_object {
            return Err(Error::internal("large object data outside an object"));
        }
        let state = match self.stream.take() {
            Some(s) => s,
            None => {
                let s = self.begin_stream();
                if let StreamState::Zlib(z) = &s {
                    // The header travels with the first piece.
                    let mut first = Vec::with_capacity(piece.data.len() + 2);
                    first.extend_from_slice(&z.header());
                    first.extend_from_slice(&piece.data);
                    let mut z = z.clone();
                    z.add(piece.adler, piece.input_len);
                    self.chunks(&first);
                    self.stream = Some(StreamState::Zlib(z));
                    return self.emit();
                }
                s
            }
        };
        let state = match state {
            StreamState::Zlib(mut z) => {
                z.add(piece.adler, piece.input_len);
                if !piece.data.is_empty() {
                    self.chunks(&piece.data);
                }
                StreamState::Zlib(z)
            }
            StreamState::Plain { any } => {
                // An empty raw piece would be a zero-length chunk, the end marker.
                if !piece.data.is_empty() {
                    // One frame per chunk (or several chunks): frames end at chunk ends.
                    self.chunks(&piece.data);
                }
                StreamState::Plain {
                    any: any || !piece.data.is_empty(),
                }
            }
        };
        self.stream = Some(state);
        self.emit()
    }

    fn start_object(&mut self, oid: u32) -> Result<()> {
        if !self.blobs {
            return Err(Error::internal(format!(
                "large object {oid} sent to a table data block"
            )));
        }
        if self.in_object {
            return Err(Error::internal("large object started inside another"));
        }
        self.in_object = true;
        self.stream = None;
        // OIDs are unsigned; WriteInt stores them through a C int, so large ones come out
        // with the sign byte set and read back to the same OID.
        put_int(&mut self.buf, oid as i32);
        self.emit()
    }

    fn end_object(&mut self) -> Result<()> {
        if !self.in_object {
            return Err(Error::internal("end of a large object that was not started"));
        }
        self.in_object = false;
        self.end_stream()
    }

    fn finish(&mut self) -> Result<u64> {
        if self.blobs {
            if self.in_object {
                return Err(Error::internal("BLOBS data ended inside a large object"));
            }
            // OID 0 ends the group.
            put_int(&mut self.buf, 0);
            self.emit()?;
        } else {
            self.end_stream()?;
        }
        let Some(unit) = self.unit.take() else {
            return Err(Error::internal("data block already ended"));
        };
        unit.finish()?;
        Ok(self.written)
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

/// Header, entries and data positions of a custom archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomToc {
    pub header: Header,
    pub entries: Vec<TocEntry>,
    /// Data position of each entry, parallel to `entries`.
    pub positions: Vec<DataPos>,
    /// Where the TOC ends and the data area begins.
    pub toc_len: u64,
    /// intSize of the archive.
    pub int_size: usize,
}

/// Decodes header and TOC from the start of `buf`. On error, the second value is the buffer
/// length a truncated read needed (the caller may read more and retry).
fn decode_toc_prefix(buf: &[u8]) -> (Result<CustomToc>, Option<usize>) {
    let mut r = TocReader::new(buf);
    let res = decode_custom(&mut r);
    let needed = if res.is_err() { r.needed() } else { None };
    (res, needed)
}

fn decode_custom(r: &mut TocReader<'_>) -> Result<CustomToc> {
    let header = decode_header(r, ArchiveFormat::Custom)?;
    let count = decode_count(r)?;
    let (int_size, off_size) = r.sizes();
    let mut entries = Vec::with_capacity(count.min(4096));
    let mut positions = Vec::with_capacity(count.min(4096));
    for index in 0..count {
        let e = decode_entry_body(r, header.version, index)?;
        let at = Place::Entry {
            index,
            dump_id: Some(e.dump_id),
        };
        let flag = r.byte("data offset flag", at)?;
        let raw = r.take(off_size, "data offset", at)?;
        let mut pos: u64 = 0;
        for (i, &b) in raw.iter().enumerate() {
            if i >= 8 {
                if b != 0 {
                    return Err(Error::archive(format!("file offset in dump file is too large ({at})")));
                }
            } else {
                pos |= u64::from(b) << (8 * i);
            }
        }
        let p = match flag {
            1 => DataPos::NotSet,
            2 => DataPos::At(pos),
            3 => DataPos::NoData,
            other => {
                return Err(Error::archive(format!("unexpected data offset flag {other} in {at}")));
            }
        };
        entries.push(e);
        positions.push(p);
    }
    r.check_encoding(&entries)?;
    Ok(CustomToc {
        header,
        entries,
        positions,
        toc_len: r.position() as u64,
        int_size,
    })
}

/// Reads header and TOC from a stream positioned at the archive's start, reading no more
/// than needed (plus read-ahead) and never beyond `limit` bytes (the file's size when known).
/// Memory grows with the bytes actually received, never with what a length field claims: a
/// damaged or hostile stream (standard input has no size to check against) that announces a
/// 1 GiB string and then stops costs what it sent, not 1 GiB. Returns the TOC and the bytes
/// read past it.
pub fn read_toc(src: &mut dyn Read, limit: Option<u64>) -> Result<(CustomToc, Vec<u8>)> {
    /// Without a known size, a TOC larger than this is treated as damage.
    const STREAM_LIMIT: u64 = 1 << 30;
    /// The buffer grows at most this much ahead of the bytes received.
    const GROW_STEP: usize = 1 << 20;
    let limit = limit.unwrap_or(STREAM_LIMIT);
    let mut buf: Vec<u8> = Vec::new();
    let mut want: usize = 64 * 1024;
    let mut eof = false;
    loop {
        let target = (want as u64).min(limit) as usize;
        while buf.len() < target && !eof {
            let old = buf.len();
            buf.resize(target.min(old + GROW_STEP), 0);
            let n = read_some(src, &mut buf[old..])?;
            buf.truncate(old + n);
            eof = n == 0;
        }
        let (res, needed) = decode_toc_prefix(&buf);
        match (res, needed) {
            (Ok(toc), _) => {
                let rest = buf.split_off(toc.toc_len as usize);
                return Ok((toc, rest));
            }
            // Truncated so far: read what the failing field needs (at least double).
            (Err(_), Some(n)) if !eof && (buf.len() as u64) < limit && (n as u64) <= limit => {
                want = n.max(buf.len().saturating_mul(2));
            }
            (Err(e), _) => return Err(e),
        }
    }
}

fn read_some(src: &mut dyn Read, buf: &mut [u8]) -> Result<usize> {
    loop {
        match src.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("could not read from input file", e)),
        }
    }
}

/// One event while reading an entry's data.
#[derive(Debug, PartialEq, Eq)]
pub enum DataEvent<'a> {
    /// A large object starts (BLOBS entries).
    Object(u32),
    /// Decompressed bytes of the table or of the current large object.
    Bytes(&'a [u8]),
    /// The current large object ended.
    EndObject,
}

/// A custom archive opened for reading from a seekable source (a regular file, or bytes in
/// memory): the TOC, checked against the source's size, and each entry's data.
pub struct CustomReader<R> {
    src: R,
    len: u64,
    toc: CustomToc,
    /// Blocks whose position the TOC does not record, found by walking the data area.
    found: std::collections::HashMap<i32, u64>,
    /// Every block before this position is in `found` (or has its position in the TOC):
    /// the next walk starts here, so reading every entry of an archive without offsets
    /// (written to a stream) walks the data area once, not once per entry.
    scan_from: u64,
}

impl<R: Read + Seek + Send> CustomReader<R> {
    pub fn new(mut src: R) -> Result<Self> {
        let len = src
            .seek(SeekFrom::End(0))
            .map_err(|e| Error::io("could not determine the archive's size", e))?;
        src.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io("could not seek in the archive", e))?;
        let (toc, _) = read_toc(&mut src, Some(len))?;
        for (e, p) in toc.entries.iter().zip(&toc.positions) {
            if let DataPos::At(at) = *p
                && (at < toc.toc_len || at >= len)
            {
                return Err(Error::archive(format!(
                    "data offset {at} of {} lies outside the data area ({}..{len}) -- possibly corrupt archive",
                    e.label(),
                    toc.toc_len
                )));
            }
        }
        let scan_from = toc.toc_len;
        Ok(CustomReader {
            src,
            len,
            toc,
            found: std::collections::HashMap::new(),
            scan_from,
        })
    }

    pub fn toc(&self) -> &CustomToc {
        &self.toc
    }

    /// Reads entry `dump_id`'s data, calling `visit` with decompressed bytes (at most
    /// `limit` in total, to bound what a damaged or hostile archive can expand to).
    pub fn read_data(
        &mut self,
        dump_id: i32,
        limit: u64,
        visit: &mut dyn FnMut(DataEvent<'_>) -> Result<()>,
    ) -> Result<()> {
        let Some(i) = self.toc.entries.iter().position(|e| e.dump_id == dump_id) else {
            return Err(Error::archive(format!("no TOC entry with dump id {dump_id}")));
        };
        let label = self.toc.entries[i].label();
        let start = match self.toc.positions[i] {
            DataPos::NoData => {
                return Err(Error::archive(format!("{label} has no data in this archive")));
            }
            DataPos::At(p) => p,
            DataPos::NotSet => match self.found.get(&dump_id) {
                Some(&p) => p,
                None => self.scan_for(dump_id, &label)?,
            },
        };
        self.src
            .seek(SeekFrom::Start(start))
            .map_err(|e| Error::io("could not seek in the archive", e))?;
        let mut blocks = Blocks {
            src: &mut self.src,
            pos: start,
            len: self.len,
            int_size: self.toc.int_size,
        };
        let kind = blocks.byte()?;
        let id = blocks.int()?;
        if id != dump_id {
            return Err(Error::archive(format!(
                "found unexpected block ID ({id}) when reading data -- expected {dump_id}"
            )));
        }
        let algorithm = self.toc.header.compression.algorithm_byte();
        let mut budget = limit;
        let read = match kind {
            BLK_DATA => read_stream(&mut blocks, algorithm, &mut budget, &label, visit),
            BLK_BLOBS => loop {
                let oid = blocks.int()? as u32;
                if oid == 0 {
                    return Ok(());
                }
                visit(DataEvent::Object(oid))?;
                read_stream(
                    &mut blocks,
                    algorithm,
                    &mut budget,
                    &format!("large object {oid}"),
                    visit,
                )?;
                visit(DataEvent::EndObject)?;
            },
            other => Err(Error::archive(format!(
                "unrecognized data block type {other} while restoring archive"
            ))),
        };
        // Read to its end: the next walk may start after it.
        if read.is_ok() && start == self.scan_from {
            self.scan_from = blocks.pos;
        }
        read
    }

    /// Finds a block whose position the TOC does not record, by walking the blocks from the
    /// end of the TOC (pg_restore's `_skipData`/`_skipLOs`).
    fn scan_for(&mut self, dump_id: i32, label: &str) -> Result<u64> {
        let mut pos = self.scan_from;
        self.src
            .seek(SeekFrom::Start(pos))
            .map_err(|e| Error::io("could not seek in the archive", e))?;
        let mut blocks = Blocks {
            src: &mut self.src,
            pos,
            len: self.len,
            int_size: self.toc.int_size,
        };
        loop {
            if blocks.pos >= blocks.len {
                return Err(Error::archive(format!(
                    "could not find block ID {dump_id} in archive ({label}) -- possibly corrupt archive"
                )));
            }
            pos = blocks.pos;
            let kind = blocks.byte()?;
            let id = blocks.int()?;
            self.found.entry(id).or_insert(pos);
            if id == dump_id {
                self.scan_from = pos;
                return Ok(pos);
            }
            match kind {
                BLK_DATA => blocks.skip_chunks()?,
                BLK_BLOBS => {
                    while blocks.int()? != 0 {
                        blocks.skip_chunks()?;
                    }
                }
                other => {
                    return Err(Error::archive(format!(
                        "unrecognized data block type {other} at offset {pos}"
                    )));
                }
            }
            self.scan_from = blocks.pos;
        }
    }
}

/// Sequential access to the data area with every length checked against the file.
struct Blocks<'a, R> {
    src: &'a mut R,
    pos: u64,
    len: u64,
    int_size: usize,
}

impl<R: Read + Seek> Blocks<'_, R> {
    fn exact(&mut self, buf: &mut [u8]) -> Result<()> {
        if self.pos + buf.len() as u64 > self.len {
            return Err(Error::archive(format!(
                "could not read from input file: end of file (needed {} bytes at offset {}, the archive has {})",
                buf.len(),
                self.pos,
                self.len
            )));
        }
        self.src
            .read_exact(buf)
            .map_err(|e| Error::io("could not read from input file", e))?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn byte(&mut self) -> Result<u8> {
        let mut b = [0u8; 1];
        self.exact(&mut b)?;
        Ok(b[0])
    }

    /// `ReadInt` with the archive's intSize; must fit an i32.
    fn int(&mut self) -> Result<i32> {
        let at = self.pos;
        let mut raw = [0u8; 33];
        let n = 1 + self.int_size;
        self.exact(&mut raw[..n])?;
        let mut mag: u64 = 0;
        for (i, &b) in raw[1..n].iter().enumerate() {
            if i >= 4 {
                if b != 0 {
                    return Err(Error::archive(format!("integer at offset {at} does not fit 32 bits")));
                }
            } else {
                mag |= u64::from(b) << (8 * i);
            }
        }
        let v = if raw[0] == 0 { mag as i64 } else { -(mag as i64) };
        i32::try_from(v).map_err(|_| Error::archive(format!("integer at offset {at} does not fit 32 bits")))
    }

    /// Length of the next chunk; 0 ends the stream.
    fn chunk_len(&mut self) -> Result<u64> {
        let at = self.pos;
        let n = self.int()?;
        if n < 0 {
            return Err(Error::archive(format!("negative data chunk length {n} at offset {at}")));
        }
        let n = n as u64;
        if self.pos + n > self.len {
            return Err(Error::archive(format!(
                "data chunk of {n} bytes at offset {at} runs past the end of the archive ({} bytes)",
                self.len
            )));
        }
        Ok(n)
    }

    fn skip_chunks(&mut self) -> Result<()> {
        loop {
            let n = self.chunk_len()?;
            if n == 0 {
                return Ok(());
            }
            self.src
                .seek(SeekFrom::Current(n as i64))
                .map_err(|e| Error::io("could not seek in the archive", e))?;
            self.pos += n;
        }
    }
}

/// The payload of consecutive chunks of one stream, as a reader; stops at the end marker.
struct ChunkStream<'b, 'a, R> {
    blocks: &'b mut Blocks<'a, R>,
    left: u64,
    ended: bool,
}

impl<R: Read + Seek + Send> Read for ChunkStream<'_, '_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.left == 0 {
            if self.ended {
                return Ok(0);
            }
            self.left = self.blocks.chunk_len().map_err(io::Error::other)?;
            if self.left == 0 {
                self.ended = true;
            }
        }
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        self.blocks.exact(&mut buf[..want]).map_err(io::Error::other)?;
        self.left -= want as u64;
        Ok(want)
    }
}

fn read_stream<R: Read + Seek + Send>(
    blocks: &mut Blocks<'_, R>,
    algorithm: u8,
    budget: &mut u64,
    what: &str,
    visit: &mut dyn FnMut(DataEvent<'_>) -> Result<()>,
) -> Result<()> {
    let mut chunks = ChunkStream {
        blocks,
        left: 0,
        ended: false,
    };
    let damaged = |e: io::Error| Error::archive(format!("could not decompress data of {what}: {e}"));
    let mut buf = vec![0u8; 64 * 1024];
    let mut pump = |r: &mut dyn Read, budget: &mut u64| -> Result<()> {
        loop {
            let n = r.read(&mut buf).map_err(damaged)?;
            if n == 0 {
                return Ok(());
            }
            if n as u64 > *budget {
                return Err(Error::new(
                    ErrorKind::Archive,
                    format!("data of {what} expands beyond the allowed size"),
                ));
            }
            *budget -= n as u64;
            visit(DataEvent::Bytes(&buf[..n]))?;
        }
    };
    match algorithm {
        0 => pump(&mut chunks, budget)?,
        1 => {
            // One zlib stream; nothing may follow it (pg_restore would hang on it, §7.4).
            let mut probe = [0u8; 1];
            let mut peek = io::BufReader::new(&mut chunks);
            if io::BufRead::fill_buf(&mut peek).map_err(damaged)?.is_empty() {
                return Ok(());
            }
            let mut z = flate2::bufread::ZlibDecoder::new(peek);
            pump(&mut z, budget)?;
            let mut rest = z.into_inner();
            if rest.read(&mut probe).map_err(damaged)? != 0 {
                return Err(Error::archive(format!(
                    "data of {what} continues after the end of its zlib stream (pg_restore cannot read such a block)"
                )));
            }
        }
        2 | 3 => {
            let suffix = if algorithm == 2 { ".lz4" } else { ".zst" };
            let mut d = codec::decoder_for_suffix(suffix, &mut chunks)?;
            pump(&mut d, budget)?;
        }
        other => {
            return Err(Error::archive(format!("invalid compression algorithm code {other}")));
        }
    }
    // Whatever the decoder left unread up to the end marker.
    let mut rest = [0u8; 4096];
    while chunks.read(&mut rest).map_err(damaged)? != 0 {}
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Cursor;

    use super::super::output::tests::MemFile;
    use super::super::toc::{ArchiveVersion, CreateTime, HeaderCompression};
    use super::*;

    pub(crate) fn header(c: Compression) -> Header {
        let version = ArchiveVersion::lowest_for(c);
        Header {
            version,
            format: ArchiveFormat::Tar,
            compression: HeaderCompression::for_archive(version, c).unwrap(),
            created: CreateTime {
                sec: 1,
                min: 2,
                hour: 3,
                mday: 4,
                mon: 5,
                year: 125,
                isdst: 0,
            },
            dbname: "tiny".into(),
            server_version: "18.6".into(),
            dump_version: "pgsnap test".into(),
        }
    }

    pub(crate) fn entries() -> Vec<TocEntry> {
        let table = |id: i32, name: &str| TocEntry {
            dump_id: id,
            tableoid: "1259".into(),
            oid: format!("{}", 16000 + id),
            tag: name.into(),
            desc: "TABLE".into(),
            section: 2,
            defn: Some(format!("CREATE TABLE public.{name} (id integer, v text);\n")),
            drop_stmt: Some(format!("DROP TABLE public.{name};\n")),
            namespace: Some("public".into()),
            tablespace: Some(String::new()),
            tableam: Some("heap".into()),
            owner: Some("postgres".into()),
            ..TocEntry::default()
        };
        let data = |id: i32, table: i32, name: &str| TocEntry {
            dump_id: id,
            had_dumper: true,
            tableoid: "0".into(),
            oid: format!("{}", 16000 + table),
            tag: name.into(),
            desc: "TABLE DATA".into(),
            section: 3,
            copy_stmt: Some(format!("COPY public.{name} (id, v) FROM stdin;\n")),
            namespace: Some("public".into()),
            owner: Some("postgres".into()),
            deps: vec![table],
            ..TocEntry::default()
        };
        vec![
            table(1, "a"),
            table(2, "b"),
            table(3, "c"),
            data(10, 1, "a"),
            data(11, 2, "b"),
            TocEntry {
                dump_id: 12,
                had_dumper: true,
                tableoid: "0".into(),
                oid: "0".into(),
                tag: "BLOBS".into(),
                desc: "BLOBS".into(),
                section: 3,
                ..TocEntry::default()
            },
            data(13, 3, "c"),
        ]
    }

    pub(crate) fn rows(n: usize, seed: usize) -> Vec<u8> {
        let mut v = Vec::new();
        for i in 0..n {
            v.extend_from_slice(format!("{i}\tvalue {} of {seed} \\\\ x\n", i * 7919 % 1000).as_bytes());
        }
        v.extend_from_slice(b"\\.\n\n\n");
        v
    }

    pub(crate) fn objects() -> Vec<(u32, Vec<u8>)> {
        vec![
            (16444, b"hello large object".to_vec()),
            (16445, Vec::new()),
            (3_000_000_000, (0..300_000u32).map(|i| (i % 251) as u8).collect()),
        ]
    }

    /// Writes the test archive through the writer into `file`, data in the given order.
    fn write(c: Compression, file: Box<dyn ArchiveFile>, order: &[i32]) -> Result<()> {
        let spool = tempfile::tempdir().unwrap();
        let w = Box::new(CustomWriter {
            path: None,
            opts: WriterOptions {
                compression: c,
                sync: false,
                layers: Vec::new(),
                script: Default::default(),
                remote: None,
            },
            file: Some(file),
            spool: Some(Arc::new(SpoolDir::create(Some(&spool.path().join("x"))).unwrap())),
            started: None,
        });
        let mut w: Box<dyn ArchiveWriter> = w;
        w.start(header(c), entries())?;
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
                let data = rows(40_000 + id as usize, id as usize);
                for block in data.chunks(300_007) {
                    s.write(block.to_vec())?;
                }
            }
            s.finish()?;
        }
        drop(sinks);
        w.finish()?;
        Ok(())
    }

    /// TOC, table data by dump id, large objects in order.
    type ReadBack = (CustomToc, HashMap<i32, Vec<u8>>, Vec<(u32, Vec<u8>)>);

    fn read_all(bytes: &[u8]) -> Result<ReadBack> {
        let mut r = CustomReader::new(Cursor::new(bytes))?;
        let toc = r.toc().clone();
        let mut tables = HashMap::new();
        let mut objs = Vec::new();
        for e in toc.entries.iter().filter(|e| e.had_dumper) {
            let mut buf = Vec::new();
            let mut cur: Option<(u32, Vec<u8>)> = None;
            r.read_data(e.dump_id, 1 << 30, &mut |ev| {
                match ev {
                    DataEvent::Object(oid) => cur = Some((oid, Vec::new())),
                    DataEvent::Bytes(b) => match cur.as_mut() {
                        Some((_, v)) => v.extend_from_slice(b),
                        None => buf.extend_from_slice(b),
                    },
                    DataEvent::EndObject => objs.extend(cur.take()),
                }
                Ok(())
            })?;
            if e.desc != "BLOBS" {
                tables.insert(e.dump_id, buf);
            }
        }
        Ok((toc, tables, objs))
    }

    fn all_codecs() -> [Compression; 4] {
        [
            Compression::None,
            Compression::Gzip { level: 6 },
            Compression::Lz4 { level: 1 },
            Compression::Zstd { level: 3, long: false },
        ]
    }

    #[test]
    fn every_codec_round_trips_with_and_without_offsets() {
        for c in all_codecs() {
            for patchable in [true, false] {
                let mem = MemFile {
                    patchable,
                    ..MemFile::default()
                };
                // Data produced out of TOC order.
                write(c, Box::new(mem.clone()), &[13, 12, 10, 11]).unwrap();
                assert!(*mem.committed.lock().unwrap());
                let bytes = mem.bytes.lock().unwrap().clone();
                let (toc, tables, objs) = read_all(&bytes).unwrap();
                assert_eq!(toc.header.format, ArchiveFormat::Custom);
                let mut h = header(c);
                h.format = ArchiveFormat::Custom;
                assert_eq!(toc.header, h);
                assert_eq!(toc.entries, entries());
                for id in [10, 11, 13] {
                    assert_eq!(tables[&id], rows(40_000 + id as usize, id as usize), "{c} entry {id}");
                }
                assert_eq!(objs, objects(), "{c}");
                // Blocks are in TOC order whatever the order they were produced in.
                let data_pos: Vec<DataPos> = toc
                    .entries
                    .iter()
                    .zip(&toc.positions)
                    .filter(|(e, _)| e.had_dumper)
                    .map(|(_, p)| *p)
                    .collect();
                if patchable {
                    let at: Vec<u64> = data_pos
                        .iter()
                        .map(|p| match p {
                            DataPos::At(a) => *a,
                            other => panic!("{c}: {other:?}"),
                        })
                        .collect();
                    assert_eq!(at[0], toc.toc_len, "first block right after the TOC");
                    assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
                    assert_eq!(bytes[at[0] as usize], BLK_DATA);
                    assert_eq!(bytes[at[2] as usize], BLK_BLOBS);
                } else {
                    assert!(data_pos.iter().all(|p| *p == DataPos::NotSet));
                }
                // Entries without data say so.
                assert_eq!(toc.positions[0], DataPos::NoData);
            }
        }
    }

    /// Walks the blocks of an archive, returning per block its type, id, and chunk payloads
    /// (per object for BLOBS).
    /// Block type, dump id, and per stream its chunks.
    type Layout = Vec<(u8, i32, Vec<Vec<Vec<u8>>>)>;

    fn layout(bytes: &[u8]) -> Layout {
        let (toc, _) = read_toc(&mut &bytes[..], Some(bytes.len() as u64)).unwrap();
        let mut src = Cursor::new(bytes);
        src.set_position(toc.toc_len);
        let mut b = Blocks {
            src: &mut src,
            pos: toc.toc_len,
            len: bytes.len() as u64,
            int_size: 4,
        };
        let mut out = Vec::new();
        let chunks = |b: &mut Blocks<'_, Cursor<&[u8]>>| {
            let mut v = Vec::new();
            loop {
                let n = b.chunk_len().unwrap();
                if n == 0 {
                    return v;
                }
                let mut c = vec![0u8; n as usize];
                b.exact(&mut c).unwrap();
                v.push(c);
            }
        };
        while b.pos < b.len {
            let kind = b.byte().unwrap();
            let id = b.int().unwrap();
            let mut streams = Vec::new();
            if kind == BLK_DATA {
                streams.push(chunks(&mut b));
            } else {
                while b.int().unwrap() != 0 {
                    streams.push(chunks(&mut b));
                }
            }
            out.push((kind, id, streams));
        }
        out
    }

    #[test]
    fn block_layout_follows_pg_restore_rules() {
        for c in all_codecs() {
            let mem = MemFile::default();
            write(c, Box::new(mem.clone()), &[10, 11, 12, 13]).unwrap();
            let bytes = mem.bytes.lock().unwrap().clone();
            let blocks = layout(&bytes);
            assert_eq!(
                blocks.iter().map(|b| (b.0, b.1)).collect::<Vec<_>>(),
                vec![(1, 10), (1, 11), (3, 12), (1, 13)],
                "{c}"
            );
            for (_, id, streams) in &blocks {
                for chunks in streams {
                    match c {
                        Compression::Gzip { .. } => {
                            // One zlib stream: header at the start of the first chunk, the
                            // stream ends in the last chunk and nowhere before.
                            let all: Vec<u8> = chunks.concat();
                            assert_eq!(&all[..2], &[0x78, 0x9c], "entry {id}");
                            let mut z = flate2::Decompress::new(true);
                            let mut out = Vec::with_capacity(4 << 20);
                            let mut fed = 0;
                            for (k, ch) in chunks.iter().enumerate() {
                                let before = z.total_in();
                                let st = z.decompress_vec(ch, &mut out, flate2::FlushDecompress::None).unwrap();
                                fed += ch.len();
                                assert_eq!(z.total_in() - before, ch.len() as u64, "chunk {k} fully consumed");
                                assert_eq!(
                                    st == flate2::Status::StreamEnd,
                                    k + 1 == chunks.len(),
                                    "entry {id}: stream ends only in the last chunk"
                                );
                            }
                            assert_eq!(z.total_in(), fed as u64);
                        }
                        Compression::Zstd { .. } => {
                            // Every frame ends exactly at the end of a chunk: each chunk is
                            // a whole number of frames, one frame here.
                            for ch in chunks {
                                assert_eq!(&ch[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
                                let size = zstd::zstd_safe::find_frame_compressed_size(ch).unwrap();
                                assert_eq!(size, ch.len(), "entry {id}: a frame per chunk");
                            }
                        }
                        Compression::Lz4 { .. } => {
                            for ch in chunks {
                                assert_eq!(&ch[..4], &[0x04, 0x22, 0x4d, 0x18]);
                            }
                        }
                        Compression::None => assert!(chunks.iter().all(|c| !c.is_empty())),
                    }
                }
            }
        }
    }

    #[test]
    fn offsets_rewrite_keeps_the_toc_length() {
        let h = header(Compression::Gzip { level: 6 });
        let e = entries();
        let unset = encode_custom_toc(&h, &e, |_| DataPos::NotSet);
        let set = encode_custom_toc(&h, &e, |x| DataPos::At(1 << 40 | x.dump_id as u64));
        assert_eq!(unset.len(), set.len());
        assert_eq!(unset[10], 1, "format byte 1");
        let (toc, rest) = read_toc(&mut &set[..], None).unwrap();
        assert!(rest.is_empty());
        assert_eq!(toc.positions[3], DataPos::At(1 << 40 | 10));
        assert_eq!(toc.positions[0], DataPos::NoData);
        // The offset bytes: flag then little-endian position.
        let mut v = Vec::new();
        put_offset(&mut v, DataPos::At(0x754));
        assert_eq!(v, [2, 0x54, 0x07, 0, 0, 0, 0, 0, 0]);
        v.clear();
        put_offset(&mut v, DataPos::NoData);
        assert_eq!(v, [3, 0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn matches_the_pg_dump_18_example_block() {
        // archive-format.md §9.3: the uncompressed data block of dump id 2565.
        let mut buf = Vec::new();
        let mut b = BlockWriter {
            unit: None,
            compression: Compression::None,
            blobs: false,
            stream: None,
            in_object: false,
            written: 0,
            buf: Vec::new(),
        };
        for row in [&b"1\talpha\n"[..], b"2\tbeta\n", b"3\t\\N\n", b"\\.\n\n\n"] {
            b.chunks(row);
        }
        put_int(&mut b.buf, 0);
        buf.extend_from_slice(&block_header(BLK_DATA, 2565));
        buf.extend_from_slice(&b.buf);
        let expect: Vec<u8> = [
            "01 00 05 0a 00 00 00 08 00 00 00 31 09 61 6c 70 68 61 0a 00 07 00 00 00 32 09 62 65 74 61 0a 00",
            "05 00 00 00 33 09 5c 4e 0a 00 05 00 00 00 5c 2e 0a 0a 0a 00 00 00 00 00",
        ]
        .join(" ")
        .split_whitespace()
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect();
        assert_eq!(buf, expect);
    }

    #[test]
    fn a_failed_stream_never_ends_complete() {
        for c in all_codecs() {
            let mem = MemFile::default();
            let spool = tempfile::tempdir().unwrap();
            let file: Box<dyn ArchiveFile> = Box::new(HoldBack::new(Box::new(mem.clone()), 5));
            let mut w: Box<dyn ArchiveWriter> = Box::new(CustomWriter {
                path: None,
                opts: WriterOptions {
                    compression: c,
                    sync: false,
                    layers: Vec::new(),
                    script: Default::default(),
                    remote: None,
                },
                file: Some(file),
                spool: Some(Arc::new(SpoolDir::create(Some(&spool.path().join("x"))).unwrap())),
                started: None,
            });
            w.start(header(c), entries()).unwrap();
            let sinks = w.sinks().unwrap();
            for id in [10, 11, 12, 13] {
                let mut s = sinks.open(id).unwrap();
                if id != 12 {
                    s.write(rows(1000, 1)).unwrap();
                }
                s.finish().unwrap();
            }
            // Everything written, but the dump fails before finish (e.g. COMMIT failed).
            drop(sinks);
            drop(w);
            let bytes = mem.bytes.lock().unwrap().clone();
            let err = read_all(&bytes).expect_err("a truncated archive must not read back");
            assert_eq!(err.kind(), ErrorKind::Archive, "{c}: {err}");
            assert!(!*mem.committed.lock().unwrap());
        }
    }

    #[test]
    fn empty_tables_and_objects() {
        for c in all_codecs() {
            let mem = MemFile::default();
            let spool = tempfile::tempdir().unwrap();
            let mut w: Box<dyn ArchiveWriter> = Box::new(CustomWriter {
                path: None,
                opts: WriterOptions {
                    compression: c,
                    sync: false,
                    layers: Vec::new(),
                    script: Default::default(),
                    remote: None,
                },
                file: Some(Box::new(mem.clone())),
                spool: Some(Arc::new(SpoolDir::create(Some(&spool.path().join("x"))).unwrap())),
                started: None,
            });
            w.start(header(c), entries()).unwrap();
            let sinks = w.sinks().unwrap();
            for id in [10, 11, 12, 13] {
                let mut s = sinks.open(id).unwrap();
                if id == 12 {
                    s.start_object(7).unwrap();
                    s.end_object().unwrap();
                }
                s.finish().unwrap();
            }
            drop(sinks);
            w.finish().unwrap();
            let bytes = mem.bytes.lock().unwrap().clone();
            let (_, tables, objs) = read_all(&bytes).unwrap();
            assert!(tables.values().all(|t| t.is_empty()), "{c}");
            assert_eq!(objs, vec![(7, Vec::new())], "{c}");
        }
    }

    #[test]
    fn misuse_is_refused() {
        let mem = MemFile::default();
        let spool = tempfile::tempdir().unwrap();
        let mut w: Box<dyn ArchiveWriter> = Box::new(CustomWriter {
            path: None,
            opts: WriterOptions {
                compression: Compression::None,
                sync: false,
                layers: Vec::new(),
                script: Default::default(),
                remote: None,
            },
            file: Some(Box::new(mem.clone())),
            spool: Some(Arc::new(SpoolDir::create(Some(&spool.path().join("x"))).unwrap())),
            started: None,
        });
        assert!(w.sinks().is_err());
        let mut dup = entries();
        dup[1].dump_id = 1;
        assert!(w.start(header(Compression::None), dup).is_err());
        let mut w: Box<dyn ArchiveWriter> = Box::new(CustomWriter {
            path: None,
            opts: WriterOptions {
                compression: Compression::None,
                sync: false,
                layers: Vec::new(),
                script: Default::default(),
                remote: None,
            },
            file: Some(Box::new(mem)),
            spool: Some(Arc::new(SpoolDir::create(Some(&spool.path().join("x"))).unwrap())),
            started: None,
        });
        w.start(header(Compression::None), entries()).unwrap();
        let sinks = w.sinks().unwrap();
        assert!(sinks.open(1).is_err(), "no data");
        let mut t = sinks.open(10).unwrap();
        assert!(sinks.open(10).is_err(), "twice");
        let _ = t.start_object(5);
        assert!(t.finish().is_err(), "objects in table data");
        let mut b = sinks.open(12).unwrap();
        let _ = b.write(b"outside".to_vec());
        assert!(b.finish().is_err(), "bytes outside an object");
        drop(sinks);
        assert!(w.finish().is_err(), "incomplete data");
    }

    fn small_archive(c: Compression, patchable: bool) -> Vec<u8> {
        let mem = MemFile {
            patchable,
            ..MemFile::default()
        };
        let spool = tempfile::tempdir().unwrap();
        let mut w: Box<dyn ArchiveWriter> = Box::new(CustomWriter {
            path: None,
            opts: WriterOptions {
                compression: c,
                sync: false,
                layers: Vec::new(),
                script: Default::default(),
                remote: None,
            },
            file: Some(Box::new(mem.clone())),
            spool: Some(Arc::new(SpoolDir::create(Some(&spool.path().join("x"))).unwrap())),
            started: None,
        });
        w.start(header(c), entries()).unwrap();
        let sinks = w.sinks().unwrap();
        for id in [10, 11, 12, 13] {
            let mut s = sinks.open(id).unwrap();
            if id == 12 {
                s.start_object(99).unwrap();
                s.write(b"lo bytes".to_vec()).unwrap();
                s.end_object().unwrap();
            } else {
                s.write(rows(20, id as usize)).unwrap();
            }
            s.finish().unwrap();
        }
        drop(sinks);
        w.finish().unwrap();
        mem.bytes.lock().unwrap().clone()
    }

    #[test]
    fn damaged_archives_never_panic() {
        for (c, patchable) in [
            (Compression::None, true),
            (Compression::Gzip { level: 6 }, false),
            (Compression::Zstd { level: 3, long: false }, true),
            (Compression::Lz4 { level: 1 }, false),
        ] {
            let good = small_archive(c, patchable);
            assert!(read_all(&good).is_ok());
            // Every truncation is an error (the last bytes are the end marker).
            for cut in 0..good.len() {
                assert!(read_all(&good[..cut]).is_err(), "{c}: cut at {cut} read back");
            }
            // Flipped bytes: any result but a panic.
            let mut x: u64 = 0x9e37_79b9;
            for _ in 0..800 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let mut bad = good.clone();
                let at = (x as usize) % bad.len();
                bad[at] ^= 1 << ((x >> 32) % 8);
                let _ = read_all(&bad);
                let _ = read_toc(&mut &bad[..], None);
            }
        }
    }

    #[test]
    fn read_toc_from_a_stream_reads_little() {
        let good = small_archive(Compression::Gzip { level: 6 }, false);
        // A reader returning one byte at a time still works.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() || buf.is_empty() {
                    return Ok(0);
                }
                buf[0] = self.0[0];
                self.0 = &self.0[1..];
                Ok(1)
            }
        }
        let (toc, rest) = read_toc(&mut Trickle(&good), None).unwrap();
        assert_eq!(toc.entries, entries());
        assert_eq!(
            &good[toc.toc_len as usize..toc.toc_len as usize + rest.len()],
            &rest[..]
        );
        // A length field claiming more than the file holds is damage, reported as such.
        let mut bad = good.clone();
        // dbname length at offset 0x33 (1.14 header: 51 bytes fixed part).
        bad[0x34..0x38].copy_from_slice(&[0xff, 0xff, 0xff, 0x3f]);
        let err = read_toc(&mut &bad[..], Some(bad.len() as u64)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Archive);
        assert!(err.to_string().contains("truncated"), "{err}");
    }

    #[test]
    fn decompression_is_bounded() {
        let good = small_archive(Compression::Gzip { level: 6 }, true);
        let mut r = CustomReader::new(Cursor::new(&good[..])).unwrap();
        let err = r.read_data(10, 100, &mut |_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("expands beyond"), "{err}");
    }
}
