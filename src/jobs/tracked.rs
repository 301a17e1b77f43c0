//! A run with its place in the state: the job's run lock in the state directory, then
//! [`run_job`] (the one function that runs a job, for `pgsnap run`, `predeploy` and the
//! daemon alike), then its record stored in the state database.

use jiff::Timestamp;

use super::record::{PinRecord, Trigger};
use super::run::{RunOutcome, run_job};
use super::state::{StateDb, StateOutcome};
use crate::config::Job;
use crate::error::{ErrorKind, Result};

/// Runs `job` now under its run lock and stores the run in `state`. `scheduled_for`: the
/// fire time a scheduled run belongs to.
///
/// `Err` with `ErrorKind::Lock` when the job is already running (a manual run and a
/// scheduled one, two manual ones); nothing is stored then, the caller decides (the daemon
/// stores a skipped run). A run that could not start otherwise (an unusable destination) is
/// stored as failed and returned as `Err`. A state database that cannot be written does not
/// fail the run: its record is beside the backup; a warning says so.
pub async fn run_tracked(
    job: &Job,
    trigger: Trigger,
    pin: Option<PinRecord>,
    state: &StateDb,
    scheduled_for: Option<Timestamp>,
) -> Result<RunOutcome> {
    let _lock = state.lock_run(&job.name)?;
    let started = Timestamp::now();
    match run_job(job, trigger, pin).await {
        Ok(outcome) => {
            if let Err(e) = state.record_run(&outcome.record, &outcome.record_path, scheduled_for) {
                tracing::warn!(
                    "job \"{}\": the run is recorded in {} but not in the state: {e}",
                    job.name,
                    outcome.record_path.display()
                );
            }
            Ok(outcome)
        }
        Err(e) if e.kind() == ErrorKind::Lock => Err(e),
        Err(e) => {
            let reason = e.to_string();
            if let Err(se) = state.record_event(
                &job.name,
                trigger,
                StateOutcome::Failed,
                started,
                scheduled_for,
                &reason,
            ) {
                tracing::warn!(
                    "job \"{}\": could not record the failed run in the state: {se}",
                    job.name
                );
            }
            Err(e)
        }
    }
}
