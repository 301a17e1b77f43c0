//! Whom an archive is encrypted to: recipients given on the command line or in files, or a
//! passphrase. Parsing is pure (text in, keys out); reading the files is the caller's.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use age::secrecy::SecretString;

use crate::error::{Error, Result};

/// scrypt work factor (log2 N) of passphrase-encrypted files. age's own default is tuned to
/// about a second per file; a directory archive is one age file per table, so a fixed,
/// smaller cost keeps a dump of many tables from spending minutes in key derivation. 2^16
/// (64 MiB, a fraction of a second here) is what `age -p` chose on slow machines and every
/// age implementation accepts it.
pub const PASSPHRASE_WORK_FACTOR: u8 = 16;

/// The encryption flags of a dump as given (files not read yet).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvelopeRequest {
    /// `--encrypt-to`: recipients as typed.
    pub recipients: Vec<String>,
    /// `--encrypt-to-file`: files of recipients, one a line.
    pub recipient_files: Vec<PathBuf>,
    /// `--passphrase-file`.
    pub passphrase_file: Option<PathBuf>,
    /// `--encrypt-with-passphrase`: the passphrase is in `PGSNAP_PASSPHRASE`.
    pub passphrase_env: bool,
}

impl EnvelopeRequest {
    /// Whether any encryption was asked for.
    pub fn is_set(&self) -> bool {
        !self.recipients.is_empty()
            || !self.recipient_files.is_empty()
            || self.passphrase_file.is_some()
            || self.passphrase_env
    }

    /// Refuses what the age format cannot do: a passphrase together with recipients, or two
    /// passphrase sources.
    pub fn check(&self) -> std::result::Result<(), String> {
        let recipients = !self.recipients.is_empty() || !self.recipient_files.is_empty();
        let passphrase = self.passphrase_file.is_some() || self.passphrase_env;
        if recipients && passphrase {
            return Err(
                "a passphrase cannot be combined with recipients (--encrypt-to, --encrypt-to-file): an age file is \
                 encrypted to one or the other"
                    .into(),
            );
        }
        if self.passphrase_file.is_some() && self.passphrase_env {
            return Err("options --passphrase-file and --encrypt-with-passphrase cannot be used together".into());
        }
        Ok(())
    }

    /// Reads the files and the environment into an envelope; `None` when nothing was asked.
    pub fn resolve(&self, env_passphrase: Option<String>) -> Result<Option<Envelope>> {
        if !self.is_set() {
            return Ok(None);
        }
        self.check().map_err(Error::usage)?;
        if let Some(path) = &self.passphrase_file {
            return Ok(Some(Envelope::passphrase(read_passphrase_file(path)?)?));
        }
        if self.passphrase_env {
            let Some(p) = env_passphrase else {
                return Err(Error::usage(
                    "--encrypt-with-passphrase needs the passphrase in the environment variable PGSNAP_PASSPHRASE",
                ));
            };
            return Ok(Some(Envelope::passphrase(p)?));
        }
        let mut keys = Vec::new();
        for r in &self.recipients {
            keys.push(parse_recipient(r).map_err(|e| e.context("in --encrypt-to"))?);
        }
        for path in &self.recipient_files {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::io(format!("could not read recipients file \"{}\"", path.display()), e))?;
            let found = parse_recipients_file(&text)
                .map_err(|e| e.context(format!("in recipients file \"{}\"", path.display())))?;
            if found.is_empty() {
                return Err(Error::usage(format!(
                    "recipients file \"{}\" names no recipient",
                    path.display()
                )));
            }
            keys.extend(found);
        }
        Ok(Some(Envelope { keys }))
    }
}

/// Reads a passphrase file: its first line, without the line end. The content never appears
/// in a message.
pub fn read_passphrase_file(path: &std::path::Path) -> Result<String> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::io(format!("could not read passphrase file \"{}\"", path.display()), e))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::usage(format!("passphrase file \"{}\" is not valid UTF-8", path.display())))?;
    let line = text.split('\n').next().unwrap_or("").trim_end_matches('\r');
    if line.is_empty() {
        return Err(Error::usage(format!(
            "passphrase file \"{}\" is empty (its first line is the passphrase)",
            path.display()
        )));
    }
    Ok(line.to_string())
}

/// One key an archive is encrypted to.
#[derive(Clone)]
pub enum Key {
    X25519(age::x25519::Recipient),
    Ssh(age::ssh::Recipient, String),
    Passphrase(SecretString),
}

impl Key {
    /// The public form recorded in the manifest: the recipient string, or "passphrase".
    pub fn public(&self) -> String {
        match self {
            Key::X25519(r) => r.to_string(),
            Key::Ssh(_, text) => text.clone(),
            Key::Passphrase(_) => "passphrase (scrypt)".to_string(),
        }
    }
}

impl fmt::Debug for Key {
    // Never prints a passphrase.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Passphrase(_) => f.write_str("Passphrase(..)"),
            k => write!(f, "Recipient({})", k.public()),
        }
    }
}

/// The keys every file of one archive is encrypted to.
#[derive(Clone, Debug)]
pub struct Envelope {
    keys: Vec<Key>,
}

impl Envelope {
    /// Recipients (at least one).
    pub fn to_recipients(keys: Vec<Key>) -> Result<Envelope> {
        if keys.is_empty() {
            return Err(Error::usage("no recipient to encrypt to"));
        }
        if keys.iter().any(|k| matches!(k, Key::Passphrase(_))) && keys.len() > 1 {
            return Err(Error::usage("a passphrase cannot be combined with recipients"));
        }
        Ok(Envelope { keys })
    }

    /// A passphrase (not empty).
    pub fn passphrase(p: String) -> Result<Envelope> {
        if p.is_empty() {
            return Err(Error::usage("the passphrase is empty"));
        }
        Ok(Envelope {
            keys: vec![Key::Passphrase(SecretString::from(p))],
        })
    }

    /// The public forms of the keys, for the manifest.
    pub fn public_keys(&self) -> Vec<String> {
        self.keys.iter().map(Key::public).collect()
    }

    /// A fresh encryptor (new file key) for one file.
    pub(crate) fn encryptor(&self) -> Result<age::Encryptor> {
        let mut boxed: Vec<Box<dyn age::Recipient>> = Vec::with_capacity(self.keys.len());
        for k in &self.keys {
            boxed.push(match k {
                Key::X25519(r) => Box::new(r.clone()),
                Key::Ssh(r, _) => Box::new(r.clone()),
                Key::Passphrase(p) => {
                    let mut r = age::scrypt::Recipient::new(p.clone());
                    r.set_work_factor(PASSPHRASE_WORK_FACTOR);
                    Box::new(r)
                }
            });
        }
        age::Encryptor::with_recipients(boxed.iter().map(|b| b.as_ref() as &dyn age::Recipient))
            .map_err(|e| Error::usage(format!("cannot encrypt to these recipients: {e}")))
    }
}

/// Parses one recipient: `age1…` (X25519) or an OpenSSH public key line (`ssh-ed25519 AAAA…
/// [comment]`, `ssh-rsa AAAA… [comment]`).
pub fn parse_recipient(text: &str) -> Result<Key> {
    let t = text.trim();
    if t.starts_with("age1") {
        return age::x25519::Recipient::from_str(t)
            .map(Key::X25519)
            .map_err(|e| Error::usage(format!("invalid age recipient \"{t}\": {e}")));
    }
    if t.starts_with("ssh-") {
        return match age::ssh::Recipient::from_str(t) {
            Ok(r) => {
                // Keep type and key; a comment is no part of the key.
                let public = t.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
                Ok(Key::Ssh(r, public))
            }
            Err(e) => Err(Error::usage(format!(
                "unsupported or invalid ssh recipient \"{}\": {}",
                short(t),
                ssh_error(&e)
            ))),
        };
    }
    if t.starts_with("AGE-SECRET-KEY-") {
        // Said without repeating the key.
        return Err(Error::usage(
            "a secret key was given where a recipient (public key, age1…) belongs",
        ));
    }
    Err(Error::usage(format!(
        "invalid recipient \"{}\": expected an age X25519 recipient (age1…) or an ssh-ed25519/ssh-rsa public key",
        short(t)
    )))
}

fn ssh_error(e: &age::ssh::ParseRecipientKeyError) -> String {
    use age::ssh::ParseRecipientKeyError as P;
    match e {
        P::Ignore => "not a public key".into(),
        P::Invalid(why) => (*why).into(),
        P::RsaModulusTooLarge => "RSA modulus too large".into(),
        P::RsaModulusTooSmall => "RSA modulus smaller than 2048 bits".into(),
        P::Unsupported(kind) => format!("key type {kind} is not supported (use ssh-ed25519 or ssh-rsa)"),
        _ => "not supported".into(),
    }
}

/// At most 60 characters of a recipient, for messages.
fn short(t: &str) -> String {
    let mut s: String = t.chars().take(60).collect();
    if s.len() < t.len() {
        s.push('…');
    }
    s
}

/// Parses a recipients file: one recipient a line; blank lines and lines starting with `#`
/// are ignored (age's `-R` file syntax).
pub fn parse_recipients_file(text: &str) -> Result<Vec<Key>> {
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        keys.push(parse_recipient(l).map_err(|e| e.context(format!("line {}", n + 1)))?);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SSH_ED: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN alice@rust";

    #[test]
    fn recipients_parse_and_refuse() {
        let id = age::x25519::Identity::generate();
        let pk = id.to_public().to_string();
        assert_eq!(parse_recipient(&format!("  {pk} ")).unwrap().public(), pk);
        let k = parse_recipient(SSH_ED).unwrap();
        assert!(k.public().starts_with("ssh-ed25519 AAAA") && !k.public().contains("alice"));
        assert!(
            parse_recipient("age1nope")
                .unwrap_err()
                .to_string()
                .contains("invalid age recipient")
        );
        let e = parse_recipient("AGE-SECRET-KEY-1QQQQ").unwrap_err().to_string();
        assert!(!e.contains("QQQQ"), "{e}");
        assert!(parse_recipient("bob@example.com").is_err());
        assert!(parse_recipient("ssh-dss AAAAB3NzaC1kc3MAAACBAP").is_err());
    }

    #[test]
    fn recipients_file_skips_comments_and_names_lines() {
        let a = age::x25519::Identity::generate().to_public().to_string();
        let text = format!("# team keys\n\n{a}\n  {SSH_ED}\n");
        assert_eq!(parse_recipients_file(&text).unwrap().len(), 2);
        let e = parse_recipients_file(&format!("{a}\nnonsense\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn request_rules() {
        let mut r = EnvelopeRequest::default();
        assert!(!r.is_set());
        assert!(r.resolve(None).unwrap().is_none());
        r.recipients.push("age1x".into());
        r.passphrase_env = true;
        assert!(r.check().unwrap_err().contains("cannot be combined"));
        let r = EnvelopeRequest {
            passphrase_env: true,
            ..EnvelopeRequest::default()
        };
        assert!(r.resolve(None).unwrap_err().to_string().contains("PGSNAP_PASSPHRASE"));
        let env = r.resolve(Some("s3cret words".into())).unwrap().unwrap();
        assert_eq!(env.public_keys(), vec!["passphrase (scrypt)"]);
        assert!(!format!("{env:?}").contains("s3cret"));
    }

    #[test]
    fn passphrase_file_first_line() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("pw");
        std::fs::write(&p, "correct horse\r\nignored\n").unwrap();
        assert_eq!(read_passphrase_file(&p).unwrap(), "correct horse");
        std::fs::write(&p, "\n").unwrap();
        assert!(read_passphrase_file(&p).unwrap_err().to_string().contains("empty"));
    }
}
