//! `CREATE TYPE` (base, shell, undefined, enum, composite, range) and `CREATE DOMAIN`
//! (pg_dump.c `dumpBaseType`, `dumpShellType`, `dumpUndefinedType`, `dumpEnumType`,
//! `dumpCompositeType`, `dumpRangeType`, `dumpDomain`).

use super::quote;

/// `CREATE TYPE s.t AS ENUM (...)`, one label per line.
pub fn enum_sql(qualified: &str, labels: &[String]) -> String {
    let body: Vec<String> = labels.iter().map(|l| format!("    {}", quote::literal(l))).collect();
    if body.is_empty() {
        return format!("CREATE TYPE {qualified} AS ENUM (\n);\n");
    }
    format!("CREATE TYPE {qualified} AS ENUM (\n{}\n);\n", body.join(",\n"))
}

/// One attribute of a composite type: name, `format_type` text, and a qualified collation
/// when it differs from the attribute type's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub type_sql: String,
    pub collation: Option<String>,
}

pub fn composite_sql(qualified: &str, attrs: &[Attribute]) -> String {
    let body: Vec<String> = attrs
        .iter()
        .map(|a| {
            let mut s = format!("\t{} {}", quote::ident(&a.name), a.type_sql);
            if let Some(c) = &a.collation {
                s.push_str(&format!(" COLLATE {c}"));
            }
            s
        })
        .collect();
    format!("CREATE TYPE {qualified} AS (\n{}\n);\n", body.join(",\n"))
}

/// A range type's options; `None` means "the default, leave it out".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Range {
    pub subtype: String,
    pub multirange: Option<String>,
    pub opclass: Option<String>,
    pub collation: Option<String>,
    pub canonical: Option<String>,
    pub subtype_diff: Option<String>,
}

pub fn range_sql(qualified: &str, r: &Range) -> String {
    let mut parts = vec![format!("subtype = {}", r.subtype)];
    let opts = [
        ("multirange_type_name", &r.multirange),
        ("subtype_opclass", &r.opclass),
        ("collation", &r.collation),
        ("canonical", &r.canonical),
        ("subtype_diff", &r.subtype_diff),
    ];
    for (k, v) in opts {
        if let Some(v) = v {
            parts.push(format!("{k} = {v}"));
        }
    }
    let body: Vec<String> = parts.iter().map(|p| format!("    {p}")).collect();
    format!("CREATE TYPE {qualified} AS RANGE (\n{}\n);\n", body.join(",\n"))
}

/// `CREATE TYPE s.t;`: a shell type (the placeholder a base type's I/O functions are created
/// against, or a user-created type that was never defined).
pub fn shell_sql(qualified: &str) -> String {
    format!("CREATE TYPE {qualified};\n")
}

/// A base type's default: the deparsed expression, or the stored text (printed as a literal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeDefault {
    Expr(String),
    Literal(String),
}

/// A base type from `pg_type`: support functions as `regproc` text (`None` where zero),
/// the element type as `format_type` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseType {
    pub qualified: String,
    /// `typlen`; -1 is written `variable`.
    pub length: i64,
    pub input: String,
    pub output: String,
    pub receive: Option<String>,
    pub send: Option<String>,
    pub typmod_in: Option<String>,
    pub typmod_out: Option<String>,
    pub analyze: Option<String>,
    /// `typsubscript` (server 14+).
    pub subscript: Option<String>,
    pub collatable: bool,
    pub default: Option<TypeDefault>,
    pub element: Option<String>,
    pub category: String,
    pub preferred: bool,
    pub delimiter: String,
    pub by_value: bool,
    /// `typalign`: `c`, `s`, `i`, `d`.
    pub align: char,
    /// `typstorage`: `p`, `e`, `x`, `m`.
    pub storage: char,
}

/// `CREATE TYPE s.t (\n    INTERNALLENGTH = ..., ...\n);` with every clause in pg_dump's
/// order, optional ones only when set or not the default (CATEGORY `U`, DELIMITER `,`).
pub fn base_sql(t: &BaseType) -> String {
    let length = if t.length == -1 {
        "variable".to_string()
    } else {
        t.length.to_string()
    };
    let mut s = format!("CREATE TYPE {} (\n    INTERNALLENGTH = {length}", t.qualified);
    s.push_str(&format!(",\n    INPUT = {}", t.input));
    s.push_str(&format!(",\n    OUTPUT = {}", t.output));
    for (kw, f) in [
        ("RECEIVE", &t.receive),
        ("SEND", &t.send),
        ("TYPMOD_IN", &t.typmod_in),
        ("TYPMOD_OUT", &t.typmod_out),
        ("ANALYZE", &t.analyze),
    ] {
        if let Some(f) = f {
            s.push_str(&format!(",\n    {kw} = {f}"));
        }
    }
    if t.collatable {
        s.push_str(",\n    COLLATABLE = true");
    }
    match &t.default {
        Some(TypeDefault::Expr(e)) => s.push_str(&format!(",\n    DEFAULT = {e}")),
        Some(TypeDefault::Literal(l)) => s.push_str(&format!(",\n    DEFAULT = {}", quote::literal(l))),
        None => {}
    }
    if let Some(f) = &t.subscript {
        s.push_str(&format!(",\n    SUBSCRIPT = {f}"));
    }
    if let Some(e) = &t.element {
        s.push_str(&format!(",\n    ELEMENT = {e}"));
    }
    if t.category != "U" {
        s.push_str(&format!(",\n    CATEGORY = {}", quote::literal(&t.category)));
    }
    if t.preferred {
        s.push_str(",\n    PREFERRED = true");
    }
    if t.delimiter != "," {
        s.push_str(&format!(",\n    DELIMITER = {}", quote::literal(&t.delimiter)));
    }
    match t.align {
        'c' => s.push_str(",\n    ALIGNMENT = char"),
        's' => s.push_str(",\n    ALIGNMENT = int2"),
        'i' => s.push_str(",\n    ALIGNMENT = int4"),
        'd' => s.push_str(",\n    ALIGNMENT = double"),
        _ => {}
    }
    match t.storage {
        'p' => s.push_str(",\n    STORAGE = plain"),
        'e' => s.push_str(",\n    STORAGE = external"),
        'x' => s.push_str(",\n    STORAGE = extended"),
        'm' => s.push_str(",\n    STORAGE = main"),
        _ => {}
    }
    if t.by_value {
        s.push_str(",\n    PASSEDBYVALUE");
    }
    s.push_str("\n);\n");
    s
}

/// A domain constraint printed inline: CHECKs by name, NOT NULL (17+) by name unless it has
/// the default name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainConstraint {
    pub name: String,
    /// `pg_get_constraintdef` text (`CHECK (...)` or `NOT NULL`).
    pub def: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Domain {
    pub qualified: String,
    pub base: String,
    pub collation: Option<String>,
    pub default: Option<String>,
    /// `NOT NULL` from `typnotnull` before 17 (unnamed).
    pub not_null: bool,
    pub constraints: Vec<DomainConstraint>,
}

pub fn domain_sql(d: &Domain) -> String {
    let mut s = format!("CREATE DOMAIN {} AS {}", d.qualified, d.base);
    if let Some(c) = &d.collation {
        s.push_str(&format!(" COLLATE {c}"));
    }
    if d.not_null {
        s.push_str(" NOT NULL");
    }
    if let Some(def) = &d.default {
        s.push_str(&format!(" DEFAULT {def}"));
    }
    for c in &d.constraints {
        s.push_str(&format!("\n\tCONSTRAINT {} {}", quote::ident(&c.name), c.def));
    }
    s.push_str(";\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_matches_stock_layout() {
        let l: Vec<String> = ["new", "it's"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            enum_sql("shop.s", &l),
            "CREATE TYPE shop.s AS ENUM (\n    'new',\n    'it''s'\n);\n"
        );
        assert_eq!(enum_sql("shop.e", &[]), "CREATE TYPE shop.e AS ENUM (\n);\n");
    }

    #[test]
    fn composite_matches_stock_layout() {
        let a = vec![
            Attribute {
                name: "street".into(),
                type_sql: "text".into(),
                collation: None,
            },
            Attribute {
                name: "zip".into(),
                type_sql: "character varying(10)".into(),
                collation: Some("pg_catalog.\"C\"".into()),
            },
        ];
        assert_eq!(
            composite_sql("shop.address", &a),
            "CREATE TYPE shop.address AS (\n\tstreet text,\n\tzip character varying(10) COLLATE pg_catalog.\"C\"\n);\n"
        );
    }

    #[test]
    fn range_prints_only_set_options() {
        let r = Range {
            subtype: "numeric".into(),
            multirange: Some("shop.price_multirange".into()),
            ..Default::default()
        };
        assert_eq!(
            range_sql("shop.price_range", &r),
            "CREATE TYPE shop.price_range AS RANGE (\n    subtype = numeric,\n    multirange_type_name = shop.price_multirange\n);\n"
        );
    }

    #[test]
    fn domain_matches_stock_layout() {
        let d = Domain {
            qualified: "shop.positive_money".into(),
            base: "numeric(12,2)".into(),
            constraints: vec![DomainConstraint {
                name: "positive_money_check".into(),
                def: "CHECK ((VALUE > (0)::numeric))".into(),
            }],
            ..Default::default()
        };
        assert_eq!(
            domain_sql(&d),
            "CREATE DOMAIN shop.positive_money AS numeric(12,2)\n\tCONSTRAINT positive_money_check CHECK ((VALUE > (0)::numeric));\n"
        );
        let d2 = Domain {
            not_null: true,
            default: Some("'x'::text".into()),
            collation: Some("pg_catalog.\"C\"".into()),
            constraints: vec![],
            ..d
        };
        assert_eq!(
            domain_sql(&d2),
            "CREATE DOMAIN shop.positive_money AS numeric(12,2) COLLATE pg_catalog.\"C\" NOT NULL DEFAULT 'x'::text;\n"
        );
    }

    #[test]
    fn base_type_every_clause_in_order() {
        let t = BaseType {
            qualified: "k.int42".into(),
            length: 4,
            input: "k.int42_in".into(),
            output: "k.int42_out".into(),
            receive: Some("int4recv".into()),
            send: Some("int4send".into()),
            typmod_in: Some("k.tmin".into()),
            typmod_out: Some("k.tmout".into()),
            analyze: Some("k.an".into()),
            subscript: Some("raw_array_subscript_handler".into()),
            collatable: true,
            default: Some(TypeDefault::Literal("42".into())),
            element: Some("integer".into()),
            category: "N".into(),
            preferred: true,
            delimiter: ";".into(),
            by_value: true,
            align: 'i',
            storage: 'p',
        };
        assert_eq!(
            base_sql(&t),
            "CREATE TYPE k.int42 (\n    INTERNALLENGTH = 4,\n    INPUT = k.int42_in,\n    OUTPUT = k.int42_out,\n    \
             RECEIVE = int4recv,\n    SEND = int4send,\n    TYPMOD_IN = k.tmin,\n    TYPMOD_OUT = k.tmout,\n    \
             ANALYZE = k.an,\n    COLLATABLE = true,\n    DEFAULT = '42',\n    SUBSCRIPT = raw_array_subscript_handler,\n    \
             ELEMENT = integer,\n    CATEGORY = 'N',\n    PREFERRED = true,\n    DELIMITER = ';',\n    ALIGNMENT = int4,\n    \
             STORAGE = plain,\n    PASSEDBYVALUE\n);\n"
        );
        let v = BaseType {
            length: -1,
            receive: None,
            send: None,
            typmod_in: None,
            typmod_out: None,
            analyze: None,
            subscript: None,
            collatable: false,
            default: Some(TypeDefault::Expr("'x'::text".into())),
            element: None,
            category: "U".into(),
            preferred: false,
            delimiter: ",".into(),
            by_value: false,
            align: 'd',
            storage: 'x',
            ..t
        };
        assert_eq!(
            base_sql(&v),
            "CREATE TYPE k.int42 (\n    INTERNALLENGTH = variable,\n    INPUT = k.int42_in,\n    OUTPUT = k.int42_out,\n    \
             DEFAULT = 'x'::text,\n    ALIGNMENT = double,\n    STORAGE = extended\n);\n"
        );
        assert_eq!(shell_sql("k.int42"), "CREATE TYPE k.int42;\n");
    }
}
