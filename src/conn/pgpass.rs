//! The password file (`~/.pgpass`, `PGPASSFILE`, `passfile=`), as libpq "The Password File"
//! documents it: `hostname:port:database:username:password` lines, `*` matching anything,
//! `\` escaping `:` and `\`, `#` comments, first matching line wins, and the file ignored
//! when group or others may access it.

use std::fmt;
use std::path::{Path, PathBuf};

/// The parsed lines of one password file.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PassFile {
    entries: Vec<Entry>,
}

#[derive(Clone, PartialEq, Eq)]
struct Entry {
    /// host, port, database, user; `None` is the `*` wildcard.
    fields: [Option<String>; 4],
    password: String,
}

/// Why a password file was not used.
#[derive(Debug)]
pub enum Skipped {
    /// No file there: the normal case, not worth a word.
    Missing,
    /// libpq ignores a file that is not a regular file.
    NotPlainFile(PathBuf),
    /// libpq ignores a file readable or writable by group or others (mode & 0o077).
    Insecure(PathBuf),
    Unreadable(PathBuf, std::io::Error),
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skipped::Missing => f.write_str("password file does not exist"),
            Skipped::NotPlainFile(p) => write!(f, "password file \"{}\" is not a plain file", p.display()),
            Skipped::Insecure(p) => write!(
                f,
                "password file \"{}\" has group or world access; permissions should be u=rw (0600) or less",
                p.display()
            ),
            Skipped::Unreadable(p, e) => write!(f, "could not read password file \"{}\": {e}", p.display()),
        }
    }
}

impl PassFile {
    /// Reads and parses `path`, applying libpq's file checks.
    pub fn load(path: &Path) -> Result<PassFile, Skipped> {
        use std::os::unix::fs::PermissionsExt;
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Skipped::Missing),
            Err(e) => return Err(Skipped::Unreadable(path.to_path_buf(), e)),
        };
        if !meta.is_file() {
            return Err(Skipped::NotPlainFile(path.to_path_buf()));
        }
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(Skipped::Insecure(path.to_path_buf()));
        }
        let bytes = std::fs::read(path).map_err(|e| Skipped::Unreadable(path.to_path_buf(), e))?;
        Ok(PassFile::parse(&String::from_utf8_lossy(&bytes)))
    }

    /// Like [`PassFile::load`], but reports a skipped file the way libpq does: a warning for
    /// an insecure or odd file, silence for a missing one.
    pub fn load_or_warn(path: &Path) -> Option<PassFile> {
        match PassFile::load(path) {
            Ok(file) => Some(file),
            Err(Skipped::Missing) => None,
            Err(skipped @ Skipped::Unreadable(..)) => {
                tracing::debug!("{skipped}");
                None
            }
            Err(skipped) => {
                tracing::warn!("{skipped}");
                None
            }
        }
    }

    /// Parses file contents; malformed lines (fewer than five fields) are skipped, as in libpq.
    pub fn parse(text: &str) -> PassFile {
        let entries = text
            .lines()
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(parse_line)
            .collect();
        PassFile { entries }
    }

    /// The password of the first line matching all four values, if any. `host` is the name
    /// to match: see `ConnSettings` for how a socket connection becomes `localhost`.
    pub fn find(&self, host: &str, port: &str, dbname: &str, user: &str) -> Option<&str> {
        let wanted = [host, port, dbname, user];
        self.entries
            .iter()
            .find(|e| {
                e.fields
                    .iter()
                    .zip(wanted)
                    .all(|(f, w)| f.as_deref().is_none_or(|f| f == w))
            })
            .map(|e| e.password.as_str())
    }
}

impl fmt::Debug for PassFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PassFile")
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

/// Splits on unescaped `:` and removes the escapes. A field that is exactly an unescaped `*`
/// is a wildcard; `\*` is a literal star. Text after a fifth `:` is ignored.
fn parse_line(line: &str) -> Option<Entry> {
    let mut fields: Vec<(String, bool)> = Vec::with_capacity(5);
    let mut current = String::new();
    let mut escaped_any = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                escaped_any = true;
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            ':' => {
                fields.push((std::mem::take(&mut current), escaped_any));
                escaped_any = false;
                if fields.len() == 5 {
                    break;
                }
            }
            _ => current.push(c),
        }
    }
    if fields.len() < 5 {
        fields.push((current, escaped_any));
    }
    // Fewer than five fields: libpq skips the line.
    let [host, port, dbname, user, (password, _)] = <[(String, bool); 5]>::try_from(fields).ok()?;
    let field = |(text, escaped): (String, bool)| (text != "*" || escaped).then_some(text);
    Some(Entry {
        fields: [field(host), field(port), field(dbname), field(user)],
        password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    fn file_with(contents: &str, mode: u32) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(contents.as_bytes()).unwrap();
        std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(mode)).unwrap();
        f
    }

    #[test]
    fn exact_match_and_first_line_wins() {
        let pf = PassFile::parse(
            "db1:5432:shop:bob:first\n\
             db1:5432:shop:bob:second\n\
             db2:5432:shop:bob:other\n",
        );
        assert_eq!(pf.find("db1", "5432", "shop", "bob"), Some("first"));
        assert_eq!(pf.find("db2", "5432", "shop", "bob"), Some("other"));
        assert_eq!(pf.find("db3", "5432", "shop", "bob"), None);
        assert_eq!(pf.find("db1", "5433", "shop", "bob"), None);
        assert_eq!(pf.find("db1", "5432", "other", "bob"), None);
        assert_eq!(pf.find("db1", "5432", "shop", "alice"), None);
    }

    #[test]
    fn wildcards_and_order() {
        let pf = PassFile::parse(
            "db1:*:shop:bob:specific\n\
             *:*:*:bob:any-db\n\
             *:*:*:*:fallback\n",
        );
        assert_eq!(pf.find("db1", "6000", "shop", "bob"), Some("specific"));
        assert_eq!(pf.find("db9", "1", "x", "bob"), Some("any-db"));
        assert_eq!(pf.find("db9", "1", "x", "carol"), Some("fallback"));
        // A more general line first shadows later specific ones.
        let pf = PassFile::parse("*:*:*:*:general\ndb1:5432:shop:bob:specific\n");
        assert_eq!(pf.find("db1", "5432", "shop", "bob"), Some("general"));
    }

    #[test]
    fn escapes() {
        let pf = PassFile::parse(
            r"host\:with\:colons:5432:db\\x:u:p\:a\\ss
\*:5432:*:u:literal-star
/tmp/sock:5432:*:u:pw:ignored-extra",
        );
        assert_eq!(pf.find("host:with:colons", "5432", r"db\x", "u"), Some(r"p:a\ss"));
        assert_eq!(pf.find("*", "5432", "d", "u"), Some("literal-star"));
        assert_eq!(
            pf.find("other", "5432", "d", "u"),
            None,
            "an escaped star is not a wildcard"
        );
        assert_eq!(pf.find("/tmp/sock", "5432", "d", "u"), Some("pw"));
    }

    #[test]
    fn comments_blank_crlf_and_short_lines() {
        let pf = PassFile::parse(
            "# hostname:port:database:username:password\n\
             \n\
             too:few:fields:only\n\
             h:1:d:u:crlf-pw\r\n\
             h:1:d:v:\n",
        );
        assert_eq!(pf.find("h", "1", "d", "u"), Some("crlf-pw"));
        assert_eq!(pf.find("too", "few", "fields", "only"), None);
        assert_eq!(pf.find("h", "1", "d", "v"), Some(""));
        assert_eq!(pf.entries.len(), 2);
    }

    #[test]
    fn comment_only_when_hash_is_first() {
        let pf = PassFile::parse("#h:1:d:u:commented\n h:1:d:u:x\n");
        assert_eq!(pf.find("#h", "1", "d", "u"), None);
        assert_eq!(pf.find(" h", "1", "d", "u"), Some("x"));
    }

    #[test]
    fn load_private_file() {
        let f = file_with("localhost:5432:*:bob:secret\n", 0o600);
        let pf = PassFile::load(f.path()).unwrap();
        assert_eq!(pf.find("localhost", "5432", "shop", "bob"), Some("secret"));
        let f = file_with("*:*:*:*:x\n", 0o400);
        assert!(PassFile::load(f.path()).is_ok());
    }

    #[test]
    fn group_or_world_access_is_ignored() {
        for mode in [0o640, 0o604, 0o660, 0o644, 0o610] {
            let f = file_with("*:*:*:*:secret\n", mode);
            match PassFile::load(f.path()) {
                Err(skipped @ Skipped::Insecure(_)) => assert_eq!(
                    skipped.to_string(),
                    format!(
                        "password file \"{}\" has group or world access; permissions should be u=rw (0600) or less",
                        f.path().display()
                    )
                ),
                other => panic!("mode {mode:o}: {other:?}"),
            }
            assert!(PassFile::load_or_warn(f.path()).is_none());
        }
    }

    #[test]
    fn missing_file_and_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            PassFile::load(&dir.path().join("nope")),
            Err(Skipped::Missing)
        ));
        assert!(PassFile::load_or_warn(&dir.path().join("nope")).is_none());
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(matches!(PassFile::load(dir.path()), Err(Skipped::NotPlainFile(_))));
    }

    #[test]
    fn debug_shows_no_passwords() {
        let pf = PassFile::parse("*:*:*:*:hunter2\n");
        assert!(!format!("{pf:?}").contains("hunter2"));
    }
}
