//! Printing a TOC as an SQL script: what pg_dump's plain format writes and `pg_restore -f`
//! prints (pg_backup_archiver.c `RestoreArchive` in script mode). One pure printer shared by
//! `-Fp` and, later, a native restore.
//!
//! [`print_script`] takes the archive header, the TOC in archive order, the source session's
//! settings ([`SourceSettings::from_toc`]) and the [`ScriptOptions`], and writes the script.
//! Data is not read by the printer: when it reaches a data entry (TABLE DATA, BLOBS) it calls
//! back with a [`DataSink`] positioned right after the entry's `COPY ... FROM stdin;` line,
//! and the caller copies the payload in. Entries are visited in TOC order, data entries once
//! each, so a writer that knows the TOC first can stream each table's rows when asked.
//!
//! The output reproduces stock pg_restore's byte for byte for the [`Dialect`] chosen (the
//! proto-tests compare against pg_restore 15 and 18), including the `\restrict` lines.
//!
//! ```
//! use pgsnap::archive::script::{DataSink, ScriptOptions, SourceSettings, print_script};
//! use pgsnap::archive::{ArchiveFormat, ArchiveVersion, CreateTime, Header, HeaderCompression, TocEntry};
//!
//! let header = Header {
//!     version: ArchiveVersion::V1_16,
//!     format: ArchiveFormat::Tar,
//!     compression: HeaderCompression::Algorithm(0),
//!     created: CreateTime::default(),
//!     dbname: "shop".into(),
//!     server_version: "18.6".into(),
//!     dump_version: "18.6".into(),
//! };
//! let toc = vec![TocEntry {
//!     dump_id: 1,
//!     had_dumper: true,
//!     tag: "t".into(),
//!     desc: "TABLE DATA".into(),
//!     section: 3,
//!     copy_stmt: Some("COPY public.t (x) FROM stdin;\n".into()),
//!     namespace: Some("public".into()),
//!     owner: Some("postgres".into()),
//!     deps: vec![2],
//!     ..TocEntry::default()
//! }];
//! let settings = SourceSettings::from_toc(&toc)?;
//! let opts = ScriptOptions { restrict_key: Some("k3y".into()), ..ScriptOptions::default() };
//! let mut out = Vec::new();
//! print_script(&mut out, &header, &toc, &settings, &opts, |_entry, sink: &mut DataSink<'_>| {
//!     use std::io::Write;
//!     sink.write_all(b"1\n\\.\n\n\n").map_err(|e| pgsnap::Error::io("copying rows", e))
//! })?;
//! let script = String::from_utf8(out).unwrap();
//! assert!(script.contains("COPY public.t (x) FROM stdin;\n1\n\\.\n"));
//! # Ok::<(), pgsnap::Error>(())
//! ```

mod drop;
mod large_object;
mod options;
mod owner;
mod printer;
mod select;
mod settings;
mod text;

use std::io::Write;

use super::toc::{Header, TocEntry};
use crate::error::Result;

pub use drop::{IfExists, add_if_exists};
pub use large_object::{DataSink, LO_CHUNK, bytea_literal};
pub use options::{Dialect, EntryDetail, ScriptOptions, Sections, Verbose, is_valid_restrict_key};
pub use owner::{OwnerTarget, owner_statement, owner_target};
pub use select::{Pass, Reqs};
pub use settings::{SourceSettings, canonical_encoding};
pub use text::sanitize_line;

/// Something the printer noticed and printed anyway; pg_restore reports these as warnings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptWarning {
    /// `--if-exists` found no place for `IF EXISTS` in an entry's DROP statement, which was
    /// printed unchanged.
    IfExistsNotInserted {
        dump_id: i32,
        desc: String,
        statement: String,
    },
}

/// What a printed script contains, for the caller's report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptReport {
    pub warnings: Vec<ScriptWarning>,
    /// Data entries whose payload the callback was asked for.
    pub data_entries: usize,
    /// Large objects written through the sink.
    pub large_objects: u64,
}

/// Writes the SQL script for `entries` (in archive order) to `out`. `data` is called once
/// for each data entry the options select, in TOC order, to copy its payload into the
/// sink. Nothing else is read, and no clock or environment is consulted; pass a buffered
/// writer, the script is written in many small pieces.
///
/// Errors: invalid option combinations (usage), entries pg_restore would refuse (archive),
/// failures of `out` (io) and whatever `data` returns, with the entry named.
pub fn print_script<F>(
    out: &mut dyn Write,
    header: &Header,
    entries: &[TocEntry],
    settings: &SourceSettings,
    opts: &ScriptOptions,
    data: F,
) -> Result<ScriptReport>
where
    F: FnMut(&TocEntry, &mut DataSink<'_>) -> Result<()>,
{
    opts.validate()?;
    printer::Printer::new(out, header, entries, settings, opts).run(data)
}
