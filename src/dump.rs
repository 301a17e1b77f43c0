//! The dump use case: one snapshot, catalog → plan → parallel data → an archive (directory,
//! custom or tar, through the [`ArchiveWriter`] seam) that appears under its final name only
//! when complete.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::archive::output::FileLayer;
use crate::archive::script::{ScriptOptions, Sections};
use crate::archive::toc::{ArchiveFormat, ArchiveVersion, CreateTime, Header, HeaderCompression, TocEntry};
use crate::archive::writer::{self, ArchiveWriter, WriterOptions};
use crate::catalog::{self, Selection};
use crate::checksum::ChecksumKind;
use crate::codec::Compression;
use crate::engine::large_objects::LargeObjectJob;
use crate::engine::{self, ArchiveSinks, ExportJob, ExportOptions, TableReport};
use crate::error::{Error, ErrorKind, Result, ResultExt};
use crate::model::{Entry, Section};
use crate::pg::{SessionOptions, Target};
use crate::plan;
use crate::progress::{NoProgress, Progress};

mod watchdog;

/// The output format, as pg_dump's `-F` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// `-Fp`: an SQL script (pg_dump's default).
    Plain,
    /// `-Fc`: one archive file.
    Custom,
    /// `-Fd`: a directory with `toc.dat` and a file per table.
    Directory,
    /// `-Ft`: a tar file.
    Tar,
}

impl OutputFormat {
    /// The long name `-F` takes (`plain`, `custom`, `directory`, `tar`).
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Plain => "plain",
            OutputFormat::Custom => "custom",
            OutputFormat::Directory => "directory",
            OutputFormat::Tar => "tar",
        }
    }
}

/// What to dump and how.
#[derive(Debug, Clone)]
pub struct DumpOptions {
    pub target: Target,
    pub format: OutputFormat,
    /// Where to write: the directory archive (must not exist, or be an empty directory), or
    /// the file of the single-file formats; `None` = standard output (not for `-Fd`).
    pub output: Option<PathBuf>,
    /// How the plain format prints its script (pg_dump's restore-time switches: `-O`, `-c`,
    /// `--if-exists`, `-C`, the `\restrict` key — `None` prints none, pg_dump draws a random
    /// one). Its dialect is the source server's major, as that server's pg_dump prints.
    pub script: ScriptOptions,
    /// Destination URLs (`--to`): when given, the archive is streamed to each of them under
    /// the name `output` instead of being written to a local path (see [`crate::storage`]).
    pub to: Vec<String>,
    /// Make the output durable before reporting success (`--no-sync` turns it off).
    pub sync: bool,
    /// Write the manifest (`pgsnap.manifest` inside a directory archive, `NAME.manifest`
    /// beside a file); `--no-manifest` turns it off.
    pub manifest: bool,
    /// How the manifest sums each file (`--manifest-checksums`; CRC32C unless chosen).
    pub manifest_checksums: ChecksumKind,
    /// Byte transforms every archive file passes through (encryption, digests, …).
    pub layers: Vec<Arc<dyn FileLayer>>,
    /// Worker connections for table data (1 for the plain format).
    pub jobs: usize,
    /// Data compression of the archive formats; the plain format compresses the whole script
    /// (pg_dump's plain default is none).
    pub compression: Compression,
    /// Archive version to write; `None` = the lowest the chosen features need.
    pub archive_version: Option<ArchiveVersion>,
    pub selection: Selection,
    pub session: SessionOptions,
    /// Tables of at least this many pages are read by several workers as `ctid` ranges
    /// (see [`ExportOptions::split_pages`]); 0 never splits.
    pub split_pages: u64,
    /// Receives the data phase's progress events.
    pub progress: Arc<dyn Progress>,
}

impl DumpOptions {
    pub fn new(target: Target, output: impl Into<PathBuf>) -> DumpOptions {
        DumpOptions {
            target,
            format: OutputFormat::Directory,
            output: Some(output.into()),
            script: ScriptOptions::default(),
            to: Vec::new(),
            sync: true,
            manifest: true,
            manifest_checksums: ChecksumKind::default(),
            layers: Vec::new(),
            jobs: 2,
            compression: Compression::Gzip { level: 6 },
            archive_version: None,
            selection: Selection::default(),
            session: SessionOptions::default(),
            split_pages: engine::DEFAULT_SPLIT_PAGES,
            progress: Arc::new(NoProgress),
        }
    }
}

/// What a dump did.
#[derive(Debug, Clone)]
pub struct Report {
    /// Where the archive is; `-` for standard output.
    pub archive: PathBuf,
    pub version: ArchiveVersion,
    /// "pg_restore 14-18" and the like.
    pub readers: String,
    pub entries: usize,
    pub tables: Vec<TableReport>,
    /// Large objects whose bytes were written.
    pub large_objects: u64,
    /// Rows over all tables.
    pub rows: u64,
    /// Bytes of COPY text received.
    pub bytes_in: u64,
    /// Bytes written to data files.
    pub bytes_out: u64,
    pub elapsed: Duration,
    /// What pg_dump would warn about while collecting, and dependency loops the planner broke.
    pub warnings: Vec<String>,
}

/// Chooses the archive version: the lowest the compression (and statistics entries) need,
/// or the requested one if it can hold them.
///
/// `STATISTICS DATA` entries ask for 1.16, the version pg_dump 18 writes them in: only
/// pg_restore 18 knows them (it restores index and materialized-view statistics after the
/// REFRESH, in its last pass), and 1.16 keeps pg_restore 14–16 from running them as
/// ordinary schema statements.
pub fn choose_version(c: Compression, statistics: bool, requested: Option<ArchiveVersion>) -> Result<ArchiveVersion> {
    let for_compression = ArchiveVersion::lowest_for(c);
    let lowest = if statistics {
        for_compression.max(ArchiveVersion::V1_16)
    } else {
        for_compression
    };
    match requested {
        None => Ok(lowest),
        Some(v) if v >= lowest => Ok(v),
        Some(v) if v >= for_compression => Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "statistics entries need archive version {lowest} or later (read by {}), but version {v} was \
                 requested (read by {})",
                lowest.readers(),
                v.readers()
            ),
        )),
        Some(v) => Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "{} compression needs archive version {for_compression} or later (read by {}), but version {v} was \
                 requested (read by {})",
                c.name(),
                for_compression.readers(),
                v.readers()
            ),
        )),
    }
}

/// Dumps a database into an archive of `opts.format` (`pg_dump -Fd/-Fc/-Ft` equivalent) or
/// an SQL script (`-Fp`).
pub async fn dump(opts: DumpOptions) -> Result<Report> {
    // --quote-all-identifiers and --disable-dollar-quoting shape every name and body the
    // catalog readers render.
    let style = crate::ddl::quote::Style {
        quote_all_identifiers: opts.session.quote_all_identifiers,
        disable_dollar_quoting: opts.selection.disable_dollar_quoting,
    };
    crate::ddl::quote::with_style(style, dump_styled(opts)).await
}

async fn dump_styled(opts: DumpOptions) -> Result<Report> {
    let started = Instant::now();
    let plain = opts.format == OutputFormat::Plain;
    if plain && opts.jobs > 1 {
        // pg_dump's wording; a script has one place for each table's rows, in order.
        return Err(Error::usage("parallel backup only supported by the directory format"));
    }
    // A script has no archive header: its compression wraps the whole file and needs no
    // archive version.
    let archive_compression = if plain { Compression::None } else { opts.compression };
    let version = choose_version(
        archive_compression,
        opts.selection.statistics && !plain,
        opts.archive_version,
    )?;
    let header_compression = HeaderCompression::for_archive(version, archive_compression)?;
    let format = match opts.format {
        OutputFormat::Directory => writer::Format::Directory,
        OutputFormat::Custom => writer::Format::Custom,
        OutputFormat::Tar => writer::Format::Tar,
        OutputFormat::Plain => writer::Format::Plain,
    };
    // Destinations (`--to`) take the archive's bytes instead of a local path; `-f` names it
    // under each.
    let remote: Option<Arc<dyn writer::RemoteOutput>> = if opts.to.is_empty() {
        None
    } else {
        let Some(name) = opts.output.as_deref().and_then(|p| p.to_str()) else {
            return Err(Error::usage(
                "with --to, -f NAME must name the archive under each destination",
            ));
        };
        let d = crate::storage::fanout::Destinations::open(&opts.to, name)?.with_checksums(opts.manifest_checksums);
        d.probe()?;
        Some(Arc::new(d))
    };
    let local_output = if remote.is_some() { None } else { opts.output.clone() };
    // A local archive's manifest takes each file's checksum from the bytes as they are
    // written (the innermost layer: what is stored); destinations sum their uploads.
    let digests =
        (opts.manifest && remote.is_none()).then(|| crate::archive::digest::DigestLayer::new(opts.manifest_checksums));
    let mut layers = opts.layers.clone();
    if let Some(d) = &digests {
        layers.push(d.clone());
    }
    // Checked before touching the server: an unusable output fails fast.
    let writer = writer::create(
        format,
        local_output.as_deref(),
        WriterOptions {
            compression: opts.compression,
            sync: opts.sync,
            layers,
            script: opts.script.clone(),
            remote: remote.clone(),
        },
    )?;
    // The manifest (sizes, checksums, rows per table) is written once the archive is done:
    // beside the local archive, or last to every destination (where it is the commit mark,
    // so `--to` always writes one).
    let (mut writer, manifest) = if opts.manifest || remote.is_some() {
        crate::manifest::wrap(
            writer,
            opts.format.name(),
            opts.compression,
            &opts.layers,
            remote.clone(),
            digests,
            opts.manifest_checksums,
        )
    } else {
        (writer, crate::manifest::ManifestNotes::none())
    };
    let created = now_utc();

    // Workers must reach the server the leader reached: the snapshot exists only there.
    let (mut leader, target) = opts.target.connect_pinned().await?;
    leader.setup(&opts.session).await?;
    let snapshot = leader.begin_leader_transaction(&opts.session).await?;
    manifest.set_snapshot(&snapshot);

    // Helper sessions for the catalog (see catalog::prefetch) connect while the leader reads
    // and locks: as many as the data phase has workers, closed before those open; without
    // data, only when -j asked for more connections.
    let helpers = if opts.selection.data || opts.jobs > 1 {
        opts.jobs.max(1)
    } else {
        0
    };
    let (helpers, ctx) = tokio::join!(
        catalog::prefetch::open_helpers(&target, &opts.session, &snapshot, helpers),
        async {
            let mut ctx = catalog::load_context(&leader, &opts.selection).await?;
            // Archives hold large objects as their version does; a script prints them as
            // the source server's pg_dump does (BLOB METADATA groups from 17 on).
            ctx.large_object_groups = if plain {
                ctx.version.at_least(17)
            } else {
                version >= ArchiveVersion::V1_16
            };
            // Lock before reading definitions, as pg_dump's getTables does, so nothing we
            // dump can be altered or dropped underneath us.
            let mut to_lock = catalog::lockable_tables(&ctx);
            to_lock.extend(catalog::ext_config::lockable(&ctx).await?);
            leader.lock_tables(&to_lock, opts.session.lock_wait_timeout).await?;
            Ok::<_, Error>(ctx)
        }
    );
    let mut ctx = ctx?;
    catalog::read_all(&mut ctx, helpers).await?;
    let mut warnings: Vec<String> = std::mem::take(&mut ctx.warnings);
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let cat = ctx.finish();

    let (special, db_info) = catalog::database::header_entries(&leader, &opts.selection).await?;
    catalog::narrate!("saving encoding = {}", leader.encoding());
    catalog::narrate!(
        "saving \"standard_conforming_strings = {}\"",
        if leader.standard_conforming_strings() {
            "on"
        } else {
            "off"
        }
    );
    catalog::narrate!("saving \"search_path = \"");
    catalog::narrate!("saving database definition");
    let first_id = special.iter().map(|e| 1 + e.attached.len() as i32).sum::<i32>() + 1;
    let mut planned = plan::plan(cat.entries, &cat.depend, &cat.ext_members, first_id);
    // Extension members and pg_catalog objects are sorted like pg_dump sorts them, then left
    // out of the TOC (only their ACL entries are written).
    catalog::dumpable::drop_unwritten(&mut planned);
    for w in &planned.warnings {
        tracing::warn!("{w}");
    }
    warnings.extend(planned.warnings.iter().map(ToString::to_string));
    // -s / -a / --section: planned whole, then filtered, so ids and dependencies (on entries
    // left out too) are what a full dump would have — as pg_dump writes them. A section-less
    // entry (comment, ACL) goes with the section of the entry before it, starting after the
    // database entries in pre-data (pg_backup_archiver.c `ProcessArchiveRestoreOptions`).
    let sections = opts.script.sections;
    let mut current = Section::PreData;
    planned.entries.retain(|p| {
        if p.entry.section != Section::None {
            current = p.entry.section;
        }
        wanted(&p.entry, &opts.selection) && section_wanted(sections, current)
    });
    let mut toc = header_toc(special, version, &opts.selection, sections);
    let mut jobs = Vec::new();
    let mut lo_jobs = Vec::new();
    // Partitions loaded through their root say so in their entry (as pg_restore reads it).
    let mut insert_into = HashMap::new();
    // The plan is consumed: each entry's rendered SQL moves into the TOC the writer keeps,
    // and nothing of the catalog outlives this loop (it would sit idle through the data
    // phase, a few kB per table).
    for p in planned.entries {
        let mut e = p.entry;
        let data = e.data.take();
        let large_objects = std::mem::take(&mut e.large_objects);
        let had_dumper = data.is_some() || !large_objects.is_empty();
        if let Some(data) = &data
            && let Some(root) = e
                .defn
                .as_deref()
                .and_then(|d| d.strip_prefix("-- load via partition root "))
        {
            insert_into.insert(data.table_oid, root.to_string());
        }
        if !large_objects.is_empty() {
            lo_jobs.push(LargeObjectJob {
                id: p.dump_id,
                tag: e.tag.clone(),
                oids: large_objects,
            });
        }
        toc.push(to_toc(p.dump_id, e, p.deps, had_dumper, version));
        if let Some(table) = data {
            jobs.push(ExportJob { id: p.dump_id, table });
        }
    }
    drop(cat.depend);
    drop(cat.ext_members);

    let entries = toc.len();
    let header = Header {
        version,
        // The writer sets the format byte its format needs.
        format: ArchiveFormat::Tar,
        compression: header_compression,
        created,
        dbname: db_info.name,
        server_version: db_info.server_version,
        dump_version: format!("pgsnap {}", env!("CARGO_PKG_VERSION")),
    };
    writer.start(header, toc)?;
    let in_order = match writer.data_order() {
        Some(order) => {
            (jobs, lo_jobs) = in_data_order(jobs, lo_jobs, &order)?;
            true
        }
        None => false,
    };
    let data_sinks = writer.sinks()?;
    let gate = watchdog::Gate::default();
    let sinks = Arc::new(watchdog::GatedSinks::new(
        Arc::new(ArchiveSinks(data_sinks.clone())),
        gate.clone(),
    ));
    let export_opts = ExportOptions {
        jobs: opts.jobs.max(1),
        session: opts.session.clone(),
        in_order,
        inserts: opts.selection.inserts,
        insert_into,
        split_pages: opts.split_pages,
        spool_beside: local_output.clone(),
        spool_sealed: opts.layers.iter().any(|l| l.seals_temporaries()),
        progress: opts.progress.clone(),
        ..ExportOptions::default()
    };
    // Large objects are read by the leader, under the dump's snapshot, while the workers copy
    // tables; a script takes them after the tables (its BLOBS entries come last).
    // The leader idles while the workers copy; its death must stop them at once.
    let data_phase = async {
        if in_order {
            let tables = engine::export_tables(&target, &snapshot, jobs, sinks, &export_opts).await?;
            let los = engine::large_objects::export(&leader, lo_jobs, data_sinks).await?;
            Ok((tables, los))
        } else {
            tokio::try_join!(
                engine::export_tables(&target, &snapshot, jobs, sinks, &export_opts),
                engine::large_objects::export(&leader, lo_jobs, data_sinks),
            )
        }
    };
    let (tables, los) = watchdog::watch(leader.ended(), &gate, data_phase).await?;
    leader.execute("COMMIT").await?;
    leader.close().await;

    let finished = finish_off_runtime(writer).await.context("finishing the archive")?;
    Ok(Report {
        archive: match &remote {
            Some(r) => PathBuf::from(r.describe()),
            None => finished.path.unwrap_or_else(|| PathBuf::from("-")),
        },
        version,
        readers: if plain { "psql".to_string() } else { version.readers() },
        entries,
        rows: tables.iter().map(|t| t.rows).sum(),
        bytes_in: tables.iter().map(|t| t.bytes).sum::<u64>() + los.bytes,
        bytes_out: tables.iter().map(|t| t.written).sum::<u64>() + los.written,
        large_objects: los.objects,
        tables,
        elapsed: started.elapsed(),
        warnings,
    })
}

/// The jobs in the order the writer takes their data; jobs it does not take are not run (a
/// script printed without its data section), and an entry it wants without a job is an error.
/// Large objects are read after the tables, so their entries must come after every table's.
fn in_data_order(
    jobs: Vec<ExportJob>,
    lo_jobs: Vec<LargeObjectJob>,
    order: &[i32],
) -> Result<(Vec<ExportJob>, Vec<LargeObjectJob>)> {
    let mut by_id: std::collections::HashMap<i32, ExportJob> = jobs.into_iter().map(|j| (j.id, j)).collect();
    let mut lo_by_id: std::collections::HashMap<i32, LargeObjectJob> = lo_jobs.into_iter().map(|j| (j.id, j)).collect();
    let (mut tables, mut los) = (Vec::new(), Vec::new());
    for id in order {
        if let Some(j) = by_id.remove(id) {
            if !los.is_empty() {
                return Err(Error::internal(format!(
                    "the output wants table data (entry {id}) after large objects"
                )));
            }
            tables.push(j);
        } else if let Some(j) = lo_by_id.remove(id) {
            los.push(j);
        } else {
            return Err(Error::internal(format!(
                "the output wants the data of entry {id}, which has no job"
            )));
        }
    }
    Ok((tables, los))
}

/// Finishing copies spooled data, fsyncs and renames: blocking work kept off the runtime.
async fn finish_off_runtime(writer: Box<dyn ArchiveWriter>) -> Result<writer::Finished> {
    tokio::task::spawn_blocking(move || writer.finish())
        .await
        .map_err(|e| Error::internal(format!("finishing the archive failed: {e}")))?
}

/// Whether an entry belongs in a dump with this selection's schema/data/statistics switches
/// (pg_dump -s keeps no data entries, not even the matview refresh; -a keeps table data and
/// sequence values only; `--sequence-data` keeps sequence values whatever else is left
/// out; statistics entries only with `--statistics[-only]`).
fn wanted(e: &Entry, selection: &Selection) -> bool {
    match e.desc.as_str() {
        // Large objects and their comments, security labels and ACLs are data to pg_dump
        // (they exist only when the selection wants large objects, which needs data).
        "BLOB" | "BLOB METADATA" | "BLOBS" => selection.data,
        "COMMENT" | "ACL" | "SECURITY LABEL" if e.tag.starts_with("LARGE OBJECT") => selection.data,
        "TABLE DATA" => selection.data,
        "SEQUENCE SET" => selection.data || selection.sequence_data,
        "MATERIALIZED VIEW DATA" => selection.data && selection.schema,
        "STATISTICS DATA" => selection.statistics,
        _ => selection.schema,
    }
}

/// Whether `--section` keeps entries of this section (pg_backup_archiver.c
/// `_tocEntryRequired`).
fn section_wanted(sections: Sections, section: Section) -> bool {
    match section {
        Section::PreData | Section::None => sections.pre_data,
        Section::Data => sections.data,
        Section::PostData => sections.post_data,
    }
}

/// The header entries get the first dump ids, each followed by its attached comment and ACL
/// (left out of data-only dumps, as pg_dump does); those and DATABASE PROPERTIES depend on
/// the DATABASE entry.
fn header_toc(
    special: Vec<Entry>,
    version: ArchiveVersion,
    selection: &Selection,
    sections: Sections,
) -> Vec<TocEntry> {
    let mut toc = Vec::new();
    let mut database_id = None;
    for mut e in special {
        let id = toc.len() as i32 + 1;
        let attached = std::mem::take(&mut e.attached);
        let deps: Vec<i32> = if e.deps.is_empty() {
            Vec::new()
        } else {
            database_id.into_iter().collect()
        };
        if e.desc == "DATABASE" {
            database_id = Some(id);
        }
        // Settings and the database's own entries carry no data.
        toc.push(to_toc(id, e, deps, false, version));
        // The database's comment and ACL are section-less entries after a pre-data one.
        for a in attached
            .into_iter()
            .filter(|_| selection.schema && section_wanted(sections, Section::PreData))
        {
            let aid = toc.len() as i32 + 1;
            toc.push(to_toc(aid, a, vec![id], false, version));
        }
    }
    toc
}

/// The TOC entry of `e`; `had_dumper` when it has data (its table data and large objects
/// may already have been taken out of it for the data phase).
fn to_toc(dump_id: i32, e: Entry, deps: Vec<i32>, had_dumper: bool, version: ArchiveVersion) -> TocEntry {
    let (tableoid, oid) = match e.key {
        Some(k) => (k.tableoid.to_string(), k.oid.to_string()),
        None => ("0".to_string(), e.toc_oid.unwrap_or(0).to_string()),
    };
    // Statistics entries carry their relation's relkind for the planner only; pg_dump
    // writes it on relation entries alone.
    let relkind = if version >= ArchiveVersion::V1_16 && e.desc != "STATISTICS DATA" {
        e.relkind.map(i32::from).unwrap_or(0)
    } else {
        0
    };
    // The entry's strings move into the TOC: the rendered SQL is held once, by the writer.
    TocEntry {
        dump_id,
        had_dumper,
        tableoid,
        oid,
        tag: e.tag,
        desc: e.desc,
        section: e.section.code(),
        defn: e.defn,
        drop_stmt: e.drop_stmt,
        copy_stmt: e.copy_stmt,
        namespace: e.schema,
        tablespace: e.tablespace,
        tableam: e.tableam,
        relkind,
        owner: e.owner,
        deps,
        // The writer names data files (directory, tar) or records offsets (custom).
        filename: String::new(),
    }
}

/// The current time as UTC broken-down fields for the archive header.
fn now_utc() -> CreateTime {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    CreateTime {
        sec: (rem % 60) as i32,
        min: (rem / 60 % 60) as i32,
        hour: (rem / 3600) as i32,
        mday: day as i32,
        mon: month as i32 - 1,
        year: year as i32 - 1900,
        isdst: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Priority, Section};

    #[test]
    fn version_is_the_lowest_the_compression_needs() {
        assert_eq!(
            choose_version(Compression::Gzip { level: 6 }, false, None).unwrap(),
            ArchiveVersion::V1_14
        );
        assert_eq!(
            choose_version(Compression::None, false, None).unwrap(),
            ArchiveVersion::V1_14
        );
        assert_eq!(
            choose_version(Compression::Zstd { level: 3, long: false }, false, None).unwrap(),
            ArchiveVersion::V1_15
        );
        assert_eq!(
            choose_version(Compression::Lz4 { level: 1 }, false, None).unwrap(),
            ArchiveVersion::V1_15
        );
        assert_eq!(
            choose_version(Compression::Gzip { level: 6 }, false, Some(ArchiveVersion::V1_16)).unwrap(),
            ArchiveVersion::V1_16
        );
        let err = choose_version(
            Compression::Zstd { level: 3, long: false },
            false,
            Some(ArchiveVersion::V1_14),
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert!(err.to_string().contains("zstd"), "{err}");
        // Statistics entries are written in 1.16, as pg_dump 18 writes them.
        assert_eq!(
            choose_version(Compression::None, true, None).unwrap(),
            ArchiveVersion::V1_16
        );
        let err = choose_version(Compression::Gzip { level: 6 }, true, Some(ArchiveVersion::V1_15)).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("statistics entries need archive version 1.16"),
            "{err}"
        );
    }

    #[test]
    fn schema_and_data_switches_pick_entries_like_pg_dump() {
        let e = |desc: &str| Entry::new(desc, Priority::Table, Section::PreData, "x");
        let schema_only = Selection {
            data: false,
            ..Selection::default()
        };
        let data_only = Selection {
            schema: false,
            ..Selection::default()
        };
        for (desc, in_schema, in_data) in [
            ("TABLE", true, false),
            ("TABLE DATA", false, true),
            ("SEQUENCE SET", false, true),
            ("MATERIALIZED VIEW DATA", false, false),
            ("COMMENT", true, false),
            ("ACL", true, false),
        ] {
            assert_eq!(wanted(&e(desc), &schema_only), in_schema, "{desc} with -s");
            assert_eq!(wanted(&e(desc), &data_only), in_data, "{desc} with -a");
            assert!(wanted(&e(desc), &Selection::default()));
        }
        // A large object's comment, label and ACL go with its data (dumpLO), not the schema.
        for desc in ["COMMENT", "SECURITY LABEL", "ACL"] {
            let lo = Entry::new(desc, Priority::Table, Section::None, "LARGE OBJECT 16510");
            assert!(wanted(&lo, &data_only), "{desc} of a large object with -a");
            assert!(!wanted(&lo, &schema_only), "{desc} of a large object with -s");
        }
    }

    #[test]
    fn sequence_data_and_statistics_switches() {
        let e = |desc: &str| Entry::new(desc, Priority::Table, Section::PreData, "x");
        let schema_and_sequences = Selection {
            data: false,
            sequence_data: true,
            ..Selection::default()
        };
        assert!(wanted(&e("SEQUENCE SET"), &schema_and_sequences));
        assert!(!wanted(&e("TABLE DATA"), &schema_and_sequences));
        let statistics_only = Selection {
            schema: false,
            data: false,
            statistics: true,
            ..Selection::default()
        };
        assert!(wanted(&e("STATISTICS DATA"), &statistics_only));
        for desc in ["TABLE", "TABLE DATA", "SEQUENCE SET", "ACL"] {
            assert!(!wanted(&e(desc), &statistics_only), "{desc}");
        }
        assert!(!wanted(&e("STATISTICS DATA"), &Selection::default()));
    }

    #[test]
    fn sections_keep_their_entries_and_section_less_ones_follow() {
        let only = |pre, data, post| Sections {
            pre_data: pre,
            data,
            post_data: post,
        };
        assert!(section_wanted(only(true, false, false), Section::PreData));
        assert!(section_wanted(only(true, false, false), Section::None));
        assert!(!section_wanted(only(false, true, true), Section::PreData));
        assert!(section_wanted(only(false, true, false), Section::Data));
        assert!(!section_wanted(only(true, true, false), Section::PostData));
    }

    #[test]
    fn clock_fields_are_sane() {
        let t = now_utc();
        assert!((0..12).contains(&t.mon) && (1..=31).contains(&t.mday) && t.year > 120);
    }
}
