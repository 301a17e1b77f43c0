//! `CREATE CAST` and `CREATE TRANSFORM` (pg_dump.c `dumpCast`, `dumpTransform`).

use super::quote;

/// How a cast converts (`pg_cast.castmethod`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CastMethod {
    /// `f`: a function, as `schema.name(argument types)`.
    Function(String),
    /// `b`: binary coercible.
    Binary,
    /// `i`: through the types' text I/O.
    InOut,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cast {
    /// Source and target types as `format_type` prints them.
    pub source: String,
    pub target: String,
    pub method: CastMethod,
    /// `castcontext`: `e` explicit, `a` assignment, `i` implicit.
    pub context: char,
}

impl Cast {
    /// `(source AS target)`: the cast's name in DROP and COMMENT.
    pub fn args(&self) -> String {
        format!("({} AS {})", self.source, self.target)
    }
}

/// `schema.name(types)`: how pg_dump names a cast's or transform's function (always
/// qualified; argument types as `format_type` prints them).
pub fn function_signature(schema: &str, name: &str, arg_types: &[String]) -> String {
    format!(
        "{}.{}({})",
        quote::ident(schema),
        quote::ident(name),
        arg_types.join(", ")
    )
}

/// `(create, drop)`.
pub fn cast_sql(c: &Cast) -> (String, String) {
    let mut s = format!("CREATE CAST {} ", c.args());
    match &c.method {
        CastMethod::Function(f) => s.push_str(&format!("WITH FUNCTION {f}")),
        CastMethod::Binary => s.push_str("WITHOUT FUNCTION"),
        CastMethod::InOut => s.push_str("WITH INOUT"),
    }
    match c.context {
        'a' => s.push_str(" AS ASSIGNMENT"),
        'i' => s.push_str(" AS IMPLICIT"),
        _ => {}
    }
    s.push_str(";\n");
    (s, format!("DROP CAST {};\n", c.args()))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transform {
    /// The type as `format_type` prints it.
    pub type_sql: String,
    pub language: String,
    /// `schema.name(types)` of the FROM SQL and TO SQL functions.
    pub from_sql: Option<String>,
    pub to_sql: Option<String>,
}

impl Transform {
    /// `FOR type LANGUAGE lang`: the transform's name in DROP and COMMENT.
    pub fn args(&self) -> String {
        format!("FOR {} LANGUAGE {}", self.type_sql, quote::ident(&self.language))
    }
}

/// `(create, drop)`.
pub fn transform_sql(t: &Transform) -> (String, String) {
    let mut parts = Vec::new();
    if let Some(f) = &t.from_sql {
        parts.push(format!("FROM SQL WITH FUNCTION {f}"));
    }
    if let Some(f) = &t.to_sql {
        parts.push(format!("TO SQL WITH FUNCTION {f}"));
    }
    (
        format!("CREATE TRANSFORM {} ({});\n", t.args(), parts.join(", ")),
        format!("DROP TRANSFORM {};\n", t.args()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_by_method_and_context() {
        let f = Cast {
            source: "k.mood".into(),
            target: "integer".into(),
            method: CastMethod::Function(function_signature("k", "mood_to_int", &["k.mood".into()])),
            context: 'e',
        };
        assert_eq!(
            cast_sql(&f),
            (
                "CREATE CAST (k.mood AS integer) WITH FUNCTION k.mood_to_int(k.mood);\n".to_string(),
                "DROP CAST (k.mood AS integer);\n".to_string()
            )
        );
        let b = Cast {
            method: CastMethod::Binary,
            context: 'i',
            ..f.clone()
        };
        assert_eq!(
            cast_sql(&b).0,
            "CREATE CAST (k.mood AS integer) WITHOUT FUNCTION AS IMPLICIT;\n"
        );
        let io = Cast {
            method: CastMethod::InOut,
            context: 'a',
            ..f
        };
        assert_eq!(
            cast_sql(&io).0,
            "CREATE CAST (k.mood AS integer) WITH INOUT AS ASSIGNMENT;\n"
        );
        assert_eq!(io.args(), "(k.mood AS integer)");
    }

    #[test]
    fn transforms_with_one_or_both_functions() {
        let t = Transform {
            type_sql: "integer".into(),
            language: "sql".into(),
            from_sql: Some(function_signature("x", "from_sql", &["internal".into()])),
            to_sql: Some(function_signature("x", "to sql", &["internal".into()])),
        };
        assert_eq!(
            transform_sql(&t),
            (
                "CREATE TRANSFORM FOR integer LANGUAGE sql (FROM SQL WITH FUNCTION x.from_sql(internal), \
                 TO SQL WITH FUNCTION x.\"to sql\"(internal));\n"
                    .to_string(),
                "DROP TRANSFORM FOR integer LANGUAGE sql;\n".to_string()
            )
        );
        let one = Transform { from_sql: None, ..t };
        assert_eq!(
            transform_sql(&one).0,
            "CREATE TRANSFORM FOR integer LANGUAGE sql (TO SQL WITH FUNCTION x.\"to sql\"(internal));\n"
        );
    }
}
