//! LZ4 frame format (what the `lz4` tool and pg_dump 16+ write for `.lz4` files).
//!
//! lz4_flex's `FrameDecoder` reports end-of-stream at the end of each frame and treats a
//! stream that stops between blocks as a clean end, so [`MultiFrameDecoder`] drives one
//! decoder per frame across concatenated frames and turns an end of input inside a frame into
//! an error. (A fresh decoder per frame also sidesteps lz4_flex reusing buffers sized for the
//! previous frame's block size.)

use std::io::{self, Read, Write};

use lz4_flex::frame::{BlockSize, FrameDecoder, FrameEncoder, FrameInfo};

/// Frames carry a content checksum so a damaged file fails to decode instead of yielding
/// wrong rows; liblz4 (pg_restore) verifies it as well. 64 KiB independent blocks are liblz4's
/// defaults (lz4_flex would otherwise pick the block size from the first write).
fn frame_info(content_size: Option<u64>) -> FrameInfo {
    FrameInfo::new()
        .block_size(BlockSize::Max64KB)
        .content_checksum(true)
        .content_size(content_size)
}

pub(super) fn encoder<W: Write>(w: W, content_size: Option<u64>) -> FrameEncoder<W> {
    FrameEncoder::with_frame_info(frame_info(content_size), w)
}

pub(super) fn compress_member(input: &[u8]) -> io::Result<Vec<u8>> {
    let mut enc = encoder(Vec::with_capacity(input.len() / 2 + 64), Some(input.len() as u64));
    enc.write_all(input)?;
    enc.finish().map_err(io::Error::from)
}

pub(super) fn decoder<R: Read>(r: R) -> MultiFrameDecoder<R> {
    MultiFrameDecoder {
        frame: Some(FrameDecoder::new(Tracked {
            inner: r,
            pos: 0,
            at_eof: false,
        })),
        frame_start: 0,
    }
}

/// Counts the bytes handed to the frame decoder and notes when the input ran out.
struct Tracked<R> {
    inner: R,
    pos: u64,
    at_eof: bool,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.at_eof = true;
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// Reads a sequence of LZ4 frames as one stream.
pub(super) struct MultiFrameDecoder<R: Read> {
    /// Decoder of the current frame; `None` once the input ended cleanly.
    frame: Option<FrameDecoder<Tracked<R>>>,
    /// Input position where the current frame began.
    frame_start: u64,
}

impl<R: Read> Read for MultiFrameDecoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while let Some(frame) = self.frame.as_mut() {
            let n = frame.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            let src = frame.get_ref();
            if src.at_eof {
                if src.pos != self.frame_start {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "lz4 stream truncated: input ends inside the frame starting at byte {}",
                            self.frame_start
                        ),
                    ));
                }
                self.frame = None;
            } else {
                // The frame ended with its end mark (and checksum): another may follow.
                self.frame_start = src.pos;
                self.frame = self.frame.take().map(|done| FrameDecoder::new(done.into_inner()));
            }
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{decode_all, sample};
    use super::*;

    #[test]
    fn plain_frame_decoder_stops_after_one_frame() {
        // Documents why MultiFrameDecoder exists.
        let mut file = compress_member(b"one\n").unwrap();
        file.extend_from_slice(&compress_member(b"two\n").unwrap());
        let mut out = Vec::new();
        FrameDecoder::new(&file[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, b"one\n");
        assert_eq!(decode_all(".lz4", file).unwrap(), b"one\ntwo\n");
    }

    #[test]
    fn truncation_between_blocks_is_detected() {
        // Several 64 KiB blocks; cut right after the frame header and after the first block.
        let input = sample(300_000);
        let file = compress_member(&input).unwrap();
        let header_len = 4 + 2 + 8 + 1; // magic, FLG+BD, content size, header checksum
        let first_block = u32::from_le_bytes([
            file[header_len],
            file[header_len + 1],
            file[header_len + 2],
            file[header_len + 3],
        ]) & 0x7fff_ffff;
        let after_first_block = header_len + 4 + first_block as usize;
        for cut in [4, header_len, after_first_block, after_first_block + 2, file.len() - 4] {
            let err = decode_all(".lz4", file[..cut].to_vec()).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "cut at {cut}: {err}");
        }
    }
}
