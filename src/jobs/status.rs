//! `pgsnap status`: each job's last run, next run, last good backup and whether it is
//! overdue, from the configuration and the state database.

use jiff::Timestamp;
use serde::Serialize;

use super::schedule;
use super::state::{StateDb, StateRestore, StateRun};
use crate::config::Job;
use crate::error::Result;

/// One job's status.
#[derive(Debug, Clone, Serialize)]
pub struct JobStatus {
    pub job: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    pub timezone: String,
    /// The next fire time after now (RFC 3339, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_run: Option<String>,
    /// The newest run, skipped ones included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_run: Option<StateRun>,
    /// The newest successful run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_good: Option<StateRun>,
    /// Whether the last good backup's archive is still there (pruned or deleted otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_good_present: Option<bool>,
    /// When the job is (or was) due to be late: no success within two schedule intervals
    /// or `notify.overdue_after`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overdue_at: Option<String>,
    pub overdue: bool,
    /// The process id of the daemon scheduling the job, when one runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daemon_pid: Option<u32>,
    /// `verify.restore.schedule`: the newest scheduled test restore and the next fire time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_test_restore: Option<StateRestore>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_test_restore: Option<String>,
}

/// The status of `job` at `now`.
pub fn job_status(job: &Job, state: &StateDb, now: Timestamp) -> Result<JobStatus> {
    let last_run = state.last_run(&job.name)?;
    let last_good = state.last_success(&job.name)?;
    let first = state.first_run(&job.name)?;
    let overdue_at = schedule::overdue_at(
        job,
        last_good.as_ref().and_then(StateRun::started_at),
        first.as_ref().and_then(StateRun::started_at),
    );
    let next_run = job
        .schedule
        .as_ref()
        .and_then(|s| schedule::next_after(job, s, now))
        .map(|t| t.to_string());
    let last_good_present = last_good
        .as_ref()
        .map(|g| g.archive.as_ref().is_some_and(|a| std::fs::symlink_metadata(a).is_ok()));
    Ok(JobStatus {
        job: job.name.clone(),
        schedule: job.schedule.as_ref().map(|s| s.cron.clone()),
        timezone: job.time_zone_name.clone(),
        next_run,
        last_run,
        last_good,
        last_good_present,
        overdue: overdue_at.is_some_and(|t| t <= now),
        overdue_at: overdue_at.map(|t| t.to_string()),
        daemon_pid: state.daemon_of(&job.name),
        last_test_restore: state.restores(&job.name, 1)?.pop(),
        next_test_restore: job
            .verify
            .restore
            .as_ref()
            .and_then(|r| r.schedule.as_ref())
            .and_then(|s| schedule::next_after(job, s, now))
            .map(|t| t.to_string()),
    })
}

/// The human form: a block per job.
pub fn render(statuses: &[JobStatus]) -> String {
    let mut out = String::new();
    for s in statuses {
        let sched = match &s.schedule {
            Some(c) => format!("schedule \"{c}\" ({})", s.timezone),
            None => "no schedule".to_string(),
        };
        let daemon = match s.daemon_pid {
            Some(p) => format!(", scheduled by daemon {p}"),
            None => String::new(),
        };
        out.push_str(&format!("job {}: {sched}{daemon}\n", s.job));
        let run = |r: &StateRun| {
            let mut t = format!("{} {} ({})", r.started, r.outcome.name(), r.trigger);
            if let Some(e) = &r.error {
                t.push_str(&format!(": {e}"));
            }
            t
        };
        out.push_str(&format!(
            "  last run:  {}\n",
            s.last_run.as_ref().map_or("never".to_string(), run)
        ));
        let good = match (&s.last_good, s.last_good_present) {
            (Some(g), present) => {
                let mut t = format!("{} {}", g.started, g.archive.as_deref().unwrap_or("-"));
                if present == Some(false) {
                    t.push_str(" (archive no longer present)");
                }
                t
            }
            (None, _) => "none".to_string(),
        };
        out.push_str(&format!("  last good: {good}\n"));
        out.push_str(&format!(
            "  next run:  {}\n",
            s.next_run.as_deref().unwrap_or("not scheduled")
        ));
        if let Some(r) = &s.last_test_restore {
            let what = if r.ok {
                format!(
                    "ok ({} table(s), {} rows as in the manifest)",
                    r.tables.unwrap_or(0),
                    r.rows.unwrap_or(0)
                )
            } else {
                format!("FAILED: {}", r.error.as_deref().unwrap_or("unknown error"))
            };
            out.push_str(&format!(
                "  last test restore: {} {what} of {}\n",
                r.at,
                r.archive.as_deref().unwrap_or("-")
            ));
        }
        if let Some(n) = &s.next_test_restore {
            out.push_str(&format!("  next test restore: {n}\n"));
        }
        if s.overdue {
            out.push_str(&format!("  OVERDUE since {}\n", s.overdue_at.as_deref().unwrap_or("?")));
        }
    }
    out
}
