//! `--split-tables-larger-than=SIZE`: which tables several workers read as `ctid` page
//! ranges (issue 10). pgsnap's own option; the name and the meaning of 0 (never split) follow
//! pgcopydb's option of the same name, the units PostgreSQL's memory settings (1 kB = 1024
//! bytes).
//!
//! Why a user turns it down or off: a range is read by a TID range scan, and PostgreSQL gives
//! those no bulk-read ring (heapam's `initscan` allows the ring only to scans that ask for it,
//! and `table_beginscan_tidrange` does not), so a split table larger than a quarter of
//! `shared_buffers` passes through the whole buffer cache and evicts what other sessions had
//! cached there, where pg_dump's sequential scan cycles through a 256 kB ring.

use crate::engine::DEFAULT_PAGE_BYTES;

/// Parses SIZE (a whole number of bytes, or with a unit B, kB, MB, GB or TB, any case,
/// space allowed before it) into the threshold in 8 kB pages: 0 never splits, any other
/// size is at least one page.
pub fn parse_split_size(text: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "invalid value \"{text}\" for option --split-tables-larger-than \
             (expected a size such as 512MB or 2GB, or 0 to never split)"
        )
    };
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    if digits == 0 {
        return Err(bad());
    }
    let number: u64 = t[..digits].parse().map_err(|_| bad())?;
    let unit: u64 = match t[digits..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1 << 10,
        "mb" => 1 << 20,
        "gb" => 1 << 30,
        "tb" => 1 << 40,
        _ => return Err(bad()),
    };
    let bytes = number.checked_mul(unit).ok_or_else(bad)?;
    Ok(bytes.div_ceil(DEFAULT_PAGE_BYTES))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_become_pages() {
        assert_eq!(parse_split_size("0"), Ok(0));
        assert_eq!(parse_split_size("0GB"), Ok(0));
        assert_eq!(parse_split_size("1"), Ok(1), "any size splits at one page or more");
        assert_eq!(parse_split_size("8192"), Ok(1));
        assert_eq!(parse_split_size("8193 B"), Ok(2));
        assert_eq!(parse_split_size("32kB"), Ok(4));
        assert_eq!(parse_split_size("64MB"), Ok(crate::engine::DEFAULT_SPLIT_PAGES));
        assert_eq!(parse_split_size(" 2 gb "), Ok(2 * 131_072));
        assert_eq!(parse_split_size("1TB"), Ok(1 << 27));
    }

    #[test]
    fn bad_sizes_are_refused_with_the_option_named() {
        for bad in ["", "MB", "-1", "1.5GB", "12 parsecs", "1e9", "99999999999TB", "0x10"] {
            let err = parse_split_size(bad).unwrap_err();
            assert!(err.contains("--split-tables-larger-than"), "{bad}: {err}");
            assert!(err.contains(&format!("\"{bad}\"")), "{bad}: {err}");
        }
    }
}
