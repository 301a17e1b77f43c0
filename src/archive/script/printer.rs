//! The script printer's walk over the TOC: header, fixed session state, the `--clean` drops
//! in reverse order, then the main, ACL and post-ACL passes, each entry with its comment
//! header, session switches and owner (pg_backup_archiver.c `RestoreArchive`,
//! `restore_toc_entry`, `_printTocEntry`, `_doSetFixedOutputState`, `_reconnectToDB`,
//! `_becomeUser`, `_becomeOwner`, `_selectOutputSchema`, `_selectTablespace`,
//! `_selectTableAccessMethod`, `_printTableAccessMethodNoStorage`,
//! `_disableTriggersIfNecessary` — in script mode, where each is a printed statement).
//!
//! The walk stops at every data entry and hands control back to the caller, who streams
//! the entry's payload through a [`DataSink`] and resumes the walk ([`ScriptPrinter`]).

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use super::super::toc::{Header, TocEntry};
use super::drop::{IfExists, add_if_exists, drop_large_object_if_exists};
use super::large_object::{DataSink, acl_per_blob, per_blob};
use super::options::{EntryDetail, ScriptOptions};
use super::owner::owner_statement;
use super::select::{self, Pass, Reqs};
use super::settings::SourceSettings;
use super::text::{ident, literal, psql_connect, qualified, sanitize_line};
use super::{ScriptReport, ScriptWarning};
use crate::error::{Error, Result};

/// pg_class relkind of a partitioned table, as the 1.16 TOC stores it.
const RELKIND_PARTITIONED_TABLE: i32 = b'p' as i32;

const PASSES: [Pass; 3] = [Pass::Main, Pass::Acl, Pass::PostAcl];

/// What the script's imaginary session currently has set, so nothing is set twice. `None`
/// means unknown (the next request prints its statement).
#[derive(Default)]
struct Session {
    user: Option<String>,
    schema: Option<String>,
    tablespace: Option<String>,
    table_am: Option<String>,
}

/// Which header line an entry gets: its definition, its data, or its statistics.
#[derive(Clone, Copy)]
enum Part {
    Definition,
    Data,
    Statistics,
}

impl Part {
    fn prefix(self) -> &'static str {
        match self {
            Part::Definition => "",
            Part::Data => "Data for ",
            Part::Statistics => "Statistics for ",
        }
    }
}

/// Where the walk is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Nothing printed yet.
    Start,
    /// Walking the passes: the next entry to look at.
    Walking { pass: usize, next: usize },
    /// The payload of entry `index` is being written; the walk resumes after it.
    InData { pass: usize, index: usize },
    /// The footer is printed.
    Finished,
}

/// The script printer as a resumable walk, for writers that receive each table's data as it
/// comes: [`ScriptPrinter::next_data`] prints everything up to the next data entry's payload
/// and returns that entry; the payload goes through [`ScriptPrinter::data_sink`]; then
/// [`ScriptPrinter::end_data`], and `next_data` again until it returns `None`; then
/// [`ScriptPrinter::finish`]. Data entries come in TOC order, each once.
///
/// ```
/// # use pgsnap::archive::script::{ScriptOptions, ScriptPrinter, SourceSettings};
/// # use pgsnap::archive::{ArchiveFormat, ArchiveVersion, CreateTime, Header, HeaderCompression, TocEntry};
/// # fn rows_of(_: &TocEntry) -> &'static [u8] { b"1\n\\.\n\n\n" }
/// # let header = Header { version: ArchiveVersion::V1_14, format: ArchiveFormat::Tar,
/// #     compression: HeaderCompression::ZlibLevel(0), created: CreateTime::default(),
/// #     dbname: "d".into(), server_version: "15.19".into(), dump_version: "15.19".into() };
/// # let toc: Vec<TocEntry> = Vec::new();
/// use std::io::Write;
/// let settings = SourceSettings::from_toc(&toc)?;
/// let mut printer = ScriptPrinter::new(header, toc, settings, ScriptOptions::default())?;
/// let mut out = Vec::new();
/// while let Some(entry) = printer.next_data(&mut out)? {
///     let rows = rows_of(&entry);
///     let mut sink = printer.data_sink(&mut out);
///     sink.write_all(rows).map_err(|e| pgsnap::Error::io("copying rows", e))?;
///     printer.end_data(sink)?;
/// }
/// let report = printer.finish(&mut out)?;
/// # Ok::<(), pgsnap::Error>(())
/// ```
pub struct ScriptPrinter {
    header: Header,
    entries: Arc<[TocEntry]>,
    settings: SourceSettings,
    opts: Arc<ScriptOptions>,
    quote_all: bool,
    reqs: Vec<Reqs>,
    /// Schema entries are printed at all (false for `-a` and for implied data-only TOCs),
    /// which is what `--disable-triggers` looks at.
    schema_wanted: bool,
    by_dump_id: HashMap<i32, usize>,
    session: Session,
    stage: Stage,
    report: ScriptReport,
}

fn put(w: &mut dyn Write, s: &str) -> Result<()> {
    w.write_all(s.as_bytes())
        .map_err(|e| Error::io("writing the SQL script", e))
}

impl ScriptPrinter {
    /// A printer for `entries` (in archive order). Refuses invalid option combinations.
    pub fn new(
        header: Header,
        entries: Vec<TocEntry>,
        settings: SourceSettings,
        opts: ScriptOptions,
    ) -> Result<ScriptPrinter> {
        opts.validate()?;
        let (reqs, schema_wanted) = select::required(&entries, &opts);
        let by_dump_id = entries.iter().enumerate().map(|(i, e)| (e.dump_id, i)).collect();
        Ok(ScriptPrinter {
            header,
            entries: entries.into(),
            settings,
            quote_all: opts.quote_all_identifiers,
            opts: Arc::new(opts),
            reqs,
            schema_wanted,
            by_dump_id,
            session: Session::default(),
            stage: Stage::Start,
            report: ScriptReport::default(),
        })
    }

    /// Prints up to the payload of the next selected data entry and returns that entry, or
    /// `None` when no data entry is left.
    pub fn next_data(&mut self, w: &mut dyn Write) -> Result<Option<TocEntry>> {
        let (mut pass, mut next) = match self.stage {
            Stage::Start => {
                self.prologue(w)?;
                (0, 0)
            }
            Stage::Walking { pass, next } => (pass, next),
            Stage::InData { index, .. } => {
                return Err(Error::internal(format!(
                    "the data of {} was not ended before asking for the next entry",
                    self.entries[index].label()
                )));
            }
            Stage::Finished => return Ok(None),
        };
        let entries = Arc::clone(&self.entries);
        while pass < PASSES.len() {
            while next < entries.len() {
                let i = next;
                next += 1;
                if !self.reqs[i].any() || select::pass_of(&entries[i], &self.opts) != PASSES[pass] {
                    continue;
                }
                if self.print_until_data(w, &entries[i], self.reqs[i])? {
                    self.stage = Stage::InData { pass, index: i };
                    return Ok(Some(entries[i].clone()));
                }
                self.print_after_data(w, &entries[i], self.reqs[i])?;
            }
            pass += 1;
            next = 0;
        }
        self.stage = Stage::Walking { pass, next };
        Ok(None)
    }

    /// The sink for the payload of the entry [`ScriptPrinter::next_data`] returned; it
    /// writes straight to `w`.
    pub fn data_sink<'w>(&self, w: &'w mut dyn Write) -> DataSink<'w> {
        let large_objects = match self.stage {
            Stage::InData { index, .. } => self.entries[index].desc == "BLOBS",
            _ => false,
        };
        DataSink::new(w, self.settings.std_strings, large_objects)
    }

    /// Ends the payload written through `sink` and prints what follows it.
    pub fn end_data(&mut self, sink: DataSink<'_>) -> Result<()> {
        let Stage::InData { pass, index } = self.stage else {
            return Err(Error::internal("end_data without a data entry in progress"));
        };
        let entries = Arc::clone(&self.entries);
        let e = &entries[index];
        if let Some(oid) = sink.open_large_object() {
            return Err(Error::internal(format!(
                "the data of {} left large object {oid} unfinished",
                e.label()
            )));
        }
        self.report.large_objects += sink.large_objects_written();
        self.report.data_entries += 1;
        let w = sink.into_inner();
        self.stage = Stage::Walking { pass, next: index + 1 };
        let large_objects = e.desc == "BLOBS";
        if large_objects && !self.opts.single_transaction {
            put(w, "COMMIT;\n\n")?;
        }
        if !large_objects && e.desc != "BLOB COMMENTS" {
            self.toggle_triggers(w, e, "ENABLE")?;
        }
        self.print_after_data(w, e, self.reqs[index])
    }

    /// Prints the rest of the script (the remaining passes and the footer) and returns the
    /// report. Every data entry must have been written: a data entry still ahead is an
    /// error, not a silently empty table.
    pub fn finish(mut self, w: &mut dyn Write) -> Result<ScriptReport> {
        if let Some(e) = self.next_data(w)? {
            return Err(Error::internal(format!(
                "the script was finished before the data of {} was written",
                e.label()
            )));
        }
        if self.stage != Stage::Finished {
            self.epilogue(w)?;
            self.stage = Stage::Finished;
        }
        w.flush().map_err(|e| Error::io("writing the SQL script", e))?;
        Ok(self.report)
    }

    /// Runs the whole walk, asking `data` for each data entry's payload.
    pub(super) fn run<F>(mut self, w: &mut dyn Write, mut data: F) -> Result<ScriptReport>
    where
        F: FnMut(&TocEntry, &mut DataSink<'_>) -> Result<()>,
    {
        while let Some(e) = self.next_data(w)? {
            let mut sink = self.data_sink(w);
            data(&e, &mut sink).map_err(|err| err.context(format!("copying the data of {}", e.label())))?;
            self.end_data(sink)?;
        }
        self.finish(w)
    }

    fn prologue(&mut self, w: &mut dyn Write) -> Result<()> {
        let opts = Arc::clone(&self.opts);
        put(w, "--\n-- PostgreSQL database dump\n--\n\n")?;
        // psql refuses meta-commands between \restrict and \unrestrict, so a crafted object
        // name or data value cannot run shell commands on the machine that loads the script.
        if let Some(key) = &opts.restrict_key {
            put(w, &format!("\\restrict {key}\n\n"))?;
        }
        let versions = format!(
            "-- Dumped from database version {}\n-- Dumped by pg_dump version {}\n\n",
            self.header.server_version, self.header.dump_version
        );
        put(w, &versions)?;
        if let Some(v) = &opts.verbose {
            put(w, &format!("-- Started on {}\n\n", v.started_on))?;
        }
        if opts.single_transaction {
            put(w, "BEGIN;\n\n")?;
        }
        self.fixed_state(w)?;
        if opts.clean {
            self.drop_pass(w)?;
        }
        Ok(())
    }

    fn epilogue(&mut self, w: &mut dyn Write) -> Result<()> {
        let opts = Arc::clone(&self.opts);
        if opts.single_transaction {
            put(w, "COMMIT;\n\n")?;
        }
        if let Some(v) = &opts.verbose {
            put(w, &format!("-- Completed on {}\n\n", v.completed_on))?;
        }
        put(w, "--\n-- PostgreSQL database dump complete\n--\n\n")?;
        if let Some(key) = &opts.restrict_key {
            put(w, &format!("\\unrestrict {key}\n\n"))?;
        }
        Ok(())
    }

    /// Settings every script (and every reconnection) starts with.
    fn fixed_state(&mut self, w: &mut dyn Write) -> Result<()> {
        let mut s = String::from(
            "SET statement_timeout = 0;\nSET lock_timeout = 0;\nSET idle_in_transaction_session_timeout = 0;\n",
        );
        if self.opts.dialect.sets_transaction_timeout() {
            s.push_str("SET transaction_timeout = 0;\n");
        }
        s.push_str(&format!("SET client_encoding = '{}';\n", self.settings.encoding));
        s.push_str(&format!(
            "SET standard_conforming_strings = {};\n",
            if self.settings.std_strings { "on" } else { "off" }
        ));
        if let Some(role) = &self.opts.role {
            s.push_str(&format!("SET ROLE {};\n", ident(role, self.quote_all)));
        }
        if let Some(path) = &self.settings.search_path {
            s.push_str(path);
        }
        s.push_str(
            "SET check_function_bodies = false;\nSET xmloption = content;\nSET client_min_messages = warning;\n",
        );
        if !self.settings.std_strings {
            s.push_str("SET escape_string_warning = off;\n");
        }
        s.push_str(if self.opts.enable_row_security {
            "SET row_security = on;\n"
        } else {
            "SET row_security = off;\n"
        });
        s.push('\n');
        put(w, &s)
    }

    /// `--clean`: every selected entry's DROP, last entry first. With `-C` only the database
    /// itself is dropped (the script is not connected to it yet); otherwise never the
    /// database.
    fn drop_pass(&mut self, w: &mut dyn Write) -> Result<()> {
        let entries = Arc::clone(&self.entries);
        let opts = Arc::clone(&self.opts);
        for (i, e) in entries.iter().enumerate().rev() {
            let is_db = matches!(e.desc.as_str(), "DATABASE" | "DATABASE PROPERTIES");
            if opts.create && !is_db {
                continue;
            }
            let Some(drop) = e.drop_stmt.as_deref() else { continue };
            if !self.reqs[i].schema_or_data() {
                continue;
            }
            self.become_owner(w, e)?;
            self.select_schema(w, e.namespace.as_deref())?;
            if e.desc == "BLOB METADATA" {
                let defn = e.defn.as_deref().unwrap_or("");
                let stmts = if opts.if_exists {
                    per_blob(
                        defn,
                        "SELECT pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata WHERE oid = '",
                        "'",
                    )
                } else {
                    per_blob(defn, "SELECT pg_catalog.lo_unlink('", "')")
                };
                put(w, &stmts)?;
            } else if drop.is_empty() {
                // nothing to drop
            } else if !opts.if_exists {
                put(w, drop)?;
            } else if e.desc == "BLOB" && !drop.starts_with("--") {
                let oid = e.oid.parse::<u32>().unwrap_or(0).to_string();
                put(w, &drop_large_object_if_exists(&oid))?;
            } else {
                match add_if_exists(&e.desc, drop) {
                    IfExists::Statement(s) => put(w, &s)?,
                    IfExists::NotFound(s) => {
                        self.report.warnings.push(ScriptWarning::IfExistsNotInserted {
                            dump_id: e.dump_id,
                            desc: e.desc.clone(),
                            statement: drop.to_string(),
                        });
                        put(w, &s)?;
                    }
                }
            }
        }
        // The schema last selected may be gone now, or may never have existed.
        self.session.schema = None;
        Ok(())
    }

    /// An entry's schema part and, if it has a payload, everything up to it. Returns
    /// whether the payload comes next.
    fn print_until_data(&mut self, w: &mut dyn Write, e: &TocEntry, reqs: Reqs) -> Result<bool> {
        if reqs.schema {
            self.print_entry(w, e, Part::Definition)?;
            if matches!(e.desc.as_str(), "DATABASE" | "DATABASE PROPERTIES") {
                self.reconnect(w, &e.tag)?;
            }
        }
        if !(reqs.data && e.had_dumper) {
            return Ok(false);
        }
        self.print_entry(w, e, Part::Data)?;
        let large_objects = e.desc == "BLOBS";
        if large_objects || e.desc == "BLOB COMMENTS" {
            self.select_schema(w, Some("pg_catalog"))?;
        } else {
            self.toggle_triggers(w, e, "DISABLE")?;
            self.become_owner(w, e)?;
            self.select_schema(w, e.namespace.as_deref())?;
            if let Some(copy) = e.copy_stmt.as_deref().filter(|c| !c.is_empty()) {
                put(w, copy)?;
            }
        }
        // Large objects are written inside one transaction, unless the whole script is one.
        if large_objects && !self.opts.single_transaction {
            put(w, "BEGIN;\n\n")?;
        }
        Ok(true)
    }

    /// What follows the payload (or the schema part, for entries without one): a data part
    /// that is a statement (sequence values, large-object metadata), and statistics.
    fn print_after_data(&mut self, w: &mut dyn Write, e: &TocEntry, reqs: Reqs) -> Result<()> {
        if reqs.data && !e.had_dumper && !reqs.schema {
            self.print_entry(w, e, Part::Definition)?;
        }
        if reqs.stats {
            self.print_entry(w, e, Part::Statistics)?;
        }
        Ok(())
    }

    /// `_printTocEntry`: session switches, the comment header, the definition, the owner.
    fn print_entry(&mut self, w: &mut dyn Write, e: &TocEntry, part: Part) -> Result<()> {
        let opts = Arc::clone(&self.opts);
        self.become_owner(w, e)?;
        self.select_schema(w, e.namespace.as_deref())?;
        self.select_tablespace(w, e.tablespace.as_deref())?;
        // A partitioned table has no storage: its access method is set after it exists.
        if e.relkind != RELKIND_PARTITIONED_TABLE {
            self.select_table_am(w, e.tableam.as_deref())?;
        }
        put(w, &header_comment(e, part, &opts))?;
        let defn = e.defn.as_deref().unwrap_or("");
        if opts.no_owner && e.desc == "SCHEMA" && !defn.starts_with("--") {
            // Old pg_dumps put AUTHORIZATION into CREATE SCHEMA; -O must not keep it.
            put(w, &format!("CREATE SCHEMA {};\n\n\n", ident(&e.tag, self.quote_all)))?;
        } else if e.desc == "BLOB METADATA" {
            put(w, &per_blob(defn, "SELECT pg_catalog.lo_create('", "')"))?;
        } else if e.desc == "ACL" && e.tag.starts_with("LARGE OBJECTS") {
            put(w, &acl_per_blob(defn, self.blob_group_of(e)?))?;
        } else if !defn.is_empty() {
            put(w, &format!("{defn}\n\n"))?;
        }
        // Ownership by ALTER ... OWNER TO, unless sessions switch to the owner instead. The
        // public schema's entry is a comment rather than CREATE SCHEMA, so no session switch
        // makes it owned: it always gets the ALTER.
        let public_schema_comment = e.desc == "SCHEMA" && defn.starts_with("--");
        if !opts.no_owner && (!opts.use_set_session_authorization || public_schema_comment) {
            if e.desc == "BLOB METADATA" {
                if let Some(owner) = e.owner.as_deref().filter(|o| !o.is_empty())
                    && e.drop_stmt.as_deref().is_some_and(|d| !d.is_empty())
                {
                    let end = format!(" OWNER TO {}", ident(owner, self.quote_all));
                    put(w, &per_blob(defn, "ALTER LARGE OBJECT ", &end))?;
                }
            } else if let Some(stmt) = owner_statement(e, opts.dialect, self.quote_all)? {
                put(w, &format!("{stmt}\n\n"))?;
            }
        }
        if e.relkind == RELKIND_PARTITIONED_TABLE
            && !opts.no_table_access_method
            && let Some(am) = e.tableam.as_deref()
        {
            let stmt = format!(
                "ALTER TABLE {} SET ACCESS METHOD {};\n\n",
                qualified(e.namespace.as_deref(), &e.tag, self.quote_all),
                ident(am, self.quote_all)
            );
            put(w, &stmt)?;
        }
        // ACL entries may switch the session user themselves.
        if select::is_acl(e) {
            self.session.user = None;
        }
        Ok(())
    }

    /// The OID list of the BLOB METADATA entry a `LARGE OBJECTS` ACL belongs to (its first
    /// dependency).
    fn blob_group_of(&self, acl: &TocEntry) -> Result<&str> {
        let first = acl.deps.first().copied().unwrap_or(0);
        match self.by_dump_id.get(&first).map(|&i| &self.entries[i]) {
            Some(meta) if meta.desc == "BLOB METADATA" => Ok(meta.defn.as_deref().unwrap_or("")),
            _ => Err(Error::archive(format!(
                "could not find the BLOB METADATA entry {first} that {} applies to",
                acl.label()
            ))),
        }
    }

    /// `-C`: after CREATE DATABASE (and after its properties, so they take effect) the
    /// script connects to it and starts its session over.
    fn reconnect(&mut self, w: &mut dyn Write, dbname: &str) -> Result<()> {
        let connect = psql_connect(dbname, self.quote_all)?;
        // \connect is a meta-command, so the restriction is lifted around it.
        let text = match &self.opts.restrict_key {
            Some(key) => format!("\\unrestrict {key}\n{connect}\\restrict {key}\n\n"),
            None => connect,
        };
        put(w, &text)?;
        self.session = Session::default();
        self.fixed_state(w)
    }

    fn become_user(&mut self, w: &mut dyn Write, user: Option<&str>) -> Result<()> {
        let user = user.unwrap_or("");
        if self.session.user.as_deref() == Some(user) {
            return Ok(());
        }
        let who = if user.is_empty() {
            "DEFAULT".to_string()
        } else {
            literal(user, self.settings.std_strings)
        };
        put(w, &format!("SET SESSION AUTHORIZATION {who};\n\n"))?;
        self.session.user = Some(user.to_string());
        Ok(())
    }

    fn become_owner(&mut self, w: &mut dyn Write, e: &TocEntry) -> Result<()> {
        if self.opts.no_owner || !self.opts.use_set_session_authorization {
            return Ok(());
        }
        self.become_user(w, e.owner.as_deref())
    }

    /// Archives with a SEARCHPATH entry keep that path throughout; older ones get a
    /// `SET search_path` per schema.
    fn select_schema(&mut self, w: &mut dyn Write, schema: Option<&str>) -> Result<()> {
        if self.settings.search_path.is_some() {
            return Ok(());
        }
        let Some(schema) = schema.filter(|s| !s.is_empty()) else {
            return Ok(());
        };
        if self.session.schema.as_deref() == Some(schema) {
            return Ok(());
        }
        let mut stmt = format!("SET search_path = {}", ident(schema, self.quote_all));
        if schema != "pg_catalog" {
            stmt.push_str(", pg_catalog");
        }
        stmt.push_str(";\n\n");
        put(w, &stmt)?;
        self.session.schema = Some(schema.to_string());
        Ok(())
    }

    /// `""` is the database's default tablespace; `None` is not a tablespace object.
    fn select_tablespace(&mut self, w: &mut dyn Write, tablespace: Option<&str>) -> Result<()> {
        if self.opts.no_tablespaces {
            return Ok(());
        }
        let Some(want) = tablespace else { return Ok(()) };
        if self.session.tablespace.as_deref() == Some(want) {
            return Ok(());
        }
        let stmt = if want.is_empty() {
            "SET default_tablespace = '';\n\n".to_string()
        } else {
            format!("SET default_tablespace = {};\n\n", ident(want, self.quote_all))
        };
        put(w, &stmt)?;
        self.session.tablespace = Some(want.to_string());
        Ok(())
    }

    fn select_table_am(&mut self, w: &mut dyn Write, am: Option<&str>) -> Result<()> {
        if self.opts.no_table_access_method {
            return Ok(());
        }
        let Some(want) = am else { return Ok(()) };
        if self.session.table_am.as_deref() == Some(want) {
            return Ok(());
        }
        put(
            w,
            &format!("SET default_table_access_method = {};\n\n", ident(want, self.quote_all)),
        )?;
        self.session.table_am = Some(want.to_string());
        Ok(())
    }

    /// `--disable-triggers` acts only when no schema is printed: the tables already exist
    /// with their triggers and foreign keys. Disabling needs a superuser: the one named by
    /// `--superuser`, else the session's original user. `how` is DISABLE or ENABLE.
    fn toggle_triggers(&mut self, w: &mut dyn Write, e: &TocEntry, how: &str) -> Result<()> {
        if self.schema_wanted || !self.opts.disable_triggers {
            return Ok(());
        }
        let superuser = self.opts.superuser.clone();
        self.become_user(w, superuser.as_deref())?;
        let stmt = format!(
            "ALTER TABLE {} {how} TRIGGER ALL;\n\n",
            qualified(e.namespace.as_deref(), &e.tag, self.quote_all)
        );
        put(w, &stmt)
    }
}

/// The comment block above each entry:
/// `-- [Data for |Statistics for ]Name: <tag>; Type: <desc>; Schema: <ns|->; Owner: <owner|->`
/// plus `; Tablespace: <ts>` for an explicit tablespace. Names are sanitised so that they
/// stay on the comment line; with `-O` the owner is shown as `-`. Verbose scripts first name
/// the TOC entry, its catalog OIDs (as unsigned numbers) and its dependencies.
fn header_comment(e: &TocEntry, part: Part, opts: &ScriptOptions) -> String {
    let owner = if opts.no_owner { None } else { e.owner.as_deref() };
    let mut s = String::from("--\n");
    if opts.verbose.is_some() {
        s.push_str(&format!(
            "-- TOC entry {} (class {} OID {})\n",
            e.dump_id,
            oid_number(&e.tableoid),
            oid_number(&e.oid)
        ));
        if !e.deps.is_empty() {
            s.push_str("-- Dependencies:");
            for d in &e.deps {
                s.push_str(&format!(" {d}"));
            }
            s.push('\n');
        }
    }
    s.push_str(&format!(
        "-- {}Name: {}; Type: {}; Schema: {}; Owner: {}",
        part.prefix(),
        sanitize_line(Some(&e.tag), false),
        e.desc,
        sanitize_line(e.namespace.as_deref(), true),
        sanitize_line(owner, true)
    ));
    if let Some(ts) = e.tablespace.as_deref().filter(|t| !t.is_empty())
        && !opts.no_tablespaces
    {
        s.push_str("; Tablespace: ");
        s.push_str(&sanitize_line(Some(ts), false));
    }
    s.push('\n');
    if let Some(verbose) = &opts.verbose {
        match &verbose.entry_detail {
            EntryDetail::None => {}
            EntryDetail::File if e.filename.is_empty() => {}
            EntryDetail::File => s.push_str(&format!("-- File: {}\n", e.filename)),
            EntryDetail::DataPos(pos) => {
                s.push_str(&format!("-- Data Pos: {}\n", pos.get(&e.dump_id).copied().unwrap_or(0)))
            }
        }
    }
    s.push_str("--\n\n");
    s
}

/// An OID field as pg_restore prints it: the number it parses as (0 when none).
fn oid_number(text: &str) -> u32 {
    let digits = text.trim_start();
    let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
    digits[..end].parse().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::super::options::{Dialect, Sections};
    use super::*;
    use crate::archive::toc::{ArchiveFormat, ArchiveVersion, CreateTime, HeaderCompression};

    fn header() -> Header {
        Header {
            version: ArchiveVersion::V1_16,
            format: ArchiveFormat::Tar,
            compression: HeaderCompression::Algorithm(0),
            created: CreateTime::default(),
            dbname: "shop".into(),
            server_version: "18.6".into(),
            dump_version: "18.6".into(),
        }
    }

    fn special(id: i32, desc: &str, defn: &str) -> TocEntry {
        TocEntry {
            dump_id: id,
            tag: desc.into(),
            desc: desc.into(),
            section: 2,
            defn: Some(defn.into()),
            ..TocEntry::default()
        }
    }

    fn obj(id: i32, desc: &str, ns: Option<&str>, tag: &str, section: i32, defn: &str, drop: &str) -> TocEntry {
        TocEntry {
            dump_id: id,
            desc: desc.into(),
            namespace: ns.map(str::to_string),
            tag: tag.into(),
            section,
            defn: (!defn.is_empty()).then(|| defn.to_string()),
            drop_stmt: (!drop.is_empty()).then(|| drop.to_string()),
            owner: Some("alice".into()),
            ..TocEntry::default()
        }
    }

    /// A small TOC: settings, a schema, a table with data, an index, a comment, an ACL.
    fn toc() -> Vec<TocEntry> {
        let mut table = obj(
            5,
            "TABLE",
            Some("s"),
            "t",
            2,
            "CREATE TABLE s.t (\n    x integer\n);\n",
            "DROP TABLE s.t;\n",
        );
        table.tablespace = Some(String::new());
        table.tableam = Some("heap".into());
        let mut data = obj(6, "TABLE DATA", Some("s"), "t", 3, "", "");
        data.had_dumper = true;
        data.copy_stmt = Some("COPY s.t (x) FROM stdin;\n".into());
        data.deps = vec![5];
        vec![
            special(1, "ENCODING", "SET client_encoding = 'UTF8';\n"),
            special(2, "STDSTRINGS", "SET standard_conforming_strings = 'on';\n"),
            special(
                3,
                "SEARCHPATH",
                "SELECT pg_catalog.set_config('search_path', '', false);\n",
            ),
            obj(4, "SCHEMA", None, "s", 2, "CREATE SCHEMA s;\n", "DROP SCHEMA s;\n"),
            table,
            obj(
                9,
                "ACL",
                Some("s"),
                "TABLE t",
                1,
                "GRANT SELECT ON TABLE s.t TO bob;\n",
                "",
            ),
            data,
            obj(
                7,
                "INDEX",
                Some("s"),
                "i",
                4,
                "CREATE INDEX i ON s.t USING btree (x);\n",
                "DROP INDEX s.i;\n",
            ),
            obj(
                8,
                "COMMENT",
                Some("s"),
                "INDEX i",
                1,
                "COMMENT ON INDEX s.i IS 'x';\n",
                "",
            ),
        ]
    }

    fn print(entries: &[TocEntry], opts: &ScriptOptions) -> String {
        let settings = SourceSettings::from_toc(entries).unwrap();
        let mut out = Vec::new();
        super::super::print_script(&mut out, &header(), entries, &settings, opts, |e, sink| {
            assert_eq!(e.desc, "TABLE DATA");
            sink.write_all(b"1\n\\.\n\n\n").map_err(|e| Error::io("test", e))
        })
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_whole_script() {
        let script = print(
            &toc(),
            &ScriptOptions {
                restrict_key: Some("KEY".into()),
                ..ScriptOptions::default()
            },
        );
        let expected = "--\n-- PostgreSQL database dump\n--\n\n\\restrict KEY\n\n\
-- Dumped from database version 18.6\n-- Dumped by pg_dump version 18.6\n\n\
SET statement_timeout = 0;\nSET lock_timeout = 0;\nSET idle_in_transaction_session_timeout = 0;\n\
SET transaction_timeout = 0;\nSET client_encoding = 'UTF8';\nSET standard_conforming_strings = on;\n\
SELECT pg_catalog.set_config('search_path', '', false);\nSET check_function_bodies = false;\n\
SET xmloption = content;\nSET client_min_messages = warning;\nSET row_security = off;\n\n\
--\n-- Name: s; Type: SCHEMA; Schema: -; Owner: alice\n--\n\nCREATE SCHEMA s;\n\n\nALTER SCHEMA s OWNER TO alice;\n\n\
SET default_tablespace = '';\n\nSET default_table_access_method = heap;\n\n\
--\n-- Name: t; Type: TABLE; Schema: s; Owner: alice\n--\n\nCREATE TABLE s.t (\n    x integer\n);\n\n\n\
ALTER TABLE s.t OWNER TO alice;\n\n\
--\n-- Data for Name: t; Type: TABLE DATA; Schema: s; Owner: alice\n--\n\nCOPY s.t (x) FROM stdin;\n1\n\\.\n\n\n\
--\n-- Name: i; Type: INDEX; Schema: s; Owner: alice\n--\n\nCREATE INDEX i ON s.t USING btree (x);\n\n\n\
--\n-- Name: INDEX i; Type: COMMENT; Schema: s; Owner: alice\n--\n\nCOMMENT ON INDEX s.i IS 'x';\n\n\n\
--\n-- Name: TABLE t; Type: ACL; Schema: s; Owner: alice\n--\n\nGRANT SELECT ON TABLE s.t TO bob;\n\n\n\
--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict KEY\n\n";
        assert_eq!(script, expected);
    }

    #[test]
    fn clean_if_exists_drops_in_reverse_order() {
        let script = print(
            &toc(),
            &ScriptOptions {
                clean: true,
                if_exists: true,
                ..ScriptOptions::default()
            },
        );
        let drops = "SET row_security = off;\n\nDROP INDEX IF EXISTS s.i;\nDROP TABLE IF EXISTS s.t;\nDROP SCHEMA IF EXISTS s;\n--\n";
        assert!(script.contains(drops), "{script}");
        assert!(!script.contains("\\restrict"), "no key, no restrict lines");
    }

    #[test]
    fn session_authorization_instead_of_alter_owner() {
        let script = print(
            &toc(),
            &ScriptOptions {
                use_set_session_authorization: true,
                ..ScriptOptions::default()
            },
        );
        assert!(!script.contains("OWNER TO"));
        // Set once; an ACL entry may switch users itself, so the next entry would set it again.
        assert_eq!(
            script.matches("SET SESSION AUTHORIZATION 'alice';\n\n").count(),
            1,
            "{script}"
        );
        assert!(script.contains("SET row_security = off;\n\nSET SESSION AUTHORIZATION 'alice';\n\n--\n-- Name: s;"));
        let o = print(
            &toc(),
            &ScriptOptions {
                no_owner: true,
                use_set_session_authorization: true,
                ..ScriptOptions::default()
            },
        );
        assert!(!o.contains("SESSION AUTHORIZATION") && !o.contains("OWNER TO"));
        assert!(o.contains("-- Name: t; Type: TABLE; Schema: s; Owner: -\n"));
    }

    #[test]
    fn data_only_with_disabled_triggers() {
        let script = print(
            &toc(),
            &ScriptOptions {
                no_schema: true,
                no_statistics: true,
                disable_triggers: true,
                superuser: Some("o'boss".into()),
                ..ScriptOptions::default()
            },
        );
        let body = "--\n-- Data for Name: t; Type: TABLE DATA; Schema: s; Owner: alice\n--\n\n\
SET SESSION AUTHORIZATION 'o''boss';\n\nALTER TABLE s.t DISABLE TRIGGER ALL;\n\n\
COPY s.t (x) FROM stdin;\n1\n\\.\n\n\nALTER TABLE s.t ENABLE TRIGGER ALL;\n\n--\n-- PostgreSQL database dump complete";
        assert!(script.contains(body), "{script}");
        assert!(!script.contains("CREATE"));
    }

    #[test]
    fn create_database_reconnects_with_restrict_lifted() {
        let mut entries = toc();
        entries.insert(
            3,
            obj(
                10,
                "DATABASE",
                None,
                "shop",
                2,
                "CREATE DATABASE shop;\n",
                "DROP DATABASE shop;\n",
            ),
        );
        let script = print(
            &entries,
            &ScriptOptions {
                create: true,
                clean: true,
                restrict_key: Some("K".into()),
                dialect: Dialect::Pg15,
                ..ScriptOptions::default()
            },
        );
        assert!(
            script.contains("SET row_security = off;\n\nDROP DATABASE shop;\n--\n"),
            "{script}"
        );
        assert!(!script.contains("DROP TABLE"), "-C drops only the database");
        assert!(script.contains(
            "CREATE DATABASE shop;\n\n\nALTER DATABASE shop OWNER TO alice;\n\n\\unrestrict K\n\\connect shop\n\\restrict K\n\nSET statement_timeout = 0;\n"
        ));
        assert!(!script.contains("transaction_timeout"), "15 does not set it");
        assert_eq!(script.matches("SET client_encoding").count(), 2);
    }

    #[test]
    fn sections_and_headers() {
        let script = print(
            &toc(),
            &ScriptOptions {
                sections: Sections {
                    pre_data: false,
                    data: false,
                    post_data: true,
                },
                ..ScriptOptions::default()
            },
        );
        assert!(script.contains("CREATE INDEX") && script.contains("COMMENT ON INDEX"));
        assert!(!script.contains("CREATE TABLE") && !script.contains("COPY") && !script.contains("GRANT"));
    }

    #[test]
    fn verbose_headers_and_stamps() {
        let mut e = obj(12, "INDEX", Some("s"), "i", 4, "x", "y");
        e.tableoid = "1259".into();
        e.oid = "16390".into();
        e.deps = vec![5, 9];
        let v = ScriptOptions {
            verbose: Some(super::super::Verbose {
                started_on: "2026-01-02 03:04:05 UTC".into(),
                completed_on: "2026-01-02 03:04:06 UTC".into(),
                entry_detail: EntryDetail::None,
            }),
            ..ScriptOptions::default()
        };
        assert_eq!(
            header_comment(&e, Part::Definition, &v),
            "--\n-- TOC entry 12 (class 1259 OID 16390)\n-- Dependencies: 5 9\n-- Name: i; Type: INDEX; Schema: s; Owner: alice\n--\n\n"
        );
        let mut files = v.clone();
        if let Some(verbose) = files.verbose.as_mut() {
            verbose.entry_detail = EntryDetail::File;
        }
        assert!(
            !header_comment(&e, Part::Definition, &files).contains("-- File:"),
            "no data file, no line"
        );
        e.filename = "3185.dat".into();
        assert!(header_comment(&e, Part::Data, &files).ends_with("Owner: alice\n-- File: 3185.dat\n--\n\n"));
        let mut custom = v.clone();
        if let Some(verbose) = custom.verbose.as_mut() {
            verbose.entry_detail = EntryDetail::DataPos([(12, 4096)].into_iter().collect());
        }
        assert!(header_comment(&e, Part::Data, &custom).ends_with("Owner: alice\n-- Data Pos: 4096\n--\n\n"));
        e.dump_id = 13;
        assert!(header_comment(&e, Part::Data, &custom).ends_with("-- Data Pos: 0\n--\n\n"));
        e.dump_id = 12;
        e.deps.clear();
        e.tableoid = "0".into();
        assert!(
            header_comment(&e, Part::Definition, &v).starts_with("--\n-- TOC entry 12 (class 0 OID 16390)\n-- Name:")
        );
        let s = print(&toc(), &v);
        assert!(s.contains(
            "-- Dumped by pg_dump version 18.6\n\n-- Started on 2026-01-02 03:04:05 UTC\n\nSET statement_timeout"
        ));
        assert!(
            s.ends_with("-- Completed on 2026-01-02 03:04:06 UTC\n\n--\n-- PostgreSQL database dump complete\n--\n\n")
        );
        assert_eq!(oid_number("4294967295"), u32::MAX);
        assert_eq!(oid_number("junk"), 0);
    }

    #[test]
    fn header_comments_are_sanitised() {
        let mut e = obj(1, "TABLE", Some("sch\nema"), "evil\r\nname", 2, "x", "y");
        e.owner = Some("o\nwner".into());
        e.tablespace = Some("t\ns".into());
        let o = ScriptOptions::default();
        assert_eq!(
            header_comment(&e, Part::Definition, &o),
            "--\n-- Name: evil  name; Type: TABLE; Schema: sch ema; Owner: o wner; Tablespace: t s\n--\n\n"
        );
        let no_ts = ScriptOptions {
            no_tablespaces: true,
            no_owner: true,
            ..ScriptOptions::default()
        };
        assert_eq!(
            header_comment(&e, Part::Statistics, &no_ts),
            "--\n-- Statistics for Name: evil  name; Type: TABLE; Schema: sch ema; Owner: -\n--\n\n"
        );
        e.namespace = None;
        e.owner = Some(String::new());
        assert_eq!(
            header_comment(&e, Part::Data, &no_ts),
            "--\n-- Data for Name: evil  name; Type: TABLE; Schema: -; Owner: -\n--\n\n"
        );
        assert!(header_comment(&e, Part::Data, &o).contains("; Owner: ; Tablespace"));
    }

    #[test]
    fn large_objects_metadata_data_and_acls() {
        let mut meta = obj(
            20,
            "BLOB METADATA",
            None,
            "16400..16401",
            3,
            "16400\n16401\n",
            "-- dummy",
        );
        meta.oid = "16400".into();
        let mut blobs = obj(21, "BLOBS", None, "16400..16401", 3, "", "");
        blobs.had_dumper = true;
        blobs.deps = vec![20];
        let mut acl = obj(
            22,
            "ACL",
            None,
            "LARGE OBJECTS 16400..16401",
            1,
            "GRANT SELECT ON LARGE OBJECT 16400 TO bob;\n",
            "",
        );
        acl.deps = vec![20];
        let entries = vec![
            special(2, "STDSTRINGS", "SET standard_conforming_strings = 'on';\n"),
            special(3, "SEARCHPATH", "SELECT 1;\n"),
            meta,
            blobs,
            acl,
        ];
        let settings = SourceSettings::from_toc(&entries).unwrap();
        let mut out = Vec::new();
        let opts = ScriptOptions {
            clean: true,
            ..ScriptOptions::default()
        };
        let report = super::super::print_script(&mut out, &header(), &entries, &settings, &opts, |_, sink| {
            let io = |e| Error::io("test", e);
            sink.start_large_object(16400).map_err(io)?;
            sink.write_all(b"hi").map_err(io)?;
            sink.end_large_object().map_err(io)?;
            sink.start_large_object(16401).map_err(io)?;
            sink.end_large_object().map_err(io)
        })
        .unwrap();
        assert_eq!(report.large_objects, 2);
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains("SELECT pg_catalog.lo_unlink('16400');\nSELECT pg_catalog.lo_unlink('16401');\n\n--\n"));
        assert!(s.contains(
            "SELECT pg_catalog.lo_create('16400');\nSELECT pg_catalog.lo_create('16401');\n\n\
ALTER LARGE OBJECT 16400 OWNER TO alice;\nALTER LARGE OBJECT 16401 OWNER TO alice;\n\n"
        ));
        assert!(s.contains(
            "--\n-- Data for Name: 16400..16401; Type: BLOBS; Schema: -; Owner: alice\n--\n\nBEGIN;\n\n\
SELECT pg_catalog.lo_open('16400', 131072);\nSELECT pg_catalog.lowrite(0, '\\x6869');\n\
SELECT pg_catalog.lo_close(0);\n\nSELECT pg_catalog.lo_open('16401', 131072);\n\
SELECT pg_catalog.lo_close(0);\n\nCOMMIT;\n\n"
        ));
        assert!(
            s.contains("GRANT SELECT ON LARGE OBJECT 16400 TO bob;\nGRANT SELECT ON LARGE OBJECT 16401 TO bob;\n\n")
        );
    }

    #[test]
    fn callback_errors_name_the_entry_and_unfinished_objects_are_caught() {
        let entries = toc();
        let settings = SourceSettings::from_toc(&entries).unwrap();
        let err = super::super::print_script(
            &mut Vec::new(),
            &header(),
            &entries,
            &settings,
            &ScriptOptions::default(),
            |_, _| Err(Error::archive("data file is damaged")),
        )
        .unwrap_err();
        assert!(format!("{err}").contains("TABLE DATA s t"), "{err}");
        let mut blobs = obj(21, "BLOBS", None, "BLOBS", 3, "", "");
        blobs.had_dumper = true;
        let err = super::super::print_script(
            &mut Vec::new(),
            &header(),
            &[blobs],
            &SourceSettings::default(),
            &ScriptOptions::default(),
            |_, sink| sink.start_large_object(7).map_err(|e| Error::io("t", e)),
        )
        .unwrap_err();
        assert!(err.message().contains("left large object 7 unfinished"));
    }

    #[test]
    fn stepping_prints_what_the_callback_prints() {
        let entries = toc();
        let opts = ScriptOptions {
            clean: true,
            restrict_key: Some("k".into()),
            ..ScriptOptions::default()
        };
        let settings = SourceSettings::from_toc(&entries).unwrap();
        let mut p = ScriptPrinter::new(header(), entries.clone(), settings, opts.clone()).unwrap();
        let mut out = Vec::new();
        let mut seen = Vec::new();
        while let Some(e) = p.next_data(&mut out).unwrap() {
            seen.push(e.dump_id);
            let mut sink = p.data_sink(&mut out);
            sink.write_all(b"1\n\\.\n\n\n").unwrap();
            p.end_data(sink).unwrap();
        }
        assert_eq!(p.next_data(&mut out).unwrap(), None, "asking again is harmless");
        let report = p.finish(&mut out).unwrap();
        assert_eq!(seen, [6]);
        assert_eq!(report.data_entries, 1);
        assert_eq!(String::from_utf8(out).unwrap(), print(&entries, &opts));
    }

    #[test]
    fn stepping_refuses_skipped_or_unended_data() {
        let entries = toc();
        let settings = SourceSettings::from_toc(&entries).unwrap();
        let opts = ScriptOptions::default();
        let p = ScriptPrinter::new(header(), entries.clone(), settings.clone(), opts.clone()).unwrap();
        let err = p.finish(&mut Vec::new()).unwrap_err();
        assert!(
            err.message().contains("finished before the data of TOC entry 6"),
            "{err}"
        );
        let mut p = ScriptPrinter::new(header(), entries.clone(), settings.clone(), opts.clone()).unwrap();
        let mut out = Vec::new();
        assert!(p.next_data(&mut out).unwrap().is_some());
        assert!(p.next_data(&mut out).unwrap_err().message().contains("was not ended"));
        let bad = ScriptOptions {
            if_exists: true,
            ..opts
        };
        assert!(ScriptPrinter::new(header(), entries, settings, bad).is_err());
    }

    #[test]
    fn old_archives_without_search_path_switch_schemas() {
        let entries = vec![
            obj(1, "TABLE", Some("a"), "t", 2, "CREATE TABLE t ();\n", "DROP TABLE t;\n"),
            obj(2, "TABLE", Some("a"), "u", 2, "CREATE TABLE u ();\n", "DROP TABLE u;\n"),
            obj(3, "TABLE", Some("B"), "v", 2, "CREATE TABLE v ();\n", "DROP TABLE v;\n"),
        ];
        let s = print(&entries, &ScriptOptions::default());
        assert_eq!(s.matches("SET search_path = a, pg_catalog;\n\n").count(), 1);
        assert_eq!(s.matches("SET search_path = \"B\", pg_catalog;\n\n").count(), 1);
        assert!(s.contains("SET client_encoding = 'SQL_ASCII';\nSET standard_conforming_strings = off;\n"));
        assert!(s.contains("SET escape_string_warning = off;\n"));
    }

    #[test]
    fn partitioned_tables_get_their_access_method_afterwards() {
        let mut p = obj(
            1,
            "TABLE",
            Some("s"),
            "p",
            2,
            "CREATE TABLE s.p (x int) PARTITION BY LIST (x);\n",
            "DROP TABLE s.p;\n",
        );
        p.relkind = RELKIND_PARTITIONED_TABLE;
        p.tableam = Some("heap2".into());
        let s = print(std::slice::from_ref(&p), &ScriptOptions::default());
        assert!(!s.contains("SET default_table_access_method"));
        assert!(s.contains("ALTER TABLE s.p OWNER TO alice;\n\nALTER TABLE s.p SET ACCESS METHOD heap2;\n\n"));
        let none = print(
            &[p],
            &ScriptOptions {
                no_table_access_method: true,
                ..ScriptOptions::default()
            },
        );
        assert!(!none.contains("ACCESS METHOD"));
    }

    #[test]
    fn single_transaction_role_and_row_security() {
        let s = print(
            &toc(),
            &ScriptOptions {
                single_transaction: true,
                role: Some("Admin".into()),
                enable_row_security: true,
                ..ScriptOptions::default()
            },
        );
        assert!(s.contains("-- Dumped by pg_dump version 18.6\n\nBEGIN;\n\nSET statement_timeout = 0;"));
        assert!(s.contains("SET ROLE \"Admin\";\nSELECT pg_catalog.set_config"));
        assert!(s.contains("SET row_security = on;\n"));
        assert!(s.ends_with("COMMIT;\n\n--\n-- PostgreSQL database dump complete\n--\n\n"));
    }
}
