//! Data of several entries, produced concurrently in any order, written to one output in TOC
//! order: what the custom format to a pipe, the tar format and the plain format need (pg_dump
//! writes them serially, so it never has to reorder).
//!
//! Each data-bearing entry is a *unit*. The unit at the head of the TOC order streams straight
//! to the output ("live"); a unit written before its turn goes to a spool and is copied
//! in when its turn comes — when the head completes, finished spooled units follow at once, and
//! an unfinished one copies what it has and goes live. Memory stays bounded (a spool keeps
//! its first bytes in memory within its directory's budget, the rest in a file); only units
//! in progress hold a descriptor.
//!
//! A format frames each unit ([`Framing`]): bytes before it (a custom block header, a tar
//! member header — whose size is known only for a spooled unit, so a live one gets its size
//! patched in afterwards, which needs a patchable output) and after it (tar padding).
//!
//! Options: `live_ok = false` spools every unit completely (framing that needs the size on a
//! stream that cannot be patched); `hold_last` keeps the last unit out of the output until
//! [`OrderedOutput::finish`], so a failed dump to a pipe never ends with a complete last member.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::output::ArchiveFile;
use super::spool::{SpoolDir, SpoolFile, Spooled};
use crate::error::{Error, Result};

/// Per-unit framing chosen by the format.
pub trait Framing: Send + Sync {
    /// Bytes written just before unit `idx`; `size` is its content length when already known
    /// (a spooled unit), `None` for a unit going live.
    fn before(&self, idx: usize, size: Option<u64>) -> Result<Vec<u8>>;
    /// Bytes written just after unit `idx` (content of `size` bytes). When `before` was
    /// called without a size, this may patch the bytes at `start` through `out`.
    fn after(&self, idx: usize, start: u64, size: u64, out: &mut dyn ArchiveFile) -> Result<Vec<u8>>;
}

/// No framing at all.
pub struct Unframed;

impl Framing for Unframed {
    fn before(&self, _: usize, _: Option<u64>) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }
    fn after(&self, _: usize, _: u64, _: u64, _: &mut dyn ArchiveFile) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }
}

enum State {
    /// Nothing written yet.
    Waiting,
    /// Streaming to the output; `start` is where its framing began.
    Live {
        start: u64,
        size: u64,
    },
    Spooling(SpoolFile),
    /// Complete in a spool file, waiting for its turn.
    Done(Spooled),
    /// In the output.
    Written,
}

struct Unit {
    id: i32,
    opened: bool,
    state: State,
}

struct Out {
    file: Option<Box<dyn ArchiveFile>>,
    /// Index of the first unit not yet completely written.
    head: usize,
    /// Output position where each unit's framing begins.
    starts: Vec<Option<u64>>,
    /// A write to the output failed: nothing more may be written.
    broken: bool,
}

impl Out {
    fn file(&mut self) -> Result<&mut dyn ArchiveFile> {
        if self.broken {
            return Err(Error::internal("the archive output failed earlier"));
        }
        match self.file.as_deref_mut() {
            Some(f) => Ok(f),
            None => Err(Error::internal("the archive output is closed")),
        }
    }

    fn write(&mut self, buf: &[u8]) -> Result<()> {
        let r = self.file()?.write_all(buf);
        if r.is_err() {
            self.broken = true;
        }
        r
    }

    fn write_owned(&mut self, buf: Vec<u8>) -> Result<()> {
        let r = self.file()?.write_owned(buf);
        if r.is_err() {
            self.broken = true;
        }
        r
    }
}

/// A unit's bytes, lent or handed over.
enum Block<'a> {
    Borrowed(&'a [u8]),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Block<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Block::Borrowed(b) => b,
            Block::Owned(b) => b,
        }
    }
}

/// See the module documentation.
pub struct OrderedOutput {
    out: Mutex<Out>,
    units: Vec<Mutex<Unit>>,
    index: HashMap<i32, usize>,
    framing: Box<dyn Framing>,
    spool: Arc<SpoolDir>,
    live_ok: bool,
    hold_last: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock leaves the output unusable anyway; later writes fail on
    // their own checks, so the poison flag adds nothing.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl OrderedOutput {
    /// Units are the data-bearing dump ids in TOC order; the output's prelude (header and
    /// TOC) must already be written to `file`.
    pub fn new(
        file: Box<dyn ArchiveFile>,
        ids: &[i32],
        framing: Box<dyn Framing>,
        spool: Arc<SpoolDir>,
        live_ok: bool,
        hold_last: bool,
    ) -> Result<Arc<OrderedOutput>> {
        let mut index = HashMap::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            if index.insert(*id, i).is_some() {
                return Err(Error::internal(format!("dump id {id} has data twice in the TOC")));
            }
        }
        Ok(Arc::new(OrderedOutput {
            out: Mutex::new(Out {
                file: Some(file),
                head: 0,
                starts: vec![None; ids.len()],
                broken: false,
            }),
            units: ids
                .iter()
                .map(|&id| {
                    Mutex::new(Unit {
                        id,
                        opened: false,
                        state: State::Waiting,
                    })
                })
                .collect(),
            index,
            framing,
            spool,
            live_ok,
            hold_last,
        }))
    }

    /// Opens the unit of `dump_id` for writing (once).
    pub fn open(self: &Arc<Self>, dump_id: i32) -> Result<UnitWriter> {
        let Some(&idx) = self.index.get(&dump_id) else {
            return Err(Error::internal(format!("dump id {dump_id} has no data in the TOC")));
        };
        let mut u = lock(&self.units[idx]);
        if u.opened {
            return Err(Error::internal(format!("data of dump id {dump_id} written twice")));
        }
        u.opened = true;
        Ok(UnitWriter {
            owner: self.clone(),
            idx,
            finished: false,
        })
    }

    fn may_go_live(&self, idx: usize) -> bool {
        self.live_ok && !(self.hold_last && idx + 1 == self.units.len())
    }

    /// Output position where each unit's framing begins, in unit order (complete after
    /// `finish`).
    pub fn starts(&self) -> Vec<Option<u64>> {
        lock(&self.out).starts.clone()
    }

    /// Leaves `Waiting` for the first write: live when at the head, otherwise a spool.
    fn leave_waiting(&self, idx: usize, u: &mut Unit) -> Result<()> {
        if !matches!(u.state, State::Waiting) {
            return Ok(());
        }
        let mut out = lock(&self.out);
        if out.head == idx && self.may_go_live(idx) {
            let start = self.begin_live(idx, &mut out)?;
            u.state = State::Live { start, size: 0 };
        } else {
            drop(out);
            u.state = State::Spooling(self.spool.file(&format!("{}", u.id))?);
        }
        Ok(())
    }

    fn begin_live(&self, idx: usize, out: &mut Out) -> Result<u64> {
        let start = out.file()?.position();
        out.starts[idx] = Some(start);
        let head = self.framing.before(idx, None)?;
        out.write(&head)?;
        Ok(start)
    }

    fn write(&self, idx: usize, buf: Block<'_>) -> Result<()> {
        let mut u = lock(&self.units[idx]);
        self.leave_waiting(idx, &mut u)?;
        match &mut u.state {
            State::Live { size, .. } => {
                *size += buf.len() as u64;
                let mut out = lock(&self.out);
                match buf {
                    Block::Borrowed(b) => out.write(b),
                    Block::Owned(b) => out.write_owned(b),
                }
            }
            State::Spooling(f) => match buf {
                Block::Borrowed(b) => f.write_all(b),
                Block::Owned(b) => f.write_owned(b),
            },
            _ => Err(Error::internal(format!(
                "data of dump id {} written after its end",
                u.id
            ))),
        }
    }

    fn finish_unit(&self, idx: usize) -> Result<u64> {
        let mut u = lock(&self.units[idx]);
        self.leave_waiting(idx, &mut u)?;
        let (size, was_head) = match std::mem::replace(&mut u.state, State::Written) {
            State::Live { start, size } => {
                let mut out = lock(&self.out);
                let tail = {
                    let f = out.file()?;
                    self.framing.after(idx, start, size, f)?
                };
                out.write(&tail)?;
                (size, true)
            }
            State::Spooling(f) => {
                let done = f.close()?;
                let size = done.len();
                u.state = State::Done(done);
                (size, lock(&self.out).head == idx)
            }
            _ => return Err(Error::internal(format!("data of dump id {} ended twice", u.id))),
        };
        drop(u);
        if was_head {
            self.advance()?;
        }
        Ok(size)
    }

    /// Moves the head past every complete unit, copying spooled ones in; an unfinished head
    /// copies what it has and goes live.
    fn advance(&self) -> Result<()> {
        loop {
            let head = lock(&self.out).head;
            if head == self.units.len() {
                return Ok(());
            }
            let mut u = lock(&self.units[head]);
            match std::mem::replace(&mut u.state, State::Written) {
                State::Written => {}
                State::Done(spooled) if !(self.hold_last && head + 1 == self.units.len()) => {
                    let mut out = lock(&self.out);
                    self.copy_done(head, spooled, &mut out)?;
                }
                State::Spooling(f) if self.may_go_live(head) => {
                    let mut out = lock(&self.out);
                    let start = self.begin_live(head, &mut out)?;
                    let size = f.len();
                    // What was spooled goes to the output; the rest streams.
                    let r = f.close().and_then(|done| done.copy_into(out.file()?));
                    if r.is_err() {
                        out.broken = true;
                    }
                    r?;
                    u.state = State::Live { start, size };
                    return Ok(());
                }
                other => {
                    u.state = other;
                    return Ok(());
                }
            }
            lock(&self.out).head = head + 1;
        }
    }

    fn copy_done(&self, idx: usize, spooled: Spooled, out: &mut Out) -> Result<()> {
        let size = spooled.len();
        let start = out.file()?.position();
        out.starts[idx] = Some(start);
        let head = self.framing.before(idx, Some(size))?;
        out.write(&head)?;
        let r = spooled.copy_into(out.file()?);
        if r.is_err() {
            out.broken = true;
        }
        r?;
        let tail = {
            let f = out.file()?;
            self.framing.after(idx, start, size, f)?
        };
        out.write(&tail)
    }

    /// After every unit finished: writes a held-back last unit and returns the output.
    pub fn finish(&self) -> Result<Box<dyn ArchiveFile>> {
        let n = self.units.len();
        if n > 0 {
            // Unit before output, the lock order used everywhere.
            let mut u = lock(&self.units[n - 1]);
            let mut out = lock(&self.out);
            if out.head + 1 == n
                && matches!(u.state, State::Done(_))
                && let State::Done(spooled) = std::mem::replace(&mut u.state, State::Written)
            {
                self.copy_done(n - 1, spooled, &mut out)?;
                out.head = n;
            }
        }
        let mut out = lock(&self.out);
        if out.head != n {
            let head = out.head;
            drop(out);
            let id = lock(&self.units[head]).id;
            return Err(Error::internal(format!(
                "the data of dump id {id} was not complete when the archive was finished"
            )));
        }
        if out.broken {
            return Err(Error::internal("the archive output failed earlier"));
        }
        out.file
            .take()
            .ok_or_else(|| Error::internal("the archive output was already finished"))
    }
}

/// Writes one unit's content; see [`OrderedOutput`]. Dropped without `finish`, the unit stays
/// incomplete and the archive cannot be finished.
pub struct UnitWriter {
    owner: Arc<OrderedOutput>,
    idx: usize,
    finished: bool,
}

impl UnitWriter {
    pub fn write(&mut self, buf: &[u8]) -> Result<()> {
        self.owner.write(self.idx, Block::Borrowed(buf))
    }

    /// [`write`](Self::write) of a buffer handed over: a live unit passes it to the output
    /// as it is ([`ArchiveFile::write_owned`]).
    pub fn write_owned(&mut self, buf: Vec<u8>) -> Result<()> {
        self.owner.write(self.idx, Block::Owned(buf))
    }

    /// Ends the unit; returns its content length.
    pub fn finish(mut self) -> Result<u64> {
        self.finished = true;
        self.owner.finish_unit(self.idx)
    }
}

impl Drop for UnitWriter {
    fn drop(&mut self) {
        if !self.finished {
            tracing::debug!(unit = self.idx, "archive data unit abandoned");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::output::tests::MemFile;
    use super::*;

    /// `[idx:size?]` before and `[/idx]` after, to see framing and sizes.
    struct Brackets;
    impl Framing for Brackets {
        fn before(&self, idx: usize, size: Option<u64>) -> Result<Vec<u8>> {
            Ok(match size {
                Some(s) => format!("[{idx}:{s:02}]"),
                None => format!("[{idx}:??]"),
            }
            .into_bytes())
        }
        fn after(&self, idx: usize, start: u64, size: u64, out: &mut dyn ArchiveFile) -> Result<Vec<u8>> {
            if out.can_patch() {
                out.patch(start, format!("[{idx}:{size:02}]").as_bytes())?;
            }
            Ok(format!("[/{idx}]").into_bytes())
        }
    }

    /// Spool memory budgets the tests run under: every spool a file; one spool's first block
    /// in memory at a time, the others files; every spool in memory.
    const BUDGETS: [usize; 3] = [0, 100 * 1024, crate::archive::spool::SPOOL_MEMORY];

    fn setup(
        n: usize,
        patchable: bool,
        live_ok: bool,
        hold_last: bool,
    ) -> (Arc<OrderedOutput>, MemFile, tempfile::TempDir) {
        setup_with(crate::archive::spool::SPOOL_MEMORY, n, patchable, live_ok, hold_last)
    }

    fn setup_with(
        memory: usize,
        n: usize,
        patchable: bool,
        live_ok: bool,
        hold_last: bool,
    ) -> (Arc<OrderedOutput>, MemFile, tempfile::TempDir) {
        let base = tempfile::tempdir().unwrap();
        let mem = MemFile {
            patchable,
            ..MemFile::default()
        };
        let ids: Vec<i32> = (0..n as i32).map(|i| 100 + i).collect();
        let o = OrderedOutput::new(
            Box::new(mem.clone()),
            &ids,
            Box::new(Brackets),
            Arc::new(
                SpoolDir::create(Some(&base.path().join("out")))
                    .unwrap()
                    .with_memory(memory),
            ),
            live_ok,
            hold_last,
        )
        .unwrap();
        (o, mem, base)
    }

    fn text(m: &MemFile) -> String {
        String::from_utf8(m.bytes.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn out_of_order_units_come_out_in_order() {
        for memory in BUDGETS {
            out_of_order_units_come_out_in_order_with(memory);
        }
    }

    fn out_of_order_units_come_out_in_order_with(memory: usize) {
        let (o, mem, _base) = setup_with(memory, 4, true, true, false);
        let mut u2 = o.open(102).unwrap();
        let mut u0 = o.open(100).unwrap();
        let mut u3 = o.open(103).unwrap();
        u2.write(b"cc").unwrap();
        u0.write(b"a").unwrap(); // head: live
        u3.write(b"dd").unwrap();
        assert_eq!(text(&mem), "[0:??]a");
        u3.write(b"d").unwrap();
        u3.finish().unwrap(); // done, spooled
        u2.write(b"c").unwrap();
        u0.write(b"a").unwrap();
        u0.finish().unwrap(); // head moves to 1 (not opened yet)
        assert_eq!(text(&mem), "[0:02]aa[/0]");
        let mut u1 = o.open(101).unwrap();
        u1.write(b"b").unwrap(); // head again: live
        u1.finish().unwrap(); // 2 is in progress: copies its spool and goes live
        assert_eq!(text(&mem), "[0:02]aa[/0][1:01]b[/1][2:??]ccc");
        u2.write(b"C").unwrap();
        assert_eq!(u2.finish().unwrap(), 4);
        let f = o.finish().unwrap();
        assert_eq!(f.position(), text(&mem).len() as u64);
        assert_eq!(text(&mem), "[0:02]aa[/0][1:01]b[/1][2:04]cccC[/2][3:03]ddd[/3]");
        assert_eq!(o.starts(), vec![Some(0), Some(12), Some(23), Some(37)]);
    }

    #[test]
    fn without_live_every_unit_is_spooled_with_its_size_first() {
        for memory in BUDGETS {
            without_live_every_unit_is_spooled_with_its_size_first_with(memory);
        }
    }

    fn without_live_every_unit_is_spooled_with_its_size_first_with(memory: usize) {
        let (o, mem, _base) = setup_with(memory, 2, false, false, false);
        let mut u0 = o.open(100).unwrap();
        let mut u1 = o.open(101).unwrap();
        u1.write(b"yy").unwrap();
        u0.write(b"x").unwrap();
        assert_eq!(text(&mem), "");
        u0.finish().unwrap();
        assert_eq!(text(&mem), "[0:01]x[/0]");
        u1.finish().unwrap();
        o.finish().unwrap();
        assert_eq!(text(&mem), "[0:01]x[/0][1:02]yy[/1]");
    }

    #[test]
    fn hold_last_keeps_the_last_unit_until_finish() {
        let (o, mem, _base) = setup(2, false, true, true);
        let mut u1 = o.open(101).unwrap();
        u1.write(b"last").unwrap();
        u1.finish().unwrap();
        let mut u0 = o.open(100).unwrap();
        u0.write(b"first").unwrap();
        u0.finish().unwrap();
        assert_eq!(text(&mem), "[0:??]first[/0]");
        o.finish().unwrap();
        assert_eq!(text(&mem), "[0:??]first[/0][1:04]last[/1]");
    }

    #[test]
    fn empty_units_and_no_units() {
        let (o, mem, _base) = setup(2, true, true, false);
        o.open(101).unwrap().finish().unwrap();
        o.open(100).unwrap().finish().unwrap();
        o.finish().unwrap();
        assert_eq!(text(&mem), "[0:00][/0][1:00][/1]");
        let (o, mem, _base) = setup(0, true, true, true);
        o.finish().unwrap();
        assert_eq!(text(&mem), "");
    }

    #[test]
    fn incomplete_units_block_finish_and_misuse_is_refused() {
        let (o, _mem, base) = setup_with(0, 2, true, true, false);
        let mut u0 = o.open(100).unwrap();
        u0.write(b"x").unwrap();
        assert!(o.open(100).is_err(), "opened twice");
        assert!(o.open(7).is_err(), "not a data entry");
        let mut u1 = o.open(101).unwrap();
        u1.write(b"spooled").unwrap();
        drop(u1); // abandoned (a failed COPY)
        u0.finish().unwrap();
        let e = o.finish().err().unwrap();
        assert!(e.to_string().contains("101"), "{e}");
        // The spool directory disappears with the output.
        drop(o);
        assert!(std::fs::read_dir(base.path()).unwrap().next().is_none());
    }

    #[test]
    fn output_failure_stops_everything() {
        let base = tempfile::tempdir().unwrap();
        let mem = MemFile {
            fail_after: Some(10),
            ..MemFile::default()
        };
        let o = OrderedOutput::new(
            Box::new(mem.clone()),
            &[1, 2],
            Box::new(Unframed),
            Arc::new(SpoolDir::create(Some(&base.path().join("o"))).unwrap()),
            true,
            false,
        )
        .unwrap();
        let mut u1 = o.open(1).unwrap();
        u1.write(b"12345").unwrap();
        assert!(u1.write(b"1234567890").is_err());
        let mut u2 = o.open(2).unwrap();
        u2.write(b"ok").unwrap(); // spooled, fine
        assert!(u1.finish().is_err());
        assert!(o.finish().is_err());
    }

    #[test]
    fn many_threads_many_units() {
        for memory in BUDGETS {
            many_threads_many_units_with(memory);
        }
    }

    fn many_threads_many_units_with(memory: usize) {
        let (o, mem, _base) = setup_with(memory, 40, true, true, false);
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let o = o.clone();
                std::thread::spawn(move || {
                    // Each thread takes every 4th unit, in reverse.
                    for i in (0..40).rev().filter(|i| i % 4 == t) {
                        let mut u = o.open(100 + i).unwrap();
                        for k in 0..(i % 5) {
                            u.write(format!("{i}.{k};").as_bytes()).unwrap();
                        }
                        u.finish().unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        o.finish().unwrap();
        let mut expect = String::new();
        for i in 0..40 {
            let body: String = (0..(i % 5)).map(|k| format!("{i}.{k};")).collect();
            expect.push_str(&format!("[{i}:{:02}]{body}[/{i}]", body.len()));
        }
        assert_eq!(text(&mem), expect);
    }
}
