//! The `pgsnap` binary: argv → request, messages, runtime, exit codes (0 ok, 1 on any
//! error, usage errors included, as pg_dump). Installed under the name `pg_dump` (a link),
//! it is `pgsnap dump` and names itself `pg_dump`. The only place `anyhow` is used.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use clap::Parser;
use pgsnap::cli::log::{Colors, Level, PgLog, colors_from_env, line, to_stderr};
use pgsnap::cli::{Cli, Command, DumpCommand, DumpRequest, FilterReadError, Invocation, UsageError};
use pgsnap::conn::{ConnSettings, PASSWORD_PROMPT, PasswordPrompt, ProcessEnv};
use pgsnap::crypt::{AgeLayer, Identities};
use pgsnap::dump::dump;
use pgsnap::{Error, ErrorKind};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How this process talks to the user.
struct Ui {
    inv: Invocation,
    colors: Option<Colors>,
}

impl Ui {
    fn say(&self, level: Level, message: &str) {
        to_stderr(&line(self.inv.prog(), level, message, self.colors.as_ref()));
    }

    fn hint(&self, command: &str) {
        self.say(Level::Hint, &format!("Try \"{command} --help\" for more information."));
    }

    /// Prints an error, unless it is a closed pipe on our output: the reader went away
    /// (`pgsnap list | head`), which is no news to anyone.
    fn fail(&self, e: &anyhow::Error) -> ExitCode {
        let own = e.downcast_ref::<Error>();
        if own.and_then(Error::io_error_kind) != Some(std::io::ErrorKind::BrokenPipe) {
            // Our errors carry their causes in their text; others get their chain.
            let text = match own {
                Some(err) => err.to_string(),
                None => format!("{e:#}"),
            };
            self.say(Level::Error, &text);
        }
        ExitCode::from(1)
    }

    /// Messages from the library: pg-style lines, narration with `-v`; `RUST_LOG` wins.
    fn init_logging(&self, verbose: u8) {
        let default = match verbose {
            0 => "warn",
            1 => "warn,pgsnap::narrate=info",
            2 => "info",
            _ => "debug",
        };
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
        let _ = tracing_subscriber::registry()
            .with(filter)
            .with(PgLog {
                prog: self.inv.prog().to_string(),
                colors: self.colors.clone(),
            })
            .try_init();
    }
}

/// Writes to standard output; a closed pipe is reported as such so the caller can end
/// quietly, anything else (a full disk) as an error.
fn print_stdout(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Error::io("could not write to standard output", e))
}

/// A `--filter` file, or standard input for `-`.
fn read_filter_file(name: &str) -> Result<String, FilterReadError> {
    let mut bytes = Vec::new();
    if name == "-" {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(FilterReadError::Read)?;
    } else {
        let mut f = std::fs::File::open(name).map_err(FilterReadError::Open)?;
        f.read_to_end(&mut bytes).map_err(FilterReadError::Read)?;
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Asks for a password as pg_dump's `simple_prompt` does: on the terminal without echo,
/// or, when there is no terminal, with the prompt on stderr and the answer from stdin.
fn prompt_password(prompt: &str) -> pgsnap::Result<String> {
    let tty = std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty");
    if tty.is_ok() {
        return pgsnap::conn::tty_prompt(prompt);
    }
    to_stderr(prompt);
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Error::io("could not read the password from standard input", e))?;
    Ok(answer.trim_end_matches(['\n', '\r']).to_string())
}

async fn run_dump(req: &DumpRequest) -> pgsnap::Result<()> {
    // Keys first: a bad recipient or an unreadable passphrase file fails before connecting.
    let envelope = req.encryption.resolve(std::env::var(PASSPHRASE_VAR).ok())?;
    // -W prompts here, before connecting.
    let mut settings = ConnSettings::resolve(&req.conn, &ProcessEnv, &mut prompt_password)?;
    let mut prompted = req.conn.password_prompt == PasswordPrompt::Force;
    loop {
        let target = pgsnap::pg::Target::from_settings(&settings)?;
        let mut options = req.options(target);
        if let Some(env) = &envelope {
            options.layers.push(std::sync::Arc::new(AgeLayer::new(env.clone())));
        }
        match dump(options).await {
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
            // Like pg_dump: ask once when the server wants a password we did not have.
            Err(e)
                if e.kind() == ErrorKind::PasswordRequired
                    && req.conn.password_prompt == PasswordPrompt::Auto
                    && !prompted =>
            {
                settings.password = Some(prompt_password(PASSWORD_PROMPT)?);
                prompted = true;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The environment variable holding a passphrase (never a command-line argument, which other
/// users of the machine can read in the process list).
const PASSPHRASE_VAR: &str = "PGSNAP_PASSPHRASE";

/// The keys of `decrypt`/`verify`, from flags and the environment.
fn identities(keys: &pgsnap::cli::KeyArgs) -> pgsnap::Result<Option<Identities>> {
    Identities::resolve(
        &keys.identities,
        keys.passphrase_file.as_deref(),
        std::env::var(PASSPHRASE_VAR).ok(),
    )
}

fn keygen_command(ui: &Ui, args: &pgsnap::cli::KeygenArgs) -> ExitCode {
    let created = pgsnap::manifest::rfc3339(std::time::SystemTime::now());
    match pgsnap::crypt::generate_identity_file(&args.output, &created) {
        Ok(recipient) => finish_output(ui, print_stdout(&format!("{recipient}\n"))),
        Err(e) => ui.fail(&anyhow::Error::new(e)),
    }
}

fn decrypt_command(ui: &Ui, args: &pgsnap::cli::DecryptArgs) -> ExitCode {
    let run = || -> pgsnap::Result<()> {
        let Some(ids) = identities(&args.keys)? else {
            return Err(Error::usage(format!(
                "no key given: use -i IDENTITY, --passphrase-file FILE or {PASSPHRASE_VAR}"
            )));
        };
        let report = pgsnap::decrypt::decrypt(&args.archive, &ids, args.output.as_deref(), !args.no_sync)?;
        tracing::info!("decrypted {} files, {} bytes", report.files, report.bytes);
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => ui.fail(&anyhow::Error::new(e)),
    }
}

fn verify_command(ui: &Ui, args: &pgsnap::cli::VerifyArgs) -> ExitCode {
    let report = match identities(&args.keys).and_then(|ids| pgsnap::verify::verify(&args.archive, ids.as_ref())) {
        Ok(r) => r,
        Err(e) => return ui.fail(&anyhow::Error::new(e)),
    };
    if report.ok() {
        return finish_output(
            ui,
            print_stdout(&format!(
                "{}: verified ({} files checked, {} data entries read, {} rows)\n",
                args.archive.display(),
                report.files_checked,
                report.entries_read,
                report.rows
            )),
        );
    }
    for p in &report.problems {
        ui.say(Level::Error, &p.to_string());
    }
    ui.say(
        Level::Error,
        &format!(
            "archive \"{}\" failed verification: {} problem(s)",
            args.archive.display(),
            report.problems.len()
        ),
    );
    ExitCode::from(1)
}

/// How long a stopped dump may take to unwind (cancelled queries, removed files).
const UNWIND_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The signals that stop a dump: SIGINT (Ctrl-C), SIGTERM (systemd, Kubernetes, `timeout`),
/// SIGHUP (a closed terminal) and SIGQUIT, all handled alike, as pg_dump does
/// (`setup_cancel_handler` in parallel.c covers the same set).
struct StopSignals {
    streams: Vec<(&'static str, tokio::signal::unix::Signal)>,
}

impl StopSignals {
    fn install() -> std::io::Result<StopSignals> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut streams = Vec::new();
        for (name, kind) in [
            ("SIGINT", SignalKind::interrupt()),
            ("SIGTERM", SignalKind::terminate()),
            ("SIGHUP", SignalKind::hangup()),
            ("SIGQUIT", SignalKind::quit()),
        ] {
            streams.push((name, signal(kind)?));
        }
        Ok(StopSignals { streams })
    }

    /// The name of the first signal received.
    async fn recv(mut self) -> &'static str {
        let waits = self.streams.iter_mut().map(|(name, s)| {
            Box::pin(async move {
                s.recv().await;
                *name
            })
        });
        futures_util::future::select_all(waits).await.0
    }
}

/// `pgsnap dump ...` / `pg_dump ...`.
fn dump_command(ui: &Ui, args: &[String]) -> ExitCode {
    let command = match pgsnap::cli::dump::parse(args, &mut read_filter_file) {
        Ok(c) => c,
        Err(UsageError { message, hint }) => {
            if let Some(m) = message {
                ui.say(Level::Error, &m);
            }
            if hint {
                ui.hint(ui.inv.dump_command());
            }
            return ExitCode::from(1);
        }
    };
    let req = match command {
        DumpCommand::Help => {
            return finish_output(ui, print_stdout(&pgsnap::cli::help::dump_help(ui.inv.dump_command())));
        }
        DumpCommand::Version => return finish_output(ui, print_stdout(&format!("{}\n", ui.inv.dump_version_line()))),
        DumpCommand::Run(req) => req,
    };
    ui.init_logging(req.verbose);
    for w in &req.warnings {
        ui.say(Level::Warning, w);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return ui.fail(&anyhow::Error::new(e).context("could not start the runtime")),
    };
    let result = runtime.block_on(async {
        let dumping = run_dump(&req);
        tokio::pin!(dumping);
        let signals = match StopSignals::install() {
            Ok(s) => s,
            Err(e) => return Err(Error::io("could not install signal handlers", e)),
        };
        tokio::select! {
            r = &mut dumping => r,
            name = signals.recv() => {
                // As pg_dump's signal handler: cancel what the server runs for us, then stop.
                // The dump fails through its own error path, which closes the sessions and
                // removes the partial output; bounded, in case it is stuck elsewhere.
                pgsnap::pg::cancel_all_sessions().await;
                match tokio::time::timeout(UNWIND_LIMIT, &mut dumping).await {
                    // Finished in the meantime: the archive is complete and in place.
                    Ok(Ok(())) => Ok(()),
                    _ => Err(Error::cancelled(format!("interrupted by signal {name}"))),
                }
            }
        }
    });
    // Tasks still running (a dump stuck past the limit) are dropped with their files and
    // connections; then nothing of ours may remain beside the output.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    if result.is_err()
        && let Some(out) = &req.output
    {
        pgsnap::archive::leftovers::remove_own(out);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => ui.fail(&anyhow::Error::new(e)),
    }
}

/// Exit status after printing help, a version or a listing: a reader that went away is
/// fine; a stdout that cannot be written is an error.
fn finish_output(ui: &Ui, written: Result<(), Error>) -> ExitCode {
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe) => ExitCode::SUCCESS,
        Err(e) => ui.fail(&anyhow::Error::new(e)),
    }
}

/// Everything but `dump`: clap, with its errors in pg style.
fn pgsnap_command(ui: &Ui, argv: &[String]) -> ExitCode {
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            if !e.use_stderr() {
                // --help / --version.
                return finish_output(ui, print_stdout(&e.render().to_string()));
            }
            // clap's message is its first paragraph; the usage after it is in --help.
            let rendered = e.render().to_string();
            let message: Vec<&str> = rendered
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            let message = message.join(" ");
            ui.say(Level::Error, message.strip_prefix("error: ").unwrap_or(&message));
            let command = match argv.get(1).map(String::as_str) {
                Some("list") => "pgsnap list",
                Some("keygen") => "pgsnap keygen",
                Some("decrypt") => "pgsnap decrypt",
                Some("verify") => "pgsnap verify",
                _ => "pgsnap",
            };
            ui.hint(command);
            return ExitCode::from(1);
        }
    };
    ui.init_logging(0);
    match cli.command {
        Command::Dump(args) => dump_command(ui, &args.args),
        Command::List(args) => {
            // Any format pgsnap writes (and pg_dump's): directory, custom, tar, or "-".
            let listing = pgsnap::archive::list_archive(&args.archive, args.create);
            match listing {
                Ok(text) => finish_output(ui, print_stdout(&text)),
                Err(e) => ui.fail(&anyhow::Error::new(e)),
            }
        }
        Command::Keygen(args) => keygen_command(ui, &args),
        Command::Decrypt(args) => decrypt_command(ui, &args),
        Command::Verify(args) => verify_command(ui, &args),
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    let inv = Invocation::from_argv0(argv.first().map(String::as_str).unwrap_or("pgsnap"));
    let ui = Ui {
        inv,
        colors: colors_from_env(
            std::env::var("PG_COLOR").ok().as_deref(),
            std::env::var("PG_COLORS").ok().as_deref(),
            std::io::stderr().is_terminal(),
        ),
    };
    match inv {
        Invocation::PgDump => dump_command(&ui, argv.get(1..).unwrap_or_default()),
        Invocation::Pgsnap if argv.get(1).map(String::as_str) == Some("dump") => {
            dump_command(&ui, argv.get(2..).unwrap_or_default())
        }
        Invocation::Pgsnap => pgsnap_command(&ui, &argv),
    }
}
