//! Foreign-data wrappers, foreign servers and user mappings (pg_dump.c
//! `dumpForeignDataWrapper`, `dumpForeignServer`, `dumpUserMappings`). Option lists arrive
//! as `name 'value'` items, quoted by the server (`quote_ident`, `quote_literal`).

use super::quote::{ident, literal};
use super::table::options_sql;

/// `CREATE FOREIGN DATA WRAPPER w [HANDLER h] [VALIDATOR v] [OPTIONS (...)];` — handler and
/// validator as `regproc` text, `None` when unset.
pub fn fdw_sql(name: &str, handler: Option<&str>, validator: Option<&str>, options: &[String]) -> String {
    let mut s = format!("CREATE FOREIGN DATA WRAPPER {}", ident(name));
    if let Some(h) = handler {
        s.push_str(&format!(" HANDLER {h}"));
    }
    if let Some(v) = validator {
        s.push_str(&format!(" VALIDATOR {v}"));
    }
    if !options.is_empty() {
        s.push_str(&format!(" {}", options_sql(options)));
    }
    s.push_str(";\n");
    s
}

pub fn drop_fdw_sql(name: &str) -> String {
    format!("DROP FOREIGN DATA WRAPPER {};\n", ident(name))
}

/// `CREATE SERVER s [TYPE '..'] [VERSION '..'] FOREIGN DATA WRAPPER w [OPTIONS (...)];`
/// (empty type and version are left out, as pg_dump does).
pub fn server_sql(name: &str, srvtype: Option<&str>, version: Option<&str>, fdw: &str, options: &[String]) -> String {
    let mut s = format!("CREATE SERVER {}", ident(name));
    if let Some(t) = srvtype.filter(|t| !t.is_empty()) {
        s.push_str(&format!(" TYPE {}", literal(t)));
    }
    if let Some(v) = version.filter(|v| !v.is_empty()) {
        s.push_str(&format!(" VERSION {}", literal(v)));
    }
    s.push_str(&format!(" FOREIGN DATA WRAPPER {}", ident(fdw)));
    if !options.is_empty() {
        s.push_str(&format!(" {}", options_sql(options)));
    }
    s.push_str(";\n");
    s
}

pub fn drop_server_sql(name: &str) -> String {
    format!("DROP SERVER {};\n", ident(name))
}

/// `CREATE USER MAPPING FOR u SERVER s [OPTIONS (...)];` — `u` as `pg_user_mappings` names
/// it (`public` for PUBLIC, which works unquoted).
pub fn user_mapping_sql(user: &str, server: &str, options: &[String]) -> String {
    let mut s = format!("CREATE USER MAPPING FOR {} SERVER {}", ident(user), ident(server));
    if !options.is_empty() {
        s.push_str(&format!(" {}", options_sql(options)));
    }
    s.push_str(";\n");
    s
}

pub fn drop_user_mapping_sql(user: &str, server: &str) -> String {
    format!("DROP USER MAPPING FOR {} SERVER {};\n", ident(user), ident(server))
}

/// The entry tag: names as they are, unquoted (`USER MAPPING bob SERVER s1`).
pub fn user_mapping_tag(user: &str, server: &str) -> String {
    format!("USER MAPPING {user} SERVER {server}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrappers_servers_and_mappings_like_pg_dump() {
        assert_eq!(
            fdw_sql("dummy_fdw", None, None, &[]),
            "CREATE FOREIGN DATA WRAPPER dummy_fdw;\n"
        );
        assert_eq!(
            fdw_sql(
                "w",
                Some("public.h"),
                Some("postgresql_fdw_validator"),
                &["debug 'true'".into()]
            ),
            "CREATE FOREIGN DATA WRAPPER w HANDLER public.h VALIDATOR postgresql_fdw_validator OPTIONS (\n    \
             debug 'true'\n);\n"
        );
        assert_eq!(drop_fdw_sql("W"), "DROP FOREIGN DATA WRAPPER \"W\";\n");
        assert_eq!(
            server_sql(
                "s2",
                Some("oracle"),
                Some("1.0"),
                "fdw2",
                &["host 'x'".into(), "port '1'".into()]
            ),
            "CREATE SERVER s2 TYPE 'oracle' VERSION '1.0' FOREIGN DATA WRAPPER fdw2 OPTIONS (\n    host 'x',\n    \
             port '1'\n);\n"
        );
        assert_eq!(
            server_sql("s1", Some(""), None, "dummy_fdw", &[]),
            "CREATE SERVER s1 FOREIGN DATA WRAPPER dummy_fdw;\n"
        );
        assert_eq!(drop_server_sql("s1"), "DROP SERVER s1;\n");
        assert_eq!(
            user_mapping_sql("postgres", "s1", &["password 'secret'".into(), "\"user\" 'bob'".into()]),
            "CREATE USER MAPPING FOR postgres SERVER s1 OPTIONS (\n    password 'secret',\n    \"user\" 'bob'\n);\n"
        );
        assert_eq!(
            user_mapping_sql("public", "s1", &[]),
            "CREATE USER MAPPING FOR public SERVER s1;\n"
        );
        assert_eq!(
            drop_user_mapping_sql("Bob", "s1"),
            "DROP USER MAPPING FOR \"Bob\" SERVER s1;\n"
        );
        assert_eq!(user_mapping_tag("Bob", "s 1"), "USER MAPPING Bob SERVER s 1");
    }
}
