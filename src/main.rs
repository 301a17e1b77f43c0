//! The `pgsnap` command: argv → request, logging, runtime, exit codes (0 ok, 1 failure,
//! 2 usage error). The only place `anyhow` is used.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use pgsnap::cli::{Cli, Command, DumpRequest};
use pgsnap::conn::{ConnSettings, PasswordPrompt};
use pgsnap::dump::{DumpOptions, dump};
use pgsnap::{Error, ErrorKind};

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

async fn run_dump(req: DumpRequest) -> anyhow::Result<()> {
    let mut conn = req.conn.clone();
    let mut prompted = false;
    loop {
        let settings = ConnSettings::from_process_env(&conn)?;
        let candidates = settings
            .target_configs()?
            .into_iter()
            .map(|(t, c)| {
                (
                    format!(
                        "{} user \"{}\" database \"{}\"",
                        t.describe(),
                        settings.user,
                        settings.dbname
                    ),
                    c,
                )
            })
            .collect();
        let target = pgsnap::pg::Target::from_candidates(candidates);
        let mut opts = DumpOptions::new(target, req.output.clone().unwrap_or_default());
        opts.format = req.format;
        opts.script = req.script.clone();
        opts.output = req.output.clone();
        opts.jobs = req.jobs;
        opts.compression = req.compression;
        opts.archive_version = req.archive_version;
        opts.selection = req.selection.clone();
        opts.session = req.session.clone();
        match dump(opts).await {
            Ok(report) => {
                tracing::info!(
                    "dumped {} tables, {} rows, {} entries into {} (archive {}, readable by {}) in {:.2?}",
                    report.tables.len(),
                    report.rows,
                    report.entries,
                    report.archive.display(),
                    report.version,
                    report.readers,
                    report.elapsed
                );
                return Ok(());
            }
            // Like pg_dump: ask once for a password when the server wants one we lack.
            Err(e)
                if !prompted
                    && conn.password_prompt == PasswordPrompt::Auto
                    && e.kind() == ErrorKind::Connect
                    && e.message().contains("password missing")
                    && std::io::stdin().is_terminal() =>
            {
                prompted = true;
                conn.password_prompt = PasswordPrompt::Force;
            }
            Err(e) => return Err(anyhow::Error::new(e)),
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_tracing(cli.verbose);
    let result: anyhow::Result<()> = (|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the runtime")?;
        match cli.command {
            Command::List(args) => {
                print!("{}", pgsnap::archive::list_archive(&args.archive, args.create)?);
                Ok(())
            }
            Command::Dump(args) => {
                // Bad flags are usage errors (exit 2); everything after is a failure (exit 1).
                let req = match args.validate() {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("pgsnap: error: {e}");
                        eprintln!("Try \"pgsnap dump --help\" for more information.");
                        std::process::exit(2);
                    }
                };
                runtime.block_on(async {
                    tokio::select! {
                        r = run_dump(req) => r,
                        _ = tokio::signal::ctrl_c() => Err(anyhow::Error::new(Error::cancelled("interrupted"))),
                    }
                })
            }
        }
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pgsnap: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
