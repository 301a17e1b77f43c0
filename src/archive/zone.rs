//! The "Archive created at" stamp as pg_restore -l prints it: the header's broken-down time is
//! turned into an instant with `mktime` in the reader's local time zone, then printed with
//! `localtime` and `%Z` (pg_backup_archiver.c `ReadHead`, `PrintTOCSummary`). So the printed
//! time and zone abbreviation depend on the process's zone: `TZ` (a zoneinfo name, a path or a
//! POSIX TZ string), else /etc/localtime, else UTC — glibc's rules.
//!
//! The zone rules come from TZif files (RFC 8536) and POSIX TZ strings, parsed here without
//! I/O; only [`local_zone`] reads the environment and the file system.

use std::path::PathBuf;

use super::toc::CreateTime;

/// One local time type: offset east of UTC, DST flag, abbreviation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeType {
    pub utoff: i64,
    pub isdst: bool,
    pub abbr: String,
}

/// A POSIX TZ rule (`std offset [dst [offset] [,start[/time],end[/time]]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosixTz {
    std: TimeType,
    dst: Option<(TimeType, Rule, i64, Rule, i64)>,
}

/// A day of the year in a POSIX rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// `Jn`: day 1..=365, February 29 never counted.
    Julian1(i64),
    /// `n`: day 0..=365, February 29 counted.
    Julian0(i64),
    /// `Mm.w.d`: weekday d of week w (5 = last) of month m.
    Month(i64, i64, i64),
}

/// A zone: TZif transitions with an optional POSIX rule for times after the last one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    transitions: Vec<(i64, usize)>,
    types: Vec<TimeType>,
    footer: Option<PosixTz>,
}

impl Zone {
    /// UTC, what glibc uses without any zone information.
    pub fn utc() -> Zone {
        Zone {
            transitions: Vec::new(),
            types: vec![TimeType {
                utoff: 0,
                isdst: false,
                abbr: "UTC".into(),
            }],
            footer: None,
        }
    }

    /// The time type in effect at `t` (seconds since the epoch).
    pub fn type_at(&self, t: i64) -> TimeType {
        let after_last = self.transitions.last().is_none_or(|&(last, _)| t >= last);
        if after_last && let Some(f) = &self.footer {
            return f.type_at(t);
        }
        match self.transitions.partition_point(|&(at, _)| at <= t) {
            0 => self.types[0].clone(),
            i => self.types[self.transitions[i - 1].1].clone(),
        }
    }

    /// Every time type the zone uses, footer included.
    fn all_types(&self) -> Vec<TimeType> {
        let mut v = self.types.clone();
        if let Some(f) = &self.footer {
            v.push(f.std.clone());
            if let Some((d, ..)) = &f.dst {
                v.push(d.clone());
            }
        }
        v
    }

    /// `mktime` of local fields (`isdst` -1 unknown, 0 or 1 as requested), as glibc resolves
    /// it: a local time that exists with the requested DST flag uses it; one that exists only
    /// with the other flag is shifted by the offset of a nearby time with the requested flag.
    pub fn mktime(&self, local: i64, isdst: i32) -> i64 {
        let types = self.all_types();
        let mut valid: Vec<(i64, TimeType)> = Vec::new();
        for ty in &types {
            let t = local - ty.utoff;
            let at = self.type_at(t);
            if at.utoff == ty.utoff && !valid.iter().any(|(v, _)| *v == t) {
                valid.push((t, at));
            }
        }
        valid.sort_by_key(|(t, _)| *t);
        if isdst >= 0 {
            let want = isdst > 0;
            if let Some((t, _)) = valid.iter().find(|(_, ty)| ty.isdst == want) {
                return *t;
            }
            // Use the offset of the nearest time (within about a year) with that flag.
            let mut best: Option<(i64, i64)> = None;
            for step in 0..=(400 * 24) {
                for sign in [-1, 1] {
                    let probe = local + sign * step * 3600;
                    let ty = self.type_at(probe);
                    if ty.isdst == want && best.is_none() {
                        best = Some((probe, ty.utoff));
                    }
                }
                if best.is_some() {
                    break;
                }
            }
            if let Some((_, utoff)) = best {
                return local - utoff;
            }
            // A zone without that flag at all: glibc takes DST as one hour ahead.
            if let Some((t, _)) = valid.first() {
                return if want { t - 3600 } else { t + 3600 };
            }
        }
        match valid.first() {
            Some((t, _)) => *t,
            // A skipped local time: interpret it with the offset in effect before the gap.
            None => {
                local
                    - self
                        .type_at(local - types.iter().map(|t| t.utoff).max().unwrap_or(0))
                        .utoff
            }
        }
    }

    /// What pg_restore prints for a header time: local fields and zone abbreviation.
    pub fn stamp(&self, created: &CreateTime) -> (CreateTime, String) {
        let local = days_from_civil(
            i64::from(created.year) + 1900,
            i64::from(created.mon) + 1,
            i64::from(created.mday),
        ) * 86_400
            + i64::from(created.hour) * 3600
            + i64::from(created.min) * 60
            + i64::from(created.sec);
        let t = self.mktime(local, created.isdst);
        let ty = self.type_at(t);
        let l = t + ty.utoff;
        let (y, m, d) = civil_from_days(l.div_euclid(86_400));
        let s = l.rem_euclid(86_400);
        (
            CreateTime {
                sec: (s % 60) as i32,
                min: (s / 60 % 60) as i32,
                hour: (s / 3600) as i32,
                mday: d as i32,
                mon: m as i32 - 1,
                year: y as i32 - 1900,
                isdst: i32::from(ty.isdst),
            },
            ty.abbr,
        )
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

impl PosixTz {
    /// Parses a POSIX TZ string; `None` if malformed.
    pub fn parse(s: &str) -> Option<PosixTz> {
        let mut p = Cursor { s: s.as_bytes(), i: 0 };
        let std_name = p.name()?;
        let std_off = -p.offset()?;
        let std = TimeType {
            utoff: std_off,
            isdst: false,
            abbr: std_name,
        };
        if p.done() {
            return Some(PosixTz { std, dst: None });
        }
        let dst_name = p.name()?;
        let dst_off = if p.peek().is_some_and(|c| c != b',') {
            -p.offset()?
        } else {
            std_off + 3600
        };
        let dst = TimeType {
            utoff: dst_off,
            isdst: true,
            abbr: dst_name,
        };
        // Without rules, glibc applies the US rules.
        let (start, start_t, end, end_t) = if p.done() {
            (Rule::Month(3, 2, 0), 7200, Rule::Month(11, 1, 0), 7200)
        } else {
            p.expect(b',')?;
            let (a, at) = p.rule()?;
            p.expect(b',')?;
            let (b, bt) = p.rule()?;
            (a, at, b, bt)
        };
        if !p.done() {
            return None;
        }
        Some(PosixTz {
            std,
            dst: Some((dst, start, start_t, end, end_t)),
        })
    }

    fn type_at(&self, t: i64) -> TimeType {
        let Some((dst, start, start_t, end, end_t)) = &self.dst else {
            return self.std.clone();
        };
        let year = civil_from_days((t + self.std.utoff).div_euclid(86_400)).0;
        // DST starts at the rule time in standard time and ends at it in DST time.
        let begins = (rule_day(*start, year) * 86_400 + start_t) - self.std.utoff;
        let ends = (rule_day(*end, year) * 86_400 + end_t) - dst.utoff;
        let in_dst = if begins < ends {
            t >= begins && t < ends
        } else {
            !(t >= ends && t < begins)
        };
        if in_dst { dst.clone() } else { self.std.clone() }
    }
}

/// Days since the epoch of a rule's day in `year`.
fn rule_day(r: Rule, year: i64) -> i64 {
    let jan1 = days_from_civil(year, 1, 1);
    match r {
        Rule::Julian1(n) => jan1 + n - 1 + i64::from(is_leap(year) && n >= 60),
        Rule::Julian0(n) => jan1 + n,
        Rule::Month(m, w, d) => {
            let first = days_from_civil(year, m, 1);
            // 1970-01-01 was a Thursday (weekday 4).
            let wd_first = (first + 4).rem_euclid(7);
            let mut day = first + (d - wd_first).rem_euclid(7) + (w - 1) * 7;
            let next_month = if m == 12 {
                days_from_civil(year + 1, 1, 1)
            } else {
                days_from_civil(year, m + 1, 1)
            };
            while day >= next_month {
                day -= 7;
            }
            day
        }
    }
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn done(&self) -> bool {
        self.i >= self.s.len()
    }
    fn expect(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }
    fn name(&mut self) -> Option<String> {
        let start = self.i;
        if self.peek()? == b'<' {
            self.i += 1;
            let from = self.i;
            while self.peek()? != b'>' {
                self.i += 1;
            }
            let n = String::from_utf8_lossy(&self.s[from..self.i]).into_owned();
            self.i += 1;
            return Some(n);
        }
        while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            self.i += 1;
        }
        (self.i - start >= 3).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }
    fn num(&mut self) -> Option<i64> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i]).ok()?.parse().ok()
    }
    /// `[+-]hh[:mm[:ss]]` in seconds (POSIX sign: positive is west of UTC).
    fn offset(&mut self) -> Option<i64> {
        let sign = match self.peek()? {
            b'-' => {
                self.i += 1;
                -1
            }
            b'+' => {
                self.i += 1;
                1
            }
            _ => 1,
        };
        let mut secs = self.num()? * 3600;
        for unit in [60, 1] {
            if self.peek() == Some(b':') {
                self.i += 1;
                secs += self.num()? * unit;
            } else {
                break;
            }
        }
        Some(sign * secs)
    }
    fn rule(&mut self) -> Option<(Rule, i64)> {
        let r = match self.peek()? {
            b'J' => {
                self.i += 1;
                Rule::Julian1(self.num()?)
            }
            b'M' => {
                self.i += 1;
                let m = self.num()?;
                self.expect(b'.')?;
                let w = self.num()?;
                self.expect(b'.')?;
                let d = self.num()?;
                if !(1..=12).contains(&m) || !(1..=5).contains(&w) || !(0..=6).contains(&d) {
                    return None;
                }
                Rule::Month(m, w, d)
            }
            _ => Rule::Julian0(self.num()?),
        };
        let t = if self.peek() == Some(b'/') {
            self.i += 1;
            self.offset()?
        } else {
            7200
        };
        Some((r, t))
    }
}

/// Parses a TZif file (version 1, or the 64-bit data of version 2+ with its footer).
pub fn parse_tzif(b: &[u8]) -> Option<Zone> {
    fn be32(b: &[u8], at: usize) -> Option<u32> {
        Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
    }
    fn block(b: &[u8], at: usize, wide: bool) -> Option<(Zone, usize)> {
        if b.get(at..at + 4)? != b"TZif" {
            return None;
        }
        let c = |k: usize| be32(b, at + 20 + 4 * k).map(|v| v as usize);
        let (isut, isstd, leap, timecnt, typecnt, charcnt) = (c(0)?, c(1)?, c(2)?, c(3)?, c(4)?, c(5)?);
        if typecnt == 0 {
            return None;
        }
        let tsize = if wide { 8 } else { 4 };
        let mut p = at + 44;
        let mut times = Vec::with_capacity(timecnt);
        for k in 0..timecnt {
            let raw = b.get(p + k * tsize..p + (k + 1) * tsize)?;
            times.push(if wide {
                i64::from_be_bytes(raw.try_into().ok()?)
            } else {
                i64::from(i32::from_be_bytes(raw.try_into().ok()?))
            });
        }
        p += timecnt * tsize;
        let idx = b.get(p..p + timecnt)?;
        p += timecnt;
        let infos = b.get(p..p + 6 * typecnt)?;
        p += 6 * typecnt;
        let chars = b.get(p..p + charcnt)?;
        p += charcnt + leap * (tsize + 4) + isstd + isut;
        let mut types = Vec::with_capacity(typecnt);
        for k in 0..typecnt {
            let r = &infos[6 * k..6 * k + 6];
            let ai = usize::from(r[5]);
            let tail = chars.get(ai..)?;
            let end = tail.iter().position(|&c| c == 0).unwrap_or(tail.len());
            types.push(TimeType {
                utoff: i64::from(i32::from_be_bytes([r[0], r[1], r[2], r[3]])),
                isdst: r[4] != 0,
                abbr: String::from_utf8_lossy(&tail[..end]).into_owned(),
            });
        }
        let mut transitions = Vec::with_capacity(timecnt);
        for (k, t) in times.into_iter().enumerate() {
            let i = usize::from(idx[k]);
            if i >= typecnt {
                return None;
            }
            transitions.push((t, i));
        }
        Some((
            Zone {
                transitions,
                types,
                footer: None,
            },
            p,
        ))
    }
    let (v1, end) = block(b, 0, false)?;
    if b.get(4).is_some_and(|&v| v >= b'2')
        && let Some((mut z, end2)) = block(b, end, true)
    {
        let rest = b.get(end2..).unwrap_or(&[]);
        if rest.first() == Some(&b'\n')
            && let Some(len) = rest[1..].iter().position(|&c| c == b'\n')
        {
            let text = String::from_utf8_lossy(&rest[1..1 + len]).into_owned();
            z.footer = if text.is_empty() { None } else { PosixTz::parse(&text) };
        }
        return Some(z);
    }
    Some(v1)
}

/// The process's local zone as glibc determines it.
pub fn local_zone() -> Zone {
    let tzdir = std::env::var_os("TZDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/zoneinfo"));
    let from_file = |p: PathBuf| std::fs::read(p).ok().and_then(|b| parse_tzif(&b));
    match std::env::var("TZ") {
        Err(_) => from_file(PathBuf::from("/etc/localtime")).unwrap_or_else(Zone::utc),
        Ok(tz) if tz.is_empty() => Zone::utc(),
        Ok(tz) => {
            let name = tz.strip_prefix(':').unwrap_or(&tz);
            let path = if name.starts_with('/') {
                PathBuf::from(name)
            } else {
                tzdir.join(name)
            };
            let safe = !name.split('/').any(|c| c == "..");
            safe.then(|| from_file(path))
                .flatten()
                .or_else(|| {
                    PosixTz::parse(name).map(|f| Zone {
                        transitions: Vec::new(),
                        types: vec![f.std.clone()],
                        footer: Some(f),
                    })
                })
                .unwrap_or_else(Zone::utc)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(y: i64, mo: i64, d: i64, h: i64, mi: i64) -> i64 {
        days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60
    }

    fn ct(y: i32, mo: i32, d: i32, h: i32, mi: i32, isdst: i32) -> CreateTime {
        CreateTime {
            sec: 0,
            min: mi,
            hour: h,
            mday: d,
            mon: mo - 1,
            year: y - 1900,
            isdst,
        }
    }

    fn berlin() -> Zone {
        let f = PosixTz::parse("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        Zone {
            transitions: Vec::new(),
            types: vec![f.std.clone()],
            footer: Some(f),
        }
    }

    #[test]
    fn utc_prints_the_fields_unchanged() {
        let (f, z) = Zone::utc().stamp(&ct(2026, 11, 24, 1, 32, 0));
        assert_eq!((f, z.as_str()), (ct(2026, 11, 24, 1, 32, 0), "UTC"));
    }

    #[test]
    fn posix_rules_switch_on_the_right_days() {
        let z = berlin();
        // 2026: DST from March 29 01:00 UTC to October 25 01:00 UTC.
        assert_eq!(z.type_at(t(2026, 3, 29, 0, 59)).abbr, "CET");
        assert_eq!(z.type_at(t(2026, 3, 29, 1, 0)).abbr, "CEST");
        assert_eq!(z.type_at(t(2026, 10, 25, 0, 59)).abbr, "CEST");
        assert_eq!(z.type_at(t(2026, 10, 25, 1, 0)).abbr, "CET");
        let south = PosixTz::parse("<-03>3<-02>,M10.1.0/0,M3.1.0/0").unwrap();
        assert!(south.type_at(t(2026, 1, 15, 12, 0)).isdst);
        assert!(!south.type_at(t(2026, 6, 15, 12, 0)).isdst);
        assert_eq!(PosixTz::parse("UTC0").unwrap().type_at(0).abbr, "UTC");
        assert!(PosixTz::parse("X").is_none());
        assert!(PosixTz::parse("CET-1CEST,M13.5.0,M10.5.0").is_none());
    }

    #[test]
    fn mktime_follows_the_requested_dst_flag() {
        let z = berlin();
        // Winter, isdst 0: 11:08 CET as written.
        let (f, a) = z.stamp(&ct(2026, 1, 10, 11, 8, 0));
        assert_eq!((f.hour, a.as_str()), (11, "CET"));
        // Summer, isdst 0 (pgsnap writes UTC fields with isdst 0): read as standard time,
        // printed one hour later in CEST — what pg_restore in Berlin prints.
        let (f, a) = z.stamp(&ct(2026, 7, 10, 11, 8, 0));
        assert_eq!((f.hour, f.isdst, a.as_str()), (12, 1, "CEST"));
        // Summer, isdst 1: as written.
        let (f, a) = z.stamp(&ct(2026, 7, 10, 11, 8, 1));
        assert_eq!((f.hour, a.as_str()), (11, "CEST"));
        // A zone without DST asked for DST: one hour earlier (glibc).
        let (f, a) = Zone::utc().stamp(&ct(2026, 7, 10, 11, 8, 1));
        assert_eq!((f.hour, a.as_str()), (10, "UTC"));
    }

    #[test]
    fn reads_tzif_with_footer() {
        // A minimal v2 file: one type in the v1 block, one transition + two types in the v2
        // block, and a footer.
        fn header(timecnt: u32, typecnt: u32, charcnt: u32) -> Vec<u8> {
            let mut h = b"TZif2".to_vec();
            h.extend_from_slice(&[0; 15]);
            for c in [0, 0, 0, timecnt, typecnt, charcnt] {
                h.extend_from_slice(&c.to_be_bytes());
            }
            h
        }
        let mut b = header(0, 1, 4);
        b.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        b.extend_from_slice(b"UTC\0");
        b.extend(header(1, 2, 8));
        b.extend_from_slice(&t(2000, 1, 1, 0, 0).to_be_bytes());
        b.push(1);
        b.extend_from_slice(&[0, 0, 0x0e, 0x10, 0, 0]); // +1h, std, "LMT"
        b.extend_from_slice(&[0, 0, 0x0e, 0x10, 0, 4]); // +1h, std, "CET"
        b.extend_from_slice(b"LMT\0CET\0");
        b.extend_from_slice(b"\nCET-1CEST,M3.5.0,M10.5.0/3\n");
        let z = parse_tzif(&b).unwrap();
        assert_eq!(z.type_at(t(1990, 1, 1, 0, 0)).abbr, "LMT");
        assert_eq!(z.type_at(t(2010, 1, 1, 0, 0)).abbr, "CET");
        assert_eq!(z.type_at(t(2010, 7, 1, 0, 0)).abbr, "CEST");
        assert!(parse_tzif(b"TZif").is_none());
        assert!(parse_tzif(&b[..50]).is_none(), "cut inside the first block");
        // Cut inside the 64-bit block: the 32-bit data still gives a zone.
        assert_eq!(parse_tzif(&b[..60]).unwrap().type_at(0).abbr, "UTC");
    }

    #[test]
    fn system_zone_files_parse_when_present() {
        // Cross-check against the system's zoneinfo where installed.
        if let Ok(b) = std::fs::read("/usr/share/zoneinfo/Europe/Berlin") {
            let z = parse_tzif(&b).unwrap();
            assert_eq!(z.type_at(t(2026, 7, 1, 0, 0)).abbr, "CEST");
            assert_eq!(z.type_at(t(1990, 1, 1, 0, 0)).abbr, "CET");
        }
    }

    #[test]
    fn civil_round_trip() {
        for d in [-800_000, -1, 0, 1, 19_000, 20_780, 2_000_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        // 2026-03-29 is the last Sunday of March.
        assert_eq!(rule_day(Rule::Month(3, 5, 0), 2026), days_from_civil(2026, 3, 29));
        assert_eq!(rule_day(Rule::Julian1(60), 2024), days_from_civil(2024, 3, 1));
        assert_eq!(rule_day(Rule::Julian0(59), 2024), days_from_civil(2024, 2, 29));
    }
}
