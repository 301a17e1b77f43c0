//! Large-object bytes (pg_dump.c `dumpLOs`): each BLOBS entry's objects, in order, read in
//! bounded chunks with `lo_get(oid, offset, length)` on a connection inside the dump's
//! snapshot and streamed to the entry's data sink, so no object is ever held whole in memory
//! (pg_dump reads through `lo_open`/`loread` in the same way).

use std::sync::Arc;

use crate::archive::writer::DataSinks;
use crate::error::{Error, Result};
use crate::pg::Session;

/// Bytes asked for per `lo_get` call.
pub const CHUNK: usize = 1 << 20;

/// One BLOBS entry to fill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LargeObjectJob {
    /// The BLOBS entry's dump id.
    pub id: i32,
    /// Its tag (`BLOBS`, or the group's `first..last`), for narration.
    pub tag: String,
    /// Its large objects, in the order they are written.
    pub oids: Vec<u32>,
}

/// What the large-object export did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LargeObjectReport {
    pub objects: u64,
    /// Bytes read from the server.
    pub bytes: u64,
    /// Bytes the sinks wrote (after compression).
    pub written: u64,
}

/// Exports every job in turn on `session`, which must already be in the dump's snapshot.
pub async fn export(
    session: &Session,
    jobs: Vec<LargeObjectJob>,
    sinks: Arc<dyn DataSinks>,
) -> Result<LargeObjectReport> {
    let mut report = LargeObjectReport::default();
    for job in jobs {
        // pg_dump -v's line per BLOBS entry (pg_dump.c `dumpLOs`).
        tracing::info!(target: "pgsnap::narrate", "saving large objects \"{}\"", job.tag);
        let mut sink = sinks.open(job.id)?;
        for &oid in &job.oids {
            sink = blocking(move || sink.start_object(oid).map(|()| sink)).await?;
            let mut offset: u64 = 0;
            loop {
                let row = session
                    .query_one(&format!(
                        "SELECT pg_catalog.lo_get('{oid}'::pg_catalog.oid, {offset}, {CHUNK})"
                    ))
                    .await
                    .map_err(|e| e.context(format!("reading large object {oid}")))?;
                let bytes = row.bytes(0)?;
                let n = bytes.len();
                offset += n as u64;
                report.bytes += n as u64;
                if n > 0 {
                    sink = blocking(move || sink.write(bytes).map(|()| sink)).await?;
                }
                if n < CHUNK {
                    break;
                }
            }
            sink = blocking(move || sink.end_object().map(|()| sink)).await?;
            report.objects += 1;
        }
        report.written += blocking(move || sink.finish()).await?;
    }
    Ok(report)
}

/// Sink calls may wait for back-pressure; keep them off the runtime's worker threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::internal(format!("large-object sink task failed: {e}")))?
}
