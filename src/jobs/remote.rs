//! A job's further destinations (`[[jobs.NAME.destinations]]`): each backup, once complete
//! and checked in the job's own directory, is uploaded to every destination at once and
//! committed there; retention, listing and the janitor work on each destination through the
//! [`Storage`] contract.
//!
//! Layout in a destination, per backup (the names of the job's directory):
//! `J-YYYYMMDDTHHMMSSZ.EXT` (a single-file archive) or `J-….dir/…` (a directory archive's
//! files), then its manifest — `J-….EXT.manifest` or `J-….dir/pgsnap.manifest` — written
//! last, as the commit marker: only then is it a backup ([`Storage::backups`]). The run
//! record `J-….json` follows. A destination that fails on the way (after the storage layer's
//! retries) gets no manifest, and what was uploaded is removed again (the janitor removes
//! what a crash leaves).
//!
//! Pruning deletes the manifest first, so a backup stops being listed before any of its
//! bytes go.

use std::path::{Path, PathBuf};
use std::time::Instant;

use bytes::Bytes;
use jiff::Timestamp;
use tokio::io::AsyncReadExt;

use super::record::{DestinationOutcome, DestinationState, Outcome, RunRecord, Trigger};
use crate::config::{Destination, Job};
use crate::error::{Error, Result};
use crate::manifest::{MANIFEST_FILE, SIDECAR_SUFFIX};
use crate::retention::{self, Candidate, Pin, Rule};
use crate::storage::Storage;

/// Bytes read from the local archive per write.
const CHUNK: usize = 1024 * 1024;
/// Archive suffixes of the formats (see [`Job::extension`]).
const EXTENSIONS: [&str; 4] = ["dump", "dir", "tar", "sql"];

/// Uploads the archive `archive` (a file or a directory in the job's directory, named
/// `name`) to every destination of `job` at once; the outcome per destination, in the
/// configuration's order.
pub(crate) async fn publish(job: &Job, archive: &Path, name: &str) -> Vec<DestinationOutcome> {
    let files = match archive_files(archive, name) {
        Ok(f) => f,
        Err(e) => {
            return job
                .destinations
                .iter()
                .map(|d| failed(d, &e, 0, Instant::now()))
                .collect();
        }
    };
    let destinations = job.destinations.clone();
    let name_owned = name.to_string();
    let t0 = Instant::now();
    let uploads = async move {
        let uploads = destinations.iter().map(|d| publish_one(d, &files, &name_owned));
        futures_util::future::join_all(uploads).await
    };
    match on_own_runtime(uploads).await {
        Ok(outcomes) => outcomes,
        Err(e) => job.destinations.iter().map(|d| failed(d, &e, 0, t0)).collect(),
    }
}

/// Runs `fut`, which opens destinations, with [`block_on`] (a runtime of its own that lets
/// their connections close before it ends) from async code, without blocking the caller's
/// runtime. On the caller's runtime the closes could be cut short: a `pgsnap run` shuts it
/// down as soon as the job returns, and an SFTP destination's ssh master was left running.
async fn on_own_runtime<T: Send + 'static>(fut: impl std::future::Future<Output = T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(move || block_on(fut))
        .await
        .unwrap_or_else(|_| Err(Error::internal("a storage thread panicked")))
}

/// (object name, local path) of every file of the archive, the commit marker last.
fn archive_files(archive: &Path, name: &str) -> Result<Vec<(String, PathBuf)>> {
    if archive.is_dir() {
        let mut files = Vec::new();
        let mut marker = None;
        let entries = std::fs::read_dir(archive)
            .map_err(|e| Error::io(format!("could not read \"{}\"", archive.display()), e))?;
        for e in entries {
            let e = e.map_err(|e| Error::io(format!("could not read \"{}\"", archive.display()), e))?;
            let file = e.file_name().to_string_lossy().into_owned();
            let object = format!("{name}/{file}");
            if file == MANIFEST_FILE {
                marker = Some((object, e.path()));
            } else {
                files.push((object, e.path()));
            }
        }
        // The table of contents first (a cut-off upload leaves the most telling piece),
        // then the data files; the manifest last.
        files.sort_by_key(|(o, _)| (!o.ends_with("/toc.dat"), o.clone()));
        let marker =
            marker.ok_or_else(|| Error::archive(format!("\"{}\" has no {MANIFEST_FILE}", archive.display())))?;
        files.push(marker);
        Ok(files)
    } else {
        Ok(vec![
            (name.to_string(), archive.to_path_buf()),
            (
                format!("{name}{SIDECAR_SUFFIX}"),
                crate::manifest::manifest_path(archive),
            ),
        ])
    }
}

fn failed(d: &Destination, e: &Error, bytes: u64, t0: Instant) -> DestinationOutcome {
    DestinationOutcome {
        url: d.location.to_string(),
        outcome: DestinationState::Failed,
        error: Some(e.to_string()),
        bytes,
        seconds: t0.elapsed().as_secs_f64(),
    }
}

async fn publish_one(d: &Destination, files: &[(String, PathBuf)], name: &str) -> DestinationOutcome {
    let t0 = Instant::now();
    let storage = match Storage::open(&d.location) {
        Ok(s) => s,
        Err(e) => return failed(d, &e, 0, t0),
    };
    let mut bytes = 0;
    let mut done: Vec<&str> = Vec::new();
    let result: Result<()> = async {
        // A commit marker of an earlier backup of this name must not vouch for new bytes.
        if let Some((marker, _)) = files.last() {
            storage.delete(marker).await?;
        }
        for (object, path) in files {
            bytes += upload_file(&storage, object, path).await?;
            done.push(object);
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => DestinationOutcome {
            url: d.location.to_string(),
            outcome: DestinationState::Committed,
            error: None,
            bytes,
            seconds: t0.elapsed().as_secs_f64(),
        },
        Err(e) => {
            tracing::warn!("destination \"{}\": the backup {name} failed: {e}", d.location);
            // No manifest was written: nothing here is a backup. Take back what was uploaded
            // (what cannot be removed now is the janitor's).
            for object in done {
                if let Err(e) = storage.delete(object).await {
                    tracing::warn!("{e}");
                }
            }
            failed(d, &e, bytes, t0)
        }
    }
}

/// Streams the local file `path` to `object`; its size.
async fn upload_file(storage: &Storage, object: &str, path: &Path) -> Result<u64> {
    let shown = path.display();
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::io(format!("could not open \"{shown}\""), e))?;
    let mut up = storage.put(object).await?;
    loop {
        let mut buf = Vec::with_capacity(CHUNK);
        let n = match (&mut file).take(CHUNK as u64).read_to_end(&mut buf).await {
            Ok(n) => n,
            Err(e) => {
                let _ = up.abort().await;
                return Err(Error::io(format!("could not read \"{shown}\""), e));
            }
        };
        if n == 0 {
            break;
        }
        if let Err(e) = up.write(Bytes::from(buf)).await {
            let _ = up.abort().await;
            return Err(e);
        }
    }
    up.finish().await
}

/// Uploads the run record `record_name` beside the backup in every destination that
/// committed it. A record that cannot be uploaded is a warning: the backup is committed by
/// its manifest, the record is kept in the job's directory and the state.
pub(crate) async fn publish_record(job: &Job, record: &RunRecord, record_name: &str) {
    let Ok(text) = serde_json::to_vec_pretty(record) else {
        return;
    };
    let committed: Vec<Destination> = job
        .destinations
        .iter()
        .zip(&record.destinations)
        .filter(|(_, o)| o.outcome == DestinationState::Committed)
        .map(|(d, _)| d.clone())
        .collect();
    let record_name = record_name.to_string();
    let put = async move {
        for d in committed {
            let r = match Storage::open(&d.location) {
                Ok(s) => s.put_bytes(&record_name, text.clone()).await,
                Err(e) => Err(e),
            };
            if let Err(e) = r {
                tracing::warn!("destination \"{}\": could not store the run record: {e}", d.location);
            }
        }
    };
    if let Err(e) = on_own_runtime(put).await {
        tracing::warn!("could not store the run record on the destinations: {e}");
    }
}

/// The failed destinations in one sentence, or `None` when every one committed.
pub fn failures(record: &RunRecord) -> Option<String> {
    let failed: Vec<String> = record
        .destinations
        .iter()
        .filter(|o| o.outcome == DestinationState::Failed)
        .map(|o| format!("{} ({})", o.url, o.error.as_deref().unwrap_or("failed")))
        .collect();
    (!failed.is_empty()).then(|| {
        format!(
            "the backup failed on {} of {} destination(s): {}",
            failed.len(),
            record.destinations.len(),
            failed.join("; ")
        )
    })
}

/// `J-YYYYMMDDTHHMMSSZ[-N]`, the stem of a run of `job`, when `object` begins with one
/// followed by `.` (an archive, a manifest, a record, a directory archive's files).
pub(crate) fn run_stem<'a>(job: &str, object: &'a str) -> Option<&'a str> {
    let rest = object.strip_prefix(job)?.strip_prefix('-')?;
    let stamp = rest.get(..16)?.as_bytes();
    let ok = stamp.iter().enumerate().all(|(i, c)| match i {
        8 => *c == b'T',
        15 => *c == b'Z',
        _ => c.is_ascii_digit(),
    });
    if !ok {
        return None;
    }
    let mut end = job.len() + 1 + 16;
    let tail = &object[end..];
    if let Some(n) = tail.strip_prefix('-') {
        let digits = n.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        end += 1 + digits;
    }
    object[end..].starts_with('.').then(|| &object[..end])
}

/// The start time a stem carries (to the second, UTC).
fn stem_time(job: &str, stem: &str) -> Option<Timestamp> {
    let stamp = stem.get(job.len() + 1..job.len() + 17)?;
    jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", stamp)
        .ok()?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// One committed backup of a job in a destination.
#[derive(Debug, Clone)]
pub struct RemoteBackup {
    /// The archive's name there (`J-….dump`, `J-….dir`).
    pub name: String,
    pub stem: String,
    pub size: u64,
    pub started: Timestamp,
    pub trigger: Trigger,
    pub pin: Option<super::record::PinRecord>,
    /// Rules that keep it (empty: retention forgets it).
    pub rules: Vec<Rule>,
}

/// The committed backups of `job` in `d`, newest first, each with retention's decision at
/// `now` under the destination's policy. Warnings (unreadable records) go to `say`.
pub async fn inventory(
    job: &Job,
    d: &Destination,
    storage: &Storage,
    now: Timestamp,
    say: &mut (dyn FnMut(&str) + Send),
) -> Result<Vec<RemoteBackup>> {
    let mut found = Vec::new();
    for b in storage.backups().await? {
        let Some(stem) = run_stem(&job.name, &b.name) else {
            continue;
        };
        if !EXTENSIONS
            .iter()
            .any(|e| b.name.len() == stem.len() + 1 + e.len() && b.name.ends_with(e))
        {
            continue;
        }
        let Some(time) = stem_time(&job.name, stem) else {
            continue;
        };
        // The job's directory holds the authoritative record (pins are released there); the
        // destination's copy stands in when the local one was pruned.
        let local = job.destination.join(format!("{stem}.json"));
        let record: Option<RunRecord> = match std::fs::read_to_string(&local) {
            Ok(t) => serde_json::from_str(&t).ok(),
            Err(_) => match storage.get_bytes(&format!("{stem}.json")).await {
                Ok(bytes) => match serde_json::from_slice(&bytes) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        say(&format!("warning: {}: {stem}.json: not a run record: {e}", d.location));
                        None
                    }
                },
                Err(_) => None,
            },
        };
        let (trigger, pin, started) = match &record {
            Some(r) if r.outcome == Outcome::Succeeded || !r.destinations.is_empty() => {
                (r.trigger, r.pin.clone(), r.started.parse::<Timestamp>().unwrap_or(time))
            }
            _ => (Trigger::Manual, None, time),
        };
        found.push(RemoteBackup {
            name: b.name.clone(),
            stem: stem.to_string(),
            size: b.size,
            started,
            trigger,
            pin,
            rules: Vec::new(),
        });
    }
    // Pre-deployment backups are their own series, kept by their pins (as in the job's
    // directory, see `jobs::inventory`).
    let mut out = Vec::new();
    for (predeploy, policy) in [(false, &d.retention), (true, &retention::Policy::default())] {
        let series: Vec<RemoteBackup> = found
            .iter()
            .filter(|b| (b.trigger == Trigger::Predeploy) == predeploy)
            .cloned()
            .collect();
        let candidates: Vec<Candidate> = series
            .iter()
            .map(|b| Candidate {
                time: b.started,
                pin: b.pin.as_ref().map(|p| Pin {
                    until: p.until.as_deref().and_then(|u| u.parse().ok()),
                }),
            })
            .collect();
        for decision in retention::apply(&candidates, policy, now, &job.time_zone) {
            let mut b = series[decision.index].clone();
            b.rules = decision.rules;
            out.push(b);
        }
    }
    out.sort_by(|a, b| b.started.cmp(&a.started).then_with(|| b.name.cmp(&a.name)));
    Ok(out)
}

/// Applies each destination's retention (unless `dry_run`), saying every decision; the
/// number of backups deleted (or that would be). A destination that cannot be reached or
/// pruned is a warning naming it.
pub(crate) async fn prune(job: &Job, now: Timestamp, dry_run: bool, say: &mut (dyn FnMut(&str) + Send)) -> usize {
    let mut deleted = 0;
    for d in &job.destinations {
        let r = async {
            let storage = Storage::open(&d.location)?;
            say(&format!(
                "job {} at {}: policy {} (buckets in {})",
                job.name,
                d.location,
                d.retention.describe(),
                job.time_zone_name
            ));
            let mut n = 0;
            for b in inventory(job, d, &storage, now, say).await? {
                say(&describe(&b, dry_run));
                if !b.rules.is_empty() {
                    continue;
                }
                n += 1;
                if !dry_run {
                    delete(&storage, &b).await?;
                }
            }
            Ok::<usize, Error>(n)
        }
        .await;
        match r {
            Ok(n) => deleted += n,
            // Its backups stay (the safe side) until a later prune reaches it; a destination
            // that is down must not fail the run that the policy let succeed.
            Err(e) => say(&format!("warning: {}: not pruned: {e}", d.location)),
        }
    }
    deleted
}

/// `keep <archive> <started> <rules>` / `forget …`, as for the job's directory.
pub fn describe(b: &RemoteBackup, dry_run: bool) -> String {
    if b.rules.is_empty() {
        let verb = if dry_run { "would forget" } else { "forget" };
        format!("{verb} {} {} (no rule keeps it)", b.name, b.started)
    } else {
        let rules: Vec<&str> = b.rules.iter().map(|r| r.name()).collect();
        format!("keep {} {} {}", b.name, b.started, rules.join(","))
    }
}

/// Deletes one backup: its commit marker first (it is no longer listed), then its files,
/// then its record.
async fn delete(storage: &Storage, b: &RemoteBackup) -> Result<()> {
    let dir_marker = format!("{}/{MANIFEST_FILE}", b.name);
    let sidecar = format!("{}{SIDECAR_SUFFIX}", b.name);
    // A directory archive is `J-….dir` (asking the store would fail on a file of that name
    // in a `file://` destination: not a directory).
    if b.name.ends_with(".dir") {
        storage.delete(&dir_marker).await?;
        for o in storage.list(&format!("{}/", b.name)).await? {
            storage.delete(&o.name).await?;
        }
    } else {
        storage.delete(&sidecar).await?;
        storage.delete(&b.name).await?;
    }
    storage.delete(&format!("{}.json", b.stem)).await
}

/// The janitor of every destination of `job` (see [`Storage::janitor`]): uploads and
/// uncommitted objects of the job older than its `abandoned_after`. Says each removal as
/// `janitor: removed abandoned URL: object`; a destination that cannot be reached is a
/// warning. Returns how many were removed.
pub(crate) async fn janitor(job: &Job, now: Timestamp, say: &mut (dyn FnMut(&str) + Send)) -> usize {
    let mut removed = 0;
    let name = job.name.clone();
    let owner = move |object: &str| run_stem(&name, object).map(str::to_string);
    for d in &job.destinations {
        let r = match Storage::open(&d.location) {
            Ok(s) => s.janitor(&owner, job.abandoned_after, now).await,
            Err(e) => Err(e),
        };
        match r {
            Ok(list) => {
                for o in list {
                    say(&format!("janitor: removed abandoned {}: {o}", d.location));
                    removed += 1;
                }
            }
            Err(e) => say(&format!("warning: janitor: {}: {e}", d.location)),
        }
    }
    removed
}

/// Runs `fut` to completion from synchronous code, inside a runtime or not: on a thread of
/// its own with a runtime of its own.
///
/// The runtime is not dropped as soon as `fut` is done: a [`Storage`] opened and dropped
/// inside it closes its pooled connections in tasks of their own, and for an SFTP
/// destination that close is what sends the ssh master its `ssh -O exit`. Cut short by the
/// runtime's end, it left the master running (a scheduled job's pruning did, now and then).
/// So the tasks left are given up to `storage::CLOSE_WAIT` to finish, then the runtime is
/// shut down as `storage::shut_down` does.
pub fn block_on<F>(fut: F) -> Result<F::Output>
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| {
                    let out = rt.block_on(fut);
                    rt.block_on(crate::storage::settle());
                    crate::storage::shut_down(rt);
                    out
                })
                .map_err(|e| Error::io("could not start a runtime", e))
        })
        .join()
        .unwrap_or_else(|_| Err(Error::internal("a storage thread panicked")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_belong_to_their_job_only() {
        assert_eq!(run_stem("db", "db-20261130T020000Z.dump"), Some("db-20261130T020000Z"));
        assert_eq!(
            run_stem("db", "db-20261130T020000Z-2.dir/toc.dat"),
            Some("db-20261130T020000Z-2")
        );
        assert_eq!(
            run_stem("db", "db-20261130T020000Z.dump.manifest"),
            Some("db-20261130T020000Z")
        );
        assert_eq!(run_stem("db", "db-eu-20261130T020000Z.dump"), None);
        assert_eq!(run_stem("db", "db-20261130T020000Z"), None);
        assert_eq!(run_stem("db", "db-20261130T020000Z-.dump"), None);
        assert_eq!(run_stem("db", "db-2026113XT020000Z.dump"), None);
        assert_eq!(run_stem("db", "notes.txt"), None);
        assert_eq!(
            stem_time("db", "db-20261130T020304Z-1"),
            Some("2026-11-30T02:03:04Z".parse().unwrap())
        );
    }
}
