//! `pgsnap daemon`: runs the scheduled jobs at their fire times, through the same
//! [`run_tracked`] (and so [`super::run_job`]) as `pgsnap run`, then applies the job's
//! retention after a success.
//!
//! - One run of a job at a time: a fire time that comes while the job's previous run still
//!   goes (or a manual run holds the job's run lock) is skipped and stored as skipped.
//! - After downtime, per job (`missed`): one catch-up run when a fire time passed since the
//!   last one the state accounts for (`run-once`), or a skipped row saying so (`skip`).
//! - `jitter`: each scheduled start is delayed by a random amount up to it.
//! - Stop: scheduling ends; running dumps may finish within the grace period; then their
//!   queries are cancelled, so each fails through its own error path (partial output removed,
//!   the failure recorded) within [`UNWIND_LIMIT`]; what is still going after that is
//!   dropped (the engine removes its partial output when dropped). A second stop request
//!   skips the rest of the grace period.
//! - Reload: the configuration is read again; a bad one is logged and the old one kept.
//! - Two daemons never schedule one job: each holds `daemon-JOB.lock` in the state
//!   directory for as long as it schedules the job.
//! - Overdue: when a job has had no successful run for two schedule intervals (or its
//!   `overdue_after`) and no run of it is going, [`raise_overdue`] is called once, until the
//!   job succeeds again.
//!
//! The signals are the caller's: it sends [`Control`] messages.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::record::Trigger;
use super::run::RunOutcome;
use super::schedule;
use super::state::{JobLock, StateDb, StateOutcome};
use super::tracked::run_tracked;
use crate::config::{Config, Job, Missed};
use crate::error::{Error, ErrorKind, Result};
use crate::notify::{self, DeliveryOutcome, Event};

/// How long cancelled runs may take to fail through their own path before being dropped.
pub const UNWIND_LIMIT: Duration = Duration::from_secs(5);

/// What the daemon is told from outside (by the signal handlers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// SIGTERM / SIGINT, with the signal's name.
    Stop(&'static str),
    /// SIGHUP.
    Reload,
}

/// Reads the configuration again for a reload: the configuration, or the error lines to log.
pub type Loader = Box<dyn Fn() -> std::result::Result<Config, Vec<String>> + Send>;

macro_rules! say {
    ($($arg:tt)*) => { tracing::info!(target: "pgsnap::daemon", $($arg)*) };
}
macro_rules! warn {
    ($($arg:tt)*) => { tracing::warn!(target: "pgsnap::daemon", $($arg)*) };
}
macro_rules! fail {
    ($($arg:tt)*) => { tracing::error!(target: "pgsnap::daemon", $($arg)*) };
}

/// A job's overdue event. The daemon calls this once when `job` passes `deadline` without a
/// successful run (since `last_good`, or never), and again only after a success: it is
/// logged, and sent to the job's `notify.overdue` notifiers in the background (a notification
/// never holds up scheduling; each failed one is logged).
pub fn raise_overdue(job: &Job, last_good: Option<Timestamp>, deadline: Timestamp) {
    let since = match last_good {
        Some(t) => format!("since {t}"),
        None => "ever".to_string(),
    };
    warn!(
        "job \"{}\" is overdue: no successful run {since} (due by {deadline})",
        job.name
    );
    if job.notify.overdue.is_empty() {
        return;
    }
    let job = job.clone();
    let event = Event::Overdue {
        due: deadline.to_string(),
        last_success: last_good.map(|t| t.to_string()),
    };
    tokio::spawn(async move {
        for d in notify::send(&job, &event).await {
            if d.outcome == DeliveryOutcome::Failed {
                warn!(
                    "job \"{}\": overdue notification to \"{}\" failed after {} tries: {}",
                    job.name,
                    d.notifier,
                    d.attempts,
                    d.error.as_deref().unwrap_or("unknown error")
                );
            }
        }
    });
}

struct Running {
    started: Timestamp,
    handle: JoinHandle<()>,
}

struct Slot {
    job: Arc<Job>,
    _lock: JobLock,
    /// The fire time the next scheduled run belongs to.
    next: Option<Timestamp>,
    /// When that run starts (`next` plus jitter).
    due: Option<Timestamp>,
    running: Option<Running>,
    overdue_at: Option<Timestamp>,
    overdue_raised: bool,
}

struct Done {
    job: String,
    result: Result<RunOutcome>,
}

/// The daemon over `config`, until stopped. `Err` when it cannot start: no job could be
/// scheduled (none has a schedule, or another daemon schedules them all).
pub async fn run_daemon(
    config: Config,
    state: StateDb,
    reload: Loader,
    mut control: mpsc::UnboundedReceiver<Control>,
) -> Result<()> {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let mut d = Daemon {
        state,
        slots: BTreeMap::new(),
        config,
        done_tx,
        restores: super::restores::RestoreScheduler::default(),
    };
    d.adopt();
    if d.slots.is_empty() && d.restores.is_empty() {
        return Err(Error::new(
            ErrorKind::Config,
            "no job to schedule (no job has a schedule, or another daemon schedules them)",
        ));
    }
    say!(
        "daemon started: {} job(s) scheduled, state in {}",
        d.slots.len(),
        d.state.dir().display()
    );

    let stop_name = loop {
        let now = Timestamp::now();
        d.fire_due(now);
        d.restores.fire_due(now, &d.state);
        d.check_overdue(now);
        let sleep = d
            .wake_at()
            .into_iter()
            .chain(d.restores.wake_at())
            .min()
            .map(|t| Duration::try_from(t.duration_since(Timestamp::now())).unwrap_or(Duration::ZERO))
            .unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            c = control.recv() => match c {
                Some(Control::Stop(name)) => break name,
                None => break "end of control",
                Some(Control::Reload) => d.reload(&reload),
            },
            Some(done) = done_rx.recv() => d.finished(done),
        }
    };
    d.shutdown(stop_name, &mut control, &mut done_rx).await;
    d.restores.stop().await;
    Ok(())
}

struct Daemon {
    state: StateDb,
    slots: BTreeMap<String, Slot>,
    config: Config,
    done_tx: mpsc::UnboundedSender<Done>,
    /// `verify.restore.schedule`: the scheduled test restores.
    restores: super::restores::RestoreScheduler,
}

impl Daemon {
    /// Schedules the configuration's jobs: new ones get a slot (their daemon lock, the
    /// missed-run policy applied), known ones their new definition and next
    /// fire time, gone ones are dropped (a run still going finishes).
    fn adopt(&mut self) {
        let now = Timestamp::now();
        let wanted: Vec<Arc<Job>> = self
            .config
            .jobs
            .iter()
            .filter(|j| {
                if j.schedule.is_none() {
                    say!("job \"{}\" has no schedule: not scheduled (pgsnap run runs it)", j.name);
                }
                j.schedule.is_some()
            })
            .map(|j| Arc::new(j.clone()))
            .collect();
        let names: Vec<String> = wanted.iter().map(|j| j.name.clone()).collect();
        let gone: Vec<String> = self.slots.keys().filter(|k| !names.contains(k)).cloned().collect();
        for name in gone {
            say!("job \"{name}\" is no longer scheduled");
            self.slots.remove(&name);
        }
        for job in wanted {
            let Some(s) = job.schedule.clone() else { continue };
            let mut first = schedule::next_after(&job, &s, now);
            let mut catch_up = None;
            if let Some(slot) = self.slots.get_mut(&job.name) {
                slot.job = job.clone();
            } else {
                let lock = match self.state.lock_daemon(&job.name) {
                    Ok(l) => l,
                    Err(e) => {
                        let who = self
                            .state
                            .daemon_of(&job.name)
                            .map(|p| format!(" (process {p})"))
                            .unwrap_or_default();
                        fail!("job \"{}\" not scheduled: {e}{who}", job.name);
                        continue;
                    }
                };
                // A new slot (at start, or a job added by a reload): fire times that passed
                // since the state last accounted for the job were missed.
                match self.state.last_accounted(&job.name) {
                    Ok(Some(since)) => {
                        if let Some(missed) = schedule::latest_missed(&job, &s, since, now) {
                            match job.missed {
                                Missed::RunOnce => {
                                    say!(
                                        "job \"{}\": missed the run due at {missed} while not running; running it once now",
                                        job.name
                                    );
                                    catch_up = Some(missed);
                                }
                                Missed::Skip => {
                                    say!(
                                        "job \"{}\": missed the run due at {missed} while not running; skipped (missed = \"skip\")",
                                        job.name
                                    );
                                    self.store_event(
                                        &job.name,
                                        StateOutcome::Skipped,
                                        now,
                                        Some(missed),
                                        "missed while the daemon was not running (missed = \"skip\")",
                                    );
                                }
                            }
                        }
                    }
                    Ok(None) => {}
                    Err(e) => fail!("job \"{}\": {e}", job.name),
                }
                self.slots.insert(
                    job.name.clone(),
                    Slot {
                        job: job.clone(),
                        _lock: lock,
                        next: None,
                        due: None,
                        running: None,
                        overdue_at: None,
                        overdue_raised: false,
                    },
                );
            }
            let Some(slot) = self.slots.get_mut(&job.name) else {
                continue;
            };
            if let Some(m) = catch_up {
                // The catch-up run starts now; the schedule resumes after it.
                first = Some(m);
                slot.due = Some(now);
            } else {
                slot.due = first.map(|f| add(f, schedule::jitter(job.jitter)));
            }
            slot.next = first;
            match first {
                Some(f) if catch_up.is_none() => say!(
                    "job \"{}\": schedule \"{}\" ({}), next run at {}",
                    job.name,
                    s.cron,
                    job.time_zone_name,
                    f.to_zoned(job.time_zone.clone()).strftime("%Y-%m-%d %H:%M:%S %Z")
                ),
                Some(_) => {}
                None => warn!("job \"{}\": schedule \"{}\" fires no more", job.name, s.cron),
            }
        }
        let names: Vec<String> = self.slots.keys().cloned().collect();
        for n in names {
            self.refresh_overdue(&n);
        }
        self.restores.adopt(&self.config, &self.state, now);
    }

    fn store_event(&self, job: &str, outcome: StateOutcome, at: Timestamp, fire: Option<Timestamp>, why: &str) {
        if let Err(e) = self.state.record_event(job, Trigger::Schedule, outcome, at, fire, why) {
            fail!("job \"{job}\": could not store the {} run: {e}", outcome.name());
        }
    }

    /// Starts the runs that are due; a job still running skips its turn.
    fn fire_due(&mut self, now: Timestamp) {
        let due: Vec<String> = self
            .slots
            .iter()
            .filter(|(_, s)| s.due.is_some_and(|d| d <= now))
            .map(|(n, _)| n.clone())
            .collect();
        for name in due {
            let Some(slot) = self.slots.get_mut(&name) else {
                continue;
            };
            let Some(fire) = slot.next else { continue };
            let job = slot.job.clone();
            // The following fire time; those that passed while this one waited (a suspended
            // machine) are not run one after another.
            let mut next = job.schedule.as_ref().and_then(|s| schedule::next_after(&job, s, fire));
            if let (Some(n), Some(s)) = (next, job.schedule.as_ref())
                && n < now
            {
                warn!(
                    "job \"{name}\": fire times up to {n} passed while the daemon was held up; resuming the schedule"
                );
                next = schedule::next_after(&job, s, now);
            }
            slot.next = next;
            slot.due = next.map(|n| add(n, schedule::jitter(job.jitter)));
            if let Some(r) = &slot.running {
                let why = format!("the run started at {} is still going", r.started);
                say!("job \"{name}\": run due at {fire} skipped: {why}");
                self.store_event(&name, StateOutcome::Skipped, now, Some(fire), &why);
                continue;
            }
            say!("job \"{name}\": starting the run due at {fire}");
            let state = self.state.clone();
            let tx = self.done_tx.clone();
            let handle = tokio::spawn(async move {
                let result = run_tracked(&job, Trigger::Schedule, None, &state, Some(fire)).await;
                if let Ok(o) = &result
                    && o.error.is_none()
                {
                    // Rotation after a success only, as `pgsnap run` does.
                    let mut lines = Vec::new();
                    let pruned = super::prune(&job, Timestamp::now(), false, &mut |l| lines.push(l.to_string()));
                    match pruned {
                        Ok(0) => {}
                        Ok(n) => {
                            for l in lines.iter().filter(|l| l.starts_with("forget ")) {
                                say!("job \"{}\": {l}", job.name);
                            }
                            say!("job \"{}\": pruned {n} backup(s)", job.name);
                        }
                        Err(e) => fail!("job \"{}\": pruning failed: {e}", job.name),
                    }
                    let mut removed = Vec::new();
                    match super::janitor(&job, Timestamp::now(), &mut |l| removed.push(l.to_string())) {
                        Ok(_) => {
                            for l in removed {
                                say!("job \"{}\": {l}", job.name);
                            }
                        }
                        Err(e) => fail!("job \"{}\": janitor: {e}", job.name),
                    }
                }
                let _ = tx.send(Done {
                    job: job.name.clone(),
                    result,
                });
            });
            slot.running = Some(Running { started: now, handle });
        }
    }

    /// A run ended: say how, and when the job is next due to be late.
    fn finished(&mut self, done: Done) {
        if let Some(slot) = self.slots.get_mut(&done.job) {
            slot.running = None;
        }
        match done.result {
            Ok(o) => match &o.error {
                None => say!(
                    "job \"{}\": backup {} ({} tables, {} rows)",
                    done.job,
                    o.archive_path
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                    o.record.tables.unwrap_or(0),
                    o.record.rows.unwrap_or(0)
                ),
                Some(e) => fail!(
                    "job \"{}\" failed: {e}; recorded in {}",
                    done.job,
                    o.record_path.display()
                ),
            },
            Err(e) if e.kind() == ErrorKind::Lock => {
                say!("job \"{}\": run skipped: {e}", done.job);
                self.store_event(&done.job, StateOutcome::Skipped, Timestamp::now(), None, &e.to_string());
            }
            Err(e) => fail!("job \"{}\" could not run: {e}", done.job),
        }
        self.refresh_overdue(&done.job);
    }

    fn refresh_overdue(&mut self, name: &str) {
        let Some(slot) = self.slots.get_mut(name) else { return };
        let last_good = self
            .state
            .last_success(name)
            .ok()
            .flatten()
            .and_then(|r| r.started_at());
        let first = self.state.first_run(name).ok().flatten().and_then(|r| r.started_at());
        let at = schedule::overdue_at(&slot.job, last_good, first);
        if at != slot.overdue_at {
            slot.overdue_raised = false;
        }
        slot.overdue_at = at;
    }

    fn check_overdue(&mut self, now: Timestamp) {
        for (name, slot) in &mut self.slots {
            // A run going may still succeed (the one fired at the deadline, typically): the
            // event waits for its end.
            if let Some(at) = slot.overdue_at
                && at <= now
                && !slot.overdue_raised
                && slot.running.is_none()
            {
                slot.overdue_raised = true;
                let last_good = self
                    .state
                    .last_success(name)
                    .ok()
                    .flatten()
                    .and_then(|r| r.started_at());
                raise_overdue(&slot.job, last_good, at);
            }
        }
    }

    /// The next moment something is due: a run or a job turning overdue.
    fn wake_at(&self) -> Option<Timestamp> {
        self.slots
            .values()
            // A running job's lateness is looked at when its run ends (a message wakes us).
            .flat_map(|s| [s.due, s.overdue_at.filter(|_| !s.overdue_raised && s.running.is_none())])
            .flatten()
            .min()
    }

    fn reload(&mut self, load: &Loader) {
        say!("reloading the configuration");
        match load() {
            Err(lines) => {
                for l in &lines {
                    fail!("{l}");
                }
                fail!("configuration not reloaded: keeping the previous one");
            }
            Ok(config) => {
                if config.daemon.state_dir != self.config.daemon.state_dir {
                    warn!(
                        "daemon.state_dir changed; the state stays in {} until the daemon restarts",
                        self.state.dir().display()
                    );
                }
                self.config = config;
                self.adopt();
                say!("configuration reloaded: {} job(s) scheduled", self.slots.len());
            }
        }
    }

    async fn shutdown(
        &mut self,
        signal: &'static str,
        control: &mut mpsc::UnboundedReceiver<Control>,
        done_rx: &mut mpsc::UnboundedReceiver<Done>,
    ) {
        let grace = self.config.daemon.grace_period;
        let running = self.running();
        if running == 0 {
            say!("{signal} received: stopping");
            return;
        }
        say!("{signal} received: stopping; {running} running backup(s) may finish within {grace:?}");
        let deadline = tokio::time::Instant::now() + grace;
        while self.running() > 0 {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => break,
                Some(done) = done_rx.recv() => self.finished(done),
                c = control.recv() => match c {
                    Some(Control::Stop(name)) => {
                        say!("{name} received again: not waiting any longer");
                        break;
                    }
                    None => break,
                    Some(Control::Reload) => say!("reload ignored while stopping"),
                },
            }
        }
        if self.running() == 0 {
            say!("stopped");
            return;
        }
        warn!("cancelling {} running backup(s)", self.running());
        crate::pg::cancel_all_sessions().await;
        let deadline = tokio::time::Instant::now() + UNWIND_LIMIT;
        while self.running() > 0 {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => break,
                Some(done) = done_rx.recv() => self.finished(done),
            }
        }
        let names: Vec<String> = self.slots.keys().cloned().collect();
        for name in names {
            let Some(r) = self.slots.get_mut(&name).and_then(|s| s.running.take()) else {
                continue;
            };
            warn!("job \"{name}\": abandoning its run");
            r.handle.abort();
            let _ = r.handle.await;
            self.store_event(
                &name,
                StateOutcome::Failed,
                r.started,
                None,
                "abandoned: the daemon stopped and the run did not end when cancelled",
            );
        }
        say!("stopped");
    }

    fn running(&self) -> usize {
        self.slots.values().filter(|s| s.running.is_some()).count()
    }
}

fn add(t: Timestamp, d: Duration) -> Timestamp {
    jiff::SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(t)
}
