//! The backup-job commands: `config check`, `retention plan`, `run`, `backups list|prune`,
//! `daemon`, `status`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `pgsnap config ...`
#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Validate a configuration file: every error with its line and key.
    Check {
        /// The file (default: $PGSNAP_CONFIG, else ./pgsnap.toml).
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
    },
}

/// `pgsnap retention ...`
#[derive(Subcommand, Debug)]
pub enum RetentionCommand {
    /// Apply a policy to backup timestamps read on stdin (RFC 3339, one a line); print
    /// `keep <timestamp> <rules>` or `forget <timestamp>` for each, newest first.
    /// Without any --keep-* flag the policy is 7 daily, 4 weekly, 12 monthly.
    Plan(PlanArgs),
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// Keep the N newest backups.
    #[arg(long, value_name = "N")]
    pub keep_last: Option<u32>,
    /// Keep the newest backup of each of the N most recent hours holding one.
    #[arg(long, value_name = "N")]
    pub keep_hourly: Option<u32>,
    /// ... days.
    #[arg(long, value_name = "N")]
    pub keep_daily: Option<u32>,
    /// ... ISO weeks.
    #[arg(long, value_name = "N")]
    pub keep_weekly: Option<u32>,
    /// ... months.
    #[arg(long, value_name = "N")]
    pub keep_monthly: Option<u32>,
    /// ... years.
    #[arg(long, value_name = "N")]
    pub keep_yearly: Option<u32>,
    /// Keep every backup taken within this duration before --now (48h, 7d, 1y 6mo).
    #[arg(long, value_name = "DURATION")]
    pub keep_within: Option<String>,
    /// The time to plan at (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub now: String,
    /// Time zone of the hour/day/week/month/year buckets (IANA name; default: the
    /// system's zone, from TZ or /etc/localtime).
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
}

/// `-c/--config` for the commands that read jobs.
#[derive(Args, Debug)]
pub struct ConfigFile {
    /// The configuration file (default: $PGSNAP_CONFIG, else ./pgsnap.toml).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `pgsnap run JOB`
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The job to run now, in the foreground.
    #[arg(value_name = "JOB")]
    pub job: String,
    #[command(flatten)]
    pub config: ConfigFile,
    /// Do not apply the job's retention after a successful run.
    #[arg(long)]
    pub no_prune: bool,
}

/// `pgsnap backups ...`
#[derive(Subcommand, Debug)]
pub enum BackupsCommand {
    /// List the backups and failed runs of one job or all, with retention's decision.
    List {
        #[arg(value_name = "JOB")]
        job: Option<String>,
        /// One JSON array of run records, each with its retention decision.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Delete the backups the job's retention policy forgets, printing every decision.
    Prune {
        #[arg(value_name = "JOB")]
        job: Option<String>,
        /// Print the decisions, delete nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        config: ConfigFile,
    },
}

/// `pgsnap predeploy JOB --tag RELEASE [--keep 48h | --until-next] [-t PATTERN ...]`
#[derive(Args, Debug)]
pub struct PredeployArgs {
    /// The job whose source, format and destination to use.
    #[arg(value_name = "JOB")]
    pub job: String,
    /// The release (or change) this backup is taken before.
    #[arg(long, value_name = "RELEASE")]
    pub tag: String,
    /// Keep the backup at least this long (48h, 3d; default 48h).
    #[arg(long, value_name = "DURATION", conflicts_with = "until_next")]
    pub keep: Option<String>,
    /// Keep the backup until the next successful `predeploy --until-next` of this job,
    /// which releases this one's pin.
    #[arg(long)]
    pub until_next: bool,
    /// Dump only the tables matching this pattern (pg_dump -t semantics; repeatable),
    /// instead of the job's selection.
    #[arg(short = 't', long = "table", value_name = "PATTERN")]
    pub tables: Vec<String>,
    #[command(flatten)]
    pub config: ConfigFile,
}

/// `pgsnap daemon [-c FILE]`
#[derive(Args, Debug)]
pub struct DaemonArgs {
    #[command(flatten)]
    pub config: ConfigFile,
}

/// `pgsnap status [--json] [-c FILE]`
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// One JSON array, an object per job.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub config: ConfigFile,
}
