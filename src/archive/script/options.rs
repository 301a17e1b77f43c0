//! The switches that shape a printed script, and which pg_restore release's output to mirror.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// Sections of the TOC, as `--section` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sections {
    pub pre_data: bool,
    pub data: bool,
    pub post_data: bool,
}

impl Default for Sections {
    fn default() -> Self {
        Sections {
            pre_data: true,
            data: true,
            post_data: true,
        }
    }
}

impl Sections {
    /// No section selected: the start for `--section` flags, each of which adds one.
    pub const NONE: Sections = Sections {
        pre_data: false,
        data: false,
        post_data: false,
    };

    /// Adds the section `--section=<name>` names (`pre-data`, `data`, `post-data`).
    pub fn add(&mut self, name: &str) -> Result<()> {
        match name {
            "pre-data" => self.pre_data = true,
            "data" => self.data = true,
            "post-data" => self.post_data = true,
            _ => return Err(Error::usage(format!("unrecognized section name: \"{name}\""))),
        }
        Ok(())
    }
}

/// The pg_restore release whose script output is reproduced. The differences are small but
/// visible: `SET transaction_timeout` (17+), `ALTER VIEW/SEQUENCE/MATERIALIZED VIEW ... OWNER`
/// where 14/15 wrote `ALTER TABLE` (16+), and statistics entries (18). A script meant for an
/// older server is best printed in that server's dialect: `SET transaction_timeout` fails on
/// servers before 17, which stops `psql -v ON_ERROR_STOP=1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Dialect {
    Pg14,
    Pg15,
    Pg16,
    Pg17,
    #[default]
    Pg18,
}

impl Dialect {
    /// Every dialect, oldest first.
    pub const ALL: [Dialect; 5] = [
        Dialect::Pg14,
        Dialect::Pg15,
        Dialect::Pg16,
        Dialect::Pg17,
        Dialect::Pg18,
    ];

    /// The dialect of pg_restore `major` (14–18).
    pub fn from_major(major: u32) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.major() == major)
    }

    pub fn major(self) -> u32 {
        match self {
            Dialect::Pg14 => 14,
            Dialect::Pg15 => 15,
            Dialect::Pg16 => 16,
            Dialect::Pg17 => 17,
            Dialect::Pg18 => 18,
        }
    }

    /// `SET transaction_timeout = 0;` is part of the fixed session state from 17 on.
    pub(crate) fn sets_transaction_timeout(self) -> bool {
        self >= Dialect::Pg17
    }

    /// 14 and 15 change the owner of views, sequences and materialized views with
    /// `ALTER TABLE`; 16 and later name the kind.
    pub(crate) fn alters_relations_as_tables(self) -> bool {
        self <= Dialect::Pg15
    }

    /// pg_restore 18 knows `STATISTICS DATA` entries (own selection bit, own header prefix,
    /// post-data ones in the last pass); older ones treat them as ordinary schema entries.
    pub(crate) fn knows_statistics(self) -> bool {
        self >= Dialect::Pg18
    }
}

/// The switches that shape a printed script: pg_dump's restore-time options (`-O`, `-c`,
/// `--if-exists`, `-C`, `--use-set-session-authorization`, ...), which pg_dump honours only
/// for the plain format and pg_restore honours when it prints or restores.
///
/// What is printed follows pg_restore 18's rules for `-s`, `-a` and the statistics switches:
/// `-s/--schema-only` is `no_data` + `no_statistics`, `-a/--data-only` is `no_schema` +
/// `no_statistics`, `--statistics-only` is `no_schema` + `no_data`; `--no-schema`,
/// `--no-data` and `--no-statistics` map one to one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptOptions {
    /// `-O/--no-owner`: no `ALTER ... OWNER TO` (nor `SET SESSION AUTHORIZATION`).
    pub no_owner: bool,
    /// `--use-set-session-authorization`: set ownership by switching sessions, not ALTER OWNER.
    pub use_set_session_authorization: bool,
    /// `--no-tablespaces`: no `SET default_tablespace`.
    pub no_tablespaces: bool,
    /// `--no-table-access-method`: no `SET default_table_access_method`.
    pub no_table_access_method: bool,
    /// `-c/--clean`: drop each object before creating it.
    pub clean: bool,
    /// `--if-exists`: `DROP ... IF EXISTS` in clean mode.
    pub if_exists: bool,
    /// `-C/--create`: create the database and connect to it.
    pub create: bool,
    /// `--disable-triggers`: wrap data loads in `ALTER TABLE ... DISABLE TRIGGER ALL`.
    pub disable_triggers: bool,
    /// `--superuser`: the role that disables triggers (pg_restore only).
    pub superuser: Option<String>,
    /// `--enable-row-security`: the script sets `row_security = on`.
    pub enable_row_security: bool,
    /// `--section`: the sections printed; all by default.
    pub sections: Sections,
    /// The `\restrict` key (pg_dump 18 and the August 2025 minors); the caller draws a random
    /// one when the user gives none, so printing stays pure. `None` prints no `\restrict`
    /// lines at all (what a restore into a database, which runs no psql, wants).
    pub restrict_key: Option<String>,
    /// No schema entries (`-a`, `--no-schema`, `--statistics-only`).
    pub no_schema: bool,
    /// No data entries (`-s`, `--no-data`, `--statistics-only`).
    pub no_data: bool,
    /// No `STATISTICS DATA` entries (`-s`, `-a`, `--no-statistics`).
    pub no_statistics: bool,
    /// `--sequence-data`: sequence values are printed even when data is not.
    pub sequence_data: bool,
    /// `-x/--no-privileges`: no ACL or DEFAULT ACL entries.
    pub no_privileges: bool,
    /// `--no-comments`.
    pub no_comments: bool,
    /// `--no-publications`: no publications, their members, comments or labels.
    pub no_publications: bool,
    /// `--no-subscriptions`: no subscriptions, their members, comments or labels.
    pub no_subscriptions: bool,
    /// `--no-security-labels`.
    pub no_security_labels: bool,
    /// `--no-policies` (18): no POLICY / ROW SECURITY entries nor policy comments.
    pub no_policies: bool,
    /// `-1/--single-transaction`: the script is one `BEGIN; ... COMMIT;`.
    pub single_transaction: bool,
    /// `--role`: `SET ROLE` right after the session settings.
    pub role: Option<String>,
    /// `--quote-all-identifiers`: every identifier the printer writes is quoted.
    pub quote_all_identifiers: bool,
    /// Which pg_restore's output to reproduce; the newest by default.
    pub dialect: Dialect,
    /// `-v/--verbose`: each entry's comment names its TOC entry, catalog OIDs and
    /// dependencies, and the script is framed by "Started on" / "Completed on" lines.
    pub verbose: Option<Verbose>,
}

/// The texts of the verbose script's two time stamps, formatted by the caller as pg_dump
/// does (`%Y-%m-%d %H:%M:%S %Z`): the printer reads no clock. pg_dump and pg_restore print
/// the archive's creation time as the start and the time the script is finished as the end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verbose {
    pub started_on: String,
    pub completed_on: String,
    /// The archive-format line pg_restore adds to each verbose entry comment.
    pub entry_detail: EntryDetail,
}

/// The format-specific line of a verbose entry comment (`_PrintExtraToc` of each format).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum EntryDetail {
    /// None: pg_dump's own plain output.
    #[default]
    None,
    /// Directory and tar archives: `-- File: <data file>` for entries that have one.
    File,
    /// Custom archives: `-- Data Pos: <offset>` for every entry; the offsets of the data
    /// blocks by dump id (0 for entries without one).
    DataPos(BTreeMap<i32, i64>),
}

impl ScriptOptions {
    /// Refuses combinations pg_dump/pg_restore refuse, with their wording.
    pub fn validate(&self) -> Result<()> {
        if self.if_exists && !self.clean {
            return Err(Error::usage("option --if-exists requires option -c/--clean"));
        }
        if self.create && self.single_transaction {
            return Err(Error::usage(
                "options -C/--create and -1/--single-transaction cannot be used together",
            ));
        }
        if let Some(key) = &self.restrict_key
            && !is_valid_restrict_key(key)
        {
            return Err(Error::usage(format!(
                "invalid restrict key \"{key}\": it must be one or more ASCII letters and digits"
            )));
        }
        Ok(())
    }
}

/// psql's `\restrict` key may hold only ASCII letters and digits (`valid_restrict_key`,
/// dumputils.c): anything else could end the meta-command early.
pub fn is_valid_restrict_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn sections_are_added_by_name() {
        let mut s = Sections::NONE;
        s.add("data").unwrap();
        s.add("post-data").unwrap();
        assert_eq!(
            s,
            Sections {
                pre_data: false,
                data: true,
                post_data: true
            }
        );
        assert_eq!(s.add("predata").unwrap_err().kind(), ErrorKind::Usage);
    }

    #[test]
    fn dialects_by_major() {
        assert_eq!(Dialect::from_major(15), Some(Dialect::Pg15));
        assert_eq!(Dialect::from_major(13), None);
        assert_eq!(Dialect::default(), Dialect::Pg18);
        assert!(Dialect::Pg17.sets_transaction_timeout() && !Dialect::Pg16.sets_transaction_timeout());
        assert!(Dialect::Pg15.alters_relations_as_tables() && !Dialect::Pg16.alters_relations_as_tables());
        assert!(Dialect::Pg18.knows_statistics() && !Dialect::Pg17.knows_statistics());
    }

    #[test]
    fn conflicting_options_are_refused() {
        let ok = ScriptOptions::default();
        assert!(ok.validate().is_ok());
        let bad = ScriptOptions {
            if_exists: true,
            ..ScriptOptions::default()
        };
        assert!(bad.validate().unwrap_err().message().contains("--if-exists requires"));
        let bad = ScriptOptions {
            create: true,
            single_transaction: true,
            ..ScriptOptions::default()
        };
        assert_eq!(bad.validate().unwrap_err().kind(), ErrorKind::Usage);
    }

    #[test]
    fn restrict_keys_are_alphanumeric() {
        assert!(is_valid_restrict_key("abcXYZ019"));
        for bad in ["", "a b", "key\n\\! rm", "k-1", "ключ"] {
            assert!(!is_valid_restrict_key(bad), "{bad:?}");
            let o = ScriptOptions {
                restrict_key: Some(bad.into()),
                ..ScriptOptions::default()
            };
            assert_eq!(o.validate().unwrap_err().kind(), ErrorKind::Usage, "{bad:?}");
        }
    }
}
