//! Pure parsing of stock tools' output into comparable entries: `pg_restore -l` lines, the
//! per-entry sections of a plain `pg_dump -s` script, and the errors of a `pg_restore -v`
//! run. No I/O here, so `compat/suite.rs` tests it on plain strings.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Every TOC `desc` pg_dump 14-18 writes (archive-format.md §4.2), plus the object words that
/// start the tags of COMMENT / ACL / SECURITY LABEL entries (`COLUMN t.c`, `LANGUAGE x`, ...).
/// Matching takes the longest one that is followed by a space or the end.
const KINDS: &[&str] = &[
    "ACCESS METHOD",
    "ACL",
    "ACL LANGUAGE",
    "AGGREGATE",
    "BLOB",
    "BLOB COMMENTS",
    "BLOB METADATA",
    "BLOBS",
    "CAST",
    "CHECK CONSTRAINT",
    "COLLATION",
    "COLUMN",
    "COMMENT",
    "CONSTRAINT",
    "CONVERSION",
    "DATABASE",
    "DATABASE PROPERTIES",
    "DEFAULT",
    "DEFAULT ACL",
    "DOMAIN",
    "ENCODING",
    "EVENT TRIGGER",
    "EXTENSION",
    "FK CONSTRAINT",
    "FOREIGN DATA WRAPPER",
    "FOREIGN SERVER",
    "FOREIGN TABLE",
    "FUNCTION",
    "INDEX",
    "INDEX ATTACH",
    "LANGUAGE",
    "LARGE OBJECT",
    "LARGE OBJECTS",
    "MATERIALIZED VIEW",
    "MATERIALIZED VIEW DATA",
    "OPERATOR",
    "OPERATOR CLASS",
    "OPERATOR FAMILY",
    "POLICY",
    "PROCEDURAL LANGUAGE",
    "PROCEDURE",
    "PUBLICATION",
    "PUBLICATION TABLE",
    "PUBLICATION TABLES IN SCHEMA",
    "ROW SECURITY",
    "RULE",
    "SCHEMA",
    "SEARCHPATH",
    "SECURITY LABEL",
    "SEQUENCE",
    "SEQUENCE OWNED BY",
    "SEQUENCE SET",
    "SERVER",
    "SHELL TYPE",
    "STATISTICS",
    "STATISTICS DATA",
    "STDSTRINGS",
    "SUBSCRIPTION",
    "SUBSCRIPTION TABLE",
    "TABLE",
    "TABLE ATTACH",
    "TABLE DATA",
    "TEXT SEARCH CONFIGURATION",
    "TEXT SEARCH DICTIONARY",
    "TEXT SEARCH PARSER",
    "TEXT SEARCH TEMPLATE",
    "TRANSFORM",
    "TRIGGER",
    "TYPE",
    "USER MAPPING",
    "VIEW",
    "pg_largeobject",
];

/// The longest known kind `s` starts with (followed by a space or the end); else its first
/// word.
pub fn kind_prefix(s: &str) -> &str {
    KINDS
        .iter()
        .filter(|k| s.starts_with(**k) && matches!(s.as_bytes().get(k.len()), None | Some(b' ')))
        .max_by_key(|k| k.len())
        .map(|k| &s[..k.len()])
        .unwrap_or_else(|| s.split(' ').next().unwrap_or(s))
}

/// The object kind an entry is grouped under in reports: its `desc`, and for entries that
/// belong to another object (COMMENT, ACL, SECURITY LABEL) also that object's kind, taken
/// from the tag: `COMMENT on AGGREGATE`.
pub fn group_kind(desc: &str, tag: &str) -> String {
    match desc {
        "COMMENT" | "ACL" | "SECURITY LABEL" => format!("{desc} on {}", kind_prefix(tag)),
        _ => desc.to_string(),
    }
}

/// One line of `pg_restore -l`: `dumpId; tableoid oid desc schema tag owner`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TocLine {
    /// `tableoid oid`: the catalog identity pg_dump recorded.
    pub ids: String,
    /// `desc schema tag owner`, the entry's identity for comparisons.
    pub key: String,
    pub desc: String,
    /// The group it is reported under (see `group_kind`).
    pub kind: String,
}

/// Parses `pg_restore -l` output (comment lines and blank lines skipped), in TOC order.
pub fn parse_listing(text: &str) -> Vec<TocLine> {
    text.lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| {
            let rest = l.split_once("; ").map(|(_, r)| r).unwrap_or(l).trim_end();
            let mut parts = rest.splitn(3, ' ');
            let (a, b, key) = (
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            );
            let desc = kind_prefix(key).to_string();
            // After the desc come the schema (`-` for none) and the tag plus owner.
            let after = key[desc.len()..].trim_start();
            let tag = after.split_once(' ').map(|(_, t)| t).unwrap_or("");
            TocLine {
                ids: format!("{a} {b}"),
                kind: group_kind(&desc, tag),
                key: key.to_string(),
                desc,
            }
        })
        .collect()
}

/// One entry of a plain SQL script: the `-- Name: ...; Type: ...; Schema: ...; Owner: ...`
/// header stock pg_dump / pg_restore print before each TOC entry, and the text under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaEntry {
    /// The header's `Type` (the TOC desc).
    pub desc: String,
    pub schema: String,
    /// The header's `Name` (the TOC tag).
    pub name: String,
    /// Owner, tablespace and table access method in effect, then the entry's SQL text.
    pub value: String,
}

impl SchemaEntry {
    /// The key entries are matched by: `desc schema name`.
    pub fn key(&self) -> String {
        format!("{} {} {}", self.desc, self.schema, self.name)
    }

    pub fn kind(&self) -> String {
        group_kind(&self.desc, &self.name)
    }
}

/// Splits a plain schema script into its entries. Normalisations (each one a difference two
/// equal databases can still show):
/// * `\restrict` / `\unrestrict` lines carry a random key per run (18.x, 17.6+ ...);
/// * `-- Dumped from/by` banners and the `SET transaction_timeout` preamble line depend only
///   on the versions of server and tool;
/// * `SET default_tablespace` / `SET default_table_access_method` lines are printed only when
///   the value changes from the previous entry's, so they depend on the order in which the
///   entries happen to come out (ties in pg_dump's sort are broken by OID, which differ
///   between two restores); they are removed and the setting in effect is recorded in the
///   value of the entries that use it instead (the tablespace is in the header anyway, the
///   access method is recorded for TABLE and MATERIALIZED VIEW entries);
/// * `\connect` lines (scripts made with `-C`) and the text before the first header (session
///   settings) are dropped; trailing blank lines and the end-of-dump comment are trimmed.
pub fn parse_plain(sql: &str) -> Vec<SchemaEntry> {
    let lines: Vec<&str> = sql.lines().collect();
    let mut out: Vec<SchemaEntry> = Vec::new();
    let mut body: Vec<&str> = Vec::new();
    let mut table_am = String::from("heap");
    let mut i = 0;
    let flush = |out: &mut Vec<SchemaEntry>, body: &mut Vec<&str>| {
        if let Some(last) = out.last_mut() {
            while body.last().is_some_and(|l| l.trim().is_empty()) {
                body.pop();
            }
            while body.first().is_some_and(|l| l.trim().is_empty()) {
                body.remove(0);
            }
            last.value.push_str(&body.join("\n"));
        }
        body.clear();
    };
    while i < lines.len() {
        let l = lines[i];
        if l == "--"
            && i + 2 < lines.len()
            && lines[i + 2] == "--"
            && let Some(h) = parse_header(lines[i + 1])
        {
            flush(&mut out, &mut body);
            let (name, desc, schema, owner, tablespace) = h;
            let mut value = format!("-- owner: {owner}\n");
            if let Some(ts) = tablespace {
                let _ = writeln!(value, "-- tablespace: {ts}");
            }
            if desc == "TABLE" || desc == "MATERIALIZED VIEW" {
                let _ = writeln!(value, "-- access method: {table_am}");
            }
            out.push(SchemaEntry {
                desc,
                schema,
                name,
                value,
            });
            i += 3;
            continue;
        }
        if l == "--" && lines.get(i + 1) == Some(&"-- PostgreSQL database dump complete") {
            i += 3;
            continue;
        }
        if let Some(v) = l.strip_prefix("SET default_table_access_method = ") {
            table_am = v.trim_end_matches(';').to_string();
        } else if l.starts_with("SET default_tablespace = ")
            || l.starts_with("\\restrict ")
            || l.starts_with("\\unrestrict ")
            || l.starts_with("\\connect ")
            || l.starts_with("-- Dumped from database version")
            || l.starts_with("-- Dumped by pg_dump version")
            || l.starts_with("SET transaction_timeout")
        {
            // normalised away, see above
        } else {
            body.push(l);
        }
        i += 1;
    }
    flush(&mut out, &mut body);
    out
}

/// `-- Name: n; Type: t; Schema: s; Owner: o[; Tablespace: ts]`
fn parse_header(line: &str) -> Option<(String, String, String, String, Option<String>)> {
    let rest = line.strip_prefix("-- Name: ")?;
    let (name, rest) = rest.rsplit_once("; Type: ")?;
    let (desc, rest) = rest.split_once("; Schema: ")?;
    let (schema, rest) = rest.split_once("; Owner: ")?;
    let (owner, tablespace) = match rest.split_once("; Tablespace: ") {
        Some((o, t)) => (o, Some(t.to_string())),
        None => (rest, None),
    };
    Some((
        name.to_string(),
        desc.to_string(),
        schema.to_string(),
        owner.to_string(),
        tablespace,
    ))
}

/// Entries grouped by key; values of duplicate keys sorted so that order does not matter.
pub fn by_key(entries: &[SchemaEntry]) -> BTreeMap<String, (String, Vec<String>)> {
    let mut m: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for e in entries {
        m.entry(e.key())
            .or_insert_with(|| (e.kind(), Vec::new()))
            .1
            .push(e.value.clone());
    }
    for (_, v) in m.values_mut() {
        v.sort();
    }
    m
}

/// One entry whose text differs between the two sides, or that only one side has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryDiff {
    pub kind: String,
    pub key: String,
    /// Texts on the reference (stock) side; empty when only the candidate has it.
    pub reference: Vec<String>,
    /// Texts on the candidate (pgsnap) side; empty when it is missing there.
    pub candidate: Vec<String>,
}

impl EntryDiff {
    pub fn what(&self) -> &'static str {
        match (self.reference.is_empty(), self.candidate.is_empty()) {
            (false, true) => "missing",
            (true, false) => "extra",
            _ => "differs",
        }
    }

    /// A few lines saying how: `-` stock, `+` pgsnap.
    pub fn short(&self, max_lines: usize) -> String {
        match self.what() {
            "missing" => format!("only in stock's:\n{}", head(&self.reference[0], max_lines)),
            "extra" => format!("only in pgsnap's:\n{}", head(&self.candidate[0], max_lines)),
            _ if self.reference.len() != self.candidate.len() => format!(
                "{} entries in stock's, {} in pgsnap's",
                self.reference.len(),
                self.candidate.len()
            ),
            _ => {
                let mut s = String::new();
                for (a, b) in self.reference.iter().zip(&self.candidate) {
                    if a != b {
                        s.push_str(&line_diff(a, b, max_lines));
                    }
                }
                s
            }
        }
    }
}

/// The first `n` non-blank lines of an entry's text, indented.
fn head(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut s: String = lines.iter().take(n).map(|l| format!("  {l}\n")).collect();
    if lines.len() > n {
        s.push_str("  ...\n");
    }
    s
}

/// Keyed comparison of two entry lists: every key whose values differ.
pub fn diff_entries(reference: &[SchemaEntry], candidate: &[SchemaEntry]) -> Vec<EntryDiff> {
    let a = by_key(reference);
    let b = by_key(candidate);
    let mut out = Vec::new();
    for (key, (kind, av)) in &a {
        match b.get(key) {
            Some((_, bv)) if bv == av => {}
            other => out.push(EntryDiff {
                kind: kind.clone(),
                key: key.clone(),
                reference: av.clone(),
                candidate: other.map(|(_, v)| v.clone()).unwrap_or_default(),
            }),
        }
    }
    for (key, (kind, bv)) in &b {
        if !a.contains_key(key) {
            out.push(EntryDiff {
                kind: kind.clone(),
                key: key.clone(),
                reference: Vec::new(),
                candidate: bv.clone(),
            });
        }
    }
    out
}

/// A unified-style line diff (longest common subsequence), at most `max` changed lines,
/// `-` for `a`, `+` for `b`.
pub fn line_diff(a: &str, b: &str, max: usize) -> String {
    let al: Vec<&str> = a.lines().collect();
    let bl: Vec<&str> = b.lines().collect();
    // Entries are small; fall back to a plain listing for very large ones.
    if al.len() * bl.len() > 4_000_000 {
        return format!("  ({} vs {} lines)\n", al.len(), bl.len());
    }
    let (n, m) = (al.len(), bl.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if al[i] == bl[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut shown, mut total) = (0, 0, 0, 0);
    let mut out = String::new();
    while i < n || j < m {
        if i < n && j < m && al[i] == bl[j] {
            i += 1;
            j += 1;
            continue;
        }
        let line = if j >= m || (i < n && lcs[i + 1][j] >= lcs[i][j + 1]) {
            i += 1;
            format!("  -{}\n", al[i - 1])
        } else {
            j += 1;
            format!("  +{}\n", bl[j - 1])
        };
        total += 1;
        if shown < max {
            out.push_str(&line);
            shown += 1;
        }
    }
    if total > shown {
        let _ = writeln!(out, "  ... ({} more changed lines)", total - shown);
    }
    out
}

/// One error reported by pg_restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreError {
    /// The TOC entry pg_restore was processing (`dumpId; tableoid oid desc tag owner`), when
    /// it said.
    pub entry: Option<String>,
    /// The group of that entry (see `group_kind`), `?` when unknown.
    pub kind: String,
    /// The server's message (`ERROR:  ...`) or pg_restore's own.
    pub message: String,
    /// First line of the statement that failed.
    pub command: String,
}

/// What a `pg_restore -v` run said about errors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreLog {
    pub errors: Vec<RestoreError>,
    /// `errors ignored on restore: N`, when printed.
    pub ignored: Option<usize>,
}

impl RestoreLog {
    /// The error count pg_restore reports (its own count when it printed one).
    pub fn count(&self) -> usize {
        self.ignored.unwrap_or(self.errors.len()).max(self.errors.len())
    }
}

/// Parses pg_restore's stderr. With `-v` every failing entry is introduced by
/// `pg_restore: from TOC entry N; ...` (printed once per entry, before its first error).
pub fn parse_restore_log(stderr: &str) -> RestoreLog {
    let mut log = RestoreLog::default();
    let mut entry: Option<String> = None;
    let mut in_error = false;
    for line in stderr.lines() {
        if let Some(e) = line.strip_prefix("pg_restore: from TOC entry ") {
            entry = Some(e.to_string());
            in_error = false;
        } else if let Some(msg) = line.strip_prefix("pg_restore: error: ") {
            let message = msg.strip_prefix("could not execute query: ").unwrap_or(msg).to_string();
            let kind = entry
                .as_deref()
                .map(|e| {
                    // `85; 1255 32222 FUNCTION name(args) owner`: no schema in this form.
                    let rest = e.split_once("; ").map(|(_, r)| r).unwrap_or(e);
                    let rest = rest.splitn(3, ' ').nth(2).unwrap_or("");
                    let desc = kind_prefix(rest);
                    group_kind(desc, rest[desc.len()..].trim_start())
                })
                .unwrap_or_else(|| "?".to_string());
            log.errors.push(RestoreError {
                entry: entry.clone(),
                kind,
                message,
                command: String::new(),
            });
            in_error = true;
        } else if let Some(n) = line
            .strip_prefix("pg_restore: warning: errors ignored on restore: ")
            .and_then(|n| n.trim().parse().ok())
        {
            log.ignored = Some(n);
            in_error = false;
        } else if line.starts_with("pg_restore: ") {
            in_error = false;
        } else if in_error && let Some(last) = log.errors.last_mut() {
            if let Some(cmd) = line.strip_prefix("Command was: ") {
                last.command = cmd.to_string();
            } else if last.command.is_empty() && !line.trim().is_empty() {
                // DETAIL / HINT / LINE n lines of the server's message
                let _ = write!(last.message, " | {}", line.trim());
            }
        }
    }
    log
}

/// Removes ANSI colour sequences (some loggers colour even when writing to a pipe).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
