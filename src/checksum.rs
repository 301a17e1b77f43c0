//! Checksums of archive files for the manifest, chosen as pg_basebackup's
//! `--manifest-checksums` chooses them for its backup manifest.
//!
//! CRC32C is the default there and here: it detects accidental damage (a truncated upload, a
//! flipped bit on a disk) at a few GB/s per core, while SHA-256 costs about 0.6 CPU-seconds
//! per GB even with the CPU's SHA instructions: a sixth of an uncompressed dump's client CPU.
//! SHA-256 is there for whoever wants a cryptographic digest or `sha256sum -c`; an
//! unencrypted manifest is not signed, so neither algorithm stops deliberate tampering
//! (encrypted archives carry their own authentication).

use std::fmt;
use std::str::FromStr;

/// The algorithm a manifest sums files with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChecksumKind {
    /// CRC-32C (Castagnoli), as pg_basebackup's default; 8 hex digits.
    #[default]
    Crc32c,
    /// SHA-256; 64 hex digits, what `sha256sum` prints.
    Sha256,
    /// Sizes only (pg_basebackup's `NONE`).
    None,
}

impl ChecksumKind {
    /// How messages name it.
    pub fn shown(self) -> &'static str {
        match self {
            ChecksumKind::Crc32c => "CRC32C",
            ChecksumKind::Sha256 => "SHA-256",
            ChecksumKind::None => "no checksum",
        }
    }
}

impl fmt::Display for ChecksumKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.shown())
    }
}

impl FromStr for ChecksumKind {
    type Err = String;

    /// pg_basebackup's spellings, in any case (`CRC32C`, `SHA256`, `NONE`), and `SHA-256`.
    fn from_str(s: &str) -> Result<ChecksumKind, String> {
        match s.to_ascii_lowercase().as_str() {
            "crc32c" => Ok(ChecksumKind::Crc32c),
            "sha256" | "sha-256" => Ok(ChecksumKind::Sha256),
            "none" => Ok(ChecksumKind::None),
            "sha224" | "sha384" | "sha512" => Err(format!(
                "checksum algorithm \"{s}\" is not supported; use CRC32C, SHA256 or NONE"
            )),
            _ => Err(format!(
                "unrecognized checksum algorithm: \"{s}\" (use CRC32C, SHA256 or NONE)"
            )),
        }
    }
}

/// A checksum being taken over a stream of bytes (boxed: one per open file, and the states
/// are a few hundred bytes).
pub(crate) enum Hasher {
    Crc32c(Box<crc_fast::Digest>),
    Sha256(Box<ring::digest::Context>),
    None,
}

impl Hasher {
    pub(crate) fn new(kind: ChecksumKind) -> Hasher {
        match kind {
            ChecksumKind::Crc32c => Hasher::Crc32c(Box::new(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi))),
            ChecksumKind::Sha256 => Hasher::Sha256(Box::new(ring::digest::Context::new(&ring::digest::SHA256))),
            ChecksumKind::None => Hasher::None,
        }
    }

    /// The algorithm it sums in.
    pub(crate) fn kind(&self) -> ChecksumKind {
        match self {
            Hasher::Crc32c(_) => ChecksumKind::Crc32c,
            Hasher::Sha256(_) => ChecksumKind::Sha256,
            Hasher::None => ChecksumKind::None,
        }
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Crc32c(d) => d.update(bytes),
            Hasher::Sha256(c) => c.update(bytes),
            Hasher::None => {}
        }
    }

    /// The checksum in lowercase hex; `None` for [`ChecksumKind::None`].
    pub(crate) fn finish(self) -> Option<String> {
        match self {
            // The CRC is 32 bits wide; the crate returns it in a u64.
            Hasher::Crc32c(d) => Some(format!("{:08x}", d.finalize() as u32)),
            Hasher::Sha256(c) => Some(hex(c.finish().as_ref())),
            Hasher::None => None,
        }
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The checksum of `bytes` in one call.
#[cfg(test)]
pub(crate) fn of(kind: ChecksumKind, bytes: &[u8]) -> Option<String> {
    let mut h = Hasher::new(kind);
    h.update(bytes);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        // The standard check value of CRC-32C ("123456789"), and SHA-256 of "abc" (FIPS 180-2).
        assert_eq!(of(ChecksumKind::Crc32c, b"123456789").as_deref(), Some("e3069283"));
        assert_eq!(
            of(ChecksumKind::Sha256, b"abc").as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(of(ChecksumKind::Crc32c, b"").as_deref(), Some("00000000"));
        assert_eq!(of(ChecksumKind::None, b"abc"), None);
    }

    #[test]
    fn streamed_in_pieces_equals_in_one_call() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for kind in [ChecksumKind::Crc32c, ChecksumKind::Sha256] {
            for cut in [1usize, 63, 64, 4096, 65_537] {
                let mut h = Hasher::new(kind);
                for piece in data.chunks(cut) {
                    h.update(piece);
                }
                assert_eq!(h.finish(), of(kind, &data), "{kind} in pieces of {cut}");
            }
        }
    }

    #[test]
    fn names_parse_as_pg_basebackup_spells_them() {
        assert_eq!("CRC32C".parse(), Ok(ChecksumKind::Crc32c));
        assert_eq!("sha256".parse(), Ok(ChecksumKind::Sha256));
        assert_eq!("SHA-256".parse(), Ok(ChecksumKind::Sha256));
        assert_eq!("None".parse(), Ok(ChecksumKind::None));
        assert_eq!(ChecksumKind::default(), ChecksumKind::Crc32c);
        let e = "sha512".parse::<ChecksumKind>().unwrap_err();
        assert!(e.contains("not supported"), "{e}");
        let e = "md5".parse::<ChecksumKind>().unwrap_err();
        assert!(e.contains("unrecognized checksum algorithm: \"md5\""), "{e}");
    }
}
