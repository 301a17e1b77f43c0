//! Retention case by case over simulated calendars, each against a written table of the
//! decisions expected (worked out by hand from the rules in `mod.rs`; the weekdays used are
//! noted where they matter).

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use super::*;

fn tz(name: &str) -> TimeZone {
    // INVARIANT: test zones exist in every tz database.
    TimeZone::get(name).expect("zone")
}

fn ts(text: &str) -> Timestamp {
    // INVARIANT: test literals are valid.
    plan::parse_rfc3339(text).expect("timestamp")
}

/// The plan as `pgsnap retention plan` prints it.
fn plan(times: &[&str], policy: &Policy, now: &str, zone: &str) -> String {
    let input = times.join("\n");
    // INVARIANT: test literals are valid.
    let parsed = parse_plan_input(&input).expect("input");
    let (texts, candidates): (Vec<String>, Vec<Candidate>) = parsed.into_iter().unzip();
    let decisions = apply(&candidates, policy, ts(now), &tz(zone));
    render_plan(&texts, &decisions)
}

/// Only the `keep` lines of a plan, and how many were forgotten.
fn keeps(text: &str) -> (String, usize) {
    let kept: Vec<&str> = text.lines().filter(|l| l.starts_with("keep ")).collect();
    let forgotten = text.lines().filter(|l| l.starts_with("forget ")).count();
    (kept.iter().map(|l| format!("{l}\n")).collect(), forgotten)
}

fn table(rows: &str) -> String {
    rows.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Daily backups at 02:00 UTC, every day from `from` to `to` inclusive.
fn daily(from: &str, to: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut day: jiff::civil::Date = from.parse().expect("date");
    let end: jiff::civil::Date = to.parse().expect("date");
    while day <= end {
        out.push(format!("{day}T02:00:00Z"));
        day = day.tomorrow().expect("date");
    }
    out
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn keep_last_keeps_the_newest_whatever_the_input_order() {
    let times = [
        "2026-01-03T00:00:00Z",
        "2026-01-05T00:00:00Z",
        "2026-01-01T00:00:00Z",
        "2026-01-04T00:00:00Z",
        "2026-01-02T00:00:00Z",
    ];
    let policy = Policy {
        last: 3,
        ..Policy::default()
    };
    assert_eq!(
        plan(&times, &policy, "2026-01-06T00:00:00Z", "UTC"),
        table(
            "keep 2026-01-05T00:00:00Z last
             keep 2026-01-04T00:00:00Z last
             keep 2026-01-03T00:00:00Z last
             forget 2026-01-02T00:00:00Z
             forget 2026-01-01T00:00:00Z"
        )
    );
}

/// Nearly three years of nightly backups (1065), default policy. 2026-11-30 is a Monday,
/// so it opens an ISO week of its own.
#[test]
fn years_of_daily_backups_under_the_default_gfs_policy() {
    let times = daily("2024-01-01", "2026-11-30");
    assert_eq!(times.len(), 1065);
    let out = plan(&refs(&times), &Policy::gfs(), "2026-11-30T12:00:00Z", "UTC");
    let (kept, forgotten) = keeps(&out);
    assert_eq!(
        kept,
        table(
            "keep 2026-11-30T02:00:00Z daily,weekly,monthly
             keep 2026-11-29T02:00:00Z daily,weekly
             keep 2026-11-28T02:00:00Z daily
             keep 2026-11-27T02:00:00Z daily
             keep 2026-11-26T02:00:00Z daily
             keep 2026-11-25T02:00:00Z daily
             keep 2026-11-24T02:00:00Z daily
             keep 2026-11-22T02:00:00Z weekly
             keep 2026-11-15T02:00:00Z weekly
             keep 2026-10-31T02:00:00Z monthly
             keep 2026-09-30T02:00:00Z monthly
             keep 2026-08-31T02:00:00Z monthly
             keep 2026-07-31T02:00:00Z monthly
             keep 2026-06-30T02:00:00Z monthly
             keep 2026-05-31T02:00:00Z monthly
             keep 2026-04-30T02:00:00Z monthly
             keep 2026-03-31T02:00:00Z monthly
             keep 2026-02-28T02:00:00Z monthly
             keep 2026-01-31T02:00:00Z monthly
             keep 2025-12-31T02:00:00Z monthly"
        )
    );
    assert_eq!(forgotten, 1065 - 20);
    // Newest first, every line.
    assert!(out.starts_with("keep 2026-11-30T02:00:00Z"));
    assert!(out.ends_with("forget 2024-01-01T02:00:00Z\n"));
}

#[test]
fn years_of_daily_backups_with_yearly_and_last() {
    let times = daily("2024-01-01", "2026-11-30");
    let policy = Policy {
        last: 2,
        yearly: 5,
        ..Policy::default()
    };
    let (kept, forgotten) = keeps(&plan(&refs(&times), &policy, "2026-11-30T12:00:00Z", "UTC"));
    // Only three years hold backups: yearly 5 keeps three.
    assert_eq!(
        kept,
        table(
            "keep 2026-11-30T02:00:00Z last,yearly
             keep 2026-11-29T02:00:00Z last
             keep 2025-12-31T02:00:00Z yearly
             keep 2024-12-31T02:00:00Z yearly"
        )
    );
    assert_eq!(forgotten, 1061);
}

/// Gaps: nothing in May, two backups in one ISO week (Mon 2026-03-30 .. Sun 04-05).
/// 2026-06-15 is a Monday, 2026-02-03 a Tuesday.
#[test]
fn irregular_gaps_count_only_buckets_that_hold_a_backup() {
    let times = [
        "2026-01-05T03:00:00Z",
        "2026-01-20T03:00:00Z",
        "2026-02-02T03:00:00Z",
        "2026-02-03T03:00:00Z",
        "2026-03-30T03:00:00Z",
        "2026-04-01T03:00:00Z",
        "2026-04-02T03:00:00Z",
        "2026-06-15T03:00:00Z",
    ];
    let policy = Policy {
        daily: 3,
        weekly: 3,
        monthly: 3,
        ..Policy::default()
    };
    assert_eq!(
        plan(&times, &policy, "2026-07-01T00:00:00Z", "UTC"),
        table(
            "keep 2026-06-15T03:00:00Z daily,weekly,monthly
             keep 2026-04-02T03:00:00Z daily,weekly,monthly
             keep 2026-04-01T03:00:00Z daily
             keep 2026-03-30T03:00:00Z monthly
             keep 2026-02-03T03:00:00Z weekly
             forget 2026-02-02T03:00:00Z
             forget 2026-01-20T03:00:00Z
             forget 2026-01-05T03:00:00Z"
        )
    );
}

const SEVERAL_A_DAY: [&str; 8] = [
    "2026-03-09T12:00:00Z",
    "2026-03-09T23:00:00Z",
    "2026-03-10T00:15:00Z",
    "2026-03-10T06:00:00Z",
    "2026-03-10T06:45:00Z",
    "2026-03-10T12:00:00Z",
    "2026-03-10T18:30:00Z",
    "2026-03-10T23:59:00Z",
];

#[test]
fn several_backups_a_day() {
    let policy = Policy {
        last: 1,
        hourly: 3,
        daily: 2,
        ..Policy::default()
    };
    assert_eq!(
        plan(&SEVERAL_A_DAY, &policy, "2026-03-11T00:00:00Z", "UTC"),
        table(
            "keep 2026-03-10T23:59:00Z last,hourly,daily
             keep 2026-03-10T18:30:00Z hourly
             keep 2026-03-10T12:00:00Z hourly
             forget 2026-03-10T06:45:00Z
             forget 2026-03-10T06:00:00Z
             forget 2026-03-10T00:15:00Z
             keep 2026-03-09T23:00:00Z daily
             forget 2026-03-09T12:00:00Z"
        )
    );
    // Two in the 06:00 hour: the newest of them stands for it.
    let hourly = Policy {
        hourly: 5,
        ..Policy::default()
    };
    let (kept, _) = keeps(&plan(&SEVERAL_A_DAY, &hourly, "2026-03-11T00:00:00Z", "UTC"));
    assert_eq!(
        kept,
        table(
            "keep 2026-03-10T23:59:00Z hourly
             keep 2026-03-10T18:30:00Z hourly
             keep 2026-03-10T12:00:00Z hourly
             keep 2026-03-10T06:45:00Z hourly
             keep 2026-03-10T00:15:00Z hourly"
        )
    );
}

/// The same backups bucketed in Tokyo (UTC+9): days start nine hours earlier.
#[test]
fn days_are_the_zones_days() {
    let policy = Policy {
        daily: 2,
        ..Policy::default()
    };
    assert_eq!(
        plan(&SEVERAL_A_DAY, &policy, "2026-03-11T00:00:00Z", "Asia/Tokyo"),
        table(
            "keep 2026-03-10T23:59:00Z daily
             forget 2026-03-10T18:30:00Z
             keep 2026-03-10T12:00:00Z daily
             forget 2026-03-10T06:45:00Z
             forget 2026-03-10T06:00:00Z
             forget 2026-03-10T00:15:00Z
             forget 2026-03-09T23:00:00Z
             forget 2026-03-09T12:00:00Z"
        )
    );
}

/// New York falls back on Sunday 2026-11-01 at 02:00 EDT: 01:00-01:59 happens twice, and
/// both are the local hour 01, one hourly bucket (restic buckets by wall-clock time).
#[test]
fn dst_fall_back_repeated_hour_is_one_bucket() {
    let times = [
        "2026-11-01T00:30:00-04:00",
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:30:00-05:00",
        "2026-11-01T02:30:00-05:00",
    ];
    let policy = Policy {
        hourly: 3,
        ..Policy::default()
    };
    assert_eq!(
        plan(&times, &policy, "2026-11-01T12:00:00Z", "America/New_York"),
        table(
            "keep 2026-11-01T02:30:00-05:00 hourly
             keep 2026-11-01T01:30:00-05:00 hourly
             forget 2026-11-01T01:30:00-04:00
             keep 2026-11-01T00:30:00-04:00 hourly"
        )
    );
    // In UTC the four are four distinct hours.
    assert_eq!(
        keeps(&plan(&times, &policy, "2026-11-01T12:00:00Z", "UTC")).1,
        1,
        "the oldest falls outside three UTC hours"
    );
}

/// New York springs forward on Sunday 2026-03-08 (02:00 EST → 03:00 EDT). A backup at
/// 23:30 EST on the 7th is on the 8th in UTC.
#[test]
fn dst_spring_forward_days_follow_the_zone() {
    let times = [
        "2026-03-08T04:30:00Z", // 03-07 23:30 EST
        "2026-03-08T06:30:00Z", // 03-08 01:30 EST
        "2026-03-08T07:30:00Z", // 03-08 03:30 EDT
        "2026-03-09T04:30:00Z", // 03-09 00:30 EDT
    ];
    let policy = Policy {
        daily: 3,
        ..Policy::default()
    };
    assert_eq!(
        plan(&times, &policy, "2026-03-09T12:00:00Z", "America/New_York"),
        table(
            "keep 2026-03-09T04:30:00Z daily
             keep 2026-03-08T07:30:00Z daily
             forget 2026-03-08T06:30:00Z
             keep 2026-03-08T04:30:00Z daily"
        )
    );
    assert_eq!(
        plan(&times, &policy, "2026-03-09T12:00:00Z", "UTC"),
        table(
            "keep 2026-03-09T04:30:00Z daily
             keep 2026-03-08T07:30:00Z daily
             forget 2026-03-08T06:30:00Z
             forget 2026-03-08T04:30:00Z"
        )
    );
}

/// `1d` is a calendar day: across spring-forward it is 23 hours; `24h` is 24 hours.
#[test]
fn keep_within_uses_calendar_arithmetic_in_the_zone() {
    let times = ["2026-03-07T16:30:00Z", "2026-03-07T17:30:00Z", "2026-03-08T15:00:00Z"];
    let now = "2026-03-08T16:00:00Z"; // 12:00 EDT; a calendar day back is 12:00 EST = 17:00Z
    let day = Policy {
        within: Some(parse_span("1d").expect("span")),
        ..Policy::default()
    };
    assert_eq!(
        plan(&times, &day, now, "America/New_York"),
        table(
            "keep 2026-03-08T15:00:00Z within
             keep 2026-03-07T17:30:00Z within
             forget 2026-03-07T16:30:00Z"
        )
    );
    let hours = Policy {
        within: Some(parse_span("24h").expect("span")),
        ..Policy::default()
    };
    assert_eq!(
        plan(&times, &hours, now, "America/New_York"),
        table(
            "keep 2026-03-08T15:00:00Z within
             keep 2026-03-07T17:30:00Z within
             keep 2026-03-07T16:30:00Z within"
        )
    );
}

/// Exactly `now - D` is outside (restic compares strictly after); backups after now count
/// as within.
#[test]
fn keep_within_boundary_and_future() {
    let times = [
        "2026-05-01T00:00:00Z",
        "2026-05-01T00:00:01Z",
        "2026-05-03T00:00:00Z",
        "2026-05-04T00:00:00Z",
    ];
    let policy = Policy {
        within: Some(parse_span("48h").expect("span")),
        ..Policy::default()
    };
    assert_eq!(
        plan(&times, &policy, "2026-05-03T00:00:00Z", "UTC"),
        table(
            "keep 2026-05-04T00:00:00Z within
             keep 2026-05-03T00:00:00Z within
             keep 2026-05-01T00:00:01Z within
             forget 2026-05-01T00:00:00Z"
        )
    );
}

/// ISO weeks cross the year: Mon 2026-12-28 .. Sun 2027-01-03 is 2026-W53.
#[test]
fn iso_weeks_span_new_year() {
    let times = [
        "2026-12-27T10:00:00Z", // Sunday, 2026-W52
        "2026-12-31T10:00:00Z", // 2026-W53
        "2027-01-01T10:00:00Z", // 2026-W53, but year 2027
        "2027-01-04T10:00:00Z", // Monday, 2027-W01
    ];
    let policy = Policy {
        weekly: 3,
        monthly: 2,
        yearly: 2,
        ..Policy::default()
    };
    assert_eq!(
        plan(&times, &policy, "2027-01-05T00:00:00Z", "UTC"),
        table(
            "keep 2027-01-04T10:00:00Z weekly,monthly,yearly
             keep 2027-01-01T10:00:00Z weekly
             keep 2026-12-31T10:00:00Z monthly,yearly
             keep 2026-12-27T10:00:00Z weekly"
        )
    );
}

#[test]
fn pins_hold_until_they_expire() {
    let now = ts("2026-06-10T12:00:00Z");
    let c = |t: &str, pin: Option<Option<&str>>| Candidate {
        time: ts(t),
        pin: pin.map(|until| Pin { until: until.map(ts) }),
    };
    let backups = [
        c("2026-06-10T02:00:00Z", Some(Some("2026-06-12T02:00:00Z"))),
        c("2026-06-09T02:00:00Z", None),
        c("2026-06-08T09:00:00Z", Some(Some("2026-06-10T13:00:00Z"))), // expires in 1 h
        c("2026-06-07T09:00:00Z", Some(Some("2026-06-10T11:00:00Z"))), // expired 1 h ago
        c("2026-06-06T09:00:00Z", Some(Some("2026-06-10T12:00:00Z"))), // expires now: gone
        c("2026-01-01T09:00:00Z", Some(None)),                         // until released
    ];
    let policy = Policy {
        last: 1,
        ..Policy::default()
    };
    let d = apply(&backups, &policy, now, &tz("UTC"));
    let got: Vec<(usize, Vec<Rule>)> = d.into_iter().map(|d| (d.index, d.rules)).collect();
    assert_eq!(
        got,
        vec![
            (0, vec![Rule::Last, Rule::Pinned]),
            (1, vec![]),
            (2, vec![Rule::Pinned]),
            (3, vec![]),
            (4, vec![]),
            (5, vec![Rule::Pinned]),
        ]
    );
    // An hour later the second pin has expired too.
    let later = apply(&backups, &policy, now + 1.hour(), &tz("UTC"));
    assert!(!later[2].keep());
    assert!(later[5].keep());
}

/// Pinned backups are backups like the others for the counting rules.
#[test]
fn pinned_backups_still_fill_buckets() {
    let backups = [
        Candidate {
            time: ts("2026-06-10T02:00:00Z"),
            pin: Some(Pin { until: None }),
        },
        Candidate {
            time: ts("2026-06-10T01:00:00Z"),
            pin: None,
        },
    ];
    let policy = Policy {
        daily: 1,
        ..Policy::default()
    };
    let d = apply(&backups, &policy, ts("2026-06-11T00:00:00Z"), &tz("UTC"));
    assert_eq!(d[0].rules, vec![Rule::Daily, Rule::Pinned]);
    assert!(!d[1].keep());
}

#[test]
fn equal_timestamps_keep_input_order() {
    let policy = Policy {
        last: 1,
        ..Policy::default()
    };
    let times = ["2026-01-01T00:00:00Z", "2026-01-01T01:00:00+01:00"];
    assert_eq!(
        plan(&times, &policy, "2026-01-02T00:00:00Z", "UTC"),
        table(
            "keep 2026-01-01T00:00:00Z last
             forget 2026-01-01T01:00:00+01:00"
        )
    );
}

#[test]
fn applying_the_policy_to_what_it_keeps_keeps_it_all() {
    let times = daily("2024-01-01", "2026-11-30");
    let mut policy = Policy::gfs();
    policy.yearly = 3;
    policy.last = 3;
    let now = ts("2026-11-30T12:00:00Z");
    let zone = tz("Europe/Berlin");
    let all: Vec<Candidate> = times.iter().map(|t| Candidate { time: ts(t), pin: None }).collect();
    let first = apply(&all, &policy, now, &zone);
    let kept: Vec<Candidate> = first
        .iter()
        .filter(|d| d.keep())
        .map(|d| all[d.index].clone())
        .collect();
    let second = apply(&kept, &policy, now, &zone);
    assert!(second.iter().all(Decision::keep));
    // Shrinking a count never keeps more.
    policy.monthly = 6;
    let smaller = apply(&all, &policy, now, &zone).iter().filter(|d| d.keep()).count();
    assert!(smaller < kept.len());
}

#[test]
fn policies_and_spans() {
    assert!(!Policy::default().keeps_anything());
    assert!(Policy::gfs().keeps_anything());
    assert_eq!(Policy::gfs().describe(), "keep-daily 7, keep-weekly 4, keep-monthly 12");
    assert!(parse_span("0h").is_err());
    assert!(parse_span("-2d").is_err());
    assert!(parse_span("soon").is_err());
    assert_eq!(format_span(parse_span("48h").expect("span")), "48h");
    assert_eq!(format_span(parse_span("P2D").expect("span")), "2d");
}

#[test]
fn plan_input_is_checked_line_by_line() {
    let e = parse_plan_input("2026-01-01T00:00:00Z\n\n  2026-01-02T00:00:00Z \nyesterday\n").unwrap_err();
    assert_eq!(e.line, 4);
    assert_eq!(e.text, "yesterday");
    // No offset: not RFC 3339, not a point in time.
    assert!(parse_plan_input("2026-01-01T00:00:00").is_err());
    assert!(parse_plan_input("2026-01-01T00:00:00Z[Europe/Paris]").is_err());
    assert_eq!(parse_plan_input("\n \n").map(|v| v.len()), Ok(0));
}
