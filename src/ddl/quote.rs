//! Identifier and literal quoting as pg_dump does it client-side (`fmtId` in
//! string_utils.c, `appendStringLiteral`, `appendStringLiteralDQ`).
//!
//! Two pg_dump switches change the quoting of a whole dump: `--quote-all-identifiers` and
//! `--disable-dollar-quoting`. pg_dump keeps them in globals; here they are a [`Style`] in
//! effect for the task that renders a dump ([`with_style`]), so the functions stay plain
//! and dumps with different settings can run side by side.

use std::future::Future;

/// The quoting switches of one dump.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    /// `--quote-all-identifiers`: every identifier is quoted.
    pub quote_all_identifiers: bool,
    /// `--disable-dollar-quoting`: function bodies become ordinary string literals.
    pub disable_dollar_quoting: bool,
}

tokio::task_local! {
    static STYLE: Style;
}

/// Runs `fut` with `style` in effect for every quoting function it calls (on its own task).
pub async fn with_style<F: Future>(style: Style, fut: F) -> F::Output {
    STYLE.scope(style, fut).await
}

/// The style in effect (the default outside [`with_style`]).
pub fn style() -> Style {
    STYLE.try_with(|s| *s).unwrap_or_default()
}

/// Keywords of PostgreSQL 18 whose category is not "unreserved" (`pg_get_keywords()` with
/// `catcode <> 'U'`): an identifier equal to one of these must be quoted.
const QUOTE_KEYWORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "json",
    "json_array",
    "json_arrayagg",
    "json_exists",
    "json_object",
    "json_objectagg",
    "json_query",
    "json_scalar",
    "json_serialize",
    "json_table",
    "json_value",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "merge_action",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    "xmlattributes",
    "xmlconcat",
    "xmlelement",
    "xmlexists",
    "xmlforest",
    "xmlnamespaces",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
    "xmltable",
];

/// Quotes an identifier unless it is a plain lower-case name that is not a keyword
/// (`fmtId`): `[a-z_][a-z0-9_]*` and not reserved/column-name/type-function keyword.
pub fn ident(name: &str) -> String {
    let plain = !style().quote_all_identifiers
        && !name.is_empty()
        && name
            .bytes()
            .enumerate()
            .all(|(i, b)| b == b'_' || b.is_ascii_lowercase() || (i > 0 && b.is_ascii_digit()))
        && QUOTE_KEYWORDS.binary_search(&name).is_err();
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// `schema.name`, each part quoted as needed.
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

/// The two names of a [`qualified`] name, unquoted; `None` if it is not one.
pub fn split_qualified(q: &str) -> Option<(String, String)> {
    fn one(s: &str) -> Option<(String, &str)> {
        if let Some(rest) = s.strip_prefix('"') {
            let mut name = String::new();
            let mut chars = rest.char_indices();
            while let Some((i, c)) = chars.next() {
                if c == '"' {
                    if rest[i + 1..].starts_with('"') {
                        name.push('"');
                        chars.next();
                    } else {
                        return Some((name, &rest[i + 1..]));
                    }
                } else {
                    name.push(c);
                }
            }
            None
        } else {
            let end = s.find('.').unwrap_or(s.len());
            Some((s[..end].to_string(), &s[end..]))
        }
    }
    let (schema, rest) = one(q)?;
    let (name, rest) = one(rest.strip_prefix('.')?)?;
    rest.is_empty().then_some((schema, name))
}

/// A string literal for a session with `standard_conforming_strings = on` (what every dump
/// we write declares in its STDSTRINGS entry): only quotes are doubled.
pub fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Dollar-quotes a function body the way pg_dump picks its delimiter
/// (`appendStringLiteralDQ`): start with `$`, extend with `_` then `X`s until the body does
/// not contain the delimiter.
pub fn dollar_quoted(body: &str) -> String {
    if style().disable_dollar_quoting {
        return literal(body);
    }
    let mut tag = String::from("$");
    let extra = "_XXXXXXX";
    let mut i = 0;
    while body.contains(&tag) {
        match extra[i % extra.len()..].chars().next() {
            Some(c) => tag.push(c),
            None => tag.push('X'),
        }
        i += 1;
    }
    tag.push('$');
    format!("{tag}{body}{tag}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_list_is_sorted_for_binary_search() {
        assert!(QUOTE_KEYWORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn idents_are_quoted_only_when_needed() {
        assert_eq!(ident("orders"), "orders");
        assert_eq!(ident("order"), "\"order\"");
        assert_eq!(ident("user"), "\"user\"");
        assert_eq!(ident("Mixed"), "\"Mixed\"");
        assert_eq!(ident("a b"), "\"a b\"");
        assert_eq!(ident("1abc"), "\"1abc\"");
        assert_eq!(ident("x\"y"), "\"x\"\"y\"");
        assert_eq!(ident("café"), "\"café\"");
        assert_eq!(ident("name"), "name", "unreserved keywords stay bare");
        assert_eq!(qualified("public", "select"), "public.\"select\"");
    }

    #[test]
    fn literals_double_quotes_only() {
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal("a\\b"), "'a\\b'");
    }

    #[tokio::test]
    async fn styles_apply_within_their_scope() {
        let all = Style {
            quote_all_identifiers: true,
            disable_dollar_quoting: true,
        };
        let inside = with_style(all, async { (ident("orders"), dollar_quoted("select 'x'")) }).await;
        assert_eq!(inside, ("\"orders\"".to_string(), "'select ''x'''".to_string()));
        assert_eq!(ident("orders"), "orders");
        assert_eq!(dollar_quoted("select 1"), "$$select 1$$");
    }

    /// Splitting is the inverse of [`qualified`], quotes and dots in names included.
    #[test]
    fn qualified_names_split_back() {
        for (s, n) in [
            ("public", "t1"),
            ("Mixed", "Tab"),
            ("dot.s", "a.b"),
            ("we\"ird", "x\"\"y"),
            ("ü", "select"),
        ] {
            assert_eq!(split_qualified(&qualified(s, n)), Some((s.to_string(), n.to_string())));
        }
        assert_eq!(split_qualified("nodot"), None);
        assert_eq!(split_qualified("\"open.x"), None);
    }

    #[test]
    fn dollar_quote_grows_until_unique() {
        assert_eq!(dollar_quoted("select 1"), "$$select 1$$");
        assert_eq!(dollar_quoted("a $$ b"), "$_$a $$ b$_$");
        assert_eq!(dollar_quoted("$$ $_$"), "$_X$$$ $_$$_X$");
    }
}
