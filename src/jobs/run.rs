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

use super::record::{FileSum, Outcome, PinRecord, RunRecord, Trigger};
use super::{remove_path, stem};
use crate::cli::{DumpCommand, FilterReadError};
use crate::config::{DestinationPolicy, Job};
use crate::conn::{ConnSettings, ProcessEnv};
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

    let result = dump_to(job, &partial).await;
    let mut record = RunRecord {
        record_version: 1,
        job: job.name.clone(),
        trigger,
        started: started.to_string(),
        finished: String::new(),
        outcome: Outcome::Failed,
        error: None,
        archive: None,
        format: job.format.name().to_string(),
        content: job.content.name().to_string(),
        compression: job.compression.clone().unwrap_or_else(|| "default".to_string()),
        archive_version: None,
        readers: None,
        tables: None,
        rows: None,
        bytes_in: None,
        size: None,
        files: Vec::new(),
        pin,
        encrypted_to: Vec::new(),
        verification: None,
        test_restore: None,
        destinations: Vec::new(),
        notifications: Vec::new(),
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
            if let Err(e) = check(job, &final_path, &archive_name, &mut record).await {
                record.outcome = Outcome::Failed;
                record.error = Some(e.to_string());
                error = Some(e);
            } else if !job.destinations.is_empty() {
                // Only a checked archive goes out; each destination commits it or not.
                record.destinations = super::remote::publish(job, &final_path, &archive_name).await;
                if let Some(why) = super::remote::failures(&record)
                    && job.destination_policy == DestinationPolicy::All
                {
                    record.outcome = Outcome::Failed;
                    record.error = Some(format!("{why} (destination_policy = \"all\")"));
                    error = Some(Error::new(ErrorKind::Storage, why));
                }
            }
            archive_path = Some(final_path);
        }
        Err(e) => {
            // Nothing that looks like a backup stays behind.
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
            return Err(Error::archive(format!("the new archive does not verify: {summary}")));
        }
    }
    if let Some(cfg) = &job.verify.restore {
        let t = super::check::test_restore(job, cfg, archive, name).await;
        let ok = t.ok;
        let summary = t.summary();
        record.test_restore = Some(t);
        if !ok {
            return Err(Error::archive(format!("the test restore failed: {summary}")));
        }
    }
    Ok(())
}

/// The job's dump: its arguments through `pgsnap dump`'s parser into a request, the
/// connection resolved as libpq does (never prompting), the password from its secret.
async fn dump_to(job: &Job, output: &Path) -> Result<crate::dump::Report> {
    let args = job.dump_args(output);
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
    let mut settings = ConnSettings::resolve(&req.conn, &ProcessEnv, &mut |_| {
        Err(Error::config("a job never prompts for a password"))
    })?;
    if let Some(secret) = &job.source.password {
        settings.password = Some(secret.read()?);
    }
    let target = crate::pg::Target::from_settings(&settings)?;
    let mut opts = req.options(target);
    if let Some(env) = envelope {
        opts.layers.push(std::sync::Arc::new(crate::crypt::AgeLayer::new(env)));
    }
    crate::dump::dump(opts).await
}

/// Every file of the archive (one, or a directory's), with its size and SHA-256: taken from
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
        sha256: f.sha256,
    };
    let mut files: Vec<FileSum> = if archive.is_dir() {
        let mut v: Vec<FileSum> = manifest
            .files
            .into_iter()
            .map(|f| entry(rel(&archive.join(&f.name)), f))
            .collect();
        let own = crate::manifest::sum_file(&manifest_path, crate::manifest::MANIFEST_FILE)
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
