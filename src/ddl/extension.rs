//! `CREATE EXTENSION` (pg_dump.c `dumpExtension`, non-binary-upgrade form).

use super::quote;

/// `(defn, drop)`: no VERSION clause, so the restore installs the default version.
pub fn extension_sql(name: &str, schema: &str) -> (String, String) {
    let q = quote::ident(name);
    (
        format!(
            "CREATE EXTENSION IF NOT EXISTS {q} WITH SCHEMA {};\n",
            quote::ident(schema)
        ),
        format!("DROP EXTENSION {q};\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_statements() {
        assert_eq!(
            extension_sql("pg_trgm", "public"),
            (
                "CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;\n".into(),
                "DROP EXTENSION pg_trgm;\n".into()
            )
        );
        assert_eq!(extension_sql("uuid-ossp", "x").1, "DROP EXTENSION \"uuid-ossp\";\n");
    }
}
