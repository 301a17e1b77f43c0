//! Scheduled test restores (`verify.restore.schedule`): at each fire time the daemon
//! restores the job's latest good backup into a scratch database, by stock pg_restore,
//! compares every table's rows with the manifest's counts ([`super::check::test_restore`])
//! and keeps the evidence in the state database (`pgsnap status` shows the last one) and in
//! the backup's run record. A backup that fails it stops counting as a backup (see
//! [`super::failed_checks`]).
//!
//! A restore holds the job's run lock, so no run of the job goes on while it reads an
//! archive; it waits for a run that is going to end. Pruning after a run takes no lock, but
//! it always keeps the newest good backup, the one a restore reads. Fire times missed while
//! the daemon was not running are not caught up: the next one comes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::task::JoinHandle;

use super::record::{RestoreEvidence, ScheduledRestore, Trigger};
use super::state::{JobLock, StateDb};
use crate::config::{Config, Job};
use crate::error::{Error, ErrorKind, Result};

/// How long a restore waits for a running backup of the job to end.
const LOCK_WAIT: Duration = Duration::from_secs(3600);

/// Test-restores the latest good backup of `job` now and records the evidence. `Ok(None)`
/// when the job has no good backup (recorded as a failed restore: a job whose backups
/// cannot be tested is not a job whose backups are known to restore).
pub async fn restore_latest(
    job: &Job,
    state: &StateDb,
    scheduled_for: Option<Timestamp>,
) -> Result<Option<RestoreEvidence>> {
    let Some(cfg) = &job.verify.restore else {
        return Err(Error::config(format!("job \"{}\" has no verify.restore", job.name)));
    };
    let _lock = wait_for_run_lock(state, &job.name).await?;
    let (listed, _) = super::scan(job)?;
    // The newest good backup of the job's own series; a pre-deployment backup (perhaps a few
    // tables) only when there is nothing else.
    let latest = listed
        .iter()
        .find(|l| l.is_backup() && l.record.trigger != Trigger::Predeploy)
        .or_else(|| listed.iter().find(|l| l.is_backup()));
    let at = Timestamp::now();
    let Some(latest) = latest else {
        let why = "no good backup to test-restore";
        state.record_restore(&job.name, scheduled_for, at, None, None, None, Some(why))?;
        return Ok(None);
    };
    let Some(archive) = latest.archive_path.clone() else {
        return Err(Error::internal("a listed backup has no archive"));
    };
    let name = latest.record.archive.clone().unwrap_or_default();
    let evidence = super::check::test_restore(job, cfg, &archive, &name).await;
    // Beside the backup first: a failed restore marks the archive there, where retention
    // reads it.
    let mut record = latest.record.clone();
    record.restores.push(ScheduledRestore {
        at: at.to_string(),
        evidence: evidence.clone(),
    });
    let written = super::run::write_record(&latest.record_path, &record);
    state.record_restore(
        &job.name,
        scheduled_for,
        at,
        Some(&archive),
        Some(&latest.record.started),
        Some(&evidence),
        None,
    )?;
    written?;
    Ok(Some(evidence))
}

async fn wait_for_run_lock(state: &StateDb, job: &str) -> Result<JobLock> {
    let until = tokio::time::Instant::now() + LOCK_WAIT;
    loop {
        match state.lock_run(job) {
            Err(e) if e.kind() == ErrorKind::Lock && tokio::time::Instant::now() < until => {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            other => return other,
        }
    }
}

struct Slot {
    job: Arc<Job>,
    _lock: JobLock,
    next: Option<Timestamp>,
    running: Option<JoinHandle<()>>,
}

/// The daemon's part: which jobs' test restores it schedules, and when each is next due.
#[derive(Default)]
pub(crate) struct RestoreScheduler {
    slots: BTreeMap<String, Slot>,
}

impl RestoreScheduler {
    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Takes the configuration's restore schedules: new ones get their daemon lock, changed
    /// ones their new next fire time, gone ones are dropped (a restore going finishes).
    pub(crate) fn adopt(&mut self, config: &Config, state: &StateDb, now: Timestamp) {
        let wanted: Vec<Arc<Job>> = config
            .jobs
            .iter()
            .filter(|j| j.verify.restore.as_ref().is_some_and(|r| r.schedule.is_some()))
            .map(|j| Arc::new(j.clone()))
            .collect();
        self.slots.retain(|name, _| wanted.iter().any(|j| &j.name == name));
        for job in wanted {
            let Some(s) = job.verify.restore.as_ref().and_then(|r| r.schedule.clone()) else {
                continue;
            };
            let next = super::schedule::next_after(&job, &s, now);
            match self.slots.get_mut(&job.name) {
                Some(slot) => {
                    slot.job = job.clone();
                    slot.next = next;
                }
                None => match state.lock_restore_schedule(&job.name) {
                    Ok(lock) => {
                        self.slots.insert(
                            job.name.clone(),
                            Slot {
                                job: job.clone(),
                                _lock: lock,
                                next,
                                running: None,
                            },
                        );
                    }
                    Err(e) => {
                        tracing::error!(target: "pgsnap::daemon", "job \"{}\": test restores not scheduled: {e}", job.name);
                        continue;
                    }
                },
            }
            if let Some(n) = next {
                tracing::info!(
                    target: "pgsnap::daemon",
                    "job \"{}\": test restore schedule \"{}\" ({}), next at {}",
                    job.name,
                    s.cron,
                    job.time_zone_name,
                    n.to_zoned(job.time_zone.clone()).strftime("%Y-%m-%d %H:%M:%S %Z")
                );
            }
        }
    }

    /// Starts the test restores that are due; one still going skips its turn.
    pub(crate) fn fire_due(&mut self, now: Timestamp, state: &StateDb) {
        for (name, slot) in &mut self.slots {
            if slot.running.as_ref().is_some_and(JoinHandle::is_finished) {
                slot.running = None;
            }
            let Some(fire) = slot.next.filter(|n| *n <= now) else {
                continue;
            };
            let job = slot.job.clone();
            let schedule = job.verify.restore.as_ref().and_then(|r| r.schedule.clone());
            slot.next = schedule.and_then(|s| super::schedule::next_after(&job, &s, now));
            if slot.running.is_some() {
                tracing::info!(target: "pgsnap::daemon", "job \"{name}\": test restore due at {fire} skipped: the previous one is still going");
                continue;
            }
            tracing::info!(target: "pgsnap::daemon", "job \"{name}\": starting the test restore due at {fire}");
            let state = state.clone();
            slot.running = Some(tokio::spawn(async move {
                match restore_latest(&job, &state, Some(fire)).await {
                    Ok(Some(e)) if e.ok => {
                        tracing::info!(target: "pgsnap::daemon", "job \"{}\": test restore {}", job.name, e.summary())
                    }
                    Ok(Some(e)) => tracing::error!(
                        target: "pgsnap::daemon",
                        "job \"{}\": test restore {}; the backup no longer counts as a good backup",
                        job.name,
                        e.summary()
                    ),
                    Ok(None) => {
                        tracing::error!(target: "pgsnap::daemon", "job \"{}\": no good backup to test-restore", job.name)
                    }
                    Err(e) => {
                        tracing::error!(target: "pgsnap::daemon", "job \"{}\": test restore failed: {e}", job.name)
                    }
                }
            }));
        }
    }

    /// The next fire time of any test restore.
    pub(crate) fn wake_at(&self) -> Option<Timestamp> {
        self.slots.values().filter_map(|s| s.next).min()
    }

    /// The daemon stops: test restores going are abandoned (their scratch database is
    /// dropped by the job's next test restore).
    pub(crate) async fn stop(&mut self) {
        for (name, slot) in &mut self.slots {
            if let Some(h) = slot.running.take()
                && !h.is_finished()
            {
                tracing::warn!(target: "pgsnap::daemon", "job \"{name}\": abandoning its test restore");
                h.abort();
                let _ = h.await;
            }
        }
    }
}
