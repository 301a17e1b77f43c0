//! Decrypting readers of enveloped archive files.

use std::io::{self, Read};

use super::identity::Identities;
use crate::error::{Error, ErrorKind, Result};

/// How every age file begins.
pub const AGE_MAGIC: &[u8] = b"age-encryption.org/v1\n";

/// Whether `head` (the first bytes of a file) starts an age file.
pub fn is_age(head: &[u8]) -> bool {
    head.starts_with(AGE_MAGIC)
}

/// Opens the age file read from `input` with `ids`; `name` names it in errors. The reader
/// returned fails (an `io::Error` of kind `InvalidData`) on a chunk that does not
/// authenticate, and at the end of a file cut short of its final chunk.
pub fn open_reader<R: Read>(input: R, ids: &Identities, name: &str) -> Result<impl Read + use<R>> {
    let d = age::Decryptor::new(input).map_err(|e| describe(e, ids, name))?;
    d.decrypt(ids.iter()).map_err(|e| describe(e, ids, name))
}

fn describe(e: age::DecryptError, ids: &Identities, name: &str) -> Error {
    use age::DecryptError as D;
    let msg = match e {
        D::NoMatchingKeys => format!(
            "{name}: {} does not decrypt it (not one of its recipients)",
            ids.described
        ),
        D::DecryptionFailed | D::KeyDecryptionFailed => {
            format!(
                "{name}: {} does not decrypt it (wrong key or passphrase, or a damaged header)",
                ids.described
            )
        }
        D::InvalidMac => format!("{name}: the age header does not authenticate (damaged, or wrong passphrase)"),
        D::InvalidHeader => format!("{name}: not a valid age file (damaged header)"),
        D::UnknownFormat => format!("{name}: unknown age format version"),
        D::ExcessiveWork { required, .. } => {
            format!("{name}: its passphrase needs scrypt work factor 2^{required}, more than accepted")
        }
        D::Io(io) if io.kind() == io::ErrorKind::UnexpectedEof => format!("{name}: age header cut short (truncated)"),
        D::Io(io) => return Error::io(format!("reading {name}"), io),
        other => format!("{name}: cannot decrypt it ({other})"),
    };
    Error::new(ErrorKind::Archive, msg)
}

/// Names a failure while reading decrypted bytes: damage (a chunk that does not
/// authenticate, a cut-off end) or an ordinary read error.
pub fn read_failure(name: &str, e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => Error::new(
            ErrorKind::Archive,
            format!("{name}: encrypted data damaged or truncated ({e})"),
        ),
        _ => Error::io(format!("could not read {name}"), e),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::archive::output::FileLayer;
    use crate::archive::output::tests::MemFile;
    use crate::crypt::layer::AgeLayer;
    use crate::crypt::recipients::{Envelope, Key};

    fn x25519() -> (age::x25519::Identity, Envelope) {
        let id = age::x25519::Identity::generate();
        let env = Envelope::to_recipients(vec![Key::X25519(id.to_public())]).unwrap();
        (id, env)
    }

    fn ids_of(id: age::x25519::Identity) -> Identities {
        use age::secrecy::ExposeSecret;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("k");
        std::fs::write(&p, format!("{}\n", id.to_string().expose_secret())).unwrap();
        Identities::from_files(&[p]).unwrap()
    }

    fn seal(env: Envelope, data: &[u8]) -> Vec<u8> {
        let mem = MemFile::default();
        let mut f = AgeLayer::new(env).wrap("x", Box::new(mem.clone())).unwrap();
        for part in data.chunks(1000) {
            f.write_all(part).unwrap();
        }
        assert_eq!(f.position(), data.len() as u64);
        assert!(!f.can_patch());
        f.commit().unwrap();
        assert!(*mem.committed.lock().unwrap());
        mem.bytes.lock().unwrap().clone()
    }

    #[test]
    fn layer_round_trips_and_detects_damage() {
        let (id, env) = x25519();
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("{i}\trow\n").into_bytes())
            .collect();
        let sealed = seal(env, &data);
        assert!(is_age(&sealed));
        assert!(!sealed.windows(8).any(|w| w == b"1234\trow"));
        let ids = ids_of(id);
        let mut out = Vec::new();
        open_reader(&sealed[..], &ids, "f")
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
        // Truncated: the read fails at the end.
        let cut = &sealed[..sealed.len() - 100];
        let e = open_reader(cut, &ids, "f")
            .unwrap()
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(read_failure("f", e).to_string().contains("damaged or truncated"));
        // A flipped byte in the payload.
        let mut bad = sealed.clone();
        let at = bad.len() / 2;
        bad[at] ^= 0x40;
        assert!(
            open_reader(&bad[..], &ids, "f")
                .unwrap()
                .read_to_end(&mut Vec::new())
                .is_err()
        );
        // Another identity.
        let (other, _) = x25519();
        let e = open_reader(&sealed[..], &ids_of(other), "f.dat")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("f.dat") && e.contains("does not decrypt"), "{e}");
    }

    #[test]
    fn passphrase_round_trip() {
        let env = Envelope::passphrase("tr0ub4dor".into()).unwrap();
        let sealed = seal(env, b"secret rows\n");
        let mut out = Vec::new();
        open_reader(&sealed[..], &Identities::passphrase("tr0ub4dor".into()), "f")
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"secret rows\n");
        let e = open_reader(&sealed[..], &Identities::passphrase("nope".into()), "f")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("passphrase"), "{e}");
    }

    #[test]
    fn abandoned_file_never_decrypts_as_complete() {
        let (id, env) = x25519();
        let mem = MemFile::default();
        let mut f = AgeLayer::new(env).wrap("x", Box::new(mem.clone())).unwrap();
        f.write_all(&[7u8; 100_000]).unwrap();
        drop(f);
        let bytes = mem.bytes.lock().unwrap().clone();
        let r = open_reader(&bytes[..], &ids_of(id), "f")
            .unwrap()
            .read_to_end(&mut Vec::new());
        assert!(r.is_err());
        let _ = std::io::sink().flush();
    }
}
