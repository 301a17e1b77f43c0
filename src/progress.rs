//! Progress of the data phase as typed events. The library only emits them, through the
//! [`Progress`] trait the caller hands in; what to do with them (a terminal display, JSON lines
//! for other programs, nothing) is the caller's business.

use std::fmt;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Pages `[from, to)` of a table read by one job; `to = None` reads to the end of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRange {
    pub from: u64,
    pub to: Option<u64>,
}

/// One thing that happened while table data was exported. For one table: `TableStarted`,
/// then per part (the whole table, or each page range of a split one) `PartStarted`, its
/// `PieceWritten`s and `PartFinished`, and last `TableFinished`; the parts of different
/// tables interleave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The work is planned, before any table starts: the basis of an ETA.
    Planned {
        /// Tables to export.
        tables: usize,
        /// Their size on disk (main fork, `pg_relation_size` under the snapshot; the
        /// catalog's `relpages` where it could not be read): an estimate of the COPY bytes.
        estimated_bytes: u64,
    },
    /// A table's first reader started (a split table starts once, with its first range).
    TableStarted {
        /// The job's id (the TABLE DATA dump id in a dump).
        id: i32,
        table: String,
        /// How many ranges read it (1 = not split).
        parts: usize,
        /// Main-fork pages under the snapshot (the catalog's estimate where unmeasured).
        pages: u64,
        /// This table's share of [`Event::Planned`]'s `estimated_bytes`.
        estimated_bytes: u64,
    },
    /// A worker started reading a table, or one page range of it.
    PartStarted {
        id: i32,
        table: String,
        worker: usize,
        /// The range this worker reads (`None`: the whole table).
        range: Option<PageRange>,
    },
    /// A block of COPY text left a worker for compression and the archive.
    PieceWritten {
        id: i32,
        table: String,
        worker: usize,
        /// The range this worker reads (`None`: the whole table).
        range: Option<PageRange>,
        /// Bytes of the block as it enters the table's stream: COPY text (INSERT statements
        /// with `--inserts`); in the archive formats a table's last block also carries
        /// pg_dump's trailer (`\.` and three newlines, `engine::COPY_TRAILER`).
        bytes: u64,
    },
    /// A worker finished its part of a table.
    PartFinished {
        id: i32,
        table: String,
        worker: usize,
        range: Option<PageRange>,
        rows: u64,
        /// COPY text bytes received for this part.
        bytes: u64,
    },
    /// A table's last reader finished and its data is complete.
    TableFinished {
        id: i32,
        table: String,
        rows: u64,
        /// COPY text bytes received.
        bytes: u64,
        /// Bytes in the archive (after compression).
        written: u64,
        /// From its first reader's start to its last reader's end.
        elapsed: Duration,
    },
}

/// Receives progress events; called from the workers, so it must be quick and thread-safe.
pub trait Progress: Send + Sync + fmt::Debug {
    fn event(&self, event: &Event);
}

/// Ignores every event.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _: &Event) {}
}

/// Writes one JSON object per event, one per line, to a writer (standard error for
/// `--progress=json`).
pub struct JsonLines<W: Write + Send> {
    out: Mutex<W>,
}

impl<W: Write + Send> JsonLines<W> {
    pub fn new(out: W) -> Self {
        JsonLines { out: Mutex::new(out) }
    }
}

impl<W: Write + Send> fmt::Debug for JsonLines<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JsonLines")
    }
}

impl<W: Write + Send> Progress for JsonLines<W> {
    fn event(&self, event: &Event) {
        let mut line = to_json(event);
        line.push('\n');
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        // Progress is advisory: a closed stderr must not fail the dump.
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    }
}

/// The event as one JSON object (no newline).
pub fn to_json(event: &Event) -> String {
    match event {
        Event::Planned {
            tables,
            estimated_bytes,
        } => {
            format!("{{\"event\":\"planned\",\"tables\":{tables},\"estimated_bytes\":{estimated_bytes}}}")
        }
        Event::TableStarted {
            id,
            table,
            parts,
            pages,
            estimated_bytes,
        } => format!(
            "{{\"event\":\"table_started\",\"id\":{id},\"table\":{},\"parts\":{parts},\"pages\":{pages},\"estimated_bytes\":{estimated_bytes}}}",
            json_string(table)
        ),
        Event::PartStarted {
            id,
            table,
            worker,
            range,
        } => format!(
            "{{\"event\":\"part_started\",\"id\":{id},\"table\":{},\"worker\":{worker},\"range\":{}}}",
            json_string(table),
            json_range(range)
        ),
        Event::PieceWritten {
            id,
            table,
            worker,
            range,
            bytes,
        } => format!(
            "{{\"event\":\"piece_written\",\"id\":{id},\"table\":{},\"worker\":{worker},\"range\":{},\"bytes\":{bytes}}}",
            json_string(table),
            json_range(range)
        ),
        Event::PartFinished {
            id,
            table,
            worker,
            range,
            rows,
            bytes,
        } => format!(
            "{{\"event\":\"part_finished\",\"id\":{id},\"table\":{},\"worker\":{worker},\"range\":{},\"rows\":{rows},\"bytes\":{bytes}}}",
            json_string(table),
            json_range(range)
        ),
        Event::TableFinished {
            id,
            table,
            rows,
            bytes,
            written,
            elapsed,
        } => format!(
            "{{\"event\":\"table_finished\",\"id\":{id},\"table\":{},\"rows\":{rows},\"bytes\":{bytes},\"written\":{written},\"elapsed_s\":{:.6}}}",
            json_string(table),
            elapsed.as_secs_f64()
        ),
    }
}

/// `[from,to]`, `[from,null]` (to the end), or `null` (the whole table).
fn json_range(range: &Option<PageRange>) -> String {
    match range {
        None => "null".to_string(),
        Some(PageRange { from, to: Some(to) }) => format!("[{from},{to}]"),
        Some(PageRange { from, to: None }) => format!("[{from},null]"),
    }
}

/// A JSON string literal (RFC 8259 escaping).
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_render_as_json_objects() {
        let e = Event::TableStarted {
            id: 7,
            table: "public.\"we\"\"ird\\\"\n".into(),
            parts: 3,
            pages: 120,
            estimated_bytes: 983_040,
        };
        assert_eq!(
            to_json(&e),
            r#"{"event":"table_started","id":7,"table":"public.\"we\"\"ird\\\"\n","parts":3,"pages":120,"estimated_bytes":983040}"#
        );
        assert_eq!(
            to_json(&Event::Planned {
                tables: 2,
                estimated_bytes: 16384
            }),
            r#"{"event":"planned","tables":2,"estimated_bytes":16384}"#
        );
        assert_eq!(
            to_json(&Event::PartStarted {
                id: 7,
                table: "t".into(),
                worker: 0,
                range: Some(PageRange { from: 0, to: Some(40) }),
            }),
            r#"{"event":"part_started","id":7,"table":"t","worker":0,"range":[0,40]}"#
        );
        assert_eq!(
            to_json(&Event::PartFinished {
                id: 7,
                table: "t".into(),
                worker: 0,
                range: None,
                rows: 3,
                bytes: 30,
            }),
            r#"{"event":"part_finished","id":7,"table":"t","worker":0,"range":null,"rows":3,"bytes":30}"#
        );
        let p = Event::PieceWritten {
            id: 7,
            table: "t".into(),
            worker: 1,
            range: Some(PageRange { from: 40, to: None }),
            bytes: 10,
        };
        assert_eq!(
            to_json(&p),
            r#"{"event":"piece_written","id":7,"table":"t","worker":1,"range":[40,null],"bytes":10}"#
        );
        let f = Event::TableFinished {
            id: 7,
            table: "t".into(),
            rows: 5,
            bytes: 50,
            written: 20,
            elapsed: Duration::from_millis(1500),
        };
        assert_eq!(
            to_json(&f),
            r#"{"event":"table_finished","id":7,"table":"t","rows":5,"bytes":50,"written":20,"elapsed_s":1.500000}"#
        );
        assert_eq!(json_string("\u{1}é"), "\"\\u0001é\"");
    }

    #[test]
    fn json_lines_writes_one_line_per_event() {
        let j = JsonLines::new(Vec::new());
        j.event(&Event::TableStarted {
            id: 1,
            table: "a".into(),
            parts: 1,
            pages: 0,
            estimated_bytes: 0,
        });
        j.event(&Event::TableStarted {
            id: 2,
            table: "b".into(),
            parts: 1,
            pages: 0,
            estimated_bytes: 0,
        });
        let out = String::from_utf8(j.out.into_inner().unwrap()).unwrap();
        assert_eq!(out.lines().count(), 2);
        assert!(out.ends_with('\n'));
    }
}
