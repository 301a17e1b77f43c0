//! The encryption layer: each archive file becomes one age file as it is written.
//!
//! The layer sits between the format writer and the file (compress → encrypt → digest →
//! file): the writer's compressed bytes go into age's STREAM (64 KiB chunks, each
//! authenticated, the last one marked, so truncation is detected), and the ciphertext goes to
//! the file below. Positions seen by the writer stay those of its own bytes; an enveloped file
//! cannot be patched in place, so the custom format leaves its data offsets unset (as it does
//! on a pipe) and the tar format spools members until their size is known — spools that the
//! layer asks to be sealed ([`FileLayer::seals_temporaries`]).

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use crate::archive::output::{ArchiveFile, FileLayer};
use crate::error::{Error, Result};

use super::recipients::Envelope;

/// Envelopes every archive file in age, to the keys of an [`Envelope`].
#[derive(Debug, Clone)]
pub struct AgeLayer {
    envelope: Arc<Envelope>,
}

impl AgeLayer {
    pub fn new(envelope: Envelope) -> AgeLayer {
        AgeLayer {
            envelope: Arc::new(envelope),
        }
    }

    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }
}

impl FileLayer for AgeLayer {
    fn wrap(&self, _name: &str, inner: Box<dyn ArchiveFile>) -> Result<Box<dyn ArchiveFile>> {
        let describe = inner.describe();
        let atomic = inner.is_atomic();
        let failure = Arc::new(Mutex::new(None));
        let below = Below {
            file: inner,
            failure: failure.clone(),
        };
        let writer = self
            .envelope
            .encryptor()?
            .wrap_output(below)
            .map_err(|e| take_failure(&failure, e, &describe))?;
        Ok(Box::new(AgeFile {
            writer: Some(writer),
            failure,
            pos: 0,
            atomic,
            describe,
        }))
    }

    fn seals_temporaries(&self) -> bool {
        true
    }

    fn public_keys(&self) -> Vec<String> {
        self.envelope.public_keys()
    }
}

/// The file under the age stream, as an `io::Write`; keeps our own error (with its kind and
/// message) for the caller, since age only passes `io::Error`s through.
struct Below {
    file: Box<dyn ArchiveFile>,
    failure: Arc<Mutex<Option<Error>>>,
}

impl Write for Below {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.file.write_all(buf) {
            Ok(()) => Ok(buf.len()),
            Err(e) => {
                let kind = e.io_error_kind().unwrap_or(io::ErrorKind::Other);
                *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                Err(io::Error::new(kind, "archive file write failed"))
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The error that made the age stream fail: ours when the file below failed, else age's.
fn take_failure(failure: &Mutex<Option<Error>>, e: io::Error, describe: &str) -> Error {
    match failure.lock().unwrap_or_else(|p| p.into_inner()).take() {
        Some(own) => own,
        None => Error::io(format!("could not encrypt {describe}"), e),
    }
}

/// One archive file being enveloped.
struct AgeFile {
    writer: Option<age::stream::StreamWriter<Below>>,
    failure: Arc<Mutex<Option<Error>>>,
    pos: u64,
    atomic: bool,
    describe: String,
}

impl ArchiveFile for AgeFile {
    fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        let Some(w) = self.writer.as_mut() else {
            return Err(Error::internal("write to an encrypted file after it was committed"));
        };
        w.write_all(buf)
            .map_err(|e| take_failure(&self.failure, e, &self.describe))?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn position(&self) -> u64 {
        self.pos
    }

    fn is_atomic(&self) -> bool {
        self.atomic
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        let Some(w) = self.writer.take() else {
            return Err(Error::internal("encrypted file committed twice"));
        };
        // The last chunk, marked final: only now does the file decrypt as complete.
        let below = w.finish().map_err(|e| take_failure(&self.failure, e, &self.describe))?;
        below.file.commit()
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}
