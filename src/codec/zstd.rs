//! zstd frame format (pg_dump 16+ `.zst` files).

use std::cell::RefCell;
use std::io::{self, Read, Write};

use ::zstd::bulk::Compressor;
use ::zstd::stream::read::Decoder;
use ::zstd::stream::write::Encoder;
use ::zstd::zstd_safe::CParameter;

/// Frames carry a content checksum so damage is detected on decode.
pub(super) fn encoder<W: Write>(level: i32, long: bool, w: W) -> io::Result<Encoder<'static, W>> {
    let mut enc = Encoder::new(w, level)?;
    enc.include_checksum(true)?;
    if long {
        enc.long_distance_matching(true)?;
    }
    Ok(enc)
}

thread_local! {
    /// One compression context per pool thread and setting: contexts for high levels hold
    /// megabytes of tables, too costly to rebuild for every 1 MiB piece.
    static COMPRESSOR: RefCell<Option<((i32, bool), Compressor<'static>)>> = const { RefCell::new(None) };
}

fn new_compressor(level: i32, long: bool) -> io::Result<Compressor<'static>> {
    let mut c = Compressor::new(level)?;
    c.set_parameter(CParameter::ChecksumFlag(true))?;
    if long {
        c.set_parameter(CParameter::EnableLongDistanceMatching(true))?;
    }
    Ok(c)
}

/// One frame with its content size recorded (lets the encoder size its window to the input).
/// Compressed into the thread's scratch buffer and copied out at its exact size, so a piece
/// waiting for its turn holds what it needs, not the worst-case bound (see gzip.rs).
pub(super) fn compress_member(level: i32, long: bool, input: &[u8]) -> io::Result<Vec<u8>> {
    thread_local! {
        static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(key, _)| *key != (level, long)) {
            *slot = Some(((level, long), new_compressor(level, long)?));
        }
        let Some((_, c)) = slot.as_mut() else {
            return Err(io::Error::other("zstd compressor missing"));
        };
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            scratch.clear();
            scratch.reserve(zstd::zstd_safe::compress_bound(input.len()));
            c.compress_to_buffer(input, &mut *scratch)?;
            Ok(scratch.to_vec())
        })
    })
}

/// Reads every frame in turn; the zstd reader reports input ending inside a frame as an
/// "incomplete frame" error.
pub(super) fn decoder<R: Read>(r: io::BufReader<R>) -> io::Result<Decoder<'static, io::BufReader<R>>> {
    Decoder::with_buffer(r)
}

#[cfg(test)]
mod tests {
    use super::super::tests::sample;
    use super::*;

    #[test]
    fn cached_context_follows_the_settings() {
        let input = sample(100_000);
        let fast = compress_member(1, false, &input).unwrap();
        let strong = compress_member(19, false, &input).unwrap();
        assert_ne!(fast, strong);
        assert_eq!(compress_member(1, false, &input).unwrap(), fast);
        assert_eq!(compress_member(19, false, &input).unwrap(), strong);
        let long = compress_member(19, true, &input).unwrap();
        let mut out = Vec::new();
        decoder(io::BufReader::new(&long[..]))
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, input);
    }

    #[test]
    fn member_is_one_frame_with_checksum() {
        let m = compress_member(3, false, &sample(10_000)).unwrap();
        assert_eq!(&m[..4], &[0x28, 0xb5, 0x2f, 0xfd], "zstd frame magic");
        // Frame header descriptor: bit 2 = content checksum flag.
        assert_ne!(m[4] & 0x04, 0);
    }
}
