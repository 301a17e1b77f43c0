//! `CREATE TYPE` (enum, composite, range) and `CREATE DOMAIN` (pg_dump.c `dumpEnumType`,
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
}
