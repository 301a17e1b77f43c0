//! The connection service file (libpq "The Connection Service File"; fe-connect.c
//! `parseServiceInfo` / `parseServiceFile`): INI-style `[name]` sections of `keyword=value`
//! lines. The service named by `service=` (or `PGSERVICE`) is looked up first in the user's
//! file (`PGSERVICEFILE`, else `~/.pg_service.conf`), and only if it is not defined there, in
//! `pg_service.conf` of `PGSYSCONFDIR` (else the compiled-in system directory). The first
//! file that defines it supplies all of its values; files are never merged.

use std::path::{Path, PathBuf};

use super::conninfo;
use super::env::Env;
use crate::error::{Error, Result};

/// The system-wide directory libpq looks in when `PGSYSCONFDIR` is unset. Debian and Ubuntu
/// build libpq with `--sysconfdir=/etc/postgresql-common`, as the servers this project
/// targets; upstream's default is `<prefix>/etc`.
pub const DEFAULT_SYSCONF_DIR: &str = "/etc/postgresql-common";

/// One value from a service file, with where it was found (for error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceValue {
    pub keyword: &'static str,
    pub value: String,
    pub line: usize,
}

/// A service definition: its values in file order, and the file they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Service {
    pub name: String,
    pub file: PathBuf,
    pub values: Vec<ServiceValue>,
}

/// Reads section `service` from the text of service file `file`. `Ok(None)` when the file
/// has no such section. Only lines inside the wanted section are checked, as in libpq: a
/// line without `=`, an unknown keyword or a nested `service=` there is an error naming the
/// file and line. Keys and values are taken literally (no quoting, no blanks around `=`);
/// when a keyword repeats, its first value counts.
pub(crate) fn parse_section(text: &str, file: &Path, service: &str) -> Result<Option<Service>> {
    let mut found: Option<Service> = None;
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            if found.is_some() {
                break; // the wanted section ended
            }
            // libpq compares the name and then expects `]`, ignoring what follows it.
            if rest.strip_prefix(service).is_some_and(|r| r.starts_with(']')) {
                found = Some(Service {
                    name: service.to_string(),
                    file: file.to_path_buf(),
                    values: Vec::new(),
                });
            }
            continue;
        }
        let Some(section) = found.as_mut() else {
            continue;
        };
        let syntax_error = || {
            Error::config(format!(
                "syntax error in service file \"{}\", line {line_no}",
                file.display()
            ))
        };
        // libpq (built with LDAP) treats any line starting "ldap" as an LDAP URL.
        if line.starts_with("ldap") {
            return Err(Error::config(format!(
                "LDAP lookups in service files are not supported (service file \"{}\", line {line_no})",
                file.display()
            )));
        }
        let (key, value) = line.split_once('=').ok_or_else(syntax_error)?;
        if key == "service" {
            return Err(Error::config(format!(
                "nested service specifications not supported in service file \"{}\", line {line_no}",
                file.display()
            )));
        }
        let keyword = conninfo::keyword(key).ok_or_else(syntax_error)?;
        if !section.values.iter().any(|v| v.keyword == keyword) {
            section.values.push(ServiceValue {
                keyword,
                value: value.to_string(),
                line: line_no,
            });
        }
    }
    Ok(found)
}

/// Finds service `name` the way libpq does. `env` supplies `PGSERVICEFILE`, `PGSYSCONFDIR`
/// and the home directory.
///
/// - An explicitly named `PGSERVICEFILE` that cannot be read is an error; a missing
///   `~/.pg_service.conf` or system file is skipped.
/// - A service found in the user's file is used as is; the system file is not read.
/// - Defined nowhere: `definition of service "name" not found`.
pub(crate) fn lookup(name: &str, env: &dyn Env) -> Result<Service> {
    let user_file = match env.var("PGSERVICEFILE") {
        Some(f) => Some((PathBuf::from(f), true)),
        None => env.home_dir().map(|h| (h.join(".pg_service.conf"), false)),
    };
    if let Some((file, explicit)) = user_file
        && let Some(text) = read_service_file(&file, explicit)?
        && let Some(service) = parse_section(&text, &file, name)?
    {
        return Ok(service);
    }
    let sysconf = env
        .var("PGSYSCONFDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| env.default_sysconf_dir());
    let system_file = sysconf.join("pg_service.conf");
    if let Some(text) = read_service_file(&system_file, false)?
        && let Some(service) = parse_section(&text, &system_file, name)?
    {
        return Ok(service);
    }
    Err(Error::config(format!("definition of service \"{name}\" not found")))
}

/// The file's text; `None` when it does not exist and was not named explicitly.
fn read_service_file(path: &Path, explicit: bool) -> Result<Option<String>> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| Error::config(format!("service file \"{}\" is not valid UTF-8", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Error::config(format!("service file \"{}\" not found", path.display())))
        }
        Err(e) => Err(Error::config(format!(
            "could not read service file \"{}\": {e}",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn section(text: &str, name: &str) -> Result<Option<Vec<(&'static str, String)>>> {
        Ok(parse_section(text, Path::new("/etc/svc.conf"), name)?
            .map(|s| s.values.into_iter().map(|v| (v.keyword, v.value)).collect()))
    }

    fn kv(list: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        list.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    const FILE: &str = "\
# comment
[other]
host=elsewhere
this line is never checked

  [prod]   # trailing text after ] is ignored
host=db.example
  port=6543
dbname=shop app
# comment inside
user=
host=second-wins-not
sslmode=verify-full
[next]
host=nope
";

    #[test]
    fn reads_only_the_wanted_section() {
        assert_eq!(
            section(FILE, "prod").unwrap(),
            Some(kv(&[
                ("host", "db.example"),
                ("port", "6543"),
                ("dbname", "shop app"),
                ("user", ""),
                ("sslmode", "verify-full"),
            ]))
        );
        assert_eq!(
            section(FILE, "other").unwrap_err().to_string(),
            "syntax error in service file \"/etc/svc.conf\", line 4"
        );
        assert_eq!(section(FILE, "next").unwrap(), Some(kv(&[("host", "nope")])));
        assert_eq!(section(FILE, "missing").unwrap(), None);
        assert_eq!(section(FILE, "pro").unwrap(), None, "prefix of a name is not the name");
        assert_eq!(section("[empty]\n", "empty").unwrap(), Some(vec![]));
    }

    #[test]
    fn errors_name_file_and_line() {
        let cases = [
            (
                "[s]\nhost = x\n",
                "syntax error in service file \"/etc/svc.conf\", line 2",
            ),
            ("[s]\nfoo=1\n", "syntax error in service file \"/etc/svc.conf\", line 2"),
            (
                "\n\n[s]\nhost\n",
                "syntax error in service file \"/etc/svc.conf\", line 4",
            ),
            (
                "[s]\nservice=t\n",
                "nested service specifications not supported in service file \"/etc/svc.conf\", line 2",
            ),
            (
                "[s]\nldap://ldap.example/dc=x?y?one?(cn=s)\n",
                "LDAP lookups in service files are not supported (service file \"/etc/svc.conf\", line 2)",
            ),
        ];
        for (text, want) in cases {
            let e = section(text, "s").unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Config);
            assert_eq!(e.to_string(), want, "{text:?}");
        }
    }

    struct TestEnv(HashMap<&'static str, String>);

    impl Env for TestEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn lookup_order_and_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let sys = dir.path().join("sys");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&sys).unwrap();
        write(&home, ".pg_service.conf", "[both]\nhost=user-file\n[user]\nhost=u\n");
        write(
            &sys,
            "pg_service.conf",
            "[both]\nhost=system-file\nport=1\n[system]\nhost=s\n",
        );
        let explicit = write(dir.path(), "explicit.conf", "[both]\nhost=explicit-file\n");
        let env = |extra: &[(&'static str, &Path)]| {
            let mut m: HashMap<&'static str, String> = HashMap::new();
            m.insert("HOME", home.display().to_string());
            m.insert("PGSYSCONFDIR", sys.display().to_string());
            for (k, v) in extra {
                m.insert(k, v.display().to_string());
            }
            TestEnv(m)
        };
        let host = |s: &Service| s.values[0].value.clone();

        // The user's file wins for a service both define, and is used whole (no port=1).
        let s = lookup("both", &env(&[])).unwrap();
        assert_eq!((host(&s), s.values.len()), ("user-file".to_string(), 1));
        assert_eq!(s.file, home.join(".pg_service.conf"));
        // A service only the system file defines comes from there.
        assert_eq!(host(&lookup("system", &env(&[])).unwrap()), "s");
        // PGSERVICEFILE replaces ~/.pg_service.conf.
        let e = env(&[("PGSERVICEFILE", &explicit)]);
        assert_eq!(host(&lookup("both", &e).unwrap()), "explicit-file");
        assert!(lookup("user", &e).is_err(), "the home file is not read then");
        assert_eq!(host(&lookup("system", &e).unwrap()), "s");
        // Defined nowhere.
        assert_eq!(
            lookup("nope", &env(&[])).unwrap_err().to_string(),
            "definition of service \"nope\" not found"
        );
        // A named PGSERVICEFILE that does not exist is an error; a missing home file is not.
        let missing = dir.path().join("missing.conf");
        assert_eq!(
            lookup("both", &env(&[("PGSERVICEFILE", &missing)]))
                .unwrap_err()
                .to_string(),
            format!("service file \"{}\" not found", missing.display())
        );
        std::fs::remove_file(home.join(".pg_service.conf")).unwrap();
        assert_eq!(host(&lookup("both", &env(&[])).unwrap()), "system-file");
        // Without PGSYSCONFDIR the compiled-in directory is used (absent in tests: not found).
        let mut m = HashMap::new();
        m.insert("HOME", home.display().to_string());
        let e = TestEnv(m);
        assert_eq!(e.default_sysconf_dir(), PathBuf::from(DEFAULT_SYSCONF_DIR));
    }

    #[test]
    fn a_bad_line_in_the_wanted_section_of_the_user_file_stops_the_search() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), "svc.conf", "[s]\nbogus=1\n");
        let mut m = HashMap::new();
        m.insert("PGSERVICEFILE", f.display().to_string());
        m.insert("PGSYSCONFDIR", dir.path().display().to_string());
        write(dir.path(), "pg_service.conf", "[s]\nhost=fine\n");
        assert_eq!(
            lookup("s", &TestEnv(m)).unwrap_err().to_string(),
            format!("syntax error in service file \"{}\", line 2", f.display())
        );
    }
}
