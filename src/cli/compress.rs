//! `-Z/--compress` exactly as pg_dump 16–18 reads it (`parse_compress_options`,
//! `parse_compress_specification` and `validate_compress_specification` in
//! src/common/compression.c), with its messages: a bare integer (0 = none, else a gzip
//! level), or `method[:detail]` where detail is a level or `keyword[=value],...` with
//! `level`, `long` (zstd) and `workers` (accepted for zstd with a warning, as pg_dump does).

use crate::codec::{Compression, GZIP_DEFAULT_LEVEL, LZ4_DEFAULT_LEVEL};
use crate::error::{Error, Result};

/// A parsed `-Z` value: the compression, and pg_dump's warning when it ignores a part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub compression: Compression,
    pub warning: Option<String>,
}

/// C `strtol` on the whole string: `Some` only when, after optional leading white space and
/// a sign, digits run to the end. `""` gives `Some(0)`, as `strtol` leaves `endptr` at the
/// (empty) end.
fn whole_integer(s: &str) -> Option<i64> {
    if s.is_empty() {
        return Some(0);
    }
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\u{b}', '\u{c}']);
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // strtol saturates; so do we (the value is range-checked later anyway).
    let v = digits.parse::<i64>().unwrap_or(i64::MAX);
    Some(if t.starts_with('-') { -v } else { v })
}

/// Like [`whole_integer`] but an empty string is not a number (`endptr == start`).
fn integer_value(s: &str) -> Option<i64> {
    if s.is_empty() { None } else { whole_integer(s) }
}

fn spec_error(detail: impl std::fmt::Display) -> Error {
    Error::usage(format!("invalid compression specification: {detail}"))
}

/// Parses a `-Z` value as pg_dump does.
pub fn parse(option: &str) -> Result<Parsed> {
    // parse_compress_options: a bare integer keeps the pre-16 meaning.
    let (algorithm, detail): (&str, Option<&str>) = match whole_integer(option) {
        Some(0) => ("none", None),
        Some(_) => ("gzip", Some(option)),
        None => match option.split_once(':') {
            Some((a, d)) => (a, Some(d)),
            None => (option, None),
        },
    };
    let (default_level, min, max) = match algorithm {
        "none" => (0, 1, 1),
        "gzip" => (-1, 1, 9),
        "lz4" => (0, 1, 12),
        "zstd" => {
            let r = ::zstd::compression_level_range();
            (3, i64::from(*r.start()), i64::from(*r.end()))
        }
        other => {
            return Err(Error::usage(format!("unrecognized compression algorithm: \"{other}\"")));
        }
    };
    let mut level = default_level;
    let mut workers = false;
    let mut long = false;
    let mut long_given = false;
    if let Some(detail) = detail {
        if let Some(l) = integer_value(detail) {
            level = l;
        } else {
            for item in detail.split(',') {
                let (keyword, value) = match item.split_once('=') {
                    Some((k, v)) => (k, Some(v)),
                    None => (item, None),
                };
                if keyword.is_empty() {
                    return Err(spec_error("found empty string where a compression option was expected"));
                }
                let integer = |value: Option<&str>| -> Result<i64> {
                    let v = value
                        .ok_or_else(|| spec_error(format!("compression option \"{keyword}\" requires a value")))?;
                    integer_value(v).ok_or_else(|| {
                        spec_error(format!("value for compression option \"{keyword}\" must be an integer"))
                    })
                };
                match keyword {
                    "level" => level = integer(value)?,
                    "workers" => {
                        integer(value)?;
                        workers = true;
                    }
                    "long" => {
                        long = match value.map(str::to_ascii_lowercase).as_deref() {
                            None | Some("yes" | "on" | "1") => true,
                            Some("no" | "off" | "0") => false,
                            Some(_) => {
                                return Err(spec_error(format!(
                                    "value for compression option \"{keyword}\" must be a Boolean value"
                                )));
                            }
                        };
                        // Even `long=off` counts: only zstd accepts the keyword.
                        long_given = true;
                    }
                    other => return Err(spec_error(format!("unrecognized compression option: \"{other}\""))),
                }
            }
        }
    }
    if algorithm == "none" && level != 0 {
        return Err(spec_error(
            "compression algorithm \"none\" does not accept a compression level",
        ));
    }
    if (level < min || level > max) && level != default_level {
        return Err(spec_error(format!(
            "compression algorithm \"{algorithm}\" expects a compression level between {min} and {max} (default at \
             {default_level})"
        )));
    }
    if workers && algorithm != "zstd" {
        return Err(spec_error(format!(
            "compression algorithm \"{algorithm}\" does not accept a worker count"
        )));
    }
    if long_given && algorithm != "zstd" {
        return Err(spec_error(format!(
            "compression algorithm \"{algorithm}\" does not support long-distance mode"
        )));
    }
    let warning = workers.then(|| "compression option \"workers\" is not currently supported by pg_dump".to_string());
    // The ranges checked above fit the codec's integer types.
    let compression = match algorithm {
        "none" => Compression::None,
        "gzip" if level == default_level => Compression::Gzip {
            level: GZIP_DEFAULT_LEVEL,
        },
        "gzip" => Compression::Gzip { level: level as u32 },
        // lz4's 0 is its fast mode, the codec's lowest level.
        "lz4" if level == default_level => Compression::Lz4 {
            level: LZ4_DEFAULT_LEVEL,
        },
        "lz4" => Compression::Lz4 { level: level as u32 },
        _ => Compression::Zstd {
            level: level as i32,
            long,
        },
    };
    Ok(Parsed { compression, warning })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Compression {
        parse(s).unwrap().compression
    }

    fn err(s: &str) -> String {
        parse(s).unwrap_err().to_string()
    }

    #[test]
    fn pg_dump_spellings() {
        assert_eq!(ok("0"), Compression::None);
        assert_eq!(ok(""), Compression::None);
        assert_eq!(ok("5"), Compression::Gzip { level: 5 });
        assert_eq!(ok(" 5"), Compression::Gzip { level: 5 });
        assert_eq!(ok("-1"), Compression::Gzip { level: 6 });
        assert_eq!(ok("gzip"), Compression::Gzip { level: 6 });
        assert_eq!(ok("gzip:9"), Compression::Gzip { level: 9 });
        assert_eq!(ok("gzip:level=1"), Compression::Gzip { level: 1 });
        assert_eq!(ok("none"), Compression::None);
        assert_eq!(ok("none:0"), Compression::None);
        assert_eq!(ok("lz4"), Compression::Lz4 { level: 1 });
        assert_eq!(ok("lz4:12"), Compression::Lz4 { level: 12 });
        assert_eq!(ok("zstd"), Compression::Zstd { level: 3, long: false });
        assert_eq!(ok("zstd:long"), Compression::Zstd { level: 3, long: true });
        assert_eq!(ok("zstd:level=-5,long=on"), Compression::Zstd { level: -5, long: true });
        assert_eq!(ok("zstd:long=no"), Compression::Zstd { level: 3, long: false });
        let p = parse("zstd:workers=4").unwrap();
        assert_eq!(
            p.warning.as_deref(),
            Some("compression option \"workers\" is not currently supported by pg_dump")
        );
    }

    #[test]
    fn pg_dump_messages() {
        for (spec, msg) in [
            ("brotli", "unrecognized compression algorithm: \"brotli\""),
            ("5 ", "unrecognized compression algorithm: \"5 \""),
            ("GZIP", "unrecognized compression algorithm: \"GZIP\""),
            (
                "10",
                "invalid compression specification: compression algorithm \"gzip\" expects a compression level \
                 between 1 and 9 (default at -1)",
            ),
            (
                "gzip:0",
                "invalid compression specification: compression algorithm \"gzip\" expects a compression level \
                 between 1 and 9 (default at -1)",
            ),
            (
                "none:3",
                "invalid compression specification: compression algorithm \"none\" does not accept a compression level",
            ),
            (
                "lz4:13",
                "invalid compression specification: compression algorithm \"lz4\" expects a compression level \
                 between 1 and 12 (default at 0)",
            ),
            (
                "gzip:foo=1",
                "invalid compression specification: unrecognized compression option: \"foo\"",
            ),
            (
                "gzip:",
                "invalid compression specification: found empty string where a compression option was expected",
            ),
            (
                "gzip:level=3,",
                "invalid compression specification: found empty string where a compression option was expected",
            ),
            (
                "gzip:level",
                "invalid compression specification: compression option \"level\" requires a value",
            ),
            (
                "gzip:level=x",
                "invalid compression specification: value for compression option \"level\" must be an integer",
            ),
            (
                "zstd:long=maybe",
                "invalid compression specification: value for compression option \"long\" must be a Boolean value",
            ),
            (
                "gzip:long",
                "invalid compression specification: compression algorithm \"gzip\" does not support long-distance \
                 mode",
            ),
            (
                "lz4:workers=2",
                "invalid compression specification: compression algorithm \"lz4\" does not accept a worker count",
            ),
        ] {
            assert_eq!(err(spec), msg, "-Z {spec:?}");
        }
    }
}
