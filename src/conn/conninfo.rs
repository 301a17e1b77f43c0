//! Parsing libpq connection strings, both forms: `key=value` lists and `postgresql://` URIs
//! (PostgreSQL docs, libpq "Connection Strings"). Parsing only checks syntax and keyword
//! names; values are interpreted by `resolve`.

use std::fmt;

use crate::error::{Error, Result};

/// How far pgsnap honours a libpq keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Support {
    /// Read and acted on.
    Used,
    /// Accepted and ignored: it cannot change where we connect or how we authenticate.
    Ignored,
    /// Accepted by the parser, refused at resolution when set (ignoring it could connect
    /// somewhere else, or with weaker authentication, than the user asked for).
    Unsupported,
}

/// Every keyword libpq 18 accepts, so a valid libpq string never fails as "invalid option".
pub(crate) const KEYWORDS: &[(&str, Support)] = &[
    ("host", Support::Used),
    ("hostaddr", Support::Used),
    ("port", Support::Used),
    ("dbname", Support::Used),
    ("user", Support::Used),
    ("password", Support::Used),
    ("passfile", Support::Used),
    ("connect_timeout", Support::Used),
    ("options", Support::Used),
    ("application_name", Support::Used),
    ("fallback_application_name", Support::Used),
    ("keepalives", Support::Used),
    ("keepalives_idle", Support::Used),
    ("keepalives_interval", Support::Used),
    ("keepalives_count", Support::Used),
    ("tcp_user_timeout", Support::Used),
    ("sslmode", Support::Used),
    ("sslrootcert", Support::Used),
    ("sslcert", Support::Used),
    ("sslkey", Support::Used),
    ("sslpassword", Support::Used),
    ("sslcrl", Support::Used),
    ("sslcrldir", Support::Used),
    ("sslcertmode", Support::Used),
    ("sslnegotiation", Support::Used),
    ("sslsni", Support::Used),
    ("ssl_min_protocol_version", Support::Used),
    ("ssl_max_protocol_version", Support::Used),
    ("sslkeylogfile", Support::Used),
    ("target_session_attrs", Support::Used),
    ("channel_binding", Support::Used),
    ("load_balance_hosts", Support::Used),
    ("service", Support::Used),
    // Value-dependent: `disable`/`prefer` are what we do anyway.
    ("gssencmode", Support::Used),
    // tokio-postgres always asks for UTF8; pg_dump-style encodings are set with SET later.
    ("client_encoding", Support::Ignored),
    // TLS compression is gone from every TLS library in use (and from TLS 1.3).
    ("sslcompression", Support::Ignored),
    // Kerberos/GSSAPI details; we never attempt GSSAPI.
    ("krbsrvname", Support::Ignored),
    ("gsslib", Support::Ignored),
    ("require_auth", Support::Unsupported),
    ("requirepeer", Support::Unsupported),
    ("sslcertmode", Support::Unsupported),
    ("replication", Support::Unsupported),
    ("gssdelegation", Support::Unsupported),
    ("min_protocol_version", Support::Unsupported),
    ("max_protocol_version", Support::Unsupported),
    ("scram_client_key", Support::Unsupported),
    ("scram_server_key", Support::Unsupported),
    ("oauth_issuer", Support::Unsupported),
    ("oauth_client_id", Support::Unsupported),
    ("oauth_client_secret", Support::Unsupported),
    ("oauth_scope", Support::Unsupported),
];

/// The canonical `&'static` name of a libpq keyword, or `None` if libpq does not know it.
pub(crate) fn keyword(name: &str) -> Option<&'static str> {
    KEYWORDS.iter().find(|(k, _)| *k == name).map(|(k, _)| *k)
}

pub(crate) fn support(name: &str) -> Support {
    KEYWORDS
        .iter()
        .find(|(k, _)| *k == name)
        .map_or(Support::Unsupported, |(_, s)| *s)
}

fn check_keyword(name: &str) -> Result<&'static str> {
    keyword(name).ok_or_else(|| Error::config(format!("invalid connection option \"{name}\"")))
}

/// libpq's rule for `dbname` (and so for `pg_dump -d`): a value containing `=` or starting
/// with a URI scheme is a whole connection string, not a database name.
pub fn looks_like_conninfo(s: &str) -> bool {
    uri_rest(s).is_some() || s.contains('=')
}

fn uri_rest(s: &str) -> Option<&str> {
    s.strip_prefix("postgresql://")
        .or_else(|| s.strip_prefix("postgres://"))
}

/// The keyword/value pairs of one parsed connection string. A keyword present with an empty
/// value is "set": as in libpq, it hides the environment variable and falls to the default.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ConnInfo {
    entries: Vec<(&'static str, String)>,
}

impl ConnInfo {
    /// Parses either form; a string starting `postgresql://` or `postgres://` is a URI.
    pub fn parse(s: &str) -> Result<ConnInfo> {
        match uri_rest(s) {
            Some(rest) => parse_uri(rest),
            None => parse_key_value(s),
        }
    }

    /// The value of `keyword`, if the string set it.
    pub fn get(&self, keyword: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| *k == keyword)
            .map(|(_, v)| v.as_str())
    }

    /// Sets `keyword` (a later setting replaces an earlier one, as in libpq).
    pub fn set(&mut self, keyword: &str, value: impl Into<String>) -> Result<()> {
        let keyword = check_keyword(keyword)?;
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| *k == keyword) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((keyword, value)),
        }
        Ok(())
    }

    /// The pairs in the order they were first set.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.entries.iter().map(|(k, v)| (*k, v.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Debug for ConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (k, v) in &self.entries {
            if *k == "password" {
                map.entry(k, &"<redacted>");
            } else {
                map.entry(k, v);
            }
        }
        map.finish()
    }
}

/// `key = value` pairs separated by whitespace; a value may be single-quoted, and a backslash
/// takes the next character literally, quoted or not (libpq `conninfo_parse`).
fn parse_key_value(s: &str) -> Result<ConnInfo> {
    let mut info = ConnInfo::default();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(info);
        }
        let mut name = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            name.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(Error::config(format!(
                "missing \"=\" after \"{name}\" in connection string"
            )));
        }
        // libpq skips blanks after `=`, so `host= port=5` makes host "port=5"; so do we.
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => {
                        return Err(Error::config(format!(
                            "unterminated quoted value for \"{name}\" in connection string"
                        )));
                    }
                    Some('\'') => break,
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => {
                            return Err(Error::config(format!(
                                "unterminated quoted value for \"{name}\" in connection string"
                            )));
                        }
                    },
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    if let Some(escaped) = chars.next() {
                        value.push(escaped);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        info.set(&name, value)?;
    }
}

/// `postgresql://[user[:password]@][host][:port][,...][/dbname][?key=value&...]`, every part
/// percent-decoded (libpq `conninfo_uri_parse_options`). Empty parts are left unset.
fn parse_uri(rest: &str) -> Result<ConnInfo> {
    let mut info = ConnInfo::default();
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);

    // The last `@` ends the user part: an unencoded `@` in a password then still works.
    let hostspec = match authority.rfind('@') {
        Some(at) => {
            let (userinfo, hostspec) = (&authority[..at], &authority[at + 1..]);
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                info.set("user", percent_decode(user)?)?;
            }
            if let Some(p) = password {
                info.set("password", percent_decode(p)?)?;
            }
            hostspec
        }
        None => authority,
    };
    parse_uri_hosts(hostspec, &mut info)?;

    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    if let Some(dbname) = path.strip_prefix('/')
        && !dbname.is_empty()
    {
        info.set("dbname", percent_decode(dbname)?)?;
    }
    if let Some(query) = query {
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(Error::config(format!(
                    "missing \"=\" in connection URI parameter \"{}\"",
                    percent_decode(pair).unwrap_or_else(|_| pair.to_string())
                )));
            };
            let key = percent_decode(key)?;
            let value = percent_decode(value)?;
            // libpq accepts JDBC's `ssl=true` as `sslmode=require`.
            if key == "ssl" && value == "true" {
                info.set("sslmode", "require")?;
            } else {
                info.set(&key, value)?;
            }
        }
    }
    Ok(info)
}

/// `host[:port]` entries separated by commas, IPv6 addresses in brackets. Stored as libpq
/// does: comma-joined `host` and `port` lists, with empty entries where a part was omitted.
fn parse_uri_hosts(spec: &str, info: &mut ConnInfo) -> Result<()> {
    if spec.is_empty() {
        return Ok(());
    }
    let mut hosts = Vec::new();
    let mut ports = Vec::new();
    for entry in spec.split(',') {
        let (host, port) = if let Some(inner) = entry.strip_prefix('[') {
            let Some(close) = inner.find(']') else {
                return Err(Error::config(format!(
                    "missing \"]\" after IPv6 address \"{entry}\" in connection URI"
                )));
            };
            let after = &inner[close + 1..];
            let port = match after.strip_prefix(':') {
                Some(p) => p,
                None if after.is_empty() => "",
                None => {
                    return Err(Error::config(format!(
                        "unexpected \"{after}\" after IPv6 address in connection URI (expected \":\" or \"/\")"
                    )));
                }
            };
            (&inner[..close], port)
        } else {
            entry.split_once(':').unwrap_or((entry, ""))
        };
        hosts.push(percent_decode(host)?);
        ports.push(percent_decode(port)?);
    }
    if hosts.iter().any(|h| !h.is_empty()) {
        info.set("host", hosts.join(","))?;
    }
    if ports.iter().any(|p| !p.is_empty()) {
        info.set("port", ports.join(","))?;
    }
    Ok(())
}

/// `%XX` decoding; `+` stays a plus, and `%00` is refused as libpq does.
fn percent_decode(s: &str) -> Result<String> {
    if !s.contains('%') {
        return Ok(s.to_string());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            let byte = hex
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| Error::config(format!("invalid percent-encoding in connection URI part \"{s}\"")))?;
            if byte == 0 {
                return Err(Error::config(format!(
                    "%00 is not allowed in connection URI part \"{s}\""
                )));
            }
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| Error::config(format!("connection URI part \"{s}\" does not decode to UTF-8")))
}

/// Quotes a value for a `key=value` string when it needs it (empty, or holding whitespace,
/// a quote or a backslash), escaping `'` and `\` inside the quotes.
pub fn quote_value(value: &str) -> String {
    let needs_quotes = value.is_empty() || value.chars().any(|c| c.is_whitespace() || c == '\'' || c == '\\');
    if !needs_quotes {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
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
    use crate::error::ErrorKind;

    fn pairs(s: &str) -> Vec<(&'static str, String)> {
        ConnInfo::parse(s)
            .unwrap()
            .iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect()
    }

    fn kv(list: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        list.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    fn err(s: &str) -> String {
        let e = ConnInfo::parse(s).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{e}");
        e.to_string()
    }

    #[test]
    fn key_value_basic_and_spacing() {
        assert_eq!(
            pairs("host=localhost  port = 5433\tdbname=shop user=bob"),
            kv(&[
                ("host", "localhost"),
                ("port", "5433"),
                ("dbname", "shop"),
                ("user", "bob")
            ])
        );
        assert_eq!(pairs(""), kv(&[]));
        assert_eq!(pairs("   "), kv(&[]));
    }

    #[test]
    fn key_value_quoting_and_escapes() {
        assert_eq!(
            pairs(r"password='it\'s a \\secret' options='-c search_path=a'"),
            kv(&[("password", r"it's a \secret"), ("options", "-c search_path=a")])
        );
        assert_eq!(pairs("host='' port=1"), kv(&[("host", ""), ("port", "1")]));
        assert_eq!(pairs(r"host=/a\ b"), kv(&[("host", "/a b")]));
        assert_eq!(pairs("dbname='a=b c'user=u"), kv(&[("dbname", "a=b c"), ("user", "u")]));
    }

    #[test]
    fn key_value_blank_after_equals_takes_next_word() {
        // libpq quirk, checked against pg_dump 15: `host= port=5` sets host to "port=5".
        assert_eq!(pairs("host= port=5"), kv(&[("host", "port=5")]));
        assert_eq!(pairs("host="), kv(&[("host", "")]));
    }

    #[test]
    fn key_value_last_setting_wins() {
        assert_eq!(pairs("port=1 port=2"), kv(&[("port", "2")]));
    }

    #[test]
    fn key_value_errors() {
        assert_eq!(err("foo=1"), "invalid connection option \"foo\"");
        assert_eq!(err("host"), "missing \"=\" after \"host\" in connection string");
        assert_eq!(
            err("host='/a"),
            "unterminated quoted value for \"host\" in connection string"
        );
        assert_eq!(
            err(r"host='/a\"),
            "unterminated quoted value for \"host\" in connection string"
        );
    }

    #[test]
    fn uri_with_every_part() {
        assert_eq!(
            pairs("postgresql://bob:s%40cret@db.example:6543/shop?connect_timeout=10&application_name=nightly"),
            kv(&[
                ("user", "bob"),
                ("password", "s@cret"),
                ("host", "db.example"),
                ("port", "6543"),
                ("dbname", "shop"),
                ("connect_timeout", "10"),
                ("application_name", "nightly"),
            ])
        );
        assert_eq!(pairs("postgres://h/d"), kv(&[("host", "h"), ("dbname", "d")]));
    }

    #[test]
    fn uri_empty_parts_are_unset() {
        assert_eq!(pairs("postgresql://"), kv(&[]));
        assert_eq!(pairs("postgresql:///"), kv(&[]));
        assert_eq!(pairs("postgresql:///shop"), kv(&[("dbname", "shop")]));
        assert_eq!(
            pairs("postgresql://:5433/shop"),
            kv(&[("port", "5433"), ("dbname", "shop")])
        );
        assert_eq!(pairs("postgresql://bob@"), kv(&[("user", "bob")]));
        assert_eq!(pairs("postgresql://:pw@h"), kv(&[("password", "pw"), ("host", "h")]));
    }

    #[test]
    fn uri_multiple_hosts_and_ipv6() {
        assert_eq!(
            pairs("postgresql://h1:1,h2,[::1]:3,[fe80::1%25eth0]/d"),
            kv(&[("host", "h1,h2,::1,fe80::1%eth0"), ("port", "1,,3,"), ("dbname", "d")])
        );
        assert_eq!(pairs("postgresql://[::1]"), kv(&[("host", "::1")]));
        assert_eq!(pairs("postgresql://h1,h2"), kv(&[("host", "h1,h2")]));
    }

    #[test]
    fn uri_sockets() {
        assert_eq!(
            pairs("postgresql://%2Ftmp%2Fpg:5433/d"),
            kv(&[("host", "/tmp/pg"), ("port", "5433"), ("dbname", "d")])
        );
        assert_eq!(
            pairs("postgresql:///d?host=/var/run/postgresql&port=5434"),
            kv(&[("dbname", "d"), ("host", "/var/run/postgresql"), ("port", "5434")])
        );
        // A query parameter overrides the authority part.
        assert_eq!(
            pairs("postgresql://h/d?host=%2Fs"),
            kv(&[("host", "/s"), ("dbname", "d")])
        );
    }

    #[test]
    fn uri_percent_decoding_everywhere() {
        assert_eq!(
            pairs("postgresql://us%65r:p%3Aw@h/my%20db?options=-c%20a%3Db&application_name=a+b"),
            kv(&[
                ("user", "user"),
                ("password", "p:w"),
                ("host", "h"),
                ("dbname", "my db"),
                ("options", "-c a=b"),
                ("application_name", "a+b"),
            ])
        );
        assert_eq!(
            pairs("postgresql://h/%C3%A9t%C3%A9"),
            kv(&[("host", "h"), ("dbname", "été")])
        );
    }

    #[test]
    fn uri_password_with_unencoded_at() {
        assert_eq!(
            pairs("postgresql://u:a@b@h"),
            kv(&[("user", "u"), ("password", "a@b"), ("host", "h")])
        );
    }

    #[test]
    fn uri_jdbc_ssl_true() {
        assert_eq!(
            pairs("postgresql://h?ssl=true"),
            kv(&[("host", "h"), ("sslmode", "require")])
        );
    }

    #[test]
    fn uri_errors() {
        assert_eq!(err("postgresql://h/d?foo=1"), "invalid connection option \"foo\"");
        assert_eq!(err("postgresql://h/d?ssl=false"), "invalid connection option \"ssl\"");
        assert_eq!(
            err("postgresql://h/d?port"),
            "missing \"=\" in connection URI parameter \"port\""
        );
        assert!(err("postgresql://[::1/d").contains("missing \"]\""));
        assert!(err("postgresql://[::1]x/d").contains("unexpected \"x\""));
        assert!(err("postgresql://h/%zz").contains("invalid percent-encoding"));
        assert!(err("postgresql://h/%4").contains("invalid percent-encoding"));
        assert!(err("postgresql://%2Fa%00/d").contains("%00 is not allowed"));
        assert!(err("postgresql://h/%ff").contains("UTF-8"));
    }

    #[test]
    fn conninfo_detection() {
        assert!(looks_like_conninfo("postgresql://h"));
        assert!(looks_like_conninfo("postgres://"));
        assert!(looks_like_conninfo("host=h"));
        assert!(!looks_like_conninfo("shop"));
        assert!(!looks_like_conninfo("postgresql:/x"));
    }

    #[test]
    fn quoting_round_trips() {
        for v in ["plain", "", "a b", r"it's", r"back\slash", "tab\there", "=x"] {
            let info = ConnInfo::parse(&format!("options={}", quote_value(v))).unwrap();
            assert_eq!(info.get("options"), Some(v));
        }
        assert_eq!(quote_value("plain"), "plain");
        assert_eq!(quote_value(""), "''");
        assert_eq!(quote_value(r"a'b\c"), r"'a\'b\\c'");
    }

    #[test]
    fn debug_hides_password() {
        let info = ConnInfo::parse("user=u password=hunter2").unwrap();
        let shown = format!("{info:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn every_keyword_is_accepted() {
        for (k, _) in KEYWORDS {
            assert!(ConnInfo::parse(&format!("{k}=x")).is_ok(), "{k}");
        }
    }
}
