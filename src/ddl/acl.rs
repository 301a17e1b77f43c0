//! GRANT/REVOKE as a delta between an object's ACL and its baseline (pg_dump's `dumpACL`
//! and dumputils.c `buildACLCommands`).
//!
//! PLACEHOLDER: the body of `acl_sql` is being written; until then it renders nothing.

/// The object-type keyword used in GRANT statements and the privilege letters it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclKind {
    /// Tables, views, materialized views, foreign tables (`TABLE`).
    Table,
    Sequence,
    Function,
    Procedure,
    Schema,
    /// Types and domains (`TYPE`).
    Type,
    Language,
    Database,
    ForeignDataWrapper,
    ForeignServer,
    LargeObject,
}

/// SQL (one statement per line, each ending `;\n`) turning `baseline` into `current`, for the
/// object `name_sql` (already quoted/qualified; for functions include the argument list).
/// `column` names a column for column privileges. Empty when there is nothing to do.
pub fn acl_sql(
    kind: AclKind,
    name_sql: &str,
    column: Option<&str>,
    owner: &str,
    current: &[String],
    baseline: &[String],
) -> String {
    let _ = (kind, name_sql, column, owner, current, baseline);
    String::new()
}
