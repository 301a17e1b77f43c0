//! The `pgsnap` binary: argv → request, messages, runtime, exit codes (0 ok, 1 on any
//! error, usage errors included, as pg_dump). Installed under the name `pg_dump` (a link),
//! it is `pgsnap dump` and names itself `pg_dump`. The only place `anyhow` is used.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use clap::Parser;
use pgsnap::cli::display::Display;
use pgsnap::cli::dump::ProgressOutput;
use pgsnap::cli::log::{Colors, Level, PgLog, colors_from_env, line, to_stderr};
use pgsnap::cli::{Cli, Command, DumpCommand, DumpRequest, FilterReadError, Invocation, UsageError};
use pgsnap::config::{Config, Job};
use pgsnap::conn::{ConnSettings, PASSWORD_PROMPT, PasswordPrompt, ProcessEnv};
use pgsnap::crypt::{AgeLayer, Identities};
use pgsnap::dump::dump;
use pgsnap::source::ArchiveSource;
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
        self.init_logging_with(default);
    }

    fn init_logging_with(&self, default: &str) {
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

async fn run_dump(
    req: &DumpRequest,
    progress: Option<std::sync::Arc<dyn pgsnap::progress::Progress>>,
) -> pgsnap::Result<()> {
    // Keys first: a bad recipient or an unreadable passphrase file fails before connecting.
    let envelope = req.encryption.resolve(std::env::var(PASSPHRASE_VAR).ok())?;
    // -W prompts here, before connecting.
    let mut settings = ConnSettings::resolve(&req.conn, &ProcessEnv, &mut prompt_password)?;
    let mut prompted = req.conn.password_prompt == PasswordPrompt::Force;
    loop {
        let target = pgsnap::pg::Target::from_settings(&settings)?;
        let mut opts = req.options(target);
        if let Some(p) = &progress {
            opts.progress = p.clone();
        }
        if let Some(env) = &envelope {
            opts.layers.push(std::sync::Arc::new(AgeLayer::new(env.clone())));
        }
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
        let src = ArchiveSource::from_arg(&args.archive)?;
        let report = pgsnap::decrypt::decrypt_source(&src, &ids, args.output.as_deref(), !args.no_sync)?;
        tracing::info!("decrypted {} files, {} bytes", report.files, report.bytes);
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => ui.fail(&anyhow::Error::new(e)),
    }
}

/// `pgsnap fetch ARCHIVE [-i IDENTITY] [-o OUT]`.
fn fetch_command(ui: &Ui, args: &pgsnap::cli::FetchArgs) -> ExitCode {
    let run = || -> pgsnap::Result<()> {
        let ids = identities(&args.keys)?;
        let src = ArchiveSource::from_arg(&args.archive)?;
        let report = pgsnap::decrypt::fetch(&src, ids.as_ref(), args.output.as_deref(), !args.no_sync)?;
        tracing::info!("fetched {} files, {} bytes", report.files, report.bytes);
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => ui.fail(&anyhow::Error::new(e)),
    }
}

fn verify_command(ui: &Ui, args: &pgsnap::cli::VerifyArgs) -> ExitCode {
    let report = match identities(&args.keys).and_then(|ids| {
        let src = ArchiveSource::from_arg(&args.archive)?;
        pgsnap::verify::verify_source(&src, ids.as_ref())
    }) {
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

/// Runs `work` (a dump, a job's run) until it ends or a stop signal arrives. On a signal, as
/// pg_dump's handler does: cancel what the server runs for us, then let the work fail through
/// its own error path (closing sessions, removing partial output, recording the failure),
/// bounded by UNWIND_LIMIT in case it is stuck elsewhere. Work that finished successfully in
/// the meantime is complete and in place, and counts.
async fn until_stopped<T>(work: impl std::future::Future<Output = Result<T, Error>>) -> Result<T, Error> {
    tokio::pin!(work);
    let signals = match StopSignals::install() {
        Ok(s) => s,
        Err(e) => return Err(Error::io("could not install signal handlers", e)),
    };
    tokio::select! {
        r = &mut work => r,
        name = signals.recv() => {
            pgsnap::pg::cancel_all_sessions().await;
            match tokio::time::timeout(UNWIND_LIMIT, &mut work).await {
                Ok(Ok(v)) => Ok(v),
                _ => Err(Error::cancelled(format!("interrupted by signal {name}"))),
            }
        }
    }
}

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
    // The live display on a terminal that can move its cursor (not TERM=dumb), or when asked.
    let terminal = std::io::stderr().is_terminal() && std::env::var("TERM").is_ok_and(|t| t != "dumb");
    let display = match req.progress {
        ProgressOutput::Bar => Some(std::sync::Arc::new(Display::stderr())),
        ProgressOutput::Auto if terminal => Some(std::sync::Arc::new(Display::stderr())),
        _ => None,
    };
    let progress: Option<std::sync::Arc<dyn pgsnap::progress::Progress>> = match (&display, req.progress) {
        (Some(d), _) => Some(d.clone()),
        (None, ProgressOutput::Json) => Some(std::sync::Arc::new(pgsnap::progress::JsonLines::new(std::io::stderr()))),
        _ => None,
    };
    let result = runtime.block_on(until_stopped(run_dump(&req, progress)));
    // Tasks still running (a dump stuck past the limit) are dropped with their files and
    // connections; then nothing of ours may remain beside the output.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    // Off the screen before the last message, whatever ended the dump (a signal included).
    if let Some(d) = &display {
        d.close();
    }
    if result.is_err()
        && req.to.is_empty()
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
                Some("config") => "pgsnap config",
                Some("retention") => "pgsnap retention",
                Some("run") => "pgsnap run",
                Some("backups") => "pgsnap backups",
                Some("predeploy") => "pgsnap predeploy",
                Some("keygen") => "pgsnap keygen",
                Some("decrypt") => "pgsnap decrypt",
                Some("verify") => "pgsnap verify",
                Some("fetch") => "pgsnap fetch",
                Some("daemon") => "pgsnap daemon",
                Some("status") => "pgsnap status",
                _ => "pgsnap",
            };
            ui.hint(command);
            return ExitCode::from(1);
        }
    };
    match &cli.command {
        // The daemon says what it schedules, starts and skips.
        Command::Daemon(_) => ui.init_logging_with("warn,pgsnap::daemon=info"),
        _ => ui.init_logging(0),
    }
    match cli.command {
        Command::Dump(args) => dump_command(ui, &args.args),
        Command::Config(pgsnap::cli::jobs::ConfigCommand::Check { file }) => config_check(ui, file.as_deref()),
        Command::Retention(pgsnap::cli::jobs::RetentionCommand::Plan(args)) => retention_plan(ui, &args),
        Command::Run(args) => run_command(ui, &args),
        Command::Predeploy(args) => predeploy_command(ui, &args),
        Command::Backups(pgsnap::cli::jobs::BackupsCommand::List { job, json, config }) => {
            backups_list(ui, config.config.as_deref(), job.as_deref(), json)
        }
        Command::Backups(pgsnap::cli::jobs::BackupsCommand::Prune { job, dry_run, config }) => {
            backups_prune(ui, config.config.as_deref(), job.as_deref(), dry_run)
        }
        Command::List(args) => {
            // Any format pgsnap writes (and pg_dump's): directory, custom, tar, or "-".
            // Or a backup at a destination URL.
            let listing = ArchiveSource::from_arg(&args.archive).and_then(|src| src.list(args.create));
            match listing {
                Ok(text) => finish_output(ui, print_stdout(&text)),
                Err(e) => ui.fail(&anyhow::Error::new(e)),
            }
        }
        Command::Daemon(args) => daemon_command(ui, args.config.config.as_deref()),
        Command::Status(args) => status_command(ui, args.config.config.as_deref(), args.json),
        Command::Keygen(args) => keygen_command(ui, &args),
        Command::Decrypt(args) => decrypt_command(ui, &args),
        Command::Verify(args) => verify_command(ui, &args),
        Command::Fetch(args) => fetch_command(ui, &args),
    }
}

/// Reads and validates the configuration; on errors prints each (file:line:column: key:
/// message) and returns the exit code.
fn load_config(ui: &Ui, named: Option<&std::path::Path>) -> Result<(std::path::PathBuf, Config), ExitCode> {
    let path = pgsnap::config::locate(named, std::env::var("PGSNAP_CONFIG").ok());
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            let err = Error::io(format!("could not read configuration file \"{}\"", path.display()), e);
            return Err(ui.fail(&anyhow::Error::new(err)));
        }
    };
    match pgsnap::config::parse(&text, &path, jiff::Timestamp::now()) {
        Ok(c) => Ok((path, c)),
        Err(errors) => {
            for e in &errors {
                let key = if e.key.is_empty() {
                    String::new()
                } else {
                    format!("{}: ", e.key)
                };
                ui.say(
                    Level::Error,
                    &format!("{}:{}:{}: {key}{}", path.display(), e.line, e.column, e.message),
                );
            }
            Err(ExitCode::from(1))
        }
    }
}

/// `pgsnap config check [FILE]`.
fn config_check(ui: &Ui, file: Option<&std::path::Path>) -> ExitCode {
    let (path, config) = match load_config(ui, file) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut out = format!(
        "{}: OK, {} job(s), {} notifier(s)\n",
        path.display(),
        config.jobs.len(),
        config.notifiers.len()
    );
    let state_dir = config.daemon.state_dir.clone().unwrap_or_else(|| {
        pgsnap::config::default_state_dir(&path, std::env::var("XDG_STATE_HOME").ok(), std::env::var("HOME").ok())
    });
    out.push_str(&format!(
        "state in {}; daemon grace period {}\n",
        state_dir.display(),
        human_duration(config.daemon.grace_period)
    ));
    for job in &config.jobs {
        let next = match &job.schedule {
            Some(s) => format!(
                "\"{}\", next run {}, missed runs: {}{}",
                s.cron,
                s.next.to_zoned(job.time_zone.clone()).strftime("%Y-%m-%d %H:%M:%S %Z"),
                job.missed.name(),
                if job.jitter.is_zero() {
                    String::new()
                } else {
                    format!(", jitter up to {}", human_duration(job.jitter))
                }
            ),
            None => "no schedule (runs on demand)".to_string(),
        };
        out.push_str(&format!(
            "job {}: {} {} of {} into {}; {next}; retention {} in {}\n",
            job.name,
            job.content.name(),
            job.format.name(),
            job.source.conninfo,
            job.destination.display(),
            job.retention.describe(),
            job.time_zone_name
        ));
        for d in &job.destinations {
            out.push_str(&format!(
                "  and {} with retention {}\n",
                d.location,
                d.retention.describe()
            ));
        }
        if !job.destinations.is_empty() {
            out.push_str(&format!(
                "  destination policy {}; abandoned uploads removed after {}\n",
                job.destination_policy.name(),
                human_duration(job.abandoned_after)
            ));
        }
    }
    finish_output(ui, print_stdout(&out))
}

/// `90s` → `1m 30s`: as the configuration writes durations.
fn human_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 && d.subsec_millis() > 0 {
        return format!("{}ms", d.subsec_millis());
    }
    let mut parts = Vec::new();
    for (unit, n) in [("h", secs / 3600), ("m", secs / 60 % 60), ("s", secs % 60)] {
        if n > 0 {
            parts.push(format!("{n}{unit}"));
        }
    }
    if parts.is_empty() {
        "0s".to_string()
    } else {
        parts.join(" ")
    }
}

/// `pgsnap retention plan ...`.
fn retention_plan(ui: &Ui, args: &pgsnap::cli::jobs::PlanArgs) -> ExitCode {
    use pgsnap::retention::{Policy, apply, parse_plan_input, parse_span, render_plan};
    let usage = |message: String| {
        ui.say(Level::Error, &message);
        ui.hint("pgsnap retention plan");
        ExitCode::from(1)
    };
    let now = match pgsnap::retention::parse_rfc3339(&args.now) {
        Ok(t) => t,
        Err(e) => return usage(format!("invalid --now \"{}\": {e}", args.now)),
    };
    let tz = match &args.tz {
        Some(name) => match jiff::tz::TimeZone::get(name) {
            Ok(z) => z,
            Err(_) => {
                return usage(format!(
                    "unknown time zone \"{name}\" (an IANA name such as Europe/Berlin)"
                ));
            }
        },
        None => jiff::tz::TimeZone::system(),
    };
    let counts = [
        args.keep_last,
        args.keep_hourly,
        args.keep_daily,
        args.keep_weekly,
        args.keep_monthly,
        args.keep_yearly,
    ];
    let policy = if counts.iter().all(Option::is_none) && args.keep_within.is_none() {
        Policy::gfs()
    } else {
        let within = match args.keep_within.as_deref().map(parse_span).transpose() {
            Ok(w) => w,
            Err(e) => return usage(format!("--keep-within: {e}")),
        };
        Policy {
            last: args.keep_last.unwrap_or(0),
            hourly: args.keep_hourly.unwrap_or(0),
            daily: args.keep_daily.unwrap_or(0),
            weekly: args.keep_weekly.unwrap_or(0),
            monthly: args.keep_monthly.unwrap_or(0),
            yearly: args.keep_yearly.unwrap_or(0),
            within,
        }
    };
    if !policy.keeps_anything() {
        return usage("this policy keeps nothing: every backup would be forgotten".into());
    }
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        return ui.fail(&anyhow::Error::new(Error::io("could not read standard input", e)));
    }
    let parsed = match parse_plan_input(&input) {
        Ok(p) => p,
        Err(e) => {
            ui.say(Level::Error, &format!("standard input: {e}"));
            return ExitCode::from(1);
        }
    };
    let (texts, candidates): (Vec<String>, Vec<_>) = parsed.into_iter().unzip();
    let decisions = apply(&candidates, &policy, now, &tz);
    finish_output(ui, print_stdout(&render_plan(&texts, &decisions)))
}

fn find_job<'c>(ui: &Ui, path: &std::path::Path, config: &'c Config, name: &str) -> Result<&'c Job, ExitCode> {
    config.job(name).ok_or_else(|| {
        let names: Vec<&str> = config.jobs.iter().map(|j| j.name.as_str()).collect();
        ui.say(
            Level::Error,
            &format!(
                "no job named \"{name}\" in {} (jobs: {})",
                path.display(),
                names.join(", ")
            ),
        );
        ExitCode::from(1)
    })
}

/// The jobs a `backups` command is about: the one named, or all.
fn select_jobs<'c>(
    ui: &Ui,
    path: &std::path::Path,
    config: &'c Config,
    name: Option<&str>,
) -> Result<Vec<&'c Job>, ExitCode> {
    match name {
        Some(n) => Ok(vec![find_job(ui, path, config, n)?]),
        None => Ok(config.jobs.iter().collect()),
    }
}

fn human_size(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// `pgsnap run JOB`.
fn run_command(ui: &Ui, args: &pgsnap::cli::jobs::RunArgs) -> ExitCode {
    let (path, config) = match load_config(ui, args.config.config.as_deref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let job = match find_job(ui, &path, &config, &args.job) {
        Ok(j) => j.clone(),
        Err(code) => return code,
    };
    let state = match open_state(ui, &path, &config) {
        Ok(s) => s,
        Err(code) => return code,
    };
    execute(
        ui,
        &job,
        &state,
        pgsnap::jobs::Trigger::Manual,
        None,
        false,
        !args.no_prune,
    )
}

/// `pgsnap predeploy JOB --tag R [--keep D | --until-next] [-t PATTERN ...]`.
fn predeploy_command(ui: &Ui, args: &pgsnap::cli::jobs::PredeployArgs) -> ExitCode {
    let (path, config) = match load_config(ui, args.config.config.as_deref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut job = match find_job(ui, &path, &config, &args.job) {
        Ok(j) => j.clone(),
        Err(code) => return code,
    };
    let tag = args.tag.trim();
    if tag.is_empty() || tag.contains(['\n', '\r']) {
        ui.say(Level::Error, "--tag must be a non-empty single line");
        return ExitCode::from(1);
    }
    for p in &args.tables {
        if let Err(e) = pgsnap::select::pattern::check_dots(pgsnap::select::pattern::Kind::Table, p) {
            return ui.fail(&anyhow::Error::new(e));
        }
    }
    if !args.tables.is_empty() {
        job.select = pgsnap::config::Select {
            tables: args.tables.clone(),
            ..pgsnap::config::Select::default()
        };
    }
    let until = if args.until_next {
        None
    } else {
        let span = match pgsnap::retention::parse_span(args.keep.as_deref().unwrap_or("48h")) {
            Ok(s) => s,
            Err(e) => {
                ui.say(Level::Error, &format!("--keep: {e}"));
                return ExitCode::from(1);
            }
        };
        match jiff::Timestamp::now().to_zoned(job.time_zone.clone()).checked_add(span) {
            Ok(z) => Some(z.timestamp().to_string()),
            Err(e) => {
                ui.say(Level::Error, &format!("--keep: {e}"));
                return ExitCode::from(1);
            }
        }
    };
    let pin = pgsnap::jobs::PinRecord {
        tag: tag.to_string(),
        until,
    };
    let state = match open_state(ui, &path, &config) {
        Ok(s) => s,
        Err(code) => return code,
    };
    execute(
        ui,
        &job,
        &state,
        pgsnap::jobs::Trigger::Predeploy,
        Some(pin),
        args.until_next,
        true,
    )
}

/// Runs a job now under the stop signals, prints where the backup is, then (after a
/// success only) releases earlier `--until-next` pins and applies the retention.
fn execute(
    ui: &Ui,
    job: &Job,
    state: &pgsnap::jobs::StateDb,
    trigger: pgsnap::jobs::Trigger,
    pin: Option<pgsnap::jobs::PinRecord>,
    release_previous: bool,
    prune: bool,
) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return ui.fail(&anyhow::Error::new(e).context("could not start the runtime")),
    };
    let result = runtime.block_on(until_stopped(pgsnap::jobs::run_tracked(job, trigger, pin, state, None)));
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    let outcome = match result {
        Ok(o) => o,
        Err(e) => return ui.fail(&anyhow::Error::new(e)),
    };
    for d in &outcome.record.notifications {
        if d.outcome == pgsnap::notify::DeliveryOutcome::Failed {
            ui.say(
                Level::Warning,
                &format!(
                    "notifier \"{}\" ({}) failed after {} attempt(s): {}",
                    d.notifier,
                    d.channel,
                    d.attempts,
                    d.error.as_deref().unwrap_or("")
                ),
            );
        }
    }
    if let Some(e) = &outcome.error {
        ui.say(
            Level::Error,
            &format!(
                "job \"{}\" failed: {e}; recorded in {}; nothing pruned",
                job.name,
                outcome.record_path.display()
            ),
        );
        return ExitCode::from(1);
    }
    let r = &outcome.record;
    let mut out = format!(
        "backup {} ({} tables, {} rows, {}; {}, read by {})\n",
        outcome
            .archive_path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        r.tables.unwrap_or(0),
        r.rows.unwrap_or(0),
        human_size(r.size.unwrap_or(0)),
        r.archive_version
            .as_deref()
            .map(|v| format!("archive {v}"))
            .unwrap_or_default(),
        r.readers.as_deref().unwrap_or("?"),
    );
    if let Some(v) = &r.verification {
        out.push_str(&format!("verify {}\n", v.summary()));
    }
    if let Some(t) = &r.test_restore {
        out.push_str(&format!("test restore {}\n", t.summary()));
    }
    if let Some(s) = &r.schema {
        let dir = outcome.record_path.parent().unwrap_or(std::path::Path::new(""));
        out.push_str(&format!(
            "schema file {} (snapshot {} of {})\n",
            dir.join(&s.file).display(),
            r.snapshot.as_deref().unwrap_or("?"),
            r.snapshot_time.as_deref().unwrap_or("?")
        ));
        match &s.git {
            Some(g) if g.committed => out.push_str(&format!(
                "committed {} to {} as {}\n",
                g.file,
                g.work_tree,
                g.commit.as_deref().unwrap_or("?")
            )),
            Some(g) => out.push_str(&format!("{} in {} unchanged: no commit\n", g.file, g.work_tree)),
            None => {}
        }
    }
    for d in &r.destinations {
        match d.outcome {
            pgsnap::jobs::DestinationState::Committed => out.push_str(&format!(
                "committed on {} ({} in {:.1}s)\n",
                d.url,
                human_size(d.bytes),
                d.seconds
            )),
            pgsnap::jobs::DestinationState::Failed => ui.say(
                Level::Warning,
                &format!(
                    "destination {} failed (destination_policy = \"best-effort\"): {}",
                    d.url,
                    d.error.as_deref().unwrap_or("")
                ),
            ),
        }
    }
    for d in &r.notifications {
        if d.outcome == pgsnap::notify::DeliveryOutcome::Delivered {
            out.push_str(&format!("notified {} ({})\n", d.notifier, d.channel));
        }
    }
    out.push_str(&format!("record {}\n", outcome.record_path.display()));
    if let Some(p) = &r.pin {
        match &p.until {
            Some(u) => out.push_str(&format!("pinned as \"{}\" until {u}\n", p.tag)),
            None => out.push_str(&format!(
                "pinned as \"{}\" until the next successful predeploy --until-next\n",
                p.tag
            )),
        }
    }
    let now = jiff::Timestamp::now();
    if release_previous {
        match pgsnap::jobs::release_pins(job, &outcome.record_path, now) {
            Ok(released) => {
                for r in released {
                    out.push_str(&format!("released the pin of {r}\n"));
                }
            }
            Err(e) => {
                let _ = print_stdout(&out);
                return ui.fail(&anyhow::Error::new(e));
            }
        }
    }
    if !prune {
        return finish_output(ui, print_stdout(&out));
    }
    let mut lines = Vec::new();
    let pruned = pgsnap::jobs::prune(job, now, false, &mut |l| lines.push(l.to_string()));
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    match pruned {
        Ok(n) => {
            out.push_str(&format!("pruned {n} backup(s)\n"));
            // After a successful run only, as pruning.
            if let Err(e) = pgsnap::jobs::janitor(job, now, &mut |l| {
                out.push_str(l);
                out.push('\n');
            }) {
                ui.say(Level::Warning, &format!("janitor: {e}"));
            }
            finish_output(ui, print_stdout(&out))
        }
        Err(e) => {
            let _ = print_stdout(&out);
            ui.fail(&anyhow::Error::new(e))
        }
    }
}

/// The state directory's database: the configuration's `daemon.state_dir`, else the default.
fn open_state(ui: &Ui, path: &std::path::Path, config: &Config) -> Result<pgsnap::jobs::StateDb, ExitCode> {
    let dir = config.daemon.state_dir.clone().unwrap_or_else(|| {
        pgsnap::config::default_state_dir(path, std::env::var("XDG_STATE_HOME").ok(), std::env::var("HOME").ok())
    });
    pgsnap::jobs::StateDb::open(&dir).map_err(|e| {
        let hint = if config.daemon.state_dir.is_none() {
            format!(
                " (choose another with state_dir in the [daemon] table of {})",
                path.display()
            )
        } else {
            String::new()
        };
        ui.fail(&anyhow::Error::msg(format!("{e}{hint}")))
    })
}

/// The configuration's errors as the lines `load_config` prints.
fn config_error_lines(path: &std::path::Path, errors: &[pgsnap::config::ConfigError]) -> Vec<String> {
    errors
        .iter()
        .map(|e| {
            let key = if e.key.is_empty() {
                String::new()
            } else {
                format!("{}: ", e.key)
            };
            format!("{}:{}:{}: {key}{}", path.display(), e.line, e.column, e.message)
        })
        .collect()
}

/// `pgsnap daemon [-c FILE]`.
fn daemon_command(ui: &Ui, named: Option<&std::path::Path>) -> ExitCode {
    let (path, config) = match load_config(ui, named) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let state = match open_state(ui, &path, &config) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return ui.fail(&anyhow::Error::new(e).context("could not start the runtime")),
    };
    let reload_path = path.clone();
    let loader: pgsnap::jobs::daemon::Loader = Box::new(move || {
        let text = std::fs::read_to_string(&reload_path).map_err(|e| {
            vec![format!(
                "could not read configuration file \"{}\": {e}",
                reload_path.display()
            )]
        })?;
        pgsnap::config::parse(&text, &reload_path, jiff::Timestamp::now())
            .map_err(|errors| config_error_lines(&reload_path, &errors))
    });
    let result = runtime.block_on(async {
        use pgsnap::jobs::daemon::Control;
        use tokio::signal::unix::{SignalKind, signal};
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        for (name, kind) in [
            ("SIGTERM", SignalKind::terminate()),
            ("SIGINT", SignalKind::interrupt()),
            ("SIGHUP", SignalKind::hangup()),
        ] {
            let mut stream = signal(kind).map_err(|e| Error::io("could not install signal handlers", e))?;
            let tx = tx.clone();
            let message = if name == "SIGHUP" {
                Control::Reload
            } else {
                Control::Stop(name)
            };
            tokio::spawn(async move {
                while stream.recv().await.is_some() {
                    if tx.send(message.clone()).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        pgsnap::jobs::daemon::run_daemon(config, state, loader, rx).await
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => ui.fail(&anyhow::Error::new(e)),
    }
}

/// `pgsnap status [--json] [-c FILE]`.
fn status_command(ui: &Ui, named: Option<&std::path::Path>, json: bool) -> ExitCode {
    let (path, config) = match load_config(ui, named) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let state = match open_state(ui, &path, &config) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let now = jiff::Timestamp::now();
    let mut statuses = Vec::new();
    for job in &config.jobs {
        match pgsnap::jobs::status::job_status(job, &state, now) {
            Ok(s) => statuses.push(s),
            Err(e) => return ui.fail(&anyhow::Error::new(e)),
        }
    }
    let text = if json {
        match serde_json::to_string_pretty(&statuses) {
            Ok(s) => format!("{s}\n"),
            Err(e) => return ui.fail(&anyhow::Error::new(e)),
        }
    } else {
        pgsnap::jobs::status::render(&statuses)
    };
    finish_output(ui, print_stdout(&text))
}

/// `pgsnap backups list [JOB] [--json]`.
fn backups_list(ui: &Ui, config: Option<&std::path::Path>, name: Option<&str>, json: bool) -> ExitCode {
    let (path, config) = match load_config(ui, config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let jobs = match select_jobs(ui, &path, &config, name) {
        Ok(j) => j,
        Err(code) => return code,
    };
    let now = jiff::Timestamp::now();
    let mut text = String::new();
    let mut items = Vec::new();
    for &job in &jobs {
        let (listed, problems) = match pgsnap::jobs::scan(job) {
            Ok(s) => s,
            Err(e) => return ui.fail(&anyhow::Error::new(e)),
        };
        for p in &problems {
            ui.say(Level::Warning, p);
        }
        let verdicts = pgsnap::jobs::inventory(job, &listed, now);
        let failed = pgsnap::jobs::failed_checks(&listed);
        for l in &listed {
            let verdict = verdicts.iter().find(|v| v.listed.record_path == l.record_path);
            let failed_check = failed.iter().find(|f| f.listed.record_path == l.record_path);
            let rules: Vec<&str> = verdict
                .map(|v| v.rules.iter().map(|r| r.name()).collect())
                .unwrap_or_default();
            if json {
                let mut v = match serde_json::to_value(&l.record) {
                    Ok(v) => v,
                    Err(e) => return ui.fail(&anyhow::Error::new(e)),
                };
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("record_path".into(), l.record_path.display().to_string().into());
                    if let Some(a) = &l.archive_path {
                        obj.insert("archive_path".into(), a.display().to_string().into());
                    }
                    if verdict.is_some() {
                        obj.insert(
                            "retention".into(),
                            serde_json::json!({ "keep": !rules.is_empty(), "rules": rules }),
                        );
                    }
                    if let Some(f) = failed_check {
                        obj.insert(
                            "failed_check".into(),
                            serde_json::json!({ "reason": f.reason, "superseded": f.superseded }),
                        );
                    }
                }
                items.push(v);
                continue;
            }
            let decision = match (verdict, failed_check) {
                (Some(_), _) if rules.is_empty() => "forget (no rule keeps it)".to_string(),
                (Some(_), _) => format!("keep {}", rules.join(",")),
                (None, Some(f)) => format!(
                    "FAILED-CHECK not a backup, {}: {}",
                    if f.superseded {
                        "deleted by the next prune"
                    } else {
                        "kept until a newer good backup exists"
                    },
                    f.reason
                ),
                (None, None) => match &l.record.error {
                    Some(e) => format!("error: {e}"),
                    None => "archive missing".to_string(),
                },
            };
            let outcome = match l.record.outcome {
                pgsnap::jobs::Outcome::Succeeded => "succeeded",
                pgsnap::jobs::Outcome::Failed => "failed",
            };
            text.push_str(&format!(
                "{} {} {} {} {} {}\n",
                job.name,
                l.record.started,
                outcome,
                l.record.archive.as_deref().unwrap_or("-"),
                l.record.size.map(human_size).unwrap_or_else(|| "-".into()),
                decision
            ));
        }
    }
    for &job in &jobs {
        for d in &job.destinations {
            let mut warnings = Vec::new();
            let found = pgsnap::jobs::remote::block_on(async {
                let storage = pgsnap::storage::Storage::open(&d.location)?;
                pgsnap::jobs::remote::inventory(job, d, &storage, now, &mut |l: &str| warnings.push(l.to_string()))
                    .await
            });
            for w in &warnings {
                ui.say(Level::Warning, w.trim_start_matches("warning: "));
            }
            let backups = match found.and_then(|r| r) {
                Ok(b) => b,
                Err(e) => {
                    // One unreachable destination must not hide the others' backups.
                    ui.say(Level::Warning, &format!("{}: could not list: {e}", d.location));
                    continue;
                }
            };
            for b in backups {
                let rules: Vec<&str> = b.rules.iter().map(|r| r.name()).collect();
                if json {
                    items.push(serde_json::json!({
                        "job": job.name,
                        "destination": d.location.to_string(),
                        "archive": b.name,
                        "started": b.started.to_string(),
                        "size": b.size,
                        "retention": { "keep": !rules.is_empty(), "rules": rules },
                    }));
                    continue;
                }
                let decision = if rules.is_empty() {
                    "forget (no rule keeps it)".to_string()
                } else {
                    format!("keep {}", rules.join(","))
                };
                text.push_str(&format!(
                    "{} {} committed {} {} {decision} at {}\n",
                    job.name,
                    b.started,
                    b.name,
                    human_size(b.size),
                    d.location
                ));
            }
        }
    }
    if json {
        match serde_json::to_string_pretty(&items) {
            Ok(s) => text = format!("{s}\n"),
            Err(e) => return ui.fail(&anyhow::Error::new(e)),
        }
    }
    finish_output(ui, print_stdout(&text))
}

/// `pgsnap backups prune [JOB] [--dry-run]`.
fn backups_prune(ui: &Ui, config: Option<&std::path::Path>, name: Option<&str>, dry_run: bool) -> ExitCode {
    let (path, config) = match load_config(ui, config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let jobs = match select_jobs(ui, &path, &config, name) {
        Ok(j) => j,
        Err(code) => return code,
    };
    let now = jiff::Timestamp::now();
    let mut out = String::new();
    for job in jobs {
        let r = pgsnap::jobs::prune(job, now, dry_run, &mut |l| {
            out.push_str(l);
            out.push('\n');
        });
        match r {
            Ok(n) => {
                let verb = if dry_run { "would delete" } else { "deleted" };
                out.push_str(&format!("job {}: {verb} {n} backup(s)\n", job.name));
                if !dry_run {
                    let j = pgsnap::jobs::janitor(job, now, &mut |l| {
                        out.push_str(l);
                        out.push('\n');
                    });
                    if let Err(e) = j {
                        let _ = print_stdout(&out);
                        return ui.fail(&anyhow::Error::new(e));
                    }
                }
            }
            Err(e) => {
                let _ = print_stdout(&out);
                return ui.fail(&anyhow::Error::new(e));
            }
        }
    }
    finish_output(ui, print_stdout(&out))
}

/// Two glibc defaults cost the COPY path memory or time; a user's own `MALLOC_*` variable or
/// glibc tunable for a setting wins over ours.
///
/// - Arenas: glibc gives every thread that allocates an arena of its own, up to eight per
///   core, and each keeps the COPY blocks freed into it resident. Export workers, compression
///   threads and the writer each fill and free 1 MiB blocks, so at `-j 8` a third of peak RSS
///   was idle arenas (82 MB with gzip, 53 MB with two arenas, no slower).
/// - Thresholds: glibc's dynamic mmap threshold and 128 KiB trim threshold hand freed 1 MiB
///   blocks back to the kernel and fault them in again on the next block: a `-Fd -j 2 -Z 0`
///   dump of 1 GB took ~130 000 page faults, ~7 000 with blocks up to 4 MiB kept on the heap
///   and 16 MiB of free top kept, and ~10% less client CPU, for 3-8 MB more peak RSS.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn tune_malloc() {
    let tunables = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
    for (param, value) in malloc_settings(|name| std::env::var_os(name).is_some(), &tunables) {
        // SAFETY: mallopt only sets a parameter of glibc's allocator; it is called before any
        // other thread exists, and glibc serialises it with allocation anyway.
        unsafe {
            libc::mallopt(param, value);
        }
    }
}

/// The `mallopt` calls [`tune_malloc`] makes: each of ours unless the user set the same
/// parameter through its `MALLOC_*` variable (`env_set`) or `GLIBC_TUNABLES`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn malloc_settings(env_set: impl Fn(&str) -> bool, tunables: &str) -> Vec<(libc::c_int, libc::c_int)> {
    [
        ("MALLOC_ARENA_MAX", "glibc.malloc.arena_max", libc::M_ARENA_MAX, 2),
        (
            "MALLOC_MMAP_THRESHOLD_",
            "glibc.malloc.mmap_threshold",
            libc::M_MMAP_THRESHOLD,
            4 << 20,
        ),
        (
            "MALLOC_TRIM_THRESHOLD_",
            "glibc.malloc.trim_threshold",
            libc::M_TRIM_THRESHOLD,
            16 << 20,
        ),
    ]
    .into_iter()
    .filter(|(env, tunable, _, _)| !env_set(env) && !tunables.split(':').any(|t| t.split('=').next() == Some(*tunable)))
    .map(|(_, _, param, value)| (param, value))
    .collect()
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}

fn main() -> ExitCode {
    tune_malloc();
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

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod malloc_tests {
    use super::malloc_settings;

    #[test]
    fn ours_apply_unless_the_user_set_the_same_parameter() {
        let ours = malloc_settings(|_| false, "");
        assert_eq!(
            ours,
            vec![
                (libc::M_ARENA_MAX, 2),
                (libc::M_MMAP_THRESHOLD, 4 << 20),
                (libc::M_TRIM_THRESHOLD, 16 << 20)
            ]
        );
        let by_env = malloc_settings(|name| name == "MALLOC_TRIM_THRESHOLD_", "");
        assert_eq!(by_env, vec![(libc::M_ARENA_MAX, 2), (libc::M_MMAP_THRESHOLD, 4 << 20)]);
        let by_tunable = malloc_settings(
            |_| false,
            "glibc.malloc.check=0:glibc.malloc.arena_max=4:glibc.malloc.mmap_threshold=65536",
        );
        assert_eq!(by_tunable, vec![(libc::M_TRIM_THRESHOLD, 16 << 20)]);
        // A tunable that merely contains a parameter's name is another tunable.
        let other = malloc_settings(|_| false, "glibc.malloc.arena_max_x=1");
        assert_eq!(other.len(), 3);
    }
}
