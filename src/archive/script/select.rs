//! Which parts of each TOC entry a script prints, and in which pass
//! (`_tocEntryRequired`, `_tocEntryRestorePass`, `_tocEntryIsACL`, pg_backup_archiver.c).

use super::super::toc::TocEntry;
use super::options::ScriptOptions;

/// The parts of an entry a script prints (pg_restore's REQ_SCHEMA / REQ_DATA / REQ_STATS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reqs {
    pub schema: bool,
    pub data: bool,
    pub stats: bool,
}

impl Reqs {
    pub const NOTHING: Reqs = Reqs {
        schema: false,
        data: false,
        stats: false,
    };

    pub fn any(self) -> bool {
        self.schema || self.data || self.stats
    }

    /// Schema or data: what the drop pass looks at (statistics are never dropped).
    pub fn schema_or_data(self) -> bool {
        self.schema || self.data
    }
}

/// The three passes of a serial restore: ACLs come after every object exists, and a few
/// kinds (event triggers, matview refreshes, post-data statistics) after the ACLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pass {
    Main,
    Acl,
    PostAcl,
}

/// Section codes of the TOC (`teSection`).
const SECTION_NONE: i32 = 1;
const SECTION_PRE_DATA: i32 = 2;
const SECTION_DATA: i32 = 3;
const SECTION_POST_DATA: i32 = 4;

/// The entries consumed while reading the TOC; never printed as objects.
pub fn is_special(e: &TocEntry) -> bool {
    matches!(e.desc.as_str(), "ENCODING" | "STDSTRINGS" | "SEARCHPATH")
}

/// ACL-like entries: skipped by `-x`, printed in the ACL pass.
pub fn is_acl(e: &TocEntry) -> bool {
    matches!(e.desc.as_str(), "ACL" | "ACL LANGUAGE" | "DEFAULT ACL")
}

/// The pass an entry is printed in.
pub fn pass_of(e: &TocEntry, opts: &ScriptOptions) -> Pass {
    let desc = e.desc.as_str();
    if is_acl(e) {
        return Pass::Acl;
    }
    if matches!(desc, "EVENT TRIGGER" | "MATERIALIZED VIEW DATA") {
        return Pass::PostAcl;
    }
    // Comments and labels follow their object's pass; only event triggers have any there.
    if matches!(desc, "COMMENT" | "SECURITY LABEL") && e.tag.starts_with("EVENT TRIGGER ") {
        return Pass::PostAcl;
    }
    if desc == "STATISTICS DATA" && e.section == SECTION_POST_DATA && opts.dialect.knows_statistics() {
        return Pass::PostAcl;
    }
    Pass::Main
}

/// Large-object entries that count as data although they have no payload: LO metadata
/// and the ACLs, comments and labels of large objects.
fn is_large_object_metadata(e: &TocEntry) -> bool {
    match e.desc.as_str() {
        "BLOB" | "BLOB METADATA" => true,
        "ACL" | "COMMENT" | "SECURITY LABEL" => e.tag.starts_with("LARGE OBJECT"),
        _ => false,
    }
}

/// What to print of each entry, in TOC order. SECTION_NONE entries (comments, ACLs) take the
/// section of the entry before them, the first ones pre-data. A TOC with no wanted schema
/// at all is treated as data-only (pg_restore's "implied data-only restore"), which the
/// returned flag reports: it turns on `--disable-triggers`.
pub fn required(entries: &[TocEntry], opts: &ScriptOptions) -> (Vec<Reqs>, bool) {
    let mut section = SECTION_PRE_DATA;
    let reqs: Vec<Reqs> = entries
        .iter()
        .map(|e| {
            if e.section != SECTION_NONE {
                section = e.section;
            }
            entry_reqs(e, section, opts)
        })
        .collect();
    let schema_wanted = !opts.no_schema && reqs.iter().any(|r| r.schema);
    (reqs, schema_wanted)
}

/// `_tocEntryRequired` for one entry whose effective section is `section`. Selective
/// restore (`-n`, `-t`, `-L`, ...) is not part of the printer: pg_dump selects while dumping.
pub fn entry_reqs(e: &TocEntry, section: i32, opts: &ScriptOptions) -> Reqs {
    let desc = e.desc.as_str();
    let tag = e.tag.as_str();
    if is_special(e) {
        return Reqs::NOTHING;
    }
    let mut r = Reqs {
        schema: true,
        data: true,
        stats: false,
    };
    let statistics = desc == "STATISTICS DATA" && opts.dialect.knows_statistics();
    if statistics {
        if opts.no_statistics {
            return Reqs::NOTHING;
        }
        r = Reqs {
            schema: false,
            data: false,
            stats: true,
        };
    }
    // The database's own entries belong to -C alone.
    if matches!(desc, "DATABASE" | "DATABASE PROPERTIES") {
        return Reqs {
            schema: opts.create,
            ..Reqs::NOTHING
        };
    }
    if opts.no_privileges && is_acl(e) {
        return Reqs::NOTHING;
    }
    if opts.no_comments && desc == "COMMENT" {
        return Reqs::NOTHING;
    }
    if opts.no_policies && matches!(desc, "POLICY" | "ROW SECURITY") {
        return Reqs::NOTHING;
    }
    if desc == "COMMENT" && opts.no_policies && tag.starts_with("POLICY") {
        return Reqs::NOTHING;
    }
    if matches!(desc, "COMMENT" | "SECURITY LABEL")
        && ((opts.no_publications && tag.starts_with("PUBLICATION"))
            || (opts.no_subscriptions && tag.starts_with("SUBSCRIPTION")))
    {
        return Reqs::NOTHING;
    }
    if opts.no_publications
        && matches!(
            desc,
            "PUBLICATION" | "PUBLICATION TABLE" | "PUBLICATION TABLES IN SCHEMA"
        )
    {
        return Reqs::NOTHING;
    }
    if opts.no_security_labels && desc == "SECURITY LABEL" {
        return Reqs::NOTHING;
    }
    if opts.no_subscriptions && matches!(desc, "SUBSCRIPTION" | "SUBSCRIPTION TABLE") {
        return Reqs::NOTHING;
    }
    let section_wanted = match section {
        SECTION_PRE_DATA => opts.sections.pre_data,
        SECTION_DATA => opts.sections.data,
        SECTION_POST_DATA => opts.sections.post_data,
        _ => false,
    };
    if !section_wanted {
        return Reqs::NOTHING;
    }
    // The database's comment, ACL and label follow -C, not the selection switches.
    if matches!(desc, "ACL" | "COMMENT" | "SECURITY LABEL") && tag.starts_with("DATABASE ") && !opts.create {
        return Reqs::NOTHING;
    }
    if !e.had_dumper {
        if desc == "SEQUENCE SET" || is_large_object_metadata(e) {
            r.schema = false;
        } else {
            r.data = false;
        }
    }
    let defn = e.defn.as_deref().unwrap_or("");
    if defn.is_empty() || defn.starts_with("-- load via partition root ") {
        r.schema = false;
    }
    if desc == "<Init>" && tag == "Max OID" {
        return Reqs::NOTHING;
    }
    if opts.no_data && !(opts.sequence_data && desc == "SEQUENCE SET") {
        r.data = false;
    }
    if opts.no_schema {
        r.schema = false;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::super::options::{Dialect, Sections};
    use super::*;

    fn entry(desc: &str, tag: &str, section: i32, had_dumper: bool, defn: &str) -> TocEntry {
        TocEntry {
            dump_id: 1,
            had_dumper,
            desc: desc.into(),
            tag: tag.into(),
            section,
            defn: (!defn.is_empty()).then(|| defn.to_string()),
            ..TocEntry::default()
        }
    }

    fn reqs(e: &TocEntry, opts: &ScriptOptions) -> (bool, bool, bool) {
        let r = entry_reqs(
            e,
            if e.section == SECTION_NONE {
                SECTION_PRE_DATA
            } else {
                e.section
            },
            opts,
        );
        (r.schema, r.data, r.stats)
    }

    fn table() -> TocEntry {
        entry("TABLE", "t", SECTION_PRE_DATA, false, "CREATE TABLE public.t ();\n")
    }
    fn table_data() -> TocEntry {
        entry("TABLE DATA", "t", SECTION_DATA, true, "")
    }
    fn seq_set() -> TocEntry {
        entry(
            "SEQUENCE SET",
            "s",
            SECTION_DATA,
            false,
            "SELECT pg_catalog.setval('public.s', 1, true);\n",
        )
    }
    fn stats() -> TocEntry {
        entry(
            "STATISTICS DATA",
            "t",
            SECTION_DATA,
            false,
            "SELECT * FROM pg_catalog.pg_restore_relation_stats();\n",
        )
    }

    #[test]
    fn default_selection_splits_schema_and_data() {
        let o = ScriptOptions::default();
        assert_eq!(reqs(&table(), &o), (true, false, false));
        assert_eq!(reqs(&table_data(), &o), (false, true, false), "no defn: no schema part");
        assert_eq!(reqs(&seq_set(), &o), (false, true, false));
        assert_eq!(reqs(&stats(), &o), (false, false, true));
        let blob = entry("BLOB METADATA", "16400", SECTION_DATA, false, "16400\n");
        assert_eq!(reqs(&blob, &o), (false, true, false));
        let lo_acl = entry("ACL", "LARGE OBJECTS 1..3", SECTION_NONE, false, "GRANT ...;\n");
        assert_eq!(reqs(&lo_acl, &o), (false, true, false));
        let via_root = entry(
            "TABLE DATA",
            "p1",
            SECTION_DATA,
            true,
            "-- load via partition root public.p",
        );
        assert_eq!(reqs(&via_root, &o), (false, true, false));
        for special in ["ENCODING", "STDSTRINGS", "SEARCHPATH"] {
            let e = entry(special, special, SECTION_PRE_DATA, false, "SET x = 'y';\n");
            assert_eq!(reqs(&e, &o), (false, false, false), "{special}");
        }
    }

    #[test]
    fn schema_only_and_data_only() {
        let s = ScriptOptions {
            no_data: true,
            no_statistics: true,
            ..ScriptOptions::default()
        };
        assert_eq!(reqs(&table(), &s), (true, false, false));
        assert_eq!(reqs(&table_data(), &s), (false, false, false));
        assert_eq!(reqs(&seq_set(), &s), (false, false, false));
        assert_eq!(reqs(&stats(), &s), (false, false, false));
        let seq_data = ScriptOptions {
            sequence_data: true,
            ..s.clone()
        };
        assert_eq!(reqs(&seq_set(), &seq_data), (false, true, false), "--sequence-data");
        let a = ScriptOptions {
            no_schema: true,
            no_statistics: true,
            ..ScriptOptions::default()
        };
        assert_eq!(reqs(&table(), &a), (false, false, false));
        assert_eq!(reqs(&table_data(), &a), (false, true, false));
        let stats_only = ScriptOptions {
            no_schema: true,
            no_data: true,
            ..ScriptOptions::default()
        };
        assert_eq!(reqs(&stats(), &stats_only), (false, false, true));
        assert_eq!(reqs(&table_data(), &stats_only), (false, false, false));
    }

    #[test]
    fn statistics_are_ordinary_schema_before_18() {
        let o = ScriptOptions {
            dialect: Dialect::Pg17,
            no_statistics: true,
            ..ScriptOptions::default()
        };
        assert_eq!(reqs(&stats(), &o), (true, false, false));
        let post = TocEntry {
            section: SECTION_POST_DATA,
            ..stats()
        };
        assert_eq!(pass_of(&post, &o), Pass::Main);
        assert_eq!(pass_of(&post, &ScriptOptions::default()), Pass::PostAcl);
        assert_eq!(pass_of(&stats(), &ScriptOptions::default()), Pass::Main);
    }

    #[test]
    fn database_entries_follow_create_only() {
        let db = entry("DATABASE", "shop", SECTION_PRE_DATA, false, "CREATE DATABASE shop;\n");
        let comment = entry(
            "COMMENT",
            "DATABASE shop",
            SECTION_NONE,
            false,
            "COMMENT ON DATABASE shop IS 'x';\n",
        );
        let plain = ScriptOptions::default();
        assert_eq!(reqs(&db, &plain), (false, false, false));
        assert_eq!(reqs(&comment, &plain), (false, false, false));
        let c = ScriptOptions {
            create: true,
            ..ScriptOptions::default()
        };
        assert_eq!(reqs(&db, &c), (true, false, false));
        assert_eq!(reqs(&comment, &c), (true, false, false));
        let c_data = ScriptOptions {
            no_schema: true,
            ..c.clone()
        };
        assert_eq!(
            reqs(&db, &c_data),
            (true, false, false),
            "-C wins over the content switches"
        );
    }

    #[test]
    fn sections_select_and_none_entries_inherit() {
        let toc = vec![
            table(),
            entry(
                "COMMENT",
                "TABLE t",
                SECTION_NONE,
                false,
                "COMMENT ON TABLE public.t IS 'x';\n",
            ),
            table_data(),
            entry(
                "INDEX",
                "i",
                SECTION_POST_DATA,
                false,
                "CREATE INDEX i ON public.t (x);\n",
            ),
            entry(
                "COMMENT",
                "INDEX i",
                SECTION_NONE,
                false,
                "COMMENT ON INDEX public.i IS 'x';\n",
            ),
        ];
        let only = |s: &str| {
            let mut sections = Sections::NONE;
            sections.add(s).unwrap();
            let opts = ScriptOptions {
                sections,
                ..ScriptOptions::default()
            };
            required(&toc, &opts).0.iter().map(|r| r.any()).collect::<Vec<_>>()
        };
        assert_eq!(only("pre-data"), [true, true, false, false, false]);
        assert_eq!(only("data"), [false, false, true, false, false]);
        assert_eq!(only("post-data"), [false, false, false, true, true]);
    }

    #[test]
    fn implied_data_only_when_no_schema_is_selected() {
        let toc = vec![table(), table_data()];
        assert!(required(&toc, &ScriptOptions::default()).1);
        let data = ScriptOptions {
            sections: Sections {
                pre_data: false,
                data: true,
                post_data: false,
            },
            ..ScriptOptions::default()
        };
        assert!(!required(&toc, &data).1);
        assert!(!required(&[table_data()], &ScriptOptions::default()).1);
    }

    #[test]
    fn exclusion_switches() {
        let acl = entry(
            "ACL",
            "TABLE t",
            SECTION_NONE,
            false,
            "GRANT SELECT ON TABLE public.t TO r;\n",
        );
        let dacl = entry(
            "DEFAULT ACL",
            "DEFAULT PRIVILEGES",
            SECTION_POST_DATA,
            false,
            "ALTER DEFAULT ...;\n",
        );
        let comment = entry(
            "COMMENT",
            "TABLE t",
            SECTION_NONE,
            false,
            "COMMENT ON TABLE public.t IS 'x';\n",
        );
        let policy = entry(
            "POLICY",
            "t p",
            SECTION_POST_DATA,
            false,
            "CREATE POLICY p ON public.t;\n",
        );
        let policy_comment = entry("COMMENT", "POLICY p", SECTION_NONE, false, "COMMENT ON POLICY ...;\n");
        let publication = entry(
            "PUBLICATION",
            "pub",
            SECTION_POST_DATA,
            false,
            "CREATE PUBLICATION pub;\n",
        );
        let pub_label = entry(
            "SECURITY LABEL",
            "PUBLICATION pub",
            SECTION_NONE,
            false,
            "SECURITY LABEL ...;\n",
        );
        let sub_table = entry("SUBSCRIPTION TABLE", "s t", SECTION_POST_DATA, false, "ALTER ...;\n");
        let label = entry(
            "SECURITY LABEL",
            "TABLE t",
            SECTION_NONE,
            false,
            "SECURITY LABEL ...;\n",
        );
        let all = ScriptOptions {
            no_privileges: true,
            no_comments: false,
            no_policies: true,
            no_publications: true,
            no_subscriptions: true,
            no_security_labels: true,
            ..ScriptOptions::default()
        };
        for e in [
            &acl,
            &dacl,
            &policy,
            &policy_comment,
            &publication,
            &pub_label,
            &sub_table,
            &label,
        ] {
            assert_eq!(reqs(e, &all), (false, false, false), "{} {}", e.desc, e.tag);
        }
        assert_eq!(reqs(&comment, &all), (true, false, false));
        let no_comments = ScriptOptions {
            no_comments: true,
            ..ScriptOptions::default()
        };
        assert_eq!(reqs(&comment, &no_comments), (false, false, false));
        assert_eq!(reqs(&acl, &no_comments), (true, false, false));
    }

    #[test]
    fn passes() {
        let o = ScriptOptions::default();
        let p = |desc: &str, tag: &str| pass_of(&entry(desc, tag, SECTION_NONE, false, "x"), &o);
        assert_eq!(p("ACL", "TABLE t"), Pass::Acl);
        assert_eq!(p("DEFAULT ACL", "DEFAULT PRIVILEGES FOR TABLES"), Pass::Acl);
        assert_eq!(p("ACL LANGUAGE", "plpgsql"), Pass::Acl);
        assert_eq!(p("EVENT TRIGGER", "et"), Pass::PostAcl);
        assert_eq!(p("MATERIALIZED VIEW DATA", "mv"), Pass::PostAcl);
        assert_eq!(p("COMMENT", "EVENT TRIGGER et"), Pass::PostAcl);
        assert_eq!(p("SECURITY LABEL", "EVENT TRIGGER et"), Pass::PostAcl);
        assert_eq!(p("COMMENT", "TABLE t"), Pass::Main);
        assert_eq!(p("TABLE", "t"), Pass::Main);
    }
}
