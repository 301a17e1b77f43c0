//! Running one job now: the job's dump through the same parser, checks and library call as
//! `pgsnap dump`, under a temporary name renamed into place when complete, then the run
//! record beside it. A failed run leaves its record (outcome `failed`, the error) and no
//! archive. Then, per the job: `verify` of the new archive and a test restore (an archive
//! that fails either is kept for inspection, but the run is `failed`), the upload to the
//! job's further destinations (their outcome in the record; the job's `destination_policy`
//! decides whether a failed one fails the run), and notifications
//! (their fate added to the record; they never change the run's outcome).

use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::record::{FailedStep, FileSum, GitRecord, Outcome, PinRecord, RunRecord, SchemaRecord, Trigger};
use super::schema::{self, HeldSnapshot};
use super::{remove_path, stem};
use crate::cli::{DumpCommand, FilterReadError};
use crate::config::{DestinationPolicy, Job};
use crate::error::{Error, ErrorKind, Result};

/// What a run did: its record (written), and the dump's error when it failed.
#[derive(Debug)]
pub struct RunOutcome {
    pub record: RunRecord,
    pub record_path: PathBuf,
    pub archive_path: Option<PathBuf>,
    pub error: Option<Error>,
}

/// Runs `job` now. `Err` only when the run could not start or not be recorded (the
/// destination is unusable, the job is already running); a failed dump is an `Ok` whose
/// record says `failed`.
pub async fn run_job(job: &Job, trigger: Trigger, pin: Option<PinRecord>) -> Result<RunOutcome> {
    let dest = &job.destination;
    std::fs::create_dir_all(dest)
        .map_err(|e| Error::io(format!("could not create destination \"{}\"", dest.display()), e))?;
    // One run of a job at a time (a second `pgsnap run`, later the daemon): an advisory
    // lock on a file in the destination, released when the process ends whatever happens.
    let Some(lock) = try_lock(job)? else {
        return Err(Error::new(
            ErrorKind::Lock,
            format!(
                "job \"{}\" is already running (lock \"{}\" is held)",
                job.name,
                lock_path(job).display()
            ),
        ));
    };

    let now = Timestamp::now();
    let started = Timestamp::from_millisecond(now.as_millisecond()).unwrap_or(now);
    let ext = job.extension();
    let base = stem(&job.name, started);
    let mut name = base.clone();
    let mut n = 1;
    while dest.join(format!("{name}.json")).exists() || dest.join(format!("{name}.{ext}")).exists() {
        name = format!("{base}-{n}");
        n += 1;
    }
    let archive_name = format!("{name}.{ext}");
    let partial = dest.join(format!(".{archive_name}.partial"));
    let final_path = dest.join(&archive_name);
    // The schema file, when the job writes one, beside the archive under the same stem.
    let schema_name = job.schema_file.as_ref().map(|_| schema::file_name(&name));
    let schema_paths = schema_name
        .as_ref()
        .map(|n| (dest.join(format!(".{n}.partial")), dest.join(n)));

    let (result, snapshot) = dump_all(job, &partial, schema_paths.as_ref().map(|(p, _)| p.as_path())).await;
    let compression = job.compression.as_deref().unwrap_or("default");
    let mut record = RunRecord {
        pin,
        snapshot: snapshot.as_ref().map(|s| s.id.clone()),
        snapshot_time: snapshot.as_ref().map(|s| s.taken.to_string()),
        ..RunRecord::started(
            &job.name,
            trigger,
            started.to_string(),
            job.format.name(),
            job.content.name(),
            compression,
        )
    };
    let mut error = None;
    let mut archive_path = None;
    match result.and_then(|report| {
        std::fs::rename(&partial, &final_path).map_err(|e| {
            Error::io(
                format!(
                    "could not rename \"{}\" to \"{}\"",
                    partial.display(),
                    final_path.display()
                ),
                e,
            )
        })?;
        // A single-file archive's manifest is a sidecar named after the archive: it follows
        // the archive to its final name (written last by the dump, so it moves last too).
        let sidecar = crate::manifest::manifest_path(&partial);
        if sidecar.exists() {
            let to = crate::manifest::manifest_path(&final_path);
            std::fs::rename(&sidecar, &to).map_err(|e| {
                Error::io(
                    format!("could not rename \"{}\" to \"{}\"", sidecar.display(), to.display()),
                    e,
                )
            })?;
        }
        if let Some((from, to)) = &schema_paths {
            std::fs::rename(from, to).map_err(|e| {
                Error::io(
                    format!("could not rename \"{}\" to \"{}\"", from.display(), to.display()),
                    e,
                )
            })?;
        }
        Ok(report)
    }) {
        Ok(report) => {
            let (files, encrypted_to) = checksums(dest, &final_path)?;
            record.outcome = Outcome::Succeeded;
            record.encrypted_to = encrypted_to;
            record.archive = Some(archive_name.clone());
            record.archive_version = Some(report.version.to_string());
            record.readers = Some(report.readers.clone());
            record.tables = Some(report.tables.len());
            record.rows = Some(report.rows);
            record.bytes_in = Some(report.bytes_in);
            record.size = Some(files.iter().map(|f| f.size).sum());
            record.files = files;
            if let (Some(sf), Some((_, path)), Some(file)) = (&job.schema_file, &schema_paths, &schema_name) {
                let (size, sha256) = schema::sum(path)?;
                record.schema = Some(SchemaRecord {
                    file: file.clone(),
                    size,
                    sha256,
                    owners: sf.owners,
                    privileges: sf.privileges,
                    git: None,
                });
            }
            if let Err(e) = check(job, &final_path, &archive_name, &mut record).await {
                record.outcome = Outcome::Failed;
                record.error = Some(e.to_string());
                error = Some(e);
            } else {
                if let Err(e) = commit_schema(job, &schema_paths, snapshot.as_ref(), &archive_name, &mut record).await {
                    // The archive is good and counts as a backup; the run failed all the same,
                    // so that someone hears of it.
                    record.outcome = Outcome::Failed;
                    record.failed_step = Some(FailedStep::Git);
                    record.error = Some(e.to_string());
                    error = Some(e);
                }
                if !job.destinations.is_empty() {
                    // Only a checked archive goes out; each destination commits it or not.
                    record.destinations = super::remote::publish(job, &final_path, &archive_name).await;
                    if let Some(why) = super::remote::failures(&record)
                        && job.destination_policy == DestinationPolicy::All
                    {
                        // The local archive stays a good backup; the run fails so that someone
                        // hears of the destination that has no copy.
                        let why = format!("{why} (destination_policy = \"all\")");
                        record.outcome = Outcome::Failed;
                        record.failed_step.get_or_insert(FailedStep::Destinations);
                        record.error = Some(match record.error.take() {
                            Some(prev) => format!("{prev}; {why}"),
                            None => why.clone(),
                        });
                        error.get_or_insert(Error::new(ErrorKind::Storage, why));
                    }
                }
            }
            archive_path = Some(final_path);
        }
        Err(e) => {
            // Nothing that looks like a backup stays behind.
            record.failed_step = Some(FailedStep::Dump);
            if let Some((p, f)) = &schema_paths {
                let _ = remove_path(p);
                let _ = remove_path(f);
            }
            let _ = remove_path(&partial);
            let _ = remove_path(&crate::manifest::manifest_path(&partial));
            crate::archive::leftovers::remove_own(&partial);
            record.error = Some(e.to_string());
            error = Some(e);
        }
    }
    record.finished = Timestamp::now().to_string();
    let record_path = dest.join(format!("{name}.json"));
    write_record(&record_path, &record)?;
    // The record is on disk before anyone is told (a crash while notifying loses no run).
    let deliveries = crate::notify::send(job, &crate::notify::Event::Run(Box::new(record.clone()))).await;
    if !deliveries.is_empty() {
        record.notifications = deliveries;
        write_record(&record_path, &record)?;
    }
    if !record.destinations.is_empty() {
        super::remote::publish_record(job, &record, &format!("{name}.json")).await;
    }
    drop(lock);
    Ok(RunOutcome {
        record,
        record_path,
        archive_path,
        error,
    })
}

fn lock_path(job: &Job) -> PathBuf {
    job.destination.join(format!(".pgsnap-{}.lock", job.name))
}

/// Takes the job's run lock (a file in its directory); `None` when a run holds it.
pub(crate) fn try_lock(job: &Job) -> Result<Option<std::fs::File>> {
    let lock_path = lock_path(job);
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::io(format!("could not open lock file \"{}\"", lock_path.display()), e))?;
    match lock.try_lock() {
        Ok(()) => Ok(Some(lock)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(Error::io(format!("could not lock \"{}\"", lock_path.display()), e))
        }
    }
}

/// Verify and test restore, as the job asks, their evidence put in the record. `Err` when
/// the archive failed either.
async fn check(job: &Job, archive: &Path, name: &str, record: &mut RunRecord) -> Result<()> {
    if job.verify.enabled {
        let v = super::check::verify(job, archive).await;
        let ok = v.ok;
        let summary = v.summary();
        record.verification = Some(v);
        if !ok {
            record.failed_step = Some(FailedStep::Verify);
            return Err(Error::archive(format!("the new archive does not verify: {summary}")));
        }
    }
    // A test restore with its own schedule is the daemon's (`super::restores`).
    if let Some(cfg) = job.verify.restore.as_ref().filter(|c| c.schedule.is_none()) {
        let t = super::check::test_restore(job, cfg, archive, name).await;
        let ok = t.ok;
        let summary = t.summary();
        record.test_restore = Some(t);
        if !ok {
            record.failed_step = Some(FailedStep::TestRestore);
            return Err(Error::archive(format!("the test restore failed: {summary}")));
        }
    }
    Ok(())
}

/// The archive and, when the job has one, its schema file, both under one snapshot (see
/// [`schema`]): the dumps run side by side; the run fails when either does. Returns the
/// held snapshot's description too.
async fn dump_all(
    job: &Job,
    archive: &Path,
    schema_file: Option<&Path>,
) -> (Result<crate::dump::Report>, Option<SnapshotInfo>) {
    let (Some(sf), Some(schema_out)) = (&job.schema_file, schema_file) else {
        return (dump_to(job, archive, None, false).await, None);
    };
    let held = match HeldSnapshot::take(job).await {
        Ok(h) => h,
        Err(e) => return (Err(e.context("schema file")), None),
    };
    let schema_job = schema::schema_job(job, sf);
    let (a, s) = tokio::join!(
        dump_to(job, archive, Some(&held.id), false),
        dump_to(&schema_job, schema_out, Some(&held.id), true)
    );
    let info = SnapshotInfo {
        id: held.id.clone(),
        taken: held.taken,
        database: held.database.clone(),
    };
    held.release().await;
    let result = a.and_then(|report| s.map(|_| report).map_err(|e| e.context("writing the schema file")));
    (result, Some(info))
}

/// The snapshot a run's artefacts were read under.
struct SnapshotInfo {
    id: String,
    taken: Timestamp,
    database: String,
}

/// Commits the run's schema file when the job puts it into git; the outcome goes into the
/// record's schema entry.
async fn commit_schema(
    job: &Job,
    paths: &Option<(PathBuf, PathBuf)>,
    snapshot: Option<&SnapshotInfo>,
    archive_name: &str,
    record: &mut RunRecord,
) -> Result<()> {
    let (Some(target), Some((_, file)), Some(snap)) =
        (job.schema_file.as_ref().and_then(|s| s.git.clone()), paths, snapshot)
    else {
        return Ok(());
    };
    let message = super::gitrepo::message(&job.name, &snap.database, &snap.taken.to_string(), archive_name);
    let (t, f) = (target.clone(), file.clone());
    let done = tokio::task::spawn_blocking(move || super::gitrepo::commit_file(&t, &f, &message))
        .await
        .map_err(|e| Error::internal(format!("the git task failed: {e}")))
        .and_then(|r| r);
    let mut git = GitRecord {
        work_tree: target.work_tree.display().to_string(),
        file: target.file.display().to_string(),
        committed: false,
        commit: None,
        error: None,
    };
    let result = match done {
        Ok(c) => {
            git.committed = c.committed;
            git.commit = c.commit;
            Ok(())
        }
        Err(e) => {
            git.error = Some(e.to_string());
            Err(e.context("committing the schema file"))
        }
    };
    if let Some(s) = record.schema.as_mut() {
        s.git = Some(git);
    }
    result
}

/// The job's dump: its arguments through `pgsnap dump`'s parser into a request, the
/// connection resolved as libpq does (never prompting), the password from its secret.
/// `snapshot`: the exported snapshot to read under (`--snapshot`); `script_file`: a schema
/// file (no manifest, and no random `\restrict` key, so that equal schemas give equal files).
async fn dump_to(job: &Job, output: &Path, snapshot: Option<&str>, script_file: bool) -> Result<crate::dump::Report> {
    let mut args = job.dump_args(output);
    if let Some(id) = snapshot {
        args.push(format!("--snapshot={id}"));
    }
    if script_file {
        args.push("--no-manifest".into());
    }
    let command = crate::cli::dump::parse(&args, &mut |_| {
        Err(FilterReadError::Open(std::io::Error::other(
            "jobs take no filter files",
        )))
    })
    .map_err(|e| Error::config(format!("job \"{}\": {e}", job.name)))?;
    let DumpCommand::Run(req) = command else {
        return Err(Error::config(format!("job \"{}\": not a dump command", job.name)));
    };
    // Keys first, as `pgsnap dump` does: a bad recipient file fails before connecting. A job's
    // passphrase comes from its file only, never from the environment.
    let envelope = req.encryption.resolve(None)?;
    let settings = super::server_settings(&req.conn, job.source.password.as_ref(), "a job")?;
    let target = crate::pg::Target::from_settings(&settings)?;
    let mut opts = req.options(target);
    if script_file {
        opts.script.restrict_key = None;
    }
    if let Some(env) = envelope {
        opts.layers.push(std::sync::Arc::new(crate::crypt::AgeLayer::new(env)));
    }
    crate::dump::dump(opts).await
}

/// Every file of the archive (one, or a directory's), with its size and checksum: taken from
/// the manifest the dump wrote last (it read the archive back once already), plus a
/// directory's manifest itself; paths relative to `dest`.
fn checksums(dest: &Path, archive: &Path) -> Result<(Vec<FileSum>, Vec<String>)> {
    let manifest_path = crate::manifest::manifest_path(archive);
    let shown = manifest_path.display();
    let text = std::fs::read(&manifest_path).map_err(|e| Error::io(format!("could not read \"{shown}\""), e))?;
    let manifest = crate::manifest::Manifest::parse(&text)
        .map_err(|e| Error::internal(format!("the dump's manifest \"{shown}\" does not parse: {e}")))?;
    let encrypted = manifest.encrypted;
    let recipients = manifest.recipients.clone();
    let rel = |p: &Path| p.strip_prefix(dest).unwrap_or(p).to_string_lossy().into_owned();
    let entry = |path: String, f: crate::manifest::FileSum| FileSum {
        path,
        size: f.size,
        crc32c: f.crc32c,
        sha256: f.sha256,
    };
    // The manifest itself is summed as it sums the archive's files.
    let kind = manifest.files.first().map(|f| f.kind()).unwrap_or_default();
    let mut files: Vec<FileSum> = if archive.is_dir() {
        let mut v: Vec<FileSum> = manifest
            .files
            .into_iter()
            .map(|f| entry(rel(&archive.join(&f.name)), f))
            .collect();
        let own = crate::manifest::sum_file(&manifest_path, crate::manifest::MANIFEST_FILE, kind)
            .map_err(|e| Error::io(format!("could not read \"{shown}\""), e))?;
        v.push(entry(rel(&manifest_path), own));
        v
    } else {
        manifest.files.into_iter().map(|f| entry(rel(archive), f)).collect()
    };
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let to = match (encrypted, recipients.is_empty()) {
        (false, _) => Vec::new(),
        (true, true) => vec!["passphrase (scrypt)".to_string()],
        (true, false) => recipients,
    };
    Ok((files, to))
}

/// Writes the record under a temporary name, makes it durable, renames it into place.
pub(crate) fn write_record(path: &Path, record: &RunRecord) -> Result<()> {
    let text = serde_json::to_string_pretty(record)
        .map_err(|e| Error::config(format!("could not encode the run record: {e}")))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp"));
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(format!("could not write run record \"{}\"", path.display()), e)
    })
}
