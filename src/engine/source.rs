//! Where the workers read table data: the [`CopySource`] seam. In a dump it is [`PgSource`],
//! one server session per worker inside the exported snapshot; in unit tests and
//! micro-benchmarks it is a [`super::fake::FakeSource`] producing synthetic COPY rows, so the
//! engine's scheduling, splitting, ordering, cancellation and error paths run without a
//! server.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Mutex;

use futures_util::Stream;

use crate::error::Result;
use crate::model::TableData;
use crate::pg::{CancelHandle, CopyChunk, Session, SessionOptions, Target};
use crate::progress::PageRange;

/// One COPY a worker runs: the table, the page range (`None`: the whole table), and the SQL a
/// server runs for it.
#[derive(Debug, Clone, Copy)]
pub struct CopyRequest<'a> {
    pub table: &'a TableData,
    pub range: Option<PageRange>,
    pub sql: &'a str,
    /// The size of the engine's blocks: chunks are at most this long, but for a longer row.
    pub chunk_bytes: usize,
}

/// What [`TableReader::relation_sizes`] measured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelationSizes {
    /// The server's block size, in bytes.
    pub block_size: u64,
    /// Main-fork pages by table OID.
    pub pages: HashMap<u32, u64>,
    /// `shared_buffers`, in buffers (one page each), where the server said.
    pub shared_buffers: Option<u64>,
}

/// Opens one reader per worker.
pub trait CopySource: Send + Sync + 'static {
    type Reader: TableReader;
    /// Worker `worker`'s reader, ready to read under the export's snapshot.
    fn open(&self, worker: usize) -> impl Future<Output = Result<Self::Reader>> + Send;
}

/// One worker's connection to the data.
pub trait TableReader: Send + Sync + 'static {
    /// COPY text in chunks of whole rows.
    type Copy: Stream<Item = Result<CopyChunk>> + Send + 'static;

    /// Whether a table may be read as `ctid` page ranges (TID range scans: PostgreSQL 14+).
    fn ranges_supported(&self) -> bool;

    /// The block size, and the main-fork pages of the plain tables among `oids` (others are
    /// left out: they keep the catalog's estimate and are never split).
    fn relation_sizes(&self, oids: &[u32]) -> impl Future<Output = Result<RelationSizes>> + Send;

    /// Before reading `table` (locks it; lets a foreign table be read).
    fn begin_table(&self, table: &TableData) -> impl Future<Output = Result<()>> + Send;

    /// After reading `table`.
    fn end_table(&self, table: &TableData) -> impl Future<Output = Result<()>> + Send;

    /// Sends the requests of several whole, plain tables in one go, so the server runs them
    /// back to back; [`TableReader::copy_out`] must then be called for each, in this order,
    /// before any other request. A reader that cannot send ahead sends nothing.
    fn send_ahead(&self, reqs: &[CopyRequest<'_>]) -> impl Future<Output = Result<()>> + Send {
        let _ = reqs;
        std::future::ready(Ok(()))
    }

    /// Begins the table as [`TableReader::begin_table`] does and starts its COPY.
    fn copy_out(&self, req: CopyRequest<'_>) -> impl Future<Output = Result<Self::Copy>> + Send;

    /// The server session, for what only a server can do (`--inserts` reads rows through a
    /// cursor); `None` for a fake.
    fn session(&self) -> Option<&Session>;

    /// Cancels what the server runs for this reader; `None`: nothing to cancel.
    fn cancel_handle(&self) -> Option<CancelHandle>;

    /// Ends the reader's transaction and closes it.
    fn close(self) -> impl Future<Output = ()> + Send;
}

/// Server sessions importing the exported snapshot `snapshot`.
pub struct PgSource {
    pub target: Target,
    pub snapshot: String,
    pub session: SessionOptions,
}

impl CopySource for PgSource {
    type Reader = PgReader;

    async fn open(&self, worker: usize) -> Result<PgReader> {
        let session = self
            .target
            .connect_in_snapshot(&self.session, &self.snapshot)
            .await
            .map_err(|e| e.context(format!("worker {worker}")))?;
        Ok(PgReader {
            session,
            ahead: Mutex::new(VecDeque::new()),
        })
    }
}

/// A worker's server session.
pub struct PgReader {
    session: Session,
    /// The COPY statements sent ahead and not started yet, oldest first.
    ahead: Mutex<VecDeque<String>>,
}

/// COPY text from a server.
type PgCopy = std::pin::Pin<Box<dyn Stream<Item = Result<CopyChunk>> + Send>>;

impl TableReader for PgReader {
    type Copy = PgCopy;

    fn ranges_supported(&self) -> bool {
        self.session.version().at_least(14)
    }

    async fn relation_sizes(&self, oids: &[u32]) -> Result<RelationSizes> {
        // Measured now: the leader's ACCESS SHARE lock keeps VACUUM from truncating them,
        // and the last range of a split table is open-ended anyway, so pages added after
        // this read lose no row visible to the snapshot.
        let list = oids.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        let rows = self
            .session
            .query(&format!(
                "SELECT c.oid, pg_catalog.pg_relation_size(c.oid), pg_catalog.current_setting('block_size')::int8, \
                 (SELECT s.setting::pg_catalog.int8 FROM pg_catalog.pg_settings s WHERE s.name = 'shared_buffers') \
                 FROM pg_catalog.pg_class c WHERE c.oid = ANY('{{{list}}}'::pg_catalog.oid[]) AND c.relkind = 'r'"
            ))
            .await
            .map_err(|e| e.context("measuring the tables to export"))?;
        let mut sizes = RelationSizes {
            block_size: super::DEFAULT_PAGE_BYTES,
            pages: HashMap::with_capacity(rows.len()),
            shared_buffers: None,
        };
        for r in rows {
            sizes.block_size = r.int(2)?.max(1) as u64;
            sizes
                .pages
                .insert(r.oid(0)?, r.int(1)?.max(0) as u64 / sizes.block_size);
            sizes.shared_buffers = r.opt_int(3)?.map(|b| b.max(0) as u64);
        }
        Ok(sizes)
    }

    async fn begin_table(&self, table: &TableData) -> Result<()> {
        if table.foreign {
            // Foreign tables are never locked (pg_dump locks plain and partitioned tables
            // only); reading one needs the foreign-table access the session otherwise
            // restricts (pg_dump.c `dumpTableData_copy`, `dumpTableData_insert`).
            self.session.restrict_relation_kinds("view").await
        } else {
            // The leader holds ACCESS SHARE already; NOWAIT turns a queued exclusive lock
            // into an immediate failure instead of an undetectable deadlock (pg_dump
            // parallel.c).
            self.session.lock_table_nowait(&table.qualified_name).await
        }
    }

    async fn end_table(&self, table: &TableData) -> Result<()> {
        if table.foreign {
            self.session
                .restrict_relation_kinds(crate::pg::RESTRICTED_RELATION_KINDS)
                .await?;
        }
        Ok(())
    }

    async fn send_ahead(&self, reqs: &[CopyRequest<'_>]) -> Result<()> {
        if reqs.iter().any(|r| r.table.foreign || r.range.is_some()) {
            return Err(crate::error::Error::internal("only whole plain tables are sent ahead"));
        }
        let batch: Vec<(Option<&str>, &str)> = reqs
            .iter()
            .map(|r| (Some(r.table.qualified_name.as_str()), r.sql))
            .collect();
        if self.session.send_copies_ahead(&batch).await? {
            self.ahead
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(reqs.iter().map(|r| r.sql.to_string()));
        }
        Ok(())
    }

    async fn copy_out(&self, req: CopyRequest<'_>) -> Result<PgCopy> {
        let sent = {
            let mut ahead = self.ahead.lock().unwrap_or_else(|p| p.into_inner());
            match ahead.front() {
                None => false,
                Some(sql) if sql == req.sql => {
                    ahead.pop_front();
                    true
                }
                Some(sql) => {
                    return Err(crate::error::Error::internal(format!(
                        "COPY out of the order sent ahead: {} before {sql}",
                        req.sql
                    )));
                }
            }
        };
        if sent {
            return self
                .session
                .copy_chunks_ahead(Some(&req.table.qualified_name), req.sql, req.chunk_bytes)
                .await;
        }
        if req.table.foreign {
            self.begin_table(req.table).await?;
            return self.session.copy_chunks(None, req.sql, req.chunk_bytes).await;
        }
        // The lock and the COPY go out in one batch (see `pg::copy`): the server runs them in
        // order and a failed lock aborts the transaction before the COPY runs.
        self.session
            .copy_chunks(Some(&req.table.qualified_name), req.sql, req.chunk_bytes)
            .await
    }

    fn session(&self) -> Option<&Session> {
        Some(&self.session)
    }

    fn cancel_handle(&self) -> Option<CancelHandle> {
        Some(self.session.cancel_handle())
    }

    async fn close(self) {
        // With replies to requests sent ahead still coming (a worker stopping early), the
        // connection is only closed: ending the transaction would wait behind them.
        if self.session.copies_ahead() == 0 {
            let _ = self.session.execute("COMMIT").await;
        }
        self.session.close().await;
    }
}
