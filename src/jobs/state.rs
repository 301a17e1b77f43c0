//! The local state: a SQLite database (`state.db`, bundled SQLite, nothing to install) in
//! the state directory holding every run of every job — scheduled, manual, pre-deployment,
//! and the scheduled runs that were skipped — plus the lock files that keep two runs of one
//! job (or two daemons scheduling it) apart.
//!
//! Each call opens its own connection: runs are minutes apart, and `pgsnap run` and the
//! daemon write the same file from different processes (WAL mode, a busy timeout).

use std::fs::File;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use rusqlite::{Connection, params};
use serde::Serialize;

use super::record::{Outcome, RunRecord, Trigger};
use crate::error::{Error, ErrorKind, Result};

/// The database's schema version (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id            INTEGER PRIMARY KEY,
    job           TEXT NOT NULL,
    trigger       TEXT NOT NULL,      -- schedule | manual | predeploy
    scheduled_for TEXT,               -- the fire time a scheduled run belongs to (RFC 3339)
    started       TEXT NOT NULL,      -- RFC 3339, UTC
    started_ms    INTEGER NOT NULL,   -- the same, for ordering
    finished      TEXT,
    outcome       TEXT NOT NULL,      -- succeeded | failed | skipped
    error         TEXT,               -- why it failed or was skipped
    archive       TEXT,               -- the archive's path
    record_path   TEXT,               -- the JSON record beside it
    format        TEXT,
    content       TEXT,
    compression   TEXT,
    size          INTEGER,
    bytes_in      INTEGER,
    tables        INTEGER,
    rows          INTEGER,
    files         TEXT,               -- JSON: [{path, size, crc32c or sha256}]
    pin_tag       TEXT,
    pin_until     TEXT
    -- schema 2 adds: destinations TEXT, JSON [{url, outcome, error, bytes, seconds}]
);
CREATE INDEX IF NOT EXISTS runs_job_started ON runs (job, started_ms);
-- Scheduled test restores (verify.restore.schedule): the evidence of each. Added without a
-- schema version change: older pgsnap versions ignore the table.
CREATE TABLE IF NOT EXISTS restores (
    id            INTEGER PRIMARY KEY,
    job           TEXT NOT NULL,
    scheduled_for TEXT,
    at            TEXT NOT NULL,      -- RFC 3339, UTC
    at_ms         INTEGER NOT NULL,
    archive       TEXT,               -- the backup restored (path); none when there was none
    backup_started TEXT,              -- that backup's time
    ok            INTEGER NOT NULL,
    tables        INTEGER,
    rows          INTEGER,
    error         TEXT,               -- the failure, or the first mismatch
    evidence      TEXT                -- JSON: the whole evidence
);
CREATE INDEX IF NOT EXISTS restores_job_at ON restores (job, at_ms);
";

/// How a run in the state ended: a record's outcome, or skipped (the job was still running,
/// or a fire time passed while the daemon was down and its policy is `skip`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StateOutcome {
    Succeeded,
    Failed,
    Skipped,
}

impl StateOutcome {
    pub fn name(self) -> &'static str {
        match self {
            StateOutcome::Succeeded => "succeeded",
            StateOutcome::Failed => "failed",
            StateOutcome::Skipped => "skipped",
        }
    }

    fn parse(s: &str) -> StateOutcome {
        match s {
            "succeeded" => StateOutcome::Succeeded,
            "skipped" => StateOutcome::Skipped,
            _ => StateOutcome::Failed,
        }
    }
}

pub(crate) fn trigger_name(t: Trigger) -> &'static str {
    match t {
        Trigger::Manual => "manual",
        Trigger::Schedule => "schedule",
        Trigger::Predeploy => "predeploy",
    }
}

/// One row of the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateRun {
    pub id: i64,
    pub job: String,
    pub trigger: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_for: Option<String>,
    pub started: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    pub outcome: StateOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tables: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
}

impl StateRun {
    /// The start time (`None` only for a row some other program wrote badly).
    pub fn started_at(&self) -> Option<Timestamp> {
        self.started.parse().ok()
    }
}

/// One scheduled test restore in the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateRestore {
    pub id: i64,
    pub job: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_for: Option<String>,
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_started: Option<String>,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tables: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The state directory and its database.
#[derive(Debug, Clone)]
pub struct StateDb {
    dir: PathBuf,
    db: PathBuf,
}

fn db_err(what: String) -> impl FnOnce(rusqlite::Error) -> Error {
    move |e| Error::new(ErrorKind::Io, format!("{what}: {e}"))
}

impl StateDb {
    /// Opens (creating when needed) the state in `dir`.
    pub fn open(dir: &Path) -> Result<StateDb> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("could not create state directory \"{}\"", dir.display()), e))?;
        let s = StateDb {
            dir: dir.to_path_buf(),
            db: dir.join("state.db"),
        };
        let c = s.connect()?;
        let version: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db_err(s.what()))?;
        if version > SCHEMA_VERSION {
            return Err(Error::config(format!(
                "state database \"{}\" is of a newer pgsnap (schema {version}, this one knows {SCHEMA_VERSION})",
                s.db.display()
            )));
        }
        c.execute_batch(SCHEMA).map_err(db_err(s.what()))?;
        if version < 2 {
            // Schema 2: the outcome per further destination (JSON, as in the record).
            c.execute_batch("ALTER TABLE runs ADD COLUMN destinations TEXT;")
                .map_err(db_err(s.what()))?;
        }
        c.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(db_err(s.what()))?;
        Ok(s)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn db_path(&self) -> &Path {
        &self.db
    }

    fn what(&self) -> String {
        format!("state database \"{}\"", self.db.display())
    }

    fn connect(&self) -> Result<Connection> {
        let c = Connection::open(&self.db).map_err(db_err(self.what()))?;
        c.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db_err(self.what()))?;
        // WAL: the daemon and a `pgsnap status` or `pgsnap run` read and write at once.
        let _: String = c
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(db_err(self.what()))?;
        c.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db_err(self.what()))?;
        Ok(c)
    }

    /// Stores a run's record (as written beside the backup).
    pub fn record_run(&self, record: &RunRecord, record_path: &Path, scheduled_for: Option<Timestamp>) -> Result<i64> {
        let started: Timestamp = record
            .started
            .parse()
            .map_err(|e| Error::internal(format!("run record start \"{}\": {e}", record.started)))?;
        let archive = record.archive.as_ref().map(|a| {
            record_path
                .parent()
                .map_or_else(|| PathBuf::from(a), |d| d.join(a))
                .display()
                .to_string()
        });
        let files = serde_json::to_string(&record.files)
            .map_err(|e| Error::internal(format!("could not encode checksums: {e}")))?;
        let destinations = if record.destinations.is_empty() {
            None
        } else {
            Some(
                serde_json::to_string(&record.destinations)
                    .map_err(|e| Error::internal(format!("could not encode the destinations: {e}")))?,
            )
        };
        let outcome = match record.outcome {
            Outcome::Succeeded => StateOutcome::Succeeded,
            Outcome::Failed => StateOutcome::Failed,
        };
        let c = self.connect()?;
        c.execute(
            "INSERT INTO runs (job, trigger, scheduled_for, started, started_ms, finished, outcome, error,
                               archive, record_path, format, content, compression, size, bytes_in,
                               tables, rows, files, pin_tag, pin_until, destinations)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
            params![
                record.job,
                trigger_name(record.trigger),
                scheduled_for.map(|t| t.to_string()),
                record.started,
                started.as_millisecond(),
                record.finished,
                outcome.name(),
                record.error,
                archive,
                record_path.display().to_string(),
                record.format,
                record.content,
                record.compression,
                record.size.map(|v| v as i64),
                record.bytes_in.map(|v| v as i64),
                record.tables.map(|v| v as i64),
                record.rows.map(|v| v as i64),
                files,
                record.pin.as_ref().map(|p| p.tag.clone()),
                record.pin.as_ref().and_then(|p| p.until.clone()),
                destinations,
            ],
        )
        .map_err(db_err(self.what()))?;
        Ok(c.last_insert_rowid())
    }

    /// Stores a run that did not happen (`skipped`) or could not start (`failed`, with no
    /// record beside a backup), with why.
    pub fn record_event(
        &self,
        job: &str,
        trigger: Trigger,
        outcome: StateOutcome,
        at: Timestamp,
        scheduled_for: Option<Timestamp>,
        reason: &str,
    ) -> Result<i64> {
        let c = self.connect()?;
        c.execute(
            "INSERT INTO runs (job, trigger, scheduled_for, started, started_ms, finished, outcome, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?4, ?6, ?7)",
            params![
                job,
                trigger_name(trigger),
                scheduled_for.map(|t| t.to_string()),
                at.to_string(),
                at.as_millisecond(),
                outcome.name(),
                reason,
            ],
        )
        .map_err(db_err(self.what()))?;
        Ok(c.last_insert_rowid())
    }

    fn query(&self, filter: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<StateRun>> {
        let c = self.connect()?;
        let sql = format!(
            "SELECT id, job, trigger, scheduled_for, started, finished, outcome, error, archive,
                    record_path, size, tables, rows
             FROM runs {filter}"
        );
        let mut stmt = c.prepare(&sql).map_err(db_err(self.what()))?;
        let rows = stmt
            .query_map(args, |r| {
                let outcome: String = r.get(6)?;
                Ok(StateRun {
                    id: r.get(0)?,
                    job: r.get(1)?,
                    trigger: r.get(2)?,
                    scheduled_for: r.get(3)?,
                    started: r.get(4)?,
                    finished: r.get(5)?,
                    outcome: StateOutcome::parse(&outcome),
                    error: r.get(7)?,
                    archive: r.get(8)?,
                    record_path: r.get(9)?,
                    size: r.get::<_, Option<i64>>(10)?.map(|v| v as u64),
                    tables: r.get::<_, Option<i64>>(11)?.map(|v| v as u64),
                    rows: r.get::<_, Option<i64>>(12)?.map(|v| v as u64),
                })
            })
            .map_err(db_err(self.what()))?;
        rows.collect::<std::result::Result<Vec<_>, _>>()
            .map_err(db_err(self.what()))
    }

    /// Stores a scheduled test restore: of the backup `archive` (started `backup_started`)
    /// with its evidence, or (`evidence` `None`) one that could not run, with why.
    #[allow(clippy::too_many_arguments)]
    pub fn record_restore(
        &self,
        job: &str,
        scheduled_for: Option<Timestamp>,
        at: Timestamp,
        archive: Option<&Path>,
        backup_started: Option<&str>,
        evidence: Option<&super::record::RestoreEvidence>,
        error: Option<&str>,
    ) -> Result<i64> {
        let json = evidence
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| Error::internal(format!("could not encode the evidence: {e}")))?;
        let error = error
            .map(str::to_string)
            .or_else(|| evidence.and_then(|e| e.error.clone().or_else(|| e.mismatches.first().cloned())));
        let c = self.connect()?;
        c.execute(
            "INSERT INTO restores (job, scheduled_for, at, at_ms, archive, backup_started, ok, tables, rows,
                                   error, evidence)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                job,
                scheduled_for.map(|t| t.to_string()),
                at.to_string(),
                at.as_millisecond(),
                archive.map(|a| a.display().to_string()),
                backup_started,
                evidence.is_some_and(|e| e.ok),
                evidence.map(|e| e.tables_compared as i64),
                evidence.map(|e| e.rows as i64),
                error,
                json,
            ],
        )
        .map_err(db_err(self.what()))?;
        Ok(c.last_insert_rowid())
    }

    /// The scheduled test restores of `job`, newest first, at most `limit`.
    pub fn restores(&self, job: &str, limit: u32) -> Result<Vec<StateRestore>> {
        let c = self.connect()?;
        let mut stmt = c
            .prepare(
                "SELECT id, job, scheduled_for, at, archive, backup_started, ok, tables, rows, error
                 FROM restores WHERE job = ?1 ORDER BY at_ms DESC, id DESC LIMIT ?2",
            )
            .map_err(db_err(self.what()))?;
        let rows = stmt
            .query_map(params![job, limit], |r| {
                Ok(StateRestore {
                    id: r.get(0)?,
                    job: r.get(1)?,
                    scheduled_for: r.get(2)?,
                    at: r.get(3)?,
                    archive: r.get(4)?,
                    backup_started: r.get(5)?,
                    ok: r.get(6)?,
                    tables: r.get::<_, Option<i64>>(7)?.map(|v| v as u64),
                    rows: r.get::<_, Option<i64>>(8)?.map(|v| v as u64),
                    error: r.get(9)?,
                })
            })
            .map_err(db_err(self.what()))?;
        rows.collect::<std::result::Result<Vec<_>, _>>()
            .map_err(db_err(self.what()))
    }

    /// Held by a daemon for as long as it schedules `job`'s test restores
    /// (`daemon-restore-JOB.lock`): two daemons never test-restore for one job.
    pub fn lock_restore_schedule(&self, job: &str) -> Result<JobLock> {
        self.lock(
            &format!("daemon-restore-{job}.lock"),
            &format!("job \"{job}\"'s test restores are scheduled by another pgsnap daemon"),
        )
    }

    /// Every run of `job` (all jobs when `None`), oldest first.
    pub fn runs(&self, job: Option<&str>) -> Result<Vec<StateRun>> {
        match job {
            Some(j) => self.query("WHERE job = ?1 ORDER BY started_ms, id", &[&j]),
            None => self.query("ORDER BY started_ms, id", &[]),
        }
    }

    /// The newest row of `job`, skipped ones included.
    pub fn last_run(&self, job: &str) -> Result<Option<StateRun>> {
        Ok(self
            .query("WHERE job = ?1 ORDER BY started_ms DESC, id DESC LIMIT 1", &[&job])?
            .pop())
    }

    /// The newest successful run of `job`.
    pub fn last_success(&self, job: &str) -> Result<Option<StateRun>> {
        Ok(self
            .query(
                "WHERE job = ?1 AND outcome = 'succeeded' ORDER BY started_ms DESC, id DESC LIMIT 1",
                &[&job],
            )?
            .pop())
    }

    /// The oldest row of `job` (when the job was first tried).
    pub fn first_run(&self, job: &str) -> Result<Option<StateRun>> {
        Ok(self
            .query("WHERE job = ?1 ORDER BY started_ms, id LIMIT 1", &[&job])?
            .pop())
    }

    /// The last point in time the scheduler accounted for: the newest fire time a row belongs
    /// to, or the newest start (a manual run counts as the job having run).
    pub fn last_accounted(&self, job: &str) -> Result<Option<Timestamp>> {
        // Compared parsed: RFC 3339 texts with and without fractions do not sort as text.
        Ok(self
            .runs(Some(job))?
            .iter()
            .flat_map(|r| [r.scheduled_for.as_deref(), Some(r.started.as_str())])
            .flatten()
            .filter_map(|s| s.parse::<Timestamp>().ok())
            .max())
    }

    /// Holds `job`'s run lock (`run-JOB.lock`) while a run goes: a manual run and a scheduled
    /// run of one job never overlap. `ErrorKind::Lock` when it is held.
    pub fn lock_run(&self, job: &str) -> Result<JobLock> {
        self.lock(&format!("run-{job}.lock"), &format!("job \"{job}\" is already running"))
    }

    /// Held by a daemon for as long as it schedules `job` (`daemon-JOB.lock`, holding its
    /// process id): two daemons never schedule one job.
    pub fn lock_daemon(&self, job: &str) -> Result<JobLock> {
        let mut lock = self.lock(
            &format!("daemon-{job}.lock"),
            &format!("job \"{job}\" is scheduled by another pgsnap daemon"),
        )?;
        use std::io::{Seek, Write};
        let mut f = &lock.file;
        let _ = f.set_len(0);
        let _ = f.seek(std::io::SeekFrom::Start(0));
        let _ = writeln!(f, "{}", std::process::id());
        lock.clear_on_drop = true;
        Ok(lock)
    }

    /// The process id of the daemon scheduling `job`, when one runs: the id its lock file
    /// holds, when that process is alive (read without locking, so that looking never makes
    /// a starting daemon fail).
    pub fn daemon_of(&self, job: &str) -> Option<u32> {
        let path = self.dir.join(format!("daemon-{job}.lock"));
        let pid: u32 = std::fs::read_to_string(&path).ok()?.trim().parse().ok()?;
        (pid > 0 && Path::new(&format!("/proc/{pid}")).exists()).then_some(pid)
    }

    fn lock(&self, name: &str, held: &str) -> Result<JobLock> {
        let path = self.dir.join(name);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(format!("could not open lock file \"{}\"", path.display()), e))?;
        match file.try_lock() {
            Ok(()) => Ok(JobLock {
                file,
                path,
                clear_on_drop: false,
            }),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::new(
                ErrorKind::Lock,
                format!("{held} (lock \"{}\" is held)", path.display()),
            )),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io(format!("could not lock \"{}\"", path.display()), e)),
        }
    }
}

/// An advisory lock (flock) on a file in the state directory, released when dropped or
/// when the process ends, however it ends.
#[derive(Debug)]
pub struct JobLock {
    file: File,
    path: PathBuf,
    /// A daemon's lock: its process id is removed when it lets go.
    clear_on_drop: bool,
}

impl Drop for JobLock {
    fn drop(&mut self) {
        if self.clear_on_drop {
            let _ = self.file.set_len(0);
        }
    }
}

impl JobLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(job: &str, started: &str, outcome: Outcome) -> RunRecord {
        RunRecord {
            error: (outcome == Outcome::Failed).then(|| "connection refused".into()),
            archive: (outcome == Outcome::Succeeded).then(|| format!("{job}.dump")),
            tables: Some(3),
            rows: Some(30),
            bytes_in: Some(100),
            size: Some(50),
            ..RunRecord::for_test(job, started, Trigger::Schedule, outcome)
        }
    }

    #[test]
    fn runs_are_stored_and_found_by_job_and_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateDb::open(dir.path()).unwrap();
        let p = dir.path().join("x.json");
        assert_eq!(s.last_run("a").unwrap(), None);
        assert_eq!(s.last_accounted("a").unwrap(), None);
        // Mixed text forms: ordering goes by time, not by the strings.
        s.record_run(&record("a", "2026-11-30T10:00:00Z", Outcome::Succeeded), &p, None)
            .unwrap();
        s.record_run(&record("a", "2026-11-30T10:00:00.5Z", Outcome::Failed), &p, None)
            .unwrap();
        s.record_run(&record("b", "2026-11-30T11:00:00Z", Outcome::Succeeded), &p, None)
            .unwrap();
        let fire: Timestamp = "2026-11-30T12:00:00Z".parse().unwrap();
        s.record_event(
            "a",
            Trigger::Schedule,
            StateOutcome::Skipped,
            "2026-11-30T10:00:01Z".parse().unwrap(),
            Some(fire),
            "still running",
        )
        .unwrap();
        // Reopening keeps everything (the schema is created once).
        let s = StateDb::open(dir.path()).unwrap();
        let last = s.last_run("a").unwrap().unwrap();
        assert_eq!(last.outcome, StateOutcome::Skipped);
        assert_eq!(last.error.as_deref(), Some("still running"));
        let good = s.last_success("a").unwrap().unwrap();
        assert_eq!(good.started, "2026-11-30T10:00:00Z");
        assert_eq!(
            good.archive.as_deref(),
            Some(dir.path().join("a.dump").to_str().unwrap())
        );
        assert_eq!(good.rows, Some(30));
        assert_eq!(s.first_run("a").unwrap().unwrap().started, "2026-11-30T10:00:00Z");
        assert_eq!(s.runs(Some("a")).unwrap().len(), 3);
        assert_eq!(s.runs(None).unwrap().len(), 4);
        assert_eq!(s.last_accounted("a").unwrap(), Some(fire));
    }

    #[test]
    fn locks_exclude_a_second_holder_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateDb::open(dir.path()).unwrap();
        let held = s.lock_run("a").unwrap();
        assert_eq!(s.lock_run("a").unwrap_err().kind(), ErrorKind::Lock);
        // Another job and the daemon lock are separate.
        let _b = s.lock_run("b").unwrap();
        let d = s.lock_daemon("a").unwrap();
        assert_eq!(s.daemon_of("a"), Some(std::process::id()));
        assert_eq!(s.lock_daemon("a").unwrap_err().kind(), ErrorKind::Lock);
        drop(d);
        assert_eq!(s.daemon_of("a"), None);
        drop(held);
        s.lock_run("a").unwrap();
    }
}
