//! The library's one error type: a kind, a retry class, the server's SQLSTATE when there is
//! one, and context naming what was being touched (`schema.table`, a file, a dump id).

use std::fmt;

/// What went wrong, broadly; drives exit codes and retry decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad flags, patterns or settings given by the user (exit code 1, as every error).
    Usage,
    /// Connection string or connection settings could not be understood.
    Config,
    /// Could not reach or authenticate to the server.
    Connect,
    /// The server asked for a password and none was given (the caller may prompt and retry).
    PasswordRequired,
    /// The server answered a statement with an error.
    Server,
    /// A lock could not be obtained (NOWAIT refused, or --lock-wait-timeout expired).
    Lock,
    /// Reading or writing local files failed.
    Io,
    /// An archive could not be read: damaged, truncated or of an unsupported version.
    Archive,
    /// A destination (object store, remote or mounted directory) failed an operation.
    Storage,
    /// The requested combination cannot be written (e.g. zstd for pg_restore 14).
    Unsupported,
    /// Another part of the operation failed first and this one was stopped.
    Cancelled,
    /// A bug: an internal invariant did not hold.
    Internal,
}

/// Whether trying again may succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    Never,
    /// Transient: network drop, terminated backend, lock timeout.
    Maybe,
}

#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    retry: Retry,
    sqlstate: Option<String>,
    message: String,
    context: Vec<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    /// For I/O errors: what the OS said, as a kind (the text is in `message`).
    io_kind: Option<std::io::ErrorKind>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let retry = match kind {
            ErrorKind::Connect | ErrorKind::Lock => Retry::Maybe,
            _ => Retry::Never,
        };
        Error {
            kind,
            retry,
            sqlstate: None,
            message: message.into(),
            context: Vec::new(),
            source: None,
            io_kind: None,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    /// A failed file or stream operation: `what` and the OS's reason, said once (the
    /// `io::Error` is not kept as the source, whose text would repeat the reason).
    pub fn io(what: impl Into<String>, err: std::io::Error) -> Self {
        let what = what.into();
        let mut e = Self::new(ErrorKind::Io, format!("{what}: {}", describe_io(&err)));
        e.io_kind = Some(err.kind());
        e
    }

    pub fn archive(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Archive, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    pub fn cancelled(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Cancelled, message)
    }

    pub fn with_sqlstate(mut self, code: impl Into<String>) -> Self {
        self.sqlstate = Some(code.into());
        self
    }

    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Adds a line of context, outermost last (printed outermost first).
    pub fn context(mut self, ctx: impl Into<String>) -> Self {
        self.context.push(ctx.into());
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn retry(&self) -> Retry {
        self.retry
    }

    pub fn sqlstate(&self) -> Option<&str> {
        self.sqlstate.as_deref()
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// For I/O errors, the kind of the underlying failure (e.g. `BrokenPipe`).
    pub fn io_error_kind(&self) -> Option<std::io::ErrorKind> {
        self.io_kind
    }
}

fn describe_io(err: &std::io::Error) -> String {
    match err.raw_os_error() {
        // ENOSPC / EDQUOT: say it plainly, it is the usual cause of a failed dump.
        Some(28) => "no space left on device".to_string(),
        Some(122) => "disk quota exceeded".to_string(),
        _ => os_error_text(err),
    }
}

/// The OS's text for an I/O error, as C's `%m` prints it ("No such file or directory"),
/// without Rust's " (os error N)" suffix.
pub fn os_error_text(err: &std::io::Error) -> String {
    let text = err.to_string();
    match err.raw_os_error() {
        Some(code) => text
            .strip_suffix(&format!(" (os error {code})"))
            .map(str::to_string)
            .unwrap_or(text),
        None => text,
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for ctx in self.context.iter().rev() {
            write!(f, "{ctx}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(code) = &self.sqlstate {
            write!(f, " (SQLSTATE {code})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Adds context to any `Result<_, Error>`.
pub trait ResultExt<T> {
    fn context(self, ctx: impl Into<String>) -> Result<T>;
    fn with_context<C: Into<String>>(self, f: impl FnOnce() -> C) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T> {
    fn context(self, ctx: impl Into<String>) -> Result<T> {
        self.map_err(|e| e.context(ctx))
    }
    fn with_context<C: Into<String>>(self, f: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| e.context(f()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_puts_outer_context_first() {
        let e = Error::new(ErrorKind::Server, "relation does not exist")
            .with_sqlstate("42P01")
            .context("COPY public.t")
            .context("dumping data");
        assert_eq!(
            e.to_string(),
            "dumping data: COPY public.t: relation does not exist (SQLSTATE 42P01)"
        );
    }

    #[test]
    fn enospc_is_named_plainly() {
        let e = Error::io("writing /x/1.dat.gz", std::io::Error::from_raw_os_error(28));
        assert_eq!(e.to_string(), "writing /x/1.dat.gz: no space left on device");
        assert_eq!(e.kind(), ErrorKind::Io);
    }

    /// The reason is said once, whoever prints the error and its sources.
    #[test]
    fn io_errors_say_their_cause_once() {
        let e = Error::io("writing /x", std::io::Error::from_raw_os_error(28));
        assert_eq!(
            format!("{:#}", anyhow::Error::new(e)),
            "writing /x: no space left on device"
        );
        let e = Error::io("opening \"/y\"", std::io::Error::from_raw_os_error(2));
        assert_eq!(e.to_string(), "opening \"/y\": No such file or directory");
        assert!(std::error::Error::source(&e).is_none());
        let pipe = Error::io("writing to standard output", std::io::Error::from_raw_os_error(32));
        assert_eq!(pipe.io_error_kind(), Some(std::io::ErrorKind::BrokenPipe));
        let custom = std::io::Error::other("odd");
        assert_eq!(os_error_text(&custom), "odd");
    }

    #[test]
    fn connect_errors_may_be_retried() {
        assert_eq!(Error::new(ErrorKind::Connect, "x").retry(), Retry::Maybe);
        assert_eq!(Error::usage("x").retry(), Retry::Never);
    }
}
