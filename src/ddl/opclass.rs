//! `CREATE OPERATOR CLASS` and `CREATE OPERATOR FAMILY` (pg_dump.c `dumpOpclass`,
//! `dumpOpfamily`).

use super::quote;

/// One member of an operator class or family: an operator (`pg_amop`) or a support function
/// (`pg_amproc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Member {
    Operator {
        strategy: i64,
        /// `regoperator` text, e.g. `k.===(integer,integer)`.
        operator: String,
        /// `FOR ORDER BY schema.family` (quoted), for ordering operators.
        order_by: Option<String>,
    },
    Function {
        number: i64,
        /// (`amproclefttype`, `amprocrighttype`) as `regtype` text.
        types: Option<(String, String)>,
        /// `regprocedure` text.
        function: String,
    },
}

impl Member {
    fn sql(&self) -> String {
        match self {
            Member::Operator {
                strategy,
                operator,
                order_by,
            } => {
                let mut s = format!("OPERATOR {strategy} {operator}");
                if let Some(f) = order_by {
                    s.push_str(&format!(" FOR ORDER BY {f}"));
                }
                s
            }
            Member::Function {
                number,
                types,
                function,
            } => match types {
                Some((l, r)) => format!("FUNCTION {number} ({l}, {r}) {function}"),
                None => format!("FUNCTION {number} {function}"),
            },
        }
    }
}

/// `name USING am`: how COMMENT names a class or family (schema in front separately).
pub fn name_using(name: &str, method: &str) -> String {
    format!("{} USING {}", quote::ident(name), quote::ident(method))
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpClass {
    pub schema: String,
    pub name: String,
    pub default: bool,
    /// `opcintype` as `regtype` text.
    pub for_type: String,
    pub method: String,
    /// The family, `schema.name` quoted.
    pub family: String,
    /// `opckeytype` as `regtype` text when set.
    pub storage: Option<String>,
    /// The members owned by the class (operators first, then functions), each in number
    /// order.
    pub members: Vec<Member>,
}

/// `(create, drop)`. A class without members gets a dummy `STORAGE <input type>` so the
/// `AS` list is not empty (the server treats it as a no-op).
pub fn opclass_sql(c: &OpClass) -> (String, String) {
    let q = quote::qualified(&c.schema, &c.name);
    let method = quote::ident(&c.method);
    let mut s = format!("CREATE OPERATOR CLASS {q}\n    ");
    if c.default {
        s.push_str("DEFAULT ");
    }
    s.push_str(&format!(
        "FOR TYPE {} USING {method} FAMILY {} AS\n    ",
        c.for_type, c.family
    ));
    let mut items: Vec<String> = Vec::new();
    if let Some(st) = &c.storage {
        items.push(format!("STORAGE {st}"));
    }
    items.extend(c.members.iter().map(Member::sql));
    if items.is_empty() {
        items.push(format!("STORAGE {}", c.for_type));
    }
    s.push_str(&items.join(" ,\n    "));
    s.push_str(";\n");
    (s, format!("DROP OPERATOR CLASS {q} USING {method};\n"))
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpFamily {
    pub schema: String,
    pub name: String,
    pub method: String,
    /// "Loose" members: added to the family by `ALTER OPERATOR FAMILY`, not owned by any
    /// class.
    pub members: Vec<Member>,
}

/// `(create, drop)`: the family, then one ALTER adding its loose members.
pub fn opfamily_sql(f: &OpFamily) -> (String, String) {
    let q = quote::qualified(&f.schema, &f.name);
    let method = quote::ident(&f.method);
    let mut s = format!("CREATE OPERATOR FAMILY {q} USING {method};\n");
    if !f.members.is_empty() {
        let items: Vec<String> = f.members.iter().map(Member::sql).collect();
        s.push_str(&format!(
            "ALTER OPERATOR FAMILY {q} USING {method} ADD\n    {};\n",
            items.join(" ,\n    ")
        ));
    }
    (s, format!("DROP OPERATOR FAMILY {q} USING {method};\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(strategy: i64, operator: &str) -> Member {
        Member::Operator {
            strategy,
            operator: operator.into(),
            order_by: None,
        }
    }

    #[test]
    fn class_with_operators_functions_and_storage() {
        let c = OpClass {
            schema: "k".into(),
            name: "int_ops2".into(),
            default: false,
            for_type: "integer".into(),
            method: "btree".into(),
            family: "k.fam".into(),
            storage: None,
            members: vec![
                op(1, "<(integer,integer)"),
                op(3, "k.===(integer,integer)"),
                Member::Function {
                    number: 1,
                    types: Some(("integer".into(), "integer".into())),
                    function: "btint4cmp(integer,integer)".into(),
                },
            ],
        };
        let (create, drop) = opclass_sql(&c);
        assert_eq!(
            create,
            "CREATE OPERATOR CLASS k.int_ops2\n    FOR TYPE integer USING btree FAMILY k.fam AS\n    \
             OPERATOR 1 <(integer,integer) ,\n    OPERATOR 3 k.===(integer,integer) ,\n    \
             FUNCTION 1 (integer, integer) btint4cmp(integer,integer);\n"
        );
        assert_eq!(drop, "DROP OPERATOR CLASS k.int_ops2 USING btree;\n");
        let gist = OpClass {
            default: true,
            storage: Some("box".into()),
            members: vec![Member::Operator {
                strategy: 15,
                operator: "<->(point,point)".into(),
                order_by: Some("pg_catalog.float_ops".into()),
            }],
            method: "gist2".into(),
            ..c
        };
        assert_eq!(
            opclass_sql(&gist).0,
            "CREATE OPERATOR CLASS k.int_ops2\n    DEFAULT FOR TYPE integer USING gist2 FAMILY k.fam AS\n    \
             STORAGE box ,\n    OPERATOR 15 <->(point,point) FOR ORDER BY pg_catalog.float_ops;\n"
        );
    }

    #[test]
    fn empty_class_gets_dummy_storage() {
        let c = OpClass {
            schema: "k".into(),
            name: "empty".into(),
            for_type: "text".into(),
            method: "hash".into(),
            family: "k.empty".into(),
            ..Default::default()
        };
        assert_eq!(
            opclass_sql(&c).0,
            "CREATE OPERATOR CLASS k.empty\n    FOR TYPE text USING hash FAMILY k.empty AS\n    STORAGE text;\n"
        );
    }

    #[test]
    fn family_with_loose_members() {
        let mut f = OpFamily {
            schema: "k".into(),
            name: "fam".into(),
            method: "btree".into(),
            members: vec![],
        };
        assert_eq!(
            opfamily_sql(&f),
            (
                "CREATE OPERATOR FAMILY k.fam USING btree;\n".to_string(),
                "DROP OPERATOR FAMILY k.fam USING btree;\n".to_string()
            )
        );
        f.members = vec![
            op(1, "<(integer,bigint)"),
            Member::Function {
                number: 1,
                types: Some(("integer".into(), "bigint".into())),
                function: "btint48cmp(integer,bigint)".into(),
            },
        ];
        assert_eq!(
            opfamily_sql(&f).0,
            "CREATE OPERATOR FAMILY k.fam USING btree;\nALTER OPERATOR FAMILY k.fam USING btree ADD\n    \
             OPERATOR 1 <(integer,bigint) ,\n    FUNCTION 1 (integer, bigint) btint48cmp(integer,bigint);\n"
        );
        assert_eq!(name_using("fam", "btree"), "fam USING btree");
    }
}
