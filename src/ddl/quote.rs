//! Identifier and literal quoting as pg_dump does it client-side (`fmtId` in
//! string_utils.c, `appendStringLiteral`, `appendStringLiteralDQ`).

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
    let plain = !name.is_empty()
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

/// A string literal for a session with `standard_conforming_strings = on` (what every dump
/// we write declares in its STDSTRINGS entry): only quotes are doubled.
pub fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Dollar-quotes a function body the way pg_dump picks its delimiter
/// (`appendStringLiteralDQ`): start with `$`, extend with `_` then `X`s until the body does
/// not contain the delimiter.
pub fn dollar_quoted(body: &str) -> String {
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

    #[test]
    fn dollar_quote_grows_until_unique() {
        assert_eq!(dollar_quoted("select 1"), "$$select 1$$");
        assert_eq!(dollar_quoted("a $$ b"), "$_$a $$ b$_$");
        assert_eq!(dollar_quoted("$$ $_$"), "$_X$$$ $_$$_X$");
    }
}
