//! Retention: which backups to keep, as a pure function of (backups, policy, now, time
//! zone), with the rules that keep each one. The semantics are restic's `forget` policy
//! (`internal/restic/snapshot_policy.go`, `ApplyPolicy`), with `keep-within` measured back
//! from *now* as issue 12 asks (restic measures it from the newest snapshot):
//!
//! - backups are considered newest first;
//! - `keep-last N` keeps the N newest;
//! - `keep-hourly/daily/weekly/monthly/yearly N` each walk the list newest first and keep a
//!   backup whenever its calendar bucket (hour, day, ISO week, month, year of its local time
//!   in the policy's zone) differs from the bucket of the last backup that rule kept, until
//!   N backups are kept: the newest backup of each of the N most recent buckets that hold a
//!   backup;
//! - `keep-within D` keeps every backup taken after `now - D` (calendar arithmetic in the
//!   zone, so `2d` is two calendar days across a DST change);
//! - a pinned backup is kept until its pin expires (a pin without expiry holds until it is
//!   released);
//! - a backup kept by any rule is kept; the rest are forgotten.
//!
//! No I/O, no clock: `now` and the zone are arguments.

mod plan;

pub use plan::{PlanError, parse_plan_input, parse_rfc3339, render_plan};

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, Zoned};

/// Why a backup is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    Last,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
    Within,
    Pinned,
}

impl Rule {
    /// The name printed in plans and records (`last`, `hourly`, …, `within`, `pinned`).
    pub fn name(self) -> &'static str {
        match self {
            Rule::Last => "last",
            Rule::Hourly => "hourly",
            Rule::Daily => "daily",
            Rule::Weekly => "weekly",
            Rule::Monthly => "monthly",
            Rule::Yearly => "yearly",
            Rule::Within => "within",
            Rule::Pinned => "pinned",
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A retention policy. Counts of 0 disable a rule.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub last: u32,
    pub hourly: u32,
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
    pub yearly: u32,
    /// Keep everything taken within this span before now.
    pub within: Option<Span>,
}

impl Policy {
    /// The default: grandfather-father-son, 7 daily, 4 weekly, 12 monthly.
    pub fn gfs() -> Policy {
        Policy {
            daily: 7,
            weekly: 4,
            monthly: 12,
            ..Policy::default()
        }
    }

    /// Whether any rule can keep a backup. A policy that keeps nothing would delete every
    /// backup; callers refuse it (restic refuses an empty policy too).
    pub fn keeps_anything(&self) -> bool {
        self.last > 0
            || self.hourly > 0
            || self.daily > 0
            || self.weekly > 0
            || self.monthly > 0
            || self.yearly > 0
            || self.within.is_some_and(|s| !s.is_zero())
    }

    /// The policy as the `--keep-*` flags that express it.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (name, n) in [
            ("last", self.last),
            ("hourly", self.hourly),
            ("daily", self.daily),
            ("weekly", self.weekly),
            ("monthly", self.monthly),
            ("yearly", self.yearly),
        ] {
            if n > 0 {
                parts.push(format!("keep-{name} {n}"));
            }
        }
        if let Some(w) = self.within {
            parts.push(format!("keep-within {}", format_span(w)));
        }
        parts.join(", ")
    }
}

/// A span as the friendly text it was written in (`48h`, `2d 12h`).
pub fn format_span(span: Span) -> String {
    format!("{span:#}")
}

/// Parses a duration for `keep-within` / `--keep`: jiff's friendly format (`48h`, `2d`,
/// `1y 6mo`, `90 minutes`) or ISO 8601 (`P2D`). Negative or zero spans are refused.
pub fn parse_span(text: &str) -> Result<Span, String> {
    let span: Span = text
        .trim()
        .parse()
        .map_err(|e| format!("invalid duration \"{text}\": {e} (examples: 48h, 7d, 2w, 1y 6mo)"))?;
    if span.is_negative() || span.is_zero() {
        return Err(format!("invalid duration \"{text}\": must be positive"));
    }
    Ok(span)
}

/// A pin on a backup (a pre-deployment backup): kept while `until` is in the future, or
/// until released when `until` is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub until: Option<Timestamp>,
}

/// One backup as retention sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub time: Timestamp,
    pub pin: Option<Pin>,
}

/// The decision for one backup: `rules` is empty when it is forgotten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Index of the backup in the input slice.
    pub index: usize,
    pub rules: Vec<Rule>,
}

impl Decision {
    pub fn keep(&self) -> bool {
        !self.rules.is_empty()
    }
}

/// Applies `policy` at `now` with buckets in `tz`. Returns one decision per backup, newest
/// first (equal times keep their input order).
pub fn apply(backups: &[Candidate], policy: &Policy, now: Timestamp, tz: &TimeZone) -> Vec<Decision> {
    let mut order: Vec<usize> = (0..backups.len()).collect();
    // Stable: equal timestamps stay in input order.
    order.sort_by(|&a, &b| backups[b].time.cmp(&backups[a].time));
    let local: Vec<Zoned> = order.iter().map(|&i| backups[i].time.to_zoned(tz.clone())).collect();
    let mut rules: Vec<Vec<Rule>> = vec![Vec::new(); order.len()];

    let bucket_rules: [(Rule, u32, BucketOf); 6] = [
        // Every backup is its own bucket for keep-last.
        (Rule::Last, policy.last, |_, pos| pos as i64),
        (Rule::Hourly, policy.hourly, |z, _| {
            day_key(z) * 100 + i64::from(z.hour())
        }),
        (Rule::Daily, policy.daily, |z, _| day_key(z)),
        (Rule::Weekly, policy.weekly, |z, _| {
            let w = z.date().iso_week_date();
            i64::from(w.year()) * 100 + i64::from(w.week())
        }),
        (Rule::Monthly, policy.monthly, |z, _| {
            i64::from(z.year()) * 100 + i64::from(z.month())
        }),
        (Rule::Yearly, policy.yearly, |z, _| i64::from(z.year())),
    ];
    for (rule, count, bucket) in bucket_rules {
        let mut left = count;
        let mut last_bucket: Option<i64> = None;
        for (pos, z) in local.iter().enumerate() {
            if left == 0 {
                break;
            }
            let b = bucket(z, pos);
            if last_bucket != Some(b) {
                rules[pos].push(rule);
                last_bucket = Some(b);
                left -= 1;
            }
        }
    }

    if let Some(span) = policy.within {
        // Calendar arithmetic in the zone; a span that cannot be applied (years beyond
        // jiff's range) keeps everything, the safe side.
        let limit = now.to_zoned(tz.clone()).checked_sub(span).map(|z| z.timestamp()).ok();
        for (pos, &i) in order.iter().enumerate() {
            if limit.is_none_or(|l| backups[i].time > l) {
                rules[pos].push(Rule::Within);
            }
        }
    }

    for (pos, &i) in order.iter().enumerate() {
        if let Some(pin) = &backups[i].pin
            && pin.until.is_none_or(|u| u > now)
        {
            rules[pos].push(Rule::Pinned);
        }
    }

    order
        .into_iter()
        .zip(rules)
        .map(|(index, rules)| Decision { index, rules })
        .collect()
}

/// The bucket of a backup (its local time, its position newest first).
type BucketOf = fn(&Zoned, usize) -> i64;

fn day_key(z: &Zoned) -> i64 {
    i64::from(z.year()) * 10_000 + i64::from(z.month()) * 100 + i64::from(z.day())
}

#[cfg(test)]
mod tests;
