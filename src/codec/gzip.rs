//! gzip file format (RFC 1952) for directory data files. Not zlib (RFC 1950): that is what
//! the custom format's data blocks use, and a directory reader expects gzip
//! (archive-format.md §7.1; pg_restore reads these with zlib's gz reader).

use std::io::{self, Read, Write};

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

/// Unix, as gzip(1) and zlib's gzdopen write it; readers ignore it.
const OS_UNIX: u8 = 3;

pub(super) fn encoder<W: Write>(level: u32, w: W) -> GzEncoder<W> {
    flate2::GzBuilder::new()
        .operating_system(OS_UNIX)
        .write(w, flate2::Compression::new(level))
}

/// One gzip member of `input`, compressed in one shot with libdeflate: faster than a
/// streaming zlib at the same level, with a slightly better ratio (ecosystem.md §2.2). One
/// compressor per thread and level, reused across pieces.
pub(super) fn compress_member(level: u32, input: &[u8]) -> io::Result<Vec<u8>> {
    thread_local! {
        static COMPRESSOR: std::cell::RefCell<Option<(u32, libdeflater::Compressor)>> =
            const { std::cell::RefCell::new(None) };
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let lvl = libdeflater::CompressionLvl::new(level as i32)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("gzip level {level}: {e:?}")))?;
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(l, _)| *l != level) {
            *slot = Some((level, libdeflater::Compressor::new(lvl)));
        }
        let Some((_, c)) = slot.as_mut() else {
            return Err(io::Error::other("gzip compressor missing"));
        };
        // Compressed into this thread's scratch buffer, then copied out at its exact size: a
        // piece waiting for its turn then holds what it needs, not the worst-case bound (four
        // times a gzip-6 piece), and the bound is zeroed once per thread, not per piece.
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let bound = c.gzip_compress_bound(input.len());
            if scratch.len() < bound {
                scratch.resize(bound, 0);
            }
            let n = c
                .gzip_compress(input, &mut scratch[..bound])
                .map_err(|e| io::Error::other(format!("gzip: {e:?}")))?;
            let mut out = scratch[..n].to_vec();
            // libdeflate marks the OS as unknown; write Unix like gzip(1) (readers ignore it).
            if out.len() > 9 {
                out[9] = OS_UNIX;
            }
            Ok(out)
        })
    })
}

/// Reads every member in turn. A member cut short fails on its missing trailer (CRC and
/// length), like zlib's gzread at close; bytes after a member that do not start another one
/// fail as a bad header.
pub(super) fn decoder<R: Read>(r: io::BufReader<R>) -> MultiGzDecoder<io::BufReader<R>> {
    MultiGzDecoder::new(r)
}

#[cfg(test)]
mod tests {
    use super::super::tests::decode_all;
    use super::*;

    #[test]
    fn member_is_gzip_not_zlib() {
        let m = compress_member(6, b"1\talpha\n").unwrap();
        assert_eq!(&m[..3], &[0x1f, 0x8b, 0x08], "gzip magic and deflate method");
        assert_eq!(m[9], OS_UNIX);
    }

    #[test]
    fn reads_pg_dump_18_example_file() {
        // archive-format.md §9.1: ex18/2565.dat.gz as written by pg_dump 18.6.
        let file: Vec<u8> = vec![
            0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x33, 0xe4, 0x4c, 0xcc, 0x29, 0xc8, 0x48, 0xe4,
            0x32, 0xe2, 0x4c, 0x4a, 0x2d, 0x49, 0xe4, 0x32, 0xe6, 0x8c, 0xf1, 0xe3, 0x8a, 0xd1, 0xe3, 0xe2, 0xe2, 0x02,
            0x00, 0x24, 0xa2, 0x47, 0x33, 0x19, 0x00, 0x00, 0x00,
        ];
        assert_eq!(
            decode_all(".gz", file.clone()).unwrap(),
            b"1\talpha\n2\tbeta\n3\t\\N\n\\.\n\n\n"
        );
        assert!(decode_all(".gz", file[..file.len() - 4].to_vec()).is_err());
    }
}
