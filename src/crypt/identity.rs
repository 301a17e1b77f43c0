//! Identities that decrypt archives (`-i FILE`: age identity files as `pgsnap keygen` or
//! `age-keygen` write them, or unencrypted OpenSSH private keys; or a passphrase), and
//! `pgsnap keygen`.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use age::secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};

/// The scrypt work factor decryption accepts at most (2^22: a few seconds and 4 GiB of
/// memory; a file demanding more is refused rather than tying the machine up).
pub const MAX_PASSPHRASE_WORK_FACTOR: u8 = 22;

/// Keys for decryption.
pub struct Identities {
    keys: Vec<Box<dyn age::Identity + Send + Sync>>,
    /// Where the keys came from, for messages ("identity file \"k\"", "the passphrase").
    pub described: String,
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identities({})", self.described)
    }
}

impl Identities {
    /// Reads identity files: each holds age identities (`AGE-SECRET-KEY-1…`, comments
    /// allowed) or one unencrypted OpenSSH private key.
    pub fn from_files(paths: &[PathBuf]) -> Result<Identities> {
        let mut keys: Vec<Box<dyn age::Identity + Send + Sync>> = Vec::new();
        for p in paths {
            keys.extend(read_identity_file(p)?);
        }
        let described = paths
            .iter()
            .map(|p| format!("\"{}\"", p.display()))
            .collect::<Vec<_>>()
            .join(", ");
        Ok(Identities {
            keys,
            described: format!("identity {described}"),
        })
    }

    /// A passphrase.
    pub fn passphrase(p: String) -> Identities {
        let mut id = age::scrypt::Identity::new(SecretString::from(p));
        id.set_max_work_factor(MAX_PASSPHRASE_WORK_FACTOR);
        Identities {
            keys: vec![Box::new(id)],
            described: "the passphrase".into(),
        }
    }

    /// The keys the user gave: identity files, else a passphrase file, else the passphrase in
    /// `env_passphrase` (PGSNAP_PASSPHRASE); `None` when there are none.
    pub fn resolve(
        files: &[PathBuf],
        passphrase_file: Option<&Path>,
        env_passphrase: Option<String>,
    ) -> Result<Option<Identities>> {
        if !files.is_empty() {
            if passphrase_file.is_some() {
                return Err(Error::usage("give identity files or a passphrase file, not both"));
            }
            return Identities::from_files(files).map(Some);
        }
        if let Some(p) = passphrase_file {
            return Ok(Some(Identities::passphrase(super::recipients::read_passphrase_file(
                p,
            )?)));
        }
        Ok(env_passphrase.filter(|p| !p.is_empty()).map(Identities::passphrase))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.keys.iter().map(|k| k.as_ref() as &dyn age::Identity)
    }
}

fn read_identity_file(path: &Path) -> Result<Vec<Box<dyn age::Identity + Send + Sync>>> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| Error::io(format!("could not read identity file \"{shown}\""), e))?;
    let text = String::from_utf8_lossy(&bytes);
    if text.contains("-----BEGIN OPENSSH PRIVATE KEY-----") || text.contains("-----BEGIN RSA PRIVATE KEY-----") {
        let id = age::ssh::Identity::from_buffer(io::Cursor::new(&bytes[..]), Some(shown.to_string()))
            .map_err(|_| Error::usage(format!("identity file \"{shown}\" is not a usable OpenSSH private key")))?;
        return match id {
            age::ssh::Identity::Unencrypted(_) => Ok(vec![Box::new(id)]),
            age::ssh::Identity::Encrypted(_) => Err(Error::usage(format!(
                "identity file \"{shown}\" is a passphrase-protected ssh key; use an unprotected copy (e.g. \
                 ssh-keygen -p -N '' on a copy kept safe)"
            ))),
            age::ssh::Identity::Unsupported(_) => Err(Error::usage(format!(
                "identity file \"{shown}\" holds an ssh key type age does not support (use ed25519 or rsa)"
            ))),
        };
    }
    let file = age::IdentityFile::from_buffer(io::Cursor::new(&bytes[..]))
        .map_err(|_| Error::usage(format!("identity file \"{shown}\" holds no valid age identity")))?;
    let ids = file.into_identities().map_err(|_| {
        Error::usage(format!(
            "identity file \"{shown}\" holds an identity that cannot be used"
        ))
    })?;
    if ids.is_empty() {
        return Err(Error::usage(format!("identity file \"{shown}\" holds no identity")));
    }
    Ok(ids)
}

/// `pgsnap keygen -o FILE`: writes a new X25519 identity (mode 0600; an existing file is
/// never replaced) in age-keygen's layout, and returns its recipient.
pub fn generate_identity_file(path: &Path, created: &str) -> Result<String> {
    let id = age::x25519::Identity::generate();
    let recipient = id.to_public().to_string();
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let shown = path.display();
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            Error::usage(format!("identity file \"{shown}\" exists; it is never overwritten"))
        } else {
            Error::io(format!("could not create identity file \"{shown}\""), e)
        }
    })?;
    let text = format!(
        "# created: {created}\n# public key: {recipient}\n{}\n",
        id.to_string().expose_secret()
    );
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(format!("could not write identity file \"{shown}\""), e))?;
    Ok(recipient)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_writes_a_private_file_once() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("k.txt");
        let r = generate_identity_file(&p, "2026-01-01T00:00:00Z").unwrap();
        assert!(r.starts_with("age1"));
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(&format!("# public key: {r}")) && text.contains("AGE-SECRET-KEY-1"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let e = generate_identity_file(&p, "x").unwrap_err().to_string();
        assert!(e.contains("never overwritten"), "{e}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), text);
        assert_eq!(Identities::from_files(&[p]).unwrap().keys.len(), 1);
        let bad = d.path().join("bad");
        std::fs::write(&bad, "hello\n").unwrap();
        assert!(Identities::from_files(&[bad]).is_err());
    }
}
