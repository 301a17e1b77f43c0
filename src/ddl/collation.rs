//! `CREATE COLLATION` (pg_dump.c `dumpCollation`).

use super::quote;

/// A collation as read from `pg_collation` (the locale columns already mapped across server
/// versions: `colllocale` is `colliculocale` on 15–16).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collation {
    pub qualified: String,
    /// `c` libc, `i` icu, `b` builtin, `d` default.
    pub provider: char,
    pub deterministic: bool,
    pub collate: Option<String>,
    pub ctype: Option<String>,
    pub locale: Option<String>,
    pub rules: Option<String>,
}

pub fn collation_sql(c: &Collation) -> (String, String) {
    let provider = match c.provider {
        'i' => "icu",
        'b' => "builtin",
        'd' => "default",
        _ => "libc",
    };
    let mut s = format!("CREATE COLLATION {} (provider = {provider}", c.qualified);
    if !c.deterministic {
        s.push_str(", deterministic = false");
    }
    match c.provider {
        'i' | 'b' => {
            if let Some(l) = &c.locale {
                s.push_str(&format!(", locale = {}", quote::literal(l)));
            }
        }
        _ => match (&c.collate, &c.ctype) {
            (Some(a), Some(b)) if a == b => s.push_str(&format!(", locale = {}", quote::literal(a))),
            (a, b) => {
                if let Some(a) = a {
                    s.push_str(&format!(", lc_collate = {}", quote::literal(a)));
                }
                if let Some(b) = b {
                    s.push_str(&format!(", lc_ctype = {}", quote::literal(b)));
                }
            }
        },
    }
    if let Some(r) = &c.rules {
        s.push_str(&format!(", rules = {}", quote::literal(r)));
    }
    s.push_str(");\n");
    (s, format!("DROP COLLATION {};\n", c.qualified))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libc_and_icu() {
        let c = Collation {
            qualified: "shop.ci_c".into(),
            provider: 'c',
            deterministic: true,
            collate: Some("C".into()),
            ctype: Some("C".into()),
            ..Default::default()
        };
        assert_eq!(
            collation_sql(&c).0,
            "CREATE COLLATION shop.ci_c (provider = libc, locale = 'C');\n"
        );
        assert_eq!(collation_sql(&c).1, "DROP COLLATION shop.ci_c;\n");
        let c2 = Collation {
            ctype: Some("POSIX".into()),
            ..c
        };
        assert_eq!(
            collation_sql(&c2).0,
            "CREATE COLLATION shop.ci_c (provider = libc, lc_collate = 'C', lc_ctype = 'POSIX');\n"
        );
        let icu = Collation {
            qualified: "s.ci".into(),
            provider: 'i',
            deterministic: false,
            locale: Some("und-u-ks-level2".into()),
            rules: Some("&a < b".into()),
            ..Default::default()
        };
        assert_eq!(
            collation_sql(&icu).0,
            "CREATE COLLATION s.ci (provider = icu, deterministic = false, locale = 'und-u-ks-level2', rules = '&a < b');\n"
        );
    }
}
