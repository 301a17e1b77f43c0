//! A [`CopySource`] without a server, for the engine's unit tests and the micro-benchmarks in
//! `benches/`: synthetic tables of a chosen number of pages whose COPY rows are made from
//! their table, page and row numbers plus text from a fixed pseudo-random pool (mixed words
//! and digits, compressible about as much as real COPY text). A table can be made to fail at
//! a page (as a server error would end a COPY) or to pause at every page (so a test can stop
//! the export mid-stream); the streams still open are counted.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::Stream;

use super::source::{CopyRequest, CopySource, RelationSizes, TableReader};
use crate::error::{Error, ErrorKind, Result};
use crate::model::TableData;
use crate::pg::{CancelHandle, CopyChunk, Session};

/// One synthetic table.
#[derive(Debug, Clone)]
pub struct FakeTable {
    pub pages: u64,
    pub rows_per_page: u64,
    /// Bytes of text after the numbers in each row.
    pub payload: usize,
    /// The COPY of this table fails when it reaches this page.
    pub fail_at_page: Option<u64>,
    /// Pause before each page.
    pub page_delay: Option<Duration>,
}

impl FakeTable {
    pub fn new(pages: u64, rows_per_page: u64, payload: usize) -> FakeTable {
        FakeTable {
            pages,
            rows_per_page,
            payload,
            fail_at_page: None,
            page_delay: None,
        }
    }
}

/// Synthetic tables by OID.
#[derive(Debug, Clone)]
pub struct FakeSource {
    tables: Arc<HashMap<u32, FakeTable>>,
    pool: Arc<Vec<u8>>,
    ranges: bool,
    open_streams: Arc<AtomicUsize>,
    readers: Arc<AtomicUsize>,
    sent_ahead: Arc<Mutex<Vec<Vec<u32>>>>,
}

/// Size of the text pool rows take their payload from (larger than gzip's 32 KiB window).
const POOL: usize = 1 << 20;

impl FakeSource {
    pub fn new(tables: impl IntoIterator<Item = (u32, FakeTable)>) -> FakeSource {
        FakeSource {
            tables: Arc::new(tables.into_iter().collect()),
            pool: Arc::new(text_pool(POOL)),
            ranges: true,
            open_streams: Arc::new(AtomicUsize::new(0)),
            readers: Arc::new(AtomicUsize::new(0)),
            sent_ahead: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Whether tables may be read as page ranges (as a server before 14 cannot).
    pub fn with_ranges(mut self, ranges: bool) -> FakeSource {
        self.ranges = ranges;
        self
    }

    /// COPY streams started and not yet dropped.
    pub fn open_streams(&self) -> usize {
        self.open_streams.load(Ordering::SeqCst)
    }

    /// The tables (OIDs) of each batch of requests sent ahead, in the order sent.
    pub fn sent_ahead(&self) -> Vec<Vec<u32>> {
        self.sent_ahead.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Readers opened and not yet closed or dropped.
    pub fn open_readers(&self) -> usize {
        self.readers.load(Ordering::SeqCst)
    }

    /// The rows a COPY of `oid`'s pages `[from, to)` yields, concatenated: what an export of
    /// the table must write, in order (without the trailer).
    pub fn expected(&self, oid: u32, from: u64, to: Option<u64>) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(t) = self.tables.get(&oid) {
            for page in from..to.unwrap_or(t.pages).min(t.pages) {
                for n in 0..t.rows_per_page {
                    out.extend_from_slice(&row(&self.pool, oid, t, page, n));
                }
            }
        }
        out
    }
}

/// Pseudo-random text: words, numbers, tabs and a few escapes, from a fixed seed.
fn text_pool(len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "alpha",
        "order",
        "shipped",
        "customer",
        "pending",
        "2026-11-30",
        "true",
        "\\N",
        "invoice",
        "berlin",
        "paris",
        "note",
        "{\"k\": 1}",
        "refund",
        "42.50",
        "retry",
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = Vec::with_capacity(len + 32);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        match x % 4 {
            0 => out.extend_from_slice(format!("{}", x % 1_000_000).as_bytes()),
            _ => out.extend_from_slice(WORDS[(x >> 8) as usize % WORDS.len()].as_bytes()),
        }
        out.push(if x.is_multiple_of(7) { b'\t' } else { b' ' });
    }
    out.truncate(len);
    out
}

/// One COPY row: `oid\tpage\tn\tpayload\n` (the payload never holds a newline).
fn row(pool: &[u8], oid: u32, t: &FakeTable, page: u64, n: u64) -> Vec<u8> {
    let mut r = format!("{oid}\t{page}\t{n}\t").into_bytes();
    let start = ((page * t.rows_per_page + n) as usize * 131) % (pool.len() - t.payload.min(pool.len()) + 1);
    r.extend_from_slice(&pool[start..start + t.payload.min(pool.len())]);
    r.push(b'\n');
    r
}

impl CopySource for FakeSource {
    type Reader = FakeReader;

    async fn open(&self, _worker: usize) -> Result<FakeReader> {
        self.readers.fetch_add(1, Ordering::SeqCst);
        Ok(FakeReader {
            source: self.clone(),
            open: Counted(self.readers.clone()),
            ahead: Mutex::new(VecDeque::new()),
        })
    }
}

/// Decrements a counter when dropped.
#[derive(Debug)]
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One worker's view of the fake tables.
#[derive(Debug)]
pub struct FakeReader {
    source: FakeSource,
    open: Counted,
    /// Tables sent ahead and not started yet: their COPYs must come in this order.
    ahead: Mutex<VecDeque<u32>>,
}

/// A fake COPY: the rows of a page range.
pub type FakeCopy = std::pin::Pin<Box<dyn Stream<Item = Result<CopyChunk>> + Send>>;

struct CopyState {
    pool: Arc<Vec<u8>>,
    oid: u32,
    table: FakeTable,
    page: u64,
    end: u64,
    n: u64,
    _open: Counted,
}

impl TableReader for FakeReader {
    type Copy = FakeCopy;

    fn ranges_supported(&self) -> bool {
        self.source.ranges
    }

    async fn relation_sizes(&self, oids: &[u32]) -> Result<RelationSizes> {
        let pages = oids
            .iter()
            .filter_map(|oid| self.source.tables.get(oid).map(|t| (*oid, t.pages)))
            .collect();
        Ok(RelationSizes {
            block_size: super::DEFAULT_PAGE_BYTES,
            pages,
            shared_buffers: None,
        })
    }

    async fn begin_table(&self, _table: &TableData) -> Result<()> {
        Ok(())
    }

    async fn end_table(&self, _table: &TableData) -> Result<()> {
        Ok(())
    }

    async fn send_ahead(&self, reqs: &[CopyRequest<'_>]) -> Result<()> {
        if reqs.iter().any(|r| r.table.foreign || r.range.is_some()) {
            return Err(Error::internal("only whole plain tables are sent ahead"));
        }
        let oids: Vec<u32> = reqs.iter().map(|r| r.table.table_oid).collect();
        self.ahead.lock().unwrap_or_else(|p| p.into_inner()).extend(&oids);
        self.source
            .sent_ahead
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(oids);
        Ok(())
    }

    async fn copy_out(&self, req: CopyRequest<'_>) -> Result<FakeCopy> {
        let oid = req.table.table_oid;
        {
            let mut ahead = self.ahead.lock().unwrap_or_else(|p| p.into_inner());
            match ahead.front() {
                Some(&next) if next == oid && req.range.is_none() => {
                    ahead.pop_front();
                }
                Some(&next) => {
                    return Err(Error::internal(format!("COPY of {oid} while {next} was sent ahead")));
                }
                None => {}
            }
        }
        let table = self.source.tables.get(&oid).cloned().ok_or_else(|| {
            Error::new(
                ErrorKind::Server,
                format!("relation \"{}\" does not exist", req.table.qualified_name),
            )
        })?;
        let (from, to) = match req.range {
            Some(r) => (r.from, r.to.unwrap_or(table.pages).min(table.pages)),
            None => (0, table.pages),
        };
        self.source.open_streams.fetch_add(1, Ordering::SeqCst);
        let state = CopyState {
            pool: self.source.pool.clone(),
            oid,
            table,
            page: from,
            end: to,
            n: 0,
            _open: Counted(self.source.open_streams.clone()),
        };
        Ok(Box::pin(futures_util::stream::unfold(state, |mut st| async move {
            if st.page >= st.end || st.table.rows_per_page == 0 {
                return None;
            }
            if st.n == 0 {
                if st.table.fail_at_page == Some(st.page) {
                    let e = Error::new(
                        ErrorKind::Server,
                        format!("could not read block {} of relation {}", st.page, st.oid),
                    );
                    st.end = st.page;
                    return Some((Err(e), st));
                }
                if let Some(d) = st.table.page_delay {
                    tokio::time::sleep(d).await;
                }
            }
            let r = row(&st.pool, st.oid, &st.table, st.page, st.n);
            st.n += 1;
            if st.n == st.table.rows_per_page {
                st.n = 0;
                st.page += 1;
            }
            Some((Ok(CopyChunk { data: r, rows: 1 }), st))
        })))
    }

    fn session(&self) -> Option<&Session> {
        None
    }

    fn cancel_handle(&self) -> Option<CancelHandle> {
        None
    }

    async fn close(self) {
        drop(self.open);
    }
}
