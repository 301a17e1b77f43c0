//! `--filter` files (pg_dump 17+, `src/bin/pg_dump/filter.c` and pg_dump.c's
//! `read_dump_filters`): one `include|exclude <object type> <pattern>` per line, `#`
//! comments, double-quoted patterns that may contain spaces and span lines. Pure: the caller
//! reads the file (or standard input for `-`); every error names the source and the line
//! exactly as pg_dump does.

use crate::error::{Error, Result};

/// Where the filter text came from, as pg_dump names it in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin<'a> {
    File(&'a str),
    Stdin,
}

/// The object types filter.c knows (pg_dump accepts only some, see [`dump_rules`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectType {
    TableData,
    TableDataAndChildren,
    Database,
    Extension,
    ForeignData,
    Function,
    Index,
    Schema,
    Table,
    TableAndChildren,
    Trigger,
}

impl ObjectType {
    fn from_keyword(word: &str) -> Option<ObjectType> {
        let w = word.to_ascii_lowercase();
        Some(match w.as_str() {
            "table_data" => ObjectType::TableData,
            "table_data_and_children" => ObjectType::TableDataAndChildren,
            "database" => ObjectType::Database,
            "extension" => ObjectType::Extension,
            "foreign_data" => ObjectType::ForeignData,
            "function" => ObjectType::Function,
            "index" => ObjectType::Index,
            "schema" => ObjectType::Schema,
            "table" => ObjectType::Table,
            "table_and_children" => ObjectType::TableAndChildren,
            "trigger" => ObjectType::Trigger,
            _ => return None,
        })
    }

    /// The name filter.c prints for the type (`filter_object_type_name`).
    pub fn describe(self) -> &'static str {
        match self {
            ObjectType::TableData => "table data",
            ObjectType::TableDataAndChildren => "table data and children",
            ObjectType::Database => "database",
            ObjectType::Extension => "extension",
            ObjectType::ForeignData => "foreign data",
            ObjectType::Function => "function",
            ObjectType::Index => "index",
            ObjectType::Schema => "schema",
            ObjectType::Table => "table",
            ObjectType::TableAndChildren => "table and children",
            ObjectType::Trigger => "trigger",
        }
    }
}

/// One filter line: include or exclude, what, and the pattern (psql pattern syntax, quotes
/// kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub include: bool,
    pub object: ObjectType,
    pub pattern: String,
    /// The (last) line the rule was read from.
    pub line: usize,
}

fn invalid(origin: Origin<'_>, line: usize, what: &str) -> Error {
    let msg = match origin {
        Origin::Stdin => format!("invalid format in filter read from standard input on line {line}: {what}"),
        Origin::File(name) => format!("invalid format in filter read from file \"{name}\" on line {line}: {what}"),
    };
    Error::usage(msg)
}

/// C `isspace` in the C locale.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r')
}

/// Reads a keyword: an ASCII letter, then letters or `_` (`filter_get_keyword`).
fn keyword(rest: &str) -> (Option<&str>, &str) {
    let s = rest.trim_start_matches(is_space);
    if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return (None, s);
    }
    let end = s
        .find(|c: char| !(c.is_ascii_alphabetic() || c == '_'))
        .unwrap_or(s.len());
    (Some(&s[..end]), &s[end..])
}

/// Reader state: the lines and the number of the line last read.
struct Lines<'a> {
    lines: std::str::SplitInclusive<'a, char>,
    lineno: usize,
}

impl<'a> Lines<'a> {
    fn next_line(&mut self) -> Option<&'a str> {
        let l = self.lines.next()?;
        self.lineno += 1;
        Some(l)
    }
}

/// A double-quoted part, quotes kept, `""` kept doubled, `\n` and `\\` unescaped, other
/// backslash pairs dropped; continues on the next line (adding a newline) when the line
/// ends inside the quotes (`read_quoted_string`).
fn quoted<'a>(lines: &mut Lines<'a>, origin: Origin<'_>, mut s: &'a str, out: &mut String) -> Result<&'a str> {
    out.push('"');
    s = &s[1..];
    loop {
        let mut chars = s.chars();
        match chars.next() {
            None => {
                let Some(next) = lines.next_line() else {
                    return Err(invalid(origin, lines.lineno, "unexpected end of file"));
                };
                s = next;
                out.push('\n');
            }
            Some('\r' | '\n') => s = chars.as_str(),
            Some('"') => {
                out.push('"');
                let after = chars.as_str();
                if let Some(rest) = after.strip_prefix('"') {
                    out.push('"');
                    s = rest;
                } else {
                    return Ok(after);
                }
            }
            Some('\\') => {
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('\\') => out.push('\\'),
                    _ => {}
                }
                s = chars.as_str();
            }
            Some(c) => {
                out.push(c);
                s = chars.as_str();
            }
        }
    }
}

/// The pattern after the object type: words joined by single spaces, `.`, `,`, `(`, `)`
/// tightened, quoted parts kept, stopping at `#` (`read_pattern`).
fn pattern<'a>(lines: &mut Lines<'a>, origin: Origin<'_>, s: &'a str) -> Result<String> {
    let mut s = s.trim_start_matches(is_space);
    if s.is_empty() {
        return Err(invalid(origin, lines.lineno, "missing object name pattern"));
    }
    let mut out = String::new();
    let mut skip_space = true;
    let mut found_space = false;
    while !s.is_empty() && !s.starts_with('#') {
        let end = s
            .find(|c: char| is_space(c) || "#,.()\"".contains(c))
            .unwrap_or(s.len());
        if end > 0 {
            if !skip_space && found_space {
                out.push(' ');
            }
            out.push_str(&s[..end]);
            s = &s[end..];
        }
        skip_space = false;
        if s.starts_with('"') {
            if found_space {
                out.push(' ');
            }
            s = quoted(lines, origin, s, &mut out)?;
        } else if let Some(rest) = s.strip_prefix(',') {
            out.push_str(", ");
            skip_space = true;
            s = rest;
        } else if let Some(c) = s.chars().next().filter(|c| ".()".contains(*c)) {
            out.push(c);
            skip_space = true;
            s = &s[1..];
        }
        let trimmed = s.trim_start_matches(is_space);
        found_space = trimmed.len() != s.len();
        s = trimmed;
    }
    Ok(out)
}

/// Parses filter text into rules (`filter_read_item`), accepting every object type for
/// either command (pg_restore and pg_dumpall restrict them differently than pg_dump).
pub fn parse(text: &str, origin: Origin<'_>) -> Result<Vec<Rule>> {
    read(text, origin, |_, _| true)
}

/// Parses a filter for pg_dump: `include` takes table, table_and_children, schema,
/// extension and foreign_data; `exclude` takes table, table_and_children, table_data,
/// table_data_and_children, schema and extension (`read_dump_filters`). Rules are checked
/// as they are read, so the first bad line is the one reported, as in pg_dump.
pub fn dump_rules(text: &str, origin: Origin<'_>) -> Result<Vec<Rule>> {
    use ObjectType::*;
    read(text, origin, |include, object| {
        if include {
            matches!(object, Table | TableAndChildren | Schema | Extension | ForeignData)
        } else {
            matches!(
                object,
                Table | TableAndChildren | TableData | TableDataAndChildren | Schema | Extension
            )
        }
    })
}

fn read(text: &str, origin: Origin<'_>, accepts: impl Fn(bool, ObjectType) -> bool) -> Result<Vec<Rule>> {
    let mut lines = Lines {
        lines: text.split_inclusive('\n'),
        lineno: 0,
    };
    let mut rules = Vec::new();
    while let Some(line) = lines.next_line() {
        let s = line.trim_start_matches(is_space);
        if s.is_empty() || s.starts_with('#') {
            continue;
        }
        let (Some(command), rest) = keyword(s) else {
            return Err(invalid(
                origin,
                lines.lineno,
                "no filter command found (expected \"include\" or \"exclude\")",
            ));
        };
        let include = if command.eq_ignore_ascii_case("include") {
            true
        } else if command.eq_ignore_ascii_case("exclude") {
            false
        } else {
            return Err(invalid(
                origin,
                lines.lineno,
                "invalid filter command (expected \"include\" or \"exclude\")",
            ));
        };
        let (Some(kind), rest) = keyword(rest) else {
            return Err(invalid(origin, lines.lineno, "missing filter object type"));
        };
        let Some(object) = ObjectType::from_keyword(kind) else {
            return Err(invalid(
                origin,
                lines.lineno,
                &format!("unsupported filter object type: \"{kind}\""),
            ));
        };
        let pattern = pattern(&mut lines, origin, rest)?;
        if !accepts(include, object) {
            let command = if include { "include" } else { "exclude" };
            return Err(invalid(
                origin,
                lines.lineno,
                &format!("{command} filter for \"{}\" is not allowed", object.describe()),
            ));
        }
        rules.push(Rule {
            include,
            object,
            pattern,
            line: lines.lineno,
        });
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: Origin<'static> = Origin::File("f.txt");

    fn rules(text: &str) -> Vec<(bool, ObjectType, String)> {
        dump_rules(text, F)
            .unwrap()
            .into_iter()
            .map(|r| (r.include, r.object, r.pattern))
            .collect()
    }

    fn err(text: &str) -> String {
        dump_rules(text, F).unwrap_err().to_string()
    }

    #[test]
    fn lines_comments_and_case() {
        let r = rules(
            "# a comment\n\n  include table public.t1\nEXCLUDE Table_Data  big_*  # trailing\n\
             include\tschema \"Mixed Case\"\nexclude extension pg_trgm\ninclude foreign_data srv\n\
             include table_and_children p\nexclude table_data_and_children q\nexclude table_and_children r\n",
        );
        use ObjectType::*;
        assert_eq!(
            r,
            vec![
                (true, Table, "public.t1".into()),
                (false, TableData, "big_*".into()),
                (true, Schema, "\"Mixed Case\"".into()),
                (false, Extension, "pg_trgm".into()),
                (true, ForeignData, "srv".into()),
                (true, TableAndChildren, "p".into()),
                (false, TableDataAndChildren, "q".into()),
                (false, TableAndChildren, "r".into()),
            ]
        );
    }

    #[test]
    fn patterns_are_normalised_like_filter_c() {
        let one = |line: &str| rules(line).remove(0).2;
        assert_eq!(one("include table  a   b  "), "a b");
        assert_eq!(one("include table s . t"), "s.t");
        assert_eq!(one("include table \"a b\".\"c\"\"d\""), "\"a b\".\"c\"\"d\"");
        assert_eq!(one("include table x \"y\""), "x \"y\"");
        assert_eq!(one("include table \"tab\\\\le\\n\\q\""), "\"tab\\le\n\"");
        assert_eq!(one("include table f(a,b)"), "f(a, b)");
        assert_eq!(one("include table # only a comment"), "");
        assert_eq!(one("include table \"multi\nline\" # c"), "\"multi\nline\"");
        // CRLF line ends are whitespace.
        assert_eq!(one("include table t\r\n"), "t");
    }

    #[test]
    fn the_first_bad_line_is_the_one_reported() {
        // A refused rule on line 2 wins over a syntax error on line 3, as filter.c reads.
        assert_eq!(
            err("include table t\nexclude foreign_data s\nnonsense\n"),
            "invalid format in filter read from file \"f.txt\" on line 2: exclude filter for \"foreign data\" is not \
             allowed"
        );
        // pg_restore's and pg_dumpall's types parse, pg_dump refuses them.
        assert_eq!(parse("include function f(int)\n", F).unwrap()[0].pattern, "f(int)");
    }

    #[test]
    fn quoted_pattern_over_lines_reports_the_last_line() {
        let r = dump_rules("include table \"a\nb\nc\"\ninclude function f\n", F).unwrap_err();
        assert_eq!(
            r.to_string(),
            "invalid format in filter read from file \"f.txt\" on line 4: include filter for \"function\" is not \
             allowed"
        );
    }

    #[test]
    fn every_error_names_the_file_and_line() {
        let prefix = |n: usize| format!("invalid format in filter read from file \"f.txt\" on line {n}: ");
        for (text, line, msg) in [
            (
                "123 table t\n",
                1,
                "no filter command found (expected \"include\" or \"exclude\")",
            ),
            (
                "\n\ninclud table t\n",
                3,
                "invalid filter command (expected \"include\" or \"exclude\")",
            ),
            ("include\n", 1, "missing filter object type"),
            ("include 7 t\n", 1, "missing filter object type"),
            ("include tables t\n", 1, "unsupported filter object type: \"tables\""),
            ("include table\n", 1, "missing object name pattern"),
            ("include table \"open\n", 1, "unexpected end of file"),
            ("include table \"open\nmore\n", 2, "unexpected end of file"),
            (
                "include table_data t\n",
                1,
                "include filter for \"table data\" is not allowed",
            ),
            (
                "include table_data_and_children t\n",
                1,
                "include filter for \"table data and children\" is not allowed",
            ),
            (
                "include database d\n",
                1,
                "include filter for \"database\" is not allowed",
            ),
            ("include index i\n", 1, "include filter for \"index\" is not allowed"),
            (
                "include trigger t\n",
                1,
                "include filter for \"trigger\" is not allowed",
            ),
            (
                "exclude foreign_data s\n",
                1,
                "exclude filter for \"foreign data\" is not allowed",
            ),
            (
                "exclude function f\n",
                1,
                "exclude filter for \"function\" is not allowed",
            ),
            (
                "exclude database d\n",
                1,
                "exclude filter for \"database\" is not allowed",
            ),
        ] {
            assert_eq!(err(text), format!("{}{msg}", prefix(line)), "{text:?}");
        }
        let e = dump_rules("bogus\n", Origin::Stdin).unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid format in filter read from standard input on line 1: invalid filter command (expected \
             \"include\" or \"exclude\")"
        );
    }
}
