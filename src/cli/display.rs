//! The live progress display of `pgsnap dump` on a terminal (`--progress=auto` on a terminal,
//! or `--progress=bar`): one line with the bytes read so far against the planned estimate
//! (the tables' size on disk under the snapshot, corrected by each table's real size as it
//! finishes), throughput and ETA, and one line per busy worker with its table and page range.
//!
//! Messages printed while it is shown go through [`super::log::to_stderr`], which clears the
//! display, prints, and redraws it, so `pgsnap: error: ...` lines stay whole; [`Display::close`]
//! removes it before the program's last message (errors and stop signals included).

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::progress::{Event, PageRange, Progress};

/// Redraws per second: enough to look live, few enough not to flicker (ecosystem.md §6).
const REFRESH_HZ: u8 = 10;

/// The display; hand it to the dump as its [`Progress`].
pub struct Display {
    multi: MultiProgress,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    total: Option<ProgressBar>,
    workers: HashMap<usize, ProgressBar>,
    tables: usize,
    finished: usize,
    /// The planned estimate with each finished table's estimate replaced by its real bytes.
    expected: u64,
    estimates: HashMap<i32, u64>,
    closed: bool,
}

impl fmt::Debug for Display {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Display")
    }
}

impl Display {
    /// A display on standard error, drawn whether or not it is a terminal (the caller
    /// decides: `--progress=bar`, or `auto` on a terminal).
    pub fn stderr() -> Display {
        let term = LineBreaks {
            term: console::Term::buffered_stderr(),
            pending: AtomicBool::new(false),
        };
        Display::with_target(ProgressDrawTarget::term_like_with_hz(Box::new(term), REFRESH_HZ))
    }

    fn with_target(target: ProgressDrawTarget) -> Display {
        let multi = MultiProgress::with_draw_target(target);
        super::log::set_display(Some(multi.clone()));
        Display {
            multi,
            state: Mutex::new(State::default()),
        }
    }

    /// Removes the display from the screen for good: call before the program's last message.
    pub fn close(&self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.closed {
            return;
        }
        st.closed = true;
        super::log::set_display(None);
        if let Some(t) = &st.total {
            t.disable_steady_tick();
        }
        // Wipe what is drawn, then draw nothing more: finishing the bars one by one would
        // redraw the rest in between, rate-limited, and could leave a line behind.
        let _ = self.multi.clear();
        self.multi.set_draw_target(ProgressDrawTarget::hidden());
        for (_, w) in st.workers.drain() {
            w.finish_and_clear();
        }
        if let Some(t) = st.total.take() {
            t.finish_and_clear();
        }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        self.close();
    }
}

/// The terminal, with line breaks of its own. indicatif ends each line by padding it with
/// spaces to the right edge and lets the terminal wrap to the next; the cursor then waits in
/// the last column, and the `^C` a terminal echoes on Ctrl-C wraps onto a new line, so the
/// display, one line lower than it believes, can no longer erase its first line. Here the
/// padding becomes "erase to the end of the line" and the break a newline written only
/// when another line follows: the cursor stays after the text of the last line.
#[derive(Debug)]
struct LineBreaks {
    term: console::Term,
    pending: AtomicBool,
}

impl indicatif::TermLike for LineBreaks {
    fn width(&self) -> u16 {
        self.term.size().1
    }
    fn height(&self) -> u16 {
        self.term.size().0
    }
    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        self.pending.store(false, Ordering::Relaxed);
        self.term.move_cursor_up(n)
    }
    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        self.pending.store(false, Ordering::Relaxed);
        self.term.move_cursor_down(n)
    }
    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        self.pending.store(false, Ordering::Relaxed);
        self.term.move_cursor_right(n)
    }
    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        self.pending.store(false, Ordering::Relaxed);
        self.term.move_cursor_left(n)
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.write_str(s)?;
        self.pending.store(false, Ordering::Relaxed);
        self.term.write_str("\n")
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        if s.bytes().all(|b| b == b' ') {
            // indicatif's padding after a line (empty when the line fills the width).
            self.pending.store(true, Ordering::Relaxed);
            return self.term.write_str("\x1b[K");
        }
        if self.pending.swap(false, Ordering::Relaxed) {
            self.term.write_str("\n")?;
        }
        self.term.write_str(s)
    }
    fn clear_line(&self) -> std::io::Result<()> {
        self.pending.store(false, Ordering::Relaxed);
        self.term.clear_line()
    }
    fn flush(&self) -> std::io::Result<()> {
        self.term.flush()
    }
}

fn total_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{spinner} {elapsed_precise} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
    )
    // INVARIANT: the template is a constant known to parse.
    .expect("valid progress template")
    .progress_chars("=> ")
}

fn worker_style() -> ProgressStyle {
    // INVARIANT: the template is a constant known to parse.
    ProgressStyle::with_template("  worker {prefix}: {msg} {bytes}").expect("valid progress template")
}

/// Longest table name shown whole in a worker's line (longer ones are cut in the middle), so
/// a line fits a terminal.
const NAME_CHARS: usize = 60;

/// `public.big pages 480-960`, `public.big pages 960-end`, or the table alone.
fn part_label(table: &str, range: &Option<PageRange>) -> String {
    let n = table.chars().count();
    let short;
    let table = if n > NAME_CHARS {
        let head: String = table.chars().take(NAME_CHARS / 2 - 1).collect();
        let tail: String = table.chars().skip(n - (NAME_CHARS / 2 - 2)).collect();
        short = format!("{head}...{tail}");
        short.as_str()
    } else {
        table
    };
    match range {
        None => table.to_string(),
        Some(PageRange { from, to: Some(to) }) => format!("{table} pages {from}-{to}"),
        Some(PageRange { from, to: None }) => format!("{table} pages {from}-end"),
    }
}

impl State {
    fn tables_msg(&self) -> String {
        format!("tables {}/{}", self.finished, self.tables)
    }

    fn set_expected(&self) {
        if let Some(t) = &self.total {
            t.set_length(self.expected.max(t.position()));
        }
    }
}

impl Progress for Display {
    fn event(&self, event: &Event) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.closed {
            return;
        }
        match event {
            Event::Planned {
                tables,
                estimated_bytes,
            } => {
                st.tables = *tables;
                st.expected = *estimated_bytes;
                let total = self
                    .multi
                    .add(ProgressBar::new(*estimated_bytes).with_style(total_style()));
                total.set_message(st.tables_msg());
                total.enable_steady_tick(Duration::from_millis(200));
                st.total = Some(total);
            }
            Event::TableStarted {
                id, estimated_bytes, ..
            } => {
                st.estimates.insert(*id, *estimated_bytes);
            }
            Event::PartStarted {
                table, worker, range, ..
            } => {
                let bar = match st.workers.get(worker) {
                    Some(b) => b.clone(),
                    None => {
                        let b = ProgressBar::new(0)
                            .with_style(worker_style())
                            .with_prefix(worker.to_string())
                            .with_message(part_label(table, range));
                        let b = self.multi.add(b);
                        st.workers.insert(*worker, b.clone());
                        b
                    }
                };
                bar.set_position(0);
                bar.set_message(part_label(table, range));
            }
            Event::PieceWritten { worker, bytes, .. } => {
                if let Some(b) = st.workers.get(worker) {
                    b.inc(*bytes);
                }
                if let Some(t) = &st.total {
                    t.inc(*bytes);
                }
                st.set_expected();
            }
            Event::PartFinished { worker, .. } => {
                if let Some(b) = st.workers.get(worker) {
                    b.set_position(0);
                    b.set_message("idle");
                }
            }
            Event::TableFinished { id, bytes, .. } => {
                st.finished += 1;
                let estimate = st.estimates.remove(id).unwrap_or(0);
                st.expected = st.expected.saturating_sub(estimate) + bytes;
                st.set_expected();
                let msg = st.tables_msg();
                if let Some(t) = &st.total {
                    t.set_message(msg);
                }
                if st.finished >= st.tables {
                    // The data is complete: the workers' lines go, the total stays until the
                    // dump ends.
                    for (_, w) in st.workers.drain() {
                        w.finish_and_clear();
                    }
                    if let Some(t) = &st.total {
                        t.disable_steady_tick();
                        t.set_length(t.position());
                        t.tick();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_labels_name_the_table_and_pages() {
        assert_eq!(part_label("public.t", &None), "public.t");
        assert_eq!(
            part_label("public.t", &Some(PageRange { from: 4, to: Some(8) })),
            "public.t pages 4-8"
        );
        assert_eq!(
            part_label("public.t", &Some(PageRange { from: 8, to: None })),
            "public.t pages 8-end"
        );
        let long = format!("public.{}", "x".repeat(100));
        let label = part_label(&long, &None);
        assert_eq!(label.chars().count(), NAME_CHARS);
        assert!(label.starts_with("public.xx") && label.contains("...") && label.ends_with("xx"));
    }

    #[test]
    fn the_estimate_is_corrected_by_finished_tables() {
        let d = Display::with_target(ProgressDrawTarget::hidden());
        d.event(&Event::Planned {
            tables: 2,
            estimated_bytes: 1000,
        });
        for (id, est) in [(1, 800), (2, 200)] {
            d.event(&Event::TableStarted {
                id,
                table: format!("t{id}"),
                parts: 1,
                pages: 0,
                estimated_bytes: est,
            });
        }
        d.event(&Event::PartStarted {
            id: 1,
            table: "t1".into(),
            worker: 0,
            range: None,
        });
        d.event(&Event::PieceWritten {
            id: 1,
            table: "t1".into(),
            worker: 0,
            range: None,
            bytes: 300,
        });
        {
            let st = d.state.lock().unwrap();
            let t = st.total.as_ref().unwrap();
            assert_eq!((t.position(), t.length()), (300, Some(1000)));
            assert_eq!(st.workers[&0].message(), "t1");
        }
        // t1 turned out to be 300 bytes, not 800: 300 + t2's 200 expected in all.
        d.event(&Event::TableFinished {
            id: 1,
            table: "t1".into(),
            rows: 3,
            bytes: 300,
            written: 100,
            elapsed: Duration::ZERO,
        });
        {
            let st = d.state.lock().unwrap();
            let t = st.total.as_ref().unwrap();
            assert_eq!(t.length(), Some(500));
            assert_eq!(t.message(), "tables 1/2");
        }
        // More bytes than estimated never push the position past the length.
        d.event(&Event::PieceWritten {
            id: 2,
            table: "t2".into(),
            worker: 0,
            range: None,
            bytes: 900,
        });
        {
            let st = d.state.lock().unwrap();
            let t = st.total.as_ref().unwrap();
            assert_eq!((t.position(), t.length()), (1200, Some(1200)));
        }
        d.event(&Event::TableFinished {
            id: 2,
            table: "t2".into(),
            rows: 3,
            bytes: 900,
            written: 100,
            elapsed: Duration::ZERO,
        });
        assert!(d.state.lock().unwrap().workers.is_empty());
        d.close();
        // Closed: late events are ignored.
        d.event(&Event::Planned {
            tables: 1,
            estimated_bytes: 1,
        });
        assert!(d.state.lock().unwrap().total.is_none());
    }
}
