//! GRANT/REVOKE as a delta between an object's ACL and its baseline (pg_dump's `dumpACL`
//! and dumputils.c `buildACLCommands` / `parseAclItem`).

use crate::model::{Entry, Section};

use super::quote;

/// The object-type keyword used in GRANT statements and the privilege letters it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclKind {
    /// Tables, views, materialized views, foreign tables (`TABLE`).
    Table,
    Sequence,
    Function,
    Procedure,
    Schema,
    /// Types and domains (`TYPE`).
    Type,
    Language,
    Database,
    ForeignDataWrapper,
    ForeignServer,
    LargeObject,
}

impl AclKind {
    /// The keyword after `ON` in GRANT/REVOKE.
    pub fn keyword(self) -> &'static str {
        match self {
            AclKind::Table => "TABLE",
            AclKind::Sequence => "SEQUENCE",
            AclKind::Function => "FUNCTION",
            AclKind::Procedure => "PROCEDURE",
            AclKind::Schema => "SCHEMA",
            AclKind::Type => "TYPE",
            AclKind::Language => "LANGUAGE",
            AclKind::Database => "DATABASE",
            AclKind::ForeignDataWrapper => "FOREIGN DATA WRAPPER",
            AclKind::ForeignServer => "FOREIGN SERVER",
            AclKind::LargeObject => "LARGE OBJECT",
        }
    }

    /// Privilege letters and keywords in the order pg_dump prints them. Tables always include
    /// MAINTAIN: pg_dump 18 converts `m` whatever the server, so on servers before 17 (which
    /// never grant `m`) a full table privilege set is spelled out rather than `ALL`.
    fn privileges(self, column: bool) -> &'static [(char, &'static str)] {
        match self {
            AclKind::Table if column => &[('r', "SELECT"), ('a', "INSERT"), ('x', "REFERENCES"), ('w', "UPDATE")],
            AclKind::Table => &[
                ('r', "SELECT"),
                ('a', "INSERT"),
                ('x', "REFERENCES"),
                ('d', "DELETE"),
                ('t', "TRIGGER"),
                ('D', "TRUNCATE"),
                ('m', "MAINTAIN"),
                ('w', "UPDATE"),
            ],
            AclKind::Sequence => &[('r', "SELECT"), ('U', "USAGE"), ('w', "UPDATE")],
            AclKind::Function | AclKind::Procedure => &[('X', "EXECUTE")],
            AclKind::Schema => &[('C', "CREATE"), ('U', "USAGE")],
            AclKind::Database => &[('C', "CREATE"), ('c', "CONNECT"), ('T', "TEMPORARY")],
            AclKind::Type | AclKind::Language | AclKind::ForeignDataWrapper | AclKind::ForeignServer => {
                &[('U', "USAGE")]
            }
            AclKind::LargeObject => &[('r', "SELECT"), ('w', "UPDATE")],
        }
    }
}

/// One decoded aclitem: `grantee=privs/grantor`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AclItem {
    /// Empty = PUBLIC.
    grantee: String,
    grantor: String,
    /// Letters, each with its grant-option flag.
    privs: Vec<(char, bool)>,
}

/// Reads a role name as aclitem output writes it (double-quoted when it needs quoting, with
/// `""` for an embedded quote); returns the name and the rest of the input.
fn take_role_name(s: &str) -> (String, &str) {
    let mut name = String::new();
    let mut chars = s.char_indices().peekable();
    let mut in_quotes = false;
    while let Some((i, c)) = chars.next() {
        match c {
            '"' if in_quotes && chars.peek().is_some_and(|&(_, n)| n == '"') => {
                name.push('"');
                chars.next();
            }
            '"' => in_quotes = !in_quotes,
            '=' | '/' if !in_quotes => return (name, &s[i..]),
            _ => name.push(c),
        }
    }
    (name, "")
}

fn parse_item(item: &str) -> Option<AclItem> {
    let (grantee, rest) = take_role_name(item);
    let rest = rest.strip_prefix('=')?;
    let (letters, grantor) = match rest.find('/') {
        Some(p) => (&rest[..p], take_role_name(&rest[p + 1..]).0),
        None => (rest, String::new()),
    };
    let mut privs = Vec::new();
    let mut chars = letters.chars().peekable();
    while let Some(c) = chars.next() {
        let grant_option = chars.peek() == Some(&'*');
        if grant_option {
            chars.next();
        }
        privs.push((c, grant_option));
    }
    Some(AclItem {
        grantee,
        grantor,
        privs,
    })
}

/// `(privileges without grant option, privileges with grant option)` as GRANT lists, `ALL`
/// when every applicable privilege is in one of them (`parseAclItem`). With `split` false
/// (REVOKE) everything goes into the first list.
fn privilege_lists(kind: AclKind, column: Option<&str>, item: &AclItem, split: bool) -> (String, String) {
    let mut plain = Vec::new();
    let mut with_go = Vec::new();
    let mut all_plain = true;
    let mut all_go = true;
    for &(letter, word) in kind.privileges(column.is_some()) {
        match item.privs.iter().find(|(l, _)| *l == letter) {
            Some(&(_, go)) if go && split => {
                with_go.push(word);
                all_plain = false;
            }
            Some(_) => {
                plain.push(word);
                all_go = false;
            }
            None => {
                all_plain = false;
                all_go = false;
            }
        }
    }
    let render = |words: &[&str]| -> String {
        words
            .iter()
            .map(|w| match column {
                Some(c) => format!("{w}({c})"),
                None => w.to_string(),
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let all = || match column {
        Some(c) => format!("ALL({c})"),
        None => "ALL".to_string(),
    };
    if all_go && split {
        (String::new(), all())
    } else if all_plain {
        (all(), String::new())
    } else {
        (render(&plain), render(&with_go))
    }
}

fn grantee_sql(grantee: &str) -> String {
    if grantee.is_empty() {
        "PUBLIC".to_string()
    } else {
        quote::ident(grantee)
    }
}

/// SQL (one statement per line, each ending `;\n`) turning `baseline` into `current`, for the
/// object `name_sql` (already quoted/qualified; for functions include the argument list).
/// `column` names a column (already quoted) for column privileges. Empty when there is
/// nothing to do. Mirrors dumputils.c `buildACLCommands`: REVOKEs for baseline items that
/// are gone, then the owner's own GRANTs, then the other GRANTs in ACL order (wrapped in
/// SET/RESET SESSION AUTHORIZATION when granted by someone other than the owner).
pub fn acl_sql(
    kind: AclKind,
    name_sql: &str,
    column: Option<&str>,
    owner: &str,
    current: &[String],
    baseline: &[String],
) -> String {
    acl_statements(kind, kind.keyword(), "", name_sql, column, owner, current, baseline)
}

/// Default privileges (pg_dump's `buildDefaultACLCommands`): the same delta, for an object
/// class (`TABLES`, `SEQUENCES`, `FUNCTIONS`, `TYPES`, `SCHEMAS`, `LARGE OBJECTS`) with an
/// empty object name, each statement prefixed `ALTER DEFAULT PRIVILEGES FOR ROLE r
/// [IN SCHEMA s] `.
pub fn default_acl_sql(
    kind: AclKind,
    class_keyword: &str,
    role: &str,
    schema: Option<&str>,
    current: &[String],
    baseline: &[String],
) -> String {
    let mut prefix = format!("ALTER DEFAULT PRIVILEGES FOR ROLE {}", quote::ident(role));
    if let Some(s) = schema {
        prefix.push_str(&format!(" IN SCHEMA {}", quote::ident(s)));
    }
    prefix.push(' ');
    acl_statements(kind, class_keyword, &prefix, "", None, role, current, baseline)
}

#[allow(clippy::too_many_arguments)]
fn acl_statements(
    kind: AclKind,
    keyword: &str,
    prefix: &str,
    name_sql: &str,
    column: Option<&str>,
    owner: &str,
    current: &[String],
    baseline: &[String],
) -> String {
    // Default privileges name a class, not an object: `ON TABLES TO` (pg_dump 18; 15 printed
    // two spaces there).
    let on = if name_sql.is_empty() {
        keyword.to_string()
    } else {
        format!("{keyword} {name_sql}")
    };
    let mut first = String::new();
    let mut second = String::new();
    for b in baseline.iter().filter(|b| !current.contains(b)) {
        let Some(item) = parse_item(b) else { continue };
        let (privs, _) = privilege_lists(kind, column, &item, false);
        if !privs.is_empty() {
            first.push_str(&format!(
                "{prefix}REVOKE {privs} ON {on} FROM {};\n",
                grantee_sql(&item.grantee)
            ));
        }
    }
    for c in current.iter().filter(|c| !baseline.contains(c)) {
        let Some(mut item) = parse_item(c) else { continue };
        if item.grantor.is_empty() {
            item.grantor = owner.to_string();
        }
        let (privs, privs_go) = privilege_lists(kind, column, &item, true);
        if privs.is_empty() && privs_go.is_empty() {
            continue;
        }
        let to = grantee_sql(&item.grantee);
        let own = item.grantee == owner && item.grantor == owner;
        let out = if own { &mut first } else { &mut second };
        let switch = !own && item.grantor != owner;
        if switch {
            out.push_str(&format!("SET SESSION AUTHORIZATION {};\n", quote::ident(&item.grantor)));
        }
        if !privs.is_empty() {
            out.push_str(&format!("{prefix}GRANT {privs} ON {on} TO {to};\n"));
        }
        if !privs_go.is_empty() {
            out.push_str(&format!(
                "{prefix}GRANT {privs_go} ON {on} TO {to} WITH GRANT OPTION;\n"
            ));
        }
        if switch {
            out.push_str("RESET SESSION AUTHORIZATION;\n");
        }
    }
    first.push_str(&second);
    first
}

/// The ACL entry attached to `parent` (pg_dump's `dumpACL`): tag `<keyword_tag> <tag_name>`
/// (`TABLE orders`, `COLUMN customer.id`, `FUNCTION order_total(c bigint)`), schema and owner
/// from the parent, section none. `None` when the delta is empty. Callers skip this
/// altogether under `--no-privileges`.
#[allow(clippy::too_many_arguments)]
pub fn acl_entry(
    parent: &Entry,
    kind: AclKind,
    keyword_tag: &str,
    name_sql: &str,
    tag_name: &str,
    column: Option<&str>,
    owner: &str,
    current: &[String],
    baseline: &[String],
) -> Option<Entry> {
    let sql = acl_sql(kind, name_sql, column, owner, current, baseline);
    if sql.is_empty() {
        return None;
    }
    let mut e = Entry::new("ACL", parent.priority, Section::None, parent.name.clone())
        .with_tag(format!("{keyword_tag} {tag_name}"))
        .with_defn(sql);
    e.schema = parent.schema.clone();
    e.owner = parent.owner.clone();
    e.sort_extra = parent.sort_extra.clone();
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Priority;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn unchanged_acl_renders_nothing() {
        let base = v(&["o=arwdDxtm/o"]);
        assert_eq!(acl_sql(AclKind::Table, "s.t", None, "o", &base, &base), "");
    }

    #[test]
    fn default_privileges_like_pg_dump_18() {
        assert_eq!(
            default_acl_sql(
                AclKind::Table,
                "TABLES",
                "app_owner",
                Some("shop"),
                &v(&["app_reader=r/app_owner"]),
                &[]
            ),
            "ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA shop GRANT SELECT ON TABLES TO app_reader;\n"
        );
        assert_eq!(
            default_acl_sql(
                AclKind::Function,
                "FUNCTIONS",
                "app_owner",
                None,
                &v(&["app_owner=X/app_owner"]),
                &v(&["=X/app_owner", "app_owner=X/app_owner"])
            ),
            "ALTER DEFAULT PRIVILEGES FOR ROLE app_owner REVOKE ALL ON FUNCTIONS FROM PUBLIC;\n"
        );
    }

    #[test]
    fn stock_fixture_statements() {
        assert_eq!(
            acl_sql(
                AclKind::Schema,
                "shop",
                None,
                "app_owner",
                &v(&["app_owner=UC/app_owner", "app_reader=U/app_owner"]),
                &v(&["app_owner=UC/app_owner"])
            ),
            "GRANT USAGE ON SCHEMA shop TO app_reader;\n"
        );
        assert_eq!(
            acl_sql(
                AclKind::Function,
                "shop.audit()",
                None,
                "app_owner",
                &v(&["app_owner=X/app_owner"]),
                &v(&["=X/app_owner", "app_owner=X/app_owner"])
            ),
            "REVOKE ALL ON FUNCTION shop.audit() FROM PUBLIC;\n"
        );
        assert_eq!(
            acl_sql(
                AclKind::Sequence,
                "shop.ticket_seq",
                None,
                "app_owner",
                &v(&["app_owner=rwU/app_owner", "app_reader=U*/app_owner"]),
                &v(&["app_owner=rwU/app_owner"])
            ),
            "GRANT USAGE ON SEQUENCE shop.ticket_seq TO app_reader WITH GRANT OPTION;\n"
        );
        assert_eq!(
            acl_sql(
                AclKind::Table,
                "shop.customer",
                Some("id"),
                "app_owner",
                &v(&["app_reader=r/app_owner"]),
                &[]
            ),
            "GRANT SELECT(id) ON TABLE shop.customer TO app_reader;\n"
        );
        assert_eq!(
            acl_sql(
                AclKind::Type,
                "shop.order_status",
                None,
                "app_owner",
                &v(&["=U/app_owner", "app_owner=U/app_owner", "app_reader=U/app_owner"]),
                &v(&["=U/app_owner", "app_owner=U/app_owner"])
            ),
            "GRANT ALL ON TYPE shop.order_status TO app_reader;\n"
        );
    }

    #[test]
    fn table_letters_follow_pg_dump_order_and_all_needs_maintain() {
        // Verified against pg_dump 18 on servers 15 and 18.
        let cur = v(&[
            "postgres=arwDxt/postgres",
            "bob=arwdDxt/postgres",
            "\"we ird\"=r*w*/postgres",
        ]);
        assert_eq!(
            acl_sql(
                AclKind::Table,
                "public.t",
                None,
                "postgres",
                &cur,
                &v(&["postgres=arwdDxt/postgres"])
            ),
            "REVOKE SELECT,INSERT,REFERENCES,DELETE,TRIGGER,TRUNCATE,UPDATE ON TABLE public.t FROM postgres;\n\
             GRANT SELECT,INSERT,REFERENCES,TRIGGER,TRUNCATE,UPDATE ON TABLE public.t TO postgres;\n\
             GRANT SELECT,INSERT,REFERENCES,DELETE,TRIGGER,TRUNCATE,UPDATE ON TABLE public.t TO bob;\n\
             GRANT SELECT,UPDATE ON TABLE public.t TO \"we ird\" WITH GRANT OPTION;\n"
        );
        assert_eq!(
            acl_sql(
                AclKind::Table,
                "public.t2",
                None,
                "postgres",
                &v(&["postgres=arwdDxtm/postgres", "=arwdDxtm/postgres"]),
                &v(&["postgres=arwdDxtm/postgres"])
            ),
            "GRANT ALL ON TABLE public.t2 TO PUBLIC;\n"
        );
        assert_eq!(
            acl_sql(
                AclKind::Table,
                "public.t",
                None,
                "postgres",
                &v(&["postgres=arwDxtm/postgres"]),
                &v(&["postgres=arwdDxtm/postgres"])
            ),
            "REVOKE ALL ON TABLE public.t FROM postgres;\n\
             GRANT SELECT,INSERT,REFERENCES,TRIGGER,TRUNCATE,MAINTAIN,UPDATE ON TABLE public.t TO postgres;\n"
        );
    }

    #[test]
    fn column_privileges() {
        assert_eq!(
            acl_sql(
                AclKind::Table,
                "public.t",
                Some("a"),
                "postgres",
                &v(&["bob=aw/postgres"]),
                &[]
            ),
            "GRANT INSERT(a),UPDATE(a) ON TABLE public.t TO bob;\n"
        );
        assert_eq!(
            acl_sql(
                AclKind::Table,
                "public.t",
                Some("b"),
                "postgres",
                &v(&["bob=a/postgres", "\"we ird\"=arwx/postgres"]),
                &[]
            ),
            "GRANT INSERT(b) ON TABLE public.t TO bob;\nGRANT ALL(b) ON TABLE public.t TO \"we ird\";\n"
        );
    }

    #[test]
    fn owner_grants_first_and_other_grantors_switch_session() {
        let cur = v(&["bob=r*/o", "carol=r/bob", "o=arwdDxtm/o"]);
        let base = v(&["o=arwdDxtm/o"]);
        let sql = acl_sql(AclKind::Table, "s.t", None, "o", &cur, &v(&[]));
        assert!(sql.starts_with("GRANT ALL ON TABLE s.t TO o;\n"), "{sql}");
        assert_eq!(
            acl_sql(AclKind::Table, "s.t", None, "o", &cur, &base),
            "GRANT SELECT ON TABLE s.t TO bob WITH GRANT OPTION;\n\
             SET SESSION AUTHORIZATION bob;\nGRANT SELECT ON TABLE s.t TO carol;\nRESET SESSION AUTHORIZATION;\n"
        );
    }

    #[test]
    fn mixed_grant_option_and_all_with_grant_option() {
        assert_eq!(
            acl_sql(AclKind::Sequence, "s.q", None, "o", &v(&["b=r*wU/o"]), &[]),
            "GRANT USAGE,UPDATE ON SEQUENCE s.q TO b;\nGRANT SELECT ON SEQUENCE s.q TO b WITH GRANT OPTION;\n"
        );
        assert_eq!(
            acl_sql(AclKind::Schema, "s", None, "o", &v(&["b=U*C*/o"]), &[]),
            "GRANT ALL ON SCHEMA s TO b WITH GRANT OPTION;\n"
        );
        assert_eq!(
            acl_sql(AclKind::Database, "d", None, "o", &[], &v(&["=Tc/o"])),
            "REVOKE CONNECT,TEMPORARY ON DATABASE d FROM PUBLIC;\n"
        );
        assert_eq!(
            acl_sql(AclKind::LargeObject, "1234", None, "o", &v(&["b=rw/o"]), &[]),
            "GRANT ALL ON LARGE OBJECT 1234 TO b;\n"
        );
    }

    #[test]
    fn quoted_role_names_in_items() {
        let item = parse_item("\"a \"\"b\"=U/\"C d\"").unwrap();
        assert_eq!(item.grantee, "a \"b");
        assert_eq!(item.grantor, "C d");
        assert_eq!(
            acl_sql(AclKind::Type, "s.t", None, "o", &v(&["\"a \"\"b\"=U/o"]), &[]),
            "GRANT ALL ON TYPE s.t TO \"a \"\"b\";\n"
        );
    }

    #[test]
    fn acl_entry_shape() {
        let p = Entry::new("FUNCTION", Priority::Function, Section::PreData, "order_total")
            .with_schema("shop")
            .with_owner("app_owner");
        let e = acl_entry(
            &p,
            AclKind::Function,
            "FUNCTION",
            "shop.order_total(c bigint)",
            "order_total(c bigint)",
            None,
            "app_owner",
            &v(&["app_owner=X/app_owner", "app_reader=X/app_owner"]),
            &v(&["=X/app_owner", "app_owner=X/app_owner"]),
        )
        .unwrap();
        assert_eq!(e.desc, "ACL");
        assert_eq!(e.tag, "FUNCTION order_total(c bigint)");
        assert_eq!(e.schema.as_deref(), Some("shop"));
        assert_eq!(e.owner.as_deref(), Some("app_owner"));
        assert_eq!(e.section, Section::None);
        assert_eq!(
            e.defn.as_deref(),
            Some(
                "REVOKE ALL ON FUNCTION shop.order_total(c bigint) FROM PUBLIC;\nGRANT ALL ON FUNCTION shop.order_total(c bigint) TO app_reader;\n"
            )
        );
        assert!(
            acl_entry(
                &p,
                AclKind::Function,
                "FUNCTION",
                "x",
                "y",
                None,
                "o",
                &v(&["a=X/o"]),
                &v(&["a=X/o"])
            )
            .is_none()
        );
    }
}
