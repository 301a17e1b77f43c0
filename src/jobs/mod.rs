//! Backup jobs: running one now ([`run_job`]), the run records kept beside the backups, and
//! the backups of a job with retention's decision on each ([`inventory`], [`prune`]).
//!
//! Layout of a destination directory, per run of job `J` started at `T` (UTC):
//! `J-YYYYMMDDTHHMMSSZ.EXT` (the archive: `.dump` custom, `.dir` directory, `.tar`, `.sql`)
//! and `J-YYYYMMDDTHHMMSSZ.json` (the run record, also written for a failed run, which
//! has no archive). The archive is dumped under a dot-name ending `.partial` and renamed
//! into place only when complete; the record is written after it, so a backup is listed
//! only once both exist. Pruning deletes the record first, then the archive.
//!
//! A job's further destinations ([`remote`]) receive each checked archive after it is in
//! place, are committed by its manifest, and rotate by their own retention; [`janitor`]
//! removes what interrupted runs and uploads left behind.
//!
//! Every run is also stored in the state database ([`StateDb`], `state.db` in the state
//! directory) through [`run_tracked`], which `pgsnap run`, `predeploy` and the scheduler
//! (`pgsnap daemon`, [`daemon`]) all use; [`status`] reads it back. Everything per run
//! (dump, verify, test restore, notifications) happens in [`run_job`], which
//! [`run_tracked`] calls.

mod check;
pub mod daemon;
mod gitrepo;
mod record;
pub mod remote;
mod restores;
mod run;
pub mod schedule;
mod schema;
mod state;
pub mod status;
mod tracked;

pub use record::{
    DestinationOutcome, DestinationState, FailedStep, FileSum, GitRecord, Outcome, PinRecord, RestoreEvidence,
    RunRecord, ScheduledRestore, SchemaRecord, Trigger, VerifyEvidence,
};
pub use restores::restore_latest;
pub use run::{RunOutcome, run_job};
pub use state::{JobLock, StateDb, StateOutcome, StateRestore, StateRun};
pub use tracked::run_tracked;

use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::config::Job;
use crate::error::{Error, Result};
use crate::retention::{self, Candidate, Pin, Rule};

/// One run found in a destination.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The record's file.
    pub record_path: PathBuf,
    pub record: RunRecord,
    /// The archive, when the run succeeded and the archive is there.
    pub archive_path: Option<PathBuf>,
    pub started: Timestamp,
}

impl Listed {
    /// A backup retention counts: a run whose archive exists and is good — dumped, and not
    /// failed by its verify, its test restore or a later scheduled test restore.
    pub fn is_backup(&self) -> bool {
        self.archive_path.is_some() && self.record.archive_good()
    }

    /// An archive that is there but failed a check: never a backup retention counts.
    pub fn failed_check(&self) -> Option<String> {
        self.archive_path.as_ref()?;
        self.record.failed_check()
    }
}

/// What becomes of an archive that failed a check (see [`failed_checks`]).
#[derive(Debug, Clone)]
pub struct FailedArchive {
    pub listed: Listed,
    /// Which check failed, and how.
    pub reason: String,
    /// A newer good backup of its series exists: pruning deletes it. Until then it is kept
    /// (marked), for inspection and as the only copy of its point in time.
    pub superseded: bool,
}

/// The archives in `listed` that failed a check, newest first.
///
/// They never count toward retention, so a broken archive never stands as the day's or the
/// week's backup in place of a good one. Each is kept while it is the newest of its series
/// (nothing better of that point in time exists, and it is the evidence of what failed);
/// once a newer good backup exists, pruning deletes it.
pub fn failed_checks(listed: &[Listed]) -> Vec<FailedArchive> {
    listed
        .iter()
        .filter_map(|l| {
            let reason = l.failed_check()?;
            let predeploy = l.record.trigger == Trigger::Predeploy;
            let superseded = listed.iter().any(|g| {
                g.is_backup() && g.started > l.started && (g.record.trigger == Trigger::Predeploy) == predeploy
            });
            Some(FailedArchive {
                listed: l.clone(),
                reason,
                superseded,
            })
        })
        .collect()
}

/// The runs of `job` in its destination, newest first, and the files that could not be
/// read as records (named, not fatal: one damaged record must not hide the others).
pub fn scan(job: &Job) -> Result<(Vec<Listed>, Vec<String>)> {
    let dir = &job.destination;
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((out, problems)),
        Err(e) => return Err(Error::io(format!("could not read directory \"{}\"", dir.display()), e)),
    };
    let prefix = format!("{}-", job.name);
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("could not read directory \"{}\"", dir.display()), e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with(&prefix) || !name.ends_with(".json") {
            continue;
        }
        let path = entry.path();
        let record = match std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<RunRecord>(&t).map_err(|e| e.to_string()))
        {
            Ok(r) if r.job == job.name => r,
            // Another job whose name shares the prefix (`nightly-eu` for `nightly`).
            Ok(_) => continue,
            Err(e) => {
                problems.push(format!("{}: not a run record: {e}", path.display()));
                continue;
            }
        };
        let started = match record.started.parse::<Timestamp>() {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{}: invalid start time: {e}", path.display()));
                continue;
            }
        };
        let archive_path = record
            .archive
            .as_ref()
            .map(|a| dir.join(a))
            .filter(|p| std::fs::symlink_metadata(p).is_ok());
        if record.outcome == Outcome::Succeeded && archive_path.is_none() {
            problems.push(format!(
                "{}: the archive it names ({}) is missing",
                path.display(),
                record.archive.as_deref().unwrap_or("none")
            ));
        }
        out.push(Listed {
            record_path: path,
            record,
            archive_path,
            started,
        });
    }
    out.sort_by(|a, b| {
        b.started
            .cmp(&a.started)
            .then_with(|| b.record_path.cmp(&a.record_path))
    });
    Ok((out, problems))
}

/// Retention's decision on one backup.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub listed: Listed,
    pub rules: Vec<Rule>,
}

impl Verdict {
    pub fn keep(&self) -> bool {
        !self.rules.is_empty()
    }
}

/// The job's backups (successful runs with their archive), newest first, each with the
/// rules that keep it at `now`.
///
/// Pre-deployment backups are their own series, kept by their pins only: they may hold a
/// few tables, so they must not stand for a day or a week of the job's regular backups.
pub fn inventory(job: &Job, listed: &[Listed], now: Timestamp) -> Vec<Verdict> {
    let series = |predeploy: bool, policy: &retention::Policy| -> Vec<Verdict> {
        let backups: Vec<&Listed> = listed
            .iter()
            .filter(|l| l.is_backup() && (l.record.trigger == Trigger::Predeploy) == predeploy)
            .collect();
        let candidates: Vec<Candidate> = backups
            .iter()
            .map(|l| Candidate {
                time: l.started,
                pin: l.record.pin.as_ref().map(|p| Pin {
                    // An unreadable expiry keeps the pin (the safe side).
                    until: p.until.as_deref().and_then(|u| u.parse().ok()),
                }),
            })
            .collect();
        retention::apply(&candidates, policy, now, &job.time_zone)
            .into_iter()
            .map(|d| Verdict {
                listed: backups[d.index].clone(),
                rules: d.rules,
            })
            .collect()
    };
    let mut all = series(false, &job.retention);
    all.extend(series(true, &retention::Policy::default()));
    all.sort_by_key(|v| std::cmp::Reverse(v.listed.started));
    all
}

/// `--until-next`: after a successful pre-deployment backup, the pins held "until the
/// next" by the job's earlier pre-deployment backups end now. Returns the archives
/// released.
pub fn release_pins(job: &Job, keep: &Path, now: Timestamp) -> Result<Vec<String>> {
    let (listed, _) = scan(job)?;
    let mut released = Vec::new();
    for l in listed {
        if l.record_path == keep || l.record.trigger != Trigger::Predeploy {
            continue;
        }
        let mut record = l.record.clone();
        let Some(pin) = record.pin.as_mut() else { continue };
        if pin.until.is_some() {
            continue;
        }
        pin.until = Some(now.to_string());
        let tag = pin.tag.clone();
        run::write_record(&l.record_path, &record)?;
        released.push(format!("{} (tag {tag})", record.archive.as_deref().unwrap_or("-")));
    }
    Ok(released)
}

/// One line per backup: `keep <archive> <started> <rules>` or `forget <archive> <started>
/// (no rule keeps it)`; with `dry_run`, `would forget`.
pub fn describe(v: &Verdict, dry_run: bool) -> String {
    let archive = v.listed.record.archive.as_deref().unwrap_or("-");
    if v.keep() {
        let rules: Vec<&str> = v.rules.iter().map(|r| r.name()).collect();
        format!("keep {archive} {} {}", v.listed.record.started, rules.join(","))
    } else {
        let verb = if dry_run { "would forget" } else { "forget" };
        format!("{verb} {archive} {} (no rule keeps it)", v.listed.record.started)
    }
}

/// Deletes the backups retention forgets (unless `dry_run`), reporting each decision to
/// `say` as it is made. Returns how many were (or would be) deleted.
pub fn prune(job: &Job, now: Timestamp, dry_run: bool, say: &mut dyn FnMut(&str)) -> Result<usize> {
    let (listed, problems) = scan(job)?;
    for p in &problems {
        say(&format!("warning: {p}"));
    }
    let mut deleted = 0;
    say(&format!(
        "job {}: policy {} (buckets in {})",
        job.name,
        job.retention.describe(),
        job.time_zone_name
    ));
    for v in inventory(job, &listed, now) {
        say(&describe(&v, dry_run));
        if v.keep() {
            continue;
        }
        deleted += 1;
        if !dry_run {
            delete(&v.listed)?;
        }
    }
    for f in failed_checks(&listed) {
        let archive = f.listed.record.archive.as_deref().unwrap_or("-");
        let started = &f.listed.record.started;
        if !f.superseded {
            say(&format!(
                "keep {archive} {started} failed-check (not a backup: {}; kept until a newer good backup exists)",
                f.reason
            ));
            continue;
        }
        let verb = if dry_run { "would forget" } else { "forget" };
        say(&format!(
            "{verb} {archive} {started} (failed check: {}; a newer good backup exists)",
            f.reason
        ));
        deleted += 1;
        if !dry_run {
            delete(&f.listed)?;
        }
    }
    if !job.destinations.is_empty() {
        // Each further destination by its own retention.
        let mut lines = Vec::new();
        let r = remote::block_on(remote::prune(job, now, dry_run, &mut |l: &str| {
            lines.push(l.to_string())
        }));
        for l in &lines {
            say(l);
        }
        deleted += r?;
    }
    Ok(deleted)
}

/// Deletes one run's files. The record goes first: a crash in between leaves an unlisted
/// archive, never a listed backup without its archive.
fn delete(l: &Listed) -> Result<()> {
    remove_path(&l.record_path)?;
    if let Some(a) = &l.archive_path {
        // A single-file archive's sidecar manifest goes after it (a directory's is inside).
        let sidecar = (!a.is_dir()).then(|| crate::manifest::manifest_path(a));
        remove_path(a)?;
        if let Some(m) = sidecar {
            remove_path(&m)?;
        }
    }
    if let (Some(s), Some(dir)) = (&l.record.schema, l.record_path.parent()) {
        remove_path(&dir.join(&s.file))?;
    }
    Ok(())
}

/// The janitor (not in a dry run): removes what interrupted runs and uploads of `job` left
/// behind once older than its `abandoned_after` — temporaries in the job's directory, and in
/// each further destination upload temporaries and objects of the job that belong to no
/// committed backup. Never while a run of the job holds its lock (it says so and does
/// nothing), never a committed backup. Says each removal; returns how many.
pub fn janitor(job: &Job, now: Timestamp, say: &mut dyn FnMut(&str)) -> Result<usize> {
    // No directory yet: no run of this job ever started here.
    let _lock = if job.destination.is_dir() {
        let Some(l) = run::try_lock(job)? else {
            say(&format!("janitor: job {} is running; nothing removed", job.name));
            return Ok(0);
        };
        Some(l)
    } else {
        None
    };
    let cutoff = std::time::SystemTime::now()
        .checked_sub(job.abandoned_after)
        .unwrap_or(std::time::UNIX_EPOCH);
    let mut removed = 0;
    if let Ok(entries) = std::fs::read_dir(&job.destination) {
        let partial = format!(".{}-", job.name);
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let ours = name.starts_with(&partial)
                && (name.ends_with(".partial")
                    || name.ends_with(&format!(".partial{}", crate::manifest::SIDECAR_SUFFIX))
                    || name.ends_with(".json.tmp"));
            let old = e.metadata().and_then(|m| m.modified()).is_ok_and(|t| t < cutoff);
            if ours && old && remote::run_stem(&job.name, &name[1..]).is_some() {
                remove_path(&e.path())?;
                say(&format!("janitor: removed abandoned {}", e.path().display()));
                removed += 1;
            }
        }
    }
    if !job.destinations.is_empty() {
        let mut lines = Vec::new();
        let r = remote::block_on(remote::janitor(job, now, &mut |l: &str| lines.push(l.to_string())));
        for l in &lines {
            say(l);
        }
        removed += r?;
    }
    Ok(removed)
}

/// Removes a file or a directory tree.
pub(crate) fn remove_path(p: &Path) -> Result<()> {
    let meta = match std::fs::symlink_metadata(p) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(format!("could not remove \"{}\"", p.display()), e)),
    };
    let r = if meta.is_dir() {
        std::fs::remove_dir_all(p)
    } else {
        std::fs::remove_file(p)
    };
    r.map_err(|e| Error::io(format!("could not remove \"{}\"", p.display()), e))
}

/// The file stem of a run started at `t`: `JOB-YYYYMMDDTHHMMSSZ`.
pub fn stem(job: &str, t: Timestamp) -> String {
    format!("{job}-{}", t.strftime("%Y%m%dT%H%M%SZ"))
}

/// How a job reaches a server it is configured with (`source`, a test restore's `server`):
/// `conninfo` resolved as libpq does, never prompting (`who` names the asker in the error),
/// with the password from the configured secret when there is one.
pub(crate) fn server_settings(
    conn: &crate::conn::ConnOptions,
    password: Option<&crate::config::Secret>,
    who: &str,
) -> Result<crate::conn::ConnSettings> {
    let mut settings = crate::conn::ConnSettings::resolve(conn, &crate::conn::ProcessEnv, &mut |_| {
        Err(Error::config(format!("{who} never prompts for a password")))
    })?;
    if let Some(secret) = password {
        settings.password = Some(secret.read()?);
    }
    Ok(settings)
}

/// [`server_settings`] of a configured conninfo string.
pub(crate) fn conninfo_settings(
    conninfo: &str,
    password: Option<&crate::config::Secret>,
    who: &str,
) -> Result<crate::conn::ConnSettings> {
    let opts = crate::conn::ConnOptions {
        dbname: Some(conninfo.to_string()),
        password_prompt: crate::conn::PasswordPrompt::Never,
        ..crate::conn::ConnOptions::default()
    };
    server_settings(&opts, password, who)
}

#[cfg(test)]
mod tests {
    use super::record::{FailedStep, RestoreEvidence, ScheduledRestore};
    use super::*;

    fn listed(started: &str, trigger: Trigger, outcome: Outcome, step: Option<FailedStep>) -> Listed {
        let record = RunRecord {
            error: (outcome == Outcome::Failed).then(|| "x".into()),
            archive: Some(format!("j-{started}.dump")),
            failed_step: step,
            ..RunRecord::for_test("j", started, trigger, outcome)
        };
        Listed {
            record_path: PathBuf::from(format!("/b/j-{started}.json")),
            archive_path: Some(PathBuf::from(format!("/b/j-{started}.dump"))),
            started: started.parse().unwrap(),
            record,
        }
    }

    fn restore(ok: bool) -> ScheduledRestore {
        ScheduledRestore {
            at: "2026-11-30T03:00:00Z".into(),
            evidence: RestoreEvidence {
                ok,
                database: "pgsnap_verify_j_x".into(),
                server_version: None,
                pg_restore: None,
                tables_compared: 1,
                rows: 5,
                mismatches: if ok {
                    Vec::new()
                } else {
                    vec!["public.t: restored 4 rows, the manifest says 5".into()]
                },
                error: None,
                dropped: true,
                seconds: 1.0,
            },
        }
    }

    #[test]
    fn archives_that_failed_a_check_are_not_backups() {
        let good = listed("2026-11-28T02:00:00Z", Trigger::Schedule, Outcome::Succeeded, None);
        assert!(good.is_backup() && good.failed_check().is_none());
        // Failed in git only: the archive is good.
        let git = listed(
            "2026-11-28T03:00:00Z",
            Trigger::Schedule,
            Outcome::Failed,
            Some(FailedStep::Git),
        );
        assert!(git.is_backup() && git.failed_check().is_none());
        // Failed because a further destination did not commit (policy "all"): the local
        // archive was dumped and checked, so it is good too.
        let dest = listed(
            "2026-11-28T03:30:00Z",
            Trigger::Schedule,
            Outcome::Failed,
            Some(FailedStep::Destinations),
        );
        assert!(dest.is_backup() && dest.failed_check().is_none());
        for step in [Some(FailedStep::Verify), Some(FailedStep::TestRestore), None] {
            let l = listed("2026-11-28T04:00:00Z", Trigger::Schedule, Outcome::Failed, step);
            assert!(!l.is_backup(), "{step:?}");
            assert!(l.failed_check().is_some(), "{step:?}");
        }
        // A good backup that later fails a scheduled test restore stops being one; a later
        // successful restore does not undo that.
        let mut later = good.clone();
        later.record.restores = vec![restore(true), restore(false), restore(true)];
        assert!(!later.is_backup());
        assert!(
            later
                .failed_check()
                .unwrap()
                .starts_with("scheduled test restore at 2026-11-30T03:00:00Z: FAILED"),
            "{:?}",
            later.failed_check()
        );
    }

    #[test]
    fn failed_archives_are_kept_until_a_newer_good_backup_of_their_series() {
        let mut broken = listed("2026-11-29T02:00:00Z", Trigger::Schedule, Outcome::Succeeded, None);
        broken.record.restores.push(restore(false));
        let older_good = listed("2026-11-28T02:00:00Z", Trigger::Schedule, Outcome::Succeeded, None);
        let newer_predeploy = listed("2026-11-30T01:00:00Z", Trigger::Predeploy, Outcome::Succeeded, None);
        let all = vec![newer_predeploy.clone(), broken.clone(), older_good.clone()];
        let f = failed_checks(&all);
        assert_eq!(f.len(), 1);
        assert!(
            !f[0].superseded,
            "a pre-deployment backup does not replace the regular series"
        );
        let newer_good = listed("2026-11-30T02:00:00Z", Trigger::Manual, Outcome::Succeeded, None);
        let f = failed_checks(&[newer_good, newer_predeploy, broken, older_good]);
        assert!(f[0].superseded);
    }
}
