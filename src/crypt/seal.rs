//! Sealing of temporary spool files while an encrypted archive is written.
//!
//! The single-file formats hold data that is ready before its turn in spool files beside the
//! output (see `archive::ordered`). For an encrypted archive those bytes must not reach the
//! disk in the clear either, so each spool directory gets a random key that lives only in
//! memory, and every spool file is a sequence of records: a 4-byte little-endian length, then
//! ChaCha20-Poly1305 ciphertext with its tag. Nonces come from one counter per key, so no
//! nonce repeats. A spool outliving the process is unreadable noise.

use std::sync::atomic::{AtomicU64, Ordering};

use ring::aead::{self, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::{Error, Result};

/// Plaintext bytes gathered before a record is sealed.
pub const RECORD: usize = 64 * 1024;

/// An in-memory key sealing the spool files of one archive.
pub struct Sealer {
    key: LessSafeKey,
    counter: AtomicU64,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// A fresh random key.
    pub fn new() -> Result<Sealer> {
        let mut k = [0u8; 32];
        SystemRandom::new()
            .fill(&mut k)
            .map_err(|_| Error::internal("no random bytes for the spool key"))?;
        let key = UnboundKey::new(&CHACHA20_POLY1305, &k).map_err(|_| Error::internal("spool key rejected"))?;
        Ok(Sealer {
            key: LessSafeKey::new(key),
            counter: AtomicU64::new(0),
        })
    }

    /// One record: length, nonce counter and ciphertext+tag.
    pub fn seal(&self, plain: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&n.to_le_bytes());
        let mut buf = plain.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf)
            .map_err(|_| Error::internal("sealing a spool record failed"))?;
        let len = u32::try_from(buf.len() + 8).map_err(|_| Error::internal("spool record too large"))?;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&buf);
        Ok(())
    }

    /// Opens the records in `raw` (whole records only); returns the plaintext and the bytes
    /// of `raw` consumed.
    pub fn open_records(&self, raw: &[u8], out: &mut Vec<u8>) -> Result<usize> {
        let mut at = 0;
        while raw.len() - at >= 4 {
            let len = u32::from_le_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]]) as usize;
            if len < 8 + aead::MAX_TAG_LEN {
                return Err(Error::internal("damaged spool record"));
            }
            if raw.len() - at - 4 < len {
                break;
            }
            let body = &raw[at + 4..at + 4 + len];
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&body[..8]);
            let mut buf = body[8..].to_vec();
            let plain = self
                .key
                .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf)
                .map_err(|_| Error::internal("a spool record does not authenticate"))?;
            out.extend_from_slice(plain);
            at += 4 + len;
        }
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_authenticate() {
        let s = Sealer::new().unwrap();
        let mut raw = Vec::new();
        s.seal(b"hello ", &mut raw).unwrap();
        s.seal(b"world", &mut raw).unwrap();
        assert!(!raw.windows(5).any(|w| w == b"hello"));
        let mut out = Vec::new();
        // A partial record waits for more bytes.
        assert_eq!(s.open_records(&raw[..raw.len() - 1], &mut out).unwrap(), 4 + 8 + 6 + 16);
        out.clear();
        assert_eq!(s.open_records(&raw, &mut out).unwrap(), raw.len());
        assert_eq!(out, b"hello world");
        raw[14] ^= 1;
        assert!(s.open_records(&raw, &mut Vec::new()).is_err());
        // Another key cannot read them.
        let t = Sealer::new().unwrap();
        let mut raw = Vec::new();
        s.seal(b"x", &mut raw).unwrap();
        assert!(t.open_records(&raw, &mut Vec::new()).is_err());
    }
}
