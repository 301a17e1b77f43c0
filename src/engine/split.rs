//! One table read as several `ctid` page ranges by different workers, written as ONE stream
//! to the table's sink (one TABLE DATA entry per table: two would lose rows under
//! `pg_restore -j`, archive-format.md §8.4).
//!
//! The ranges are the units of an [`OrderedOutput`] whose output is the table's sink: the
//! range at the head of the table streams straight into it (and so into the format's parallel
//! compression and framing, custom-format stitched zlib included, which sees one ordered
//! stream); a range read before its turn goes to a spool file and is copied in when its turn
//! comes. Workers take a table's ranges in page order, so the spools stay small.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::sink::BlockSink;
use crate::archive::ordered::{OrderedOutput, Unframed, UnitWriter};
use crate::archive::output::ArchiveFile;
use crate::archive::spool::SpoolDir;
use crate::error::{Error, Result};

/// The ranges of one table and the table's sink they share.
pub(crate) struct SplitTable {
    parts: usize,
    block_size: usize,
    spool: Arc<SpoolDir>,
    /// Created when the first range opens (then the table's sink is opened, once).
    ordered: Mutex<Option<Arc<OrderedOutput>>>,
    /// Ranges not finished yet; the one that brings it to 0 finishes the table's sink.
    remaining: AtomicUsize,
    /// Bytes the table's sink reported when it finished.
    written: Arc<AtomicU64>,
    /// Rows the ranges told their sinks before finishing: the sum is told to the table's
    /// sink and is the table's total.
    rows: Arc<AtomicU64>,
    bytes: AtomicU64,
    /// Ranges whose COPY is complete (counted after their sink finished).
    done: AtomicUsize,
    pub(crate) started: Mutex<Option<Instant>>,
}

impl SplitTable {
    pub(crate) fn new(parts: usize, block_size: usize, spool: Arc<SpoolDir>) -> SplitTable {
        SplitTable {
            parts,
            block_size,
            spool,
            ordered: Mutex::new(None),
            remaining: AtomicUsize::new(parts),
            written: Arc::new(AtomicU64::new(0)),
            rows: Arc::new(AtomicU64::new(0)),
            bytes: AtomicU64::new(0),
            done: AtomicUsize::new(0),
            started: Mutex::new(None),
        }
    }

    /// Records a finished range (its rows told, its sink finished); for the last one, the table's
    /// totals: rows, COPY bytes, bytes written, time since the first range started.
    pub(crate) fn part_done(&self, bytes: u64) -> Option<(u64, u64, u64, Duration)> {
        let bytes = self.bytes.fetch_add(bytes, Ordering::AcqRel) + bytes;
        if self.done.fetch_add(1, Ordering::AcqRel) + 1 != self.parts {
            return None;
        }
        // Every range's sink finished before its count: the table's sink is complete, and
        // every range told its rows.
        let rows = self.rows.load(Ordering::Acquire);
        let began = *self.started.lock().unwrap_or_else(|p| p.into_inner());
        Some((
            rows,
            bytes,
            self.written.load(Ordering::Acquire),
            began.map_or(Duration::ZERO, |b| b.elapsed()),
        ))
    }

    pub(crate) fn parts(&self) -> usize {
        self.parts
    }

    /// The sink of range `part`; `open_table` opens the table's own sink the first time.
    pub(crate) fn open_part(
        self: &Arc<Self>,
        part: usize,
        open_table: impl FnOnce() -> Result<Box<dyn BlockSink>>,
    ) -> Result<Box<dyn BlockSink>> {
        let ordered = {
            let mut slot = self.ordered.lock().unwrap_or_else(|p| p.into_inner());
            match slot.as_ref() {
                Some(o) => o.clone(),
                None => {
                    let file = Box::new(SinkFile {
                        sink: Some(open_table()?),
                        pending: Vec::new(),
                        position: 0,
                        block_size: self.block_size,
                        written: self.written.clone(),
                        rows: self.rows.clone(),
                    });
                    let ids: Vec<i32> = (0..self.parts as i32).collect();
                    let o = OrderedOutput::new(file, &ids, Box::new(Unframed), self.spool.clone(), true, false)?;
                    *slot = Some(o.clone());
                    o
                }
            }
        };
        Ok(Box::new(PartSink {
            unit: Some(ordered.open(part as i32)?),
            table: self.clone(),
            ordered,
        }))
    }
}

/// One range's blocks, into its unit of the table's ordered output.
struct PartSink {
    unit: Option<UnitWriter>,
    table: Arc<SplitTable>,
    ordered: Arc<OrderedOutput>,
}

impl BlockSink for PartSink {
    fn push(&mut self, block: Vec<u8>) -> Result<()> {
        match self.unit.as_mut() {
            Some(u) => u.write_owned(block),
            None => Err(Error::internal("table range written after its end")),
        }
    }

    fn rows(&mut self, rows: u64) {
        self.table.rows.fetch_add(rows, Ordering::AcqRel);
    }

    /// Ends the range; the last range to end completes the table's sink and returns its
    /// bytes (the others return 0, so the ranges' sum is the table's).
    fn finish(mut self: Box<Self>) -> Result<u64> {
        let Some(unit) = self.unit.take() else {
            return Err(Error::internal("table range ended twice"));
        };
        unit.finish()?;
        if self.table.remaining.fetch_sub(1, Ordering::AcqRel) != 1 {
            return Ok(0);
        }
        // Every range's finish has returned, spools included: the output is complete.
        let file = self.ordered.finish()?;
        file.commit()?;
        Ok(self.table.written.load(Ordering::Acquire))
    }
}

/// The table's sink seen as the ordered output's file. Spooled ranges come back in small
/// reads; they are gathered into blocks of the engine's size again, so the format compresses
/// pieces as large as an unsplit table's.
struct SinkFile {
    sink: Option<Box<dyn BlockSink>>,
    pending: Vec<u8>,
    position: u64,
    block_size: usize,
    written: Arc<AtomicU64>,
    rows: Arc<AtomicU64>,
}

impl SinkFile {
    fn sink(&mut self) -> Result<&mut Box<dyn BlockSink>> {
        self.sink
            .as_mut()
            .ok_or_else(|| Error::internal("table sink already finished"))
    }
}

impl ArchiveFile for SinkFile {
    fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        self.position += buf.len() as u64;
        if self.pending.is_empty() && buf.len() >= self.block_size {
            return self.sink()?.push(buf.to_vec());
        }
        self.pending.extend_from_slice(buf);
        if self.pending.len() >= self.block_size {
            let block = std::mem::replace(&mut self.pending, Vec::with_capacity(self.block_size));
            self.sink()?.push(block)?;
        }
        Ok(())
    }

    /// A range's block (or a spooled one read back) goes on as it is when it is at least half
    /// a block: the COPY reader hands blocks on just short of the size (before a row would
    /// overflow), and gathering them again would copy every byte once more.
    fn write_owned(&mut self, buf: Vec<u8>) -> Result<()> {
        if self.pending.is_empty() && buf.len() >= self.block_size / 2 {
            self.position += buf.len() as u64;
            return self.sink()?.push(buf);
        }
        self.write_all(&buf)
    }

    fn keeps_blocks(&self) -> bool {
        true
    }

    fn position(&self) -> u64 {
        self.position
    }

    fn is_atomic(&self) -> bool {
        true
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        let mut sink = self
            .sink
            .take()
            .ok_or_else(|| Error::internal("table sink already finished"))?;
        if !self.pending.is_empty() {
            sink.push(std::mem::take(&mut self.pending))?;
        }
        // Every range told its rows before finishing; this runs in the last one's finish.
        sink.rows(self.rows.load(Ordering::Acquire));
        let n = sink.finish()?;
        self.written.store(n, Ordering::Release);
        Ok(())
    }

    fn describe(&self) -> String {
        "a table's data".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks, whether finished, and the rows told.
    #[derive(Clone, Default)]
    struct Collect(Arc<Mutex<(Vec<Vec<u8>>, bool)>>, Arc<Mutex<Option<u64>>>);

    impl BlockSink for Collect {
        fn push(&mut self, block: Vec<u8>) -> Result<()> {
            self.0.lock().unwrap().0.push(block);
            Ok(())
        }
        fn rows(&mut self, rows: u64) {
            let mut told = self.1.lock().unwrap();
            assert!(told.is_none(), "rows told twice");
            *told = Some(rows);
        }
        fn finish(self: Box<Self>) -> Result<u64> {
            let mut g = self.0.lock().unwrap();
            g.1 = true;
            Ok(g.0.iter().map(|b| b.len() as u64).sum())
        }
    }

    fn table(parts: usize, block: usize) -> (Arc<SplitTable>, tempfile::TempDir) {
        let base = tempfile::tempdir().unwrap();
        let spool = Arc::new(SpoolDir::create(Some(&base.path().join("out"))).unwrap());
        (Arc::new(SplitTable::new(parts, block, spool)), base)
    }

    #[test]
    fn ranges_written_out_of_order_arrive_in_order_once() {
        let (t, _base) = table(3, 4);
        let c = Collect::default();
        let opened = Arc::new(AtomicUsize::new(0));
        let open = || {
            let c = c.clone();
            let opened = opened.clone();
            move || {
                opened.fetch_add(1, Ordering::SeqCst);
                Ok(Box::new(c) as Box<dyn BlockSink>)
            }
        };
        let mut p2 = t.open_part(2, open()).unwrap();
        let mut p0 = t.open_part(0, open()).unwrap();
        let mut p1 = t.open_part(1, open()).unwrap();
        p2.push(b"ccccc".to_vec()).unwrap();
        p1.push(b"b".to_vec()).unwrap();
        p1.push(b"bb".to_vec()).unwrap();
        p0.push(b"aaaa".to_vec()).unwrap(); // live: a whole block goes straight through
        p2.rows(5);
        assert_eq!(p2.finish().unwrap(), 0);
        p0.rows(1);
        assert_eq!(p0.finish().unwrap(), 0); // range 1 copied in, then live
        assert!(!c.0.lock().unwrap().1);
        assert_eq!(*c.1.lock().unwrap(), None, "told only when the table is complete");
        p1.push(b"B".to_vec()).unwrap();
        p1.rows(4);
        assert_eq!(p1.finish().unwrap(), 4 + 4 + 5);
        assert_eq!(
            *c.1.lock().unwrap(),
            Some(10),
            "the table's sink is told the ranges' sum"
        );
        let (blocks, finished) = c.0.lock().unwrap().clone();
        assert!(finished);
        assert_eq!(blocks.concat(), b"aaaabbbBccccc");
        // Spooled bytes are gathered into blocks again.
        assert!(blocks.iter().all(|b| !b.is_empty()));
        assert_eq!(opened.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn blocks_reach_the_table_sink_without_another_copy() {
        let (t, _base) = table(2, 8);
        let c = Collect::default();
        let c1 = c.clone();
        let mut p0 = t.open_part(0, move || Ok(Box::new(c1) as Box<dyn BlockSink>)).unwrap();
        let mut p1 = t.open_part(1, || Err(Error::internal("opened twice"))).unwrap();
        p1.push(b"bbbbbb".to_vec()).unwrap(); // spooled
        let live = b"aaaaaaa".to_vec(); // short of a block, as the COPY reader hands them on
        let at = live.as_ptr();
        p0.push(live).unwrap();
        p0.push(b"AAAAA".to_vec()).unwrap();
        p0.rows(2);
        p0.finish().unwrap(); // range 1's spool comes back, then goes live
        p1.push(b"x".to_vec()).unwrap(); // under half a block: gathered
        p1.push(b"y".to_vec()).unwrap();
        p1.rows(1);
        p1.finish().unwrap();
        let g = c.0.lock().unwrap();
        let blocks = &g.0;
        assert_eq!(blocks.concat(), b"aaaaaaaAAAAAbbbbbbxy");
        assert_eq!(blocks[0].as_ptr(), at, "a live block is the range's own buffer");
        assert_eq!(blocks[1], b"AAAAA");
        assert_eq!(blocks[2], b"bbbbbb", "a spooled block comes back whole, not gathered");
        assert_eq!(blocks[3], b"xy");
    }

    #[test]
    fn an_abandoned_range_never_finishes_the_table() {
        let (t, _base) = table(2, 4);
        let c = Collect::default();
        let c1 = c.clone();
        let mut p0 = t.open_part(0, move || Ok(Box::new(c1) as Box<dyn BlockSink>)).unwrap();
        let p1 = t.open_part(1, || Err(Error::internal("opened twice"))).unwrap();
        p0.push(b"x".to_vec()).unwrap();
        drop(p1); // a failed COPY
        assert_eq!(p0.finish().unwrap(), 0);
        assert!(!c.0.lock().unwrap().1, "the table's sink must stay unfinished");
    }
}
