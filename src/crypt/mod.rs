//! Encryption of archives in the age format (age-encryption.org/v1, the `age` crate), as a
//! byte layer under the archive writers: every file an archive consists of — `toc.dat` and
//! each data file of a directory archive, the whole file of `-Fc`, `-Ft` and `-Fp` — is one
//! age file, written as it streams, so no plaintext reaches the disk. Each such file decrypts
//! with the stock `age` tool (`age -d -i key file`), and `pgsnap decrypt` turns a whole
//! archive back into the plain archive pg_restore reads.
//!
//! Keys: X25519 recipients (`age1…`, from `pgsnap keygen` or `age-keygen`), ssh-ed25519 and
//! ssh-rsa public keys, or one passphrase (scrypt) — never a mix of a passphrase and
//! recipients, which the age format does not allow. A passphrase is read from a file or the
//! `PGSNAP_PASSPHRASE` variable, never from the command line; no secret is logged, put in an
//! error message or written to the archive (only the recipients' public keys are).
//!
//! - [`recipients`]: parsing recipients and recipient files;
//! - [`layer`]: the [`FileLayer`](crate::archive::output::FileLayer) that envelopes files;
//! - [`identity`]: identities for decryption, `keygen`;
//! - [`open`]: decrypting readers;
//! - [`seal`]: the in-memory key that seals spool files while an archive is written.

pub mod identity;
pub mod layer;
pub mod open;
pub mod recipients;
pub mod seal;

pub use identity::{Identities, generate_identity_file};
pub use layer::AgeLayer;
pub use open::{AGE_MAGIC, is_age, open_reader};
pub use recipients::{Envelope, EnvelopeRequest};
