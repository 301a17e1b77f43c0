//! `CREATE OPERATOR` (pg_dump.c `dumpOpr`, `convertRegProcReference`,
//! `getFormattedOperatorName`).

use super::quote;

/// One operator. Functions are `regproc`-style names, types `regtype` text, the commutator
/// and negator `OPERATOR(schema.op)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Operator {
    pub schema: String,
    /// The operator symbol (never quoted).
    pub name: String,
    pub function: String,
    pub left: Option<String>,
    pub right: Option<String>,
    pub commutator: Option<String>,
    pub negator: Option<String>,
    pub merges: bool,
    pub hashes: bool,
    pub restrict: Option<String>,
    pub join: Option<String>,
}

/// A `regprocedure` text without its argument list (`s.f(integer)` → `s.f`), minding
/// double-quoted names that contain a parenthesis.
pub fn strip_args(regprocedure: &str) -> String {
    let mut quoted = false;
    for (i, c) in regprocedure.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => return regprocedure[..i].to_string(),
            _ => {}
        }
    }
    regprocedure.to_string()
}

/// `OPERATOR(schema.op)`, the way pg_dump names another operator.
pub fn operator_ref(schema: &str, name: &str) -> String {
    format!("OPERATOR({}.{name})", quote::ident(schema))
}

impl Operator {
    /// `op (left, right)` with `NONE` for a missing side: the operator's identity in DROP
    /// and COMMENT (the schema goes in front separately).
    pub fn signature(&self) -> String {
        format!(
            "{} ({}, {})",
            self.name,
            self.left.as_deref().unwrap_or("NONE"),
            self.right.as_deref().unwrap_or("NONE")
        )
    }

    pub fn qualified_signature(&self) -> String {
        format!("{}.{}", quote::ident(&self.schema), self.signature())
    }
}

pub fn create_sql(o: &Operator) -> String {
    let mut d = format!("    FUNCTION = {}", o.function);
    if let Some(l) = &o.left {
        d.push_str(&format!(",\n    LEFTARG = {l}"));
    }
    if let Some(r) = &o.right {
        d.push_str(&format!(",\n    RIGHTARG = {r}"));
    }
    if let Some(c) = &o.commutator {
        d.push_str(&format!(",\n    COMMUTATOR = {c}"));
    }
    if let Some(n) = &o.negator {
        d.push_str(&format!(",\n    NEGATOR = {n}"));
    }
    if o.merges {
        d.push_str(",\n    MERGES");
    }
    if o.hashes {
        d.push_str(",\n    HASHES");
    }
    if let Some(r) = &o.restrict {
        d.push_str(&format!(",\n    RESTRICT = {r}"));
    }
    if let Some(j) = &o.join {
        d.push_str(&format!(",\n    JOIN = {j}"));
    }
    format!("CREATE OPERATOR {}.{} (\n{d}\n);\n", quote::ident(&o.schema), o.name)
}

pub fn drop_sql(o: &Operator) -> String {
    format!("DROP OPERATOR {};\n", o.qualified_signature())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_argument_lists() {
        assert_eq!(strip_args("k.f(integer,integer)"), "k.f");
        assert_eq!(strip_args("\"a(b\".\"c(\"(text)"), "\"a(b\".\"c(\"");
        assert_eq!(strip_args("eqsel"), "eqsel");
    }

    #[test]
    fn infix_operator_with_every_option() {
        let o = Operator {
            schema: "k".into(),
            name: "===".into(),
            function: "k.eq3".into(),
            left: Some("integer".into()),
            right: Some("integer".into()),
            commutator: Some(operator_ref("k", "===")),
            negator: Some(operator_ref("My S", "!==")),
            merges: true,
            hashes: true,
            restrict: Some("eqsel".into()),
            join: Some("eqjoinsel".into()),
        };
        assert_eq!(
            create_sql(&o),
            "CREATE OPERATOR k.=== (\n    FUNCTION = k.eq3,\n    LEFTARG = integer,\n    RIGHTARG = integer,\n    \
             COMMUTATOR = OPERATOR(k.===),\n    NEGATOR = OPERATOR(\"My S\".!==),\n    MERGES,\n    HASHES,\n    \
             RESTRICT = eqsel,\n    JOIN = eqjoinsel\n);\n"
        );
        assert_eq!(drop_sql(&o), "DROP OPERATOR k.=== (integer, integer);\n");
    }

    #[test]
    fn prefix_operator() {
        let o = Operator {
            schema: "k".into(),
            name: "@@@".into(),
            function: "k.neg".into(),
            right: Some("bigint".into()),
            ..Default::default()
        };
        assert_eq!(
            create_sql(&o),
            "CREATE OPERATOR k.@@@ (\n    FUNCTION = k.neg,\n    RIGHTARG = bigint\n);\n"
        );
        assert_eq!(o.signature(), "@@@ (NONE, bigint)");
    }
}
