//! Database-level SQL (pg_dump.c `dumpDatabase`, `dumpDatabaseConfig`; dumputils.c
//! `makeAlterConfigCommand`).

use super::quote::{ident, literal};

/// Settings whose value is a list; pg_dump quotes each element separately (the server's
/// GUC_LIST_QUOTE variables).
const LIST_SETTINGS: &[&str] = &[
    "local_preload_libraries",
    "search_path",
    "session_preload_libraries",
    "shared_preload_libraries",
    "temp_tablespaces",
    "unix_socket_directories",
];

/// Splits a list setting's stored text (`shop, "My Schema", public`) into its elements.
fn split_list(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    if !cur.trim().is_empty() || !out.is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// `ALTER <target> SET name TO value;` for one `name=value` entry of
/// `pg_db_role_setting.setconfig`; `target` is e.g. `DATABASE shop` or
/// `ROLE bob IN DATABASE shop`.
pub fn alter_config_sql(target: &str, setting: &str) -> Option<String> {
    let (name, value) = setting.split_once('=')?;
    Some(format!(
        "ALTER {target} SET {} TO {};\n",
        ident(name),
        setting_value_sql(name, value)
    ))
}

/// A stored setting's value as SQL after `SET name TO`: list settings element by element,
/// others as one literal (also used for functions' `SET` clauses).
pub fn setting_value_sql(name: &str, value: &str) -> String {
    if LIST_SETTINGS.contains(&name.to_ascii_lowercase().as_str()) {
        split_list(value)
            .iter()
            .map(|v| literal(v))
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        literal(value)
    }
}

/// The body of the DATABASE PROPERTIES entry: connection limit, template flag, then the
/// database's own settings and the per-role settings in it.
pub fn properties_sql(
    dbname: &str,
    conn_limit: i64,
    is_template: bool,
    db_settings: &[String],
    role_settings: &[(String, Vec<String>)],
) -> String {
    let db = ident(dbname);
    let mut out = String::new();
    if conn_limit != -1 {
        out.push_str(&format!("ALTER DATABASE {db} CONNECTION LIMIT = {conn_limit};\n"));
    }
    if is_template {
        out.push_str(&format!("ALTER DATABASE {db} IS_TEMPLATE = true;\n"));
    }
    for s in db_settings {
        if let Some(sql) = alter_config_sql(&format!("DATABASE {db}"), s) {
            out.push_str(&sql);
        }
    }
    for (role, settings) in role_settings {
        for s in settings {
            if let Some(sql) = alter_config_sql(&format!("ROLE {} IN DATABASE {db}", ident(role)), s) {
                out.push_str(&sql);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_quoted_like_pg_dump() {
        assert_eq!(
            alter_config_sql("DATABASE app2", "work_mem=8MB").unwrap(),
            "ALTER DATABASE app2 SET work_mem TO '8MB';\n"
        );
        assert_eq!(
            alter_config_sql("ROLE app_reader IN DATABASE app2", "search_path=shop, public").unwrap(),
            "ALTER ROLE app_reader IN DATABASE app2 SET search_path TO 'shop', 'public';\n"
        );
        assert_eq!(
            alter_config_sql("DATABASE d", "search_path=\"My Schema\", public").unwrap(),
            "ALTER DATABASE d SET search_path TO 'My Schema', 'public';\n"
        );
        assert!(alter_config_sql("DATABASE d", "garbage").is_none());
    }

    #[test]
    fn properties_in_pg_dump_order() {
        let sql = properties_sql(
            "app2",
            50,
            false,
            &["work_mem=8MB".into()],
            &[("app_reader".into(), vec!["search_path=shop, public".into()])],
        );
        assert_eq!(
            sql,
            "ALTER DATABASE app2 CONNECTION LIMIT = 50;\nALTER DATABASE app2 SET work_mem TO '8MB';\n\
             ALTER ROLE app_reader IN DATABASE app2 SET search_path TO 'shop', 'public';\n"
        );
        assert_eq!(properties_sql("d", -1, false, &[], &[]), "");
        assert_eq!(
            properties_sql("d", -1, true, &[], &[]),
            "ALTER DATABASE d IS_TEMPLATE = true;\n"
        );
    }
}
