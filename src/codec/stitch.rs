//! One zlib stream (RFC 1950) assembled from pieces deflated independently and in parallel —
//! the technique pigz uses. The custom archive format needs it: its gzip data blocks must hold
//! exactly one zlib stream per table, because pg_restore stops consuming input after the first
//! stream ends and hangs (archive-format.md §7.4), so members concatenated the way the
//! directory format allows are not an option there.
//!
//! Each piece is raw deflate (no header) ended by a sync flush: its last block is an empty
//! stored block, so the piece ends on a byte boundary and carries no "final block" bit, and
//! the next piece can simply follow. The stream is: a two-byte zlib header, the pieces in
//! order, a final empty block, and the Adler-32 of the whole input, computed by combining the
//! pieces' checksums (zlib's `adler32_combine` arithmetic).

use std::cell::RefCell;
use std::io;

use flate2::{Compress, FlushCompress};

/// Adler-32's modulus.
const BASE: u64 = 65_521;

/// One independently deflated piece of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeflatePiece {
    /// Raw deflate data ending in a sync flush (never a final block).
    pub data: Vec<u8>,
    /// Adler-32 of the piece's input alone.
    pub adler: u32,
    /// Length of the piece's input.
    pub input_len: u64,
}

/// Deflates `input` at zlib `level` (1..=9) into a piece that a [`ZlibStream`] can splice.
pub fn deflate_piece(level: u32, input: &[u8]) -> io::Result<DeflatePiece> {
    thread_local! {
        /// One deflate state per pool thread and level: allocating zlib's window and hash
        /// tables for every 1 MiB piece would cost more than it should.
        static STATE: RefCell<Option<(u32, Compress)>> = const { RefCell::new(None) };
    }
    let level = level.clamp(1, 9);
    STATE.with(|cell| {
        let mut slot = cell.borrow_mut();
        match slot.as_mut() {
            Some((l, c)) if *l == level => c.reset(),
            _ => *slot = Some((level, Compress::new(flate2::Compression::new(level), false))),
        }
        let Some((_, c)) = slot.as_mut() else {
            return Err(io::Error::other("deflate state missing"));
        };
        let mut data = Vec::with_capacity(input.len() / 2 + 64);
        loop {
            let done = usize::try_from(c.total_in()).unwrap_or(usize::MAX).min(input.len());
            if data.capacity() - data.len() < 64 {
                data.reserve(data.capacity().max(4096));
            }
            c.compress_vec(&input[done..], &mut data, FlushCompress::Sync)
                .map_err(io::Error::other)?;
            // zlib's rule for a flush: it is complete once all input is taken and output
            // space was left over.
            if c.total_in() == input.len() as u64 && data.len() < data.capacity() {
                break;
            }
        }
        Ok(DeflatePiece {
            data,
            adler: libdeflater::adler32(input),
            input_len: input.len() as u64,
        })
    })
}

/// Adler-32 of `a ++ b` from the checksums of `a` and `b` and the length of `b`.
pub fn adler32_combine(adler_a: u32, adler_b: u32, len_b: u64) -> u32 {
    let a1 = u64::from(adler_a & 0xffff);
    let b1 = u64::from(adler_a >> 16);
    let a2 = u64::from(adler_b & 0xffff);
    let b2 = u64::from(adler_b >> 16);
    // Each byte of `b` is counted once more in the running sum for every byte of `a`
    // before it: sum_b gains len_b * (a1 - 1).
    let a = (a1 + a2 + BASE - 1) % BASE;
    let b = (b1 + b2 + (len_b % BASE) * ((a1 + BASE - 1) % BASE)) % BASE;
    ((b << 16) | a) as u32
}

/// The zlib header zlib itself writes for `level` (deflate, 32 KiB window, the level hint,
/// check bits so that the 16-bit value is a multiple of 31).
pub fn zlib_header(level: u32) -> [u8; 2] {
    let flevel: u16 = match level {
        0 | 1 => 0,
        2..=5 => 1,
        6 => 2,
        _ => 3,
    };
    let cmf: u16 = 0x78;
    let mut flg = flevel << 6;
    flg += 31 - ((cmf << 8) | flg) % 31;
    [cmf as u8, flg as u8]
}

/// Bookkeeping of one stitched stream: the header to write first, the running checksum,
/// and the trailer to write last.
#[derive(Debug, Clone)]
pub struct ZlibStream {
    level: u32,
    adler: u32,
    input_len: u64,
}

impl ZlibStream {
    pub fn new(level: u32) -> Self {
        ZlibStream {
            level,
            adler: 1,
            input_len: 0,
        }
    }

    /// The two bytes that start the stream.
    pub fn header(&self) -> [u8; 2] {
        zlib_header(self.level)
    }

    /// Accounts for a piece (its input's Adler-32 and length) written after the previous ones.
    pub fn add(&mut self, adler: u32, input_len: u64) {
        self.adler = adler32_combine(self.adler, adler, input_len);
        self.input_len += input_len;
    }

    /// Input bytes accounted so far.
    pub fn input_len(&self) -> u64 {
        self.input_len
    }

    /// The bytes that end the stream: an empty final fixed-Huffman block (`03 00`) and the
    /// Adler-32 of everything, most significant byte first.
    pub fn trailer(&self) -> [u8; 6] {
        let a = self.adler.to_be_bytes();
        [0x03, 0x00, a[0], a[1], a[2], a[3]]
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn sample(len: usize, seed: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(len);
        let mut x = seed | 1;
        while out.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.extend_from_slice(format!("{}\trow {}\t{}\n", x % 100_000, x % 97, x >> 50).as_bytes());
        }
        out.truncate(len);
        out
    }

    fn stitch(level: u32, pieces: &[&[u8]]) -> Vec<u8> {
        let mut s = ZlibStream::new(level);
        let mut out = s.header().to_vec();
        for p in pieces {
            let d = deflate_piece(level, p).unwrap();
            s.add(d.adler, d.input_len);
            out.extend_from_slice(&d.data);
        }
        out.extend_from_slice(&s.trailer());
        out
    }

    fn inflate(stream: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(stream).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn adler_combine_matches_adler_of_concatenation() {
        let data = sample(300_000, 7);
        for cut in [0, 1, 5551, 5552, 65_520, 65_521, 65_522, 150_000, 299_999, 300_000] {
            let (a, b) = data.split_at(cut);
            assert_eq!(
                adler32_combine(libdeflater::adler32(a), libdeflater::adler32(b), b.len() as u64),
                libdeflater::adler32(&data),
                "cut at {cut}"
            );
        }
        // Edge values: a running sum of 0 (a1 = 0 after a wrap) and huge lengths.
        assert_eq!(adler32_combine(1, 1, 0), 1);
        let big = 10_u64.pow(12);
        assert_eq!(
            adler32_combine(0xffff_0000, 1, big),
            adler32_combine(0xffff_0000, 1, big % BASE)
        );
    }

    #[test]
    fn header_is_what_zlib_writes() {
        assert_eq!(zlib_header(1), [0x78, 0x01]);
        assert_eq!(zlib_header(3), [0x78, 0x5e]);
        assert_eq!(zlib_header(6), [0x78, 0x9c]);
        assert_eq!(zlib_header(9), [0x78, 0xda]);
        for level in 0..=9 {
            let h = zlib_header(level);
            assert_eq!((u16::from(h[0]) << 8 | u16::from(h[1])) % 31, 0, "level {level}");
        }
    }

    #[test]
    fn stitched_stream_decodes_to_the_input() {
        let data = sample(3_000_000, 11);
        for level in [1, 6, 9] {
            // Uneven piece sizes; rows straddle piece boundaries.
            let pieces: Vec<&[u8]> = data.chunks(1_000_003).collect();
            let stream = stitch(level, &pieces);
            assert_eq!(&stream[..2], &zlib_header(level));
            assert_eq!(inflate(&stream).unwrap(), data, "level {level}");
            assert!(stream.len() < data.len() * 7 / 10, "compresses: {}", stream.len());
        }
    }

    #[test]
    fn empty_and_tiny_pieces() {
        assert_eq!(inflate(&stitch(6, &[])).unwrap(), b"");
        assert_eq!(inflate(&stitch(6, &[b""])).unwrap(), b"");
        let parts: [&[u8]; 5] = [b"", b"a", b"", b"\\.\n\n\n", b""];
        assert_eq!(inflate(&stitch(6, &parts)).unwrap(), b"a\\.\n\n\n");
    }

    #[test]
    fn pieces_end_byte_aligned_without_a_final_block() {
        let d = deflate_piece(6, &sample(100_000, 3)).unwrap();
        // A sync flush ends with an empty stored block: LEN 0000, NLEN ffff.
        assert_eq!(&d.data[d.data.len() - 4..], &[0x00, 0x00, 0xff, 0xff]);
        // No final block: raw inflate of the piece alone runs out of input.
        let mut out = Vec::new();
        let mut z = flate2::Decompress::new(false);
        out.reserve(200_000);
        let status = z
            .decompress_vec(&d.data, &mut out, flate2::FlushDecompress::None)
            .unwrap();
        assert_eq!(out.len(), 100_000);
        assert_ne!(status, flate2::Status::StreamEnd);
    }

    #[test]
    fn bad_checksum_is_detected() {
        let mut stream = stitch(6, &[&sample(10_000, 5), &sample(20_000, 9)]);
        let n = stream.len();
        stream[n - 1] ^= 1;
        assert!(inflate(&stream).is_err());
    }

    #[test]
    fn state_is_reused_across_levels_and_calls() {
        let a = sample(50_000, 1);
        let first = deflate_piece(6, &a).unwrap();
        let _ = deflate_piece(1, &a).unwrap();
        assert_eq!(deflate_piece(6, &a).unwrap(), first);
    }
}
