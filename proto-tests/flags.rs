//! The flag-equivalence matrix: every pg_dump option that is not specific to a format, and
//! the pairs that interact, run through stock pg_dump 18 and `pgsnap dump` on one fixture
//! database (application schema, awkward data, tricky names) with `-Fd`. For each case:
//! the same `pg_restore -l` entries (as multisets of `desc schema tag owner`), the same
//! data as `pg_restore -a` prints it (so INSERT modes are compared statement by statement),
//! and equal fingerprints (schema and data) of the databases `pg_restore` makes of the two
//! archives, with the same number of restore errors (partial dumps restore partially, the
//! same way).
//!
//! One shared cluster, one fixture database, cases in parallel.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

use support::{Cluster, Fingerprint, Scratch};

const STOCK: u32 = 18;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(support::project_root().join("fixtures").join(name)).expect("read fixture")
}

/// pgsnap with the cluster's connection settings in the environment, as stock tools get them.
fn pgsnap(c: &Cluster) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgsnap"));
    cmd.env("PGHOST", c.socket_dir())
        .env("PGPORT", c.port.to_string())
        .env("PGUSER", "postgres")
        .env_remove("PGDATABASE")
        .env_remove("PGPASSWORD")
        .stdin(Stdio::null());
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `desc schema tag owner` of each entry of `pg_restore -l -C`, counted.
fn entries(c: &Cluster, stock: u32, archive: &Path) -> Result<BTreeMap<String, usize>, String> {
    let out = c
        .tool_of(stock, "pg_restore")
        .args(["-l", "-C"])
        .arg(archive)
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(format!("pg_restore -l {}: {}", archive.display(), text(&out)));
    }
    let mut m = BTreeMap::new();
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        if l.starts_with(';') || l.trim().is_empty() {
            continue;
        }
        // "id; tableoid oid desc schema tag owner"
        let rest = l.split_once("; ").map(|(_, r)| r).unwrap_or(l);
        let mut parts = rest.splitn(3, ' ');
        let (_, _, entry) = (parts.next(), parts.next(), parts.next().unwrap_or_default());
        *m.entry(entry.trim_end().to_string()).or_insert(0) += 1;
    }
    Ok(m)
}

fn multiset_diff(ours: &BTreeMap<String, usize>, stock: &BTreeMap<String, usize>) -> String {
    let mut out = String::new();
    for k in ours.keys().chain(stock.keys().filter(|k| !ours.contains_key(*k))) {
        let (a, b) = (ours.get(k).copied().unwrap_or(0), stock.get(k).copied().unwrap_or(0));
        if a != b {
            out.push_str(&format!("  ours {a} x, stock {b} x: {k}\n"));
        }
    }
    out
}

/// The data as `pg_restore -a -f -` prints it, without what differs between any two dumps
/// (dump ids, versions, the random \restrict key).
fn data_script(c: &Cluster, stock: u32, archive: &Path) -> Result<String, String> {
    let out = c
        .tool_of(stock, "pg_restore")
        .args(["-a", "-f", "-"])
        .arg(archive)
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(format!("pg_restore -a {}: {}", archive.display(), text(&out)));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            !(l.starts_with("\\restrict")
                || l.starts_with("\\unrestrict")
                || l.starts_with("-- TOC entry")
                || l.starts_with("-- Dependencies")
                || l.starts_with("-- Dumped"))
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

/// Restores an archive into a fresh database; returns its fingerprint and the number of
/// errors pg_restore reported (partial dumps restore with errors, both the same way).
fn restored(c: &Cluster, stock: u32, archive: &Path, prefix: &str) -> (Fingerprint, String) {
    let db = c.create_database(prefix, "");
    let errors = if archive.is_file() && !is_archive(archive) {
        // A plain script: psql runs it, every failing statement counted.
        let out = c
            .tool_of(stock, "psql")
            .args(["-X", "-q", "-d", &db, "-f"])
            .arg(archive)
            .output()
            .unwrap();
        let n = String::from_utf8_lossy(&out.stderr).matches("ERROR:").count();
        n.to_string()
    } else {
        let out = c
            .tool_of(stock, "pg_restore")
            .args(["-d", &db])
            .arg(archive)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .find(|l| l.contains("errors ignored on restore"))
            .map(|l| l.rsplit(": ").next().unwrap_or_default().to_string())
            .unwrap_or_else(|| "0".into())
    };
    let fp = comparable(Fingerprint::of(c, &db));
    c.drop_database(&db);
    (fp, errors)
}

/// Rows of a table hash-partitioned on an enum land in partitions by the hash of enum OIDs,
/// which every restore assigns anew: only the total is comparable (the rows themselves are
/// compared in the data scripts).
fn comparable(mut fp: Fingerprint) -> Fingerprint {
    let mut total = None;
    for p in ["public.moods_0", "public.moods_1"] {
        if let Some((n, _)) = fp.tables.remove(p) {
            *total.get_or_insert(0) += n;
        }
    }
    if let Some(n) = total {
        fp.tables
            .insert("public.moods (partitions together)".into(), (n, String::new()));
    }
    fp
}

/// Whether `path` is a custom or tar archive (not a plain script).
fn is_archive(path: &Path) -> bool {
    let mut head = [0u8; 512];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    head[..n].starts_with(b"PGDMP") || (n >= 262 && &head[257..262] == b"ustar")
}

/// A plain script without what differs between any two dumps (versions, the random
/// \restrict key).
fn script_text(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !(l.starts_with("\\restrict") || l.starts_with("\\unrestrict") || l.starts_with("-- Dumped")))
        .map(|l| l.split(' ').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

struct Case {
    name: String,
    /// pg_dump's -F letter: d, c, t or p.
    format: &'static str,
    /// The major of the stock pg_dump and pg_restore compared with.
    stock: u32,
    args: Vec<String>,
    /// The source database's data, for whole-data dumps whose restore must also hold
    /// exactly the source's rows (not only what stock's restore holds).
    source: Option<Fingerprint>,
}

fn case(name: &str, args: &[&str]) -> Case {
    Case {
        name: name.to_string(),
        format: "d",
        stock: STOCK,
        args: args.iter().map(|s| s.to_string()).collect(),
        source: None,
    }
}

/// A case whose restore is also compared with the source's data.
fn whole_data_case(c: &Cluster, db: &str, name: &str, args: &[&str]) -> Case {
    Case {
        source: Some(comparable(Fingerprint::data_of(c, db))),
        ..case(name, args)
    }
}

/// A case in another archive format.
fn format_case(format: &'static str, name: &str, args: &[&str]) -> Case {
    Case {
        format,
        ..case(name, args)
    }
}

fn run_case(c: &Cluster, db: &str, case: &Case, dir: &Path) -> Result<(), String> {
    let stock_dir = dir.join("stock");
    let ours_dir = dir.join("ours");
    let format = format!("-F{}", case.format);
    let out = c
        .tool_of(case.stock, "pg_dump")
        .args([format.as_str(), "-f"])
        .arg(&stock_dir)
        .args(&case.args)
        .arg(db)
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(format!("stock pg_dump failed: {}", text(&out)));
    }
    let out = pgsnap(c)
        .args(["dump", format.as_str(), "-f"])
        .arg(&ours_dir)
        .args(&case.args)
        .arg(db)
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(format!("pgsnap dump failed: {}", text(&out)));
    }
    if case.format == "p" {
        return compare_scripts(c, case, &ours_dir, &stock_dir);
    }
    let mut problems = String::new();
    let d = multiset_diff(
        &entries(c, case.stock, &ours_dir)?,
        &entries(c, case.stock, &stock_dir)?,
    );
    if !d.is_empty() {
        problems.push_str(&format!("pg_restore -l differs:\n{d}"));
    }
    let (ours, stock) = (
        data_script(c, case.stock, &ours_dir)?,
        data_script(c, case.stock, &stock_dir)?,
    );
    if ours != stock {
        problems.push_str(&format!(
            "pg_restore -a differs:\n{}",
            support::fingerprint::line_diff(&stock, &ours)
        ));
    }
    problems.push_str(&compare_restores(c, case, &ours_dir, &stock_dir, "pg_restore"));
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// Both outputs restored into fresh databases: ours holds the source's data (for whole-data
/// cases), equals stock's restore, and `tool` reported as many errors for each.
fn compare_restores(c: &Cluster, case: &Case, ours: &Path, stock: &Path, tool: &str) -> String {
    let mut problems = String::new();
    let (fp_ours, err_ours) = restored(c, case.stock, ours, "mx_ours");
    if let Some(source) = &case.source {
        let data = Fingerprint {
            schema: String::new(),
            ..fp_ours.clone()
        };
        let d = source.diff(&data);
        if !d.is_empty() {
            problems.push_str(&format!("restored data differs from the source:\n{d}"));
        }
    }
    let (fp_stock, err_stock) = restored(c, case.stock, stock, "mx_stock");
    let d = fp_stock.diff(&fp_ours);
    if !d.is_empty() {
        problems.push_str(&format!("restored databases differ (stock vs ours):\n{d}"));
    }
    if err_ours != err_stock {
        problems.push_str(&format!(
            "{tool} reported {err_ours} errors for ours, {err_stock} for stock\n"
        ));
    }
    problems
}

/// A plain case: the scripts equal line by line, and the databases psql makes of them equal,
/// with the same number of failing statements.
fn compare_scripts(c: &Cluster, case: &Case, ours: &Path, stock: &Path) -> Result<(), String> {
    let mut problems = String::new();
    let (a, b) = (script_text(ours), script_text(stock));
    if a != b {
        problems.push_str(&format!("scripts differ:\n{}", support::fingerprint::line_diff(&b, &a)));
    }
    problems.push_str(&compare_restores(c, case, ours, stock, "psql"));
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// Holds a REPEATABLE READ transaction open with an exported snapshot, for `--snapshot`.
struct SnapshotHolder {
    runtime: tokio::runtime::Runtime,
    client: Option<tokio_postgres::Client>,
    id: String,
}

impl SnapshotHolder {
    fn new(c: &Cluster, db: &str) -> SnapshotHolder {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (client, id) = runtime.block_on(async {
            let mut config = tokio_postgres::Config::new();
            config
                .host_path(c.socket_dir())
                .port(c.port)
                .user("postgres")
                .dbname(db);
            let (client, conn) = config.connect(tokio_postgres::NoTls).await.expect("connect");
            tokio::spawn(conn);
            client
                .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
                .await
                .expect("begin");
            let row = client
                .query_one("SELECT pg_export_snapshot()", &[])
                .await
                .expect("export");
            (client, row.get::<_, String>(0))
        });
        SnapshotHolder {
            runtime,
            client: Some(client),
            id,
        }
    }
}

impl Drop for SnapshotHolder {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            self.runtime.block_on(async move {
                let _ = client.batch_execute("COMMIT").await;
            });
        }
    }
}

/// The fixture database, created once per test run by whichever test gets here first (the
/// tests of this file run in separate processes and share the cluster).
fn fixture_db(c: &Cluster) -> String {
    named_fixture_db(c, "flag_matrix", &["app.sql", "awkward.sql", "selection.sql"])
}

/// A fixture database of these fixture files, created once per run like [`fixture_db`].
fn named_fixture_db(c: &Cluster, name: &str, files: &[&str]) -> String {
    let name = name.to_string();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(c.dir.join(format!("{name}.lock")))
        .expect("open the fixture lock");
    lock.lock().expect("lock the fixture");
    let exists = c.psql(
        "postgres",
        &format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
    );
    if exists.trim() != "1" {
        let sql = files.iter().map(|f| fixture(f)).collect::<Vec<_>>().join("\n");
        c.psql(
            "postgres",
            &format!("CREATE DATABASE {name}_tmp TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'"),
        );
        c.psql(&format!("{name}_tmp"), &sql);
        // Renamed into place only when complete, so a killed run leaves no half fixture.
        c.psql("postgres", &format!("ALTER DATABASE {name}_tmp RENAME TO {name}"));
    }
    let _ = lock.unlock();
    name
}

/// Runs cases three at a time; fails with every difference found.
fn run_cases(c: &Cluster, db: &str, cases: Vec<Case>) {
    let work = Scratch::new("pgsnap-matrix");
    let queue = Mutex::new(cases.into_iter().enumerate().collect::<Vec<_>>());
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let Some((i, case)) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let dir: PathBuf = work.path().join(format!("case{i}"));
                    std::fs::create_dir_all(&dir).unwrap();
                    if let Err(e) = run_case(c, db, &case, &dir) {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{} ({}):\n{e}", case.name, case.args.join(" ")));
                    }
                    let _ = std::fs::remove_dir_all(&dir);
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} case(s) differ from stock pg_dump (server {}):\n\n{}",
        failures.len(),
        c.major,
        failures.join("\n")
    );
}

#[test]
fn content_switches_match_stock() {
    let c = Cluster::shared(18);
    let db = fixture_db(&c);
    run_cases(
        &c,
        &db,
        vec![
            case("default", &[]),
            case("parallel, no statistics", &["-j", "3", "--no-statistics"]),
            case("data only", &["-a"]),
            case("schema only", &["-s"]),
            case("no data", &["--no-data"]),
            case("no schema", &["--no-schema"]),
            case("schema and sequence data", &["-s", "--sequence-data"]),
            case(
                "no privileges, comments, labels",
                &["-x", "--no-comments", "--no-security-labels"],
            ),
            case(
                "no acl, policies, publications, subscriptions",
                &["--no-acl", "--no-policies", "--no-publications", "--no-subscriptions"],
            ),
        ],
    );
}

#[test]
fn restore_time_switches_match_stock() {
    let c = Cluster::shared(18);
    let db = fixture_db(&c);
    run_cases(
        &c,
        &db,
        vec![
            case(
                "no toast compression, no unlogged data",
                &["--no-toast-compression", "--no-unlogged-table-data"],
            ),
            case(
                "restore-time switches",
                &[
                    "-O",
                    "-S",
                    "postgres",
                    "--no-tablespaces",
                    "--no-table-access-method",
                    "--use-set-session-authorization",
                    "--disable-triggers",
                    "-c",
                    "--if-exists",
                    "-C",
                    "-b",
                    "-B",
                ],
            ),
            case("no dollar quoting", &["--disable-dollar-quoting"]),
            case("row security", &["--enable-row-security"]),
        ],
    );
}

/// The schema of `db` as `pgsnap dump -Fc -s` (`cmd`, with `args`) writes it and stock
/// pg_restore prints it, without what differs between any two dumps.
fn schema_script(c: &Cluster, mut cmd: Command, db: &str, args: &[&str]) -> String {
    let dir = Scratch::new("pgsnap-flags");
    let archive = dir.path().join("a.dump");
    let out = cmd
        .args(["dump", "-Fc", "-s"])
        .args(args)
        .arg("-f")
        .arg(&archive)
        .arg(db)
        .output()
        .unwrap();
    assert!(out.status.success(), "pgsnap dump {args:?}: {}", text(&out));
    let sql = dir.path().join("a.sql");
    let out = c.tool("pg_restore").arg("-f").arg(&sql).arg(&archive).output().unwrap();
    assert!(out.status.success(), "pg_restore: {}", text(&out));
    script_text(&sql)
}

/// With helpers (`-j 3`), the leader's largest catalog queries run on other sessions of the
/// dump's snapshot; the schema is exactly what the leader alone reads (`-j 1` and no data: no
/// helper), and nothing committed after the snapshot shows. The server log shows the
/// helpers ran them.
#[test]
fn catalog_helpers_read_in_the_snapshot_what_the_leader_alone_reads() {
    let c = Cluster::shared(18);
    let db = c.create_database("helpers", &fixture("app.sql"));
    c.psql("postgres", &format!("ALTER DATABASE {db} SET log_statement = 'all'"));
    let snapshot = SnapshotHolder::new(&c, &db);
    // Committed after the snapshot: rows of pg_constraint, pg_index, pg_rewrite, pg_trigger
    // and pg_attribute that a session outside it would read.
    c.psql(
        &db,
        "ALTER TABLE shop.customer ADD CONSTRAINT late_check CHECK (id > -1) NOT VALID; \
         CREATE INDEX late_index ON shop.orders (id); \
         CREATE VIEW shop.late_view AS SELECT 1 AS late_column; \
         ALTER TABLE shop.booking ADD COLUMN late_column int; \
         CREATE FUNCTION shop.late_fn() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'; \
         CREATE TRIGGER late_trigger BEFORE INSERT ON shop.orders FOR EACH ROW EXECUTE FUNCTION shop.late_fn();",
    );
    let log = c.dir.join("server.log");
    let script = |jobs: &str| schema_script(&c, pgsnap(&c), &db, &["--snapshot", &snapshot.id, "-j", jobs]);
    let alone = script("1");
    let logged_before = std::fs::metadata(&log).unwrap().len() as usize;
    let helped = script("3");
    drop(snapshot);
    assert!(alone.contains("CREATE TABLE shop.customer"), "{alone}");
    assert!(
        !alone.contains("late_"),
        "a change after the snapshot was dumped:\n{alone}"
    );
    assert!(
        alone == helped,
        "the schema read with helpers differs from the leader's own:\n{}",
        support::fingerprint::line_diff(&alone, &helped)
    );
    // The leader locks the tables; the constraints and indexes queries ran on other backends.
    let log = std::fs::read(&log).unwrap();
    let log = String::from_utf8_lossy(&log[logged_before..]);
    let pids_of = |needle: &str| -> std::collections::BTreeSet<String> {
        log.lines()
            .filter(|l| l.contains(&format!(" {db} ")) && l.contains(needle))
            .filter_map(|l| Some(l.split_once(" [")?.1.split_once(']')?.0.to_string()))
            .collect()
    };
    let leader = pids_of("LOCK TABLE");
    let constraints = pids_of("SELECT co.oid, co.conname");
    let indexes = pids_of("SELECT i.indexrelid, ic.relname");
    assert_eq!(leader.len(), 1, "one leader locked the tables:\n{log}");
    assert_eq!(constraints.len(), 1, "the constraints query ran once:\n{log}");
    assert_eq!(indexes.len(), 1, "the indexes query ran once:\n{log}");
    assert!(
        leader.is_disjoint(&constraints) && leader.is_disjoint(&indexes) && constraints != indexes,
        "the largest queries ran on two helpers, not the leader: leader {leader:?}, constraints \
         {constraints:?}, indexes {indexes:?}"
    );
}

/// A role allowed one connection dumps its own schema with `-j 3`: no helper can connect
/// (the server refuses them), the leader reads every query itself, and the schema is the one
/// `-j 1` gives.
#[test]
fn catalog_helpers_that_cannot_connect_leave_the_leader_to_read() {
    let c = Cluster::shared(18);
    let role = format!("one_conn_{}", std::process::id());
    c.psql("postgres", &format!("CREATE ROLE {role} LOGIN CONNECTION LIMIT 1"));
    let db = c.create_database("helpless", "");
    c.psql("postgres", &format!("ALTER DATABASE {db} OWNER TO {role}"));
    c.psql(
        &db,
        &format!(
            "SET ROLE {role}; CREATE SCHEMA app; \
             CREATE TABLE app.t (id int PRIMARY KEY, v text CHECK (v <> '')); \
             CREATE INDEX ON app.t (v); CREATE VIEW app.v AS SELECT id FROM app.t; \
             CREATE FUNCTION app.f(x int) RETURNS int LANGUAGE sql AS 'SELECT x + 1'; \
             CREATE SEQUENCE app.s;"
        ),
    );
    let script = |jobs: &str| {
        let mut as_role = pgsnap(&c);
        as_role.env("PGUSER", &role);
        schema_script(&c, as_role, &db, &["-j", jobs])
    };
    let alone = script("1");
    let refused = script("3");
    assert!(alone.contains("CREATE TABLE app.t"), "{alone}");
    assert!(
        alone == refused,
        "the schema read without helpers differs:\n{}",
        support::fingerprint::line_diff(&alone, &refused)
    );
    // The server did refuse them.
    let log = std::fs::read_to_string(c.dir.join("server.log")).unwrap_or_default();
    assert!(
        log.contains(&format!("too many connections for role \"{role}\"")),
        "no helper was refused"
    );
}

#[test]
fn quoting_and_transaction_switches_match_stock() {
    let c = Cluster::shared(18);
    let db = fixture_db(&c);
    let snapshot = SnapshotHolder::new(&c, &db);
    run_cases(
        &c,
        &db,
        vec![
            case("quote all identifiers", &["--quote-all-identifiers"]),
            case(
                "quote all identifiers in column inserts",
                &[
                    "--quote-all-identifiers",
                    "--column-inserts",
                    "-t",
                    "\"Mixed\".*",
                    "-t",
                    "public.ids",
                ],
            ),
            case("serializable deferrable", &["--serializable-deferrable", "-j", "2"]),
            case("snapshot", &["--snapshot", &snapshot.id, "-j", "2"]),
            case(
                "session switches",
                &[
                    "--extra-float-digits=0",
                    "--lock-wait-timeout=30s",
                    "--no-sync",
                    "--sync-method=syncfs",
                    "-E",
                    "UTF8",
                    "--role=postgres",
                ],
            ),
        ],
    );
    drop(snapshot);
}

/// Awkward values (NULLs, quotes, backslashes, NaN and infinities, bit strings, booleans,
/// generated and identity columns, a table without columns) as INSERT statements, equal to
/// stock's statement by statement and restoring to equal data.
#[test]
fn insert_modes_match_stock() {
    let c = Cluster::shared(18);
    let db = fixture_db(&c);
    run_cases(
        &c,
        &db,
        vec![
            whole_data_case(&c, &db, "inserts in parallel", &["--inserts", "-j", "3"]),
            whole_data_case(&c, &db, "column inserts", &["--column-inserts"]),
            whole_data_case(
                &c,
                &db,
                "rows per insert, on conflict",
                &["--rows-per-insert=3", "--on-conflict-do-nothing"],
            ),
        ],
    );
}

/// Partitions loaded through their root (asked for, or forced by a hash partitioning on an
/// enum column), by COPY and by INSERT.
#[test]
fn loading_via_partition_root_matches_stock() {
    let c = Cluster::shared(18);
    let db = fixture_db(&c);
    run_cases(
        &c,
        &db,
        vec![
            whole_data_case(
                &c,
                &db,
                "attribute inserts in pairs",
                &["--attribute-inserts", "--rows-per-insert", "2"],
            ),
            whole_data_case(&c, &db, "load via partition root", &["--load-via-partition-root"]),
            whole_data_case(
                &c,
                &db,
                "load via root with inserts",
                &["--load-via-partition-root", "--inserts"],
            ),
        ],
    );
}

#[test]
fn sections_match_stock() {
    let c = Cluster::shared(18);
    let db = fixture_db(&c);
    run_cases(
        &c,
        &db,
        vec![
            case("pre-data", &["--section=pre-data"]),
            case("data", &["--section=data"]),
            case("post-data", &["--section=post-data"]),
            case("pre- and post-data", &["--section=pre-data", "--section=post-data"]),
            case("data section of a data-only dump", &["-a", "--section=data"]),
        ],
    );
}

#[test]
fn schema_and_extension_patterns_match_stock() {
    let c = Cluster::shared(18);
    let db = fixture_db(&c);
    run_cases(
        &c,
        &db,
        vec![
            case("one schema", &["-n", "shop"]),
            case("public explicitly", &["-n", "public"]),
            case("quoted mixed-case schema", &["-n", "\"Mixed\""]),
            case(
                "schema with a dot, non-ASCII by wildcard",
                &["-n", "\"dot.s\"", "-n", "ü*"],
            ),
            case("exclude schemas", &["-N", "shop", "-N", "\"sp ace\""]),
            case("schema minus a table", &["-n", "shop", "-T", "shop.orders"]),
            case("one extension", &["-e", "citext"]),
            case("exclude an extension", &["--exclude-extension=pg_trgm"]),
            case(
                "all extensions but one",
                &["-e", "*", "--exclude-extension", "btree_gist"],
            ),
        ],
    );
}

/// Selection applies to the kinds of object coverage parts 2 and 3 as pg_dump applies it:
/// rules and publication memberships follow their table, matview refreshes only where the
/// matview's data is dumped (in dependency order, none reading a never-populated one),
/// foreign table rows only for a named server and a selected table, extension configuration
/// rows with their extension or when -t / -n name them (pg_dump.c `processExtensionTables`),
/// security labels with their objects and not at all with `--no-security-labels`.
#[test]
fn new_object_kinds_follow_selection_like_stock() {
    let c = Cluster::shared(18);
    let db = named_fixture_db(&c, "kinds_matrix", &["selection_kinds.sql"]);
    run_cases(
        &c,
        &db,
        vec![
            whole_data_case(&c, &db, "everything", &[]),
            case("the schema", &["-n", "k"]),
            case("one table with its rule", &["-t", "k.t"]),
            case("a matview alone", &["-t", "k.mv2"]),
            case("matviews and their sources", &["-t", "k.mv*", "-t", "k.t"]),
            case("without the rule's table", &["-T", "k.t"]),
            case("matview data excluded", &["--exclude-table-data", "k.mv1"]),
            case("schema excluded", &["-N", "k"]),
            case("schema only", &["-s"]),
            case("data only", &["-a"]),
            case("post-data only", &["--section=post-data"]),
            case("foreign rows", &["--include-foreign-data=files"]),
            case(
                "foreign rows of a selected table",
                &["--include-foreign-data=files", "-t", "k.ft"],
            ),
            case(
                "foreign rows, table excluded",
                &["--include-foreign-data=files", "-T", "k.ft"],
            ),
            case("a configuration table by name", &["-t", "extcfg_items"]),
            case("configuration tables by schema", &["-n", "public"]),
            case("the extension", &["-e", "pgsnap_extcfg"]),
            case("another extension", &["-e", "file_fdw"]),
            case("extension excluded", &["--exclude-extension", "pgsnap_extcfg"]),
            case("configuration table excluded", &["-T", "extcfg_items"]),
            case("configuration data excluded", &["--exclude-table-data", "extcfg_kinds"]),
            case("sequence values of a schema-only dump", &["-s", "--sequence-data"]),
            case("configuration rows as INSERTs", &["--inserts", "-t", "extcfg_items"]),
            case("no security labels", &["--no-security-labels"]),
            case(
                "a labelled table alone, no labels",
                &["-t", "k.t", "--no-security-labels"],
            ),
        ],
    );
}

#[test]
fn filter_files_match_stock() {
    let c = Cluster::shared(18);
    let db = fixture_db(&c);
    let work = Scratch::new("pgsnap-filters");
    let filter_in = work.path().join("include.filter");
    std::fs::write(
        &filter_in,
        "# tables by tricky names, children\n\
         include table \"Mixed\".\"Tab\"\n\
         include table \"sp ace\".\"t t\"   # quoted, with a space\n\
         INCLUDE TABLE_AND_CHILDREN public.animal\n\
         include table public.\"re(g)x|$\"\n\
         exclude table public.puppy\n\
         exclude table_data public.dog\n",
    )
    .unwrap();
    let filter_out = work.path().join("exclude.filter");
    std::fs::write(
        &filter_out,
        "exclude schema shop\n\
         exclude table_data \"ünïcødé\".*\n\
         exclude extension pg_trgm\n\
         exclude table_data_and_children public.events\n\
         \n\
         # an include extension does not narrow the rest of the dump\n\
         include extension citext\n",
    )
    .unwrap();
    let f_in = filter_in.to_string_lossy().into_owned();
    let f_out = filter_out.to_string_lossy().into_owned();
    run_cases(
        &c,
        &db,
        vec![
            case("filter file of inclusions", &["--filter", &f_in]),
            case("filter file of exclusions", &["--filter", &f_out]),
            case("filter file and switches", &["--filter", &f_out, "-T", "public.rex"]),
        ],
    );
}

#[test]
fn table_patterns_match_stock() {
    let c = Cluster::shared(18);
    let db = fixture_db(&c);
    let qualified_with_db = format!("{db}.shop.orders");
    run_cases(
        &c,
        &db,
        vec![
            case("one table", &["-t", "shop.orders"]),
            case("tables by wildcard in a quoted schema", &["-t", "\"Mixed\".*"]),
            case(
                "dots and quotes in names",
                &["-t", "\"dot.s\".\"a.b\"", "-t", "public.\"we\"\"ird\""],
            ),
            case("regex characters quoted", &["-t", "\"re(g)x|$\""]),
            case("regex outside quotes", &["-t", "re(x|y)"]),
            case(
                "non-ASCII, case, wildcards, brackets, spaces",
                &[
                    "-t",
                    "\"Ünï\"",
                    "-t",
                    "ünï",
                    "-t",
                    "public.t?*",
                    "-t",
                    "t[]",
                    "-t",
                    "\"with space\"",
                ],
            ),
            case("view and sequence", &["-t", "\"v.iew\"", "-t", "\"Seq$\""]),
            case("database-qualified table", &["-t", &qualified_with_db]),
            case(
                "strict names that match",
                &["--strict-names", "-t", "shop.orders", "-n", "shop"],
            ),
            case("tables win over schemas", &["-n", "shop", "-t", "public.animal"]),
        ],
    );
}

#[test]
fn partitions_children_and_exclusions_match_stock() {
    let c = Cluster::shared(18);
    let db = fixture_db(&c);
    run_cases(
        &c,
        &db,
        vec![
            case("partition parent alone", &["-t", "events"]),
            case("one partition", &["-t", "events_2024_h1"]),
            case("table and children (partitions)", &["--table-and-children=events"]),
            case("table and children (inheritance)", &["--table-and-children", "animal"]),
            case("inheritance child alone", &["-t", "dog"]),
            case("exclude table and children", &["--exclude-table-and-children=events"]),
            case("exclude tables by pattern", &["-T", "dog*", "-T", "\"Mixed\".tab"]),
            case("exclude table data", &["--exclude-table-data=shop.*"]),
            case(
                "exclude table data and children",
                &["--exclude-table-data-and-children=events"],
            ),
            case(
                "mixed includes and excludes",
                &["-t", "shop.orders", "-t", "shop.customer", "-T", "shop.customer"],
            ),
            case(
                "table with its data excluded",
                &["-t", "shop.orders", "--exclude-table-data=shop.orders"],
            ),
        ],
    );
}

/// `desc schema tag owner` of each entry of `pg_restore -l`, in archive order.
fn listing(c: &Cluster, archive: &Path) -> Result<Vec<String>, String> {
    let out = c.tool_of(STOCK, "pg_restore").arg("-l").arg(archive).output().unwrap();
    if !out.status.success() {
        return Err(format!("pg_restore -l {}: {}", archive.display(), text(&out)));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !(l.starts_with(';') || l.trim().is_empty()))
        .map(|l| {
            let rest = l.split_once("; ").map(|(_, r)| r).unwrap_or(l);
            rest.splitn(3, ' ').nth(2).unwrap_or_default().trim_end().to_string()
        })
        .collect())
}

/// The listing of stock pg_dump's and pgsnap's `-Fc` archives made with `args`.
fn both_listings(c: &Cluster, db: &str, args: &[&str], dir: &Path) -> (Vec<String>, Vec<String>) {
    let (stock, ours) = (dir.join("stock.dump"), dir.join("ours.dump"));
    let out = c
        .tool_of(STOCK, "pg_dump")
        .args(["-Fc", "-f"])
        .arg(&stock)
        .args(args)
        .arg(db)
        .output()
        .unwrap();
    assert!(out.status.success(), "stock pg_dump {args:?}: {}", text(&out));
    let out = pgsnap(c)
        .args(["dump", "-Fc", "-f"])
        .arg(&ours)
        .args(args)
        .arg(db)
        .output()
        .unwrap();
    assert!(out.status.success(), "pgsnap dump {args:?}: {}", text(&out));
    (listing(c, &stock).unwrap(), listing(c, &ours).unwrap())
}

/// Sequences that `-t` or `-n` pull in through their owning tables (pg_dump.c `getOwnedSeqs`
/// copies the table's dump bits onto them) sort like any other relation: pg_dump_sort.c
/// gives sequences and tables one priority and orders them by schema and name, so each
/// sequence lands right after its table, whatever the OIDs and whatever selected it. The
/// flag matrix compares entries as multisets; this compares the exact order.
#[test]
fn owned_sequences_listing_order_matches_stock() {
    let c = Cluster::shared(18);
    let db = named_fixture_db(&c, "owned_sequences", &["owned_sequences.sql"]);
    let work = Scratch::new("pgsnap-seqorder");
    let cases: [&[&str]; 8] = [
        &["-t", "users", "-t", "orders"],
        &["-t", "orders", "-t", "users"],
        &["-t", "public.*"],
        &["-n", "public"],
        &["-t", "ident.users", "-t", "ident.orders"],
        &["-n", "ident"],
        &["-t", "*.orders", "--section=pre-data"],
        // initdb's views, ordered among themselves by their pg_depend rows (OIDs < 16384).
        &["-t", "information_schema.*", "-s"],
    ];
    let mut failures = Vec::new();
    for (i, args) in cases.iter().enumerate() {
        let dir = work.path().join(format!("case{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let (stock, ours) = both_listings(&c, &db, args, &dir);
        if stock != ours {
            failures.push(format!(
                "{args:?}: listing order differs (stock vs ours):\n{}",
                support::fingerprint::line_diff(&stock.join("\n"), &ours.join("\n"))
            ));
        }
    }
    // What stock pg_dump 18 was seen to do for the serial case, pinned so a claim that it
    // lists every table before the owned sequences can be checked against this test.
    let dir = work.path().join("pinned");
    std::fs::create_dir_all(&dir).unwrap();
    let (stock, _) = both_listings(&c, &db, &["-t", "users", "-t", "orders", "-s"], &dir);
    let expected = [
        "TABLE public orders postgres",
        "SEQUENCE public orders_id_seq postgres",
        "SEQUENCE OWNED BY public orders_id_seq postgres",
        "TABLE public users postgres",
        "ACL public TABLE users postgres",
        "SEQUENCE public users_id_seq postgres",
        "SEQUENCE OWNED BY public users_id_seq postgres",
        "DEFAULT public orders id postgres",
        "DEFAULT public users id postgres",
        "CONSTRAINT public orders orders_pkey postgres",
        "CONSTRAINT public users users_email_key postgres",
        "CONSTRAINT public users users_pkey postgres",
        "INDEX public orders_user_idx postgres",
        "FK CONSTRAINT public orders orders_user_id_fkey postgres",
    ];
    if stock != expected {
        failures.push(format!(
            "stock pg_dump {STOCK} -s -t users -t orders lists:\n{}",
            stock.join("\n")
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The archive formats (custom, tar, plain) on a PostgreSQL 15 server against stock pg_dump
/// 15: the same entries, the same data, equal restores; plain scripts equal line by line
/// (but for runs of spaces: pg_dump 15 writes `ON SEQUENCES  TO` in default privileges,
/// pgsnap writes pg_dump 18's text) and equal through psql.
#[test]
fn archive_formats_match_stock_on_15() {
    let c = Cluster::shared(15);
    let db = fixture_db(&c);
    let whole = |f, n: &str, a: &[&str]| Case {
        format: f,
        stock: 15,
        ..whole_data_case(&c, &db, n, a)
    };
    let format_case = |f, n: &str, a: &[&str]| Case {
        stock: 15,
        ..format_case(f, n, a)
    };
    run_cases(
        &c,
        &db,
        vec![
            whole("c", "custom", &[]),
            whole("c", "custom, uncompressed", &["-Z", "0"]),
            format_case("c", "custom, data only", &["-a"]),
            format_case("c", "custom, tables", &["-t", "shop.orders", "-t", "\"Mixed\".*"]),
            format_case("c", "custom, excluded tables", &["-T", "shop.*", "-n", "public"]),
            whole("t", "tar", &[]),
            format_case("t", "tar, schema only", &["-s"]),
            whole("p", "plain", &[]),
            format_case(
                "p",
                "plain, schema only without owners and privileges",
                &["-s", "-O", "-x"],
            ),
            format_case("p", "plain, clean and create", &["-c", "--if-exists"]),
            format_case(
                "p",
                "plain, inserts",
                &["-a", "--column-inserts", "--rows-per-insert", "3"],
            ),
        ],
    );
}
