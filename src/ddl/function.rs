//! `CREATE FUNCTION` / `CREATE PROCEDURE` built from `pg_proc` columns the way pg_dump's
//! `dumpFunc` builds it (pg_dump never uses `pg_get_functiondef`), so the text is the same
//! byte for byte.

use super::database::setting_value_sql;
use super::quote;

/// Where a function's code comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// A SQL-standard body (`RETURN ...` / `BEGIN ATOMIC ... END`) as
    /// `pg_get_function_sqlbody` prints it (server 14+).
    Sql(String),
    /// `prosrc`, and `probin` (object file) for C functions.
    Source { src: String, bin: Option<String> },
}

/// One function or procedure, from `pg_proc` and the server's argument deparsers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    pub schema: String,
    pub name: String,
    /// `prokind`: `f` function, `p` procedure, `w` window function.
    pub kind: char,
    /// `pg_get_function_arguments` (names, modes, defaults).
    pub args: String,
    /// `pg_get_function_identity_arguments`.
    pub identity_args: String,
    /// `pg_get_function_result`; `None` for procedures.
    pub result: Option<String>,
    pub language: String,
    /// `protrftypes` as `format_type` text.
    pub transform_types: Vec<String>,
    /// `provolatile`: `i`, `s` or `v`.
    pub volatility: char,
    pub strict: bool,
    pub security_definer: bool,
    pub leakproof: bool,
    /// `procost` / `prorows` as the server prints them.
    pub cost: String,
    pub rows: String,
    pub returns_set: bool,
    /// `prosupport` as regproc text.
    pub support: Option<String>,
    /// `proparallel`: `s`, `r` or `u`.
    pub parallel: char,
    /// `proconfig` items, `name=value`.
    pub config: Vec<String>,
    pub body: Body,
    /// Extensions this function is marked `DEPENDS ON` (pg_depend deptype `x`).
    pub depends_on_extensions: Vec<String>,
}

/// `FUNCTION` or `PROCEDURE` by `prokind` (window functions are functions).
pub fn keyword(prokind: char) -> &'static str {
    if prokind == 'p' { "PROCEDURE" } else { "FUNCTION" }
}

impl Function {
    /// `s.f(identity args)`, how DROP, ALTER and DEPENDS ON name it.
    pub fn qualified_signature(&self) -> String {
        format!(
            "{}.{}({})",
            quote::ident(&self.schema),
            quote::ident(&self.name),
            self.identity_args
        )
    }

    /// `f(identity args)`: the name of COMMENT and GRANT statements (the schema goes in
    /// front separately).
    pub fn signature(&self) -> String {
        format!("{}({})", quote::ident(&self.name), self.identity_args)
    }
}

/// The AS part: a SQL-standard body verbatim; `AS 'obj', 'symbol'` for C (the symbol
/// dollar-quoted only when it holds a quote or backslash); otherwise the source,
/// dollar-quoted.
fn as_part(body: &Body) -> String {
    match body {
        Body::Sql(b) => b.clone(),
        Body::Source { src, bin: Some(bin) } if !bin.is_empty() => {
            let mut s = format!("AS {}", quote::literal(bin));
            if !src.is_empty() {
                let symbol = if src.contains('\'') || src.contains('\\') {
                    quote::dollar_quoted(src)
                } else {
                    quote::literal(src)
                };
                s.push_str(&format!(", {symbol}"));
            }
            s
        }
        Body::Source { src, .. } => format!("AS {}", quote::dollar_quoted(src)),
    }
}

/// `CREATE FUNCTION ...;` (and any `ALTER FUNCTION ... DEPENDS ON EXTENSION`), laid out as
/// pg_dump's `dumpFunc` lays it out. Defaults are left out: COST 1 for internal and C
/// functions and 100 for others, ROWS 1000, PARALLEL UNSAFE, VOLATILE.
pub fn create_sql(f: &Function) -> String {
    let kw = keyword(f.kind);
    let mut s = format!(
        "CREATE {kw} {}.{}({})",
        quote::ident(&f.schema),
        quote::ident(&f.name),
        f.args
    );
    if let Some(r) = &f.result
        && f.kind != 'p'
    {
        s.push_str(&format!(" RETURNS {r}"));
    }
    s.push_str(&format!("\n    LANGUAGE {}", quote::ident(&f.language)));
    if !f.transform_types.is_empty() {
        let list: Vec<String> = f.transform_types.iter().map(|t| format!("FOR TYPE {t}")).collect();
        s.push_str(&format!(" TRANSFORM {}", list.join(", ")));
    }
    if f.kind == 'w' {
        s.push_str(" WINDOW");
    }
    match f.volatility {
        'i' => s.push_str(" IMMUTABLE"),
        's' => s.push_str(" STABLE"),
        _ => {}
    }
    if f.strict {
        s.push_str(" STRICT");
    }
    if f.security_definer {
        s.push_str(" SECURITY DEFINER");
    }
    if f.leakproof {
        s.push_str(" LEAKPROOF");
    }
    let default_cost = if f.language == "internal" || f.language == "c" {
        "1"
    } else {
        "100"
    };
    if f.cost != "0" && f.cost != default_cost {
        s.push_str(&format!(" COST {}", f.cost));
    }
    if f.returns_set && f.rows != "0" && f.rows != "1000" {
        s.push_str(&format!(" ROWS {}", f.rows));
    }
    if let Some(sup) = &f.support {
        s.push_str(&format!(" SUPPORT {sup}"));
    }
    match f.parallel {
        's' => s.push_str(" PARALLEL SAFE"),
        'r' => s.push_str(" PARALLEL RESTRICTED"),
        _ => {}
    }
    for item in &f.config {
        let Some((name, value)) = item.split_once('=') else {
            continue;
        };
        s.push_str(&format!(
            "\n    SET {} TO {}",
            quote::ident(name),
            setting_value_sql(name, value)
        ));
    }
    s.push_str(&format!("\n    {};\n", as_part(&f.body)));
    for ext in &f.depends_on_extensions {
        s.push_str(&format!(
            "\nALTER {kw} {} DEPENDS ON EXTENSION {};",
            f.qualified_signature(),
            quote::ident(ext)
        ));
    }
    s
}

/// `DROP FUNCTION s.f(<identity args>);`
pub fn drop_sql(f: &Function) -> String {
    format!("DROP {} {};\n", keyword(f.kind), f.qualified_signature())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Function {
        Function {
            schema: "shop".into(),
            name: "twice".into(),
            kind: 'f',
            args: "x integer DEFAULT 1".into(),
            identity_args: "x integer".into(),
            result: Some("integer".into()),
            language: "sql".into(),
            transform_types: vec![],
            volatility: 'v',
            strict: false,
            security_definer: false,
            leakproof: false,
            cost: "100".into(),
            rows: "0".into(),
            returns_set: false,
            support: None,
            parallel: 'u',
            config: vec![],
            body: Body::Source {
                src: "SELECT $1 * 2".into(),
                bin: None,
            },
            depends_on_extensions: vec![],
        }
    }

    #[test]
    fn plain_sql_function_like_pg_dump() {
        let f = sample();
        assert_eq!(
            create_sql(&f),
            "CREATE FUNCTION shop.twice(x integer DEFAULT 1) RETURNS integer\n    LANGUAGE sql\n    AS $_$SELECT $1 * 2$_$;\n"
        );
        assert_eq!(drop_sql(&f), "DROP FUNCTION shop.twice(x integer);\n");
        assert_eq!(f.signature(), "twice(x integer)");
    }

    #[test]
    fn every_option_in_pg_dump_order() {
        let f = Function {
            kind: 'w',
            result: Some("SETOF text".into()),
            returns_set: true,
            rows: "5".into(),
            cost: "7".into(),
            volatility: 'i',
            strict: true,
            security_definer: true,
            leakproof: true,
            parallel: 's',
            support: Some("shop.supp".into()),
            transform_types: vec!["integer".into(), "shop.hs".into()],
            config: vec!["search_path=shop, \"My S\"".into(), "work_mem=64MB".into()],
            depends_on_extensions: vec!["hstore".into()],
            ..sample()
        };
        assert_eq!(
            create_sql(&f),
            "CREATE FUNCTION shop.twice(x integer DEFAULT 1) RETURNS SETOF text\n    \
             LANGUAGE sql TRANSFORM FOR TYPE integer, FOR TYPE shop.hs WINDOW IMMUTABLE STRICT SECURITY DEFINER \
             LEAKPROOF COST 7 ROWS 5 SUPPORT shop.supp PARALLEL SAFE\n    \
             SET search_path TO 'shop', 'My S'\n    SET work_mem TO '64MB'\n    \
             AS $_$SELECT $1 * 2$_$;\n\nALTER FUNCTION shop.twice(x integer) DEPENDS ON EXTENSION hstore;"
        );
    }

    #[test]
    fn procedures_c_functions_and_sql_bodies() {
        let p = Function {
            kind: 'p',
            result: None,
            args: "IN d date".into(),
            identity_args: "IN d date".into(),
            language: "plpgsql".into(),
            body: Body::Source {
                src: "BEGIN NULL; END".into(),
                bin: None,
            },
            ..sample()
        };
        assert_eq!(
            create_sql(&p),
            "CREATE PROCEDURE shop.twice(IN d date)\n    LANGUAGE plpgsql\n    AS $$BEGIN NULL; END$$;\n"
        );
        assert_eq!(drop_sql(&p), "DROP PROCEDURE shop.twice(IN d date);\n");
        let c = Function {
            language: "c".into(),
            cost: "1".into(),
            body: Body::Source {
                src: "plpgsql_call_handler".into(),
                bin: Some("$libdir/plpgsql".into()),
            },
            ..sample()
        };
        assert!(create_sql(&c).ends_with("\n    LANGUAGE c\n    AS '$libdir/plpgsql', 'plpgsql_call_handler';\n"));
        let odd = Function {
            body: Body::Source {
                src: "it's".into(),
                bin: Some("$libdir/x".into()),
            },
            ..c
        };
        assert!(create_sql(&odd).ends_with("AS '$libdir/x', $$it's$$;\n"));
        let internal = Function {
            language: "internal".into(),
            cost: "1".into(),
            body: Body::Source {
                src: "int4in".into(),
                bin: None,
            },
            ..sample()
        };
        assert!(create_sql(&internal).ends_with("LANGUAGE internal\n    AS $$int4in$$;\n"));
        let std = Function {
            body: Body::Sql("RETURN ($1 * 2)".into()),
            ..sample()
        };
        assert!(create_sql(&std).ends_with("LANGUAGE sql\n    RETURN ($1 * 2);\n"));
    }
}
