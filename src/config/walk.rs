//! The walker: each table's keys checked against the keys it may hold, each value against
//! its type and meaning, every problem collected with its span.

use std::ops::Range;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::*;
use crate::conn::{ConnInfo, quote_value};
use crate::retention::parse_span;
use crate::select::pattern::{Kind, check_dots};

mod extra;

type Value<'i> = Spanned<DeValue<'i>>;

struct Walker<'s> {
    src: &'s str,
    errors: Vec<ConfigError>,
}

impl Walker<'_> {
    fn err(&mut self, span: Range<usize>, key: &str, message: impl Into<String>) {
        let at = span.start.min(self.src.len());
        let before = &self.src[..at];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        self.errors.push(ConfigError {
            line,
            column,
            key: key.to_string(),
            message: message.into(),
        });
    }

    /// Reports keys of `table` not in `allowed`.
    fn known(&mut self, table: &DeTable<'_>, path: &str, allowed: &[&str]) {
        for (k, _) in table.iter() {
            if !allowed.contains(&k.get_ref().as_ref()) {
                let key = join(path, k.get_ref());
                let hint = if k.get_ref().as_ref() == "passphrase" {
                    "secrets are never written inline: use passphrase_file (a file whose first line is the passphrase)"
                        .to_string()
                } else if matches!(k.get_ref().as_ref(), "password" | "url" | "bot_token" | "hmac_secret") {
                    format!(
                        "secrets are never written inline: use {0}_env (an environment variable) or {0}_file (a file)",
                        k.get_ref()
                    )
                } else {
                    format!("unknown key (expected one of: {})", allowed.join(", "))
                };
                self.err(k.span(), &key, hint);
            }
        }
    }

    fn type_err(&mut self, v: &Value<'_>, key: &str, expected: &str) {
        let found = v.get_ref().type_str();
        self.err(v.span(), key, format!("expected {expected}, found {found}"));
    }

    fn string(&mut self, t: &DeTable<'_>, path: &str, name: &str) -> Option<(String, Range<usize>)> {
        let v = t.get(name)?;
        let key = join(path, name);
        match v.get_ref().as_str() {
            Some(s) => Some((s.to_string(), v.span())),
            None => {
                self.type_err(v, &key, "a string");
                None
            }
        }
    }

    /// A non-empty string.
    fn text(&mut self, t: &DeTable<'_>, path: &str, name: &str) -> Option<(String, Range<usize>)> {
        let (s, span) = self.string(t, path, name)?;
        if s.trim().is_empty() {
            self.err(span, &join(path, name), "must not be empty");
            return None;
        }
        Some((s, span))
    }

    fn uint(&mut self, t: &DeTable<'_>, path: &str, name: &str, max: u64) -> Option<(u64, Range<usize>)> {
        let v = t.get(name)?;
        let key = join(path, name);
        let Some(i) = v.get_ref().as_integer() else {
            self.type_err(v, &key, "an integer");
            return None;
        };
        let digits: String = i.as_str().chars().filter(|c| *c != '_').collect();
        match i64::from_str_radix(&digits, i.radix()) {
            Ok(n) if n >= 0 && n as u64 <= max => Some((n as u64, v.span())),
            _ => {
                self.err(v.span(), &key, format!("must be an integer from 0 to {max}"));
                None
            }
        }
    }

    fn boolean(&mut self, t: &DeTable<'_>, path: &str, name: &str) -> Option<bool> {
        let v = t.get(name)?;
        match v.get_ref().as_bool() {
            Some(b) => Some(b),
            None => {
                self.type_err(v, &join(path, name), "true or false");
                None
            }
        }
    }

    /// An array of non-empty strings, each with its span.
    fn strings(&mut self, t: &DeTable<'_>, path: &str, name: &str) -> Vec<(String, Range<usize>)> {
        let Some(v) = t.get(name) else { return Vec::new() };
        let key = join(path, name);
        let Some(items) = v.get_ref().as_array() else {
            self.type_err(v, &key, "an array of strings");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (n, item) in items.iter().enumerate() {
            let ikey = format!("{key}[{n}]");
            match item.get_ref().as_str() {
                Some(s) if !s.trim().is_empty() => out.push((s.to_string(), item.span())),
                Some(_) => self.err(item.span(), &ikey, "must not be empty"),
                None => self.type_err(item, &ikey, "a string"),
            }
        }
        out
    }

    /// A duration of hours, minutes, seconds (days count 24 hours; months and years, whose
    /// length varies, are refused). `zero_ok`: `0s` is allowed.
    fn fixed_duration(
        &mut self,
        t: &DeTable<'_>,
        path: &str,
        name: &str,
        zero_ok: bool,
    ) -> Option<std::time::Duration> {
        let (s, span) = self.text(t, path, name)?;
        let key = join(path, name);
        let parsed: Result<jiff::Span, String> = s
            .trim()
            .parse()
            .map_err(|e| format!("invalid duration \"{s}\": {e} (examples: 30s, 5m, 2h)"));
        let d = parsed.and_then(|sp| {
            sp.to_duration(jiff::SpanRelativeTo::days_are_24_hours())
                .map_err(|_| format!("invalid duration \"{s}\": use seconds, minutes, hours or days"))
        });
        match d {
            Ok(d) if d.is_negative() || (d.is_zero() && !zero_ok) => {
                self.err(span, &key, format!("invalid duration \"{s}\": must be positive"));
                None
            }
            Ok(d) => match std::time::Duration::try_from(d) {
                Ok(d) => Some(d),
                Err(_) => {
                    self.err(span, &key, format!("invalid duration \"{s}\""));
                    None
                }
            },
            Err(e) => {
                self.err(span, &key, e);
                None
            }
        }
    }

    fn table<'a, 'i>(&mut self, t: &'a DeTable<'i>, path: &str, name: &str) -> Option<&'a DeTable<'i>> {
        let v = t.get(name)?;
        match v.get_ref().as_table() {
            Some(t) => Some(t),
            None => {
                self.type_err(v, &join(path, name), "a table");
                None
            }
        }
    }

    /// `NAME_env` / `NAME_file`: exactly one when `required`, at most one otherwise.
    fn secret(
        &mut self,
        t: &DeTable<'_>,
        path: &str,
        name: &str,
        required: bool,
        base: &Path,
        at: Range<usize>,
    ) -> Option<Secret> {
        let env_key = format!("{name}_env");
        let file_key = format!("{name}_file");
        let env = self.text(t, path, &env_key);
        let file = self.text(t, path, &file_key);
        match (env, file) {
            (Some(_), Some((_, span))) => {
                self.err(
                    span,
                    &join(path, &file_key),
                    format!("give either {env_key} or {file_key}, not both"),
                );
                None
            }
            (Some((e, _)), None) => Some(Secret::Env(e)),
            (None, Some((f, _))) => Some(Secret::File(resolve_path(base, &f))),
            (None, None) => {
                if required
                    && !t.contains_key(env_key.as_str())
                    && !t.contains_key(file_key.as_str())
                    && !t.contains_key(name)
                {
                    self.err(
                        at,
                        &join(path, &env_key),
                        format!("missing: set {env_key} or {file_key}"),
                    );
                }
                None
            }
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn resolve_path(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() { p.to_path_buf() } else { base.join(p) }
}

const JOB_KEYS: &[&str] = &[
    "source",
    "content",
    "format",
    "compression",
    "parallel",
    "split_tables_larger_than",
    "owners",
    "privileges",
    "select",
    "destination",
    "destinations",
    "destination_policy",
    "abandoned_after",
    "schedule",
    "timezone",
    "retention",
    "notify",
    "missed",
    "jitter",
    "encrypt_to",
    "encrypt_to_file",
    "passphrase_file",
    "verify",
    "schema_file",
];
const DAEMON_KEYS: &[&str] = &["state_dir", "grace_period"];
const SOURCE_KEYS: &[&str] = &[
    "conninfo",
    "host",
    "port",
    "user",
    "dbname",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "application_name",
    "password_env",
    "password_file",
];
const SELECT_KEYS: &[&str] = &[
    "schemas",
    "exclude_schemas",
    "tables",
    "exclude_tables",
    "exclude_table_data",
];
const RETENTION_KEYS: &[&str] = &[
    "keep_last",
    "keep_hourly",
    "keep_daily",
    "keep_weekly",
    "keep_monthly",
    "keep_yearly",
    "keep_within",
];
const DESTINATION_KEYS: &[&str] = &["url", "retention"];
const NOTIFY_KEYS: &[&str] = &["on_failure", "on_success", "overdue", "overdue_after"];
const VERIFY_KEYS: &[&str] = &["enabled", "identity_file", "restore"];
/// Keys every notifier may hold besides its type's own.
const NOTIFIER_COMMON_KEYS: &[&str] = &["type", "attempts", "tls_ca_file"];
/// Most tries of one notification.
const MAX_ATTEMPTS: u64 = 10;

/// Parses `text` (the file at `path`, whose directory relative paths are taken from).
/// `now` is when the schedules' next runs are computed from.
pub fn parse(text: &str, path: &Path, now: Timestamp) -> Result<Config, Vec<ConfigError>> {
    let mut w = Walker {
        src: text,
        errors: Vec::new(),
    };
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let doc = match DeTable::parse(text) {
        Ok(d) => d,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            // The parser's own words, without its rendering of the line.
            let message = e.message().trim().to_string();
            w.err(span, "", format!("invalid TOML: {message}"));
            return Err(w.errors);
        }
    };
    let doc = doc.get_ref();
    w.known(doc, "", &["jobs", "notifiers", "daemon"]);

    let mut daemon = DaemonSettings::default();
    if let Some(d) = w.table(doc, "", "daemon") {
        w.known(d, "daemon", DAEMON_KEYS);
        if let Some((dir, _)) = w.text(d, "daemon", "state_dir") {
            daemon.state_dir = Some(resolve_path(&base, &dir));
        }
        if let Some(g) = w.fixed_duration(d, "daemon", "grace_period", true) {
            daemon.grace_period = g;
        }
    }

    let mut notifiers = Vec::new();
    if let Some(ns) = w.table(doc, "", "notifiers") {
        for (name, v) in ns.iter() {
            let path = format!("notifiers.{}", name.get_ref());
            check_name(&mut w, name.get_ref(), name.span(), &path);
            let Some(t) = v.get_ref().as_table() else {
                w.type_err(v, &path, "a table");
                continue;
            };
            let attempts = match w.uint(t, &path, "attempts", MAX_ATTEMPTS) {
                Some((0, span)) => {
                    w.err(span, &join(&path, "attempts"), "must be at least 1");
                    None
                }
                Some((n, _)) => Some(n as u32),
                None => Some(3),
            };
            let tls_ca_file = w.text(t, &path, "tls_ca_file").map(|(f, _)| resolve_path(&base, &f));
            if let (Some(kind), Some(attempts)) = (notifier(&mut w, t, &path, v.span(), &base), attempts) {
                notifiers.push(Notifier {
                    name: name.get_ref().to_string(),
                    kind,
                    attempts,
                    tls_ca_file,
                });
            }
        }
    }

    let mut jobs = Vec::new();
    match w.table(doc, "", "jobs") {
        Some(js) if !js.is_empty() => {
            for (name, v) in js.iter() {
                let path = format!("jobs.{}", name.get_ref());
                check_name(&mut w, name.get_ref(), name.span(), &path);
                let Some(t) = v.get_ref().as_table() else {
                    w.type_err(v, &path, "a table");
                    continue;
                };
                if let Some(job) = job(&mut w, name.get_ref(), t, &path, v.span(), &base, &notifiers, now) {
                    jobs.push(job);
                }
            }
        }
        Some(_) => {
            let span = doc.get("jobs").map_or(0..0, |v| v.span());
            w.err(span, "jobs", "no job is defined (add a [jobs.NAME] table)");
        }
        None if !doc.contains_key("jobs") && w.errors.is_empty() => {
            w.err(0..0, "jobs", "no job is defined (add a [jobs.NAME] table)")
        }
        None => {}
    }

    if w.errors.is_empty() {
        Ok(Config {
            jobs,
            notifiers,
            daemon,
        })
    } else {
        w.errors.sort_by_key(|e| (e.line, e.column));
        Err(w.errors)
    }
}

/// Job and notifier names become file names and command arguments.
fn check_name(w: &mut Walker<'_>, name: &str, span: Range<usize>, path: &str) {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !name.starts_with('-');
    if !ok {
        w.err(
            span,
            path,
            "names may only hold letters, digits, '-' and '_' (at most 64, not starting with '-')",
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn job(
    w: &mut Walker<'_>,
    name: &str,
    t: &DeTable<'_>,
    path: &str,
    at: Range<usize>,
    base: &Path,
    notifiers: &[Notifier],
    now: Timestamp,
) -> Option<Job> {
    let before = w.errors.len();
    w.known(t, path, JOB_KEYS);

    let source = match w.table(t, path, "source") {
        Some(s) => source(
            w,
            s,
            &join(path, "source"),
            t.get("source").map_or(at.clone(), |v| v.span()),
            base,
            None,
        ),
        None => {
            if !t.contains_key("source") {
                w.err(
                    at.clone(),
                    &join(path, "source"),
                    "missing: where to connect ([jobs.NAME.source])",
                );
            }
            None
        }
    };

    let content = match w.string(t, path, "content") {
        None => Some(Content::Full),
        Some((s, span)) => match s.as_str() {
            "full" => Some(Content::Full),
            "schema-only" => Some(Content::SchemaOnly),
            "data-only" => Some(Content::DataOnly),
            _ => {
                w.err(
                    span,
                    &join(path, "content"),
                    format!("\"{s}\" is not one of full, schema-only, data-only"),
                );
                None
            }
        },
    };
    let format = match w.string(t, path, "format") {
        None => Some(OutputFormat::Custom),
        Some((s, span)) => match s.as_str() {
            "custom" | "c" => Some(OutputFormat::Custom),
            "directory" | "d" => Some(OutputFormat::Directory),
            "tar" | "t" => Some(OutputFormat::Tar),
            "plain" | "p" => Some(OutputFormat::Plain),
            _ => {
                w.err(
                    span,
                    &join(path, "format"),
                    format!("\"{s}\" is not one of custom, directory, tar, plain"),
                );
                None
            }
        },
    };
    let compression = w.text(t, path, "compression");
    let parallel = w.uint(t, path, "parallel", 256).map(|(n, span)| (n as u32, span));
    if let Some((0, span)) = &parallel {
        w.err(span.clone(), &join(path, "parallel"), "must be at least 1");
    }
    if let (Some((n, span)), Some(f)) = (&parallel, format)
        && *n > 1
        && f == OutputFormat::Plain
    {
        // As `pgsnap dump`: custom and tar take data from parallel workers; only a plain
        // script (each table's rows in one place, in order) is refused.
        w.err(
            span.clone(),
            &join(path, "parallel"),
            "parallel backup only supported by the directory format",
        );
    }
    // Checked here so the error names this key; the size is passed on as given.
    let split_tables_larger_than = w.text(t, path, "split_tables_larger_than");
    if let Some((size, span)) = &split_tables_larger_than
        && let Err(e) = crate::cli::split::parse_split_size(size)
    {
        w.err(span.clone(), &join(path, "split_tables_larger_than"), e);
    }
    let owners = w.boolean(t, path, "owners").unwrap_or(true);
    let privileges = w.boolean(t, path, "privileges").unwrap_or(true);

    let mut select = Select::default();
    if let Some(s) = w.table(t, path, "select") {
        let sp = join(path, "select");
        w.known(s, &sp, SELECT_KEYS);
        let pats = |w: &mut Walker<'_>, key: &str, kind: Kind| -> Vec<String> {
            let list = w.strings(s, &sp, key);
            let mut out = Vec::new();
            for (n, (p, span)) in list.into_iter().enumerate() {
                // pg_dump's own check of the dotted parts (the rest is decided against the
                // server, as pg_dump does).
                if let Err(e) = check_dots(kind, &p) {
                    w.err(span, &format!("{sp}.{key}[{n}]"), e.to_string());
                }
                out.push(p);
            }
            out
        };
        select.schemas = pats(w, "schemas", Kind::Schema);
        select.exclude_schemas = pats(w, "exclude_schemas", Kind::Schema);
        select.tables = pats(w, "tables", Kind::Table);
        select.exclude_tables = pats(w, "exclude_tables", Kind::Table);
        select.exclude_table_data = pats(w, "exclude_table_data", Kind::Table);
    }

    let destination = match w.text(t, path, "destination") {
        Some((d, _)) => Some(resolve_path(base, &d)),
        None => {
            if !t.contains_key("destination") {
                w.err(
                    at.clone(),
                    &join(path, "destination"),
                    "missing: the directory backups go to",
                );
            }
            None
        }
    };

    let (time_zone, time_zone_name) = match w.text(t, path, "timezone") {
        None => (TimeZone::UTC, "UTC".to_string()),
        Some((z, span)) => match TimeZone::get(&z) {
            Ok(tz) => (tz, z),
            Err(_) => {
                w.err(
                    span,
                    &join(path, "timezone"),
                    format!("unknown time zone \"{z}\" (an IANA name such as Europe/Berlin)"),
                );
                (TimeZone::UTC, z)
            }
        },
    };

    let schedule = w.cron(t, path, "schedule", &time_zone, now);

    let retention = match w.table(t, path, "retention") {
        None => Some(Policy::gfs()),
        Some(r) => retention(
            w,
            r,
            &join(path, "retention"),
            t.get("retention").map_or(at.clone(), |v| v.span()),
        ),
    };
    let destinations = destinations(w, t, path, destination.as_deref(), retention.as_ref());
    let destination_policy = match w.string(t, path, "destination_policy") {
        None => Some(DestinationPolicy::All),
        Some((s, span)) => match s.as_str() {
            "all" => Some(DestinationPolicy::All),
            "best-effort" => Some(DestinationPolicy::BestEffort),
            _ => {
                w.err(
                    span,
                    &join(path, "destination_policy"),
                    format!("\"{s}\" is not one of all, best-effort"),
                );
                None
            }
        },
    };
    let abandoned_after = w
        .fixed_duration(t, path, "abandoned_after", false)
        .unwrap_or(DEFAULT_ABANDONED_AFTER);

    let mut notify = Notify::default();
    let mut overdue_after = None;
    if let Some(n) = w.table(t, path, "notify") {
        let np = join(path, "notify");
        w.known(n, &np, NOTIFY_KEYS);
        for (key, slot) in [
            ("on_failure", &mut notify.on_failure),
            ("on_success", &mut notify.on_success),
            ("overdue", &mut notify.overdue),
        ] {
            for (i, (name, span)) in w.strings(n, &np, key).into_iter().enumerate() {
                if !notifiers.iter().any(|x| x.name == name) {
                    w.err(
                        span,
                        &format!("{np}.{key}[{i}]"),
                        format!("no notifier named \"{name}\" (define [notifiers.{name}])"),
                    );
                }
                slot.push(name);
            }
        }
        if let Some((s, span)) = w.text(n, &np, "overdue_after") {
            match parse_span(&s) {
                Ok(d) => overdue_after = Some(d),
                Err(e) => w.err(span, &join(&np, "overdue_after"), e),
            }
        }
        if !notify.overdue.is_empty() && overdue_after.is_none() && schedule.is_none() {
            w.err(
                n_span(t, at.clone()),
                &join(&np, "overdue"),
                "needs a schedule or overdue_after to know when a run is late",
            );
        }
    }

    let missed = match w.string(t, path, "missed") {
        None => Some(Missed::RunOnce),
        Some((s, span)) => match s.as_str() {
            "run-once" => Some(Missed::RunOnce),
            "skip" => Some(Missed::Skip),
            _ => {
                w.err(
                    span,
                    &join(path, "missed"),
                    format!("\"{s}\" is not one of run-once, skip"),
                );
                None
            }
        },
    };
    let jitter = w.fixed_duration(t, path, "jitter", true).unwrap_or_default();
    for key in ["missed", "jitter"] {
        if schedule.is_none()
            && !t.contains_key("schedule")
            && let Some(v) = t.get(key)
        {
            w.err(v.span(), &join(path, key), "only a job with a schedule has one");
        }
    }
    let encryption = encryption(w, t, path, base);
    let verify = verification(w, t, path, base, at.clone(), &encryption, format, (&time_zone, now));
    let schema_file = extra::schema_file(w, t, path, base);
    let job_notifiers: Vec<Notifier> = notifiers
        .iter()
        .filter(|n| {
            [&notify.on_failure, &notify.on_success, &notify.overdue]
                .iter()
                .any(|l| l.contains(&n.name))
        })
        .cloned()
        .collect();

    let job = Job {
        name: name.to_string(),
        source: source?,
        content: content?,
        format: format?,
        compression: compression.as_ref().map(|(c, _)| c.clone()),
        parallel: parallel.as_ref().map_or(1, |(n, _)| (*n).max(1)),
        split_tables_larger_than: split_tables_larger_than.map(|(size, _)| size),
        owners,
        privileges,
        select,
        destination: destination?,
        destinations: destinations?,
        destination_policy: destination_policy?,
        abandoned_after,
        schedule,
        time_zone,
        time_zone_name,
        retention: retention?,
        notify,
        overdue_after,
        missed: missed?,
        jitter,
        notifiers: job_notifiers,
        encryption,
        verify: verify?,
        schema_file: schema_file.ok()?,
    };
    if w.errors.len() != before {
        return None;
    }
    // The combination, checked by the dump command's own parser (format × compression ×
    // parallel × content), so a job accepts exactly what `pgsnap dump` accepts.
    let args = job.dump_args(Path::new("/nonexistent/pgsnap-config-check"));
    if let Err(e) = crate::cli::dump::parse(&args, &mut |_| {
        Err(crate::cli::FilterReadError::Open(std::io::Error::other(
            "no filter files in jobs",
        )))
    }) {
        let (key, span) = if let Some((_, span)) = &compression {
            (join(path, "compression"), span.clone())
        } else if let Some((_, span)) = &parallel {
            (join(path, "parallel"), span.clone())
        } else {
            (path.to_string(), at)
        };
        w.err(span, &key, e.to_string());
        return None;
    }
    Some(job)
}

/// A `retention` table (`rp` its full key, `at` its span): the keep rules it gives.
fn retention(w: &mut Walker<'_>, r: &DeTable<'_>, rp: &str, at: Range<usize>) -> Option<Policy> {
    let before = w.errors.len();
    w.known(r, rp, RETENTION_KEYS);
    let mut p = Policy::default();
    let max = u64::from(u32::MAX);
    for (key, slot) in [
        ("keep_last", &mut p.last),
        ("keep_hourly", &mut p.hourly),
        ("keep_daily", &mut p.daily),
        ("keep_weekly", &mut p.weekly),
        ("keep_monthly", &mut p.monthly),
        ("keep_yearly", &mut p.yearly),
    ] {
        if let Some((n, _)) = w.uint(r, rp, key, max) {
            *slot = n as u32;
        }
    }
    if let Some((s, span)) = w.text(r, rp, "keep_within") {
        match parse_span(&s) {
            Ok(span) => p.within = Some(span),
            Err(e) => w.err(span, &join(rp, "keep_within"), e),
        }
    }
    if !p.keeps_anything() && w.errors.len() == before {
        w.err(
            at,
            rp,
            "this policy keeps nothing: every backup would be deleted (give a keep_* rule)",
        );
    }
    (w.errors.len() == before).then_some(p)
}

/// `[[jobs.NAME.destinations]]`: each a `url` (as `pgsnap dump --to` takes it) and an
/// optional `retention` (default: the job's). `local` is the job's own directory, which no
/// destination may repeat.
fn destinations(
    w: &mut Walker<'_>,
    t: &DeTable<'_>,
    path: &str,
    local: Option<&Path>,
    job_retention: Option<&Policy>,
) -> Option<Vec<Destination>> {
    let Some(v) = t.get("destinations") else {
        return Some(Vec::new());
    };
    let key = join(path, "destinations");
    let Some(items) = v.get_ref().as_array() else {
        w.type_err(v, &key, "an array of tables ([[jobs.NAME.destinations]])");
        return None;
    };
    let before = w.errors.len();
    let mut out: Vec<Destination> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let ikey = format!("{key}[{i}]");
        let Some(d) = item.get_ref().as_table() else {
            w.type_err(item, &ikey, "a table");
            continue;
        };
        w.known(d, &ikey, DESTINATION_KEYS);
        let location = match w.text(d, &ikey, "url") {
            None => {
                if !d.contains_key("url") {
                    w.err(
                        item.span(),
                        &join(&ikey, "url"),
                        "missing: where the backups go (file:///path, s3://bucket/prefix)",
                    );
                }
                None
            }
            Some((u, span)) => match crate::storage::Location::parse(&u) {
                Err(e) => {
                    w.err(span, &join(&ikey, "url"), e.to_string());
                    None
                }
                Ok(loc) => {
                    if out.iter().any(|o| o.location == loc) {
                        w.err(
                            span.clone(),
                            &join(&ikey, "url"),
                            format!("destination \"{loc}\" is given twice"),
                        );
                    }
                    if let (crate::storage::Location::Fs { root }, Some(l)) = (&loc, local)
                        && Path::new(root) == l
                    {
                        w.err(
                            span.clone(),
                            &join(&ikey, "url"),
                            "is the job's own directory (destination); name another place",
                        );
                    }
                    Some((u, loc))
                }
            },
        };
        let policy = match w.table(d, &ikey, "retention") {
            None => job_retention.cloned(),
            Some(r) => retention(
                w,
                r,
                &join(&ikey, "retention"),
                d.get("retention").map_or(item.span(), |v| v.span()),
            ),
        };
        if let (Some((url, location)), Some(retention)) = (location, policy) {
            out.push(Destination {
                url,
                location,
                retention,
            });
        }
    }
    (w.errors.len() == before).then_some(out)
}

/// `encrypt_to`, `encrypt_to_file`, `passphrase_file`: as `pgsnap dump` takes them.
fn encryption(w: &mut Walker<'_>, t: &DeTable<'_>, path: &str, base: &Path) -> Encryption {
    let mut e = Encryption::default();
    for (i, (r, span)) in w.strings(t, path, "encrypt_to").into_iter().enumerate() {
        if let Err(err) = crate::crypt::recipients::parse_recipient(&r) {
            w.err(span, &format!("{}[{i}]", join(path, "encrypt_to")), err.to_string());
        }
        e.recipients.push(r);
    }
    // One file or several.
    match t.get("encrypt_to_file").map(|v| v.get_ref()) {
        Some(DeValue::Array(_)) => {
            e.recipient_files = w
                .strings(t, path, "encrypt_to_file")
                .into_iter()
                .map(|(f, _)| resolve_path(base, &f))
                .collect();
        }
        Some(_) => {
            if let Some((f, _)) = w.text(t, path, "encrypt_to_file") {
                e.recipient_files.push(resolve_path(base, &f));
            }
        }
        None => {}
    }
    if let Some((f, span)) = w.text(t, path, "passphrase_file") {
        e.passphrase_file = Some(resolve_path(base, &f));
        if !e.recipients.is_empty() || !e.recipient_files.is_empty() {
            w.err(
                span,
                &join(path, "passphrase_file"),
                "a passphrase cannot be combined with recipients (encrypt_to, encrypt_to_file): an age file is \
                 encrypted to one or the other",
            );
        }
    }
    e
}

/// `[jobs.NAME.verify]`: `enabled`, `identity_file` (one or several), `restore` (a server,
/// and the schedule of the test restores when they do not follow each run).
#[allow(clippy::too_many_arguments)]
fn verification(
    w: &mut Walker<'_>,
    t: &DeTable<'_>,
    path: &str,
    base: &Path,
    at: Range<usize>,
    encryption: &Encryption,
    format: Option<OutputFormat>,
    (time_zone, now): (&TimeZone, Timestamp),
) -> Option<Verification> {
    let mut v = Verification::default();
    let Some(vt) = w.table(t, path, "verify") else {
        return (!t.contains_key("verify")).then_some(v);
    };
    let before = w.errors.len();
    let vp = join(path, "verify");
    let vspan = t.get("verify").map_or(at, |x| x.span());
    w.known(vt, &vp, VERIFY_KEYS);
    v.enabled = w.boolean(vt, &vp, "enabled").unwrap_or(true);
    let ids: Vec<(String, Range<usize>)> = match vt.get("identity_file").map(|x| x.get_ref()) {
        Some(DeValue::Array(_)) => w.strings(vt, &vp, "identity_file"),
        Some(_) => w.text(vt, &vp, "identity_file").into_iter().collect(),
        None => Vec::new(),
    };
    if let Some((_, span)) = ids.first() {
        if encryption.passphrase_file.is_some() {
            w.err(
                span.clone(),
                &join(&vp, "identity_file"),
                "this job is encrypted with a passphrase file, which is also what decrypts it: leave identity_file out",
            );
        } else if !encryption.is_set() {
            w.err(
                span.clone(),
                &join(&vp, "identity_file"),
                "this job's archives are not encrypted (give encrypt_to or encrypt_to_file)",
            );
        }
    }
    v.identity_files = ids.into_iter().map(|(f, _)| resolve_path(base, &f)).collect();
    if let Some(rt) = w.table(vt, &vp, "restore") {
        let rp = join(&vp, "restore");
        let rspan = vt.get("restore").map_or(vspan.clone(), |x| x.span());
        let pg_restore = w.text(rt, &rp, "pg_restore").map(|(f, _)| resolve_path(base, &f));
        let schedule = w.cron(rt, &rp, "schedule", time_zone, now);
        if format == Some(OutputFormat::Plain) {
            w.err(
                rspan.clone(),
                &rp,
                "a plain SQL script is not restored by pg_restore: a test restore needs format custom, directory or tar",
            );
        }
        if encryption.is_set() && encryption.passphrase_file.is_none() && v.identity_files.is_empty() {
            w.err(
                rspan.clone(),
                &rp,
                "the archives are encrypted: a test restore needs verify.identity_file to decrypt them",
            );
        }
        if let Some(server) = source(w, rt, &rp, rspan, base, Some("postgres")) {
            v.restore = Some(TestRestore {
                server,
                pg_restore,
                schedule,
            });
        }
    }
    if w.errors.len() != before { None } else { Some(v) }
}

fn n_span(t: &DeTable<'_>, at: Range<usize>) -> Range<usize> {
    t.get("notify").map_or(at, |v| v.span())
}

/// A connection's settings; `default_db` is the database when none is named (else naming
/// one is required). `pg_restore` and `schedule` are allowed when `default_db` is given (a
/// test restore's server) and read by the caller.
fn source(
    w: &mut Walker<'_>,
    t: &DeTable<'_>,
    path: &str,
    at: Range<usize>,
    base: &Path,
    default_db: Option<&str>,
) -> Option<Source> {
    let before = w.errors.len();
    if default_db.is_some() {
        let mut keys = SOURCE_KEYS.to_vec();
        keys.extend(["pg_restore", "schedule"]);
        w.known(t, path, &keys);
    } else {
        w.known(t, path, SOURCE_KEYS);
    }
    let password = w.secret(t, path, "password", false, base, at.clone());
    let conninfo = w.text(t, path, "conninfo");
    let mut info = ConnInfo::default();
    if let Some((c, span)) = &conninfo {
        match ConnInfo::parse(c) {
            Ok(parsed) => {
                if parsed.get("password").is_some() {
                    w.err(
                        span.clone(),
                        &join(path, "conninfo"),
                        "secrets are never written inline: remove the password and use password_env or password_file",
                    );
                }
                info = parsed;
            }
            Err(e) => w.err(span.clone(), &join(path, "conninfo"), e.to_string()),
        }
    }
    for key in [
        "host",
        "user",
        "dbname",
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "application_name",
    ] {
        if let Some((v, span)) = w.text(t, path, key) {
            if key == "sslmode"
                && !["disable", "allow", "prefer", "require", "verify-ca", "verify-full"].contains(&v.as_str())
            {
                w.err(
                    span,
                    &join(path, key),
                    format!("\"{v}\" is not an sslmode (disable, allow, prefer, require, verify-ca, verify-full)"),
                );
                continue;
            }
            let v = if matches!(key, "sslrootcert" | "sslcert" | "sslkey") {
                resolve_path(base, &v).to_string_lossy().into_owned()
            } else {
                v
            };
            let _ = info.set(key, v);
        }
    }
    if let Some(v) = t.get("port") {
        let key = join(path, "port");
        match v.get_ref() {
            DeValue::Integer(_) => {
                if let Some((p, _)) = w.uint(t, path, "port", 65535) {
                    if p == 0 {
                        w.err(v.span(), &key, "must be from 1 to 65535");
                    }
                    let _ = info.set("port", p.to_string());
                }
            }
            DeValue::String(s) => {
                let _ = info.set("port", s.to_string());
            }
            _ => w.type_err(v, &key, "an integer"),
        }
    }
    if let (None, Some(db)) = (info.get("dbname"), default_db) {
        let _ = info.set("dbname", db.to_string());
    }
    if info.get("dbname").is_none() {
        w.err(
            at,
            &join(path, "dbname"),
            "missing: the database to dump (dbname, or a conninfo naming it)",
        );
    }
    if w.errors.len() != before {
        return None;
    }
    let conninfo = info
        .iter()
        .map(|(k, v)| format!("{k}={}", quote_value(v)))
        .collect::<Vec<_>>()
        .join(" ");
    Some(Source { conninfo, password })
}

fn notifier(w: &mut Walker<'_>, t: &DeTable<'_>, path: &str, at: Range<usize>, base: &Path) -> Option<NotifierKind> {
    let before = w.errors.len();
    let Some((kind, kspan)) = w.text(t, path, "type") else {
        if !t.contains_key("type") {
            w.err(
                at,
                &join(path, "type"),
                "missing: one of webhook, slack, discord, telegram, email",
            );
        }
        return None;
    };
    let out = match kind.as_str() {
        "webhook" => {
            w.known(
                t,
                path,
                &with_common(&["url", "url_env", "url_file", "hmac_secret_env", "hmac_secret_file"]),
            );
            let inline = w.text(t, path, "url");
            let secret = w.secret(t, path, "url", false, base, at.clone());
            let url = match (inline, secret) {
                (Some((u, span)), None) => {
                    check_url(w, &u, span, &join(path, "url"));
                    Some(UrlSource::Inline(u))
                }
                (None, Some(s)) => Some(UrlSource::Secret(s)),
                (Some((_, span)), Some(_)) => {
                    w.err(span, &join(path, "url"), "give one of url, url_env, url_file");
                    None
                }
                (None, None) => {
                    w.err(at, &join(path, "url"), "missing: url, url_env or url_file");
                    None
                }
            };
            let hmac_secret = w.secret(t, path, "hmac_secret", false, base, kspan);
            url.map(|url| NotifierKind::Webhook { url, hmac_secret })
        }
        "slack" | "discord" => {
            // The URL of an incoming webhook is its credential.
            w.known(t, path, &with_common(&["url_env", "url_file"]));
            w.secret(t, path, "url", true, base, at).map(|url| {
                if kind == "slack" {
                    NotifierKind::Slack { url }
                } else {
                    NotifierKind::Discord { url }
                }
            })
        }
        "telegram" => {
            w.known(
                t,
                path,
                &with_common(&["bot_token_env", "bot_token_file", "chat_id", "api_base"]),
            );
            let token = w.secret(t, path, "bot_token", true, base, at.clone());
            let chat_id = match t.get("chat_id") {
                None => {
                    w.err(at, &join(path, "chat_id"), "missing: the chat to post to");
                    None
                }
                Some(v) => match v.get_ref() {
                    DeValue::String(s) if !s.is_empty() => Some(s.to_string()),
                    DeValue::Integer(i) => Some(i.as_str().to_string()),
                    _ => {
                        w.type_err(v, &join(path, "chat_id"), "a string or an integer");
                        None
                    }
                },
            };
            let api_base = match w.text(t, path, "api_base") {
                Some((u, span)) => {
                    check_url(w, &u, span, &join(path, "api_base"));
                    u
                }
                None => "https://api.telegram.org".to_string(),
            };
            match (token, chat_id) {
                (Some(bot_token), Some(chat_id)) => Some(NotifierKind::Telegram {
                    bot_token,
                    chat_id,
                    api_base,
                }),
                _ => None,
            }
        }
        "email" => {
            w.known(
                t,
                path,
                &with_common(&[
                    "smtp_host",
                    "smtp_port",
                    "starttls",
                    "from",
                    "to",
                    "username",
                    "password_env",
                    "password_file",
                ]),
            );
            let host = w.text(t, path, "smtp_host");
            if host.is_none() && !t.contains_key("smtp_host") {
                w.err(at.clone(), &join(path, "smtp_host"), "missing: the SMTP server");
            }
            let port = w.uint(t, path, "smtp_port", 65535).map_or(587, |(p, _)| p as u16);
            let starttls = w.boolean(t, path, "starttls").unwrap_or(true);
            let from = w.text(t, path, "from");
            if from.is_none() && !t.contains_key("from") {
                w.err(at.clone(), &join(path, "from"), "missing: the sender address");
            }
            let to = w.strings(t, path, "to");
            if to.is_empty() && w.errors.len() == before {
                w.err(
                    t.get("to").map_or(at.clone(), |v| v.span()),
                    &join(path, "to"),
                    "missing: at least one recipient",
                );
            }
            for (i, (addr, span)) in to.iter().enumerate() {
                if !addr.contains('@') {
                    w.err(
                        span.clone(),
                        &format!("{}[{i}]", join(path, "to")),
                        format!("\"{addr}\" is not an email address"),
                    );
                }
            }
            if let Some((addr, span)) = &from
                && !addr.contains('@')
            {
                w.err(
                    span.clone(),
                    &join(path, "from"),
                    format!("\"{addr}\" is not an email address"),
                );
            }
            let username = w.text(t, path, "username").map(|(u, _)| u);
            let password = w.secret(t, path, "password", false, base, at.clone());
            if username.is_some() != password.is_some() && w.errors.len() == before {
                w.err(
                    at,
                    &join(path, if username.is_some() { "password_env" } else { "username" }),
                    "SMTP authentication needs both username and password_env/password_file",
                );
            }
            if !starttls
                && username.is_some()
                && let Some(v) = t.get("starttls")
            {
                {
                    w.err(
                        v.span(),
                        &join(path, "starttls"),
                        "a password is never sent unencrypted: SMTP authentication needs starttls = true",
                    );
                }
            }
            match (host, from) {
                (Some((smtp_host, _)), Some((from, _))) => Some(NotifierKind::Email {
                    smtp_host,
                    smtp_port: port,
                    starttls,
                    from,
                    to: to.into_iter().map(|(a, _)| a).collect(),
                    username,
                    password,
                }),
                _ => None,
            }
        }
        other => {
            w.err(
                kspan,
                &join(path, "type"),
                format!("\"{other}\" is not one of webhook, slack, discord, telegram, email"),
            );
            None
        }
    };
    if w.errors.len() != before { None } else { out }
}

fn with_common(own: &[&'static str]) -> Vec<&'static str> {
    let mut v = NOTIFIER_COMMON_KEYS.to_vec();
    v.extend_from_slice(own);
    v
}

fn check_url(w: &mut Walker<'_>, u: &str, span: Range<usize>, key: &str) {
    if !(u.starts_with("http://") || u.starts_with("https://")) {
        w.err(span, key, format!("\"{u}\" is not an http:// or https:// URL"));
    }
}
