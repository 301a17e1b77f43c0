//! `CREATE PROCEDURAL LANGUAGE` (pg_dump.c `dumpProcLang`).

use super::quote;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Language {
    pub name: String,
    pub trusted: bool,
    /// Handler, inline and validator functions as `schema.name` (quoted), each only when it
    /// is itself in the dump.
    pub handler: Option<String>,
    pub inline: Option<String>,
    pub validator: Option<String>,
    /// Whether the language has an inline handler / validator at all.
    pub has_inline: bool,
    pub has_validator: bool,
}

/// `(create, drop)`. With every support function in the dump the full form is written;
/// otherwise the parameterless `CREATE OR REPLACE PROCEDURAL LANGUAGE x;`, which the server
/// turns into `CREATE EXTENSION` when an extension of that name exists.
pub fn language_sql(l: &Language) -> (String, String) {
    let q = quote::ident(&l.name);
    let complete =
        l.handler.is_some() && (l.inline.is_some() || !l.has_inline) && (l.validator.is_some() || !l.has_validator);
    let create = match (&l.handler, complete) {
        (Some(h), true) => {
            let mut s = format!(
                "CREATE {}PROCEDURAL LANGUAGE {q} HANDLER {h}",
                if l.trusted { "TRUSTED " } else { "" }
            );
            if let Some(i) = l.inline.as_ref().filter(|_| l.has_inline) {
                s.push_str(&format!(" INLINE {i}"));
            }
            if let Some(v) = l.validator.as_ref().filter(|_| l.has_validator) {
                s.push_str(&format!(" VALIDATOR {v}"));
            }
            s
        }
        _ => format!("CREATE OR REPLACE PROCEDURAL LANGUAGE {q}"),
    };
    (format!("{create};\n"), format!("DROP PROCEDURAL LANGUAGE {q};\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lang() -> Language {
        Language {
            name: "pltest".into(),
            trusted: true,
            handler: Some("lang.h".into()),
            inline: Some("lang.i".into()),
            validator: Some("lang.v".into()),
            has_inline: true,
            has_validator: true,
        }
    }

    #[test]
    fn full_form_when_every_function_is_dumped() {
        assert_eq!(
            language_sql(&lang()),
            (
                "CREATE TRUSTED PROCEDURAL LANGUAGE pltest HANDLER lang.h INLINE lang.i VALIDATOR lang.v;\n"
                    .to_string(),
                "DROP PROCEDURAL LANGUAGE pltest;\n".to_string()
            )
        );
        let bare = Language {
            trusted: false,
            inline: None,
            validator: None,
            has_inline: false,
            has_validator: false,
            ..lang()
        };
        assert_eq!(
            language_sql(&bare).0,
            "CREATE PROCEDURAL LANGUAGE pltest HANDLER lang.h;\n"
        );
    }

    #[test]
    fn parameterless_when_a_function_is_not_dumped() {
        let l = Language {
            validator: None,
            ..lang()
        };
        assert_eq!(language_sql(&l).0, "CREATE OR REPLACE PROCEDURAL LANGUAGE pltest;\n");
        let h = Language {
            handler: None,
            ..lang()
        };
        assert_eq!(language_sql(&h).0, "CREATE OR REPLACE PROCEDURAL LANGUAGE pltest;\n");
    }
}
