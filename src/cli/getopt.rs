//! A `getopt_long` work-alike (GNU semantics, as pg_dump is built on Linux): options and
//! operands in any order, `--` ends options, bundled short options (`-sxv`), attached or
//! separate values (`-Fd`, `-j 4`, `--file=x`, `--file x`), a value is taken as is even when
//! it starts with `-`, unambiguous abbreviations of long options (`--schema-o`), and glibc's
//! messages for what it rejects. Pure: argv in, items out.

/// Whether an option takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HasArg {
    No,
    Required,
}

/// One option of the table: an id of the caller's choosing, its short letter, its long
/// names (a short-only option has none), and whether an abbreviation may name it (options
/// a program adds to another's set can opt out, so the other's abbreviations keep working).
#[derive(Debug, Clone, Copy)]
pub struct OptSpec<Id: Copy> {
    pub id: Id,
    pub short: Option<char>,
    pub long: &'static [&'static str],
    pub has_arg: HasArg,
    pub abbrev: bool,
}

/// What the parser found, in argv order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item<Id> {
    Opt(Id, Option<String>),
    Operand(String),
}

/// An option getopt rejects, with glibc's text (the caller prefixes the program name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetoptError(pub String);

impl std::fmt::Display for GetoptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses `args` (without the program name) against `table`.
pub fn parse<Id: Copy + PartialEq>(args: &[String], table: &[OptSpec<Id>]) -> Result<Vec<Item<Id>>, GetoptError> {
    let mut items = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            items.extend(args[i..].iter().cloned().map(Item::Operand));
            break;
        }
        if let Some(body) = arg.strip_prefix("--") {
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let spec = find_long(table, name, arg)?;
            let full = spec.1;
            match (spec.0.has_arg, inline) {
                (HasArg::No, Some(_)) => {
                    return Err(GetoptError(format!("option '--{full}' doesn't allow an argument")));
                }
                (HasArg::No, None) => items.push(Item::Opt(spec.0.id, None)),
                (HasArg::Required, Some(v)) => items.push(Item::Opt(spec.0.id, Some(v))),
                (HasArg::Required, None) => match args.get(i) {
                    Some(v) => {
                        items.push(Item::Opt(spec.0.id, Some(v.clone())));
                        i += 1;
                    }
                    None => return Err(GetoptError(format!("option '--{full}' requires an argument"))),
                },
            }
            continue;
        }
        let Some(shorts) = arg.strip_prefix('-').filter(|s| !s.is_empty()) else {
            // Not an option (a lone "-" included): an operand, wherever it stands.
            items.push(Item::Operand(arg.clone()));
            continue;
        };
        for (pos, c) in shorts.char_indices() {
            let Some(spec) = table.iter().find(|s| s.short == Some(c)) else {
                return Err(GetoptError(format!("invalid option -- '{c}'")));
            };
            match spec.has_arg {
                HasArg::No => items.push(Item::Opt(spec.id, None)),
                HasArg::Required => {
                    let rest = &shorts[pos + c.len_utf8()..];
                    if !rest.is_empty() {
                        items.push(Item::Opt(spec.id, Some(rest.to_string())));
                    } else if let Some(v) = args.get(i) {
                        items.push(Item::Opt(spec.id, Some(v.clone())));
                        i += 1;
                    } else {
                        return Err(GetoptError(format!("option requires an argument -- '{c}'")));
                    }
                    break;
                }
            }
        }
    }
    Ok(items)
}

/// Finds a long option by exact name or unambiguous prefix; prefixes that only name
/// spellings of one option are not ambiguous (glibc's rule).
fn find_long<'t, Id: Copy + PartialEq>(
    table: &'t [OptSpec<Id>],
    name: &str,
    arg: &str,
) -> Result<(&'t OptSpec<Id>, &'static str), GetoptError> {
    let all = || table.iter().flat_map(|s| s.long.iter().map(move |l| (s, *l)));
    if let Some(hit) = all().find(|(_, l)| *l == name) {
        return Ok(hit);
    }
    let hits: Vec<(&OptSpec<Id>, &'static str)> = if name.is_empty() {
        Vec::new()
    } else {
        all().filter(|(s, l)| s.abbrev && l.starts_with(name)).collect()
    };
    match hits.as_slice() {
        [] => Err(GetoptError(format!("unrecognized option '{arg}'"))),
        [first, rest @ ..]
            if rest
                .iter()
                .all(|(s, _)| s.id == first.0.id && s.has_arg == first.0.has_arg) =>
        {
            Ok(*first)
        }
        [first, rest @ ..] => {
            // glibc lists the first match and every later one that differs from it.
            let names: Vec<String> = std::iter::once(first)
                .chain(
                    rest.iter()
                        .filter(|(s, _)| s.id != first.0.id || s.has_arg != first.0.has_arg),
                )
                .map(|(_, l)| format!("'--{l}'"))
                .collect();
            Err(GetoptError(format!(
                "option '{arg}' is ambiguous; possibilities: {}",
                names.join(" ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum O {
        File,
        Filter,
        Format,
        SchemaOnly,
        Verbose,
        NoAcl,
        Jobs,
    }

    const T: &[OptSpec<O>] = &[
        OptSpec {
            id: O::File,
            short: Some('f'),
            long: &["file"],
            has_arg: HasArg::Required,
            abbrev: true,
        },
        OptSpec {
            id: O::Filter,
            short: None,
            long: &["filter"],
            has_arg: HasArg::Required,
            abbrev: true,
        },
        OptSpec {
            id: O::Format,
            short: Some('F'),
            long: &["format"],
            has_arg: HasArg::Required,
            abbrev: true,
        },
        OptSpec {
            id: O::SchemaOnly,
            short: Some('s'),
            long: &["schema-only"],
            has_arg: HasArg::No,
            abbrev: true,
        },
        OptSpec {
            id: O::Verbose,
            short: Some('v'),
            long: &["verbose"],
            has_arg: HasArg::No,
            abbrev: true,
        },
        OptSpec {
            id: O::NoAcl,
            short: Some('x'),
            long: &["no-privileges", "no-acl"],
            has_arg: HasArg::No,
            abbrev: true,
        },
        OptSpec {
            id: O::Jobs,
            short: Some('j'),
            long: &["jobs"],
            has_arg: HasArg::Required,
            abbrev: true,
        },
    ];

    fn p(args: &[&str]) -> Result<Vec<Item<O>>, GetoptError> {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse(&v, T)
    }

    fn opt(o: O, v: Option<&str>) -> Item<O> {
        Item::Opt(o, v.map(str::to_string))
    }

    #[test]
    fn spellings_of_values() {
        assert_eq!(
            p(&["-Fd", "-j", "4", "--file=x", "--format", "c", "db"]).unwrap(),
            vec![
                opt(O::Format, Some("d")),
                opt(O::Jobs, Some("4")),
                opt(O::File, Some("x")),
                opt(O::Format, Some("c")),
                Item::Operand("db".into()),
            ]
        );
        // Bundles, a bundle ending in an option with a value, values that look like options.
        assert_eq!(
            p(&["-svFd", "-f", "-s", "-j-1"]).unwrap(),
            vec![
                opt(O::SchemaOnly, None),
                opt(O::Verbose, None),
                opt(O::Format, Some("d")),
                opt(O::File, Some("-s")),
                opt(O::Jobs, Some("-1")),
            ]
        );
        assert_eq!(p(&["--file="]).unwrap(), vec![opt(O::File, Some(""))]);
    }

    #[test]
    fn operands_anywhere_and_after_double_dash() {
        assert_eq!(
            p(&["db", "-s", "-", "--", "-x"]).unwrap(),
            vec![
                Item::Operand("db".into()),
                opt(O::SchemaOnly, None),
                Item::Operand("-".into()),
                Item::Operand("-x".into()),
            ]
        );
    }

    #[test]
    fn abbreviations() {
        assert_eq!(p(&["--schema-o"]).unwrap(), vec![opt(O::SchemaOnly, None)]);
        assert_eq!(p(&["--no-a"]).unwrap(), vec![opt(O::NoAcl, None)]);
        // Two spellings of one option are not ambiguous.
        assert_eq!(p(&["--no-"]).unwrap(), vec![opt(O::NoAcl, None)]);
        assert_eq!(p(&["--fo=p"]).unwrap(), vec![opt(O::Format, Some("p"))]);
        assert_eq!(
            p(&["--fil=x"]).unwrap_err().0,
            "option '--fil=x' is ambiguous; possibilities: '--file' '--filter'"
        );
        // An exact name wins over longer ones it prefixes.
        assert_eq!(p(&["--file", "a"]).unwrap(), vec![opt(O::File, Some("a"))]);
    }

    #[test]
    fn glibc_messages() {
        let e = |a: &[&str]| p(a).unwrap_err().0;
        assert_eq!(e(&["--no-such-flag"]), "unrecognized option '--no-such-flag'");
        assert_eq!(e(&["--bogus=1"]), "unrecognized option '--bogus=1'");
        assert_eq!(e(&["-k"]), "invalid option -- 'k'");
        assert_eq!(e(&["-sk"]), "invalid option -- 'k'");
        assert_eq!(e(&["-f"]), "option requires an argument -- 'f'");
        assert_eq!(e(&["--jobs"]), "option '--jobs' requires an argument");
        assert_eq!(e(&["--job"]), "option '--jobs' requires an argument");
        assert_eq!(e(&["--no-acl=3"]), "option '--no-acl' doesn't allow an argument");
        assert_eq!(e(&["--verb=1"]), "option '--verbose' doesn't allow an argument");
        assert_eq!(p(&["--"]).unwrap(), vec![], "a lone -- is fine");
    }
}
