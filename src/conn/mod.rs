//! libpq-compatible connection settings. tokio-postgres reads no `PG*` variables, no
//! `.pgpass`, no service file, and rejects libpq-only keywords, so this module does what
//! libpq does before it connects:
//!
//! - [`ConnInfo::parse`] reads `key=value` strings and `postgresql://` URIs;
//! - [`ConnSettings::resolve`] merges `-h/-p/-U/-d` flags ([`ConnOptions`]), a connection
//!   string given as `-d`, the service file entry named by `service=`/`PGSERVICE`, `PG*`
//!   variables (through the injectable [`Env`]) and defaults, with libpq's precedence;
//! - [`ConnSettings::target_configs`] builds one [`Endpoint`] per host: a
//!   `tokio_postgres::Config` with that host's password from the password file
//!   ([`PassFile`]), plus the TLS settings (`sslmode`, certificates, CRLs, keys), read once;
//!   `pg::Target::from_settings` connects through them with every libpq `sslmode`;
//! - [`PasswordPrompt`], [`tty_prompt`] and [`needs_password_retry`] give psql/pg_dump's
//!   `-w`/`-W`/prompt-when-asked behaviour.
//!
//! Typical use:
//!
//! ```no_run
//! # async fn f(opts: pgsnap::conn::ConnOptions) -> pgsnap::Result<()> {
//! use pgsnap::conn::{ConnSettings, PASSWORD_PROMPT, tty_prompt};
//! use pgsnap::pg::Target;
//! let mut settings = ConnSettings::from_process_env(&opts)?;
//! let result = Target::from_settings(&settings)?.connect().await;
//! if let Err(e) = &result
//!     && e.kind() == pgsnap::ErrorKind::PasswordRequired
//!     && opts.password_prompt == pgsnap::conn::PasswordPrompt::Auto
//! {
//!     settings.password = Some(tty_prompt(PASSWORD_PROMPT)?);
//!     // ... connect again with Target::from_settings(&settings)?
//! }
//! # Ok(()) }
//! ```

mod conninfo;
mod env;
mod pgpass;
mod resolve;
mod service;
mod settings;
pub(crate) mod tls;

#[cfg(test)]
mod tests;

pub use conninfo::{ConnInfo, looks_like_conninfo, quote_value};
pub use env::{ENV_VARS, Env, ProcessEnv};
pub use pgpass::{PassFile, Skipped};
pub use resolve::ConnOptions;
pub use settings::{
    ChannelBinding, ConnSettings, DEFAULT_APPLICATION_NAME, DEFAULT_PORT, Endpoint, Host, Keepalives, LoadBalanceHosts,
    SslCertMode, SslMode, SslNegotiation, Target, TargetSessionAttrs, TlsVersion,
};

use crate::error::{Error, Result};

/// The prompt pg_dump shows.
pub const PASSWORD_PROMPT: &str = "Password: ";

/// When to ask for a password on the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PasswordPrompt {
    /// `-w`: never; fail if the server wants a password and none was found.
    Never,
    /// `-W`: ask before connecting.
    Force,
    /// Neither flag: ask only after the server demanded a password we did not have.
    #[default]
    Auto,
}

impl PasswordPrompt {
    /// Whether a failed connection attempt should be retried after prompting: only in
    /// `Auto` mode and only when the server asked for a password that was not supplied
    /// (psql/pg_dump's `PQconnectionNeedsPassword` check).
    pub fn prompts_after(self, err: &tokio_postgres::Error) -> bool {
        self == PasswordPrompt::Auto && needs_password_retry(err)
    }
}

/// Reads a password from the terminal without echo. Kept apart so tests never touch a TTY;
/// resolution takes the prompting function as a parameter.
pub fn tty_prompt(prompt: &str) -> Result<String> {
    rpassword::prompt_password(prompt).map_err(|e| Error::io("reading the password from the terminal", e))
}

/// True when tokio-postgres failed because the server requested a password and the config
/// had none. tokio-postgres reports that as a configuration error whose cause reads
/// "password missing"; a wrong password is a server error (SQLSTATE 28P01) instead and is
/// not retried, as in psql.
pub fn needs_password_retry(err: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(err);
    while let Some(e) = source {
        if e.to_string() == "password missing" {
            return true;
        }
        source = e.source();
    }
    false
}
