//! Messages the way PostgreSQL's command-line programs print them (src/common/logging.c):
//! `prog: error: ...`, `prog: warning: ...`, `prog: detail: ...`, `prog: hint: ...`, and
//! unlabelled `prog: ...` lines for verbose narration; no timestamps. Colour only with
//! `PG_COLOR=always`, or `PG_COLOR=auto` on a terminal, in the `PG_COLORS` palette
//! (`error=01;31:warning=01;35:note=01;36:locus=01` by default). The formatting is pure;
//! [`PgLog`] is the tracing layer the binary installs.

use std::fmt::Write as _;
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

/// SGR codes for the parts of a message; a part without one is not coloured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Colors {
    pub error: Option<String>,
    pub warning: Option<String>,
    /// detail and hint labels.
    pub note: Option<String>,
    /// The program name.
    pub locus: Option<String>,
}

/// The palette for this process, or `None` for plain text (`pg_logging_init`).
pub fn colors_from_env(pg_color: Option<&str>, pg_colors: Option<&str>, stderr_is_terminal: bool) -> Option<Colors> {
    let on = match pg_color {
        Some("always") => true,
        Some("auto") => stderr_is_terminal,
        _ => false,
    };
    if !on {
        return None;
    }
    let Some(spec) = pg_colors else {
        return Some(Colors {
            error: Some("01;31".into()),
            warning: Some("01;35".into()),
            note: Some("01;36".into()),
            locus: Some("01".into()),
        });
    };
    let mut c = Colors::default();
    for item in spec.split(':') {
        if let Some((name, value)) = item.split_once('=') {
            let slot = match name {
                "error" => &mut c.error,
                "warning" => &mut c.warning,
                "note" => &mut c.note,
                "locus" => &mut c.locus,
                _ => continue,
            };
            *slot = Some(value.to_string());
        }
    }
    Some(c)
}

/// The kind of a message line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    /// Narration (`-v`) and debugging: no label.
    Info,
    Detail,
    Hint,
}

/// One message as logging.c prints it, ending in a newline (one trailing newline of the
/// message is dropped, as PQerrorMessage text ends in one).
pub fn line(prog: &str, level: Level, message: &str, colors: Option<&Colors>) -> String {
    let paint = |out: &mut String, sgr: Option<&String>, text: &str| match sgr {
        Some(code) => {
            let _ = write!(out, "\x1b[{code}m{text}\x1b[0m");
        }
        None => out.push_str(text),
    };
    let mut out = String::new();
    let c = colors.cloned().unwrap_or_default();
    match c.locus.as_ref() {
        Some(code) => {
            let _ = write!(out, "\x1b[{code}m{prog}: \x1b[0m");
        }
        None => {
            let _ = write!(out, "{prog}: ");
        }
    }
    match level {
        Level::Error => paint(&mut out, c.error.as_ref(), "error: "),
        Level::Warning => paint(&mut out, c.warning.as_ref(), "warning: "),
        Level::Detail => paint(&mut out, c.note.as_ref(), "detail: "),
        Level::Hint => paint(&mut out, c.note.as_ref(), "hint: "),
        Level::Info => {}
    }
    // Each further line of a message (its `detail:`/`hint:` lines) carries the program
    // name too, as logging.c prints every one of them.
    let mut lines = message.strip_suffix('\n').unwrap_or(message).split('\n');
    out.push_str(lines.next().unwrap_or_default());
    out.push('\n');
    for l in lines {
        let _ = writeln!(out, "{prog}: {l}");
    }
    out
}

/// The live progress display while one is shown (see [`super::display`]).
static DISPLAY: std::sync::Mutex<Option<indicatif::MultiProgress>> = std::sync::Mutex::new(None);

pub(crate) fn set_display(display: Option<indicatif::MultiProgress>) {
    *DISPLAY.lock().unwrap_or_else(|p| p.into_inner()) = display;
}

/// Writes to standard error, ignoring failure: a full or closed stderr must not turn a
/// message into a panic, and there is nowhere left to report it. A progress display shown
/// meanwhile is taken off the screen for the write and redrawn below it, so the message
/// stays whole.
pub fn to_stderr(text: &str) {
    let display = DISPLAY.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let write = || {
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    };
    match display {
        Some(d) => d.suspend(write),
        None => write(),
    }
}

/// A tracing layer printing events as PostgreSQL programs print messages.
pub struct PgLog {
    pub prog: String,
    pub colors: Option<Colors>,
}

#[derive(Default)]
struct Fields {
    message: String,
    rest: Vec<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.rest.push(format!("{}={value}", field.name()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.rest.push(format!("{}={value:?}", field.name()));
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for PgLog {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut f = Fields::default();
        event.record(&mut f);
        let meta = event.metadata();
        let level = match *meta.level() {
            tracing::Level::ERROR => Level::Error,
            tracing::Level::WARN => Level::Warning,
            _ => Level::Info,
        };
        let mut message = f.message;
        // Narration has no fields; other events say what they touched after the message.
        if !f.rest.is_empty() {
            let _ = write!(message, " ({})", f.rest.join(", "));
        }
        to_stderr(&line(&self.prog, level, &message, self.colors.as_ref()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines() {
        assert_eq!(line("pg_dump", Level::Error, "boom", None), "pg_dump: error: boom\n");
        assert_eq!(
            line("pgsnap", Level::Warning, "careful\n", None),
            "pgsnap: warning: careful\n"
        );
        assert_eq!(
            line("pgsnap", Level::Info, "reading schemas", None),
            "pgsnap: reading schemas\n"
        );
        assert_eq!(
            line(
                "pg_dump",
                Level::Hint,
                "Try \"pg_dump --help\" for more information.",
                None
            ),
            "pg_dump: hint: Try \"pg_dump --help\" for more information.\n"
        );
        assert_eq!(line("p", Level::Detail, "x", None), "p: detail: x\n");
    }

    #[test]
    fn colour_only_when_asked() {
        assert_eq!(
            colors_from_env(None, None, true),
            None,
            "unset PG_COLOR means no colour"
        );
        assert_eq!(colors_from_env(Some("auto"), None, false), None);
        assert_eq!(colors_from_env(Some("never"), None, true), None);
        assert!(colors_from_env(Some("auto"), None, true).is_some());
        let c = colors_from_env(Some("always"), None, false).unwrap();
        assert_eq!(
            line("pg_dump", Level::Error, "boom", Some(&c)),
            "\x1b[01mpg_dump: \x1b[0m\x1b[01;31merror: \x1b[0mboom\n"
        );
        let c = colors_from_env(Some("always"), Some("error=07:bogus=1:locus"), false).unwrap();
        assert_eq!(c.error.as_deref(), Some("07"));
        assert_eq!((c.warning, c.locus), (None, None));
        assert_eq!(
            line(
                "pg_dump",
                Level::Warning,
                "w",
                Some(&colors_from_env(Some("always"), Some("error=1"), true).unwrap())
            ),
            "pg_dump: warning: w\n"
        );
    }
}
