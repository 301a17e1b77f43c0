//! The parallel data phase: N worker connections bound to one exported snapshot, tables
//! handed out largest first, `COPY ... TO STDOUT` streamed in bounded blocks to a sink per
//! table. The first error cancels the other workers (server-side cancel included) and fails
//! the whole export with that error.

pub mod inserts;
pub mod large_objects;
pub mod sink;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::Mutex;

use crate::error::{Error, ErrorKind, Result};
use crate::model::{InsertOptions, TableData};
use crate::pg::{CancelHandle, SessionOptions, Target};

pub use sink::{ArchiveSinks, BlockSink, SinkFactory};

/// COPY text is gathered into blocks of this size before it leaves the worker (a server
/// message is one row; compressing and writing per row would be slow).
pub const DEFAULT_BLOCK_SIZE: usize = 1 << 20;

/// The trailer pg_dump writes after a table's COPY rows (`\.` and three newlines; needed by
/// `pg_restore -f` script output).
pub const COPY_TRAILER: &[u8] = b"\\.\n\n\n";

/// One table to export.
#[derive(Debug, Clone)]
pub struct ExportJob {
    /// The caller's id for this job (the archive uses the TABLE DATA dump id).
    pub id: i32,
    pub table: TableData,
}

#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Worker connections.
    pub jobs: usize,
    pub block_size: usize,
    pub session: SessionOptions,
    /// Append pg_dump's `\.` trailer to each table's stream (archives need it).
    pub copy_trailer: bool,
    /// Write INSERT statements instead of COPY text (`--inserts` and friends).
    pub inserts: Option<InsertOptions>,
    /// Table OID → the table INSERTs name instead of the source (its partition root, with
    /// `--load-via-partition-root`).
    pub insert_into: HashMap<u32, String>,
    /// Export the jobs one at a time in the order given (a plain script prints each table's
    /// rows in its place) instead of largest first over `jobs` workers.
    pub in_order: bool,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            jobs: 2,
            block_size: DEFAULT_BLOCK_SIZE,
            session: SessionOptions::default(),
            copy_trailer: true,
            inserts: None,
            insert_into: HashMap::new(),
            in_order: false,
        }
    }
}

/// What one table's export did.
#[derive(Debug, Clone)]
pub struct TableReport {
    pub id: i32,
    pub table: String,
    pub rows: u64,
    /// COPY text bytes received.
    pub bytes: u64,
    /// Bytes the sink wrote (after compression).
    pub written: u64,
    pub elapsed: Duration,
}

/// Exports `jobs` in parallel under the snapshot `snapshot` (from `pg_export_snapshot()` of
/// a transaction the caller keeps open until this returns).
pub async fn export_tables(
    target: &Target,
    snapshot: &str,
    mut jobs: Vec<ExportJob>,
    sinks: Arc<dyn SinkFactory>,
    opts: &ExportOptions,
) -> Result<Vec<TableReport>> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    // Largest first, so the tail of the dump is not one big table (pg_dump's parallel
    // scheduling by relpages); ties by id for a stable order.
    if !opts.in_order {
        jobs.sort_by(|a, b| {
            b.table
                .estimated_pages
                .cmp(&a.table.estimated_pages)
                .then(a.id.cmp(&b.id))
        });
    }
    let workers = if opts.in_order {
        1
    } else {
        opts.jobs.clamp(1, jobs.len())
    };
    let queue = Arc::new(Mutex::new(VecDeque::from(jobs)));
    let failed = Arc::new(AtomicBool::new(false));
    let cancels: Arc<Mutex<Vec<CancelHandle>>> = Arc::new(Mutex::new(Vec::new()));
    let first_error: Arc<Mutex<Option<Error>>> = Arc::new(Mutex::new(None));

    let mut tasks = Vec::with_capacity(workers);
    for w in 0..workers {
        let target = target.clone();
        let snapshot = snapshot.to_string();
        let queue = queue.clone();
        let failed = failed.clone();
        let cancels = cancels.clone();
        let first_error = first_error.clone();
        let sinks = sinks.clone();
        let opts = opts.clone();
        // Workers quote names (INSERT column lists) as the caller's dump does.
        let style = crate::ddl::quote::style();
        tasks.push(tokio::spawn(async move {
            let work = worker(w, &target, &snapshot, &queue, &failed, &cancels, sinks.as_ref(), &opts);
            let result = crate::ddl::quote::with_style(style, work).await;
            match result {
                Ok(reports) => reports,
                Err(e) => {
                    // The first failure wins; the others are mostly "cancelled" echoes.
                    let mut slot = first_error.lock().await;
                    let is_first = !failed.swap(true, Ordering::SeqCst);
                    if is_first || slot.is_none() {
                        *slot = Some(e);
                    }
                    drop(slot);
                    for c in cancels.lock().await.iter() {
                        c.cancel().await;
                    }
                    Vec::new()
                }
            }
        }));
    }
    let mut reports = Vec::new();
    for t in tasks {
        match t.await {
            Ok(r) => reports.extend(r),
            Err(e) => {
                failed.store(true, Ordering::SeqCst);
                let mut slot = first_error.lock().await;
                if slot.is_none() {
                    *slot = Some(Error::internal(format!("export worker panicked: {e}")));
                }
            }
        }
    }
    if let Some(e) = first_error.lock().await.take() {
        return Err(e);
    }
    Ok(reports)
}

#[allow(clippy::too_many_arguments)]
async fn worker(
    w: usize,
    target: &Target,
    snapshot: &str,
    queue: &Mutex<VecDeque<ExportJob>>,
    failed: &AtomicBool,
    cancels: &Mutex<Vec<CancelHandle>>,
    sinks: &dyn SinkFactory,
    opts: &ExportOptions,
) -> Result<Vec<TableReport>> {
    let mut session = target.connect().await.map_err(|e| e.context(format!("worker {w}")))?;
    cancels.lock().await.push(session.cancel_handle());
    session.setup(&opts.session).await?;
    session.begin_snapshot_transaction().await?;
    session
        .import_snapshot(snapshot)
        .await
        .map_err(|e| e.context(format!("worker {w}: importing snapshot")))?;
    let mut reports = Vec::new();
    loop {
        if failed.load(Ordering::SeqCst) {
            break;
        }
        let Some(job) = queue.lock().await.pop_front() else {
            break;
        };
        let started = Instant::now();
        let what = format!("dumping data of table {}", job.table.qualified_name);
        let report = copy_one(&session, &job, sinks, opts, failed)
            .await
            .map_err(|e| e.context(what))?;
        tracing::info!(
            table = %job.table.qualified_name,
            rows = report.0,
            bytes = report.1,
            written = report.2,
            "table done in {:.2?}",
            started.elapsed()
        );
        reports.push(TableReport {
            id: job.id,
            table: job.table.qualified_name.clone(),
            rows: report.0,
            bytes: report.1,
            written: report.2,
            elapsed: started.elapsed(),
        });
    }
    let _ = session.execute("COMMIT").await;
    session.close().await;
    Ok(reports)
}

async fn copy_one(
    session: &crate::pg::Session,
    job: &ExportJob,
    sinks: &dyn SinkFactory,
    opts: &ExportOptions,
    failed: &AtomicBool,
) -> Result<(u64, u64, u64)> {
    if job.table.foreign {
        // Foreign tables are never locked (pg_dump locks plain and partitioned tables only);
        // reading one needs the foreign-table access the session otherwise restricts
        // (pg_dump.c `dumpTableData_copy`, `dumpTableData_insert`).
        session.restrict_relation_kinds("view").await?;
    } else {
        // The leader holds ACCESS SHARE already; NOWAIT turns a queued exclusive lock into an
        // immediate failure instead of an undetectable deadlock (pg_dump parallel.c).
        session.lock_table_nowait(&job.table.qualified_name).await?;
    }
    if let Some((schema, table)) = crate::ddl::quote::split_qualified(&job.table.qualified_name) {
        tracing::info!(target: "pgsnap::narrate", "dumping contents of table \"{schema}.{table}\"");
    }
    let sink = sinks.open(job)?;
    let done = match &opts.inserts {
        Some(inserts) => inserts::export_one(session, job, sink, opts, inserts, failed).await?,
        None => copy_text(session, job, sink, opts, failed).await?,
    };
    if job.table.foreign {
        session
            .restrict_relation_kinds(crate::pg::RESTRICTED_RELATION_KINDS)
            .await?;
    }
    Ok(done)
}

/// Streams the table's COPY text into `sink` in blocks; (rows, bytes read, bytes written).
async fn copy_text(
    session: &crate::pg::Session,
    job: &ExportJob,
    mut sink: Box<dyn BlockSink>,
    opts: &ExportOptions,
    failed: &AtomicBool,
) -> Result<(u64, u64, u64)> {
    let stream = session.copy_out(&job.table.copy_out_sql()).await?;
    futures_util::pin_mut!(stream);
    let (mut rows, mut bytes) = (0u64, 0u64);
    let mut block: Vec<u8> = Vec::with_capacity(opts.block_size);
    while let Some(chunk) = stream.next().await {
        if failed.load(Ordering::Relaxed) {
            return Err(Error::cancelled("stopped because another part of the dump failed"));
        }
        let chunk = chunk?;
        rows += 1;
        bytes += chunk.len() as u64;
        block.extend_from_slice(&chunk);
        if block.len() >= opts.block_size {
            let full = std::mem::replace(&mut block, Vec::with_capacity(opts.block_size));
            sink = push_block(sink, full).await?;
        }
    }
    if opts.copy_trailer {
        block.extend_from_slice(COPY_TRAILER);
    }
    let written = off_runtime(move || {
        if !block.is_empty() {
            sink.push(block)?;
        }
        sink.finish()
    })
    .await?;
    Ok((rows, bytes, written))
}

/// Hands a block to the sink, which may block for back-pressure (its queue is bounded).
async fn push_block(mut sink: Box<dyn BlockSink>, block: Vec<u8>) -> Result<Box<dyn BlockSink>> {
    off_runtime(move || sink.push(block).map(|()| sink)).await
}

/// Runs blocking sink work on tokio's blocking pool, so the runtime's tasks (the other
/// workers' COPY streams) keep running, whichever runtime flavour the caller uses.
async fn off_runtime<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::internal(format!("sink task failed: {e}")))?
}

/// Fails with a clear error when a job list names the same table twice (one TABLE DATA per
/// table: two would race under `pg_restore -j`, see archive-format.md §8.4).
pub fn check_unique(jobs: &[ExportJob]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for j in jobs {
        if !seen.insert(j.table.table_oid) {
            return Err(Error::new(
                ErrorKind::Internal,
                format!("table {} listed twice", j.table.qualified_name),
            ));
        }
    }
    Ok(())
}
