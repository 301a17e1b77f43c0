//! The plain format (`-Fp`): the TOC printed as an SQL script as it is dumped, the way
//! pg_dump's plain format runs pg_backup_archiver.c `RestoreArchive` in script mode over its
//! own TOC (pg_backup_null.c: data goes straight into the script).
//!
//! The script is printed by [`ScriptPrinter`]; the writer sits behind the same
//! [`ArchiveWriter`] seam as the archive formats. A script has one place for each table's
//! rows, so data must arrive one entry at a time in the order the printer asks for it:
//! [`ArchiveWriter::data_order`] tells the dump that order, and a sink opened out of turn is
//! an error, never reordered or buffered. Each block of COPY text goes into the script (through
//! the compressor, when one is chosen) as it arrives; nothing is held back per table.
//!
//! The script follows the pg_dump of the source server's major (the header's server
//! version): what that server's own `pg_dump -Fp` prints, e.g. no `SET transaction_timeout`
//! for a 15 server.
//!
//! Output: a file, written under a temporary name and renamed into place when complete, or
//! standard output (a device or FIFO in place). A failed dump never prints the script's
//! last lines (`-- PostgreSQL database dump complete`, `\unrestrict`), and a compressed one
//! never gets its trailer.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::output::{ArchiveFile, open_archive_output};
use super::script::{
    DataSink as ScriptDataSink, Dialect, LargeObjectState, ScriptOptions, ScriptPrinter, SourceSettings,
};
use super::toc::{Header, TocEntry};
use super::writer::{ArchiveWriter, DataSink, DataSinks, Finished, WriterOptions, check_entries};
use crate::codec::Encoder;
use crate::error::{Error, ErrorKind, Result};

/// The script's byte stream: the compressor (or pass-through) over the output file.
type ScriptOut = Encoder<FileWrite>;

/// An [`ArchiveFile`] as an `io::Write`, keeping the file's own error (with its context)
/// for the report when a write fails.
struct FileWrite {
    file: Box<dyn ArchiveFile>,
    error: Option<Error>,
}

impl Write for FileWrite {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all(buf).map_err(|e| {
            let io = io::Error::other(e.to_string());
            self.error = Some(e);
            io
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        // The file flushes (and syncs) on commit.
        Ok(())
    }
}

/// Writes a plain SQL script; see the module documentation.
pub struct PlainWriter {
    path: Option<PathBuf>,
    script: ScriptOptions,
    out: Option<ScriptOut>,
    started: Option<Started>,
}

struct Started {
    state: Arc<Mutex<State>>,
    order: Vec<i32>,
}

/// The printer and its output, shared by the data sinks.
struct State {
    printer: Option<ScriptPrinter>,
    out: Option<ScriptOut>,
    /// The entry whose rows are being printed.
    current: Option<i32>,
    /// A write failed: the script is broken, nothing more is printed.
    failed: bool,
}

impl State {
    fn parts(&mut self) -> Result<(&mut ScriptPrinter, &mut ScriptOut)> {
        if self.failed {
            return Err(Error::new(
                ErrorKind::Cancelled,
                "the SQL script is not written further after an earlier failure",
            ));
        }
        match (self.printer.as_mut(), self.out.as_mut()) {
            (Some(p), Some(o)) => Ok((p, o)),
            _ => Err(Error::internal("the SQL script is already finished")),
        }
    }

    /// Runs a printing step; a failure poisons the script and reports the file's own error
    /// when the output failed.
    fn step<T>(&mut self, f: impl FnOnce(&mut ScriptPrinter, &mut ScriptOut) -> Result<T>) -> Result<T> {
        let (printer, out) = self.parts()?;
        match f(printer, out) {
            Ok(v) => Ok(v),
            Err(e) => {
                self.failed = true;
                let file_error = self.out.as_mut().and_then(|o| o.get_mut().error.take());
                // Abandon the output now (a temporary file is removed), whoever still
                // holds a sink.
                self.out = None;
                self.printer = None;
                Err(file_error.unwrap_or(e))
            }
        }
    }
}

impl PlainWriter {
    /// Opens the output: `path` (written atomically) or standard output. `opts.script` shapes
    /// the script (its dialect is replaced by the source server's at start).
    pub fn create(path: Option<&Path>, opts: WriterOptions) -> Result<PlainWriter> {
        opts.script.validate()?;
        let (file, _name) = open_archive_output(path, &opts)?;
        let out = Encoder::new(opts.compression, FileWrite { file, error: None })?;
        Ok(PlainWriter {
            path: path.map(Path::to_path_buf),
            script: opts.script,
            out: Some(out),
            started: None,
        })
    }
}

/// The dialect of the pg_dump that comes with the source server (`18.6`, `15.18 (Debian …)`);
/// the newest for a server pgsnap knows no older dialect of.
fn source_dialect(server_version: &str) -> Dialect {
    let major: String = server_version.chars().take_while(char::is_ascii_digit).collect();
    major
        .parse()
        .ok()
        .and_then(Dialect::from_major)
        .unwrap_or(if major.parse::<u32>().is_ok_and(|m| m < 14) {
            Dialect::Pg14
        } else {
            Dialect::Pg18
        })
}

/// The data entries `printer` asks for, in its order (a dry run that prints nothing).
fn printed_data_order(mut printer: ScriptPrinter) -> Result<Vec<i32>> {
    let mut null = io::sink();
    let mut order = Vec::new();
    while let Some(e) = printer.next_data(&mut null)? {
        order.push(e.dump_id);
        let sink = printer.data_sink(&mut null);
        printer.end_data(sink)?;
    }
    Ok(order)
}

impl ArchiveWriter for PlainWriter {
    fn start(&mut self, header: Header, entries: Vec<TocEntry>) -> Result<()> {
        check_entries(&entries)?;
        if self.started.is_some() {
            return Err(Error::internal("plain script started twice"));
        }
        let Some(out) = self.out.take() else {
            return Err(Error::internal("plain script output is gone"));
        };
        let mut script = self.script.clone();
        script.dialect = source_dialect(&header.server_version);
        // Statistics entries exist only in pg_dump 18, whose printer knows them (their own
        // header line, index and matview statistics after the REFRESH): a script with any
        // is printed as pg_dump 18 prints it, whatever the source server.
        if entries.iter().any(|e| e.desc == "STATISTICS DATA") {
            script.dialect = Dialect::Pg18;
        }
        let settings = SourceSettings::from_toc(&entries)?;
        let order = printed_data_order(ScriptPrinter::new(
            header.clone(),
            entries.clone(),
            settings.clone(),
            script.clone(),
        )?)?;
        let printer = ScriptPrinter::new(header, entries, settings, script)?;
        self.started = Some(Started {
            state: Arc::new(Mutex::new(State {
                printer: Some(printer),
                out: Some(out),
                current: None,
                failed: false,
            })),
            order,
        });
        Ok(())
    }

    fn sinks(&self) -> Result<Arc<dyn DataSinks>> {
        match &self.started {
            Some(s) => Ok(Arc::new(PlainSinks(s.state.clone()))),
            None => Err(Error::internal("plain script: sinks before start")),
        }
    }

    fn data_order(&self) -> Option<Vec<i32>> {
        self.started.as_ref().map(|s| s.order.clone())
    }

    fn finish(mut self: Box<Self>) -> Result<Finished> {
        let Some(s) = self.started.take() else {
            return Err(Error::internal("plain script finished before start"));
        };
        let mut st = lock(&s.state)?;
        st.parts()?;
        // Taken out of the shared state, so that on any failure below the output is
        // abandoned here, not when the last sink goes.
        let (Some(printer), Some(mut out)) = (st.printer.take(), st.out.take()) else {
            return Err(Error::internal("the SQL script is already finished"));
        };
        if let Some(id) = st.current {
            return Err(Error::internal(format!(
                "plain script finished while the data of entry {id} was being written"
            )));
        }
        let report = printer
            .finish(&mut out)
            .map_err(|e| out.get_mut().error.take().unwrap_or(e))?;
        for w in &report.warnings {
            tracing::warn!("{w:?}");
        }
        let file = out
            .finish()
            .map_err(|e| Error::io("finishing the compressed SQL script", e))?;
        if let Some(e) = file.error {
            return Err(e);
        }
        file.file.commit()?;
        Ok(Finished { path: self.path.take() })
    }
}

fn lock(state: &Mutex<State>) -> Result<MutexGuard<'_, State>> {
    state
        .lock()
        .map_err(|_| Error::internal("a plain script writer panicked"))
}

struct PlainSinks(Arc<Mutex<State>>);

impl DataSinks for PlainSinks {
    fn open(&self, dump_id: i32) -> Result<Box<dyn DataSink>> {
        // The script is printed up to this entry's rows on its first block (or at its end,
        // when it has none), which runs on the caller's blocking side.
        Ok(Box::new(PlainSink {
            state: self.0.clone(),
            dump_id,
            begun: false,
            written: 0,
            lo: None,
        }))
    }
}

/// The rows of one entry, printed in place in the script.
struct PlainSink {
    state: Arc<Mutex<State>>,
    dump_id: i32,
    begun: bool,
    written: u64,
    /// A BLOBS entry's script state between calls (the printer's sink lives for one call).
    lo: Option<LargeObjectState>,
}

impl PlainSink {
    /// Runs `f` on the script's data sink of this entry, carrying the large-object state
    /// from the previous call to the next.
    fn in_script(&mut self, f: impl FnOnce(&mut ScriptDataSink<'_>) -> std::io::Result<()>, what: &str) -> Result<()> {
        let state = self.state.clone();
        let mut st = lock(&state)?;
        self.begin(&mut st)?;
        let mut lo = self.lo.take().unwrap_or_default();
        let mut is_lo = false;
        let r = st.step(|printer, out| {
            let mut sink = printer.data_sink(out);
            is_lo = sink.is_large_objects();
            sink.resume(std::mem::take(&mut lo));
            let r = f(&mut sink).map_err(|e| Error::io(what, e));
            lo = sink.suspend();
            r
        });
        if is_lo {
            self.lo = Some(lo);
        }
        r
    }

    /// Prints the script up to this entry's rows, checking it is the entry the script needs
    /// next.
    fn begin(&mut self, st: &mut State) -> Result<()> {
        if self.begun {
            return Ok(());
        }
        if let Some(other) = st.current {
            return Err(Error::internal(format!(
                "the plain format takes one table's data at a time: entry {} started while entry {other} is \
                 being written",
                self.dump_id
            )));
        }
        let id = self.dump_id;
        st.step(|printer, out| match printer.next_data(out)? {
            Some(e) if e.dump_id == id => Ok(()),
            Some(e) => Err(Error::internal(format!(
                "the plain format needs the data of {} next, not of entry {id}",
                e.label()
            ))),
            None => Err(Error::internal(format!(
                "entry {id} has no data in the SQL script, or its data came twice"
            ))),
        })?;
        st.current = Some(id);
        self.begun = true;
        Ok(())
    }
}

impl DataSink for PlainSink {
    fn write(&mut self, block: Vec<u8>) -> Result<()> {
        self.in_script(|sink| sink.write_all(&block), "writing data into the SQL script")?;
        self.written += block.len() as u64;
        Ok(())
    }

    fn start_object(&mut self, oid: u32) -> Result<()> {
        self.in_script(
            |sink| sink.start_large_object(oid),
            "starting a large object in the SQL script",
        )
    }

    fn end_object(&mut self) -> Result<()> {
        self.in_script(
            |sink| sink.end_large_object(),
            "ending a large object in the SQL script",
        )
    }

    fn finish(mut self: Box<Self>) -> Result<u64> {
        let state = self.state.clone();
        let mut st = lock(&state)?;
        self.begin(&mut st)?;
        let lo = self.lo.take().unwrap_or_default();
        st.step(|printer, out| {
            let mut sink = printer.data_sink(out);
            sink.resume(lo);
            printer.end_data(sink)
        })?;
        st.current = None;
        Ok(self.written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::toc::{ArchiveFormat, ArchiveVersion, CreateTime, HeaderCompression};
    use crate::codec::Compression;

    fn header(server: &str) -> Header {
        Header {
            version: ArchiveVersion::V1_14,
            format: ArchiveFormat::Tar,
            compression: HeaderCompression::ZlibLevel(0),
            created: CreateTime::default(),
            dbname: "d".into(),
            server_version: server.into(),
            dump_version: "pgsnap test".into(),
        }
    }

    fn table(id: i32, table_id: i32, name: &str) -> Vec<TocEntry> {
        vec![
            TocEntry {
                dump_id: table_id,
                tag: name.into(),
                desc: "TABLE".into(),
                section: 2,
                defn: Some(format!("CREATE TABLE public.{name} (x integer);\n")),
                drop_stmt: Some(format!("DROP TABLE public.{name};\n")),
                namespace: Some("public".into()),
                tablespace: Some(String::new()),
                tableam: Some("heap".into()),
                owner: Some("postgres".into()),
                ..TocEntry::default()
            },
            TocEntry {
                dump_id: id,
                had_dumper: true,
                tag: name.into(),
                desc: "TABLE DATA".into(),
                section: 3,
                copy_stmt: Some(format!("COPY public.{name} (x) FROM stdin;\n")),
                namespace: Some("public".into()),
                owner: Some("postgres".into()),
                deps: vec![table_id],
                ..TocEntry::default()
            },
        ]
    }

    fn toc() -> Vec<TocEntry> {
        let mut t = vec![TocEntry {
            dump_id: 1,
            tag: "ENCODING".into(),
            desc: "ENCODING".into(),
            section: 2,
            defn: Some("SET client_encoding = 'UTF8';\n".into()),
            ..TocEntry::default()
        }];
        // Pre-data (tables) before data, as a planned TOC has it.
        let (a, b) = (table(10, 2, "a"), table(11, 3, "b"));
        t.extend([a[0].clone(), b[0].clone(), a[1].clone(), b[1].clone()]);
        t
    }

    fn writer(path: &Path, compression: Compression) -> Box<dyn ArchiveWriter> {
        Box::new(
            PlainWriter::create(
                Some(path),
                WriterOptions {
                    compression,
                    sync: false,
                    script: ScriptOptions {
                        restrict_key: Some("K".into()),
                        ..ScriptOptions::default()
                    },
                    ..WriterOptions::default()
                },
            )
            .unwrap(),
        )
    }

    fn write_table(sinks: &dyn DataSinks, id: i32, blocks: &[&[u8]]) -> Result<u64> {
        let mut s = sinks.open(id)?;
        for b in blocks {
            s.write(b.to_vec())?;
        }
        s.finish()
    }

    #[test]
    fn rows_are_printed_in_place_and_the_file_appears_when_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dump.sql");
        let mut w = writer(&path, Compression::None);
        w.start(header("15.19"), toc()).unwrap();
        assert_eq!(w.data_order(), Some(vec![10, 11]));
        let sinks = w.sinks().unwrap();
        assert_eq!(write_table(sinks.as_ref(), 10, &[b"1\n", b"2\n\\.\n\n\n"]).unwrap(), 9);
        write_table(sinks.as_ref(), 11, &[b"\\.\n\n\n"]).unwrap();
        assert!(!path.exists(), "the script appears only when complete");
        assert_eq!(w.finish().unwrap().path.as_deref(), Some(path.as_path()));
        let script = std::fs::read_to_string(&path).unwrap();
        let a = script.find("COPY public.a (x) FROM stdin;\n1\n2\n\\.\n").unwrap();
        let b = script.find("COPY public.b (x) FROM stdin;\n\\.\n").unwrap();
        assert!(script.find("CREATE TABLE public.b").unwrap() < a && a < b, "{script}");
        assert!(script.contains("-- Dumped from database version 15.19\n"), "{script}");
        assert!(
            !script.contains("transaction_timeout"),
            "a 15 source gets pg_dump 15's script"
        );
        assert!(script.ends_with("-- PostgreSQL database dump complete\n--\n\n\\unrestrict K\n\n"));
    }

    #[test]
    fn data_out_of_script_order_is_refused_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dump.sql");
        let mut w = writer(&path, Compression::None);
        w.start(header("18.6"), toc()).unwrap();
        let sinks = w.sinks().unwrap();
        let err = write_table(sinks.as_ref(), 11, &[b"\\.\n\n\n"]).unwrap_err();
        assert!(err.message().contains("needs the data of"), "{err}");
        // The script is broken from here on; the file never appears.
        assert!(write_table(sinks.as_ref(), 10, &[b"\\.\n\n\n"]).is_err());
        assert!(w.finish().is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn finishing_before_every_table_was_written_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dump.sql");
        let mut w = writer(&path, Compression::None);
        w.start(header("18.6"), toc()).unwrap();
        let sinks = w.sinks().unwrap();
        write_table(sinks.as_ref(), 10, &[b"\\.\n\n\n"]).unwrap();
        assert!(w.finish().is_err());
        assert!(!path.exists());
    }

    #[test]
    fn compressed_scripts_decompress_to_the_plain_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut scripts = Vec::new();
        for (c, suffix) in [
            (Compression::None, ""),
            (Compression::Gzip { level: 6 }, ".gz"),
            (Compression::Lz4 { level: 1 }, ".lz4"),
            (Compression::Zstd { level: 3, long: false }, ".zst"),
        ] {
            let path = dir.path().join(format!("dump.sql{suffix}"));
            let mut w = writer(&path, c);
            w.start(header("18.6"), toc()).unwrap();
            let sinks = w.sinks().unwrap();
            write_table(sinks.as_ref(), 10, &[b"7\n\\.\n\n\n"]).unwrap();
            write_table(sinks.as_ref(), 11, &[b"\\.\n\n\n"]).unwrap();
            w.finish().unwrap();
            let mut text = String::new();
            crate::codec::decoder_for_suffix(suffix, std::fs::File::open(&path).unwrap())
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            scripts.push(text);
        }
        assert!(scripts[0].contains("SET transaction_timeout = 0;\n"));
        assert!(scripts.iter().all(|s| *s == scripts[0]));
    }

    #[test]
    fn dialect_follows_the_source_server() {
        assert_eq!(source_dialect("15.18 (Debian 15.18-0+deb12u1)"), Dialect::Pg15);
        assert_eq!(source_dialect("18.6"), Dialect::Pg18);
        assert_eq!(source_dialect("13.2"), Dialect::Pg14);
        assert_eq!(source_dialect("19devel"), Dialect::Pg18);
    }

    use std::io::Read;
}
