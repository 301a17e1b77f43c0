//! `CREATE CONVERSION` (pg_dump.c `dumpConversion`).

use super::quote;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    pub schema: String,
    pub name: String,
    pub default: bool,
    /// Encoding names (`pg_encoding_to_char`).
    pub from_encoding: String,
    pub to_encoding: String,
    /// `conproc` as `regproc` text.
    pub function: String,
}

/// `(create, drop)`.
pub fn conversion_sql(c: &Conversion) -> (String, String) {
    let q = quote::qualified(&c.schema, &c.name);
    let default = if c.default { "DEFAULT " } else { "" };
    (
        format!(
            "CREATE {default}CONVERSION {q} FOR {} TO {} FROM {};\n",
            quote::literal(&c.from_encoding),
            quote::literal(&c.to_encoding),
            c.function
        ),
        format!("DROP CONVERSION {q};\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_default() {
        let c = Conversion {
            schema: "k".into(),
            name: "myconv".into(),
            default: false,
            from_encoding: "LATIN1".into(),
            to_encoding: "UTF8".into(),
            function: "iso8859_1_to_utf8".into(),
        };
        assert_eq!(
            conversion_sql(&c),
            (
                "CREATE CONVERSION k.myconv FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8;\n".to_string(),
                "DROP CONVERSION k.myconv;\n".to_string()
            )
        );
        let d = Conversion { default: true, ..c };
        assert!(
            conversion_sql(&d)
                .0
                .starts_with("CREATE DEFAULT CONVERSION k.myconv FOR")
        );
    }
}
