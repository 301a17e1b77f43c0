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
//! [`ScriptPrinter`] is the same walk, resumable at each data entry, for writers that are
//! handed each table's rows rather than asked for them.
//!
//! # pg_dump's plain output and pg_restore's script
//!
//! Measured with stock 15 and 18 (proto-tests/script.rs): `pg_dump -Fp` of a database prints
//! exactly what `pg_restore -f` prints for a `pg_dump -Fd` archive of it, with the default
//! options and with `-O`, `-x`, `-c [--if-exists]`, `-C [-c]`,
//! `--use-set-session-authorization`, `--section=...` and `--no-tablespaces`. The version
//! line differs only when the programs differ: pg_dump names itself, pg_restore the
//! archive's pg_dump (both come from [`Header`] here). Where they part, the archive is the
//! reference and the TOC handed to the printer decides:
//! * `-s`: pg_dump leaves matview refreshes (MATERIALIZED VIEW DATA) out of the TOC, while
//!   pg_restore `-s` of a full archive prints them (they count as schema);
//! * `-a`: pg_dump orders the data of tables linked by foreign keys referenced-first, so its
//!   TOC order differs from a full archive's, which pg_restore `-a` follows;
//! * `-v`: dump ids and time stamps differ between runs, archives add a line per entry
//!   (`-- File:` for directory and tar, `-- Data Pos:` for custom; [`EntryDetail`]), and
//!   pg_dump's plain `-v` lists fewer `-- Dependencies:` than its archive holds.
//!
//! Between pg_restore releases: 16 and later change owners with `ALTER VIEW`,
//! `ALTER SEQUENCE`, `ALTER MATERIALIZED VIEW` where 14 and 15 wrote `ALTER TABLE`; 17 and
//! later add `SET transaction_timeout = 0`; 18 gives statistics entries their own
//! selection, header prefix and pass ([`Dialect`]).
//!
//! Not reproduced on purpose: a `LARGE OBJECTS` ACL command without `LARGE OBJECT <oid>` in
//! it (the `SET SESSION AUTHORIZATION` around a grant made by a non-owner) is printed once,
//! unchanged, where pg_restore 18.6 prints `SET SESSION AUTHORIZATION lo_a9001(null);` for
//! every object of the group (seen with two large objects re-granted by a grantee); an owner
//! for an unknown kind of entry is an error, where pg_restore 15 only warns. Not part of the
//! printer: pg_restore's selective restore (`-n`, `-t`, `-I`, `-P`, `-T`, `-L`, ...), which
//! pg_dump does while dumping, and `--transaction-size` (pg_restore 17+).
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
pub(crate) use large_object::LargeObjectState;
pub use large_object::{DataSink, LO_CHUNK, bytea_literal};
pub use options::{Dialect, EntryDetail, ScriptOptions, Sections, Verbose, is_valid_restrict_key};
pub use owner::{OwnerTarget, owner_statement, owner_target};
pub use printer::ScriptPrinter;
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
    ScriptPrinter::new(header.clone(), entries.to_vec(), settings.clone(), opts.clone())?.run(out, data)
}
