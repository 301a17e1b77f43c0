//! The parallel data phase: N worker connections bound to one exported snapshot, work handed
//! out largest first, `COPY ... TO STDOUT` streamed in bounded blocks to a sink per table.
//!
//! A job is a table, or a `ctid` page range of a large one: tables of at least
//! [`ExportOptions::split_pages`] pages (measured under the snapshot) are read by several
//! workers at once, each range a TID range scan (PostgreSQL 14+), and the ranges are put back
//! in order into the table's one sink ([`split`]). Each worker runs on a thread of its own
//! (its session, COPY loop and sink calls: see `on_own_thread`), awaited through a
//! [`JoinSet`]: the first error cancels the others (server-side cancel included) and fails the
//! export with that error; dropping the export's future cancels every worker through the
//! export's token, which drops their sinks unfinished and cancels their queries.

pub mod fake;
pub mod inserts;
pub mod large_objects;
pub mod sink;
pub mod source;
mod split;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::{Mutex, OnceCell};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::archive::spool::SpoolDir;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{InsertOptions, TableData};
use crate::pg::{CancelHandle, SessionOptions, Target};
pub use crate::progress::{Event, NoProgress, PageRange, Progress};

pub use sink::{ArchiveSinks, BlockSink, SinkFactory};
use source::{CopyRequest, CopySource, PgSource, RelationSizes, TableReader};
use split::SplitTable;

/// COPY text is gathered into blocks of this size before it leaves the worker (a server
/// message is one row; compressing and writing per row would be slow).
pub const DEFAULT_BLOCK_SIZE: usize = 1 << 20;

/// Tables with at least this many main-fork pages are split across workers (64 MiB at the
/// default 8 kB block size): below that, one worker reads a table faster than the others
/// could help.
pub const DEFAULT_SPLIT_PAGES: u64 = 8192;

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
    /// Plain tables with at least this many pages (under the snapshot) are read as several
    /// `ctid` ranges by different workers, when there are two workers or more and the server
    /// is 14 or later (TID range scans); 0 never splits.
    pub split_pages: u64,
    /// Where ranges read before their turn are spooled: beside this path (the output), or in
    /// the system's temporary directory.
    pub spool_beside: Option<PathBuf>,
    /// Seal spool files (the archive is encrypted: no table data reaches the disk in clear).
    pub spool_sealed: bool,
    /// Receives progress events.
    pub progress: Arc<dyn Progress>,
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
            split_pages: DEFAULT_SPLIT_PAGES,
            spool_beside: None,
            spool_sealed: false,
            progress: Arc::new(NoProgress),
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
    /// Page ranges it was read in (1: not split).
    pub parts: usize,
}

/// One unit of work: a table, or one page range of a split table.
struct Work {
    job: Arc<ExportJob>,
    range: Option<Range>,
    /// The table's main-fork pages and bytes (measured under the snapshot, or the catalog's
    /// estimate), for progress.
    pages: u64,
    estimated_bytes: u64,
}

struct Range {
    index: usize,
    pages: PageRange,
    table: Arc<SplitTable>,
}

/// State shared by the workers of one export.
struct Shared<S> {
    source: S,
    opts: ExportOptions,
    sinks: Arc<dyn SinkFactory>,
    /// Filled once, by the first worker inside the snapshot (range planning needs a session).
    queue: Mutex<VecDeque<Work>>,
    planned: OnceCell<()>,
    jobs: StdMutex<Option<Vec<ExportJob>>>,
    workers: usize,
    failed: AtomicBool,
    cancels: StdMutex<Vec<CancelHandle>>,
    cancel: CancellationToken,
}

/// Exports `jobs` in parallel under the snapshot `snapshot` (from `pg_export_snapshot()` of
/// a transaction the caller keeps open until this returns). Dropping the returned future
/// aborts every worker, cancels their queries on the server and drops their sinks unfinished.
pub async fn export_tables(
    target: &Target,
    snapshot: &str,
    jobs: Vec<ExportJob>,
    sinks: Arc<dyn SinkFactory>,
    opts: &ExportOptions,
) -> Result<Vec<TableReport>> {
    let source = PgSource {
        target: target.clone(),
        snapshot: snapshot.to_string(),
        session: opts.session.clone(),
    };
    export_from(source, jobs, sinks, opts).await
}

/// [`export_tables`] reading from any [`CopySource`] (a fake one in tests and benchmarks).
pub async fn export_from<S: CopySource>(
    source: S,
    mut jobs: Vec<ExportJob>,
    sinks: Arc<dyn SinkFactory>,
    opts: &ExportOptions,
) -> Result<Vec<TableReport>> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    check_unique_ids(&jobs)?;
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
    // More workers than tables only when a table may be split (the catalog's estimate is a
    // hint; the size is measured under the snapshot before splitting).
    let could_split = !opts.in_order
        && opts.split_pages > 0
        && opts.inserts.is_none()
        && jobs
            .iter()
            .any(|j| splittable(&j.table) && j.table.estimated_pages.max(0) as u64 >= opts.split_pages / 2);
    let workers = if opts.in_order {
        1
    } else if could_split {
        opts.jobs.max(1)
    } else {
        opts.jobs.clamp(1, jobs.len())
    };
    let shared = Arc::new(Shared {
        source,
        opts: opts.clone(),
        sinks,
        queue: Mutex::new(VecDeque::new()),
        planned: OnceCell::new(),
        jobs: StdMutex::new(Some(jobs)),
        workers,
        failed: AtomicBool::new(false),
        cancels: StdMutex::new(Vec::new()),
        cancel: CancellationToken::new(),
    });
    // Dropped with this future (a caller's timeout, a stopped job): wakes every worker
    // still waiting; the JoinSet's drop aborts them.
    let _stop_on_drop = shared.cancel.clone().drop_guard();
    // Workers quote names (INSERT column lists) as the caller's dump does.
    let style = crate::ddl::quote::style();
    let mut set = JoinSet::new();
    for w in 0..workers {
        let shared = shared.clone();
        set.spawn(async move {
            let inner = shared.clone();
            let result = on_own_thread(w, async move {
                let token = inner.cancel.clone();
                let work = crate::ddl::quote::with_style(style, worker(w, &inner));
                let result = tokio::select! {
                    r = work => r,
                    () = token.cancelled() => Err(Error::cancelled("stopped because another part of the dump failed")),
                };
                if result.is_err() {
                    stop_all(&inner).await;
                }
                result
            })
            .await;
            if result.is_err() {
                // A worker thread that panicked could not stop the others itself.
                stop_all(&shared).await;
            }
            result
        });
    }
    let mut first_error: Option<Error> = None;
    let mut parts: Vec<TableReport> = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok(r)) => parts.extend(r),
            Ok(Err(e)) => {
                // The first real failure wins; the others are mostly "cancelled" echoes.
                let replace = match &first_error {
                    None => true,
                    Some(prev) => prev.kind() == ErrorKind::Cancelled && e.kind() != ErrorKind::Cancelled,
                };
                if replace {
                    first_error = Some(e);
                }
            }
            Err(e) => {
                stop_all(&shared).await;
                if first_error.is_none() {
                    first_error = Some(Error::internal(format!("export worker panicked: {e}")));
                }
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    Ok(merge_reports(parts))
}

/// Runs worker `w` on a thread of its own under a single-threaded runtime. The worker's
/// session connects there, so tokio-postgres's connection task (which reads the socket and
/// hands over about 8 KiB of messages at a time) and the COPY loop consuming them share one
/// thread: on a multi-threaded runtime every hand-off could be a wake-up across threads,
/// which cost 15 % of a 1 GB `-Z 0` dump's wall time on 2 cores. The future is moved to the
/// thread and finishes there even when the caller stops waiting (the export's cancellation
/// token makes it return at once); its cancel requests run before the thread ends.
async fn on_own_thread<T: Send + 'static>(
    w: usize,
    work: impl std::future::Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(format!("pgsnap-worker-{w}"))
        .spawn(move || {
            let result = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt.block_on(work),
                Err(e) => Err(Error::io("starting a worker's runtime", e)),
            };
            let _ = tx.send(result);
        })
        .map_err(|e| Error::io("starting a worker thread", e))?;
    rx.await
        .map_err(|_| Error::internal(format!("export worker {w} panicked")))?
}

/// Marks the export failed, wakes every worker and cancels what the server runs for them.
async fn stop_all<S>(shared: &Shared<S>) {
    if shared.failed.swap(true, Ordering::SeqCst) {
        return;
    }
    shared.cancel.cancel();
    let handles: Vec<CancelHandle> = shared.cancels.lock().unwrap_or_else(|p| p.into_inner()).clone();
    futures_util::future::join_all(handles.iter().map(CancelHandle::cancel)).await;
}

/// One report per table: a split table's ranges summed.
fn merge_reports(parts: Vec<TableReport>) -> Vec<TableReport> {
    let mut order: Vec<i32> = Vec::new();
    let mut by_id: HashMap<i32, TableReport> = HashMap::new();
    for p in parts {
        match by_id.get_mut(&p.id) {
            Some(t) => {
                t.rows += p.rows;
                t.bytes += p.bytes;
                t.written += p.written;
                t.elapsed = t.elapsed.max(p.elapsed);
            }
            None => {
                order.push(p.id);
                by_id.insert(p.id, p);
            }
        }
    }
    order.into_iter().filter_map(|id| by_id.remove(&id)).collect()
}

/// Sends a cancel request for its session when dropped armed: a worker aborted mid-COPY (its
/// future dropped) would otherwise leave the server streaming the rest of the table into a
/// closed socket.
struct CancelOnDrop(Option<CancelHandle>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(h) = self.0.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move { h.cancel().await });
        }
    }
}

async fn worker<S: CopySource>(w: usize, shared: &Shared<S>) -> Result<Vec<TableReport>> {
    let reader = shared.source.open(w).await?;
    let mut guard = CancelOnDrop(reader.cancel_handle());
    if let Some(h) = reader.cancel_handle() {
        shared.cancels.lock().unwrap_or_else(|p| p.into_inner()).push(h);
    }
    shared.planned.get_or_try_init(|| plan_queue(shared, &reader)).await?;
    let mut reports = Vec::new();
    // Small tables whose requests went to the server ahead, next first.
    let mut mine: VecDeque<Work> = VecDeque::new();
    loop {
        if shared.failed.load(Ordering::SeqCst) {
            break;
        }
        let work = match mine.pop_front() {
            Some(w) => w,
            None => {
                let Some(work) = take_work(shared, &mut mine).await else {
                    break;
                };
                if !mine.is_empty() {
                    send_ahead(&reader, &work, &mine, &shared.opts).await?;
                }
                work
            }
        };
        let started = Instant::now();
        let what = format!("dumping data of table {}", work.job.table.qualified_name);
        let report = copy_one(&reader, w, &work, shared).await.map_err(|e| e.context(what))?;
        tracing::info!(
            table = %work.job.table.qualified_name,
            part = work.range.as_ref().map(|r| r.index),
            rows = report.0,
            bytes = report.1,
            written = report.2,
            "table done in {:.2?}",
            started.elapsed()
        );
        reports.push(TableReport {
            id: work.job.id,
            table: work.job.table.qualified_name.clone(),
            rows: report.0,
            bytes: report.1,
            written: report.2,
            elapsed: started.elapsed(),
            parts: work.range.as_ref().map_or(1, |r| r.table.parts()),
        });
    }
    guard.0 = None;
    reader.close().await;
    Ok(reports)
}

/// A table small enough that its COPY's round trip is a good part of its cost: several go to
/// the server in one batch (see [`send_ahead`]).
const AHEAD_TABLE_BYTES: u64 = 64 << 10;

/// At most this many tables, and this many (estimated) bytes, in one batch: the server runs
/// ahead of the worker by about a batch, and a batch is taken whole by one worker.
const AHEAD_TABLES: usize = 64;
const AHEAD_BYTES: u64 = 1 << 20;

/// Whether `work` may be sent ahead with others: a whole, small, plain table read by COPY.
fn goes_ahead(work: &Work, opts: &ExportOptions) -> bool {
    work.range.is_none()
        && opts.inserts.is_none()
        && !work.job.table.foreign
        && work.estimated_bytes <= AHEAD_TABLE_BYTES
}

/// The next work from the queue; when it is a small table, the small tables after it (up to a
/// batch) go into `mine` too.
async fn take_work<S>(shared: &Shared<S>, mine: &mut VecDeque<Work>) -> Option<Work> {
    let mut queue = shared.queue.lock().await;
    let first = queue.pop_front()?;
    if goes_ahead(&first, &shared.opts) {
        let mut bytes = first.estimated_bytes;
        while mine.len() + 1 < AHEAD_TABLES
            && let Some(next) = queue.front()
            && goes_ahead(next, &shared.opts)
            && bytes + next.estimated_bytes <= AHEAD_BYTES
        {
            bytes += next.estimated_bytes;
            mine.extend(queue.pop_front());
        }
    }
    Some(first)
}

/// Sends the requests of `first` and then `rest` in one go: a worker dumping thousands of
/// small tables otherwise waits a round trip for each, and the server and the worker wake
/// each other twice per table (measured on 5 000 tables of 20 rows: the server's CPU for
/// their lock and COPY went from 0.69 to 0.45 s).
async fn send_ahead<R: TableReader>(
    reader: &R,
    first: &Work,
    rest: &VecDeque<Work>,
    opts: &ExportOptions,
) -> Result<()> {
    let sqls: Vec<String> = std::iter::once(first)
        .chain(rest)
        .map(|w| w.job.table.copy_out_sql())
        .collect();
    let reqs: Vec<CopyRequest<'_>> = std::iter::once(first)
        .chain(rest)
        .zip(&sqls)
        .map(|(w, sql)| CopyRequest {
            table: &w.job.table,
            range: None,
            sql,
            chunk_bytes: opts.block_size,
        })
        .collect();
    reader
        .send_ahead(&reqs)
        .await
        .map_err(|e| e.context(format!("sending the COPY requests of {} tables", reqs.len())))
}

/// Builds the work queue: tables in the order given, a large table replaced by its page
/// ranges in page order (workers take them in that order, so the ranges waiting for their
/// turn stay few).
async fn plan_queue<S: CopySource>(shared: &Shared<S>, reader: &S::Reader) -> Result<()> {
    let jobs = shared
        .jobs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .unwrap_or_default();
    let opts = &shared.opts;
    let may_split = !opts.in_order
        && shared.workers > 1
        && opts.split_pages > 0
        && opts.inserts.is_none()
        && reader.ranges_supported();
    // Tables that may be large are measured (one query) for the split decision and the
    // progress estimate: those the catalog estimates at 1/8 of the split size or more, and
    // those it knows nothing of (relpages 0: never vacuumed or analyzed, maybe just loaded).
    // The rest keep the estimate: measuring costs a stat() per table on the server, 0.13 s
    // of a 10 000-table dump.
    let oids: Vec<u32> = jobs
        .iter()
        .filter(|j| j.table.table_oid != 0)
        .filter(|j| {
            let est = j.table.estimated_pages.max(0) as u64;
            est == 0 || est >= opts.split_pages / 8
        })
        .map(|j| j.table.table_oid)
        .collect();
    let RelationSizes {
        block_size,
        pages: sizes,
        shared_buffers,
    } = if oids.is_empty() {
        RelationSizes {
            block_size: DEFAULT_PAGE_BYTES,
            ..RelationSizes::default()
        }
    } else {
        reader.relation_sizes(&oids).await?
    };
    let mut spool: Option<Arc<SpoolDir>> = None;
    let mut queue = VecDeque::new();
    let mut sized: Vec<(u64, ExportJob)> = jobs
        .into_iter()
        .map(|j| {
            let pages = sizes
                .get(&j.table.table_oid)
                .copied()
                .unwrap_or(j.table.estimated_pages.max(0) as u64);
            (pages, j)
        })
        .collect();
    opts.progress.event(&Event::Planned {
        tables: sized.len(),
        estimated_bytes: sized.iter().map(|(pages, _)| pages * block_size).sum(),
    });
    if !opts.in_order {
        // The measured size wins over the catalog's estimate (relpages lags behind loads).
        sized.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.id.cmp(&b.1.id)));
    }
    for (pages, job) in sized {
        let job = Arc::new(job);
        let estimated_bytes = pages * block_size;
        let ranges = match sizes.get(&job.table.table_oid) {
            Some(&p) if may_split && splittable(&job.table) && p >= opts.split_pages => {
                page_ranges(p, opts.split_pages, shared.workers, block_size)
            }
            _ => Vec::new(),
        };
        if ranges.len() < 2 {
            queue.push_back(Work {
                job,
                range: None,
                pages,
                estimated_bytes,
            });
            continue;
        }
        let spool = match &spool {
            Some(s) => s.clone(),
            None => {
                let s = Arc::new(spool_dir(opts, shared.workers)?);
                spool = Some(s.clone());
                s
            }
        };
        tracing::debug!(table = %job.table.qualified_name, pages, parts = ranges.len(), "split into page ranges");
        if beyond_ring(pages, shared_buffers)
            && let Some((schema, table)) = crate::ddl::quote::split_qualified(&job.table.qualified_name)
        {
            tracing::info!(
                target: "pgsnap::narrate",
                "reading table \"{schema}.{table}\" as {} page ranges: larger than a quarter of shared_buffers, \
                 its pages pass through the server's whole buffer cache (see --split-tables-larger-than)",
                ranges.len()
            );
        }
        let table = Arc::new(SplitTable::new(ranges.len(), opts.block_size, spool));
        for (index, range) in ranges.into_iter().enumerate() {
            queue.push_back(Work {
                job: job.clone(),
                range: Some(Range {
                    index,
                    pages: range,
                    table: table.clone(),
                }),
                pages,
                estimated_bytes,
            });
        }
    }
    *shared.queue.lock().await = queue;
    Ok(())
}

/// Whether a split table of `pages` passes through the server's whole buffer cache where a
/// sequential scan would not: PostgreSQL gives a sequential scan of a table larger than a
/// quarter of `shared_buffers` a small bulk-read ring (heapam's `initscan`), and a TID range
/// scan never (`table_beginscan_tidrange` does not allow one).
fn beyond_ring(pages: u64, shared_buffers: Option<u64>) -> bool {
    shared_buffers.is_some_and(|buffers| pages > buffers / 4)
}

/// Whether a table's rows can be read by `ctid` ranges: a plain table read by a plain COPY
/// (foreign tables have no ctid to scan by; a filtered extension table is small).
fn splittable(t: &TableData) -> bool {
    !t.foreign && t.table_oid != 0 && t.filter.as_deref().is_none_or(str::is_empty)
}

/// The directory the split tables' ranges spool in: beside the output, sealed for an
/// encrypted archive, holding in memory what [`spool_memory`] allows.
fn spool_dir(opts: &ExportOptions, workers: usize) -> Result<SpoolDir> {
    Ok(SpoolDir::create_sealed(opts.spool_beside.as_deref(), opts.spool_sealed)?.with_memory(spool_memory(workers)))
}

/// What the ranges' spools may keep in memory: a whole range at `-j 2`, less as each further
/// worker adds blocks of its own in flight (peak memory stays within 64 MB at `-j 8`), none
/// from `-j 6` (measured: 8 MiB held at `-j 8` took the peak from 62 to 73 MB).
fn spool_memory(workers: usize) -> usize {
    (MAX_RANGE_BYTES as usize).saturating_sub(workers.saturating_sub(2) * (2 << 20))
}

/// PostgreSQL's default block size, for estimates where no server said otherwise.
pub(crate) const DEFAULT_PAGE_BYTES: u64 = 8192;

/// The most heap one range reads. A range read ahead of its turn is spooled: at `-j 2` it is
/// held in memory whole ([`spool_memory`]), and a spool that does spill is a file of a few MiB,
/// read back and deleted within seconds, usually before the kernel writes it out. Ranges of a
/// sixteenth of a large table (as before) spooled gigabytes each at `-j 4`: more than the
/// kernel keeps dirty, so written to the disk twice, and as much free space needed beside the
/// output. A COPY per 8 MiB costs the server well under a millisecond.
pub(crate) const MAX_RANGE_BYTES: u64 = 8 << 20;

/// Splits `pages` (of `page_bytes`) into ranges for `workers`: about four per worker (so a
/// worker that finishes early takes another), none under half the split threshold, none over
/// [`MAX_RANGE_BYTES`]. The last range has no end: rows on pages added since the size was
/// read are still read (and the snapshot decides which are visible).
pub(crate) fn page_ranges(pages: u64, split_pages: u64, workers: usize, page_bytes: u64) -> Vec<PageRange> {
    let most = (MAX_RANGE_BYTES / page_bytes.max(1)).max(1);
    let per = (pages.div_ceil(4 * workers.max(1) as u64))
        .max(split_pages / 2)
        .min(most)
        .max(1);
    let mut out = Vec::new();
    let mut from = 0;
    while from + per < pages {
        out.push(PageRange {
            from,
            to: Some(from + per),
        });
        from += per;
    }
    out.push(PageRange { from, to: None });
    out
}

/// `COPY (SELECT cols FROM ONLY t WHERE ctid ...) TO stdout;` for one range: a TID range scan
/// on 14+ (`ONLY`: a plain `COPY t` never reads inheritance children either).
fn range_copy_sql(t: &TableData, r: PageRange) -> String {
    let cols = if t.columns.is_empty() { "*" } else { t.columns.as_str() };
    let mut conds = Vec::new();
    if r.from > 0 {
        conds.push(format!("ctid >= '({},0)'::pg_catalog.tid", r.from));
    }
    if let Some(to) = r.to {
        conds.push(format!("ctid < '({to},0)'::pg_catalog.tid"));
    }
    let filter = if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    };
    format!("COPY (SELECT {cols} FROM ONLY {}{filter}) TO stdout;", t.qualified_name)
}

/// Emits a piece event for every block a job's sink takes.
struct Watched {
    inner: Box<dyn BlockSink>,
    progress: Arc<dyn Progress>,
    id: i32,
    table: String,
    worker: usize,
    range: Option<PageRange>,
}

impl BlockSink for Watched {
    fn push(&mut self, block: Vec<u8>) -> Result<()> {
        let bytes = block.len() as u64;
        self.inner.push(block)?;
        self.progress.event(&Event::PieceWritten {
            id: self.id,
            table: self.table.clone(),
            worker: self.worker,
            range: self.range,
            bytes,
        });
        Ok(())
    }
    fn rows(&mut self, rows: u64) {
        self.inner.rows(rows)
    }
    fn finish(self: Box<Self>) -> Result<u64> {
        self.inner.finish()
    }
}

async fn copy_one<S: CopySource>(
    reader: &S::Reader,
    worker: usize,
    work: &Work,
    shared: &Shared<S>,
) -> Result<(u64, u64, u64)> {
    let job = &work.job;
    let opts = &shared.opts;
    let announce = || {
        if let Some((schema, table)) = crate::ddl::quote::split_qualified(&job.table.qualified_name) {
            tracing::info!(target: "pgsnap::narrate", "dumping contents of table \"{schema}.{table}\"");
        }
        opts.progress.event(&Event::TableStarted {
            id: job.id,
            table: job.table.qualified_name.clone(),
            parts: work.range.as_ref().map_or(1, |r| r.table.parts()),
            pages: work.pages,
            estimated_bytes: work.estimated_bytes,
        });
    };
    match &work.range {
        None => announce(),
        Some(r) => {
            // The first range announces its table while holding the lock: another worker's
            // range cannot report its start before the table's.
            let mut started = r.table.started.lock().unwrap_or_else(|p| p.into_inner());
            if started.is_none() {
                *started = Some(Instant::now());
                announce();
            }
        }
    }
    let range = work.range.as_ref().map(|r| r.pages);
    opts.progress.event(&Event::PartStarted {
        id: job.id,
        table: job.table.qualified_name.clone(),
        worker,
        range,
    });
    let started = Instant::now();
    let sink = match &work.range {
        None => shared.sinks.open(job)?,
        Some(r) => r.table.open_part(r.index, || shared.sinks.open(job))?,
    };
    let sink: Box<dyn BlockSink> = Box::new(Watched {
        inner: sink,
        progress: opts.progress.clone(),
        id: job.id,
        table: job.table.qualified_name.clone(),
        worker,
        range,
    });
    let done = match (&opts.inserts, &work.range) {
        (Some(inserts), _) => {
            let session = reader
                .session()
                .ok_or_else(|| Error::internal("INSERT output needs a server session"))?;
            reader.begin_table(&job.table).await?;
            inserts::export_one(session, job, sink, opts, inserts, &shared.failed).await?
        }
        (None, None) => {
            let sql = job.table.copy_out_sql();
            let req = CopyRequest {
                table: &job.table,
                range: None,
                sql: &sql,
                chunk_bytes: opts.block_size,
            };
            copy_text(reader, req, sink, opts.copy_trailer, opts, &shared.failed).await?
        }
        (None, Some(r)) => {
            // Only the last range ends the table's stream with the trailer.
            let last = r.index + 1 == r.table.parts();
            let sql = range_copy_sql(&job.table, r.pages);
            let req = CopyRequest {
                table: &job.table,
                range: Some(r.pages),
                sql: &sql,
                chunk_bytes: opts.block_size,
            };
            copy_text(reader, req, sink, opts.copy_trailer && last, opts, &shared.failed).await?
        }
    };
    reader.end_table(&job.table).await?;
    opts.progress.event(&Event::PartFinished {
        id: job.id,
        table: job.table.qualified_name.clone(),
        worker,
        range,
        rows: done.0,
        bytes: done.1,
    });
    let finished = match &work.range {
        None => Some((done.0, done.1, done.2, started.elapsed())),
        Some(r) => r.table.part_done(done.1),
    };
    if let Some((rows, bytes, written, elapsed)) = finished {
        opts.progress.event(&Event::TableFinished {
            id: job.id,
            table: job.table.qualified_name.clone(),
            rows,
            bytes,
            written,
            elapsed,
        });
    }
    Ok(done)
}

/// Streams the COPY text of `sql` into `sink` in blocks; (rows, bytes read, bytes written).
async fn copy_text<R: TableReader>(
    reader: &R,
    req: CopyRequest<'_>,
    mut sink: Box<dyn BlockSink>,
    trailer: bool,
    opts: &ExportOptions,
    failed: &AtomicBool,
) -> Result<(u64, u64, u64)> {
    let stream = reader.copy_out(req).await?;
    futures_util::pin_mut!(stream);
    let (mut rows, mut bytes) = (0u64, 0u64);
    let mut block: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        if failed.load(Ordering::Relaxed) {
            return Err(Error::cancelled("stopped because another part of the dump failed"));
        }
        let chunk = chunk?;
        rows += chunk.rows;
        bytes += chunk.data.len() as u64;
        // A block is handed on before a chunk would overflow it: growing it would double its
        // allocation and copy it (a row longer than a block gets one of its own).
        if block.len() + chunk.data.len() > opts.block_size && !block.is_empty() {
            // May wait for back-pressure: only this worker's thread waits (its connection
            // stops reading, and the server's socket fills), see `on_own_thread`.
            sink.push(std::mem::take(&mut block))?;
        }
        if block.is_empty() && chunk.data.capacity() >= opts.block_size {
            // A server's chunk is a block already: no copy.
            block = chunk.data;
        } else {
            if block.is_empty() {
                block.reserve(opts.block_size);
            }
            block.extend_from_slice(&chunk.data);
        }
    }
    if trailer {
        block.extend_from_slice(COPY_TRAILER);
    }
    if !block.is_empty() {
        sink.push(block)?;
    }
    sink.rows(rows);
    let written = sink.finish()?;
    Ok((rows, bytes, written))
}

/// Fails when two jobs share an id: each id opens its sink once (a table may be listed twice
/// under different ids, e.g. into two sinks of a library caller).
fn check_unique_ids(jobs: &[ExportJob]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for j in jobs {
        if !seen.insert(j.id) {
            return Err(Error::new(
                ErrorKind::Internal,
                format!("job id {} ({}) listed twice", j.id, j.table.qualified_name),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod fake_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn covers(ranges: &[PageRange], pages: u64) {
        assert_eq!(ranges[0].from, 0);
        for w in ranges.windows(2) {
            assert_eq!(w[0].to, Some(w[1].from), "{ranges:?}");
            assert!(w[0].from < w[1].from);
        }
        let last = ranges.last().unwrap();
        assert_eq!(last.to, None, "the last range is open-ended");
        assert!(last.from < pages.max(1));
    }

    #[test]
    fn split_ranges_spool_sealed_for_an_encrypted_archive() {
        // What dump.rs sets for an archive with an encrypting layer; the spool's file then
        // holds no plaintext (a range read ahead of its turn, spilled past the memory budget).
        let base = tempfile::tempdir().unwrap();
        let row = b"4111-1111-1111-1111\tsecret row\n".repeat(100);
        for sealed in [false, true] {
            let opts = ExportOptions {
                spool_beside: Some(base.path().join("out")),
                spool_sealed: sealed,
                ..ExportOptions::default()
            };
            let dir = spool_dir(&opts, 2).unwrap().with_memory(0);
            let mut s = dir.file("range").unwrap();
            s.write_owned(row.clone()).unwrap();
            drop(s.close().unwrap_or_else(|e| panic!("{e}")));
            let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
            assert!(files.is_empty(), "a closed spool dropped unread leaves no file");
            let mut s = dir.file("range").unwrap();
            s.write_owned(row.clone()).unwrap();
            let _done = s.close().unwrap();
            let file = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
            let raw = std::fs::read(file).unwrap();
            assert_eq!(
                raw.windows(19).any(|w| w == b"4111-1111-1111-1111"),
                !sealed,
                "sealed {sealed}"
            );
        }
    }

    #[test]
    fn ranges_adapt_to_size_and_workers_and_end_open() {
        let page = DEFAULT_PAGE_BYTES;
        let most = MAX_RANGE_BYTES / page;
        // 300 MB at -j 2: ranges of the largest size, each a spool's memory can hold.
        let r = page_ranges(38_400, DEFAULT_SPLIT_PAGES, 2, page);
        covers(&r, 38_400);
        assert_eq!(r.len(), 38);
        assert!(r[..r.len() - 1].iter().all(|x| x.to.unwrap() - x.from == most));
        // Larger pages, fewer of them per range.
        let r = page_ranges(38_400, DEFAULT_SPLIT_PAGES, 2, 32_768);
        covers(&r, 38_400);
        assert!(r[..r.len() - 1].iter().all(|x| x.to.unwrap() - x.from == most / 4));
        // A huge table at -j 8: still the largest size.
        let r = page_ranges(10_000_000, DEFAULT_SPLIT_PAGES, 8, page);
        covers(&r, 10_000_000);
        assert_eq!(r.len() as u64, 10_000_000_u64.div_ceil(most));
        // A small threshold (a caller's choice): about four ranges per worker, none under half
        // the threshold.
        let r = page_ranges(400, 8, 2, page);
        covers(&r, 400);
        assert_eq!(r.len(), 8);
        assert!(r[..r.len() - 1].iter().all(|x| x.to.unwrap() - x.from == 50));
        let r = page_ranges(40, 16, 4, page);
        covers(&r, 40);
        assert!(r[..r.len() - 1].iter().all(|x| x.to.unwrap() - x.from == 8));
        // A range read ahead fits in memory at -j 2; the memory shrinks as workers grow.
        assert_eq!(spool_memory(1), MAX_RANGE_BYTES as usize);
        assert_eq!(spool_memory(2), MAX_RANGE_BYTES as usize);
        assert_eq!(spool_memory(4), 4 << 20);
        assert_eq!(spool_memory(6), 0);
        assert_eq!(spool_memory(64), 0);
        // Tiny tables with a tiny threshold still get whole ranges.
        let r = page_ranges(3, 1, 4, page);
        covers(&r, 3);
        assert_eq!(r.len(), 3);
        let r = page_ranges(1, 1, 4, page);
        assert_eq!(r, vec![PageRange { from: 0, to: None }]);
    }

    fn table(columns: &str) -> TableData {
        TableData {
            qualified_name: "public.\"Big\"".into(),
            columns: columns.into(),
            estimated_pages: 0,
            table_oid: 1,
            foreign: false,
            filter: None,
        }
    }

    #[test]
    fn range_queries_are_tid_range_scans_of_the_table_only() {
        let t = table("id, \"v\"");
        assert_eq!(
            range_copy_sql(&t, PageRange { from: 0, to: Some(10) }),
            "COPY (SELECT id, \"v\" FROM ONLY public.\"Big\" WHERE ctid < '(10,0)'::pg_catalog.tid) TO stdout;"
        );
        assert_eq!(
            range_copy_sql(&t, PageRange { from: 10, to: Some(20) }),
            "COPY (SELECT id, \"v\" FROM ONLY public.\"Big\" WHERE ctid >= '(10,0)'::pg_catalog.tid AND ctid < '(20,0)'::pg_catalog.tid) TO stdout;"
        );
        assert_eq!(
            range_copy_sql(&table(""), PageRange { from: 20, to: None }),
            "COPY (SELECT * FROM ONLY public.\"Big\" WHERE ctid >= '(20,0)'::pg_catalog.tid) TO stdout;"
        );
    }

    #[test]
    fn tables_over_a_quarter_of_shared_buffers_bypass_the_ring() {
        assert!(!beyond_ring(1_000_000, None), "unknown: no claim");
        assert!(
            !beyond_ring(8192, Some(32768)),
            "exactly a quarter: the scan gets no ring either"
        );
        assert!(beyond_ring(8193, Some(32768)));
        assert!(beyond_ring(1, Some(0)));
    }

    #[test]
    fn only_plain_unfiltered_tables_split() {
        assert!(splittable(&table("a")));
        assert!(!splittable(&TableData {
            foreign: true,
            ..table("a")
        }));
        assert!(!splittable(&TableData {
            filter: Some("WHERE x".into()),
            ..table("a")
        }));
    }

    #[test]
    fn split_reports_merge_into_one_per_table() {
        let r = |id, rows, written, ms| TableReport {
            id,
            table: format!("t{id}"),
            rows,
            bytes: rows * 10,
            written,
            elapsed: Duration::from_millis(ms),
            parts: if id == 1 { 3 } else { 1 },
        };
        let merged = merge_reports(vec![r(1, 5, 0, 10), r(2, 7, 70, 5), r(1, 6, 0, 30), r(1, 1, 90, 20)]);
        assert_eq!(merged.len(), 2);
        assert_eq!(
            (merged[0].id, merged[0].rows, merged[0].bytes, merged[0].written),
            (1, 12, 120, 90)
        );
        assert_eq!(merged[0].elapsed, Duration::from_millis(30));
        assert_eq!((merged[1].id, merged[1].rows), (2, 7));
    }
}
