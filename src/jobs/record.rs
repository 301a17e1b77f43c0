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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}
