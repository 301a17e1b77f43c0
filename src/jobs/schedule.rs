//! Fire times and lateness, as pure functions of a job's schedule and the times given: the
//! daemon and `pgsnap status` decide with the same code. Fire times are found by croner in
//! the job's time zone (jiff's zone rules): a wall time skipped by a DST change fires once,
//! when the gap ends; a repeated one fires once, the first time.

use jiff::Timestamp;

use crate::config::{Job, Schedule};

/// The first fire time strictly after `after`.
pub fn next_after(job: &Job, schedule: &Schedule, after: Timestamp) -> Option<Timestamp> {
    schedule
        .parsed
        .find_next_occurrence(&after.to_zoned(job.time_zone.clone()), false)
        .ok()
        .map(|z| z.timestamp())
}

/// The newest fire time in `(since, now]`: one the daemon missed while it was not running.
pub fn latest_missed(job: &Job, schedule: &Schedule, since: Timestamp, now: Timestamp) -> Option<Timestamp> {
    let prev = schedule
        .parsed
        .find_previous_occurrence(&now.to_zoned(job.time_zone.clone()), true)
        .ok()?
        .timestamp();
    (prev > since).then_some(prev)
}

/// When `job` becomes overdue: no successful run since `last_good` (or, when it never
/// succeeded, since `first_try`, when it was first tried) within `overdue_after` when the
/// job sets one, else within two schedule intervals — the second fire time after it has
/// passed without a success. `None`: never (no schedule and no `overdue_after`, or never run).
pub fn overdue_at(job: &Job, last_good: Option<Timestamp>, first_try: Option<Timestamp>) -> Option<Timestamp> {
    let base = last_good.or(first_try)?;
    if let Some(span) = job.overdue_after {
        // Calendar arithmetic in the job's zone (a "1d" across a DST change is a day).
        return base
            .to_zoned(job.time_zone.clone())
            .checked_add(span)
            .ok()
            .map(|z| z.timestamp());
    }
    let s = job.schedule.as_ref()?;
    let first = next_after(job, s, base)?;
    next_after(job, s, first)
}

/// A random delay in `[0, max]` (std's per-process random hash keys; no generator needed
/// for spreading start times).
pub fn jitter(max: std::time::Duration) -> std::time::Duration {
    use std::hash::{BuildHasher, Hasher};
    if max.is_zero() {
        return max;
    }
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let nanos = max.as_nanos().min(u128::from(u64::MAX)) as u64;
    std::time::Duration::from_nanos(h.finish() % nanos.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn job(extra: &str) -> Job {
        let text = format!("[jobs.a]\ndestination = \"/b\"\nsource = {{ dbname = \"x\" }}\n{extra}");
        let c = crate::config::parse(&text, Path::new("/etc/pgsnap.toml"), t("2026-01-01T00:00:00Z"))
            .unwrap_or_else(|e| panic!("{e:?}"));
        c.jobs[0].clone()
    }

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn fire_times_follow_the_zone_across_dst() {
        // Berlin springs forward on 2026-03-29 (02:00 → 03:00): the 02:30 run fires once, when
        // the gap ends, 03:00 local (01:00 UTC); it falls back on 2026-10-25 (03:00 → 02:00):
        // once, at the first 02:30 (00:30 UTC).
        let j = job("schedule = \"30 2 * * *\"\ntimezone = \"Europe/Berlin\"\n");
        let s = j.schedule.clone().unwrap();
        let mut at = t("2026-03-28T00:00:00Z");
        let mut fires = Vec::new();
        for _ in 0..3 {
            at = next_after(&j, &s, at).unwrap();
            fires.push(at.to_string());
        }
        assert_eq!(
            fires,
            ["2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]
        );
        let mut at = t("2026-10-24T12:00:00Z");
        let mut fires = Vec::new();
        for _ in 0..2 {
            at = next_after(&j, &s, at).unwrap();
            fires.push(at.to_string());
        }
        assert_eq!(fires, ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]);
    }

    #[test]
    fn seconds_and_strictly_after() {
        let j = job("schedule = \"*/3 * * * * *\"\n");
        let s = j.schedule.clone().unwrap();
        assert_eq!(
            next_after(&j, &s, t("2026-01-01T00:00:03Z")).unwrap(),
            t("2026-01-01T00:00:06Z")
        );
        assert_eq!(
            next_after(&j, &s, t("2026-01-01T00:00:03.5Z")).unwrap(),
            t("2026-01-01T00:00:06Z")
        );
    }

    #[test]
    fn missed_fire_times_after_downtime() {
        let j = job("schedule = \"0 * * * *\"\n");
        let s = j.schedule.clone().unwrap();
        // Down from 10:30 to 13:10: 11:00, 12:00, 13:00 passed; the newest is reported.
        assert_eq!(
            latest_missed(&j, &s, t("2026-01-01T10:30:00Z"), t("2026-01-01T13:10:00Z")),
            Some(t("2026-01-01T13:00:00Z"))
        );
        // Down from 10:30 to 10:59: nothing passed; a fire exactly at `since` was handled.
        assert_eq!(
            latest_missed(&j, &s, t("2026-01-01T10:30:00Z"), t("2026-01-01T10:59:00Z")),
            None
        );
        assert_eq!(
            latest_missed(&j, &s, t("2026-01-01T11:00:00Z"), t("2026-01-01T11:30:00Z")),
            None
        );
    }

    #[test]
    fn overdue_after_two_intervals_or_the_configured_span() {
        let j = job("schedule = \"0 2 * * *\"\n");
        // Last good at 02:05 on the 1st: the 2nd's 02:00 may fail; the 3rd's must not.
        assert_eq!(
            overdue_at(&j, Some(t("2026-01-01T02:05:00Z")), Some(t("2025-12-01T02:00:00Z"))),
            Some(t("2026-01-03T02:00:00Z"))
        );
        // Never succeeded: counted from the first try; never tried: never overdue.
        assert_eq!(
            overdue_at(&j, None, Some(t("2026-01-01T02:00:00Z"))),
            Some(t("2026-01-03T02:00:00Z"))
        );
        assert_eq!(overdue_at(&j, None, None), None);
        // Weekdays only: Friday's backup is late on Tuesday at 02:00, not on Sunday.
        let w = job("schedule = \"0 2 * * 1-5\"\n");
        assert_eq!(
            overdue_at(&w, Some(t("2026-01-02T02:01:00Z")), None),
            Some(t("2026-01-06T02:00:00Z"))
        );
        // overdue_after wins, in the job's zone.
        let o = job("schedule = \"0 2 * * *\"\ntimezone = \"Europe/Berlin\"\n\
             [jobs.a.notify]\noverdue_after = \"1d\"\n");
        assert_eq!(
            overdue_at(&o, Some(t("2026-03-28T12:00:00Z")), None),
            Some(t("2026-03-29T11:00:00Z"))
        );
        // No schedule, no overdue_after: never.
        assert_eq!(overdue_at(&job(""), Some(t("2026-01-01T00:00:00Z")), None), None);
    }

    #[test]
    fn jitter_stays_within_its_bound() {
        let max = std::time::Duration::from_millis(50);
        for _ in 0..100 {
            assert!(jitter(max) <= max);
        }
        assert_eq!(jitter(std::time::Duration::ZERO), std::time::Duration::ZERO);
    }
}
