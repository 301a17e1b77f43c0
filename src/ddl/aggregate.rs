//! `CREATE AGGREGATE` (pg_dump.c `dumpAgg`).

use super::quote;

/// One aggregate, from `pg_aggregate` and its `pg_proc` row. Support functions and types are
/// `regproc` / `regtype` text (already quoted and qualified by the server); `None` where the
/// catalog holds zero.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aggregate {
    pub schema: String,
    pub name: String,
    /// Number of arguments (`pronargs`); zero-argument aggregates are written `(*)`.
    pub nargs: usize,
    /// `pg_get_function_arguments` (ordered-set aggregates include `ORDER BY`).
    pub args: String,
    /// `pg_get_function_identity_arguments`.
    pub identity_args: String,
    /// `aggkind`: `n` normal, `o` ordered-set, `h` hypothetical-set.
    pub kind: char,
    pub transfn: String,
    pub transtype: String,
    /// `aggtransspace`, `0` = default.
    pub transspace: i64,
    pub initval: Option<String>,
    pub finalfn: Option<String>,
    pub finalextra: bool,
    /// `aggfinalmodify`: `r` read-only, `s` shareable, `w` read-write.
    pub finalmodify: char,
    pub combinefn: Option<String>,
    pub serialfn: Option<String>,
    pub deserialfn: Option<String>,
    /// Moving-aggregate support: (`aggmtransfn`, `aggminvtransfn`, `aggmtranstype`).
    pub moving: Option<(String, String, String)>,
    pub mtransspace: i64,
    pub minitval: Option<String>,
    pub mfinalfn: Option<String>,
    pub mfinalextra: bool,
    pub mfinalmodify: char,
    /// `OPERATOR(schema.op)` of `aggsortop`.
    pub sortop: Option<String>,
    /// `proparallel`: `s`, `r` or `u`.
    pub parallel: char,
}

impl Aggregate {
    /// `name(args)` with pg_dump's special case: no arguments is `(*)`.
    fn with_args(&self, args: &str) -> String {
        if self.nargs == 0 {
            format!("{}(*)", quote::ident(&self.name))
        } else {
            format!("{}({args})", quote::ident(&self.name))
        }
    }

    /// `name(identity args)`: how DROP and COMMENT name the aggregate (the schema is put in
    /// front separately).
    pub fn signature(&self) -> String {
        self.with_args(&self.identity_args)
    }

    pub fn qualified_signature(&self) -> String {
        format!("{}.{}", quote::ident(&self.schema), self.signature())
    }
}

fn modify_clause(prefix: &str, modify: char, default: char) -> Option<String> {
    if modify == default {
        return None;
    }
    let word = match modify {
        'r' => "READ_ONLY",
        's' => "SHAREABLE",
        'w' => "READ_WRITE",
        _ => return None,
    };
    Some(format!(",\n    {prefix}FINALFUNC_MODIFY = {word}"))
}

/// `CREATE AGGREGATE s.a(args) (\n    SFUNC = ..., ...\n);` with the clauses in pg_dump's
/// order, each only when it differs from the default (FINALFUNC_MODIFY's default is
/// READ_ONLY for normal aggregates and READ_WRITE for ordered-set ones).
pub fn create_sql(a: &Aggregate) -> String {
    let default_modify = if a.kind == 'n' { 'r' } else { 'w' };
    let mut d = format!("    SFUNC = {},\n    STYPE = {}", a.transfn, a.transtype);
    if a.transspace != 0 {
        d.push_str(&format!(",\n    SSPACE = {}", a.transspace));
    }
    if let Some(v) = &a.initval {
        d.push_str(&format!(",\n    INITCOND = {}", quote::literal(v)));
    }
    if let Some(f) = &a.finalfn {
        d.push_str(&format!(",\n    FINALFUNC = {f}"));
        if a.finalextra {
            d.push_str(",\n    FINALFUNC_EXTRA");
        }
        d.extend(modify_clause("", a.finalmodify, default_modify));
    }
    for (kw, f) in [
        ("COMBINEFUNC", &a.combinefn),
        ("SERIALFUNC", &a.serialfn),
        ("DESERIALFUNC", &a.deserialfn),
    ] {
        if let Some(f) = f {
            d.push_str(&format!(",\n    {kw} = {f}"));
        }
    }
    if let Some((sfunc, invfunc, stype)) = &a.moving {
        d.push_str(&format!(
            ",\n    MSFUNC = {sfunc},\n    MINVFUNC = {invfunc},\n    MSTYPE = {stype}"
        ));
    }
    if a.mtransspace != 0 {
        d.push_str(&format!(",\n    MSSPACE = {}", a.mtransspace));
    }
    if let Some(v) = &a.minitval {
        d.push_str(&format!(",\n    MINITCOND = {}", quote::literal(v)));
    }
    if let Some(f) = &a.mfinalfn {
        d.push_str(&format!(",\n    MFINALFUNC = {f}"));
        if a.mfinalextra {
            d.push_str(",\n    MFINALFUNC_EXTRA");
        }
        d.extend(modify_clause("M", a.mfinalmodify, default_modify));
    }
    if let Some(op) = &a.sortop {
        d.push_str(&format!(",\n    SORTOP = {op}"));
    }
    if a.kind == 'h' {
        d.push_str(",\n    HYPOTHETICAL");
    }
    match a.parallel {
        's' => d.push_str(",\n    PARALLEL = safe"),
        'r' => d.push_str(",\n    PARALLEL = restricted"),
        _ => {}
    }
    format!(
        "CREATE AGGREGATE {}.{} (\n{d}\n);\n",
        quote::ident(&a.schema),
        a.with_args(&a.args)
    )
}

pub fn drop_sql(a: &Aggregate) -> String {
    format!("DROP AGGREGATE {};\n", a.qualified_signature())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum3() -> Aggregate {
        Aggregate {
            schema: "k".into(),
            name: "sum3".into(),
            nargs: 1,
            args: "integer".into(),
            identity_args: "integer".into(),
            kind: 'n',
            transfn: "k.add3".into(),
            transtype: "integer".into(),
            finalmodify: 'r',
            mfinalmodify: 'r',
            parallel: 'u',
            ..Default::default()
        }
    }

    #[test]
    fn minimal_aggregate() {
        let a = sum3();
        assert_eq!(
            create_sql(&a),
            "CREATE AGGREGATE k.sum3(integer) (\n    SFUNC = k.add3,\n    STYPE = integer\n);\n"
        );
        assert_eq!(drop_sql(&a), "DROP AGGREGATE k.sum3(integer);\n");
        let star = Aggregate {
            nargs: 0,
            args: String::new(),
            identity_args: String::new(),
            ..sum3()
        };
        assert_eq!(star.qualified_signature(), "k.sum3(*)");
        assert!(create_sql(&star).starts_with("CREATE AGGREGATE k.sum3(*) (\n"));
    }

    #[test]
    fn every_clause_in_pg_dump_order() {
        let a = Aggregate {
            transspace: 16,
            initval: Some("{0,'x'}".into()),
            finalfn: Some("k.fin".into()),
            finalextra: true,
            finalmodify: 's',
            combinefn: Some("k.comb".into()),
            serialfn: Some("k.ser".into()),
            deserialfn: Some("k.deser".into()),
            moving: Some(("k.madd".into(), "k.msub".into(), "bigint".into())),
            mtransspace: 8,
            minitval: Some("0".into()),
            mfinalfn: Some("k.mfin".into()),
            mfinalextra: true,
            mfinalmodify: 'w',
            sortop: Some("OPERATOR(pg_catalog.<)".into()),
            parallel: 's',
            ..sum3()
        };
        assert_eq!(
            create_sql(&a),
            "CREATE AGGREGATE k.sum3(integer) (\n    SFUNC = k.add3,\n    STYPE = integer,\n    SSPACE = 16,\n    \
             INITCOND = '{0,''x''}',\n    FINALFUNC = k.fin,\n    FINALFUNC_EXTRA,\n    FINALFUNC_MODIFY = SHAREABLE,\n    \
             COMBINEFUNC = k.comb,\n    SERIALFUNC = k.ser,\n    DESERIALFUNC = k.deser,\n    MSFUNC = k.madd,\n    \
             MINVFUNC = k.msub,\n    MSTYPE = bigint,\n    MSSPACE = 8,\n    MINITCOND = '0',\n    MFINALFUNC = k.mfin,\n    \
             MFINALFUNC_EXTRA,\n    MFINALFUNC_MODIFY = READ_WRITE,\n    SORTOP = OPERATOR(pg_catalog.<),\n    \
             PARALLEL = safe\n);\n"
        );
    }

    #[test]
    fn ordered_set_and_hypothetical_defaults() {
        let os = Aggregate {
            kind: 'h',
            args: "VARIADIC \"any\" ORDER BY VARIADIC \"any\"".into(),
            identity_args: "VARIADIC \"any\" ORDER BY VARIADIC \"any\"".into(),
            finalfn: Some("k.fin".into()),
            finalextra: true,
            finalmodify: 'w',
            parallel: 'r',
            ..sum3()
        };
        assert_eq!(
            create_sql(&os),
            "CREATE AGGREGATE k.sum3(VARIADIC \"any\" ORDER BY VARIADIC \"any\") (\n    SFUNC = k.add3,\n    \
             STYPE = integer,\n    FINALFUNC = k.fin,\n    FINALFUNC_EXTRA,\n    HYPOTHETICAL,\n    PARALLEL = restricted\n);\n"
        );
        let ro = Aggregate {
            kind: 'o',
            finalmodify: 'r',
            ..os
        };
        assert!(create_sql(&ro).contains("FINALFUNC_MODIFY = READ_ONLY"));
    }
}
