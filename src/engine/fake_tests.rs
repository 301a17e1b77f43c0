//! The engine on the fake source: split pieces written in page order exactly once, an error in
//! one range failing the export and stopping the rest, a dropped export stopping its readers
//! mid-stream — without a server.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::fake::{FakeSource, FakeTable};
use super::*;

/// Keeps each job's bytes; a job's bytes count as written only once its sink finished.
#[derive(Default)]
struct MemorySinks {
    finished: StdMutex<HashMap<i32, Vec<u8>>>,
    opened: AtomicUsize,
}

struct MemorySink {
    id: i32,
    buf: Vec<u8>,
    sinks: Arc<MemorySinks>,
}

impl BlockSink for MemorySink {
    fn push(&mut self, block: Vec<u8>) -> Result<()> {
        self.buf.extend_from_slice(&block);
        Ok(())
    }
    fn finish(self: Box<Self>) -> Result<u64> {
        let n = self.buf.len() as u64;
        self.sinks.finished.lock().unwrap().insert(self.id, self.buf);
        Ok(n)
    }
}

struct Factory(Arc<MemorySinks>);

impl SinkFactory for Factory {
    fn open(&self, job: &ExportJob) -> Result<Box<dyn BlockSink>> {
        self.0.opened.fetch_add(1, Ordering::SeqCst);
        Ok(Box::new(MemorySink {
            id: job.id,
            buf: Vec::new(),
            sinks: self.0.clone(),
        }))
    }
}

/// Records the events.
#[derive(Debug, Default)]
struct Recorder(StdMutex<Vec<Event>>);

impl Progress for Recorder {
    fn event(&self, e: &Event) {
        self.0.lock().unwrap().push(e.clone());
    }
}

/// A job for a table whose catalog estimate is `pages` (it decides how many workers start).
fn job(id: i32, oid: u32, name: &str, pages: i64) -> ExportJob {
    ExportJob {
        id,
        table: TableData {
            qualified_name: name.into(),
            columns: String::new(),
            estimated_pages: pages,
            table_oid: oid,
            foreign: false,
            filter: None,
        },
    }
}

fn options(jobs: usize, progress: Arc<dyn Progress>) -> ExportOptions {
    ExportOptions {
        jobs,
        block_size: 4096,
        split_pages: 4,
        progress,
        ..ExportOptions::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    // INVARIANT: a test's runtime builds.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn with_trailer(mut v: Vec<u8>) -> Vec<u8> {
    v.extend_from_slice(COPY_TRAILER);
    v
}

#[test]
fn split_pieces_are_written_in_page_order_exactly_once() {
    let source = FakeSource::new([(10, FakeTable::new(40, 20, 90)), (11, FakeTable::new(1, 3, 10))]);
    for (ranges, workers) in [(true, 3), (true, 1), (false, 3)] {
        let sinks = Arc::new(MemorySinks::default());
        let recorder = Arc::new(Recorder::default());
        let jobs = vec![job(1, 10, "public.big", 40), job(2, 11, "public.small", 1)];
        let reports = runtime()
            .block_on(export_from(
                source.clone().with_ranges(ranges),
                jobs,
                Arc::new(Factory(sinks.clone())),
                &options(workers, recorder.clone()),
            ))
            .unwrap();
        let got = sinks.finished.lock().unwrap();
        let case = format!("ranges {ranges}, -j {workers}");
        assert_eq!(got[&1], with_trailer(source.expected(10, 0, None)), "{case}");
        assert_eq!(got[&2], with_trailer(source.expected(11, 0, None)), "{case}");
        let big = reports.iter().find(|r| r.id == 1).unwrap();
        assert_eq!(big.rows, 800, "{case}");
        assert_eq!(big.bytes, source.expected(10, 0, None).len() as u64, "{case}");
        let split = ranges && workers > 1;
        // 40 pages over 3 workers: ranges of 4 pages (about four per worker, at least half
        // the threshold).
        assert_eq!(big.parts, if split { 10 } else { 1 }, "{case}");
        // The parts read cover the table once, in ranges that tile it.
        let events = recorder.0.lock().unwrap();
        let mut ranges_read: Vec<(u64, Option<u64>)> = events
            .iter()
            .filter_map(|e| match e {
                Event::PartStarted { id: 1, range, .. } => Some(range.map_or((0, None), |r| (r.from, r.to))),
                _ => None,
            })
            .collect();
        ranges_read.sort();
        assert_eq!(ranges_read.len(), big.parts, "{case}");
        for w in ranges_read.windows(2) {
            assert_eq!(w[0].1, Some(w[1].0), "{case}: {ranges_read:?}");
        }
        assert_eq!(ranges_read.last().unwrap().1, None, "{case}");
        assert_eq!(source.open_streams(), 0);
        assert_eq!(source.open_readers(), 0);
    }
}

#[test]
fn an_error_in_one_range_fails_the_export_and_stops_the_rest() {
    // bad is the larger, so its ranges are read first; slow would take 3 s.
    let mut bad = FakeTable::new(40, 20, 50);
    bad.fail_at_page = Some(25);
    let mut slow = FakeTable::new(30, 5, 20);
    slow.page_delay = Some(Duration::from_millis(100));
    let source = FakeSource::new([(10, bad), (11, slow)]);
    let sinks = Arc::new(MemorySinks::default());
    let started = Instant::now();
    let err = runtime()
        .block_on(export_from(
            source.clone(),
            vec![job(1, 10, "public.bad", 40), job(2, 11, "public.slow", 30)],
            Arc::new(Factory(sinks.clone())),
            &options(3, Arc::new(NoProgress)),
        ))
        .unwrap_err();
    // The range's own error, with the table it was reading; not a "cancelled" echo.
    assert_eq!(err.kind(), ErrorKind::Server, "{err}");
    let text = err.to_string();
    assert!(text.contains("block 25") && text.contains("public.bad"), "{text}");
    // The slow table was stopped, not waited for.
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    // Neither table's data was completed, and nothing is left reading.
    let finished = sinks.finished.lock().unwrap();
    assert!(
        !finished.contains_key(&1) && !finished.contains_key(&2),
        "{:?}",
        finished.keys()
    );
    assert_eq!(source.open_streams(), 0);
    assert_eq!(source.open_readers(), 0);
}

#[test]
fn dropping_the_export_mid_stream_stops_every_reader() {
    let mut slow = FakeTable::new(200, 10, 50);
    slow.page_delay = Some(Duration::from_millis(5));
    let source = FakeSource::new([(10, slow.clone()), (11, slow)]);
    let sinks = Arc::new(MemorySinks::default());
    let recorder = Arc::new(Recorder::default());
    let rt = runtime();
    let opts = options(2, recorder.clone());
    rt.block_on(async {
        let export = export_from(
            source.clone(),
            vec![job(1, 10, "public.a", 200), job(2, 11, "public.b", 200)],
            Arc::new(Factory(sinks.clone())),
            &opts,
        );
        // A caller's timeout: the export's future is dropped while both read.
        let r = tokio::time::timeout(Duration::from_millis(300), export).await;
        assert!(r.is_err(), "the export finished before the timeout");
    });
    let pieces = recorder
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::PieceWritten { .. }))
        .count();
    assert!(pieces > 0, "stopped before any piece was written");
    // Aborted tasks are dropped by the runtime soon after.
    let deadline = Instant::now() + Duration::from_secs(5);
    while (source.open_streams() > 0 || source.open_readers() > 0) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!((source.open_streams(), source.open_readers()), (0, 0));
    assert!(
        sinks.finished.lock().unwrap().is_empty(),
        "a stopped table was finished"
    );
    drop(rt);
}

/// Records events, taking its time over a table's start (as a terminal display drawing it
/// might): another worker's range must still not report before its table.
#[derive(Debug, Default)]
struct SlowAnnouncer(StdMutex<Vec<Event>>);

impl Progress for SlowAnnouncer {
    fn event(&self, e: &Event) {
        if matches!(e, Event::TableStarted { .. }) {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.0.lock().unwrap().push(e.clone());
    }
}

#[test]
fn a_table_is_announced_before_any_of_its_parts() {
    let source = FakeSource::new([(10, FakeTable::new(40, 20, 90))]);
    let recorder = Arc::new(SlowAnnouncer::default());
    runtime()
        .block_on(export_from(
            source,
            vec![job(1, 10, "public.big", 40)],
            Arc::new(Factory(Arc::new(MemorySinks::default()))),
            &options(4, recorder.clone()),
        ))
        .unwrap();
    let events = recorder.0.lock().unwrap();
    let first_part = events
        .iter()
        .position(|e| matches!(e, Event::PartStarted { .. }))
        .unwrap();
    let announced = events
        .iter()
        .position(|e| matches!(e, Event::TableStarted { .. }))
        .unwrap();
    assert!(announced < first_part, "{events:#?}");
    let parts = events.iter().filter(|e| matches!(e, Event::PartStarted { .. })).count();
    assert!(parts > 1, "the table was not split: {events:#?}");
}

#[test]
fn small_tables_go_to_the_server_in_batches_in_queue_order_and_large_ones_alone() {
    // 150 tables of one page, one of 9 pages (above the size sent ahead) and one split.
    let mut tables: Vec<(u32, FakeTable)> = (0..150).map(|i| (100 + i, FakeTable::new(1, 5, 30))).collect();
    tables.push((20, FakeTable::new(9, 5, 30)));
    tables.push((10, FakeTable::new(40, 20, 90)));
    let source = FakeSource::new(tables);
    let mut jobs: Vec<ExportJob> = (0..150)
        .map(|i| job(i as i32 + 3, 100 + i, &format!("public.s{i}"), 1))
        .collect();
    jobs.push(job(2, 20, "public.medium", 9));
    jobs.push(job(1, 10, "public.big", 40));
    let sinks = Arc::new(MemorySinks::default());
    runtime()
        .block_on(export_from(
            source.clone(),
            jobs,
            Arc::new(Factory(sinks.clone())),
            &options(2, Arc::new(NoProgress)),
        ))
        .unwrap();
    let got = sinks.finished.lock().unwrap();
    assert_eq!(got.len(), 152);
    for i in 0..150u32 {
        assert_eq!(
            got[&(i as i32 + 3)],
            with_trailer(source.expected(100 + i, 0, None)),
            "s{i}"
        );
    }
    assert_eq!(got[&2], with_trailer(source.expected(20, 0, None)));
    assert_eq!(got[&1], with_trailer(source.expected(10, 0, None)));
    let batches = source.sent_ahead();
    assert!(!batches.is_empty(), "no batch sent ahead");
    let mut seen = std::collections::HashSet::new();
    for b in &batches {
        assert!(b.len() >= 2 && b.len() <= AHEAD_TABLES, "{b:?}");
        assert!(
            b.iter().all(|oid| (100..250).contains(oid)),
            "only small whole tables: {b:?}"
        );
        assert!(b.windows(2).all(|w| w[0] < w[1]), "queue order: {b:?}");
        assert!(b.iter().all(|oid| seen.insert(*oid)), "a table sent twice: {b:?}");
    }
    assert_eq!(source.open_streams(), 0);
    assert_eq!(source.open_readers(), 0);
}
