//! The `pgsnap` command: argv → request, logging, runtime, exit codes (0 ok, 1 failure,
//! 2 usage error). The only place `anyhow` is used.

use std::process::ExitCode;

use clap::Parser;

/// pgsnap — a fast, parallel, snapshot-consistent replacement for pg_dump.
#[derive(Parser, Debug)]
#[command(name = "pgsnap", version, about, long_about = None)]
struct Cli {
    /// Increase logging (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
}

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
        .init();
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
    ExitCode::SUCCESS
}
