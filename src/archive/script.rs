//! Printing a TOC as an SQL script: what pg_dump's plain format writes and `pg_restore -f`
//! prints (pg_backup_archiver.c `RestoreArchive` in script mode). One pure printer shared by
//! `-Fp` and, later, a native restore.

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

/// The switches that shape a printed script: pg_dump's restore-time options (`-O`, `-c`,
/// `--if-exists`, `-C`, `--use-set-session-authorization`, ...), which pg_dump honours only
/// for the plain format and pg_restore honours when it prints or restores.
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
    /// one when the user gives none, so printing stays pure.
    pub restrict_key: Option<String>,
}
