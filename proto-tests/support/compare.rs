//! Running pgsnap against stock pg_dump on the same database: dump both, restore with stock
//! pg_restore, compare listings, schemas and data. Shared by `proto-tests/` and `compat/`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{Cluster, Fingerprint, Scratch, ScratchPath, TestDb};

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(super::project_root().join("fixtures").join(name)).expect("read fixture")
}

/// The pgsnap binary under test: cargo's for test and bench targets; `PGSNAP_BIN` (or
/// `target/debug/pgsnap`) for the `regress` example, which cargo gives no binary path.
pub fn pgsnap_bin() -> PathBuf {
    match option_env!("CARGO_BIN_EXE_pgsnap") {
        Some(p) => PathBuf::from(p),
        None => std::env::var_os("PGSNAP_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| super::project_root().join("target/debug/pgsnap")),
    }
}

pub fn pgsnap() -> Command {
    let mut c = Command::new(pgsnap_bin());
    c.env_remove("PGHOST")
        .env_remove("PGPORT")
        .env_remove("PGUSER")
        .env_remove("PGDATABASE")
        .env_remove("PGPASSWORD");
    c
}

/// `pgsnap dump -Fd` of `db` into a fresh directory; returns the archive path (owning the
/// directory) and the run's output, whatever its exit status.
pub fn try_dump(cluster: &Cluster, db: &str, extra: &[&str]) -> (ScratchPath, Output) {
    let out = ScratchPath::new("pgsnap-out", "archive");
    let res = pgsnap()
        .args(["dump", "-Fd", "-h"])
        .arg(cluster.socket_dir())
        .args(["-p", &cluster.port.to_string(), "-U", "postgres", "-f"])
        .arg(&out)
        .args(extra)
        .arg(db)
        .output()
        .unwrap();
    (out, res)
}

/// `pgsnap dump -Fd` of `db` that must succeed; returns the archive path.
pub fn dump(cluster: &Cluster, db: &str, extra: &[&str]) -> ScratchPath {
    let (out, res) = try_dump(cluster, db, extra);
    assert!(
        res.status.success(),
        "pgsnap dump failed:\n{}",
        String::from_utf8_lossy(&res.stderr)
    );
    out
}

pub fn check_ok(what: &str, out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("error"),
        "{what} failed ({}):\n{stderr}",
        out.status
    );
}

/// Stock `pg_restore -l -C` entry lines without their dump ids (`tableoid oid desc schema
/// tag owner`), in TOC order; `-C` adds the database-level entries.
pub fn listing(cluster: &Cluster, major: u32, archive: &Path) -> Vec<String> {
    let out = cluster
        .tool_of(major, "pg_restore")
        .args(["-l", "-C"])
        .arg(archive)
        .output()
        .unwrap();
    check_ok("pg_restore -l", &out);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| l.split_once("; ").map(|(_, r)| r).unwrap_or(l).trim_end().to_string())
        .collect()
}

pub fn multiset(lines: &[String]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for l in lines {
        *m.entry(l.clone()).or_insert(0) += 1;
    }
    m
}

pub fn multiset_diff(a: &BTreeMap<String, usize>, b: &BTreeMap<String, usize>) -> String {
    let mut out = String::new();
    for (k, n) in a {
        let m = b.get(k).copied().unwrap_or(0);
        if m != *n {
            out.push_str(&format!("  ours {n} x, stock {m} x: {k}\n"));
        }
    }
    for (k, m) in b {
        if !a.contains_key(k) {
            out.push_str(&format!("  ours 0 x, stock {m} x: {k}\n"));
        }
    }
    out
}

/// The full round trip of one fixture on one server version; the entry listing is compared
/// with stock pg_dump of the same major.
pub fn roundtrip(major: u32, fixtures: &[&str]) {
    roundtrip_against(major, major, fixtures);
}

/// As `roundtrip`, with the listing compared against stock pg_dump `oracle` (pgsnap follows
/// the newest pg_dump where older ones differed). Returns what pgsnap printed on stderr.
pub fn roundtrip_against(major: u32, oracle: u32, fixtures: &[&str]) -> String {
    roundtrip_with(major, oracle, fixtures, &[])
}

/// As `roundtrip_against`, with `extra` arguments for pgsnap dump (`--archive-version`).
pub fn roundtrip_with(major: u32, oracle: u32, fixtures: &[&str], extra: &[&str]) -> String {
    let sql: String = fixtures.iter().map(|f| fixture(f)).collect::<Vec<_>>().join("\n");
    let db = TestDb::new(major, "rt", &sql);
    let c = &db.cluster;
    let source = Fingerprint::of(c, &db.name);
    let mut args = vec!["-j", "2"];
    args.extend_from_slice(extra);
    let (archive, res) = try_dump(c, &db.name, &args);
    let dump_stderr = String::from_utf8_lossy(&res.stderr).into_owned();
    assert!(res.status.success(), "pgsnap dump failed:\n{dump_stderr}");
    // Every object is dumped and every dependency loop resolved as pg_dump resolves it.
    for unwanted in ["not supported yet", "could not resolve dependency loop"] {
        assert!(
            !dump_stderr.contains(unwanted),
            "PostgreSQL {major}: pgsnap dump warned ({unwanted}):\n{dump_stderr}"
        );
    }

    // 1. pg_restore -j 2 into a fresh database: zero errors, same schema and data.
    let target = c.create_database("rt_restored", "");
    let out = c
        .tool("pg_restore")
        .args(["-j", "2", "-d", &target])
        .arg(&archive)
        .output()
        .unwrap();
    check_ok("pg_restore -j 2", &out);
    let restored = Fingerprint::of(c, &target);
    let diff = source.diff(&restored);
    assert!(
        diff.is_empty(),
        "PostgreSQL {major}: restored database differs from the source:\n{diff}"
    );

    // 2. pg_restore -f - piped through psql (script mode): zero errors, same result.
    let script = c.tool("pg_restore").args(["-f", "-"]).arg(&archive).output().unwrap();
    check_ok("pg_restore -f -", &script);
    let target2 = c.create_database("rt_script", "");
    c.psql(&target2, &String::from_utf8_lossy(&script.stdout));
    let diff = source.diff(&Fingerprint::of(c, &target2));
    assert!(diff.is_empty(), "PostgreSQL {major}: script restore differs:\n{diff}");

    // 3. pg_restore -l lists the same entries as stock pg_dump's archive.
    let stock = Scratch::new("pgsnap-stock");
    let stock_dir = stock.path().join("stock");
    let out = c
        .tool_of(oracle, "pg_dump")
        .args(["-Fd", "-f"])
        .arg(&stock_dir)
        .arg(&db.name)
        .output()
        .unwrap();
    check_ok("stock pg_dump", &out);
    let ours = listing(c, oracle, &archive);
    let theirs = listing(c, oracle, &stock_dir);
    let d = multiset_diff(&multiset(&ours), &multiset(&theirs));
    assert!(
        d.is_empty(),
        "PostgreSQL {major}: pg_restore -l differs from stock pg_dump's:\n{d}"
    );
    // Same entries in the same order: the planner reproduces pg_dump_sort.c.
    if let Some(i) = (0..ours.len()).find(|&i| ours[i] != theirs[i]) {
        panic!(
            "PostgreSQL {major}: TOC order differs from stock pg_dump's at entry {i}:\n  ours:  {}\n  stock: {}",
            ours[i], theirs[i]
        );
    }

    for d in [target, target2] {
        c.drop_database(&d);
    }
    dump_stderr
}

// ---------------------------------------------------------------------------------------------
// The measuring stick of issue 8: pgsnap's archive against stock pg_dump's, both restored by
// stock pg_restore into fresh databases, the restored databases compared entry by entry.
// `compat/suite.rs` runs it on small fixtures, `compat/regress.rs` on PostgreSQL's regression
// database.

/// Who writes the archive that is compared with stock pg_dump's.
#[derive(Debug, Clone)]
pub enum Candidate {
    /// `pgsnap dump -Fd -j N` plus these arguments.
    Pgsnap(Vec<String>),
    /// Stock `pg_dump -Fd -j N` of this major plus these arguments: the comparison's own
    /// tests use it to show that equal archives compare equal and different ones do not.
    Stock(u32, Vec<String>),
}

impl Candidate {
    pub fn pgsnap() -> Candidate {
        Candidate::Pgsnap(Vec::new())
    }

    fn name(&self) -> String {
        match self {
            Candidate::Pgsnap(_) => "pgsnap".into(),
            Candidate::Stock(m, args) => format!("pg_dump {m} {}", args.join(" ")).trim_end().into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CompareOptions {
    pub candidate: Candidate,
    /// `-j` of both dumps and both restores.
    pub jobs: u32,
    /// The TOC order must equal stock's too (not only the entry multisets).
    pub check_order: bool,
    /// For servers whose pg_dump leaves the `public` schema out (14): the newer pg_dump whose
    /// `public` schema entries pgsnap writes; exactly those entries may be extra.
    pub public_schema_from: Option<u32>,
    /// Keep the archives and the restored databases (their names are in the report).
    pub keep: bool,
}

impl CompareOptions {
    /// What the compat suite and `scripts/regress` use for a server of `major`.
    pub fn for_major(major: u32) -> CompareOptions {
        CompareOptions {
            candidate: Candidate::pgsnap(),
            jobs: 2,
            check_order: true,
            // pg_dump 14 leaves the public schema out; pg_dump 15+ writes its owner, ACL and
            // comment, also against a 14 server, and pgsnap follows them (compat/README.md).
            public_schema_from: (major < 15).then_some(18),
            keep: false,
        }
    }
}

/// One side of the comparison: an archive and the database it was restored into.
#[derive(Debug, Clone)]
pub struct Side {
    pub name: String,
    pub archive: PathBuf,
    pub dump_secs: f64,
    pub listing: Vec<TocLine>,
    pub restored_db: String,
    pub restore: RestoreLog,
    /// Parallel restores of this archive that deadlocked and were repeated (after four, the
    /// restore ran serially).
    pub deadlocked_restores: usize,
    pub schema: Vec<SchemaEntry>,
    pub data: Fingerprint,
}

/// The result: every difference between the candidate's restored database and stock's.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub major: u32,
    pub check_order: bool,
    pub stock: Side,
    pub candidate: Side,
    /// The candidate's dump failed: its stderr (nothing else was compared).
    pub candidate_failed: Option<String>,
    /// pgsnap's warnings (`WARN` lines), without timestamps.
    pub warnings: Vec<String>,
    /// Listing lines the candidate may have beyond stock's (see `public_schema_from`).
    pub allowed_extra: Vec<String>,
    pub toc_missing: Vec<TocLine>,
    pub toc_extra: Vec<TocLine>,
    /// Entries both list, with other catalog ids: (key, stock's ids, candidate's ids).
    pub toc_ids: Vec<(String, String, String)>,
    /// First position where the TOC orders differ: (index, stock's, candidate's).
    pub order: Option<(usize, String, String)>,
    pub schema_diffs: Vec<EntryDiff>,
    /// Tables whose rows stock's own restore lost (its TABLE DATA failed, say pg_dump 14's
    /// unordered extension configuration tables) while the candidate's restore holds the
    /// source's rows: the source's contents stand in for stock's.
    pub stock_lost: Vec<String>,
}

use super::entries::{
    EntryDiff, RestoreError, RestoreLog, SchemaEntry, TocLine, diff_entries, parse_listing, parse_plain,
    parse_restore_log, strip_ansi,
};

fn run(mut c: Command, what: &str) -> Output {
    c.output().unwrap_or_else(|e| panic!("{what}: cannot run: {e}"))
}

fn must(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `pg_restore -l -C` of an archive, parsed.
fn toc_of(cluster: &Cluster, major: u32, archive: &Path) -> Vec<TocLine> {
    let mut c = cluster.tool_of(major, "pg_restore");
    c.args(["-l", "-C"]).arg(archive);
    let out = must(
        run(c, "pg_restore -l"),
        &format!("pg_restore {major} -l {}", archive.display()),
    );
    parse_listing(&String::from_utf8_lossy(&out.stdout))
}

/// The database-level entries of an archive (`CREATE DATABASE`, `DATABASE PROPERTIES`, the
/// database's comment, ACL and security labels): pg_restore runs them only with `-C`, so they
/// are compared as the archive renders them rather than after a restore.
fn database_entries(cluster: &Cluster, archive: &Path) -> Vec<SchemaEntry> {
    let mut c = cluster.tool("pg_restore");
    c.args(["-C", "-s", "-f", "-"]).arg(archive);
    let out = must(run(c, "pg_restore -C -s"), "pg_restore -C -s -f -");
    parse_plain(&String::from_utf8_lossy(&out.stdout))
        .into_iter()
        .filter(|e| {
            matches!(e.desc.as_str(), "DATABASE" | "DATABASE PROPERTIES")
                || (matches!(e.desc.as_str(), "COMMENT" | "ACL" | "SECURITY LABEL") && e.name.starts_with("DATABASE "))
        })
        .collect()
}

/// Restores `archive` with stock `pg_restore -v -j N` into a fresh database; returns the
/// database, what pg_restore said about errors, and how many parallel attempts deadlocked.
/// Parallel pg_restore deadlocks on its own now and then when partition trees carry
/// triggers, foreign keys and index attachments (stock pg_dump's archives as much as
/// pgsnap's): its lock-conflict check knows only the tables an entry lists, not the
/// partitions a command recurses into. A run with a deadlock is not a verdict on the
/// archive (its other errors follow from the lost command), so it is repeated into a fresh
/// database, up to four times, and then restored serially (`-j 1`), which cannot deadlock.
fn restore_fresh(cluster: &Cluster, archive: &Path, prefix: &str, jobs: u32) -> (String, RestoreLog, usize) {
    let mut deadlocked = 0;
    loop {
        let db = cluster.create_database(prefix, "");
        let jobs = if deadlocked < 4 { jobs } else { 1 };
        let mut c = cluster.tool("pg_restore");
        c.args(["-v", "-j", &jobs.to_string(), "-d", &db]).arg(archive);
        let out = run(c, "pg_restore");
        let mut log = parse_restore_log(&String::from_utf8_lossy(&out.stderr));
        if !out.status.success() && log.count() == 0 {
            log.errors.push(RestoreError {
                entry: None,
                kind: "?".into(),
                message: format!(
                    "pg_restore exited with {} without counting errors: {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
                ),
                command: String::new(),
            });
        }
        if jobs > 1 && log.errors.iter().any(|e| e.message.contains("deadlock detected")) {
            deadlocked += 1;
            cluster.drop_database(&db);
            continue;
        }
        return (db, log, deadlocked);
    }
}

fn schema_entries(cluster: &Cluster, db: &str) -> Vec<SchemaEntry> {
    let mut c = cluster.tool("pg_dump");
    c.args(["-s", "-d", db]);
    let out = must(run(c, "pg_dump -s"), &format!("stock pg_dump -s {db}"));
    parse_plain(&String::from_utf8_lossy(&out.stdout))
}

fn empty_side(name: String, archive: PathBuf) -> Side {
    Side {
        name,
        archive,
        dump_secs: 0.0,
        listing: Vec::new(),
        restored_db: String::new(),
        restore: RestoreLog::default(),
        deadlocked_restores: 0,
        schema: Vec::new(),
        data: Fingerprint {
            tables: BTreeMap::new(),
            sequences: BTreeMap::new(),
            large_objects: BTreeMap::new(),
            unreadable: Vec::new(),
            schema: String::new(),
        },
    }
}

/// The warning lines of a pgsnap run, colour and timestamps removed.
fn warnings_of(stderr: &str) -> Vec<String> {
    strip_ansi(stderr)
        .lines()
        .filter_map(|l| {
            l.split_once(" WARN ")
                .map(|(_, w)| w)
                .or_else(|| l.split_once("warning: ").map(|(_, w)| w))
                .map(|w| w.trim().to_string())
        })
        .collect()
}

/// Dumps `db` of `cluster` with stock pg_dump of the server's major and with the candidate,
/// restores both with stock pg_restore into fresh databases and compares them.
pub fn compare_with_stock(cluster: &Cluster, db: &str, opts: &CompareOptions) -> Comparison {
    let major = cluster.major;
    let jobs = opts.jobs.to_string();
    let work = tempfile::Builder::new()
        .prefix("pgsnap-compare")
        .tempdir()
        .expect("tempdir");
    let work_dir = work.path().to_path_buf();
    let _guard = if opts.keep {
        let _ = work.keep();
        None
    } else {
        Some(work)
    };

    // Stock pg_dump: the reference. If it fails, the measurement itself is broken.
    let stock_archive = work_dir.join("stock");
    let t = std::time::Instant::now();
    let mut c = cluster.tool("pg_dump");
    c.args(["-Fd", "-j", &jobs, "-f"]).arg(&stock_archive).arg(db);
    must(run(c, "pg_dump"), &format!("stock pg_dump {major} -Fd of {db}"));
    let mut stock = empty_side(format!("pg_dump {major}"), stock_archive);
    stock.dump_secs = t.elapsed().as_secs_f64();

    let cand_archive = work_dir.join("candidate");
    let mut candidate = empty_side(opts.candidate.name(), cand_archive.clone());
    let t = std::time::Instant::now();
    let (out, warnings) = match &opts.candidate {
        Candidate::Pgsnap(args) => {
            let mut c = pgsnap();
            c.args(["dump", "-Fd", "-j", &jobs, "-h"])
                .arg(cluster.socket_dir())
                .args(["-p", &cluster.port.to_string(), "-U", "postgres", "-f"])
                .arg(&cand_archive)
                .args(args)
                .arg(db)
                .env("NO_COLOR", "1");
            let out = run(c, "pgsnap dump");
            let w = warnings_of(&String::from_utf8_lossy(&out.stderr));
            (out, w)
        }
        Candidate::Stock(m, args) => {
            let mut c = cluster.tool_of(*m, "pg_dump");
            c.args(["-Fd", "-j", &jobs, "-f"]).arg(&cand_archive).args(args).arg(db);
            (run(c, "pg_dump"), Vec::new())
        }
    };
    candidate.dump_secs = t.elapsed().as_secs_f64();

    let mut cmp = Comparison {
        major,
        check_order: opts.check_order,
        stock,
        candidate,
        candidate_failed: None,
        warnings,
        allowed_extra: Vec::new(),
        toc_missing: Vec::new(),
        toc_extra: Vec::new(),
        toc_ids: Vec::new(),
        order: None,
        schema_diffs: Vec::new(),
        stock_lost: Vec::new(),
    };
    if !out.status.success() {
        cmp.candidate_failed = Some(strip_ansi(&String::from_utf8_lossy(&out.stderr)));
        return cmp;
    }

    // 1. pg_restore -l entry sets (and order) of the two archives.
    cmp.stock.listing = toc_of(cluster, major, &cmp.stock.archive);
    cmp.candidate.listing = toc_of(cluster, major, &cmp.candidate.archive);
    if let Some(newer) = opts.public_schema_from {
        let dir = work_dir.join("public-schema-oracle");
        let mut c = cluster.tool_of(newer, "pg_dump");
        c.args(["-Fd", "-s", "-f"]).arg(&dir).arg(db);
        must(run(c, "pg_dump"), &format!("pg_dump {newer} -s of {db}"));
        let stock_keys: Vec<&str> = cmp.stock.listing.iter().map(|l| l.key.as_str()).collect();
        cmp.allowed_extra = toc_of(cluster, newer, &dir)
            .into_iter()
            .filter(|l| is_public_schema_entry(l) && !stock_keys.contains(&l.key.as_str()))
            .map(|l| format!("{} {}", l.ids, l.key))
            .collect();
    }
    compare_listings(&mut cmp);

    // 2. Both archives restored with stock pg_restore into fresh databases.
    let prefix = format!("{}_cmp", db.chars().take(30).collect::<String>());
    for (side, who) in [(&mut cmp.stock, "stock"), (&mut cmp.candidate, "cand")] {
        (side.restored_db, side.restore, side.deadlocked_restores) =
            restore_fresh(cluster, &side.archive, &format!("{prefix}_{who}"), opts.jobs);
    }

    // 3. Restored schemas, entry by entry (plus the database-level entries of the archives).
    for side in [&mut cmp.stock, &mut cmp.candidate] {
        side.schema = schema_entries(cluster, &side.restored_db);
        side.schema.extend(database_entries(cluster, &side.archive));
        side.data = Fingerprint::data_of_tolerant(cluster, &side.restored_db);
    }
    cmp.schema_diffs = diff_entries(&cmp.stock.schema, &cmp.candidate.schema);
    if cmp.stock.restore.errors.iter().any(|e| e.kind == "TABLE DATA") {
        let source = Fingerprint::data_of_tolerant(cluster, db);
        for (table, rows) in &source.tables {
            let (s, c) = (cmp.stock.data.tables.get(table), cmp.candidate.data.tables.get(table));
            if s != Some(rows) && c == Some(rows) {
                cmp.stock_lost.push(format!("{table}: stock {s:?}, source {rows:?}"));
                cmp.stock.data.tables.insert(table.clone(), rows.clone());
            }
        }
    }

    if !opts.keep {
        for d in [&cmp.stock.restored_db, &cmp.candidate.restored_db] {
            cluster.drop_database(d);
        }
    }
    cmp
}

/// `SCHEMA - public` and the COMMENT / ACL / SECURITY LABEL entries on it.
fn is_public_schema_entry(l: &TocLine) -> bool {
    l.key.starts_with("SCHEMA - public ")
        || ["COMMENT", "ACL", "SECURITY LABEL"]
            .iter()
            .any(|d| l.key.starts_with(&format!("{d} - SCHEMA public ")))
}

fn compare_listings(cmp: &mut Comparison) {
    // Allowed extras are taken out of the candidate's listing once each.
    let mut cand: Vec<TocLine> = cmp.candidate.listing.clone();
    let mut allowed_missing = Vec::new();
    for a in &cmp.allowed_extra {
        match cand.iter().position(|l| format!("{} {}", l.ids, l.key) == *a) {
            Some(i) => {
                cand.remove(i);
            }
            None => allowed_missing.push(a.clone()),
        }
    }
    let mut count: BTreeMap<&str, Vec<&TocLine>> = BTreeMap::new();
    for l in &cand {
        count.entry(l.key.as_str()).or_default().push(l);
    }
    for l in &cmp.stock.listing {
        match count.get_mut(l.key.as_str()) {
            Some(v) if !v.is_empty() => {
                let c = v.remove(0);
                if c.ids != l.ids {
                    cmp.toc_ids.push((l.key.clone(), l.ids.clone(), c.ids.clone()));
                }
            }
            _ => cmp.toc_missing.push(l.clone()),
        }
    }
    cmp.toc_extra = count.into_values().flatten().cloned().collect();
    // An allowed extra the candidate lacks is missing like any other entry: pg_dump 15+
    // writes it.
    for a in allowed_missing {
        let l = parse_listing(&format!("0; {a}")).remove(0);
        cmp.toc_missing.push(l);
    }
    let (a, b): (Vec<&str>, Vec<&str>) = (
        cmp.stock.listing.iter().map(|l| l.key.as_str()).collect(),
        cand.iter().map(|l| l.key.as_str()).collect(),
    );
    cmp.order = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)).map(|i| {
        (
            i,
            a.get(i).unwrap_or(&"(end)").to_string(),
            b.get(i).unwrap_or(&"(end)").to_string(),
        )
    });
}

/// Counts for the results table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub schema_entries: usize,
    pub schema_differing: usize,
    pub restore_errors: usize,
    pub stock_restore_errors: usize,
    pub tables: usize,
    pub tables_equal: usize,
    pub sequences: usize,
    pub sequences_equal: usize,
    pub large_objects: usize,
    pub large_objects_equal: usize,
    pub toc_entries: usize,
    pub toc_missing: usize,
    pub toc_extra: usize,
    pub toc_ids: usize,
    pub warnings: usize,
}

fn equal_count<K: Ord, V: PartialEq>(a: &BTreeMap<K, V>, b: &BTreeMap<K, V>) -> usize {
    a.iter().filter(|(k, v)| b.get(*k) == Some(*v)).count()
}

impl Comparison {
    pub fn counts(&self) -> Counts {
        let (s, c) = (&self.stock.data, &self.candidate.data);
        Counts {
            schema_entries: self.stock.schema.len(),
            schema_differing: self.schema_diffs.len(),
            restore_errors: self.candidate.restore.count(),
            stock_restore_errors: self.stock.restore.count(),
            tables: s.tables.len(),
            tables_equal: equal_count(&s.tables, &c.tables),
            sequences: s.sequences.len(),
            sequences_equal: equal_count(&s.sequences, &c.sequences),
            large_objects: s.large_objects.len(),
            large_objects_equal: equal_count(&s.large_objects, &c.large_objects),
            toc_entries: self.stock.listing.len(),
            toc_missing: self.toc_missing.len(),
            toc_extra: self.toc_extra.len(),
            toc_ids: self.toc_ids.len(),
            warnings: self.warnings.len(),
        }
    }

    /// Tables, sequences and large objects whose contents differ (or exist on one side).
    pub fn data_diffs(&self) -> Vec<String> {
        let (s, c) = (&self.stock.data, &self.candidate.data);
        let mut out = Vec::new();
        fn side<K: Ord + std::fmt::Display, V: PartialEq + std::fmt::Debug>(
            what: &str,
            a: &BTreeMap<K, V>,
            b: &BTreeMap<K, V>,
            out: &mut Vec<String>,
        ) {
            for (k, v) in a {
                match b.get(k) {
                    None => out.push(format!("{what} {k}: missing from pgsnap's restore")),
                    Some(w) if w != v => out.push(format!("{what} {k}: stock {v:?}, pgsnap {w:?}")),
                    _ => {}
                }
            }
            for k in b.keys().filter(|k| !a.contains_key(*k)) {
                out.push(format!("{what} {k}: only in pgsnap's restore"));
            }
        }
        side("table", &s.tables, &c.tables, &mut out);
        side("sequence", &s.sequences, &c.sequences, &mut out);
        side("large object", &s.large_objects, &c.large_objects, &mut out);
        for u in &c.unreadable {
            if !s.unreadable.contains(u) {
                out.push(format!("{u}: unreadable in pgsnap's restore only"));
            }
        }
        out
    }

    /// Issue 8's acceptance: nothing differs, nothing failed, nothing was left out.
    pub fn is_equal(&self) -> bool {
        let c = self.counts();
        self.candidate_failed.is_none()
            && c.schema_differing == 0
            && c.restore_errors == 0
            && c.toc_missing == 0
            && c.toc_extra == 0
            && c.toc_ids == 0
            && self.data_diffs().is_empty()
            && !self
                .warnings
                .iter()
                .any(|w| w.contains("not supported yet") || w.contains("could not resolve"))
            && (!self.check_order || self.order.is_none())
    }

    /// The header of `summary_row`'s table.
    pub fn summary_header() -> &'static str {
        "| database | schema entries differing | restore errors | tables equal | sequences equal | large objects equal | TOC entries missing | TOC entries extra | pgsnap warnings |\n\
         |---|---|---|---|---|---|---|---|---|"
    }

    /// One markdown row of the results table.
    pub fn summary_row(&self, label: &str) -> String {
        if let Some(e) = &self.candidate_failed {
            let first = e.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            return format!("| {label} | pgsnap dump failed: {first} | | | | | | | |");
        }
        let c = self.counts();
        let stock_errors = if c.stock_restore_errors > 0 {
            format!(" (stock's: {})", c.stock_restore_errors)
        } else {
            String::new()
        };
        format!(
            "| {label} | {} of {} | {}{stock_errors} | {} / {} | {} / {} | {} / {} | {} of {} | {} | {} |",
            c.schema_differing,
            c.schema_entries,
            c.restore_errors,
            c.tables_equal,
            c.tables,
            c.sequences_equal,
            c.sequences,
            c.large_objects_equal,
            c.large_objects,
            c.toc_missing,
            c.toc_entries,
            c.toc_extra,
            c.warnings
        )
    }

    /// Per object kind: (schema entries differing, TOC missing, TOC extra, restore errors).
    pub fn by_kind(&self) -> BTreeMap<String, [usize; 4]> {
        let mut m: BTreeMap<String, [usize; 4]> = BTreeMap::new();
        for d in &self.schema_diffs {
            m.entry(d.kind.clone()).or_default()[0] += 1;
        }
        for l in &self.toc_missing {
            m.entry(l.kind.clone()).or_default()[1] += 1;
        }
        for l in &self.toc_extra {
            m.entry(l.kind.clone()).or_default()[2] += 1;
        }
        for e in &self.candidate.restore.errors {
            m.entry(e.kind.clone()).or_default()[3] += 1;
        }
        m
    }

    /// A markdown table of `by_kind`.
    pub fn kind_table(&self) -> String {
        let mut s = String::from(
            "| kind | schema entries differing | TOC entries missing | TOC entries extra | restore errors |\n|---|---|---|---|---|\n",
        );
        for (k, v) in self.by_kind() {
            let _ = writeln!(s, "| {k} | {} | {} | {} | {} |", v[0], v[1], v[2], v[3]);
        }
        s
    }

    /// Everything that differs, grouped by object kind, each schema entry with a short diff.
    pub fn details(&self) -> String {
        let mut s = String::new();
        if let Some(e) = &self.candidate_failed {
            let _ = writeln!(s, "{} failed:\n{e}", self.candidate.name);
            return s;
        }
        let _ = writeln!(
            s,
            "dump times: stock pg_dump {:.1}s, {} {:.1}s; restored into {} and {}",
            self.stock.dump_secs,
            self.candidate.name,
            self.candidate.dump_secs,
            self.stock.restored_db,
            self.candidate.restored_db
        );
        for side in [&self.stock, &self.candidate] {
            if side.deadlocked_restores > 0 {
                let _ = writeln!(
                    s,
                    "pg_restore -j of {}'s archive deadlocked {} time(s) and was repeated (serially after 4)",
                    side.name, side.deadlocked_restores
                );
            }
        }
        for l in &self.stock_lost {
            let _ = writeln!(
                s,
                "stock's restore lost rows, compared with the source instead: table {l}"
            );
        }
        if !self.allowed_extra.is_empty() {
            let _ = writeln!(
                s,
                "allowed beyond pg_dump {}'s listing (pg_dump 15+ writes them): {}",
                self.major,
                self.allowed_extra.join("; ")
            );
        }
        let mut groups: BTreeMap<&str, Vec<&EntryDiff>> = BTreeMap::new();
        for d in &self.schema_diffs {
            groups.entry(d.kind.as_str()).or_default().push(d);
        }
        if !groups.is_empty() {
            let _ = writeln!(
                s,
                "\n== Schema entries that differ ({}), by kind",
                self.schema_diffs.len()
            );
        }
        for (kind, ds) in &groups {
            let _ = writeln!(s, "\n-- {kind} ({})", ds.len());
            for d in ds {
                let _ = writeln!(s, "{} {}\n{}", d.what(), d.key, d.short(8).trim_end());
            }
        }
        for (title, lines) in [
            ("TOC entries missing from pgsnap's archive", &self.toc_missing),
            ("TOC entries only in pgsnap's archive", &self.toc_extra),
        ] {
            if lines.is_empty() {
                continue;
            }
            let _ = writeln!(s, "\n== {title} ({}), by kind", lines.len());
            let mut g: BTreeMap<&str, Vec<&TocLine>> = BTreeMap::new();
            for l in lines {
                g.entry(l.kind.as_str()).or_default().push(l);
            }
            for (kind, ls) in g {
                let _ = writeln!(s, "-- {kind} ({})", ls.len());
                for l in ls {
                    let _ = writeln!(s, "  {} {}", l.ids, l.key);
                }
            }
        }
        if !self.toc_ids.is_empty() {
            let _ = writeln!(s, "\n== TOC entries with other catalog ids ({})", self.toc_ids.len());
            for (k, a, b) in &self.toc_ids {
                let _ = writeln!(s, "  {k}: stock {a}, pgsnap {b}");
            }
        }
        if let Some((i, a, b)) = &self.order {
            let _ = writeln!(
                s,
                "\n== TOC order differs first at entry {i}:\n  stock:  {a}\n  pgsnap: {b}"
            );
        }
        for (who, log) in [
            (self.candidate.name.as_str(), &self.candidate.restore),
            ("stock pg_dump", &self.stock.restore),
        ] {
            if log.count() == 0 {
                continue;
            }
            let _ = writeln!(
                s,
                "\n== pg_restore errors restoring {who}'s archive ({}), by kind",
                log.count()
            );
            let mut g: BTreeMap<&str, Vec<&RestoreError>> = BTreeMap::new();
            for e in &log.errors {
                g.entry(e.kind.as_str()).or_default().push(e);
            }
            for (kind, es) in g {
                let _ = writeln!(s, "-- {kind} ({})", es.len());
                for e in es {
                    let _ = writeln!(
                        s,
                        "  [{}] {}\n    {}",
                        e.entry.as_deref().unwrap_or("?"),
                        e.message,
                        e.command
                    );
                }
            }
        }
        if !self.warnings.is_empty() {
            let _ = writeln!(s, "\n== pgsnap warnings ({}), by kind", self.warnings.len());
            let mut g: BTreeMap<String, Vec<&str>> = BTreeMap::new();
            for w in &self.warnings {
                g.entry(warning_kind(w)).or_default().push(w);
            }
            for (kind, ws) in g {
                let _ = writeln!(s, "-- {kind} ({})", ws.len());
                for w in ws {
                    let _ = writeln!(s, "  {w}");
                }
            }
        }
        let data = self.data_diffs();
        if !data.is_empty() {
            let _ = writeln!(s, "\n== Data that differs ({})", data.len());
            for d in data {
                let _ = writeln!(s, "  {d}");
            }
        }
        let both: Vec<&String> = self
            .stock
            .data
            .unreadable
            .iter()
            .filter(|u| self.candidate.data.unreadable.contains(u))
            .collect();
        if !both.is_empty() {
            let _ = writeln!(s, "\n(unreadable in both restores, not compared: {both:?})");
        }
        s
    }
}

/// Groups pgsnap's warnings: `not dumped (not supported yet): operator class x` → `not
/// dumped (not supported yet): operator class`.
pub fn warning_kind(w: &str) -> String {
    const KINDS: &[&str] = &[
        "access method",
        "base or shell type",
        "event trigger",
        "extended statistics",
        "extension configuration table",
        "foreign server",
        "foreign table",
        "foreign-data wrapper",
        "large object",
        "operator class",
        "operator family",
        "procedural language",
        "security label",
        "text search configuration",
        "text search dictionary",
        "text search parser",
        "text search template",
        "typed table",
    ];
    let (head, rest) = match w.split_once("): ") {
        Some((h, r)) => (format!("{h}): "), r),
        None => match w.split_once(" involving ") {
            Some((h, r)) => (format!("{h} involving "), r),
            None => return w.to_string(),
        },
    };
    // A count first ("2 large object(s)") is not the kind.
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ');
    let kind = KINDS
        .iter()
        .find(|k| rest.starts_with(**k))
        .map(|k| k.to_string())
        .unwrap_or_else(|| rest.split(' ').next().unwrap_or("").to_string());
    format!("{head}{kind}")
}
