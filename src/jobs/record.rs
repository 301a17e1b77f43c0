//! The JSON run record written beside each backup (and for each failed run).

use serde::{Deserialize, Serialize};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Succeeded,
    Failed,
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// `pgsnap run JOB`.
    Manual,
    /// `pgsnap daemon`, at a fire time of the job's schedule.
    Schedule,
    /// `pgsnap predeploy`.
    Predeploy,
}

/// A pin on a backup: kept until `until` (RFC 3339), or until released when absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinRecord {
    pub tag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// One file of an archive: its path relative to the destination, size and checksum, as the
/// archive's manifest records it (CRC32C unless the dump chose SHA-256 or none; records
/// before manifest version 2 always have SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    pub path: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32c: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// The record of one run. Unknown fields are ignored when reading, so later versions can
/// add to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The record format's version (1).
    pub record_version: u32,
    pub job: String,
    pub trigger: Trigger,
    /// RFC 3339, UTC. The backup's time for retention.
    pub started: String,
    pub finished: String,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The archive's name in the destination (absent for a failed run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
    pub format: String,
    pub content: String,
    pub compression: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_version: Option<String>,
    /// Which pg_restore versions read the archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readers: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// Bytes of COPY data received from the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_in: Option<u64>,
    /// Bytes on disk, all files of the archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileSum>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<PinRecord>,
    /// Whom the archive is encrypted to (public keys, or `passphrase`); absent when plain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub encrypted_to: Vec<String>,
    /// `verify` of the new archive, when the job verifies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<VerifyEvidence>,
    /// The test restore, when the job has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_restore: Option<RestoreEvidence>,
    /// The backup in each further destination of the job (`[[jobs.NAME.destinations]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<DestinationOutcome>,
    /// Notifications sent about this run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<crate::notify::Delivery>,
    /// The snapshot both artefacts (archive and schema file) were read under, when the job
    /// writes a schema file, and when it was taken (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_time: Option<String>,
    /// The schema-only SQL file written beside the archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<SchemaRecord>,
    /// The step a failed run failed in (absent in records of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_step: Option<FailedStep>,
    /// Scheduled test restores of this backup (`verify.restore.schedule`), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restores: Vec<ScheduledRestore>,
}

impl RunRecord {
    /// The record of a run that has just started: failed until it says otherwise, nothing
    /// done yet.
    pub(crate) fn started(
        job: &str,
        trigger: Trigger,
        started: String,
        format: &str,
        content: &str,
        compression: &str,
    ) -> RunRecord {
        RunRecord {
            record_version: 1,
            job: job.into(),
            trigger,
            started,
            finished: String::new(),
            outcome: Outcome::Failed,
            error: None,
            archive: None,
            format: format.into(),
            content: content.into(),
            compression: compression.into(),
            archive_version: None,
            readers: None,
            tables: None,
            rows: None,
            bytes_in: None,
            size: None,
            files: Vec::new(),
            pin: None,
            encrypted_to: Vec::new(),
            verification: None,
            test_restore: None,
            destinations: Vec::new(),
            notifications: Vec::new(),
            snapshot: None,
            snapshot_time: None,
            schema: None,
            failed_step: None,
            restores: Vec::new(),
        }
    }

    /// A record with every optional part absent, for tests to fill in what they look at.
    #[cfg(test)]
    pub(crate) fn for_test(job: &str, started: &str, trigger: Trigger, outcome: Outcome) -> RunRecord {
        RunRecord {
            finished: started.into(),
            outcome,
            ..RunRecord::started(job, trigger, started.into(), "custom", "full", "default")
        }
    }
}

/// Where a failed run failed. A run that failed in `git` or in `destinations` (a further
/// destination did not commit under `destination_policy = "all"`) has a good archive (dumped
/// and checked); one that failed in `verify` or `test-restore` has an archive that failed its
/// checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailedStep {
    Dump,
    Verify,
    TestRestore,
    Git,
    Destinations,
}

/// The schema file of a run: its name in the destination, size and SHA-256, how it was
/// rendered, and its commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaRecord {
    pub file: String,
    pub size: u64,
    pub sha256: String,
    pub owners: bool,
    pub privileges: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitRecord>,
}

/// What became of the schema file in the git work tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitRecord {
    pub work_tree: String,
    pub file: String,
    /// False when the file was unchanged (no commit is made then).
    pub committed: bool,
    /// The commit made, or HEAD when nothing changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A test restore the daemon ran on its own schedule, with when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduledRestore {
    /// RFC 3339, UTC.
    pub at: String,
    #[serde(flatten)]
    pub evidence: RestoreEvidence,
}

impl RunRecord {
    /// Why the archive must not stand as a good backup: its verify, its test restore or a
    /// later scheduled test restore failed. `None` for an archive whose checks passed (or
    /// were not run).
    pub fn failed_check(&self) -> Option<String> {
        if let Some(r) = self.restores.iter().rev().find(|r| !r.evidence.ok) {
            return Some(format!("scheduled test restore at {}: {}", r.at, r.evidence.summary()));
        }
        if let Some(v) = self.verification.as_ref().filter(|v| !v.ok) {
            return Some(format!("verify: {}", v.summary()));
        }
        if let Some(t) = self.test_restore.as_ref().filter(|t| !t.ok) {
            return Some(format!("test restore: {}", t.summary()));
        }
        let error = || self.error.as_deref().unwrap_or("failed").to_string();
        match (self.outcome, self.failed_step) {
            (Outcome::Failed, Some(FailedStep::Verify)) => Some(format!("verify: {}", error())),
            (Outcome::Failed, Some(FailedStep::TestRestore)) => Some(format!("test restore: {}", error())),
            // Records of older versions: an archive beside a failed run failed its checks.
            (Outcome::Failed, None) if self.archive.is_some() => Some(format!("checks: {}", error())),
            _ => None,
        }
    }

    /// Whether the archive is a good backup (given that it exists): dumped, its checks
    /// passed; a run that failed only in committing its schema file to git, or in copying the
    /// archive to a further destination, still has one.
    pub fn archive_good(&self) -> bool {
        let dumped = match self.outcome {
            Outcome::Succeeded => true,
            Outcome::Failed => matches!(self.failed_step, Some(FailedStep::Git | FailedStep::Destinations)),
        };
        dumped && self.archive.is_some() && self.failed_check().is_none()
    }
}

/// What became of the backup in one further destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DestinationOutcome {
    /// The destination as messages show it (no secret: URLs hold none).
    pub url: String,
    /// `committed`: the archive is complete there and its manifest written (a backup
    /// listings show); `failed`: nothing there is listed as a backup.
    pub outcome: DestinationState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Bytes uploaded (all files of the archive and its manifest).
    pub bytes: u64,
    pub seconds: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DestinationState {
    Committed,
    Failed,
}

/// What `verify` found in a new archive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyEvidence {
    pub ok: bool,
    /// Whether the contents were read (decrypted when encrypted). False for an encrypted
    /// archive of a job without an identity: then only the manifest and every file's size
    /// and checksum were checked, and `note` says so.
    pub contents_checked: bool,
    pub files_checked: usize,
    pub entries_read: usize,
    pub rows: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub seconds: f64,
}

impl VerifyEvidence {
    /// One line for messages.
    pub fn summary(&self) -> String {
        if !self.ok {
            let first = self.problems.first().map(String::as_str).unwrap_or("");
            format!("FAILED ({} problem(s); {first})", self.problems.len())
        } else if self.contents_checked {
            format!(
                "ok ({} file(s), {} data entries, {} rows read)",
                self.files_checked, self.entries_read, self.rows
            )
        } else {
            format!(
                "ok, sizes and checksums only ({} file(s); encrypted, no identity configured)",
                self.files_checked
            )
        }
    }
}

/// A test restore into a scratch database, with the restored tables' rows compared to the
/// manifest's per-table counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreEvidence {
    pub ok: bool,
    /// The scratch database (dropped afterwards).
    pub database: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    /// The pg_restore run and its `--version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pg_restore: Option<String>,
    pub tables_compared: usize,
    pub rows: u64,
    /// `schema.table: restored N rows, the manifest says M`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mismatches: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether the scratch database was dropped again.
    pub dropped: bool,
    pub seconds: f64,
}

impl RestoreEvidence {
    pub fn summary(&self) -> String {
        if let Some(e) = &self.error {
            format!("FAILED: {e}")
        } else if !self.mismatches.is_empty() {
            format!(
                "FAILED: {} of {} table(s) differ ({})",
                self.mismatches.len(),
                self.tables_compared,
                self.mismatches[0]
            )
        } else {
            format!(
                "ok ({} table(s), {} rows as in the manifest)",
                self.tables_compared, self.rows
            )
        }
    }
}
