//! Per-table destinations for exported blocks: the [`BlockSink`]/[`SinkFactory`] contract the
//! workers write to, and [`ArchiveSinks`], which routes each table to its archive entry's data
//! sink (compression, ordering and framing are the archive writer's business).

use std::sync::Arc;

use crate::archive::writer::{DataSink, DataSinks};
use crate::error::Result;

use super::ExportJob;

/// Receives one table's COPY text in blocks, in order.
///
/// Its calls run on the thread of the worker reading the table, inside that worker's own
/// single-threaded tokio runtime: they may block (the worker's COPY stream waits, and the
/// server with it), but must not enter a runtime themselves (`Handle::block_on` panics
/// there); a sink that needs async work hands blocks to a thread or task of its own.
pub trait BlockSink: Send {
    /// Takes the next block; may block while earlier blocks are still being written.
    fn push(&mut self, block: Vec<u8>) -> Result<()>;
    /// The rows of the COPY text pushed (whole rows, as the server sent them), told once just
    /// before `finish`: the archive's manifest records them without counting the text again.
    /// A sink that wraps another passes it on.
    fn rows(&mut self, _rows: u64) {}
    /// Flushes everything; returns the bytes written to the destination.
    fn finish(self: Box<Self>) -> Result<u64>;
}

/// Opens a sink per table.
pub trait SinkFactory: Send + Sync {
    fn open(&self, job: &ExportJob) -> Result<Box<dyn BlockSink>>;
}

/// Sends each job's blocks to the data sink of the archive entry with the job's id.
pub struct ArchiveSinks(pub Arc<dyn DataSinks>);

impl SinkFactory for ArchiveSinks {
    fn open(&self, job: &ExportJob) -> Result<Box<dyn BlockSink>> {
        Ok(Box::new(EntrySink(self.0.open(job.id)?)))
    }
}

struct EntrySink(Box<dyn DataSink>);

impl BlockSink for EntrySink {
    fn push(&mut self, block: Vec<u8>) -> Result<()> {
        self.0.write(block)
    }

    fn rows(&mut self, rows: u64) {
        self.0.rows(rows)
    }

    fn finish(self: Box<Self>) -> Result<u64> {
        self.0.finish()
    }
}
