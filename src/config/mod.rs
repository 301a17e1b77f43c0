//! `pgsnap.toml`: backup jobs and notifiers. Read with a hand-written walker over the
//! spanned TOML document (`toml::de::DeTable`) rather than serde, so that *every* error is
//! reported at once, each with its line and its full key (`jobs.nightly.retention.keep_daily`);
//! unknown keys are errors. Pure: the file's text in, a [`Config`] or the errors out (the
//! caller reads the file and supplies `now` for the schedule check).

mod walk;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use crate::dump::OutputFormat;
use crate::retention::Policy;

pub use walk::parse;

/// One problem in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// 1-based line and column.
    pub line: usize,
    pub column: usize,
    /// The full dotted key (`jobs.nightly.schedule`), or `` for the document.
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            write!(f, "line {}: {}: {}", self.line, self.key, self.message)
        }
    }
}

/// A valid configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// In file order of their names (sorted).
    pub jobs: Vec<Job>,
    pub notifiers: Vec<Notifier>,
    pub daemon: DaemonSettings,
}

/// The `[daemon]` table: where the state lives and how the daemon stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonSettings {
    /// `state_dir`: the state database and the job locks; `None` = the default
    /// ([`default_state_dir`]), resolved by the caller (it depends on the environment).
    pub state_dir: Option<PathBuf>,
    /// `grace_period`: how long a running dump may go on after SIGTERM/SIGINT before it is
    /// cancelled.
    pub grace_period: std::time::Duration,
}

impl Default for DaemonSettings {
    fn default() -> Self {
        DaemonSettings {
            state_dir: None,
            grace_period: std::time::Duration::from_secs(60),
        }
    }
}

/// The state directory when the configuration names none: `$XDG_STATE_HOME/pgsnap`, else
/// `$HOME/.local/state/pgsnap` (the XDG base directory default), else `pgsnap-state` beside
/// the configuration file.
pub fn default_state_dir(config_path: &Path, xdg_state_home: Option<String>, home: Option<String>) -> PathBuf {
    match (xdg_state_home, home) {
        (Some(x), _) if Path::new(&x).is_absolute() => PathBuf::from(x).join("pgsnap"),
        (_, Some(h)) if Path::new(&h).is_absolute() => PathBuf::from(h).join(".local/state/pgsnap"),
        _ => config_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
            .join("pgsnap-state"),
    }
}

/// What the daemon does about fire times that passed while it was not running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missed {
    /// One catch-up run at start, however many fire times were missed (anacron's way).
    RunOnce,
    /// Wait for the next fire time.
    Skip,
}

impl Missed {
    pub fn name(self) -> &'static str {
        match self {
            Missed::RunOnce => "run-once",
            Missed::Skip => "skip",
        }
    }
}

impl Config {
    pub fn job(&self, name: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.name == name)
    }
}

/// What a job dumps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    Full,
    SchemaOnly,
    DataOnly,
}

impl Content {
    pub fn name(self) -> &'static str {
        match self {
            Content::Full => "full",
            Content::SchemaOnly => "schema-only",
            Content::DataOnly => "data-only",
        }
    }
}

/// A secret, never inline: read when the job runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    Env(String),
    File(PathBuf),
}

impl Secret {
    /// Reads the secret now. A file's trailing newline is not part of it.
    pub fn read(&self) -> crate::Result<String> {
        match self {
            Secret::Env(name) => std::env::var(name).map_err(|_| {
                crate::Error::config(format!(
                    "environment variable {name} (named by the configuration) is not set"
                ))
            }),
            Secret::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
                .map_err(|e| crate::Error::io(format!("could not read secret file \"{}\"", path.display()), e)),
        }
    }
}

/// Where a job connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// libpq keyword/value string built from the settings (no password in it).
    pub conninfo: String,
    pub password: Option<Secret>,
}

/// pg_dump's selection switches, as patterns with pg_dump's semantics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Select {
    pub schemas: Vec<String>,
    pub exclude_schemas: Vec<String>,
    pub tables: Vec<String>,
    pub exclude_tables: Vec<String>,
    pub exclude_table_data: Vec<String>,
}

/// When a job runs by itself (`pgsnap daemon`).
#[derive(Debug, Clone)]
pub struct Schedule {
    pub cron: String,
    /// The parsed expression (fire times are found in the job's time zone).
    pub parsed: croner::Cron,
    /// The next time it fires after the `now` given to [`parse`].
    pub next: Timestamp,
}

/// Who hears about a job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notify {
    pub on_failure: Vec<String>,
    pub on_success: Vec<String>,
    pub overdue: Vec<String>,
}

/// One backup job.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub source: Source,
    pub content: Content,
    pub format: OutputFormat,
    /// As `pg_dump -Z` takes it; `None` = pg_dump's default for the format.
    pub compression: Option<String>,
    pub parallel: u32,
    /// As `pgsnap dump --split-tables-larger-than` takes it; `None` = its default.
    pub split_tables_larger_than: Option<String>,
    /// `owners = false`: `-O`; `privileges = false`: `-x`.
    pub owners: bool,
    pub privileges: bool,
    pub select: Select,
    /// The local (or mounted) directory of the job: its archive, run records and run lock.
    pub destination: PathBuf,
    /// `[[jobs.NAME.destinations]]`: further places each backup is copied to and committed
    /// in, by URL (as `pgsnap dump --to` takes them), each with its own retention.
    pub destinations: Vec<Destination>,
    /// `destination_policy`: whether every destination must commit the backup.
    pub destination_policy: DestinationPolicy,
    /// `abandoned_after`: how old an upload or temporary must be before the janitor takes it
    /// for abandoned and removes it (default 24 h).
    pub abandoned_after: std::time::Duration,
    pub schedule: Option<Schedule>,
    pub time_zone: TimeZone,
    pub time_zone_name: String,
    pub retention: Policy,
    pub notify: Notify,
    pub overdue_after: Option<Span>,
    /// `missed`: after downtime (default run-once).
    pub missed: Missed,
    /// `jitter`: each scheduled run starts up to this much later, at random (default none).
    pub jitter: std::time::Duration,
    /// The notifiers `notify` names, resolved (so a job alone is enough to notify).
    pub notifiers: Vec<Notifier>,
    pub encryption: Encryption,
    pub verify: Verification,
    /// `[jobs.NAME.schema_file]`: a schema-only plain SQL file from the archive's snapshot.
    pub schema_file: Option<SchemaFile>,
}

/// A schema-only plain SQL file written by every run beside the archive, from the same
/// snapshot (see `jobs::schema`), optionally committed to a git work tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaFile {
    /// `owners = false`: no `ALTER ... OWNER TO` (`--no-owner`).
    pub owners: bool,
    /// `privileges = false`: no GRANT/REVOKE (`--no-privileges`).
    pub privileges: bool,
    pub git: Option<GitTarget>,
}

/// Where the schema file is committed: `file` (relative, inside the work tree) of the git
/// work tree at `work_tree`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitTarget {
    pub work_tree: PathBuf,
    pub file: PathBuf,
    /// `author = "Name <email>"`: the commits' author and committer; else git's own
    /// configuration decides.
    pub author: Option<(String, String)>,
}

/// One further destination of a job.
#[derive(Debug, Clone)]
pub struct Destination {
    /// The URL as written (shown as [`Location`]'s display, which holds no secret).
    pub url: String,
    pub location: crate::storage::Location,
    /// Its own retention, else the job's.
    pub retention: Policy,
}

/// When a run with further destinations succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestinationPolicy {
    /// Every destination must commit the backup (the default).
    All,
    /// At least one place holds the committed backup (the job's directory always does when
    /// the dump succeeded); the destinations that failed are recorded and reported.
    BestEffort,
}

impl DestinationPolicy {
    pub fn name(self) -> &'static str {
        match self {
            DestinationPolicy::All => "all",
            DestinationPolicy::BestEffort => "best-effort",
        }
    }
}

/// Default of `abandoned_after`.
pub const DEFAULT_ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Whom a job's archives are encrypted to (`pgsnap dump --encrypt-to`, `--encrypt-to-file`,
/// `--passphrase-file`): recipients or one passphrase file, never both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Encryption {
    pub recipients: Vec<String>,
    pub recipient_files: Vec<PathBuf>,
    pub passphrase_file: Option<PathBuf>,
}

impl Encryption {
    pub fn is_set(&self) -> bool {
        !self.recipients.is_empty() || !self.recipient_files.is_empty() || self.passphrase_file.is_some()
    }
}

/// What is checked after each successful run.
#[derive(Debug, Clone)]
pub struct Verification {
    /// `pgsnap verify` on the new archive (default on).
    pub enabled: bool,
    /// Keys that decrypt the job's archives, for verify and the test restore. A job
    /// encrypted with a passphrase file uses that file.
    pub identity_files: Vec<PathBuf>,
    pub restore: Option<TestRestore>,
}

impl Default for Verification {
    fn default() -> Self {
        Verification {
            enabled: true,
            identity_files: Vec::new(),
            restore: None,
        }
    }
}

/// A test restore into a scratch database created (and dropped) on this server.
#[derive(Debug, Clone)]
pub struct TestRestore {
    /// Where to connect to create the scratch database (`dbname` defaults to `postgres`).
    pub server: Source,
    /// The `pg_restore` to run; else the one of the server's major version in the usual
    /// places, else `pg_restore` on PATH.
    pub pg_restore: Option<PathBuf>,
    /// `schedule`: the daemon test-restores the job's latest good backup at these fire
    /// times (in the job's time zone) instead of after each run.
    pub schedule: Option<Schedule>,
}

impl Job {
    /// The `pgsnap dump` (pg_dump) arguments this job runs with, writing to `output`: a job
    /// is a dump command, so it goes through the same parser, checks and library call as one
    /// typed by hand. `-w`: a job never prompts for a password.
    pub fn dump_args(&self, output: &Path) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "-F".into(),
            self.format.name().into(),
            "-w".into(),
            "-d".into(),
            self.source.conninfo.clone(),
            "-f".into(),
            output.to_string_lossy().into_owned(),
        ];
        if self.parallel > 1 {
            a.extend(["-j".into(), self.parallel.to_string()]);
        }
        if let Some(z) = &self.compression {
            a.extend(["-Z".into(), z.clone()]);
        }
        if let Some(size) = &self.split_tables_larger_than {
            a.push(format!("--split-tables-larger-than={size}"));
        }
        match self.content {
            Content::Full => {}
            Content::SchemaOnly => a.push("--schema-only".into()),
            Content::DataOnly => a.push("--data-only".into()),
        }
        if !self.owners {
            a.push("--no-owner".into());
        }
        if !self.privileges {
            a.push("--no-privileges".into());
        }
        for r in &self.encryption.recipients {
            a.push(format!("--encrypt-to={r}"));
        }
        for f in &self.encryption.recipient_files {
            a.push(format!("--encrypt-to-file={}", f.display()));
        }
        if let Some(f) = &self.encryption.passphrase_file {
            a.push(format!("--passphrase-file={}", f.display()));
        }
        for (flag, list) in [
            ("--schema", &self.select.schemas),
            ("--exclude-schema", &self.select.exclude_schemas),
            ("--table", &self.select.tables),
            ("--exclude-table", &self.select.exclude_tables),
            ("--exclude-table-data", &self.select.exclude_table_data),
        ] {
            for p in list {
                a.push(format!("{flag}={p}"));
            }
        }
        a
    }

    /// The archive's file name suffix for the job's format.
    pub fn extension(&self) -> &'static str {
        match self.format {
            OutputFormat::Custom => "dump",
            OutputFormat::Directory => "dir",
            OutputFormat::Tar => "tar",
            OutputFormat::Plain => "sql",
        }
    }
}

/// A notification channel (sent by [`crate::notify`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notifier {
    pub name: String,
    pub kind: NotifierKind,
    /// Tries per notification (first one included), with backoff between them.
    pub attempts: u32,
    /// PEM certificates to trust for its TLS (instead of the system's roots).
    pub tls_ca_file: Option<PathBuf>,
}

impl NotifierKind {
    /// The channel's type as written in the file.
    pub fn channel(&self) -> &'static str {
        match self {
            NotifierKind::Webhook { .. } => "webhook",
            NotifierKind::Slack { .. } => "slack",
            NotifierKind::Discord { .. } => "discord",
            NotifierKind::Telegram { .. } => "telegram",
            NotifierKind::Email { .. } => "email",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifierKind {
    Webhook {
        url: UrlSource,
        hmac_secret: Option<Secret>,
    },
    Slack {
        url: Secret,
    },
    Discord {
        url: Secret,
    },
    Telegram {
        bot_token: Secret,
        chat_id: String,
        api_base: String,
    },
    Email {
        smtp_host: String,
        smtp_port: u16,
        starttls: bool,
        from: String,
        to: Vec<String>,
        username: Option<String>,
        password: Option<Secret>,
    },
}

/// A generic webhook's URL may be written inline (it carries no secret of its own; the
/// HMAC key does), or come from the environment or a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlSource {
    Inline(String),
    Secret(Secret),
}

/// The configuration file to use: the one named, else `$PGSNAP_CONFIG`, else `pgsnap.toml`
/// in the working directory.
pub fn locate(named: Option<&Path>, env: Option<String>) -> PathBuf {
    match (named, env) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(e)) if !e.is_empty() => PathBuf::from(e),
        _ => PathBuf::from("pgsnap.toml"),
    }
}
