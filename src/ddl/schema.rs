//! `CREATE SCHEMA` (pg_dump.c `dumpNamespace`).

use super::quote;

/// The comment initdb puts on the `public` schema; an unchanged comment is not dumped.
pub const PUBLIC_SCHEMA_COMMENT: &str = "standard public schema";

/// `(defn, drop)` of a schema entry. The `public` schema is never created (initdb makes it),
/// so its entry only carries a remark line.
pub fn schema_sql(name: &str) -> (String, String) {
    if name == "public" {
        return (
            "-- *not* creating schema, since initdb creates it\n".to_string(),
            "-- *not* dropping schema, since initdb creates it\n".to_string(),
        );
    }
    let q = quote::ident(name);
    (format!("CREATE SCHEMA {q};\n"), format!("DROP SCHEMA {q};\n"))
}

/// What to write for the `public` schema's comment given the current one: nothing when it is
/// initdb's, an empty comment when it was removed, else the comment.
pub fn public_comment(current: Option<&str>) -> Option<String> {
    match current {
        Some(PUBLIC_SCHEMA_COMMENT) => None,
        None => Some(String::new()),
        Some(c) => Some(c.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_statements() {
        assert_eq!(
            schema_sql("shop"),
            ("CREATE SCHEMA shop;\n".into(), "DROP SCHEMA shop;\n".into())
        );
        assert_eq!(schema_sql("My S").0, "CREATE SCHEMA \"My S\";\n");
        assert!(schema_sql("public").0.starts_with("-- *not* creating schema"));
    }

    #[test]
    fn public_comment_rules() {
        assert_eq!(public_comment(Some("standard public schema")), None);
        assert_eq!(public_comment(None), Some(String::new()));
        assert_eq!(public_comment(Some("mine")), Some("mine".into()));
    }
}
