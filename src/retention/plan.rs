//! `pgsnap retention plan`: timestamps in (one RFC 3339 timestamp a line), one decision a
//! line out, newest first, each timestamp exactly as given.

use jiff::Timestamp;

use super::{Candidate, Decision};

/// A line of input that is not an RFC 3339 timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    /// 1-based line number.
    pub line: usize,
    pub text: String,
    pub reason: String,
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}: invalid timestamp \"{}\": {} (expected RFC 3339, e.g. 2026-11-30T02:00:00Z)",
            self.line, self.text, self.reason
        )
    }
}

/// Reads the timestamps: surrounding white space is ignored, as are blank lines; anything
/// else must be an RFC 3339 timestamp with an offset (`Z`, `+01:00`). Returns the texts as
/// given (trimmed) and the candidates, in input order.
pub fn parse_plan_input(input: &str) -> Result<Vec<(String, Candidate)>, PlanError> {
    let mut out = Vec::new();
    for (n, raw) in input.lines().enumerate() {
        let text = raw.trim();
        if text.is_empty() {
            continue;
        }
        let time = parse_rfc3339(text).map_err(|reason| PlanError {
            line: n + 1,
            text: text.to_string(),
            reason,
        })?;
        out.push((text.to_string(), Candidate { time, pin: None }));
    }
    Ok(out)
}

/// RFC 3339 strictly: a date, `T` (or `t`, or a space, as RFC 3339 allows), a time and an
/// offset. jiff's parser also takes a bracketed zone annotation, which is not RFC 3339.
pub fn parse_rfc3339(text: &str) -> Result<Timestamp, String> {
    if text.contains('[') {
        return Err("time zone annotations are not RFC 3339".into());
    }
    text.parse::<Timestamp>().map_err(|e| e.to_string())
}

/// `keep <timestamp> <rule>[,<rule>...]` or `forget <timestamp>`, one line each, in the
/// decisions' order (newest first).
pub fn render_plan(texts: &[String], decisions: &[Decision]) -> String {
    let mut out = String::new();
    for d in decisions {
        let text = &texts[d.index];
        if d.keep() {
            let rules: Vec<&str> = d.rules.iter().map(|r| r.name()).collect();
            out.push_str(&format!("keep {text} {}\n", rules.join(",")));
        } else {
            out.push_str(&format!("forget {text}\n"));
        }
    }
    out
}
