//! The source session's settings the TOC carries in its ENCODING, STDSTRINGS and SEARCHPATH
//! entries, decoded as pg_restore decodes them while reading the TOC
//! (`processEncodingEntry`, `processStdStringsEntry`, `processSearchPathEntry`,
//! pg_backup_archiver.c).

use super::super::toc::TocEntry;
use crate::error::{Error, Result};

/// What a script must establish before any object is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSettings {
    /// Canonical encoding name (`UTF8`, `LATIN1`, ...) for `SET client_encoding`.
    pub encoding: String,
    /// The dump's `standard_conforming_strings`: decides how literals the printer writes
    /// itself are escaped.
    pub std_strings: bool,
    /// The SEARCHPATH entry's statement, verbatim; `None` for archives without one (the
    /// printer then sets `search_path` per object, as pg_restore does for old archives).
    pub search_path: Option<String>,
}

impl Default for SourceSettings {
    /// pg_restore's assumptions for an archive with none of the three entries.
    fn default() -> Self {
        SourceSettings {
            encoding: "SQL_ASCII".into(),
            std_strings: false,
            search_path: None,
        }
    }
}

impl SourceSettings {
    /// Reads the three entries from a TOC (a later entry of the same kind wins, as it does
    /// in pg_restore). A malformed ENCODING or STDSTRINGS entry is an archive error, the one
    /// pg_restore stops with.
    pub fn from_toc(entries: &[TocEntry]) -> Result<SourceSettings> {
        let mut s = SourceSettings::default();
        for e in entries {
            match e.desc.as_str() {
                "ENCODING" => s.encoding = encoding_of(e)?,
                "STDSTRINGS" => s.std_strings = std_strings_of(e)?,
                "SEARCHPATH" => s.search_path = Some(e.defn.clone().unwrap_or_default()),
                _ => {}
            }
        }
        Ok(s)
    }
}

/// The name between the first two single quotes of `SET client_encoding = 'UTF8';`.
fn encoding_of(e: &TocEntry) -> Result<String> {
    let defn = e.defn.as_deref().unwrap_or("");
    let quoted = defn.split_once('\'').and_then(|(_, rest)| rest.split_once('\''));
    let Some((name, _)) = quoted else {
        return Err(Error::archive(format!("invalid ENCODING item: {defn}")));
    };
    canonical_encoding(name)
        .map(str::to_string)
        .ok_or_else(|| Error::archive(format!("unrecognized encoding \"{name}\"")))
}

/// `'on'` or `'off'` right at the first single quote of the STDSTRINGS statement.
fn std_strings_of(e: &TocEntry) -> Result<bool> {
    let defn = e.defn.as_deref().unwrap_or("");
    match defn.find('\'').map(|i| &defn[i..]) {
        Some(v) if v.starts_with("'on'") => Ok(true),
        Some(v) if v.starts_with("'off'") => Ok(false),
        _ => Err(Error::archive(format!("invalid STDSTRINGS item: {defn}"))),
    }
}

/// Encoding aliases PostgreSQL accepts (`pg_encname_tbl`, encnames.c), keyed by the name
/// with non-alphanumerics dropped and letters lower-cased, and the canonical name each
/// stands for.
const ENCODING_ALIASES: &[(&str, &str)] = &[
    ("abc", "WIN1258"),
    ("alt", "WIN866"),
    ("big5", "BIG5"),
    ("euccn", "EUC_CN"),
    ("eucjis2004", "EUC_JIS_2004"),
    ("eucjp", "EUC_JP"),
    ("euckr", "EUC_KR"),
    ("euctw", "EUC_TW"),
    ("gb18030", "GB18030"),
    ("gbk", "GBK"),
    ("iso88591", "LATIN1"),
    ("iso885910", "LATIN6"),
    ("iso885913", "LATIN7"),
    ("iso885914", "LATIN8"),
    ("iso885915", "LATIN9"),
    ("iso885916", "LATIN10"),
    ("iso88592", "LATIN2"),
    ("iso88593", "LATIN3"),
    ("iso88594", "LATIN4"),
    ("iso88595", "ISO_8859_5"),
    ("iso88596", "ISO_8859_6"),
    ("iso88597", "ISO_8859_7"),
    ("iso88598", "ISO_8859_8"),
    ("iso88599", "LATIN5"),
    ("johab", "JOHAB"),
    ("koi8", "KOI8R"),
    ("koi8r", "KOI8R"),
    ("koi8u", "KOI8U"),
    ("latin1", "LATIN1"),
    ("latin10", "LATIN10"),
    ("latin2", "LATIN2"),
    ("latin3", "LATIN3"),
    ("latin4", "LATIN4"),
    ("latin5", "LATIN5"),
    ("latin6", "LATIN6"),
    ("latin7", "LATIN7"),
    ("latin8", "LATIN8"),
    ("latin9", "LATIN9"),
    ("mskanji", "SJIS"),
    ("muleinternal", "MULE_INTERNAL"),
    ("shiftjis", "SJIS"),
    ("shiftjis2004", "SHIFT_JIS_2004"),
    ("sjis", "SJIS"),
    ("sqlascii", "SQL_ASCII"),
    ("tcvn", "WIN1258"),
    ("tcvn5712", "WIN1258"),
    ("uhc", "UHC"),
    ("unicode", "UTF8"),
    ("utf8", "UTF8"),
    ("vscii", "WIN1258"),
    ("win", "WIN1251"),
    ("win1250", "WIN1250"),
    ("win1251", "WIN1251"),
    ("win1252", "WIN1252"),
    ("win1253", "WIN1253"),
    ("win1254", "WIN1254"),
    ("win1255", "WIN1255"),
    ("win1256", "WIN1256"),
    ("win1257", "WIN1257"),
    ("win1258", "WIN1258"),
    ("win866", "WIN866"),
    ("win874", "WIN874"),
    ("win932", "SJIS"),
    ("win936", "GBK"),
    ("win949", "UHC"),
    ("win950", "BIG5"),
    ("windows1250", "WIN1250"),
    ("windows1251", "WIN1251"),
    ("windows1252", "WIN1252"),
    ("windows1253", "WIN1253"),
    ("windows1254", "WIN1254"),
    ("windows1255", "WIN1255"),
    ("windows1256", "WIN1256"),
    ("windows1257", "WIN1257"),
    ("windows1258", "WIN1258"),
    ("windows866", "WIN866"),
    ("windows874", "WIN874"),
    ("windows932", "SJIS"),
    ("windows936", "GBK"),
    ("windows949", "UHC"),
    ("windows950", "BIG5"),
];

/// The canonical name of encoding `name` in any spelling PostgreSQL accepts
/// (`pg_char_to_encoding` then `pg_encoding_to_char`), or `None` when unknown.
pub fn canonical_encoding(name: &str) -> Option<&'static str> {
    // Names of NAMEDATALEN (64) bytes or more are never encodings.
    if name.is_empty() || name.len() >= 64 {
        return None;
    }
    let key: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    ENCODING_ALIASES
        .binary_search_by(|(alias, _)| alias.cmp(&key.as_str()))
        .ok()
        .map(|i| ENCODING_ALIASES[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn special(desc: &str, defn: &str) -> TocEntry {
        TocEntry {
            dump_id: 1,
            tag: desc.into(),
            desc: desc.into(),
            defn: Some(defn.into()),
            ..TocEntry::default()
        }
    }

    #[test]
    fn alias_table_is_sorted_for_binary_search() {
        assert!(ENCODING_ALIASES.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn encodings_in_any_spelling() {
        assert_eq!(canonical_encoding("UTF8"), Some("UTF8"));
        assert_eq!(canonical_encoding("utf-8"), Some("UTF8"));
        assert_eq!(canonical_encoding("Unicode"), Some("UTF8"));
        assert_eq!(canonical_encoding("ISO-8859-1"), Some("LATIN1"));
        assert_eq!(canonical_encoding("EUC_JIS_2004"), Some("EUC_JIS_2004"));
        assert_eq!(canonical_encoding("SQL_ASCII"), Some("SQL_ASCII"));
        assert_eq!(canonical_encoding("klingon"), None);
        assert_eq!(canonical_encoding(""), None);
    }

    #[test]
    fn settings_from_the_three_entries() {
        let toc = [
            special("ENCODING", "SET client_encoding = 'LATIN9';\n"),
            special("STDSTRINGS", "SET standard_conforming_strings = 'on';\n"),
            special(
                "SEARCHPATH",
                "SELECT pg_catalog.set_config('search_path', '', false);\n",
            ),
        ];
        let s = SourceSettings::from_toc(&toc).unwrap();
        assert_eq!(s.encoding, "LATIN9");
        assert!(s.std_strings);
        assert_eq!(
            s.search_path.as_deref(),
            Some("SELECT pg_catalog.set_config('search_path', '', false);\n")
        );
    }

    #[test]
    fn missing_entries_mean_sql_ascii_and_escapes() {
        let s = SourceSettings::from_toc(&[]).unwrap();
        assert_eq!(s, SourceSettings::default());
        assert_eq!(s.encoding, "SQL_ASCII");
        assert!(!s.std_strings);
        let off = SourceSettings::from_toc(&[special("STDSTRINGS", "SET standard_conforming_strings = 'off';\n")]);
        assert!(!off.unwrap().std_strings);
    }

    #[test]
    fn malformed_entries_are_archive_errors() {
        for (desc, defn, msg) in [
            ("ENCODING", "SET client_encoding = UTF8;", "invalid ENCODING item"),
            (
                "ENCODING",
                "SET client_encoding = 'EBCDIC';",
                "unrecognized encoding \"EBCDIC\"",
            ),
            (
                "STDSTRINGS",
                "SET standard_conforming_strings = 'yes';",
                "invalid STDSTRINGS item",
            ),
            (
                "STDSTRINGS",
                "SET standard_conforming_strings = on;",
                "invalid STDSTRINGS item",
            ),
        ] {
            let err = SourceSettings::from_toc(&[special(desc, defn)]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Archive);
            assert!(err.message().contains(msg), "{}", err.message());
        }
    }
}
