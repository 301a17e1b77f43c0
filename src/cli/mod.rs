//! pg_dump-compatible command line: clap definitions (parsing) and their validation into a
//! typed request (a separate step, so each rule is testable without a server).

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::archive::script::ScriptOptions;
use crate::archive::toc::ArchiveVersion;
use crate::catalog::Selection;
use crate::codec::Compression;
use crate::conn::{ConnOptions, PasswordPrompt};
use crate::dump::OutputFormat;
use crate::error::{Error, Result};
use crate::pg::SessionOptions;

/// pgsnap — a fast, parallel, snapshot-consistent replacement for pg_dump.
#[derive(Parser, Debug)]
#[command(name = "pgsnap", version, about, long_about = None, disable_help_subcommand = true)]
pub struct Cli {
    /// Increase logging (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

// Built once per process: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Dump a database into an archive stock pg_restore 14-18 restores (like pg_dump).
    #[command(disable_help_flag = true)]
    Dump(DumpArgs),
    /// List an archive's table of contents (like pg_restore -l).
    List(ListArgs),
}

/// `pgsnap list` flags.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// A directory archive (pgsnap's or stock pg_dump's).
    #[arg(value_name = "ARCHIVE")]
    pub archive: PathBuf,
    /// Also list the database entries, as `pg_restore -l -C` does.
    #[arg(short = 'C', long = "create")]
    pub create: bool,
}

/// `pgsnap dump` flags, spelled as pg_dump spells them.
#[derive(Args, Debug, Default)]
pub struct DumpArgs {
    /// Show help.
    #[arg(short = '?', long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// Database name or connection string (as pg_dump's DBNAME).
    #[arg(value_name = "DBNAME")]
    pub dbname_pos: Option<String>,
    /// Output file or directory name (standard output when absent, except -Fd).
    #[arg(short = 'f', long = "file", value_name = "FILENAME")]
    pub file: Option<PathBuf>,
    /// Output file format: p/plain (the default), c/custom, d/directory, t/tar.
    #[arg(short = 'F', long = "format", value_name = "FORMAT")]
    pub format: Option<String>,
    /// Skip restoration of object ownership in the plain format.
    #[arg(short = 'O', long = "no-owner")]
    pub no_owner: bool,
    /// The key of the plain script's \restrict line (letters and digits; random by default).
    #[arg(long = "restrict-key", value_name = "RESTRICT_KEY")]
    pub restrict_key: Option<String>,
    /// Worker connections for table data.
    #[arg(short = 'j', long = "jobs", value_name = "NUM", default_value_t = 1)]
    pub jobs: u32,
    /// Compression: 0-9 (gzip level), none, gzip[:N], lz4[:N], zstd[:N|:long].
    #[arg(short = 'Z', long = "compress", value_name = "METHOD[:DETAIL]")]
    pub compress: Option<String>,
    /// Archive version to write (1.14, 1.15, 1.16); default: the lowest the options need.
    #[arg(long = "archive-version", value_name = "VERSION")]
    pub archive_version: Option<String>,
    /// Fail instead of waiting more than this long for table locks (e.g. 10s, 500ms, 2000).
    #[arg(long = "lock-wait-timeout", value_name = "TIMEOUT")]
    pub lock_wait_timeout: Option<String>,
    /// Dump only the object definitions, no data.
    #[arg(short = 's', long = "schema-only")]
    pub schema_only: bool,
    /// Dump only the data, no definitions.
    #[arg(short = 'a', long = "data-only")]
    pub data_only: bool,
    /// Do not dump privileges (GRANT/REVOKE).
    #[arg(short = 'x', long = "no-privileges", visible_alias = "no-acl")]
    pub no_privileges: bool,
    /// Do not dump comments.
    #[arg(long = "no-comments")]
    pub no_comments: bool,
    /// Do not dump column compression settings.
    #[arg(long = "no-toast-compression")]
    pub no_toast_compression: bool,
    /// Do not dump data of unlogged tables.
    #[arg(long = "no-unlogged-table-data")]
    pub no_unlogged_table_data: bool,
    /// Dump with row security on (only rows visible to the user).
    #[arg(long = "enable-row-security")]
    pub enable_row_security: bool,
    /// Client encoding of the dump.
    #[arg(short = 'E', long = "encoding", value_name = "ENCODING")]
    pub encoding: Option<String>,
    /// SET ROLE to this role before dumping.
    #[arg(long = "role", value_name = "ROLENAME")]
    pub role: Option<String>,
    /// Database server host or socket directory.
    #[arg(short = 'h', long = "host", value_name = "HOSTNAME")]
    pub host: Option<String>,
    /// Database server port.
    #[arg(short = 'p', long = "port", value_name = "PORT")]
    pub port: Option<String>,
    /// Database user name.
    #[arg(short = 'U', long = "username", value_name = "NAME")]
    pub username: Option<String>,
    /// Database to dump (name or connection string).
    #[arg(short = 'd', long = "dbname", value_name = "DBNAME")]
    pub dbname: Option<String>,
    /// Never prompt for a password.
    #[arg(short = 'w', long = "no-password")]
    pub no_password: bool,
    /// Always prompt for a password.
    #[arg(short = 'W', long = "password")]
    pub password: bool,
}

/// A validated `pgsnap dump` request.
#[derive(Debug, Clone)]
pub struct DumpRequest {
    pub conn: ConnOptions,
    pub format: OutputFormat,
    /// How the plain format prints its script.
    pub script: ScriptOptions,
    /// `None` = standard output (custom and tar formats).
    pub output: Option<PathBuf>,
    pub jobs: usize,
    pub compression: Compression,
    pub archive_version: Option<ArchiveVersion>,
    pub selection: Selection,
    pub session: SessionOptions,
}

/// Parses `10s`, `500ms`, `2min`, or a bare number of milliseconds (pg_dump's unit).
pub fn parse_timeout(text: &str) -> Result<Duration> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| Error::usage(format!("invalid lock wait timeout \"{text}\"")))?;
    let ms = match unit.trim() {
        "" | "ms" => n,
        "s" => n * 1000,
        "min" => n * 60_000,
        "h" => n * 3_600_000,
        _ => {
            return Err(Error::usage(format!(
                "invalid lock wait timeout \"{text}\": use a number with ms, s, min or h"
            )));
        }
    };
    if ms == 0 {
        return Err(Error::usage("lock wait timeout must be greater than zero"));
    }
    Ok(Duration::from_millis(ms))
}

/// A random `\restrict` key of 64 letters and digits from a strong random source (pg_dump 18
/// draws one for each plain script, `generate_restrict_key` in dumputils.c).
fn random_restrict_key() -> Result<String> {
    use ring::rand::{SecureRandom, SystemRandom};
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 64];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::internal("could not generate restrict key"))?;
    // 256 = 4 * 62 + 8: drawing by modulo would favour 8 symbols a little; the key only has
    // to be unguessable inside one script, as pg_dump's is.
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

impl DumpArgs {
    /// Checks the flags the way pg_dump does and builds the request.
    pub fn validate(&self) -> Result<DumpRequest> {
        // pg_dump's default format is plain SQL.
        let format = match self.format.as_deref().unwrap_or("p") {
            "d" | "directory" => OutputFormat::Directory,
            "c" | "custom" => OutputFormat::Custom,
            "t" | "tar" => OutputFormat::Tar,
            "p" | "plain" => OutputFormat::Plain,
            other => return Err(Error::usage(format!("invalid output format \"{other}\" specified"))),
        };
        // -Fc/-Ft without -f write to standard output, as pg_dump does.
        let output = self.file.clone();
        if format == OutputFormat::Directory && output.is_none() {
            return Err(Error::usage(
                "an output directory must be given with -f/--file for the directory format",
            ));
        }
        if self.jobs == 0 || self.jobs > 1024 {
            return Err(Error::usage(format!(
                "-j/--jobs must be in range 1..1024 (got {})",
                self.jobs
            )));
        }
        if format == OutputFormat::Plain && self.jobs > 1 {
            return Err(Error::usage("parallel backup only supported by the directory format"));
        }
        if self.restrict_key.is_some() && format != OutputFormat::Plain {
            return Err(Error::usage(
                "option --restrict-key can only be used with --format=plain",
            ));
        }
        if self.schema_only && self.data_only {
            return Err(Error::usage(
                "options -s/--schema-only and -a/--data-only cannot be used together",
            ));
        }
        if self.password && self.no_password {
            return Err(Error::usage(
                "options -w/--no-password and -W/--password cannot be used together",
            ));
        }
        if self.dbname.is_some() && self.dbname_pos.is_some() {
            return Err(Error::usage(
                "too many command-line arguments: give the database either as -d or as DBNAME",
            ));
        }
        let compression = match &self.compress {
            Some(spec) => Compression::parse(spec)?,
            // pg_dump compresses custom and directory archives by default, never tar or plain.
            None if matches!(format, OutputFormat::Tar | OutputFormat::Plain) => Compression::None,
            None => Compression::Gzip { level: 6 },
        };
        let archive_version = match self.archive_version.as_deref() {
            None => None,
            Some("1.14") | Some("1.14.0") => Some(ArchiveVersion::V1_14),
            Some("1.15") | Some("1.15.0") => Some(ArchiveVersion::V1_15),
            Some("1.16") | Some("1.16.0") => Some(ArchiveVersion::V1_16),
            Some(v) => {
                return Err(Error::usage(format!(
                    "unsupported archive version \"{v}\": use 1.14, 1.15 or 1.16"
                )));
            }
        };
        let lock_wait_timeout = self.lock_wait_timeout.as_deref().map(parse_timeout).transpose()?;
        // The driver speaks UTF8 to the server (catalog text is decoded as UTF-8), so other
        // client encodings would corrupt names; the server converts from any database
        // encoding to UTF8.
        if let Some(enc) = &self.encoding {
            let norm: String = enc
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_uppercase();
            if norm != "UTF8" && norm != "UNICODE" {
                return Err(Error::usage(format!(
                    "-E/--encoding \"{enc}\" is not supported: pgsnap writes dumps in UTF8 (the server converts \
                     from the database encoding)"
                )));
            }
        }
        let selection = Selection {
            schema: !self.data_only,
            data: !self.schema_only,
            no_privileges: self.no_privileges,
            no_comments: self.no_comments,
            no_toast_compression: self.no_toast_compression,
            no_unlogged_table_data: self.no_unlogged_table_data,
            ..Selection::default()
        };
        let session = SessionOptions {
            lock_wait_timeout,
            row_security: self.enable_row_security,
            client_encoding: self.encoding.as_ref().map(|_| "UTF8".to_string()),
            role: self.role.clone(),
            ..SessionOptions::default()
        };
        let conn = ConnOptions {
            host: self.host.clone(),
            port: self.port.clone(),
            user: self.username.clone(),
            dbname: self.dbname.clone().or_else(|| self.dbname_pos.clone()),
            password_prompt: if self.password {
                PasswordPrompt::Force
            } else if self.no_password {
                PasswordPrompt::Never
            } else {
                PasswordPrompt::Auto
            },
            application_name: None,
        };
        let script = ScriptOptions {
            no_owner: self.no_owner,
            // pg_dump draws a fresh key for every plain script.
            restrict_key: match (&self.restrict_key, format) {
                (Some(k), _) => Some(k.clone()),
                (None, OutputFormat::Plain) => Some(random_restrict_key()?),
                (None, _) => None,
            },
            ..ScriptOptions::default()
        };
        script.validate()?;
        Ok(DumpRequest {
            conn,
            format,
            script,
            output,
            jobs: self.jobs as usize,
            compression,
            archive_version,
            selection,
            session,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> std::result::Result<DumpArgs, clap::Error> {
        let mut argv = vec!["pgsnap", "dump"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).and_then(|c| match c.command {
            Command::Dump(d) => Ok(d),
            Command::List(_) => Err(clap::Error::new(clap::error::ErrorKind::InvalidSubcommand)),
        })
    }

    #[test]
    fn pg_dump_spellings_parse() {
        let a = parse(&[
            "-Fd", "-j", "8", "-Z", "6", "-f", "out", "-h", "/tmp", "-p", "5433", "-U", "bob", "shop",
        ])
        .unwrap();
        let r = a.validate().unwrap();
        assert_eq!(r.jobs, 8);
        assert_eq!(r.compression, Compression::Gzip { level: 6 });
        assert_eq!(r.conn.host.as_deref(), Some("/tmp"));
        assert_eq!(r.conn.dbname.as_deref(), Some("shop"));
        let r = parse(&["--format=directory", "-Zzstd:3", "--file=x", "-d", "db"])
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!(r.compression, Compression::Zstd { level: 3, long: false });
        let r = parse(&["-Fd", "-f", "x", "-E", "utf-8", "db"])
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!(r.session.client_encoding.as_deref(), Some("UTF8"));
    }

    #[test]
    fn bad_combinations_are_usage_errors() {
        for args in [
            &["-Fd", "-s", "-a", "-f", "x"][..],
            &["-Fd", "-j", "0", "-f", "x"],
            &["-Fx", "-f", "x"],
            &["-f", "x", "-j", "2", "db"],
            &["-Fp", "--restrict-key", "a-b", "db"],
            &["-Fc", "--restrict-key", "ab", "db"],
            &["-Fd", "-Z", "brotli", "-f", "x"],
            &["-Fd", "-f", "x", "--lock-wait-timeout", "soon"],
            &["-Fd", "-f", "x", "--archive-version", "1.13"],
            &["-Fd", "-w", "-W", "-f", "x"],
            &["-Fd", "-E", "LATIN1", "-f", "x"],
            &["-Fd", "-d", "a", "b", "-f", "x"],
            &["-Fd"],
        ] {
            let err = parse(args).unwrap().validate().unwrap_err();
            assert_eq!(err.kind(), crate::error::ErrorKind::Usage, "{args:?}: {err}");
        }
        assert!(parse(&["--no-such-flag"]).is_err());
    }

    #[test]
    fn plain_is_the_default_format_and_writes_to_standard_output() {
        let r = parse(&["-O", "db"]).unwrap().validate().unwrap();
        assert_eq!(r.format, OutputFormat::Plain);
        assert_eq!(r.output, None);
        assert_eq!(r.compression, Compression::None);
        assert!(r.script.no_owner);
        // A fresh random key each time, unless one is given.
        let key = r.script.restrict_key.clone().unwrap();
        assert_eq!(key.len(), 64);
        assert!(crate::archive::script::is_valid_restrict_key(&key));
        let again = parse(&["db"]).unwrap().validate().unwrap();
        assert_ne!(again.script.restrict_key, Some(key));
        let r = parse(&["-Fp", "--restrict-key", "K3y", "-Zgzip", "-f", "x.sql.gz", "db"])
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!(r.script.restrict_key.as_deref(), Some("K3y"));
        assert_eq!(r.compression, Compression::Gzip { level: 6 });
        let err = parse(&["-j", "2", "db"]).unwrap().validate().unwrap_err();
        assert_eq!(err.message(), "parallel backup only supported by the directory format");
        // Archives carry no script key: pg_restore decides when printing.
        let r = parse(&["-Fc", "db"]).unwrap().validate().unwrap();
        assert_eq!(r.script.restrict_key, None);
    }

    #[test]
    fn timeouts_take_units() {
        assert_eq!(parse_timeout("1500").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_timeout("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_timeout("1min").unwrap(), Duration::from_secs(60));
        assert!(parse_timeout("0").is_err());
    }
}
