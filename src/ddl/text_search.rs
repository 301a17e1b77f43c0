//! Text search parsers, templates, dictionaries and configurations (pg_dump.c
//! `dumpTSParser`, `dumpTSTemplate`, `dumpTSDictionary`, `dumpTSConfig`). Support functions
//! are `regproc` text, as the server prints them.

use super::quote;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parser {
    pub qualified: String,
    pub start: String,
    pub gettoken: String,
    pub end: String,
    pub headline: Option<String>,
    pub lextypes: String,
}

/// `(create, drop)`.
pub fn parser_sql(p: &Parser) -> (String, String) {
    let mut s = format!("CREATE TEXT SEARCH PARSER {} (\n", p.qualified);
    s.push_str(&format!("    START = {},\n", p.start));
    s.push_str(&format!("    GETTOKEN = {},\n", p.gettoken));
    s.push_str(&format!("    END = {},\n", p.end));
    if let Some(h) = &p.headline {
        s.push_str(&format!("    HEADLINE = {h},\n"));
    }
    s.push_str(&format!("    LEXTYPES = {} );\n", p.lextypes));
    (s, format!("DROP TEXT SEARCH PARSER {};\n", p.qualified))
}

/// `(create, drop)` of a template: `init` is optional, `lexize` is not.
pub fn template_sql(qualified: &str, init: Option<&str>, lexize: &str) -> (String, String) {
    let mut s = format!("CREATE TEXT SEARCH TEMPLATE {qualified} (\n");
    if let Some(i) = init {
        s.push_str(&format!("    INIT = {i},\n"));
    }
    s.push_str(&format!("    LEXIZE = {lexize} );\n"));
    (s, format!("DROP TEXT SEARCH TEMPLATE {qualified};\n"))
}

/// `(create, drop)` of a dictionary; `template` is `schema.name` (quoted); `init_options` is
/// `dictinitoption`, written verbatim (the server stores it ready to paste).
pub fn dictionary_sql(qualified: &str, template: &str, init_options: Option<&str>) -> (String, String) {
    let mut s = format!("CREATE TEXT SEARCH DICTIONARY {qualified} (\n    TEMPLATE = {template}");
    if let Some(o) = init_options {
        s.push_str(&format!(",\n    {o}"));
    }
    s.push_str(" );\n");
    (s, format!("DROP TEXT SEARCH DICTIONARY {qualified};\n"))
}

/// One token type's mapping: the token alias (`ts_token_type`) and its dictionaries
/// (`regdictionary` text) in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub token: String,
    pub dictionaries: Vec<String>,
}

/// `(create, drop)` of a configuration: the CREATE, then one ALTER ... ADD MAPPING per token
/// type, all in the one entry.
pub fn configuration_sql(qualified: &str, parser: &str, mappings: &[Mapping]) -> (String, String) {
    let mut s = format!("CREATE TEXT SEARCH CONFIGURATION {qualified} (\n    PARSER = {parser} );\n");
    for m in mappings {
        s.push_str(&format!(
            "\nALTER TEXT SEARCH CONFIGURATION {qualified}\n    ADD MAPPING FOR {} WITH {};\n",
            quote::ident(&m.token),
            m.dictionaries.join(", ")
        ));
    }
    (s, format!("DROP TEXT SEARCH CONFIGURATION {qualified};\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_with_and_without_headline() {
        let p = Parser {
            qualified: "ts.prs".into(),
            start: "prsd_start".into(),
            gettoken: "prsd_nexttoken".into(),
            end: "prsd_end".into(),
            headline: Some("prsd_headline".into()),
            lextypes: "prsd_lextype".into(),
        };
        assert_eq!(
            parser_sql(&p),
            (
                "CREATE TEXT SEARCH PARSER ts.prs (\n    START = prsd_start,\n    GETTOKEN = prsd_nexttoken,\n    \
                 END = prsd_end,\n    HEADLINE = prsd_headline,\n    LEXTYPES = prsd_lextype );\n"
                    .to_string(),
                "DROP TEXT SEARCH PARSER ts.prs;\n".to_string()
            )
        );
        let q = Parser { headline: None, ..p };
        assert!(
            parser_sql(&q)
                .0
                .contains("END = prsd_end,\n    LEXTYPES = prsd_lextype );\n")
        );
    }

    #[test]
    fn templates_and_dictionaries() {
        assert_eq!(
            template_sql("ts.tmpl", Some("dsimple_init"), "dsimple_lexize").0,
            "CREATE TEXT SEARCH TEMPLATE ts.tmpl (\n    INIT = dsimple_init,\n    LEXIZE = dsimple_lexize );\n"
        );
        assert_eq!(
            template_sql("ts.tmpl", None, "dsimple_lexize").0,
            "CREATE TEXT SEARCH TEMPLATE ts.tmpl (\n    LEXIZE = dsimple_lexize );\n"
        );
        assert_eq!(
            dictionary_sql(
                "ts.d",
                "pg_catalog.simple",
                Some("stopwords = 'english', accept = 'false'")
            ),
            (
                "CREATE TEXT SEARCH DICTIONARY ts.d (\n    TEMPLATE = pg_catalog.simple,\n    \
                 stopwords = 'english', accept = 'false' );\n"
                    .to_string(),
                "DROP TEXT SEARCH DICTIONARY ts.d;\n".to_string()
            )
        );
        assert_eq!(
            dictionary_sql("ts.d", "ts.tmpl", None).0,
            "CREATE TEXT SEARCH DICTIONARY ts.d (\n    TEMPLATE = ts.tmpl );\n"
        );
    }

    #[test]
    fn configuration_with_mappings() {
        let m = vec![
            Mapping {
                token: "asciiword".into(),
                dictionaries: vec!["ts.d".into(), "english_stem".into()],
            },
            Mapping {
                token: "int".into(),
                dictionaries: vec!["simple".into()],
            },
        ];
        assert_eq!(
            configuration_sql("ts.cfg", "pg_catalog.\"default\"", &m).0,
            "CREATE TEXT SEARCH CONFIGURATION ts.cfg (\n    PARSER = pg_catalog.\"default\" );\n\n\
             ALTER TEXT SEARCH CONFIGURATION ts.cfg\n    ADD MAPPING FOR asciiword WITH ts.d, english_stem;\n\n\
             ALTER TEXT SEARCH CONFIGURATION ts.cfg\n    ADD MAPPING FOR \"int\" WITH simple;\n"
        );
        assert_eq!(
            configuration_sql("ts.cfg", "ts.prs", &[]).0,
            "CREATE TEXT SEARCH CONFIGURATION ts.cfg (\n    PARSER = ts.prs );\n"
        );
    }
}
