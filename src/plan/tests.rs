//! The planner with plain entries: presort, dependency order, dump ids, and every loop
//! repair rule of pg_dump_sort.c.

use super::*;
use crate::model::{Part, Render, depend::DependRow};

const REWRITE: u32 = catalog_oid::PG_REWRITE;
const CONSTRAINT: u32 = catalog_oid::PG_CONSTRAINT;
const ATTRDEF: u32 = catalog_oid::PG_ATTRDEF;
const PROC: u32 = catalog_oid::PG_PROC;
const TYPE: u32 = catalog_oid::PG_TYPE;

fn row(from: CatalogId, to: CatalogId, deptype: u8) -> DependRow {
    DependRow { from, to, deptype }
}

fn id(tableoid: u32, oid: u32) -> CatalogId {
    CatalogId::new(tableoid, oid)
}

fn func(name: &str, oid: u32) -> Entry {
    Entry::new("FUNCTION", Priority::Function, Section::PreData, name)
        .with_schema("public")
        .with_key(id(PROC, oid))
        .with_tag(format!("{name}()"))
        .with_defn(format!("CREATE FUNCTION public.{name}() ...;\n"))
}

/// A primary key on the table with OID `table`.
fn pkey(name: &str, oid: u32, table: &str) -> Entry {
    Entry::new("CONSTRAINT", Priority::Constraint, Section::PostData, name)
        .with_schema("public")
        .with_key(id(CONSTRAINT, oid))
        .with_tag(format!("{table} {name}"))
}

/// A renderer naming the split parts, to see what the planner asked for.
fn render_naming_split(whole: &str) -> Render {
    let whole = whole.to_string();
    Render::new(move |split| {
        let oids: Vec<String> = split.iter().map(|c| c.oid.to_string()).collect();
        format!("{whole} without {}", oids.join(","))
    })
}

/// A view (relation `oid`) with its ON SELECT rule `oid + 1` and row type `oid + 2`.
fn view(name: &str, oid: u32, relkind: u8) -> Entry {
    let desc = if relkind == b'm' { "MATERIALIZED VIEW" } else { "VIEW" };
    let mut v = Entry::new(desc, Priority::Table, Section::PreData, name)
        .with_schema("public")
        .with_key(CatalogId::class(oid))
        .with_defn(format!("CREATE {desc} public.{name} AS SELECT ...;\n"));
    v.relkind = Some(relkind);
    let rule = Entry::new("RULE", Priority::Rule, Section::PostData, "_RETURN")
        .with_schema("public")
        .with_key(id(REWRITE, oid + 1))
        .with_tag(format!("{name} _RETURN"))
        .with_defn(format!("CREATE OR REPLACE VIEW public.{name} AS SELECT ...;\n"));
    let mut select = Part::new(PartKind::SelectRule, id(REWRITE, oid + 1), Priority::Rule, "_RETURN")
        .with_sort_extra(vec![name.to_string()]);
    if relkind == b'v' {
        select = select.with_separate(rule);
        v.render = Some(Render::new(|_| "dummy".to_string()));
    }
    v.parts = vec![select, Part::dummy_type(oid + 2, name)];
    v
}

/// `pg_depend` of a view made by `view`: the rule on the view, the row type on the view.
fn view_rows(oid: u32) -> Vec<DependRow> {
    vec![
        row(id(REWRITE, oid + 1), CatalogId::class(oid), b'i'),
        row(id(TYPE, oid + 2), CatalogId::class(oid), b'i'),
    ]
}

/// A table (relation `oid`) with row type `oid + 1`.
fn table_with_rowtype(name: &str, oid: u32) -> Entry {
    let mut t = table(name, oid).with_defn(format!("CREATE TABLE public.{name} (...);\n"));
    t.relkind = Some(b'r');
    t.parts.push(Part::dummy_type(oid + 1, name));
    t.render = Some(render_naming_split(&format!("CREATE TABLE public.{name}")));
    t
}

fn plan_of(entries: Vec<Entry>, rows: Vec<DependRow>) -> Plan {
    plan(entries, &DependGraph::new(rows), &IdMap::default(), 1)
}

fn find<'p>(p: &'p Plan, tag: &str) -> &'p Planned {
    p.entries
        .iter()
        .find(|e| format!("{} {}", e.entry.desc, e.entry.tag) == tag)
        .unwrap_or_else(|| panic!("no {tag} in {:?}", tags(p)))
}

fn table(name: &str, oid: u32) -> Entry {
    Entry::new("TABLE", Priority::Table, Section::PreData, name)
        .with_schema("public")
        .with_key(CatalogId::class(oid))
}

fn tags(p: &Plan) -> Vec<String> {
    p.entries
        .iter()
        .map(|e| format!("{} {}", e.entry.desc, e.entry.tag))
        .collect()
}

#[test]
fn presort_orders_by_priority_then_name() {
    let idx = Entry::new("INDEX", Priority::Index, Section::PostData, "a_idx").with_schema("public");
    let schema = Entry::new("SCHEMA", Priority::Schema, Section::PreData, "s");
    let p = plan(
        vec![table("b", 20000), idx, table("a", 20001), schema],
        &DependGraph::default(),
        &IdMap::default(),
        1,
    );
    assert_eq!(tags(&p), ["SCHEMA s", "TABLE a", "TABLE b", "INDEX a_idx"]);
    assert_eq!(p.entries.iter().map(|e| e.dump_id).collect::<Vec<_>>(), [1, 2, 3, 4]);
}

#[test]
fn dependencies_move_entries_as_little_as_needed() {
    // b depends on c (pg_depend), so c must move before b; a stays first.
    let g = DependGraph::new([DependRow {
        from: CatalogId::class(20001),
        to: CatalogId::class(20002),
        deptype: b'n',
    }]);
    let p = plan(
        vec![table("a", 20000), table("b", 20001), table("c", 20002)],
        &g,
        &IdMap::default(),
        10,
    );
    assert_eq!(tags(&p), ["TABLE a", "TABLE c", "TABLE b"]);
    assert_eq!(p.entries[2].deps, vec![11]);
}

#[test]
fn dependencies_follow_through_rows_no_entry_claims() {
    // table 20001 → attrdef 30000 (unclaimed) → table 20002
    let g = DependGraph::new([
        DependRow {
            from: CatalogId::class(20001),
            to: CatalogId::new(catalog_oid::PG_ATTRDEF, 30000),
            deptype: b'a',
        },
        DependRow {
            from: CatalogId::new(catalog_oid::PG_ATTRDEF, 30000),
            to: CatalogId::class(20002),
            deptype: b'n',
        },
    ]);
    let p = plan(vec![table("a", 20001), table("b", 20002)], &g, &IdMap::default(), 1);
    assert_eq!(tags(&p), ["TABLE b", "TABLE a"]);
}

#[test]
fn initdb_objects_order_each_other_when_dumped_but_are_never_walked_through() {
    // information_schema views have OIDs below 16384 and (15+) pg_depend rows: when -t dumps
    // two of them, the one read by the other comes first, as in pg_dump. A row into an
    // initdb object no entry stands for (here 12100 → 12200) is not followed.
    let g = DependGraph::new([
        row(CatalogId::class(12001), CatalogId::class(12002), b'n'),
        row(CatalogId::class(20001), CatalogId::class(12100), b'n'),
        row(CatalogId::class(12100), CatalogId::class(20002), b'n'),
    ]);
    let p = plan(
        vec![
            table("a", 12001),
            table("b", 12002),
            table("c", 20001),
            table("d", 20002),
        ],
        &g,
        &IdMap::default(),
        1,
    );
    assert_eq!(tags(&p), ["TABLE b", "TABLE a", "TABLE c", "TABLE d"]);
}

#[test]
fn attached_entries_follow_parent_and_data_lists_table_first() {
    let mut t = table("t", 20000);
    t.attached
        .push(Entry::new("COMMENT", Priority::Table, Section::None, "t").with_tag("TABLE t"));
    let data = Entry::new("TABLE DATA", Priority::TableData, Section::Data, "t")
        .with_schema("public")
        .with_dep(Dep::Catalog(CatalogId::class(20000)));
    let p = plan(vec![data, t], &DependGraph::default(), &IdMap::default(), 1);
    assert_eq!(tags(&p), ["TABLE t", "COMMENT TABLE t", "TABLE DATA t"]);
    assert_eq!(p.entries[1].deps, vec![1]);
    assert_eq!(p.entries[2].deps, vec![1]);
    assert_eq!(p.entries[2].dump_id, 3);
}

#[test]
fn loops_are_broken_with_a_warning() {
    let g = DependGraph::new([
        DependRow {
            from: CatalogId::class(20000),
            to: CatalogId::class(20001),
            deptype: b'n',
        },
        DependRow {
            from: CatalogId::class(20001),
            to: CatalogId::class(20000),
            deptype: b'n',
        },
    ]);
    let p = plan(vec![table("a", 20000), table("b", 20001)], &g, &IdMap::default(), 1);
    assert_eq!(p.entries.len(), 2);
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
}

#[test]
fn extension_members_stand_for_their_extension() {
    let ext = Entry::new("EXTENSION", Priority::Extension, Section::PreData, "citext")
        .with_key(CatalogId::new(catalog_oid::PG_EXTENSION, 20500));
    let member_type = CatalogId::new(catalog_oid::PG_TYPE, 20600);
    let g = DependGraph::new([DependRow {
        from: CatalogId::class(20000),
        to: member_type,
        deptype: b'n',
    }]);
    let members: IdMap<u32> = [(member_type, 20500)].into_iter().collect();
    let p = plan(vec![table("t", 20000), ext], &g, &members, 1);
    assert_eq!(tags(&p), ["EXTENSION citext", "TABLE t"]);
    assert_eq!(p.entries[1].deps, vec![1]);
}

#[test]
fn a_view_and_its_rule_alone_stay_one_entry() {
    // view → rule (added), rule → view (pg_depend): repairViewRuleLoop.
    let t = table("t", 20000);
    let mut rows = view_rows(20010);
    rows.push(row(id(REWRITE, 20011), CatalogId::class(20000), b'n'));
    let p = plan_of(vec![view("v", 20010, b'v'), t], rows);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(tags(&p), ["TABLE t", "VIEW v"]);
    let v = find(&p, "VIEW v");
    assert_eq!(v.entry.defn.as_deref(), Some("CREATE VIEW public.v AS SELECT ...;\n"));
    assert_eq!(v.deps, vec![1], "the view waits for what its rule reads");
}

#[test]
fn a_view_in_a_longer_loop_gets_a_dummy_body_and_a_post_data_rule() {
    // v's rule calls f, f returns SETOF v (its row type): repairViewRuleMultiLoop.
    let mut rows = view_rows(20010);
    rows.push(row(id(REWRITE, 20011), id(PROC, 20020), b'n'));
    rows.push(row(id(PROC, 20020), id(TYPE, 20012), b'n'));
    let idx = Entry::new("INDEX", Priority::Index, Section::PostData, "a_idx").with_schema("public");
    let p = plan_of(vec![func("f", 20020), view("v", 20010, b'v'), idx], rows);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(tags(&p), ["VIEW v", "FUNCTION f()", "INDEX a_idx", "RULE v _RETURN"]);
    assert_eq!(find(&p, "VIEW v").entry.defn.as_deref(), Some("dummy"));
    let rule = find(&p, "RULE v _RETURN");
    assert_eq!(rule.entry.section, Section::PostData);
    assert_eq!(rule.deps, vec![1, 2], "the rule follows the view and the function");
    assert_eq!(find(&p, "FUNCTION f()").deps, vec![1]);
}

#[test]
fn a_matview_relying_on_a_primary_key_moves_to_post_data() {
    // mv's rule depends on t's primary key (GROUP BY): repairMatViewBoundaryMultiLoop.
    let t = table("t", 20000);
    let pk = pkey("t_pkey", 20001, "t");
    let mut rows = view_rows(20010);
    rows.push(row(id(REWRITE, 20011), CatalogId::class(20000), b'n'));
    rows.push(row(id(REWRITE, 20011), id(CONSTRAINT, 20001), b'n'));
    let mut refresh = Entry::new(
        "MATERIALIZED VIEW DATA",
        Priority::RefreshMatview,
        Section::PostData,
        "mv",
    )
    .with_schema("public")
    .with_dep(Dep::Catalog(CatalogId::class(20010)));
    refresh.toc_oid = Some(20010);
    let data = Entry::new("TABLE DATA", Priority::TableData, Section::Data, "t")
        .with_schema("public")
        .with_dep(Dep::Catalog(CatalogId::class(20000)));
    let other = table("z", 20030);
    let p = plan_of(vec![t, pk, view("mv", 20010, b'm'), refresh, data, other], rows);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(
        tags(&p),
        [
            "TABLE t",
            "TABLE z",
            "TABLE DATA t",
            "CONSTRAINT t t_pkey",
            "MATERIALIZED VIEW mv",
            "MATERIALIZED VIEW DATA mv"
        ]
    );
    let mv = find(&p, "MATERIALIZED VIEW mv");
    assert_eq!(mv.entry.section, Section::PostData);
    assert_eq!(
        mv.entry.defn.as_deref(),
        Some("CREATE MATERIALIZED VIEW public.mv AS SELECT ...;\n")
    );
    assert_eq!(mv.deps, vec![1, 4]);
}

#[test]
fn a_function_relying_on_a_primary_key_moves_to_post_data() {
    // A SQL-standard body with GROUP BY on the key: repairFunctionBoundaryMultiLoop.
    let rows = vec![
        row(id(PROC, 20010), CatalogId::class(20000), b'n'),
        row(id(PROC, 20010), id(CONSTRAINT, 20001), b'n'),
    ];
    let p = plan_of(
        vec![func("f", 20010), table("t", 20000), pkey("t_pkey", 20001, "t")],
        rows,
    );
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(tags(&p), ["TABLE t", "CONSTRAINT t t_pkey", "FUNCTION f()"]);
    assert_eq!(find(&p, "FUNCTION f()").entry.section, Section::PostData);
}

/// A table with an inline CHECK (constraint 20005) and the CHECK CONSTRAINT it would become.
fn table_with_check() -> Entry {
    let mut t = table_with_rowtype("t", 20000);
    let separate = Entry::new("CHECK CONSTRAINT", Priority::Constraint, Section::PostData, "t_ok")
        .with_schema("public")
        .with_key(id(CONSTRAINT, 20005))
        .with_tag("t t_ok")
        .with_defn("ALTER TABLE public.t\n    ADD CONSTRAINT t_ok CHECK (public.ok(NULL::public.t));\n");
    t.parts.push(
        Part::new(PartKind::Check, id(CONSTRAINT, 20005), Priority::Constraint, "t_ok")
            .with_sort_extra(vec!["1".into(), "t".into()])
            .with_separate(separate),
    );
    t
}

#[test]
fn a_check_on_its_own_table_stays_inline() {
    let rows = vec![row(id(CONSTRAINT, 20005), CatalogId::class(20000), b'a')];
    let p = plan_of(vec![table_with_check()], rows);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(tags(&p), ["TABLE t"]);
    assert_eq!(
        p.entries[0].entry.defn.as_deref(),
        Some("CREATE TABLE public.t (...);\n")
    );
}

#[test]
fn a_check_calling_a_function_of_the_row_type_is_split_out() {
    // CHECK → ok(t) → t's row type → t: repairTableConstraintMultiLoop.
    let rows = vec![
        row(id(CONSTRAINT, 20005), CatalogId::class(20000), b'a'),
        row(id(CONSTRAINT, 20005), id(PROC, 20010), b'n'),
        row(id(PROC, 20010), id(TYPE, 20001), b'n'),
        row(id(TYPE, 20001), CatalogId::class(20000), b'i'),
    ];
    let p = plan_of(vec![func("ok", 20010), table_with_check()], rows);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(tags(&p), ["TABLE t", "FUNCTION ok()", "CHECK CONSTRAINT t t_ok"]);
    assert_eq!(
        p.entries[0].entry.defn.as_deref(),
        Some("CREATE TABLE public.t without 20005")
    );
    let c = find(&p, "CHECK CONSTRAINT t t_ok");
    assert_eq!(c.entry.section, Section::PostData);
    assert_eq!(c.deps, vec![1, 2]);
    assert!(p.entries[0].deps.is_empty());
}

/// A table with an inline default (pg_attrdef 20005) on column `v`.
fn table_with_default() -> Entry {
    let mut t = table_with_rowtype("t", 20000);
    let separate = Entry::new("DEFAULT", Priority::AttrDef, Section::PreData, "t")
        .with_schema("public")
        .with_key(id(ATTRDEF, 20005))
        .with_tag("t v")
        .with_defn("ALTER TABLE ONLY public.t ALTER COLUMN v SET DEFAULT public.next_v(NULL::public.t);\n");
    t.parts.push(
        Part::new(PartKind::Default, id(ATTRDEF, 20005), Priority::AttrDef, "t")
            .with_sort_extra(vec!["00002".into()])
            .with_separate(separate),
    );
    t
}

#[test]
fn a_default_on_its_own_table_stays_inline() {
    let rows = vec![row(id(ATTRDEF, 20005), CatalogId::class(20000), b'a')];
    let p = plan_of(vec![table_with_default()], rows);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(tags(&p), ["TABLE t"]);
    assert_eq!(
        p.entries[0].entry.defn.as_deref(),
        Some("CREATE TABLE public.t (...);\n")
    );
}

#[test]
fn a_default_in_a_longer_loop_becomes_a_pre_data_default() {
    // default → next_v(t) → t's row type → t: repairTableAttrDefMultiLoop; likewise a serial
    // column (default → sequence → table).
    let rows = vec![
        row(id(ATTRDEF, 20005), CatalogId::class(20000), b'a'),
        row(id(ATTRDEF, 20005), id(PROC, 20010), b'n'),
        row(id(PROC, 20010), id(TYPE, 20001), b'n'),
        row(id(TYPE, 20001), CatalogId::class(20000), b'i'),
    ];
    let data = Entry::new("TABLE DATA", Priority::TableData, Section::Data, "t")
        .with_schema("public")
        .with_dep(Dep::Catalog(CatalogId::class(20000)));
    let p = plan_of(vec![data, func("next_v", 20010), table_with_default()], rows);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(
        tags(&p),
        ["TABLE t", "FUNCTION next_v()", "DEFAULT t v", "TABLE DATA t"]
    );
    assert_eq!(find(&p, "DEFAULT t v").entry.section, Section::PreData);
    assert_eq!(find(&p, "DEFAULT t v").deps, vec![1, 2]);
    assert_eq!(
        p.entries[0].entry.defn.as_deref(),
        Some("CREATE TABLE public.t without 20005")
    );
}

/// A domain (pg_type 20000) with an inline CHECK (pg_constraint 20001).
fn domain_with_check() -> Entry {
    let mut d = Entry::new("DOMAIN", Priority::Type, Section::PreData, "posint")
        .with_schema("public")
        .with_key(id(TYPE, 20000))
        .with_defn("CREATE DOMAIN public.posint AS integer\n\tCONSTRAINT posint_check CHECK (...);\n");
    d.render = Some(render_naming_split("CREATE DOMAIN public.posint AS integer"));
    let separate = Entry::new(
        "CHECK CONSTRAINT",
        Priority::Constraint,
        Section::PostData,
        "posint_check",
    )
    .with_schema("public")
    .with_key(id(CONSTRAINT, 20001))
    .with_tag("posint posint_check");
    d.parts.push(
        Part::new(
            PartKind::DomainConstraint,
            id(CONSTRAINT, 20001),
            Priority::Constraint,
            "posint_check",
        )
        .with_sort_extra(vec!["0".into(), "posint".into()])
        .with_separate(separate),
    );
    d
}

#[test]
fn a_domain_check_stays_inline_unless_in_a_longer_loop() {
    let alone = vec![row(id(CONSTRAINT, 20001), id(TYPE, 20000), b'a')];
    let p = plan_of(vec![domain_with_check()], alone.clone());
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(tags(&p), ["DOMAIN posint"]);
    assert!(
        p.entries[0]
            .entry
            .defn
            .as_deref()
            .unwrap()
            .contains("CONSTRAINT posint_check")
    );

    // CHECK (is_pos(VALUE)) with is_pos(posint): repairDomainConstraintMultiLoop.
    let mut rows = alone;
    rows.push(row(id(CONSTRAINT, 20001), id(PROC, 20010), b'n'));
    rows.push(row(id(PROC, 20010), id(TYPE, 20000), b'n'));
    let p = plan_of(vec![func("is_pos", 20010), domain_with_check()], rows);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(
        tags(&p),
        [
            "DOMAIN posint",
            "FUNCTION is_pos()",
            "CHECK CONSTRAINT posint posint_check"
        ]
    );
    assert_eq!(
        p.entries[0].entry.defn.as_deref(),
        Some("CREATE DOMAIN public.posint AS integer without 20001")
    );
    assert_eq!(p.entries[2].entry.section, Section::PostData);
}

#[test]
fn a_partitioned_index_loop_drops_the_partition_side() {
    let parent = Entry::new("INDEX", Priority::Index, Section::PostData, "p_idx")
        .with_schema("public")
        .with_key(CatalogId::class(20000));
    let child = Entry::new("INDEX", Priority::Index, Section::PostData, "c_idx")
        .with_schema("public")
        .with_key(CatalogId::class(20001));
    let rows = vec![
        row(CatalogId::class(20001), CatalogId::class(20000), b'P'),
        row(CatalogId::class(20000), CatalogId::class(20001), b'n'),
    ];
    let p = plan_of(vec![parent, child], rows);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    // The partition's index no longer waits for its parent; the parent waits for it.
    assert_eq!(tags(&p), ["INDEX c_idx", "INDEX p_idx"]);
}

#[test]
fn a_table_depending_on_itself_is_no_loop() {
    let t = table("t", 20000).with_dep(Dep::Entry(0));
    let p = plan_of(vec![t], Vec::new());
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(tags(&p), ["TABLE t"]);
}

fn data(name: &str, table: u32) -> Entry {
    Entry::new("TABLE DATA", Priority::TableData, Section::Data, name)
        .with_schema("public")
        .with_dep(Dep::Catalog(CatalogId::class(table)))
}

#[test]
fn circular_foreign_keys_between_table_data_warn_like_pg_dump() {
    // Data-only dumps order data by foreign keys; a and b reference each other, s itself.
    let a = data("a", 20000).with_dep(Dep::Entry(3));
    let b = data("b", 20001).with_dep(Dep::Entry(2));
    let s = data("s", 20002).with_dep(Dep::Entry(4));
    let p = plan_of(vec![table("a", 20000), table("b", 20001), a, b, s], Vec::new());
    assert_eq!(p.entries.len(), 5);
    assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
    let mut seen: Vec<Vec<String>> = p
        .warnings
        .iter()
        .map(|w| match w {
            PlanWarning::CircularForeignKeys(t) => {
                let mut t = t.clone();
                t.sort();
                t
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    seen.sort();
    assert_eq!(seen, [vec!["a".to_string(), "b".into()], vec!["s".into()]]);
    assert_eq!(
        PlanWarning::CircularForeignKeys(vec!["s".into()]).to_string(),
        "there are circular foreign-key constraints on this table:\ndetail: s\n\
         hint: You might not be able to restore the dump without using --disable-triggers or temporarily \
         dropping the constraints.\nhint: Consider using a full dump instead of a --data-only dump to avoid \
         this problem."
    );
    assert!(
        PlanWarning::CircularForeignKeys(vec!["a".into(), "b".into()])
            .to_string()
            .starts_with("there are circular foreign-key constraints among these tables:\ndetail: a\ndetail: b\n")
    );
}

#[test]
fn an_unresolvable_loop_warns_and_is_broken() {
    // A pre-data table that needs a post-data index: no rule applies.
    let idx = Entry::new("INDEX", Priority::Index, Section::PostData, "i")
        .with_schema("public")
        .with_key(CatalogId::class(20001));
    let t = table("t", 20000).with_dep(Dep::Catalog(CatalogId::class(20001)));
    let p = plan_of(vec![t, idx], Vec::new());
    assert_eq!(p.entries.len(), 2);
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    let text = p.warnings[0].to_string();
    assert!(
        text.starts_with("could not resolve dependency loop among these items:\n"),
        "{text}"
    );
    assert!(text.contains("detail: TABLE t  (OID 20000)"), "{text}");
    assert!(text.contains("detail: INDEX i  (OID 20001)"), "{text}");
    assert!(text.contains("BOUNDARY"), "{text}");
}

#[test]
fn a_type_and_a_function_in_a_loop_drop_the_functions_dependency() {
    // A domain whose default calls a function taking the domain: pg_dump's
    // repairTypeFuncLoop drops the function's dependency on the type (there is no shell type
    // to point it at; base types' loops are broken by the type reader).
    let d = Entry::new("DOMAIN", Priority::Type, Section::PreData, "d")
        .with_schema("public")
        .with_key(id(TYPE, 20000));
    let rows = vec![
        row(id(TYPE, 20000), id(PROC, 20001), b'n'),
        row(id(PROC, 20001), id(TYPE, 20000), b'n'),
    ];
    let p = plan_of(vec![d, func("f", 20001)], rows);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(tags(&p), ["FUNCTION f()", "DOMAIN d"]);
    assert!(find(&p, "FUNCTION f()").deps.is_empty());
    assert_eq!(find(&p, "DOMAIN d").deps, vec![1]);
}

#[test]
fn sections_follow_the_boundaries() {
    // A data entry sorted (by name) before a pre-data one still comes after it, and a
    // post-data entry after all data.
    let a = data("a", 20000);
    let late = Entry::new("TABLE ATTACH", Priority::TableAttach, Section::PreData, "zz").with_schema("public");
    let fk = Entry::new("FK CONSTRAINT", Priority::FkConstraint, Section::PostData, "a_fk").with_schema("public");
    let p = plan_of(vec![fk, a, late, table("a", 20000)], Vec::new());
    assert_eq!(
        tags(&p),
        ["TABLE a", "TABLE ATTACH zz", "TABLE DATA a", "FK CONSTRAINT a_fk"]
    );
    assert_eq!(p.entries[2].deps, vec![1]);
}

#[test]
fn matview_statistics_follow_the_refresh_into_post_data() {
    // 18's statistics of a matview wait for its REFRESH (post-data) but are data: the loop
    // through the post-data boundary moves them (repairMatViewBoundaryMultiLoop).
    let mut refresh = Entry::new(
        "MATERIALIZED VIEW DATA",
        Priority::RefreshMatview,
        Section::PostData,
        "mv",
    )
    .with_schema("public")
    .with_dep(Dep::Catalog(CatalogId::class(20010)));
    refresh.toc_oid = Some(20010);
    let mut stats = Entry::new("STATISTICS DATA", Priority::StatisticsData, Section::Data, "mv")
        .with_schema("public")
        .with_dep(Dep::Entry(1));
    stats.relkind = Some(b'm');
    let idx = Entry::new("INDEX", Priority::Index, Section::PostData, "mv_idx")
        .with_schema("public")
        .with_dep(Dep::Catalog(CatalogId::class(20010)));
    let p = plan_of(vec![view("mv", 20010, b'm'), refresh, stats, idx], view_rows(20010));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(
        tags(&p),
        // The statistics pull the refresh forward, ahead of later post-data entries (as in
        // pg_dump 18's TOCs).
        [
            "MATERIALIZED VIEW mv",
            "MATERIALIZED VIEW DATA mv",
            "STATISTICS DATA mv",
            "INDEX mv_idx"
        ]
    );
    assert_eq!(find(&p, "STATISTICS DATA mv").entry.section, Section::PostData);
    assert_eq!(find(&p, "MATERIALIZED VIEW mv").entry.section, Section::PreData);
}

#[test]
fn a_constraint_index_sorts_as_an_index_and_prints_only_its_comment() {
    // A partition's primary key whose index is attached to the parent's index: the
    // constraint does not wait for the parent index, its index (and the index's comment)
    // does (pg_dump's constraint index is a DO_INDEX of its own).
    let parent = Entry::new("INDEX", Priority::Index, Section::PostData, "p_idx")
        .with_schema("public")
        .with_key(CatalogId::class(20000));
    let mut pk = pkey("c_pkey", 20010, "c");
    let comment = Entry::new("COMMENT", Priority::Index, Section::None, "c_pkey")
        .with_schema("public")
        .with_tag("INDEX c_pkey");
    pk.parts.push(
        Part::new(
            PartKind::ConstraintIndex,
            CatalogId::class(20011),
            Priority::Index,
            "c_pkey",
        )
        .with_separate(comment),
    );
    let rows = vec![
        row(CatalogId::class(20011), CatalogId::class(20000), b'P'),
        row(CatalogId::class(20011), id(CONSTRAINT, 20010), b'i'),
    ];
    let p = plan_of(vec![parent, pk], rows);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(tags(&p), ["CONSTRAINT c c_pkey", "INDEX p_idx", "COMMENT INDEX c_pkey"]);
    assert_eq!(p.entries[0].deps, Vec::<i32>::new());
    assert_eq!(p.entries[2].deps, vec![1], "the comment follows the constraint");
}
