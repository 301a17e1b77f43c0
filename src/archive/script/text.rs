//! Small pieces of script text: identifier quoting with `--quote-all-identifiers`, string
//! literals under either `standard_conforming_strings`, comment-line sanitising and psql's
//! `\connect` line (string_utils.c `fmtId`, `appendStringLiteral`, `appendPsqlMetaConnect`,
//! `appendConnStrVal`; pg_backup_archiver.c `sanitize_line`).

use crate::ddl::quote;
use crate::error::{Error, Result};

/// `fmtId`: quoted when needed, or always with `--quote-all-identifiers`.
pub fn ident(name: &str, quote_all: bool) -> String {
    if quote_all {
        format!("\"{}\"", name.replace('"', "\"\""))
    } else {
        quote::ident(name)
    }
}

/// `fmtQualifiedId`: `schema.name`, the schema left out when absent or empty.
pub fn qualified(schema: Option<&str>, name: &str, quote_all: bool) -> String {
    match schema {
        Some(s) if !s.is_empty() => format!("{}.{}", ident(s, quote_all), ident(name, quote_all)),
        _ => ident(name, quote_all),
    }
}

/// A string literal as the script's session reads it: quotes doubled, and backslashes too
/// when `standard_conforming_strings` is off.
pub fn literal(value: &str, std_strings: bool) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' || (c == '\\' && !std_strings) {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// A name on one comment line: line breaks become spaces so a crafted object name cannot
/// end the comment and smuggle SQL into the script. `None` prints as `-` where a hyphen is
/// wanted (schema, owner) and as nothing elsewhere.
pub fn sanitize_line(s: Option<&str>, want_hyphen: bool) -> String {
    match s {
        None if want_hyphen => "-".to_string(),
        None => String::new(),
        Some(s) => s.replace(['\n', '\r'], " "),
    }
}

/// psql's line reconnecting to `dbname`, ending with a newline. Plain names get
/// `\connect name`; anything else goes through a connection string so psql reads it
/// literally, with psql's encoding forced to SQL_ASCII first.
pub fn psql_connect(dbname: &str, quote_all: bool) -> Result<String> {
    if dbname.contains(['\n', '\r']) {
        return Err(Error::archive(format!(
            "database name contains a newline or carriage return: \"{dbname}\""
        )));
    }
    let simple = dbname
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
    if simple {
        return Ok(format!("\\connect {}\n", ident(dbname, quote_all)));
    }
    let connstr = format!("dbname={}", conn_str_value(dbname));
    Ok(format!(
        "\\encoding SQL_ASCII\n\\connect -reuse-previous=on {}\n",
        ident(&connstr, quote_all)
    ))
}

/// A libpq connection-string value: bare when it is plain ASCII, else single-quoted with
/// `'` and `\` escaped by a backslash.
fn conn_str_value(s: &str) -> String {
    let bare = !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
    if bare {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_with_and_without_quote_all() {
        assert_eq!(ident("orders", false), "orders");
        assert_eq!(ident("orders", true), "\"orders\"");
        assert_eq!(ident("We\"ird", false), "\"We\"\"ird\"");
        assert_eq!(qualified(Some("shop"), "select", false), "shop.\"select\"");
        assert_eq!(qualified(None, "t", false), "t");
        assert_eq!(qualified(Some(""), "t", true), "\"t\"");
    }

    #[test]
    fn literals_follow_standard_conforming_strings() {
        assert_eq!(literal("o'brien", true), "'o''brien'");
        assert_eq!(literal("a\\b", true), "'a\\b'");
        assert_eq!(literal("a\\b'c", false), "'a\\\\b''c'");
        assert_eq!(literal("ünï", false), "'ünï'");
    }

    #[test]
    fn comment_names_lose_line_breaks() {
        assert_eq!(
            sanitize_line(Some("evil\nDROP TABLE x;\r--"), false),
            "evil DROP TABLE x; --"
        );
        assert_eq!(sanitize_line(None, true), "-");
        assert_eq!(sanitize_line(None, false), "");
        assert_eq!(sanitize_line(Some(""), true), "", "an empty owner stays empty");
    }

    #[test]
    fn connect_lines() {
        assert_eq!(psql_connect("shop", false).unwrap(), "\\connect shop\n");
        assert_eq!(psql_connect("Shop.2", false).unwrap(), "\\connect \"Shop.2\"\n");
        assert_eq!(psql_connect("shop", true).unwrap(), "\\connect \"shop\"\n");
        assert_eq!(
            psql_connect("my db's", false).unwrap(),
            "\\encoding SQL_ASCII\n\\connect -reuse-previous=on \"dbname='my db\\'s'\"\n"
        );
        assert_eq!(
            psql_connect("a\"b", false).unwrap(),
            "\\encoding SQL_ASCII\n\\connect -reuse-previous=on \"dbname='a\"\"b'\"\n"
        );
        assert!(psql_connect("two\nlines", false).is_err());
    }
}
