//! Per-table destinations for exported blocks. `CompressedFileSink` compresses blocks on the
//! rayon pool as independent members/frames and writes them in order to one file — memory
//! stays bounded by the number of blocks in flight, whatever the table size.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::codec::{Compression, compress_member};
use crate::error::{Error, Result};

use super::ExportJob;

/// Receives one table's COPY text in blocks, in order.
pub trait BlockSink: Send {
    /// Takes the next block; may block while earlier blocks are still being written.
    fn push(&mut self, block: Vec<u8>) -> Result<()>;
    /// Flushes everything; returns the bytes written to the destination.
    fn finish(self: Box<Self>) -> Result<u64>;
}

/// Opens a sink per table.
pub trait SinkFactory: Send + Sync {
    fn open(&self, job: &ExportJob) -> Result<Box<dyn BlockSink>>;
}

/// Blocks compressed in parallel but written in order.
const BLOCKS_IN_FLIGHT: usize = 4;

type Pending = Receiver<std::io::Result<Vec<u8>>>;

pub struct CompressedFileSink {
    compression: Compression,
    order: Option<Sender<Pending>>,
    writer: Option<JoinHandle<Result<u64>>>,
    path: PathBuf,
}

impl CompressedFileSink {
    pub fn create(path: PathBuf, compression: Compression) -> Result<CompressedFileSink> {
        let mut file = File::create(&path).map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
        let (tx, rx) = bounded::<Pending>(BLOCKS_IN_FLIGHT);
        let wpath = path.clone();
        let writer = std::thread::Builder::new()
            .name("pgsnap-writer".into())
            .spawn(move || -> Result<u64> {
                let mut written = 0u64;
                for pending in rx {
                    let data = pending
                        .recv()
                        .map_err(|_| Error::internal("compression task vanished"))?
                        .map_err(|e| Error::io(format!("compressing data for {}", wpath.display()), e))?;
                    file.write_all(&data)
                        .map_err(|e| Error::io(format!("writing {}", wpath.display()), e))?;
                    written += data.len() as u64;
                }
                file.sync_all()
                    .map_err(|e| Error::io(format!("syncing {}", wpath.display()), e))?;
                Ok(written)
            })
            .map_err(|e| Error::io("starting a writer thread", e))?;
        Ok(CompressedFileSink {
            compression,
            order: Some(tx),
            writer: Some(writer),
            path,
        })
    }

    fn join(&mut self) -> Result<u64> {
        self.order.take();
        match self.writer.take() {
            Some(h) => h
                .join()
                .map_err(|_| Error::internal(format!("writer of {} panicked", self.path.display())))?,
            None => Ok(0),
        }
    }
}

impl BlockSink for CompressedFileSink {
    fn push(&mut self, block: Vec<u8>) -> Result<()> {
        let (tx, rx) = bounded(1);
        let c = self.compression;
        rayon::spawn(move || {
            let _ = tx.send(compress_member(c, &block));
        });
        let sent = match &self.order {
            Some(order) => order.send(rx).is_ok(),
            None => false,
        };
        if !sent {
            // The writer stopped early: its error says why.
            return match self.join() {
                Err(e) => Err(e),
                Ok(_) => Err(Error::internal(format!("writer of {} stopped", self.path.display()))),
            };
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<u64> {
        self.join()
    }
}

impl Drop for CompressedFileSink {
    fn drop(&mut self) {
        let _ = self.join();
    }
}
