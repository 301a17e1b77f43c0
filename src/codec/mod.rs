//! Byte transforms for archive data files: none, gzip (RFC 1952 gzip file format), lz4 (frame
//! format) and zstd (frame format). Pure: streams in, streams out; nothing here opens files.
//!
//! Two ways to compress: [`Encoder`] wraps a writer for one continuous stream, and
//! [`compress_member`] turns one piece of input into a complete, independently decodable gzip
//! member / lz4 frame / zstd frame, so pieces compressed in parallel can be concatenated into
//! one data file (archive-format.md §7.3: every pg_restore 14–18 reads such files).
//! [`decoder_for_suffix`] reads such concatenations back and reports truncation where the
//! format can detect it. [`stitch`] builds one zlib stream from pieces deflated in parallel
//! (the custom format's gzip), and [`parallel`] runs the per-piece compression on the rayon
//! pool while delivering pieces in order.

mod gzip;
mod lz4;
pub mod parallel;
pub mod stitch;
mod zstd;

pub use parallel::{ParallelEncoder, Piece, PieceCodec, PieceSink};
pub use stitch::{ZlibStream, adler32_combine, deflate_piece};

use std::fmt;
use std::io::{self, Read, Write};

use crate::error::{Error, ErrorKind, Result};

/// A compression method and its settings, as chosen with `-Z/--compress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    /// gzip at zlib level 1..=9.
    Gzip {
        level: u32,
    },
    /// lz4 frames; level 1..=12 is accepted for pg_dump compatibility (see [`Encoder`]).
    Lz4 {
        level: u32,
    },
    /// zstd at level 1..=22; `long` enables long-distance matching.
    Zstd {
        level: i32,
        long: bool,
    },
}

/// Level used for a bare `gzip` (what pg_dump's "default" -1 means to zlib).
pub const GZIP_DEFAULT_LEVEL: u32 = 6;
/// Level used for a bare `lz4`.
pub const LZ4_DEFAULT_LEVEL: u32 = 1;
/// Level used for a bare `zstd`.
pub const ZSTD_DEFAULT_LEVEL: i32 = 3;

const GZIP_LEVELS: (i64, i64) = (1, 9);
const LZ4_LEVELS: (i64, i64) = (1, 12);
const ZSTD_LEVELS: (i64, i64) = (1, 22);

impl Default for Compression {
    /// pg_dump's default for the directory format: gzip at the default level.
    fn default() -> Self {
        Compression::Gzip {
            level: GZIP_DEFAULT_LEVEL,
        }
    }
}

impl Compression {
    /// Parses pg_dump 16–18's `-Z/--compress` value: a bare level `0`..`9` (0 = none, else
    /// gzip), or `method[:detail]` where detail is a level or a comma-separated list of
    /// `level=N` and `long[=bool]` (zstd only). Mirrors `parse_compress_specification` and
    /// `validate_compress_specification` (src/common/compression.c).
    pub fn parse(spec: &str) -> Result<Compression> {
        parse_spec(spec).map_err(|msg| Error::usage(format!("invalid compression specification \"{spec}\": {msg}")))
    }

    /// The method's name as pg_dump spells it.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip { .. } => "gzip",
            Compression::Lz4 { .. } => "lz4",
            Compression::Zstd { .. } => "zstd",
        }
    }

    /// Suffix of directory-format data files: `""`, `.gz`, `.lz4` or `.zst`.
    pub fn file_suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip { .. } => ".gz",
            Compression::Lz4 { .. } => ".lz4",
            Compression::Zstd { .. } => ".zst",
        }
    }

    /// The header's compression algorithm byte for archive 1.15+ (0 none, 1 gzip, 2 lz4, 3 zstd).
    pub fn algorithm_byte(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip { .. } => 1,
            Compression::Lz4 { .. } => 2,
            Compression::Zstd { .. } => 3,
        }
    }

    /// The header's zlib level int for archive 1.14: 0 for none, the level for gzip. lz4 and
    /// zstd cannot be described by a 1.14 header; they give `None`.
    pub fn zlib_level_int(self) -> Option<i32> {
        match self {
            Compression::None => Some(0),
            // `parse` keeps levels in 1..=9; the clamp only guards hand-built values.
            Compression::Gzip { level } => Some(level.min(9) as i32),
            Compression::Lz4 { .. } | Compression::Zstd { .. } => None,
        }
    }

    /// Lowest archive minor version (1.x) whose readers accept this method: 14 for none and
    /// gzip, 15 for lz4 and zstd (pg_restore 16+).
    pub fn min_archive_minor(self) -> u8 {
        match self {
            Compression::None | Compression::Gzip { .. } => 14,
            Compression::Lz4 { .. } | Compression::Zstd { .. } => 15,
        }
    }

    /// The method whose data files end in `suffix` (`""`, `.gz`, `.lz4`, `.zst`), at its
    /// default settings.
    pub fn from_suffix(suffix: &str) -> Option<Compression> {
        match suffix {
            "" => Some(Compression::None),
            ".gz" => Some(Compression::Gzip {
                level: GZIP_DEFAULT_LEVEL,
            }),
            ".lz4" => Some(Compression::Lz4 {
                level: LZ4_DEFAULT_LEVEL,
            }),
            ".zst" => Some(Compression::Zstd {
                level: ZSTD_DEFAULT_LEVEL,
                long: false,
            }),
            _ => None,
        }
    }
}

impl fmt::Display for Compression {
    /// A spec [`Compression::parse`] accepts back, e.g. `zstd:level=3,long`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Compression::None => f.write_str("none"),
            Compression::Gzip { level } => write!(f, "gzip:level={level}"),
            Compression::Lz4 { level } => write!(f, "lz4:level={level}"),
            Compression::Zstd { level, long } => {
                write!(f, "zstd:level={level}")?;
                if long { f.write_str(",long") } else { Ok(()) }
            }
        }
    }
}

fn parse_spec(spec: &str) -> std::result::Result<Compression, String> {
    // pg_dump keeps accepting a bare level from the pre-16 syntax (parse_compress_options).
    if !spec.is_empty() && spec.bytes().all(|b| b.is_ascii_digit()) {
        let level = parse_level(spec)?;
        if level == 0 {
            return Ok(Compression::None);
        }
        return finish_spec("gzip", Some(level), false);
    }
    let (method, detail) = match spec.split_once(':') {
        Some((m, d)) => (m, Some(d)),
        None => (spec, None),
    };
    if !matches!(method, "none" | "gzip" | "lz4" | "zstd") {
        return Err(format!(
            "unrecognized compression algorithm \"{method}\" (expected none, gzip, lz4 or zstd)"
        ));
    }
    let mut level = None;
    let mut long = false;
    match detail {
        None => {}
        Some("") => return Err("found empty string where a compression option was expected".to_string()),
        Some(d) if is_integer(d) => level = Some(parse_level(d)?),
        Some(d) => {
            for item in d.split(',') {
                let (key, value) = match item.split_once('=') {
                    Some((k, v)) => (k, Some(v)),
                    None => (item, None),
                };
                match key {
                    "" => return Err("found empty string where a compression option was expected".to_string()),
                    "level" => match value {
                        Some(v) if is_integer(v) => level = Some(parse_level(v)?),
                        Some(v) => {
                            return Err(format!(
                                "value for compression option \"level\" must be an integer, not \"{v}\""
                            ));
                        }
                        None => return Err("compression option \"level\" requires a value".to_string()),
                    },
                    "long" => long = parse_bool(value)?,
                    "workers" => return Err("compression option \"workers\" is not supported by pg_dump".to_string()),
                    other => return Err(format!("unrecognized compression option \"{other}\"")),
                }
            }
        }
    }
    finish_spec(method, level, long)
}

/// Applies defaults and range checks (`validate_compress_specification`).
fn finish_spec(method: &str, level: Option<i64>, long: bool) -> std::result::Result<Compression, String> {
    if long && method != "zstd" {
        return Err(format!(
            "compression algorithm \"{method}\" does not support long-distance mode"
        ));
    }
    let check = |(lo, hi): (i64, i64), default: i64| -> std::result::Result<i64, String> {
        let l = level.unwrap_or(default);
        if (lo..=hi).contains(&l) {
            Ok(l)
        } else {
            Err(format!(
                "compression algorithm \"{method}\" expects a compression level between {lo} and {hi} (default {default})"
            ))
        }
    };
    // The ranges above fit u32/i32, so the casts after `check` are lossless.
    match method {
        "none" => match level {
            Some(_) => Err("compression algorithm \"none\" does not accept a compression level".to_string()),
            None => Ok(Compression::None),
        },
        "gzip" => Ok(Compression::Gzip {
            level: check(GZIP_LEVELS, i64::from(GZIP_DEFAULT_LEVEL))? as u32,
        }),
        "lz4" => Ok(Compression::Lz4 {
            level: check(LZ4_LEVELS, i64::from(LZ4_DEFAULT_LEVEL))? as u32,
        }),
        _ => Ok(Compression::Zstd {
            level: check(ZSTD_LEVELS, i64::from(ZSTD_DEFAULT_LEVEL))? as i32,
            long,
        }),
    }
}

fn is_integer(s: &str) -> bool {
    let digits = s.strip_prefix('-').or_else(|| s.strip_prefix('+')).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn parse_level(s: &str) -> std::result::Result<i64, String> {
    s.parse::<i64>()
        .map_err(|_| format!("compression level \"{s}\" is out of range"))
}

/// Boolean option values as `parse_bool` (src/common/compression.c) accepts them.
fn parse_bool(value: Option<&str>) -> std::result::Result<bool, String> {
    match value {
        None => Ok(true),
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "1" | "on" | "yes" | "true" => Ok(true),
            "0" | "off" | "no" | "false" => Ok(false),
            _ => Err(format!(
                "value for compression option \"long\" must be a Boolean value, not \"{v}\""
            )),
        },
    }
}

/// A streaming compressor producing one gzip file / lz4 frame / zstd frame (or passing bytes
/// through for [`Compression::None`]). Call [`Encoder::finish`] to write the trailer; dropping
/// an encoder without it leaves a truncated stream.
///
/// lz4 levels are accepted but not applied: lz4_flex has a single (fast) mode, and the level
/// is recorded nowhere in the archive.
pub struct Encoder<W: Write> {
    inner: EncoderInner<W>,
}

enum EncoderInner<W: Write> {
    None(W),
    Gzip(Box<flate2::write::GzEncoder<W>>),
    Lz4(Box<lz4_flex::frame::FrameEncoder<W>>),
    Zstd(Box<::zstd::stream::write::Encoder<'static, W>>),
}

impl<W: Write> Encoder<W> {
    /// Starts a stream compressed with `c`, written to `w`.
    pub fn new(c: Compression, w: W) -> Result<Self> {
        let inner = match c {
            Compression::None => EncoderInner::None(w),
            Compression::Gzip { level } => EncoderInner::Gzip(Box::new(gzip::encoder(level, w))),
            Compression::Lz4 { .. } => EncoderInner::Lz4(Box::new(lz4::encoder(w, None))),
            Compression::Zstd { level, long } => EncoderInner::Zstd(Box::new(
                zstd::encoder(level, long, w).map_err(|e| Error::io("starting zstd compression", e))?,
            )),
        };
        Ok(Encoder { inner })
    }

    /// The underlying writer (compressed bytes written so far may still be buffered).
    pub fn get_ref(&self) -> &W {
        match &self.inner {
            EncoderInner::None(w) => w,
            EncoderInner::Gzip(e) => e.get_ref(),
            EncoderInner::Lz4(e) => e.get_ref(),
            EncoderInner::Zstd(e) => e.get_ref(),
        }
    }

    /// The underlying writer, mutably (writing to it directly would corrupt the stream).
    pub fn get_mut(&mut self) -> &mut W {
        match &mut self.inner {
            EncoderInner::None(w) => w,
            EncoderInner::Gzip(e) => e.get_mut(),
            EncoderInner::Lz4(e) => e.get_mut(),
            EncoderInner::Zstd(e) => e.get_mut(),
        }
    }

    /// Ends the stream (gzip trailer, lz4 end mark and checksum, zstd epilogue), flushes, and
    /// returns the writer.
    pub fn finish(self) -> io::Result<W> {
        match self.inner {
            EncoderInner::None(mut w) => {
                w.flush()?;
                Ok(w)
            }
            EncoderInner::Gzip(e) => {
                let mut w = e.finish()?;
                w.flush()?;
                Ok(w)
            }
            EncoderInner::Lz4(e) => {
                let mut w = e.finish().map_err(io::Error::from)?;
                w.flush()?;
                Ok(w)
            }
            EncoderInner::Zstd(e) => {
                let mut w = e.finish()?;
                w.flush()?;
                Ok(w)
            }
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.inner {
            EncoderInner::None(w) => w.write(buf),
            EncoderInner::Gzip(e) => e.write(buf),
            EncoderInner::Lz4(e) => e.write(buf),
            EncoderInner::Zstd(e) => e.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.inner {
            EncoderInner::None(w) => w.write_all(buf),
            EncoderInner::Gzip(e) => e.write_all(buf),
            EncoderInner::Lz4(e) => e.write_all(buf),
            EncoderInner::Zstd(e) => e.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            EncoderInner::None(w) => w.flush(),
            EncoderInner::Gzip(e) => e.flush(),
            EncoderInner::Lz4(e) => e.flush(),
            EncoderInner::Zstd(e) => e.flush(),
        }
    }
}

impl<W: Write> fmt::Debug for Encoder<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.inner {
            EncoderInner::None(_) => "none",
            EncoderInner::Gzip(_) => "gzip",
            EncoderInner::Lz4(_) => "lz4",
            EncoderInner::Zstd(_) => "zstd",
        };
        f.debug_struct("Encoder").field("method", &kind).finish_non_exhaustive()
    }
}

/// Compresses `input` into one complete, independently decodable gzip member / lz4 frame /
/// zstd frame (the bytes unchanged for [`Compression::None`]). Members of consecutive pieces,
/// concatenated in order, decode to the concatenated pieces.
pub fn compress_member(c: Compression, input: &[u8]) -> io::Result<Vec<u8>> {
    match c {
        Compression::None => Ok(input.to_vec()),
        Compression::Gzip { level } => gzip::compress_member(level, input),
        Compression::Lz4 { .. } => lz4::compress_member(input),
        Compression::Zstd { level, long } => zstd::compress_member(level, long, input),
    }
}

/// A reader decoding a data file by its suffix (`""`, `.gz`, `.lz4`, `.zst`, as in
/// `InitDiscoverCompressFileHandle`, compress_io.c). Concatenated gzip members and lz4/zstd
/// frames are read as one stream. A stream cut inside a member or frame, a checksum mismatch
/// or trailing garbage is an `io::Error`; a cut exactly at a member/frame boundary cannot be
/// told from a shorter file by any of these formats.
pub fn decoder_for_suffix<'a>(suffix: &str, r: impl Read + Send + 'a) -> Result<Box<dyn Read + Send + 'a>> {
    Ok(match suffix {
        "" => Box::new(io::BufReader::new(r)),
        ".gz" => Box::new(EmptyOr::new(r, |b| Ok(gzip::decoder(b)))),
        ".lz4" => Box::new(lz4::decoder(io::BufReader::new(r))),
        ".zst" => Box::new(EmptyOr::new(r, zstd::decoder)),
        other => {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("no decoder for data file suffix \"{other}\" (expected \"\", \".gz\", \".lz4\" or \".zst\")"),
            ));
        }
    })
}

/// Builds a decoder only once the input turns out to be non-empty: pg_restore reads a 0-byte
/// data file as an empty table whatever its suffix, while flate2 and zstd call it truncated.
struct EmptyOr<R: Read, D> {
    state: LazyState<R, D>,
    make: fn(io::BufReader<R>) -> io::Result<D>,
}

enum LazyState<R: Read, D> {
    /// Nothing read yet; `None` only if building the decoder failed.
    Start(Option<io::BufReader<R>>),
    Decoding(D),
    Empty,
}

impl<R: Read, D: Read> EmptyOr<R, D> {
    fn new(r: R, make: fn(io::BufReader<R>) -> io::Result<D>) -> Self {
        EmptyOr {
            state: LazyState::Start(Some(io::BufReader::new(r))),
            make,
        }
    }
}

impl<R: Read, D: Read> Read for EmptyOr<R, D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match &mut self.state {
                LazyState::Start(src) => {
                    let Some(mut src) = src.take() else {
                        return Err(io::Error::other("decoder could not be started"));
                    };
                    self.state = if io::BufRead::fill_buf(&mut src)?.is_empty() {
                        LazyState::Empty
                    } else {
                        LazyState::Decoding((self.make)(src)?)
                    };
                }
                LazyState::Decoding(d) => return d.read(buf),
                LazyState::Empty => return Ok(0),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(s: &str) -> Compression {
        match Compression::parse(s) {
            Ok(c) => c,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    fn parse_err(s: &str) -> String {
        match Compression::parse(s) {
            Ok(c) => panic!("{s:?} should be refused, got {c:?}"),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Usage, "{s:?}: {e}");
                e.to_string()
            }
        }
    }

    #[test]
    fn bare_integers_are_gzip_levels() {
        assert_eq!(parse_ok("0"), Compression::None);
        assert_eq!(parse_ok("1"), Compression::Gzip { level: 1 });
        assert_eq!(parse_ok("9"), Compression::Gzip { level: 9 });
        assert!(parse_err("10").contains("between 1 and 9"));
        assert!(parse_err("99999999999999999999999").contains("out of range"));
    }

    #[test]
    fn method_names_and_defaults() {
        assert_eq!(parse_ok("none"), Compression::None);
        assert_eq!(parse_ok("gzip"), Compression::Gzip { level: 6 });
        assert_eq!(parse_ok("lz4"), Compression::Lz4 { level: 1 });
        assert_eq!(parse_ok("zstd"), Compression::Zstd { level: 3, long: false });
        assert_eq!(Compression::default(), Compression::Gzip { level: 6 });
    }

    #[test]
    fn levels_in_both_spellings() {
        assert_eq!(parse_ok("gzip:4"), Compression::Gzip { level: 4 });
        assert_eq!(parse_ok("gzip:level=9"), Compression::Gzip { level: 9 });
        assert_eq!(parse_ok("lz4:12"), Compression::Lz4 { level: 12 });
        assert_eq!(parse_ok("lz4:level=3"), Compression::Lz4 { level: 3 });
        assert_eq!(parse_ok("zstd:19"), Compression::Zstd { level: 19, long: false });
        assert_eq!(parse_ok("zstd:level=22"), Compression::Zstd { level: 22, long: false });
    }

    #[test]
    fn zstd_long_mode() {
        assert_eq!(parse_ok("zstd:long"), Compression::Zstd { level: 3, long: true });
        assert_eq!(
            parse_ok("zstd:level=7,long"),
            Compression::Zstd { level: 7, long: true }
        );
        assert_eq!(
            parse_ok("zstd:long,level=7"),
            Compression::Zstd { level: 7, long: true }
        );
        assert_eq!(parse_ok("zstd:long=on"), Compression::Zstd { level: 3, long: true });
        assert_eq!(parse_ok("zstd:long=false"), Compression::Zstd { level: 3, long: false });
        assert!(parse_err("zstd:long=maybe").contains("Boolean"));
        assert!(parse_err("gzip:long").contains("does not support long-distance mode"));
    }

    #[test]
    fn unknown_method_is_named() {
        let msg = parse_err("xyz");
        assert!(msg.contains("unrecognized compression algorithm \"xyz\""), "{msg}");
        assert!(parse_err("xyz:3").contains("\"xyz\""));
        assert!(parse_err("GZIP").contains("\"GZIP\""));
        assert!(parse_err("").contains("unrecognized compression algorithm"));
        assert!(parse_err("-1").contains("unrecognized compression algorithm"));
    }

    #[test]
    fn out_of_range_levels_name_the_range() {
        assert!(parse_err("gzip:0").contains("between 1 and 9"));
        assert!(parse_err("gzip:level=10").contains("between 1 and 9"));
        assert!(parse_err("lz4:13").contains("between 1 and 12"));
        assert!(parse_err("lz4:0").contains("between 1 and 12"));
        assert!(parse_err("zstd:23").contains("between 1 and 22"));
        assert!(parse_err("zstd:-5").contains("between 1 and 22"));
        assert!(parse_err("zstd:level=0").contains("between 1 and 22"));
    }

    #[test]
    fn none_takes_no_level() {
        assert!(parse_err("none:1").contains("does not accept a compression level"));
        assert!(parse_err("none:0").contains("does not accept a compression level"));
        assert!(parse_err("none:level=0").contains("does not accept a compression level"));
    }

    #[test]
    fn bad_details_are_refused() {
        assert!(parse_err("zstd:speed=3").contains("unrecognized compression option \"speed\""));
        assert!(parse_err("gzip:").contains("empty string"));
        assert!(parse_err("gzip:level=5,").contains("empty string"));
        assert!(parse_err("gzip:level").contains("requires a value"));
        assert!(parse_err("gzip:level=fast").contains("must be an integer"));
        assert!(parse_err("zstd:workers=4").contains("workers"));
    }

    #[test]
    fn display_parses_back() {
        for c in [
            Compression::None,
            Compression::Gzip { level: 2 },
            Compression::Lz4 { level: 5 },
            Compression::Zstd { level: 11, long: true },
            Compression::Zstd { level: 1, long: false },
        ] {
            assert_eq!(parse_ok(&c.to_string()), c);
        }
    }

    #[test]
    fn header_and_file_facts() {
        let none = Compression::None;
        let gz = Compression::Gzip { level: 5 };
        let lz = Compression::Lz4 { level: 1 };
        let zs = Compression::Zstd { level: 3, long: false };
        assert_eq!(
            [none, gz, lz, zs].map(Compression::file_suffix),
            ["", ".gz", ".lz4", ".zst"]
        );
        assert_eq!([none, gz, lz, zs].map(Compression::algorithm_byte), [0, 1, 2, 3]);
        assert_eq!(
            [none, gz, lz, zs].map(Compression::zlib_level_int),
            [Some(0), Some(5), None, None]
        );
        assert_eq!([none, gz, lz, zs].map(Compression::min_archive_minor), [14, 14, 15, 15]);
        for c in [none, gz, lz, zs] {
            assert_eq!(
                Compression::from_suffix(c.file_suffix()).map(Compression::algorithm_byte),
                Some(c.algorithm_byte())
            );
        }
        assert_eq!(Compression::from_suffix(".bz2"), None);
    }

    pub(super) fn all_methods() -> [Compression; 6] {
        [
            Compression::None,
            Compression::Gzip { level: 1 },
            Compression::Gzip { level: 9 },
            Compression::Lz4 { level: 1 },
            Compression::Zstd { level: 3, long: false },
            Compression::Zstd { level: 5, long: true },
        ]
    }

    /// Deterministic, somewhat compressible COPY-like text.
    pub(super) fn sample(len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 64);
        let mut i: u64 = 0;
        while out.len() < len {
            let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
            out.extend_from_slice(format!("{i}\tname-{x:x}\t{}\n", x % 977).as_bytes());
            i += 1;
        }
        out.truncate(len);
        out
    }

    pub(super) fn decode_all(suffix: &str, bytes: Vec<u8>) -> io::Result<Vec<u8>> {
        let mut r = decoder_for_suffix(suffix, io::Cursor::new(bytes)).map_err(io::Error::other)?;
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok(out)
    }

    fn stream(c: Compression, input: &[u8], write_size: usize) -> Vec<u8> {
        let mut enc = Encoder::new(c, Vec::new()).unwrap();
        for piece in input.chunks(write_size.max(1)) {
            enc.write_all(piece).unwrap();
        }
        enc.finish().unwrap()
    }

    #[test]
    fn encoder_round_trips_every_method() {
        for c in all_methods() {
            for len in [0, 1, 100, 70_000, 300_000] {
                let input = sample(len);
                let packed = stream(c, &input, 8191);
                assert_eq!(decode_all(c.file_suffix(), packed).unwrap(), input, "{c} len {len}");
            }
        }
    }

    #[test]
    fn compressed_output_is_smaller() {
        let input = sample(200_000);
        for c in all_methods().into_iter().skip(1) {
            let packed = compress_member(c, &input).unwrap();
            assert!(packed.len() < input.len() * 3 / 4, "{c}: {} bytes", packed.len());
        }
    }

    #[test]
    fn members_round_trip_including_empty() {
        for c in all_methods() {
            let empty = compress_member(c, b"").unwrap();
            assert_eq!(decode_all(c.file_suffix(), empty).unwrap(), b"", "{c}");
            let input = sample(5000);
            let one = compress_member(c, &input).unwrap();
            assert_eq!(decode_all(c.file_suffix(), one).unwrap(), input, "{c}");
        }
    }

    #[test]
    fn concatenated_members_decode_to_the_whole_input() {
        let input = sample(1_000_003);
        for c in all_methods() {
            let mut file = Vec::new();
            // Uneven piece sizes so boundaries fall inside rows, as the engine's do.
            for piece in input.chunks(65_537) {
                file.extend_from_slice(&compress_member(c, piece).unwrap());
            }
            // An empty member in the middle is harmless too.
            file.extend_from_slice(&compress_member(c, b"").unwrap());
            file.extend_from_slice(&compress_member(c, b"\\.\n\n\n").unwrap());
            let mut expect = input.clone();
            expect.extend_from_slice(b"\\.\n\n\n");
            assert_eq!(decode_all(c.file_suffix(), file).unwrap(), expect, "{c}");
        }
    }

    #[test]
    fn streamed_and_member_outputs_can_be_mixed() {
        for c in all_methods() {
            let mut file = stream(c, b"first\n", 3);
            file.extend_from_slice(&compress_member(c, b"second\n").unwrap());
            assert_eq!(decode_all(c.file_suffix(), file).unwrap(), b"first\nsecond\n", "{c}");
        }
    }

    #[test]
    fn empty_file_is_empty_stream() {
        // pg_restore treats a 0-byte data file, compressed or not, as an empty table.
        for suffix in ["", ".gz", ".lz4", ".zst"] {
            assert_eq!(decode_all(suffix, Vec::new()).unwrap(), b"", "{suffix:?}");
        }
    }

    #[test]
    fn truncation_inside_a_member_is_an_error() {
        let input = sample(200_000);
        for c in all_methods().into_iter().skip(1) {
            let mut file = compress_member(c, &input[..100_000]).unwrap();
            let first = file.len();
            file.extend_from_slice(&compress_member(c, &input[100_000..]).unwrap());
            for cut in [1, 4, 9, 17, first / 2, first - 1, first + 3, file.len() - 1] {
                let r = decode_all(c.file_suffix(), file[..cut].to_vec());
                assert!(r.is_err(), "{c}: cut at {cut} of {} decoded silently", file.len());
            }
            // A cut exactly at a member boundary is undetectable by design of these formats.
            assert_eq!(
                decode_all(c.file_suffix(), file[..first].to_vec()).unwrap(),
                &input[..100_000]
            );
        }
    }

    #[test]
    fn trailing_garbage_and_corruption_are_errors() {
        let input = sample(50_000);
        for c in all_methods().into_iter().skip(1) {
            let mut file = compress_member(c, &input).unwrap();
            file.extend_from_slice(b"garbage!garbage!");
            assert!(
                decode_all(c.file_suffix(), file).is_err(),
                "{c}: trailing garbage accepted"
            );

            let mut file = compress_member(c, &input).unwrap();
            let mid = file.len() / 2;
            file[mid] ^= 0x55;
            assert!(decode_all(c.file_suffix(), file).is_err(), "{c}: flipped byte accepted");
        }
    }

    #[test]
    fn unknown_suffix_is_unsupported() {
        match decoder_for_suffix(".bz2", io::empty()) {
            Err(e) => assert_eq!(e.kind(), ErrorKind::Unsupported),
            Ok(_) => panic!("accepted .bz2"),
        }
    }
}
