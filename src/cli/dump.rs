//! `pgsnap dump` / `pg_dump`: every pg_dump 18 option, parsed as pg_dump's getopt loop reads
//! them and checked as its `main` checks them, in the same order and with the same words
//! (src/bin/pg_dump/pg_dump.c), into a [`DumpRequest`]. Pure apart from reading `--filter`
//! files, which the caller provides.

use std::path::PathBuf;
use std::time::Duration;

use super::compress;
use super::getopt::{self, HasArg, Item, OptSpec};
use super::split::parse_split_size;
use crate::archive::script::{Dialect, ScriptOptions, Sections, Verbose};
use crate::archive::toc::ArchiveVersion;
use crate::catalog::Selection;
use crate::checksum::ChecksumKind;
use crate::codec::Compression;
use crate::conn::{ConnOptions, PasswordPrompt};
use crate::crypt::EnvelopeRequest;
use crate::dump::{DumpOptions, OutputFormat};
use crate::model::InsertOptions;
use crate::pg::{SessionOptions, Target};
use crate::select::Patterns;
use crate::select::filter::{self, ObjectType, Origin};

/// The options, in pg_dump 18's `long_options` order (getopt lists ambiguous abbreviations
/// in table order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum O {
    DataOnly,
    LargeObjects,
    NoLargeObjects,
    Clean,
    Create,
    Dbname,
    Extension,
    File,
    Format,
    Host,
    Jobs,
    NoReconnect,
    NoOwner,
    Port,
    Schema,
    ExcludeSchema,
    SchemaOnly,
    Superuser,
    Table,
    ExcludeTable,
    NoPassword,
    Password,
    Username,
    Verbose,
    NoPrivileges,
    Compress,
    Encoding,
    Help,
    Version,
    ColumnInserts,
    BinaryUpgrade,
    DisableDollarQuoting,
    DisableTriggers,
    EnableRowSecurity,
    ExcludeTableData,
    ExtraFloatDigits,
    IfExists,
    Inserts,
    LockWaitTimeout,
    NoTableAccessMethod,
    NoTablespaces,
    QuoteAllIdentifiers,
    LoadViaPartitionRoot,
    Role,
    Section,
    SerializableDeferrable,
    Snapshot,
    Statistics,
    StatisticsOnly,
    StrictNames,
    UseSetSessionAuthorization,
    NoComments,
    NoData,
    NoPolicies,
    NoPublications,
    NoSchema,
    NoSecurityLabels,
    NoStatistics,
    NoSubscriptions,
    NoToastCompression,
    NoUnloggedTableData,
    NoSync,
    NoManifest,
    ManifestChecksums,
    SplitTablesLargerThan,
    OnConflictDoNothing,
    RowsPerInsert,
    IncludeForeignData,
    TableAndChildren,
    ExcludeTableAndChildren,
    ExcludeTableDataAndChildren,
    SyncMethod,
    Filter,
    ExcludeExtension,
    SequenceData,
    RestrictKey,
    /// `-X`: in pg_dump's short option string but handled by no case.
    Unhandled,
    ArchiveVersion,
    Progress,
    EncryptTo,
    EncryptToFile,
    PassphraseFile,
    EncryptWithPassphrase,
    To,
}

const fn opt(id: O, short: Option<char>, long: &'static [&'static str], has_arg: HasArg) -> OptSpec<O> {
    OptSpec {
        id,
        short,
        long,
        has_arg,
        abbrev: true,
    }
}

/// pgsnap's own options answer only to their full name, so every abbreviation pg_dump
/// accepts still means what it means there (`--a` is `--attribute-inserts`).
const fn own(id: O, long: &'static [&'static str], has_arg: HasArg) -> OptSpec<O> {
    OptSpec {
        id,
        short: None,
        long,
        has_arg,
        abbrev: false,
    }
}

use HasArg::{No, Required as Req};

/// pg_dump 18.6's options (long names in its table order, with the short letters of its
/// option string), then pgsnap's own.
const OPTIONS: &[OptSpec<O>] = &[
    opt(O::DataOnly, Some('a'), &["data-only"], No),
    opt(O::LargeObjects, Some('b'), &["blobs", "large-objects"], No),
    opt(O::NoLargeObjects, Some('B'), &["no-blobs", "no-large-objects"], No),
    opt(O::Clean, Some('c'), &["clean"], No),
    opt(O::Create, Some('C'), &["create"], No),
    opt(O::Dbname, Some('d'), &["dbname"], Req),
    opt(O::Extension, Some('e'), &["extension"], Req),
    opt(O::File, Some('f'), &["file"], Req),
    opt(O::Format, Some('F'), &["format"], Req),
    opt(O::Host, Some('h'), &["host"], Req),
    opt(O::Jobs, Some('j'), &["jobs"], Req),
    opt(O::NoReconnect, Some('R'), &["no-reconnect"], No),
    opt(O::NoOwner, Some('O'), &["no-owner"], No),
    opt(O::Port, Some('p'), &["port"], Req),
    opt(O::Schema, Some('n'), &["schema"], Req),
    opt(O::ExcludeSchema, Some('N'), &["exclude-schema"], Req),
    opt(O::SchemaOnly, Some('s'), &["schema-only"], No),
    opt(O::Superuser, Some('S'), &["superuser"], Req),
    opt(O::Table, Some('t'), &["table"], Req),
    opt(O::ExcludeTable, Some('T'), &["exclude-table"], Req),
    opt(O::NoPassword, Some('w'), &["no-password"], No),
    opt(O::Password, Some('W'), &["password"], No),
    opt(O::Username, Some('U'), &["username"], Req),
    opt(O::Verbose, Some('v'), &["verbose"], No),
    opt(O::NoPrivileges, Some('x'), &["no-privileges", "no-acl"], No),
    opt(O::Compress, Some('Z'), &["compress"], Req),
    opt(O::Encoding, Some('E'), &["encoding"], Req),
    opt(O::Help, None, &["help"], No),
    opt(O::Version, None, &["version"], No),
    opt(O::ColumnInserts, None, &["attribute-inserts"], No),
    opt(O::BinaryUpgrade, None, &["binary-upgrade"], No),
    opt(O::ColumnInserts, None, &["column-inserts"], No),
    opt(O::DisableDollarQuoting, None, &["disable-dollar-quoting"], No),
    opt(O::DisableTriggers, None, &["disable-triggers"], No),
    opt(O::EnableRowSecurity, None, &["enable-row-security"], No),
    opt(O::ExcludeTableData, None, &["exclude-table-data"], Req),
    opt(O::ExtraFloatDigits, None, &["extra-float-digits"], Req),
    opt(O::IfExists, None, &["if-exists"], No),
    opt(O::Inserts, None, &["inserts"], No),
    opt(O::LockWaitTimeout, None, &["lock-wait-timeout"], Req),
    opt(O::NoTableAccessMethod, None, &["no-table-access-method"], No),
    opt(O::NoTablespaces, None, &["no-tablespaces"], No),
    opt(O::QuoteAllIdentifiers, None, &["quote-all-identifiers"], No),
    opt(O::LoadViaPartitionRoot, None, &["load-via-partition-root"], No),
    opt(O::Role, None, &["role"], Req),
    opt(O::Section, None, &["section"], Req),
    opt(O::SerializableDeferrable, None, &["serializable-deferrable"], No),
    opt(O::Snapshot, None, &["snapshot"], Req),
    opt(O::Statistics, None, &["statistics"], No),
    opt(O::StatisticsOnly, None, &["statistics-only"], No),
    opt(O::StrictNames, None, &["strict-names"], No),
    opt(
        O::UseSetSessionAuthorization,
        None,
        &["use-set-session-authorization"],
        No,
    ),
    opt(O::NoComments, None, &["no-comments"], No),
    opt(O::NoData, None, &["no-data"], No),
    opt(O::NoPolicies, None, &["no-policies"], No),
    opt(O::NoPublications, None, &["no-publications"], No),
    opt(O::NoSchema, None, &["no-schema"], No),
    opt(O::NoSecurityLabels, None, &["no-security-labels"], No),
    opt(O::NoStatistics, None, &["no-statistics"], No),
    opt(O::NoSubscriptions, None, &["no-subscriptions"], No),
    opt(O::NoToastCompression, None, &["no-toast-compression"], No),
    opt(O::NoUnloggedTableData, None, &["no-unlogged-table-data"], No),
    opt(O::NoSync, None, &["no-sync"], No),
    opt(O::OnConflictDoNothing, None, &["on-conflict-do-nothing"], No),
    opt(O::RowsPerInsert, None, &["rows-per-insert"], Req),
    opt(O::IncludeForeignData, None, &["include-foreign-data"], Req),
    opt(O::TableAndChildren, None, &["table-and-children"], Req),
    opt(O::ExcludeTableAndChildren, None, &["exclude-table-and-children"], Req),
    opt(
        O::ExcludeTableDataAndChildren,
        None,
        &["exclude-table-data-and-children"],
        Req,
    ),
    opt(O::SyncMethod, None, &["sync-method"], Req),
    opt(O::Filter, None, &["filter"], Req),
    opt(O::ExcludeExtension, None, &["exclude-extension"], Req),
    opt(O::SequenceData, None, &["sequence-data"], No),
    opt(O::RestrictKey, None, &["restrict-key"], Req),
    opt(O::Unhandled, Some('X'), &[], No),
    own(O::ArchiveVersion, &["archive-version"], Req),
    own(O::Progress, &["progress"], Req),
    own(O::EncryptTo, &["encrypt-to"], Req),
    own(O::EncryptToFile, &["encrypt-to-file"], Req),
    own(O::PassphraseFile, &["passphrase-file"], Req),
    own(O::EncryptWithPassphrase, &["encrypt-with-passphrase"], No),
    own(O::NoManifest, &["no-manifest"], No),
    own(O::ManifestChecksums, &["manifest-checksums"], Req),
    own(O::SplitTablesLargerThan, &["split-tables-larger-than"], Req),
    own(O::To, &["to"], Req),
];

/// The long option names pg_dump 18 accepts (and pgsnap's own), for the help test.
pub fn long_option_names() -> Vec<&'static str> {
    OPTIONS.iter().flat_map(|o| o.long.iter().copied()).collect()
}

/// A command line pg_dump would refuse: the message (none when pg_dump prints only the
/// hint) and whether the `Try "... --help"` hint follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    pub message: Option<String>,
    pub hint: bool,
}

impl UsageError {
    fn fatal(message: impl Into<String>) -> Self {
        UsageError {
            message: Some(message.into()),
            hint: false,
        }
    }

    fn with_hint(message: impl Into<String>) -> Self {
        UsageError {
            message: Some(message.into()),
            hint: true,
        }
    }

    fn hint_only() -> Self {
        UsageError {
            message: None,
            hint: true,
        }
    }
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message.as_deref().unwrap_or("invalid command line"))
    }
}

/// Why a filter file could not be read (the message differs, as in filter.c).
#[derive(Debug)]
pub enum FilterReadError {
    Open(std::io::Error),
    Read(std::io::Error),
}

/// What the command line asks for.
#[derive(Debug)]
pub enum DumpCommand {
    Help,
    Version,
    Run(Box<DumpRequest>),
}

/// What `--progress` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressOutput {
    /// A live display when standard error is a terminal, else nothing (the default).
    #[default]
    Auto,
    /// `--progress=bar`: the live display on standard error even when it is not a terminal.
    Bar,
    /// Nothing.
    None,
    /// One JSON object per event on standard error.
    Json,
}

/// A validated dump request.
#[derive(Debug, Clone)]
pub struct DumpRequest {
    pub conn: ConnOptions,
    pub format: OutputFormat,
    /// `-f`; `None` = standard output (refused for the directory format). With `--to`, the
    /// archive's name under each destination.
    pub output: Option<PathBuf>,
    /// `--to URL`, repeatable: destinations the archive is streamed to.
    pub to: Vec<String>,
    pub jobs: usize,
    pub compression: Compression,
    pub archive_version: Option<ArchiveVersion>,
    /// `--progress=auto|bar|json|none`.
    pub progress: ProgressOutput,
    pub selection: Selection,
    pub session: SessionOptions,
    pub script: ScriptOptions,
    /// `--no-sync` turns it off.
    pub sync: bool,
    /// `--no-manifest` turns it off.
    pub manifest: bool,
    /// `--manifest-checksums=CRC32C|SHA256|NONE`.
    pub manifest_checksums: ChecksumKind,
    /// `--split-tables-larger-than=SIZE`, in 8 kB pages: tables this large are read by
    /// several workers as `ctid` ranges; 0 never splits.
    pub split_pages: u64,
    /// `--encrypt-to`, `--encrypt-to-file`, `--passphrase-file`, `--encrypt-with-passphrase`
    /// (files not read yet; see [`EnvelopeRequest::resolve`]).
    pub encryption: EnvelopeRequest,
    /// `-v` given this many times: narrate as pg_dump's verbose mode does (more than once:
    /// debugging detail too).
    pub verbose: u8,
    /// Warnings pg_dump prints while checking options (e.g. `-Z zstd:workers=N`).
    pub warnings: Vec<String>,
}

impl DumpRequest {
    /// The library options for this request, dumping from `target`.
    pub fn options(&self, target: Target) -> DumpOptions {
        let mut o = DumpOptions::new(target, PathBuf::new());
        o.format = self.format;
        o.output = self.output.clone();
        o.to = self.to.clone();
        o.script = self.script.clone();
        o.sync = self.sync;
        o.manifest = self.manifest;
        o.manifest_checksums = self.manifest_checksums;
        o.split_pages = self.split_pages;
        o.jobs = self.jobs;
        o.compression = self.compression;
        o.archive_version = self.archive_version;
        o.selection = self.selection.clone();
        o.session = self.session.clone();
        o
    }
}

/// `option_parse_int` (fe_utils/option_utils.c): an integer with optional leading and
/// trailing white space, in range.
fn parse_int(value: &str, name: &str, min: i64, max: i64) -> Result<i64, UsageError> {
    let t = value.trim_start_matches(is_c_space);
    let body = t.trim_end_matches(is_c_space);
    let digits = body.strip_prefix(['+', '-']).unwrap_or(body);
    let numeric = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    // strtol reads nothing from an empty or blank string: 0, then the range check.
    if !numeric && !body.is_empty() {
        return Err(UsageError::fatal(format!(
            "invalid value \"{value}\" for option {name}"
        )));
    }
    let n = if numeric {
        body.parse::<i64>().ok().filter(|n| i32::try_from(*n).is_ok())
    } else {
        Some(0)
    };
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(UsageError::fatal(format!("{name} must be in range {min}..{max}"))),
    }
}

fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r')
}

/// `--lock-wait-timeout`: pg_dump hands the text to `SET statement_timeout`, so it takes
/// the server's syntax for time settings: a number (fractions allowed) with an optional unit
/// (us, ms, s, min, h, d; milliseconds without one). Checked here so a bad value fails
/// before anything is written; 0 means no timeout, as for the server.
pub fn parse_timeout(text: &str) -> Result<Option<Duration>, String> {
    let bad = || format!("invalid value for parameter \"statement_timeout\": \"{text}\"");
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| bad())?;
    let ms_per = match unit.trim() {
        "" | "ms" => 1.0,
        "us" => 0.001,
        "s" => 1000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return Err(bad()),
    };
    let ms = (value * ms_per).round();
    if !(0.0..=f64::from(i32::MAX)).contains(&ms) {
        return Err(format!(
            "{} ms is outside the valid range for parameter \"statement_timeout\" (0 .. 2147483647)",
            ms as i64
        ));
    }
    Ok((ms > 0.0).then(|| Duration::from_millis(ms as u64)))
}

/// `-E`: the encoding names PostgreSQL knows, normalised as `pg_char_to_encoding` does
/// (letters and digits only, lower case), aliases included.
fn encoding_known(name: &str) -> Option<bool> {
    let norm: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    const UTF8: &[&str] = &["utf8", "unicode"];
    const OTHERS: &[&str] = &[
        "sqlascii",
        "eucjp",
        "euccn",
        "euckr",
        "euctw",
        "eucjis2004",
        "muleinternal",
        "latin1",
        "latin2",
        "latin3",
        "latin4",
        "latin5",
        "latin6",
        "latin7",
        "latin8",
        "latin9",
        "latin10",
        "win1256",
        "win1258",
        "win866",
        "win874",
        "koi8r",
        "win1251",
        "win1252",
        "iso88595",
        "iso88596",
        "iso88597",
        "iso88598",
        "win1250",
        "win1253",
        "win1254",
        "win1255",
        "win1257",
        "koi8u",
        "sjis",
        "big5",
        "gbk",
        "uhc",
        "gb18030",
        "johab",
        "shiftjis2004",
        "alt",
        "win",
        "koi8",
        "iso88591",
        "iso88592",
        "iso88593",
        "iso88594",
        "iso88599",
        "iso885910",
        "iso885913",
        "iso885914",
        "iso885915",
        "iso885916",
        "mskanji",
        "shiftjis",
        "tcvn",
        "tcvn5712",
        "vscii",
        "windows866",
        "windows874",
        "windows932",
        "windows936",
        "windows949",
        "windows950",
        "windows1250",
        "windows1251",
        "windows1252",
        "windows1253",
        "windows1254",
        "windows1255",
        "windows1256",
        "windows1257",
        "windows1258",
        "koi8ru",
        "abc",
        "cp866",
        "cp874",
        "cp932",
        "cp936",
        "cp949",
        "cp950",
        "cp1250",
        "cp1251",
        "cp1252",
        "cp1253",
        "cp1254",
        "cp1255",
        "cp1256",
        "cp1257",
        "cp1258",
    ];
    if UTF8.contains(&norm.as_str()) {
        Some(true)
    } else if OTHERS.contains(&norm.as_str()) {
        Some(false)
    } else {
        None
    }
}

/// Every switch as the getopt loop leaves it.
#[derive(Default)]
struct Raw {
    data_only: bool,
    schema_only: bool,
    statistics_only: bool,
    with_statistics: bool,
    no_data: bool,
    no_schema: bool,
    no_statistics: bool,
    output_los: bool,
    dont_output_los: bool,
    /// `--to URL`, in order.
    to: Vec<String>,
    clean: bool,
    create: bool,
    dbname: Option<String>,
    encoding: Option<String>,
    file: Option<String>,
    format: Option<String>,
    host: Option<String>,
    jobs: i64,
    no_owner: bool,
    port: Option<String>,
    superuser: Option<String>,
    username: Option<String>,
    verbose: u8,
    prompt: PasswordPrompt,
    no_privileges: bool,
    compress: Option<String>,
    column_inserts: bool,
    binary_upgrade: bool,
    disable_dollar_quoting: bool,
    disable_triggers: bool,
    enable_row_security: bool,
    extra_float_digits: Option<i64>,
    if_exists: bool,
    /// 0 = COPY, else rows per INSERT (pg_dump's `dump_inserts`).
    dump_inserts: i64,
    lock_wait_timeout: Option<String>,
    no_table_access_method: bool,
    no_tablespaces: bool,
    quote_all_identifiers: bool,
    load_via_partition_root: bool,
    role: Option<String>,
    sections: Option<Sections>,
    serializable_deferrable: bool,
    snapshot: Option<String>,
    use_set_session_authorization: bool,
    no_comments: bool,
    no_policies: bool,
    no_publications: bool,
    no_security_labels: bool,
    no_subscriptions: bool,
    no_toast_compression: bool,
    no_unlogged_table_data: bool,
    no_sync: bool,
    no_manifest: bool,
    manifest_checksums: Option<ChecksumKind>,
    split_pages: Option<u64>,
    on_conflict_do_nothing: bool,
    sequence_data: bool,
    restrict_key: Option<String>,
    archive_version: Option<String>,
    progress: Option<String>,
    encryption: EnvelopeRequest,
    patterns: Patterns,
    include_everything: bool,
    operands: Vec<String>,
}

/// Reads one filter file into the pattern lists (`read_dump_filters`).
fn read_filter(
    raw: &mut Raw,
    name: &str,
    read: &mut dyn FnMut(&str) -> Result<String, FilterReadError>,
) -> Result<(), UsageError> {
    let text = read(name).map_err(|e| match e {
        FilterReadError::Open(e) => UsageError::fatal(format!(
            "could not open filter file \"{name}\": {}",
            crate::error::os_error_text(&e)
        )),
        FilterReadError::Read(e) => UsageError::fatal(format!(
            "could not read from filter file \"{name}\": {}",
            crate::error::os_error_text(&e)
        )),
    })?;
    let origin = if name == "-" { Origin::Stdin } else { Origin::File(name) };
    let rules = filter::dump_rules(&text, origin).map_err(|e| UsageError::fatal(e.to_string()))?;
    let p = &mut raw.patterns;
    for r in rules {
        let list = match (r.include, r.object) {
            (true, ObjectType::Table) => &mut p.tables,
            (true, ObjectType::TableAndChildren) => &mut p.tables_and_children,
            (true, ObjectType::Schema) => &mut p.schemas,
            (true, ObjectType::Extension) => &mut p.extensions,
            (true, ObjectType::ForeignData) => &mut p.foreign_servers,
            (false, ObjectType::Table) => &mut p.exclude_tables,
            (false, ObjectType::TableAndChildren) => &mut p.exclude_tables_and_children,
            (false, ObjectType::TableData) => &mut p.exclude_table_data,
            (false, ObjectType::TableDataAndChildren) => &mut p.exclude_table_data_and_children,
            (false, ObjectType::Schema) => &mut p.exclude_schemas,
            (false, ObjectType::Extension) => &mut p.exclude_extensions,
            // dump_rules accepts nothing else.
            _ => continue,
        };
        list.push(r.pattern);
        // Unlike -e, a filter's `include extension` leaves "include everything" on.
        if r.include
            && matches!(
                r.object,
                ObjectType::Table | ObjectType::TableAndChildren | ObjectType::Schema
            )
        {
            raw.include_everything = false;
        }
    }
    Ok(())
}

/// The getopt loop of pg_dump's `main`: switches in order, value errors as they come.
fn read_args(
    args: &[String],
    read: &mut dyn FnMut(&str) -> Result<String, FilterReadError>,
) -> Result<Raw, UsageError> {
    let items = getopt::parse(args, OPTIONS).map_err(|e| UsageError::with_hint(e.0))?;
    let mut r = Raw {
        jobs: 1,
        include_everything: true,
        ..Raw::default()
    };
    for item in items {
        let (id, value) = match item {
            Item::Operand(s) => {
                r.operands.push(s);
                continue;
            }
            Item::Opt(id, v) => (id, v.unwrap_or_default()),
        };
        let p = &mut r.patterns;
        match id {
            O::DataOnly => r.data_only = true,
            O::LargeObjects => r.output_los = true,
            O::NoLargeObjects => r.dont_output_los = true,
            O::Clean => r.clean = true,
            O::Create => r.create = true,
            O::Dbname => r.dbname = Some(value),
            O::Extension => {
                p.extensions.push(value);
                r.include_everything = false;
            }
            O::Encoding => r.encoding = Some(value),
            O::File => r.file = Some(value),
            O::Format => r.format = Some(value),
            O::Host => r.host = Some(value),
            O::Jobs => r.jobs = parse_int(&value, "-j/--jobs", 1, i64::from(i32::MAX))?,
            O::Schema => {
                p.schemas.push(value);
                r.include_everything = false;
            }
            O::ExcludeSchema => p.exclude_schemas.push(value),
            O::NoOwner => r.no_owner = true,
            O::Port => r.port = Some(value),
            O::NoReconnect => {}
            O::SchemaOnly => r.schema_only = true,
            O::Superuser => r.superuser = Some(value),
            O::Table => {
                p.tables.push(value);
                r.include_everything = false;
            }
            O::ExcludeTable => p.exclude_tables.push(value),
            O::Username => r.username = Some(value),
            O::Verbose => r.verbose = r.verbose.saturating_add(1),
            O::NoPassword => r.prompt = PasswordPrompt::Never,
            O::Password => r.prompt = PasswordPrompt::Force,
            O::NoPrivileges => r.no_privileges = true,
            O::Compress => r.compress = Some(value),
            // Only as the first argument do these show help or the version (pg_dump checks
            // argv[1] before its getopt loop, where they fall to the default case).
            O::Help | O::Version | O::Unhandled => return Err(UsageError::hint_only()),
            O::ColumnInserts => r.column_inserts = true,
            O::BinaryUpgrade => r.binary_upgrade = true,
            O::DisableDollarQuoting => r.disable_dollar_quoting = true,
            O::DisableTriggers => r.disable_triggers = true,
            O::EnableRowSecurity => r.enable_row_security = true,
            O::ExcludeTableData => p.exclude_table_data.push(value),
            O::ExtraFloatDigits => r.extra_float_digits = Some(parse_int(&value, "--extra-float-digits", -15, 3)?),
            O::IfExists => r.if_exists = true,
            O::Inserts => {
                // Keeps a --rows-per-insert given earlier.
                if r.dump_inserts == 0 {
                    r.dump_inserts = 1;
                }
            }
            O::LockWaitTimeout => r.lock_wait_timeout = Some(value),
            O::NoTableAccessMethod => r.no_table_access_method = true,
            O::NoTablespaces => r.no_tablespaces = true,
            O::QuoteAllIdentifiers => r.quote_all_identifiers = true,
            O::LoadViaPartitionRoot => r.load_via_partition_root = true,
            O::Role => r.role = Some(value),
            O::Section => {
                // The first --section clears the default of all three (set_dump_section).
                let s = r.sections.get_or_insert(Sections {
                    pre_data: false,
                    data: false,
                    post_data: false,
                });
                match value.as_str() {
                    "pre-data" => s.pre_data = true,
                    "data" => s.data = true,
                    "post-data" => s.post_data = true,
                    _ => return Err(UsageError::with_hint(format!("unrecognized section name: \"{value}\""))),
                }
            }
            O::SerializableDeferrable => r.serializable_deferrable = true,
            O::Snapshot => r.snapshot = Some(value),
            O::Statistics => r.with_statistics = true,
            O::StatisticsOnly => r.statistics_only = true,
            O::StrictNames => p.strict_names = true,
            O::UseSetSessionAuthorization => r.use_set_session_authorization = true,
            O::NoComments => r.no_comments = true,
            O::NoData => r.no_data = true,
            O::NoPolicies => r.no_policies = true,
            O::NoPublications => r.no_publications = true,
            O::NoSchema => r.no_schema = true,
            O::NoSecurityLabels => r.no_security_labels = true,
            O::NoStatistics => r.no_statistics = true,
            O::NoSubscriptions => r.no_subscriptions = true,
            O::NoToastCompression => r.no_toast_compression = true,
            O::NoUnloggedTableData => r.no_unlogged_table_data = true,
            O::NoSync => r.no_sync = true,
            O::NoManifest => r.no_manifest = true,
            // pg_basebackup's option and spellings (CRC32C, SHA256, NONE).
            O::ManifestChecksums => r.manifest_checksums = Some(value.parse().map_err(UsageError::fatal)?),
            O::SplitTablesLargerThan => r.split_pages = Some(parse_split_size(&value).map_err(UsageError::fatal)?),
            O::OnConflictDoNothing => r.on_conflict_do_nothing = true,
            O::RowsPerInsert => r.dump_inserts = parse_int(&value, "--rows-per-insert", 1, i64::from(i32::MAX))?,
            O::IncludeForeignData => p.foreign_servers.push(value),
            O::TableAndChildren => {
                p.tables_and_children.push(value);
                r.include_everything = false;
            }
            O::ExcludeTableAndChildren => p.exclude_tables_and_children.push(value),
            O::ExcludeTableDataAndChildren => p.exclude_table_data_and_children.push(value),
            // Both methods make the output durable; pgsnap syncs each file it wrote.
            O::SyncMethod => {
                if value != "fsync" && value != "syncfs" {
                    return Err(UsageError::fatal(format!("unrecognized sync method: {value}")));
                }
            }
            O::Filter => read_filter(&mut r, &value, read)?,
            O::ExcludeExtension => p.exclude_extensions.push(value),
            O::SequenceData => r.sequence_data = true,
            O::RestrictKey => r.restrict_key = Some(value),
            O::ArchiveVersion => r.archive_version = Some(value),
            O::Progress => r.progress = Some(value),
            O::EncryptTo => r.encryption.recipients.push(value),
            O::EncryptToFile => r.encryption.recipient_files.push(PathBuf::from(value)),
            O::PassphraseFile => r.encryption.passphrase_file = Some(PathBuf::from(value)),
            O::EncryptWithPassphrase => r.encryption.passphrase_env = true,
            O::To => r.to.push(value),
        }
    }
    Ok(r)
}

/// A `\\restrict` key: 64 letters and digits from the system's secure random source, as
/// pg_dump 18 makes one per plain script (dumputils.c `generate_restrict_key`). Bytes that
/// would favour some symbols (256 is not a multiple of 62) are drawn again.
fn random_restrict_key() -> Result<String, UsageError> {
    use ring::rand::{SecureRandom, SystemRandom};
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let rng = SystemRandom::new();
    let mut key = String::with_capacity(64);
    let mut bytes = [0u8; 64];
    while key.len() < 64 {
        rng.fill(&mut bytes)
            .map_err(|_| UsageError::fatal("could not generate restrict key"))?;
        key.extend(
            bytes
                .iter()
                .filter(|b| (**b as usize) < 4 * ALPHABET.len())
                .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char),
        );
    }
    key.truncate(64);
    Ok(key)
}

fn conflict(a: &str, b: &str) -> UsageError {
    UsageError::fatal(format!("options {a} and {b} cannot be used together"))
}

/// Parses and checks `pgsnap dump` / `pg_dump` arguments (without the program name).
/// `read` reads a `--filter` file (`-` = standard input).
pub fn parse(
    args: &[String],
    read: &mut dyn FnMut(&str) -> Result<String, FilterReadError>,
) -> Result<DumpCommand, UsageError> {
    match args.first().map(String::as_str) {
        Some("--help" | "-?") => return Ok(DumpCommand::Help),
        Some("--version" | "-V") => return Ok(DumpCommand::Version),
        _ => {}
    }
    let mut r = read_args(args, read)?;

    let mut operands = std::mem::take(&mut r.operands).into_iter();
    if r.dbname.is_none() {
        r.dbname = operands.next();
    }
    if let Some(extra) = operands.next() {
        return Err(UsageError::with_hint(format!(
            "too many command-line arguments (first is \"{extra}\")"
        )));
    }
    if r.column_inserts && r.dump_inserts == 0 {
        r.dump_inserts = 1;
    }
    if r.binary_upgrade {
        return Err(UsageError::fatal(
            "option --binary-upgrade is not supported: it serves pg_upgrade, which needs stock pg_dump",
        ));
    }

    // The checks of pg_dump.c main, in its order.
    if r.data_only && r.schema_only {
        return Err(conflict("-s/--schema-only", "-a/--data-only"));
    }
    if r.schema_only && r.statistics_only {
        return Err(conflict("-s/--schema-only", "--statistics-only"));
    }
    if r.data_only && r.statistics_only {
        return Err(conflict("-a/--data-only", "--statistics-only"));
    }
    if r.data_only && r.no_data {
        return Err(conflict("-a/--data-only", "--no-data"));
    }
    if r.schema_only && r.no_schema {
        return Err(conflict("-s/--schema-only", "--no-schema"));
    }
    if r.statistics_only && r.no_statistics {
        return Err(conflict("--statistics-only", "--no-statistics"));
    }
    if r.with_statistics && r.no_statistics {
        return Err(conflict("--statistics", "--no-statistics"));
    }
    if r.data_only && r.with_statistics {
        return Err(conflict("-a/--data-only", "--statistics"));
    }
    if r.schema_only && r.with_statistics {
        return Err(conflict("-s/--schema-only", "--statistics"));
    }
    let foreign = !r.patterns.foreign_servers.is_empty();
    if r.schema_only && foreign {
        return Err(conflict("-s/--schema-only", "--include-foreign-data"));
    }
    if r.jobs > 1 && foreign {
        return Err(UsageError::fatal(
            "option --include-foreign-data is not supported with parallel backup",
        ));
    }
    if r.data_only && r.clean {
        return Err(conflict("-c/--clean", "-a/--data-only"));
    }
    if r.if_exists && !r.clean {
        return Err(UsageError::fatal("option --if-exists requires option -c/--clean"));
    }
    // pg_dump-objects.md §5.2: the effective switches.
    let dump_data = r.data_only || (!r.schema_only && !r.statistics_only && !r.no_data);
    let dump_schema = r.schema_only || (!r.data_only && !r.statistics_only && !r.no_schema);
    let dump_statistics =
        r.statistics_only || (r.with_statistics && !r.data_only && !r.schema_only && !r.no_statistics);
    if r.on_conflict_do_nothing && r.dump_inserts == 0 {
        return Err(UsageError::fatal(
            "option --on-conflict-do-nothing requires option --inserts, --rows-per-insert, or --column-inserts",
        ));
    }
    let format_text = r.format.clone().unwrap_or_else(|| "p".to_string());
    let format = match format_text.to_ascii_lowercase().as_str() {
        "p" | "plain" => OutputFormat::Plain,
        "c" | "custom" => OutputFormat::Custom,
        "d" | "directory" => OutputFormat::Directory,
        "t" | "tar" => OutputFormat::Tar,
        _ => {
            return Err(UsageError::fatal(format!(
                "invalid output format \"{format_text}\" specified"
            )));
        }
    };
    // Custom and directory archives are compressed by default, the others not.
    let mut warnings = Vec::new();
    let compression = match (&r.compress, format) {
        (Some(spec), _) => {
            let parsed = compress::parse(spec).map_err(|e| UsageError::fatal(e.to_string()))?;
            warnings.extend(parsed.warning);
            parsed.compression
        }
        (None, OutputFormat::Custom | OutputFormat::Directory) => Compression::default(),
        (None, _) => Compression::None,
    };
    if !r.to.is_empty() && r.file.is_none() {
        return Err(UsageError::fatal(
            "option --to needs -f NAME: the archive's name under each destination",
        ));
    }
    if !r.to.is_empty() && r.no_manifest {
        return Err(UsageError::fatal(
            "options --to and --no-manifest cannot be used together: the manifest, written last, is what commits a backup on a destination",
        ));
    }
    if r.no_manifest && r.manifest_checksums.is_some() {
        // pg_basebackup's rule for the same two options.
        return Err(UsageError::fatal(
            "options --no-manifest and --manifest-checksums cannot be used together",
        ));
    }
    if r.restrict_key.is_some() && format != OutputFormat::Plain {
        return Err(UsageError::fatal(
            "option --restrict-key can only be used with --format=plain",
        ));
    }
    // pg_dump parallelises only the directory format; pgsnap's custom and tar writers take
    // table data from parallel workers too, so only a plain script (one place for each
    // table's rows, in order) is refused.
    if format == OutputFormat::Plain && r.jobs > 1 {
        return Err(UsageError::fatal(
            "parallel backup only supported by the directory format",
        ));
    }
    if format == OutputFormat::Tar && compression != Compression::None {
        return Err(UsageError::fatal("compression is not supported by tar archive format"));
    }
    if format == OutputFormat::Directory && r.file.as_deref().is_none_or(str::is_empty) {
        return Err(UsageError::fatal("no output directory specified"));
    }
    if let Some(key) = &r.restrict_key
        && (key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return Err(UsageError::fatal("invalid restrict key"));
    }

    // pgsnap's own checks, before anything is written.
    let progress = match r.progress.as_deref() {
        None | Some("auto") => ProgressOutput::Auto,
        Some("bar") => ProgressOutput::Bar,
        Some("none") => ProgressOutput::None,
        Some("json") => ProgressOutput::Json,
        Some(other) => {
            return Err(UsageError::fatal(format!(
                "invalid value \"{other}\" for option --progress (expected auto, bar, json or none)"
            )));
        }
    };
    r.encryption.check().map_err(UsageError::fatal)?;
    let archive_version = match r.archive_version.as_deref() {
        None => None,
        Some("1.14") | Some("1.14.0") => Some(ArchiveVersion::V1_14),
        Some("1.15") | Some("1.15.0") => Some(ArchiveVersion::V1_15),
        Some("1.16") | Some("1.16.0") => Some(ArchiveVersion::V1_16),
        Some(v) => {
            return Err(UsageError::fatal(format!(
                "unsupported archive version \"{v}\": use 1.14, 1.15 or 1.16"
            )));
        }
    };
    let lock_wait_timeout = match &r.lock_wait_timeout {
        Some(t) => parse_timeout(t).map_err(UsageError::fatal)?,
        None => None,
    };
    // The driver reads catalog text as UTF-8, so the dump is written in UTF8; the server
    // converts from any database encoding.
    if let Some(enc) = &r.encoding {
        match encoding_known(enc) {
            Some(true) => {}
            Some(false) => {
                return Err(UsageError::fatal(format!(
                    "client encoding \"{enc}\" is not supported: pgsnap writes dumps in UTF8 (the server converts \
                     from the database encoding)"
                )));
            }
            None => {
                return Err(UsageError::fatal(format!(
                    "invalid client encoding \"{enc}\" specified"
                )));
            }
        }
    }
    r.patterns.check().map_err(|e| UsageError::fatal(e.to_string()))?;

    let inserts = (r.dump_inserts > 0).then_some(InsertOptions {
        // parse_int kept it within 1..=i32::MAX.
        rows_per_insert: r.dump_inserts as u32,
        column_inserts: r.column_inserts,
        on_conflict_do_nothing: r.on_conflict_do_nothing,
    });
    let selection = Selection {
        schema: dump_schema,
        data: dump_data,
        statistics: dump_statistics,
        no_owner: r.no_owner,
        no_privileges: r.no_privileges,
        no_comments: r.no_comments,
        no_toast_compression: r.no_toast_compression,
        no_unlogged_table_data: r.no_unlogged_table_data,
        include_everything: r.include_everything,
        no_publications: r.no_publications,
        no_subscriptions: r.no_subscriptions,
        no_security_labels: r.no_security_labels,
        no_policies: r.no_policies,
        large_objects: if r.output_los {
            Some(true)
        } else if r.dont_output_los {
            Some(false)
        } else {
            None
        },
        patterns: r.patterns,
        sequence_data: r.sequence_data,
        load_via_partition_root: r.load_via_partition_root,
        inserts,
        disable_dollar_quoting: r.disable_dollar_quoting,
        // --include-foreign-data arrives as patterns, resolved after connecting.
        foreign_data_servers: Vec::new(),
    };
    let session = SessionOptions {
        lock_wait_timeout,
        // parse_int kept it within -15..=3.
        extra_float_digits: r.extra_float_digits.unwrap_or(3) as i32,
        row_security: r.enable_row_security,
        client_encoding: r.encoding.as_ref().map(|_| "UTF8".to_string()),
        role: r.role.clone(),
        quote_all_identifiers: r.quote_all_identifiers,
        serializable_deferrable: r.serializable_deferrable,
        snapshot: r.snapshot.clone(),
    };
    let script = ScriptOptions {
        no_owner: r.no_owner,
        use_set_session_authorization: r.use_set_session_authorization,
        no_tablespaces: r.no_tablespaces,
        no_table_access_method: r.no_table_access_method,
        clean: r.clean,
        if_exists: r.if_exists,
        create: r.create,
        disable_triggers: r.disable_triggers,
        superuser: r.superuser.clone(),
        enable_row_security: r.enable_row_security,
        sections: r.sections.unwrap_or_default(),
        // pg_dump 18 draws a fresh key for every plain script it prints.
        restrict_key: match (&r.restrict_key, format) {
            (None, OutputFormat::Plain) => Some(random_restrict_key()?),
            (key, _) => key.clone(),
        },
        // pg_dump hands its own switches to the script printer (pg_dump.c main, the
        // `ropt->...` block); --role and -1 are pg_restore's only and stay off.
        no_schema: !dump_schema,
        no_data: !dump_data,
        no_statistics: !dump_statistics,
        sequence_data: r.sequence_data,
        no_privileges: r.no_privileges,
        no_comments: r.no_comments,
        no_publications: r.no_publications,
        no_subscriptions: r.no_subscriptions,
        no_security_labels: r.no_security_labels,
        no_policies: r.no_policies,
        single_transaction: false,
        role: None,
        quote_all_identifiers: r.quote_all_identifiers,
        dialect: Dialect::Pg18,
        // -v frames a plain script with "Started on"/"Completed on" and names each TOC
        // entry; the writer fills in the time stamps, which only it knows.
        verbose: (r.verbose > 0).then(Verbose::default),
    };
    let conn = ConnOptions {
        host: r.host,
        port: r.port,
        user: r.username,
        dbname: r.dbname,
        password_prompt: r.prompt,
        application_name: None,
    };
    Ok(DumpCommand::Run(Box::new(DumpRequest {
        conn,
        format,
        output: r.file.map(PathBuf::from),
        to: r.to,
        // parse_int kept it within 1..=i32::MAX.
        jobs: r.jobs as usize,
        compression,
        archive_version,
        progress,
        selection,
        session,
        script,
        sync: !r.no_sync,
        manifest: !r.no_manifest,
        manifest_checksums: r.manifest_checksums.unwrap_or_default(),
        split_pages: r.split_pages.unwrap_or(crate::engine::DEFAULT_SPLIT_PAGES),
        encryption: r.encryption.clone(),
        verbose: r.verbose,
        warnings,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_files(name: &str) -> Result<String, FilterReadError> {
        Err(FilterReadError::Open(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("unexpected filter read of {name}"),
        )))
    }

    #[test]
    fn progress_auto_bar_json_or_none() {
        assert_eq!(run(&["db"]).unwrap().progress, ProgressOutput::Auto);
        assert_eq!(run(&["--progress=auto", "db"]).unwrap().progress, ProgressOutput::Auto);
        assert_eq!(run(&["--progress=bar", "db"]).unwrap().progress, ProgressOutput::Bar);
        assert_eq!(run(&["--progress=json", "db"]).unwrap().progress, ProgressOutput::Json);
        assert_eq!(
            run(&["--progress", "none", "db"]).unwrap().progress,
            ProgressOutput::None
        );
        let e = err(&["--progress=bars", "db"]);
        assert!(format!("{e:?}").contains("--progress"), "{e:?}");
    }

    #[test]
    fn split_threshold_defaults_to_the_engines_and_reaches_the_options() {
        let default = run(&["-Fd", "-f", "out", "db"]).unwrap();
        assert_eq!(default.split_pages, crate::engine::DEFAULT_SPLIT_PAGES);
        let off = run(&["-Fd", "-f", "out", "--split-tables-larger-than=0", "db"]).unwrap();
        assert_eq!(off.split_pages, 0);
        let big = run(&["-Fd", "-f", "out", "--split-tables-larger-than", "2GB", "db"]).unwrap();
        assert_eq!(big.split_pages, 262_144);
        let target = Target::new(tokio_postgres::Config::new(), "test");
        assert_eq!(big.options(target).split_pages, 262_144);
        let e = err(&["-Fd", "-f", "out", "--split-tables-larger-than=lots", "db"]);
        let msg = e.message.unwrap_or_default();
        assert!(
            msg.contains("--split-tables-larger-than") && msg.contains("\"lots\""),
            "{msg}"
        );
        assert!(!e.hint);
    }

    fn run(args: &[&str]) -> Result<DumpRequest, UsageError> {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match parse(&v, &mut no_files)? {
            DumpCommand::Run(r) => Ok(*r),
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn err(args: &[&str]) -> UsageError {
        run(args).unwrap_err()
    }

    fn msg(args: &[&str]) -> String {
        err(args).message.unwrap_or_default()
    }

    #[test]
    fn pg_dump_spellings_parse() {
        let r = run(&[
            "-Fd", "-j", "8", "-Z", "6", "-f", "out", "-h", "/tmp", "-p", "5433", "-U", "bob", "shop",
        ])
        .unwrap();
        assert_eq!((r.format, r.jobs), (OutputFormat::Directory, 8));
        assert_eq!(r.compression, Compression::Gzip { level: 6 });
        assert_eq!(r.conn.host.as_deref(), Some("/tmp"));
        assert_eq!(r.conn.dbname.as_deref(), Some("shop"));
        let r = run(&["--format=DIRECTORY", "-Zzstd:3", "--file=x", "-d", "db"]).unwrap();
        assert_eq!(r.compression, Compression::Zstd { level: 3, long: false });
        for (f, want) in [
            ("p", OutputFormat::Plain),
            ("Plain", OutputFormat::Plain),
            ("C", OutputFormat::Custom),
            ("custom", OutputFormat::Custom),
            ("t", OutputFormat::Tar),
            ("TAR", OutputFormat::Tar),
        ] {
            assert_eq!(run(&["-F", f]).unwrap().format, want, "-F {f}");
        }
        // Default format is plain, to standard output, uncompressed.
        let r = run(&["db"]).unwrap();
        assert_eq!(
            (r.format, r.output.clone(), r.compression),
            (OutputFormat::Plain, None, Compression::None)
        );
        assert_eq!(run(&["-Fc"]).unwrap().compression, Compression::default());
        // -O and -S with any format; -w then -W: the last wins, as in pg_dump.
        let r = run(&["-Fd", "-f", "x", "-O", "-S", "postgres", "-w", "-W"]).unwrap();
        assert!(r.script.no_owner && r.selection.no_owner);
        assert_eq!(r.script.superuser.as_deref(), Some("postgres"));
        assert_eq!(r.conn.password_prompt, PasswordPrompt::Force);
        // Abbreviations as getopt_long allows them; pgsnap's own options take none.
        assert!(!run(&["--schema-o"]).unwrap().selection.data);
        assert!(run(&["--a"]).unwrap().selection.inserts.unwrap().column_inserts);
        assert_eq!(
            run(&["--archive-version=1.16"]).unwrap().archive_version,
            Some(ArchiveVersion::V1_16)
        );
    }

    #[test]
    fn effective_switch_arithmetic() {
        let sel = |a: &[&str]| {
            let s = run(a).unwrap().selection;
            (s.schema, s.data, s.statistics)
        };
        assert_eq!(sel(&[]), (true, true, false));
        assert_eq!(sel(&["-s"]), (true, false, false));
        assert_eq!(sel(&["-a"]), (false, true, false));
        assert_eq!(sel(&["--statistics"]), (true, true, true));
        assert_eq!(sel(&["--statistics-only"]), (false, false, true));
        assert_eq!(sel(&["--no-data"]), (true, false, false));
        assert_eq!(sel(&["--no-schema"]), (false, true, false));
        assert_eq!(sel(&["--no-schema", "--no-data", "--statistics"]), (false, false, true));
        assert_eq!(sel(&["--no-statistics"]), (true, true, false));
        assert_eq!(sel(&["-a", "--no-schema"]), (false, true, false));
        let s = run(&["-s", "--sequence-data"]).unwrap().selection;
        assert!(s.sequence_data && !s.data);
    }

    #[test]
    fn inserts_modes() {
        let ins = |a: &[&str]| run(a).unwrap().selection.inserts;
        assert_eq!(ins(&[]), None);
        assert_eq!(ins(&["--inserts"]).unwrap().rows_per_insert, 1);
        assert!(ins(&["--column-inserts"]).unwrap().column_inserts);
        assert!(ins(&["--attribute-inserts"]).unwrap().column_inserts);
        assert_eq!(ins(&["--rows-per-insert=50", "--inserts"]).unwrap().rows_per_insert, 50);
        assert_eq!(
            ins(&["--inserts", "--rows-per-insert", "7"]).unwrap().rows_per_insert,
            7
        );
        assert!(
            ins(&["--rows-per-insert=2", "--on-conflict-do-nothing"])
                .unwrap()
                .on_conflict_do_nothing
        );
    }

    #[test]
    fn selection_switches() {
        let r = run(&["-t", "a", "-T", "b", "-n", "s", "-N", "x", "--exclude-table-data=d"]).unwrap();
        let p = &r.selection.patterns;
        assert_eq!(
            (p.tables.clone(), p.exclude_tables.clone()),
            (vec!["a".into()], vec!["b".into()])
        );
        assert_eq!(p.exclude_table_data, vec!["d".to_string()]);
        assert!(!r.selection.include_everything);
        for a in [&["-e", "x"][..], &["--table-and-children", "x"], &["-n", "x"]] {
            assert!(!run(a).unwrap().selection.include_everything, "{a:?}");
        }
        for a in [
            &["-N", "x"][..],
            &["-T", "x"],
            &["--exclude-extension", "x"],
            &["--strict-names"],
        ] {
            assert!(run(a).unwrap().selection.include_everything, "{a:?}");
        }
        assert_eq!(run(&["-b", "-B"]).unwrap().selection.large_objects, Some(true));
        assert_eq!(run(&["--no-blobs"]).unwrap().selection.large_objects, Some(false));
        let s = run(&["--section=data", "--section", "post-data"])
            .unwrap()
            .script
            .sections;
        assert_eq!((s.pre_data, s.data, s.post_data), (false, true, true));
    }

    #[test]
    fn filter_files_feed_the_pattern_lists() {
        let mut read = |name: &str| -> Result<String, FilterReadError> {
            assert_eq!(name, "f.txt");
            Ok("include extension e\nexclude table_data big\ninclude table t\n".into())
        };
        let v: Vec<String> = ["--filter", "f.txt"].iter().map(|s| s.to_string()).collect();
        let DumpCommand::Run(r) = parse(&v, &mut read).unwrap() else {
            panic!()
        };
        assert_eq!(r.selection.patterns.extensions, vec!["e".to_string()]);
        assert_eq!(r.selection.patterns.exclude_table_data, vec!["big".to_string()]);
        assert!(!r.selection.include_everything, "include table turns it off");
        let mut read = |_: &str| -> Result<String, FilterReadError> { Ok("include extension e\n".into()) };
        let DumpCommand::Run(r) = parse(&v, &mut read).unwrap() else {
            panic!()
        };
        assert!(r.selection.include_everything, "a filter's include extension does not");
        let mut missing = |_: &str| -> Result<String, FilterReadError> {
            Err(FilterReadError::Open(std::io::Error::from_raw_os_error(2)))
        };
        assert_eq!(
            parse(&v, &mut missing).unwrap_err().message.unwrap(),
            "could not open filter file \"f.txt\": No such file or directory"
        );
    }

    #[test]
    fn help_and_version_only_come_first() {
        let p = |a: &[&str]| {
            let v: Vec<String> = a.iter().map(|s| s.to_string()).collect();
            parse(&v, &mut no_files)
        };
        assert!(matches!(p(&["--help"]), Ok(DumpCommand::Help)));
        assert!(matches!(p(&["-?"]), Ok(DumpCommand::Help)));
        assert!(matches!(p(&["-V"]), Ok(DumpCommand::Version)));
        assert!(matches!(p(&["--version", "junk"]), Ok(DumpCommand::Version)));
        assert_eq!(p(&["-Fd", "--help"]).unwrap_err(), UsageError::hint_only());
        assert_eq!(p(&["-X"]).unwrap_err(), UsageError::hint_only());
        assert_eq!(p(&["-s", "-?"]).unwrap_err().message.unwrap(), "invalid option -- '?'");
    }

    /// Every conflict pg_dump 18 checks, with its words (001_basic.pl and pg_dump.c).
    #[test]
    fn conflicts_in_pg_dumps_words() {
        for (args, want) in [
            (
                &["-s", "-a"][..],
                "options -s/--schema-only and -a/--data-only cannot be used together",
            ),
            (
                &["-s", "--statistics-only"],
                "options -s/--schema-only and --statistics-only cannot be used together",
            ),
            (
                &["-a", "--statistics-only"],
                "options -a/--data-only and --statistics-only cannot be used together",
            ),
            (
                &["-a", "--no-data"],
                "options -a/--data-only and --no-data cannot be used together",
            ),
            (
                &["-s", "--no-schema"],
                "options -s/--schema-only and --no-schema cannot be used together",
            ),
            (
                &["--statistics-only", "--no-statistics"],
                "options --statistics-only and --no-statistics cannot be used together",
            ),
            (
                &["--statistics", "--no-statistics"],
                "options --statistics and --no-statistics cannot be used together",
            ),
            (
                &["-a", "--statistics"],
                "options -a/--data-only and --statistics cannot be used together",
            ),
            (
                &["-s", "--statistics"],
                "options -s/--schema-only and --statistics cannot be used together",
            ),
            (
                &["-s", "--include-foreign-data=x"],
                "options -s/--schema-only and --include-foreign-data cannot be used together",
            ),
            (
                &["-Fd", "-f", "o", "-j2", "--include-foreign-data=x"],
                "option --include-foreign-data is not supported with parallel backup",
            ),
            (
                &["-c", "-a"],
                "options -c/--clean and -a/--data-only cannot be used together",
            ),
            (&["--if-exists"], "option --if-exists requires option -c/--clean"),
            (
                &["--on-conflict-do-nothing"],
                "option --on-conflict-do-nothing requires option --inserts, --rows-per-insert, or --column-inserts",
            ),
            (&["-Fx"], "invalid output format \"x\" specified"),
            (&["-j", "2"], "parallel backup only supported by the directory format"),
            (
                &["-Ft", "-Z", "5"],
                "compression is not supported by tar archive format",
            ),
            (
                &["-Fd", "--restrict-key=abc", "-f", "o"],
                "option --restrict-key can only be used with --format=plain",
            ),
            (&["-Fd"], "no output directory specified"),
            (&["-j", "0"], "-j/--jobs must be in range 1..2147483647"),
            (&["-j", "abc"], "invalid value \"abc\" for option -j/--jobs"),
            (&["-j", "99999999999"], "-j/--jobs must be in range 1..2147483647"),
            (
                &["--extra-float-digits=4"],
                "--extra-float-digits must be in range -15..3",
            ),
            (
                &["--rows-per-insert=0"],
                "--rows-per-insert must be in range 1..2147483647",
            ),
            (&["--sync-method=bar"], "unrecognized sync method: bar"),
            (
                &["--manifest-checksums=md5"],
                "unrecognized checksum algorithm: \"md5\" (use CRC32C, SHA256 or NONE)",
            ),
            (
                &["--no-manifest", "--manifest-checksums=sha256"],
                "options --no-manifest and --manifest-checksums cannot be used together",
            ),
            (&["-Z", "brotli"], "unrecognized compression algorithm: \"brotli\""),
            (
                &["--binary-upgrade"],
                "option --binary-upgrade is not supported: it serves pg_upgrade, which needs stock pg_dump",
            ),
            (
                &["-t", "a.b.c.d"],
                "improper relation name (too many dotted names): a.b.c.d",
            ),
            (
                &["-n", "a.b.c"],
                "improper qualified name (too many dotted names): a.b.c",
            ),
            (&["-E", "FOO"], "invalid client encoding \"FOO\" specified"),
            (
                &["--lock-wait-timeout=soon"],
                "invalid value for parameter \"statement_timeout\": \"soon\"",
            ),
        ] {
            let e = err(args);
            assert_eq!(e.message.as_deref(), Some(want), "{args:?}");
            assert!(!e.hint, "{args:?}: pg_fatal prints no hint");
        }
        for (args, want) in [
            (&["a", "b"][..], "too many command-line arguments (first is \"b\")"),
            (&["-d", "a", "b"], "too many command-line arguments (first is \"b\")"),
            (&["--section=foo"], "unrecognized section name: \"foo\""),
            (&["--no-such-flag"], "unrecognized option '--no-such-flag'"),
            (&["-k"], "invalid option -- 'k'"),
            (
                &["--fil=x"],
                "option '--fil=x' is ambiguous; possibilities: '--file' '--filter'",
            ),
            (&["--inserts=3"], "option '--inserts' doesn't allow an argument"),
            (&["--jobs"], "option '--jobs' requires an argument"),
        ] {
            let e = err(args);
            assert_eq!(e.message.as_deref(), Some(want), "{args:?}");
            assert!(e.hint, "{args:?}: pg_dump adds the --help hint");
        }
        assert!(msg(&["-E", "LATIN1"]).contains("not supported"));
    }

    #[test]
    fn abbreviations_are_ambiguous_where_pg_dumps_are() {
        assert_eq!(
            msg(&["--s"]),
            "option '--s' is ambiguous; possibilities: '--schema' '--schema-only' '--superuser' '--section' \
             '--serializable-deferrable' '--snapshot' '--statistics' '--statistics-only' '--strict-names' \
             '--sync-method' '--sequence-data'"
        );
        assert_eq!(
            msg(&["--n"]),
            "option '--n' is ambiguous; possibilities: '--no-blobs' '--no-reconnect' '--no-owner' '--no-password' \
             '--no-privileges' '--no-acl' '--no-table-access-method' '--no-tablespaces' '--no-comments' '--no-data' \
             '--no-policies' '--no-publications' '--no-schema' '--no-security-labels' '--no-statistics' \
             '--no-subscriptions' '--no-toast-compression' '--no-unlogged-table-data' '--no-sync'"
        );
        assert_eq!(
            msg(&["--r"]),
            "option '--r' is ambiguous; possibilities: '--role' '--rows-per-insert' '--restrict-key'"
        );
    }

    #[test]
    fn manifest_checksums_default_to_crc32c_and_take_pg_basebackups_names() {
        assert_eq!(run(&[]).unwrap().manifest_checksums, ChecksumKind::Crc32c);
        for (arg, kind) in [
            ("--manifest-checksums=SHA256", ChecksumKind::Sha256),
            ("--manifest-checksums=none", ChecksumKind::None),
            ("--manifest-checksums=crc32c", ChecksumKind::Crc32c),
        ] {
            assert_eq!(run(&[arg]).unwrap().manifest_checksums, kind, "{arg}");
        }
    }

    #[test]
    fn timeouts_take_the_servers_units() {
        assert_eq!(parse_timeout("1500").unwrap(), Some(Duration::from_millis(1500)));
        assert_eq!(parse_timeout("2s").unwrap(), Some(Duration::from_secs(2)));
        assert_eq!(parse_timeout("1.5 s").unwrap(), Some(Duration::from_millis(1500)));
        assert_eq!(parse_timeout("1min").unwrap(), Some(Duration::from_secs(60)));
        assert_eq!(parse_timeout("0").unwrap(), None);
        assert!(parse_timeout("soon").is_err());
        assert!(parse_timeout("5 years").is_err());
        assert!(parse_timeout("-5").is_err());
    }
}
