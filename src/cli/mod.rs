//! The command line. `pgsnap dump` (and the binary installed as `pg_dump`) reads pg_dump
//! 18's options exactly as pg_dump does ([`dump`], on a getopt_long work-alike,
//! [`getopt`]); the rest of `pgsnap` (`list`, `--help`, `--version`) is clap. Parsing,
//! validating into a typed request and running are separate steps, so every rule is tested
//! without a server.

pub mod compress;
pub mod display;
pub mod dump;
pub mod getopt;
pub mod help;
pub mod jobs;
pub mod log;
pub mod split;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use dump::{DumpCommand, DumpRequest, FilterReadError, UsageError};

/// The PostgreSQL release whose pg_dump pgsnap stands in for (its options, messages and
/// archive conventions), as `--version` reports it to scripts that parse
/// `pg_dump (PostgreSQL) N`.
pub const PG_DUMP_COMPAT_VERSION: &str = "18.0";

/// How the program was invoked: as `pgsnap`, or through a link named `pg_dump`, in which
/// case it is `pgsnap dump` under pg_dump's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invocation {
    Pgsnap,
    PgDump,
}

impl Invocation {
    /// From `argv[0]`: its file name `pg_dump` (or `pg_dump.exe`) selects pg_dump mode.
    pub fn from_argv0(argv0: &str) -> Invocation {
        let base = std::path::Path::new(argv0)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if base == "pg_dump" {
            Invocation::PgDump
        } else {
            Invocation::Pgsnap
        }
    }

    /// The name messages start with.
    pub fn prog(self) -> &'static str {
        match self {
            Invocation::Pgsnap => "pgsnap",
            Invocation::PgDump => "pg_dump",
        }
    }

    /// The dump command as a user types it (for usage lines and the `--help` hint).
    pub fn dump_command(self) -> &'static str {
        match self {
            Invocation::Pgsnap => "pgsnap dump",
            Invocation::PgDump => "pg_dump",
        }
    }

    /// The `-V/--version` line of the dump command. Scripts parse `pg_dump (PostgreSQL) N`
    /// to learn which servers and features the dumper handles, and both spellings of the
    /// command replace pg_dump, so both print pg_dump's line with the pg_dump release pgsnap
    /// matches, then pgsnap's own version in parentheses (as distribution builds append
    /// theirs).
    pub fn dump_version_line(self) -> String {
        format!(
            "pg_dump (PostgreSQL) {PG_DUMP_COMPAT_VERSION} (pgsnap {})",
            env!("CARGO_PKG_VERSION")
        )
    }
}

/// pgsnap — a fast, parallel, snapshot-consistent replacement for pg_dump.
#[derive(Parser, Debug)]
#[command(name = "pgsnap", version, about, long_about = None, disable_help_subcommand = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Built once per process: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Dump a database like pg_dump (every pg_dump 18 option; see `pgsnap dump --help`).
    #[command(disable_help_flag = true)]
    Dump(DumpArgs),
    /// List an archive's table of contents (like pg_restore -l).
    List(ListArgs),
    /// Check a pgsnap.toml configuration.
    #[command(subcommand)]
    Config(jobs::ConfigCommand),
    /// Retention policies (plan one over given timestamps).
    #[command(subcommand)]
    Retention(jobs::RetentionCommand),
    /// Run one configured job now, in the foreground, then apply its retention.
    Run(jobs::RunArgs),
    /// Back up now before a deployment, pinned under a tag (exits 1 if the backup failed).
    Predeploy(jobs::PredeployArgs),
    /// The backups of configured jobs.
    #[command(subcommand)]
    Backups(jobs::BackupsCommand),
    /// Run the scheduled jobs at their times until SIGTERM/SIGINT (SIGHUP reloads the
    /// configuration).
    Daemon(jobs::DaemonArgs),
    /// Every job's last run, next run, last good backup, and whether it is overdue.
    Status(jobs::StatusArgs),
    /// Write a new age X25519 identity (mode 0600) to FILE and print its recipient.
    Keygen(KeygenArgs),
    /// Decrypt an encrypted archive into the plain archive pg_restore reads.
    Decrypt(DecryptArgs),
    /// Check an archive against its manifest, read every data file to its end.
    Verify(VerifyArgs),
    /// Copy a backup from a destination URL to a file, a directory or standard output
    /// (`pgsnap fetch s3://bucket/prefix/x.dump | pg_restore -d db`), decrypting with -i.
    Fetch(FetchArgs),
}

/// What ARCHIVE takes in `list`, `verify`, `decrypt` and `fetch`.
const ARCHIVE_HELP: &str = "A local path, or a backup at a destination URL (s3://bucket/prefix/NAME, file:///dir/NAME)";

/// `pgsnap verify` flags.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The archive: a directory, or a custom/tar/plain file with NAME.manifest beside it;
    /// or a backup at a destination URL (s3://bucket/prefix/NAME, file:///dir/NAME).
    #[arg(value_name = "ARCHIVE")]
    pub archive: PathBuf,
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// `pgsnap keygen` flags.
#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// The identity file to create (never overwritten).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

/// The keys that open an encrypted archive (shared by `decrypt` and `verify`).
#[derive(Args, Debug, Clone, Default)]
pub struct KeyArgs {
    /// An identity file (age identity or unencrypted OpenSSH private key); repeatable.
    #[arg(short = 'i', long = "identity", value_name = "IDENTITY")]
    pub identities: Vec<PathBuf>,
    /// A file whose first line is the passphrase (else PGSNAP_PASSPHRASE, when set).
    #[arg(long = "passphrase-file", value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

/// `pgsnap decrypt` flags.
#[derive(Args, Debug)]
pub struct DecryptArgs {
    /// The encrypted archive: a directory, or a custom/tar/plain file; or a backup at a
    /// destination URL (s3://bucket/prefix/NAME, file:///dir/NAME).
    #[arg(value_name = "ARCHIVE")]
    pub archive: PathBuf,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Where to write the plain archive (required for a directory archive); standard output
    /// when omitted or "-".
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Do not wait for the output to be written safely to disk.
    #[arg(long = "no-sync")]
    pub no_sync: bool,
}

/// `pgsnap fetch` flags.
#[derive(Args, Debug)]
pub struct FetchArgs {
    #[arg(value_name = "ARCHIVE", help = ARCHIVE_HELP)]
    pub archive: PathBuf,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Where to write the archive (required for a directory archive); standard output when
    /// omitted or "-".
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Do not wait for the output to be written safely to disk.
    #[arg(long = "no-sync")]
    pub no_sync: bool,
}

/// `pgsnap dump` arguments as given; they are read by [`dump::parse`], not by clap.
#[derive(Args, Debug)]
pub struct DumpArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "PG_DUMP_OPTIONS")]
    pub args: Vec<String>,
}

/// `pgsnap list` flags.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// An archive (directory, custom or tar; pgsnap's or stock pg_dump's), "-" for standard
    /// input, or a backup at a destination URL (s3://bucket/prefix/NAME, file:///dir/NAME).
    #[arg(value_name = "ARCHIVE")]
    pub archive: PathBuf,
    /// Also list the database entries, as `pg_restore -l -C` does.
    #[arg(short = 'C', long = "create")]
    pub create: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoked_name_decides_the_mode() {
        assert_eq!(Invocation::from_argv0("/usr/bin/pg_dump"), Invocation::PgDump);
        assert_eq!(Invocation::from_argv0("pg_dump"), Invocation::PgDump);
        assert_eq!(Invocation::from_argv0("./target/debug/pgsnap"), Invocation::Pgsnap);
        assert_eq!(Invocation::from_argv0("pg_dumpall"), Invocation::Pgsnap);
        assert_eq!(Invocation::PgDump.dump_command(), "pg_dump");
        assert!(
            Invocation::Pgsnap
                .dump_version_line()
                .starts_with("pg_dump (PostgreSQL) 18.0 (pgsnap ")
        );
    }

    #[test]
    fn list_and_dump_parse_with_clap() {
        let c = Cli::try_parse_from(["pgsnap", "list", "-C", "dir"]).unwrap();
        assert!(matches!(c.command, Command::List(ListArgs { create: true, .. })));
        let c = Cli::try_parse_from(["pgsnap", "fetch", "s3://b/x.dump", "-i", "k", "-o", "-"]).unwrap();
        let Command::Fetch(f) = c.command else { panic!() };
        assert_eq!(f.archive, PathBuf::from("s3://b/x.dump"));
        assert_eq!(f.keys.identities, [PathBuf::from("k")]);
        let c = Cli::try_parse_from(["pgsnap", "dump", "-Fd", "--help", "db"]).unwrap();
        let Command::Dump(d) = c.command else { panic!() };
        assert_eq!(d.args, ["-Fd", "--help", "db"]);
    }
}
