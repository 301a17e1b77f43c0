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

/// One file of an archive: its path relative to the destination, size and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    pub path: String,
    pub size: u64,
    pub sha256: String,
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
    /// and SHA-256 were checked, and `note` says so.
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
