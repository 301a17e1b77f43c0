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

/// One thing that happened while table data was exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A table's first reader started (a split table starts once, with its first range).
    TableStarted {
        /// The job's id (the TABLE DATA dump id in a dump).
        id: i32,
        table: String,
        /// How many ranges read it (1 = not split).
        parts: usize,
        /// Main-fork pages under the snapshot when it was split, else the catalog's estimate.
        pages: u64,
    },
    /// A block of COPY text left a worker for compression and the archive.
    PieceWritten {
        id: i32,
        table: String,
        worker: usize,
        /// The range this worker reads (`None`: the whole table).
        range: Option<PageRange>,
        /// Bytes of COPY text in the block.
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
        Event::TableStarted {
            id,
            table,
            parts,
            pages,
        } => format!(
            "{{\"event\":\"table_started\",\"id\":{id},\"table\":{},\"parts\":{parts},\"pages\":{pages}}}",
            json_string(table)
        ),
        Event::PieceWritten {
            id,
            table,
            worker,
            range,
            bytes,
        } => {
            let range = match range {
                None => "null".to_string(),
                Some(PageRange { from, to: Some(to) }) => format!("[{from},{to}]"),
                Some(PageRange { from, to: None }) => format!("[{from},null]"),
            };
            format!(
                "{{\"event\":\"piece_written\",\"id\":{id},\"table\":{},\"worker\":{worker},\"range\":{range},\"bytes\":{bytes}}}",
                json_string(table)
            )
        }
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
        };
        assert_eq!(
            to_json(&e),
            r#"{"event":"table_started","id":7,"table":"public.\"we\"\"ird\\\"\n","parts":3,"pages":120}"#
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
        });
        j.event(&Event::TableStarted {
            id: 2,
            table: "b".into(),
            parts: 1,
            pages: 0,
        });
        let out = String::from_utf8(j.out.into_inner().unwrap()).unwrap();
        assert_eq!(out.lines().count(), 2);
        assert!(out.ends_with('\n'));
    }
}
