//! The custom (`-Fc`) and tar (`-Ft`) formats against real servers: every codec restores with
//! the stock pg_restore versions its archive version allows, schema and data equal to the
//! source; entries equal stock pg_dump's; `-Fc -j 2` of a big table restores with
//! `pg_restore -j 2`; both formats stream to a pipe; a failed dump leaves nothing; `pgsnap
//! list` prints what `pg_restore -l` prints for pgsnap's and stock archives. The plain format
//! (`-Fp`) prints what stock pg_dump of the same major prints and replays through psql,
//! to a file or to standard output, compressed or not.

mod support;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::fingerprint::line_diff;
use support::{Cluster, Fingerprint, Scratch, ScratchPath, TestDb};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(support::project_root().join("fixtures").join(name)).expect("read fixture")
}

fn pgsnap() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pgsnap"));
    for v in ["PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD", "PGPASSFILE"] {
        c.env_remove(v);
    }
    c.stdin(Stdio::null());
    c
}

/// `pgsnap dump -F<format> <extra> <db>` against `c`, output wherever `extra` says.
fn dump_cmd(c: &Cluster, db: &str, format: &str, extra: &[&str]) -> Command {
    let mut cmd = pgsnap();
    cmd.env("PGAPPNAME", format!("pgsnap_{db}"));
    cmd.arg("dump").arg(format!("-F{format}")).arg("-h").arg(c.socket_dir());
    cmd.args(["-p", &c.port.to_string(), "-U", "postgres"]);
    cmd.args(extra).arg(db);
    cmd
}

/// A fresh directory for one test's output, removed when the test passes (see `Scratch`).
fn out_dir() -> Scratch {
    Scratch::new("pgsnap-formats")
}

/// Dumps into a new file; returns its path, which owns its directory.
fn dump_file(c: &Cluster, db: &str, format: &str, extra: &[&str]) -> ScratchPath {
    let path = ScratchPath::new("pgsnap-formats", format!("archive.{format}"));
    let res = dump_cmd(c, db, format, extra).arg("-f").arg(&path).output().unwrap();
    check_ok(&format!("pgsnap dump -F{format} {extra:?}"), &res);
    assert!(path.is_file());
    path
}

fn check_ok(what: &str, out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("error"),
        "{what} failed ({}):\n{stderr}",
        out.status
    );
}

/// Waits for `child`, killing it after `limit` (a pg_restore fed a malformed zlib block
/// hangs forever instead of failing, archive-format.md §7.4).
fn wait_limited(mut child: Child, limit: Duration, what: &str) -> Output {
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{what} did not finish within {limit:?}:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Restores `archive` with pg_restore `major` (`extra` flags) into a new database of `c`;
/// returns that database's name.
fn restore(c: &Cluster, major: u32, archive: &Path, extra: &[&str]) -> String {
    let target = c.create_database("fmt_rs", "");
    let child = c
        .tool_of(major, "pg_restore")
        .args(extra)
        .args(["-d", &target])
        .arg(archive)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_limited(child, Duration::from_secs(300), &format!("pg_restore {major}"));
    check_ok(&format!("pg_restore {major} {extra:?} {}", archive.display()), &out);
    target
}

/// Restores and compares schema and data with `source` (both read on `c`).
fn restore_and_compare(c: &Cluster, major: u32, archive: &Path, extra: &[&str], source: &Fingerprint, what: &str) {
    let target = restore(c, major, archive, extra);
    let diff = source.diff(&Fingerprint::of(c, &target));
    assert!(
        diff.is_empty(),
        "{what}, pg_restore {major} {extra:?}: restored database differs:\n{diff}"
    );
    c.drop_database(&target);
}

/// Entry lines of `pg_restore -l -C` without dump ids (`tableoid oid desc schema tag owner`).
fn listing(c: &Cluster, major: u32, archive: &Path) -> Vec<String> {
    let out = c
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

fn pg_restore_list(c: &Cluster, major: u32, archive: &Path, create: bool) -> String {
    let mut cmd = c.tool_of(major, "pg_restore");
    cmd.arg("-l");
    if create {
        cmd.arg("-C");
    }
    let out = cmd.arg(archive).output().unwrap();
    check_ok("pg_restore -l", &out);
    String::from_utf8(out.stdout).unwrap()
}

fn pgsnap_list(archive: &Path, create: bool) -> String {
    let mut cmd = pgsnap();
    cmd.arg("list").arg(archive);
    if create {
        cmd.arg("-C");
    }
    let out = cmd.output().unwrap();
    check_ok("pgsnap list", &out);
    String::from_utf8(out.stdout).unwrap()
}

fn source_sql() -> String {
    format!("{}\n{}", fixture("app.sql"), fixture("awkward.sql"))
}

/// The custom format with `specs` (pgsnap -Z values): each restores with every pg_restore
/// its archive version allows, serially and with -j 2, schema and data equal; older
/// pg_restore versions refuse it with their version message.
fn custom_codecs_restore(specs: &[(&str, &[u32])]) {
    let db = TestDb::new(18, "fmt_c", &source_sql());
    let c = &db.cluster;
    let source = Fingerprint::of(c, &db.name);
    for (spec, readers) in specs {
        let archive = dump_file(c, &db.name, "c", &["-j", "2", "-Z", spec]);
        for (i, major) in readers.iter().enumerate() {
            // Alternate serial and parallel restores over the readers.
            let extra: &[&str] = if i % 2 == 0 { &[] } else { &["-j", "2"] };
            restore_and_compare(c, *major, &archive, extra, &source, &format!("-Fc -Z {spec}"));
        }
        if readers[0] > 14 {
            let out = c.tool_of(15, "pg_restore").arg("-l").arg(&archive).output().unwrap();
            assert!(!out.status.success());
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("unsupported version (1.15)"),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn custom_uncompressed_and_gzip_restore_with_pg_restore_14_to_18() {
    custom_codecs_restore(&[("0", &[14, 15, 16, 17, 18]), ("gzip:6", &[14, 15, 16, 17, 18])]);
}

#[test]
fn custom_lz4_and_zstd_restore_with_pg_restore_16_to_18() {
    custom_codecs_restore(&[("lz4", &[16, 17, 18]), ("zstd", &[16, 17, 18])]);
}

#[test]
fn tar_restores_with_pg_restore_14_to_18() {
    let db = TestDb::new(18, "fmt_t", &source_sql());
    let c = &db.cluster;
    let source = Fingerprint::of(c, &db.name);
    let archive = dump_file(c, &db.name, "t", &["-j", "2"]);
    let mut tar = File::open(&archive).unwrap();
    let mut head = [0u8; 512];
    tar.read_exact(&mut head).unwrap();
    assert_eq!(&head[..8], b"toc.dat\0");
    assert_eq!(&head[257..265], b"ustar\x0000");
    for major in [14, 15, 16, 17, 18] {
        restore_and_compare(c, major, &archive, &[], &source, "-Ft");
    }
    // As pg_dump: no compression in a tar archive.
    let refused_dir = out_dir();
    let refused = refused_dir.join("x.tar");
    let res = dump_cmd(c, &db.name, "t", &["-Z", "6", "-f", refused.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&res.stderr).contains("compression is not supported by tar archive format"));
    assert!(!refused.exists());
}

/// pgsnap's and stock pg_dump's archives of the same database list the same entries in the
/// same order; `pgsnap list` prints exactly what pg_restore -l prints for both. pgsnap list
/// follows the newest pg_restore (14 and 15 print a 1.14 header's zlib level instead of the
/// algorithm name, the only difference).
fn listings_match(major: u32, oracle: u32) {
    let db = TestDb::new(major, "fmt_l", &fixture("app.sql"));
    let c = &db.cluster;
    for format in ["c", "t"] {
        let ours = dump_file(c, &db.name, format, &["-j", "2"]);
        let stock_dir = out_dir();
        let stock = stock_dir.join(format!("stock.{format}"));
        let out = c
            .tool_of(oracle, "pg_dump")
            .arg(format!("-F{format}"))
            .arg("-f")
            .arg(&stock)
            .arg(&db.name)
            .output()
            .unwrap();
        check_ok("stock pg_dump", &out);
        let (a, b) = (listing(c, oracle, &ours), listing(c, oracle, &stock));
        let count = |v: &[String]| {
            let mut m = BTreeMap::new();
            for l in v {
                *m.entry(l.clone()).or_insert(0) += 1;
            }
            m
        };
        assert_eq!(
            count(&a),
            count(&b),
            "PostgreSQL {major} -F{format}: entries differ from stock pg_dump's"
        );
        assert_eq!(
            a, b,
            "PostgreSQL {major} -F{format}: entry order differs from stock pg_dump's"
        );
        for archive in [&*ours, &*stock] {
            for create in [false, true] {
                assert_eq!(
                    pgsnap_list(archive, create),
                    pg_restore_list(c, 18, archive, create),
                    "pgsnap list vs pg_restore -l of {} (-C {create})",
                    archive.display()
                );
            }
        }
        // From standard input too.
        let out = pgsnap()
            .args(["list", "-"])
            .stdin(File::open(&ours).unwrap())
            .output()
            .unwrap();
        check_ok("pgsnap list -", &out);
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            pg_restore_list(c, 18, &ours, false)
        );
    }
}

#[test]
fn listings_match_stock_pg_dump_on_15() {
    listings_match(15, 15);
}

#[test]
fn listings_match_stock_pg_dump_on_18() {
    listings_match(18, 18);
}

/// A table of about 20 MiB of COPY text: 20 pieces compressed in parallel.
fn big_table_db(major: u32, prefix: &str) -> TestDb {
    TestDb::new(
        major,
        prefix,
        "CREATE TABLE big (id int PRIMARY KEY, v text, w text);
         INSERT INTO big SELECT g, md5(g::text), repeat(md5((g * 3)::text), 1 + g % 4) FROM generate_series(1, 150000) g;
         CREATE TABLE small AS SELECT g AS id FROM generate_series(1, 1000) g;
         CREATE INDEX ON big (v);
         ANALYZE;",
    )
}

#[test]
fn parallel_custom_dump_of_a_big_table_restores_in_parallel() {
    let db = big_table_db(18, "fmt_big");
    let c = &db.cluster;
    let source = Fingerprint::of(c, &db.name);
    for (spec, readers) in [
        ("gzip:1", &[14, 18][..]),
        ("zstd:1", &[16, 18][..]),
        ("lz4", &[17][..]),
        ("0", &[15][..]),
    ] {
        let archive = dump_file(c, &db.name, "c", &["-j", "2", "-Z", spec]);
        for major in readers {
            restore_and_compare(
                c,
                *major,
                &archive,
                &["-j", "2"],
                &source,
                &format!("-Fc -j 2 -Z {spec}"),
            );
        }
    }
}

/// Runs `pgsnap dump` with its standard output piped into `consumer`'s standard input.
fn piped(mut producer: Command, mut consumer: Command) -> (Output, Output) {
    let mut p = producer.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let out = p.stdout.take().unwrap();
    let cons = consumer
        .stdin(Stdio::from(out))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let cons = wait_limited(cons, Duration::from_secs(300), "pg_restore from a pipe");
    (p.wait_with_output().unwrap(), cons)
}

#[test]
fn custom_and_tar_to_a_pipe_restore() {
    let db = big_table_db(18, "fmt_pipe");
    let c = &db.cluster;
    let source = Fingerprint::of(c, &db.name);
    for (format, spec, major) in [("c", "gzip", 14), ("c", "zstd", 18), ("t", "0", 14)] {
        let target = c.create_database("fmt_piped", "");
        let (dump, rest) = piped(dump_cmd(c, &db.name, format, &["-j", "2", "-Z", spec]), {
            let mut r = c.tool_of(major, "pg_restore");
            r.args(["-d", &target]);
            r
        });
        check_ok(&format!("pgsnap dump -F{format} to a pipe"), &dump);
        check_ok(&format!("pg_restore {major} from a pipe"), &rest);
        let diff = source.diff(&Fingerprint::of(c, &target));
        assert!(diff.is_empty(), "-F{format} -Z {spec} through a pipe:\n{diff}");
        c.drop_database(&target);
    }
    // Standard output redirected to a regular file: the archive gets its data offsets
    // (pg_dump's seek-back), so it restores in parallel and lists like a file dump.
    let dir = out_dir();
    let path = dir.join("redirected.dump");
    let res = dump_cmd(c, &db.name, "c", &["-j", "2"])
        .stdout(File::create(&path).unwrap())
        .output()
        .unwrap();
    check_ok("pgsnap dump -Fc > file", &res);
    restore_and_compare(c, 18, &path, &["-j", "2"], &source, "-Fc > file");
    assert_eq!(pgsnap_list(&path, false), pg_restore_list(c, 18, &path, false));
}

/// Starts a dump (2 workers) and terminates the worker copying `big` once it is copying;
/// returns the dump's process id and output.
fn dump_with_terminated_worker(db: &TestDb, cmd: &mut Command) -> (u32, Output) {
    run_until_worker_terminated(db, cmd.args(["-j", "2"]))
}

/// Starts `cmd` and terminates the connection copying `big` once it is copying (`active`:
/// an idle session still shows its last query, and ending it after the copy proves nothing).
fn run_until_worker_terminated(db: &TestDb, cmd: &mut Command) -> (u32, Output) {
    let mut child = cmd.stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    let sql = "SELECT count(pg_terminate_backend(pid)) > 0 FROM pg_stat_activity \
               WHERE application_name = 'pgsnap_' || current_database() AND state = 'active' \
               AND query LIKE 'COPY %public.big%'";
    while db.psql(sql).trim() != "t" {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "the dump ended ({}) before a worker was seen copying big:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(Instant::now() < deadline, "no worker was seen copying big");
        std::thread::sleep(Duration::from_millis(10));
    }
    (pid, child.wait_with_output().unwrap())
}

fn assert_failed(res: &Output, what: &str) {
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(1), "{what}: expected exit 1:\n{stderr}");
    assert!(stderr.contains("public.big"), "{what}: names the table:\n{stderr}");
}

#[test]
fn failed_dumps_leave_nothing_and_never_look_complete() {
    let db = TestDb::new(
        15,
        "fmt_fail",
        "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1500000) g;
         CREATE TABLE small AS SELECT 1 AS x; ANALYZE;",
    );
    let c = &db.cluster;
    let mut stdout_pids = Vec::new();
    for format in ["c", "t"] {
        // To a file: nothing at the target, no temporary or spool files beside it.
        let dir = out_dir();
        let target = dir.join("archive");
        let (_, res) = dump_with_terminated_worker(
            &db,
            &mut dump_cmd(c, &db.name, format, &["-f", target.to_str().unwrap()]),
        );
        assert_failed(&res, &format!("-F{format} -f"));
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "-F{format}: left behind after a failure: {left:?}");

        // To standard output: the stream does not restore (it never ends complete).
        let captured = dir.join("captured");
        let (pid, res) = dump_with_terminated_worker(
            &db,
            dump_cmd(c, &db.name, format, &[]).stdout(File::create(&captured).unwrap()),
        );
        stdout_pids.push(pid);
        assert_failed(&res, &format!("-F{format} to stdout"));
        let restored = c.create_database("fmt_partial", "");
        let out = c
            .tool_of(15, "pg_restore")
            .args(["-d", &restored])
            .arg(&captured)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "-F{format}: the stream of a failed dump restored without error"
        );
        c.drop_database(&restored);
    }
    // No spool directory left in the temporary directory by the stdout runs.
    let tmp = std::env::temp_dir();
    let spools: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            stdout_pids
                .iter()
                .any(|p| n.starts_with(&format!(".stdout.pgsnap-spool-{p}-")))
        })
        .collect();
    assert!(
        spools.is_empty(),
        "spool directories left in {}: {spools:?}",
        tmp.display()
    );
}

// ---------------------------------------------------------------------------------------------
// Plain format

/// A script without the lines that must differ between two dumps of one database: the
/// `-- Dumped by pg_dump version` line (pgsnap names itself) and, when keys were drawn at
/// random, the `\restrict`/`\unrestrict` lines.
fn comparable(script: &[u8], random_key: bool) -> String {
    String::from_utf8_lossy(script)
        .lines()
        .filter(|l| {
            !(l.starts_with("-- Dumped by pg_dump version ")
                || random_key && (l.starts_with("\\restrict ") || l.starts_with("\\unrestrict ")))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Stock pg_dump of the cluster's major, plain, to standard output.
fn stock_plain(c: &Cluster, db: &str, extra: &[&str]) -> Vec<u8> {
    let out = c.tool("pg_dump").arg("-Fp").args(extra).arg(db).output().unwrap();
    check_ok("stock pg_dump -Fp", &out);
    out.stdout
}

/// pg_dump 15 writes `ALTER DEFAULT PRIVILEGES ... ON TABLES  TO` with two spaces; pgsnap
/// writes what pg_dump 16 and later write, with one.
fn without_pg15_default_acl_spaces(script: String) -> String {
    script
        .lines()
        .map(|l| {
            if l.starts_with("ALTER DEFAULT PRIVILEGES ") {
                l.replace("  TO ", " TO ").replace("  FROM ", " FROM ")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `pgsnap dump -Fp` equals stock pg_dump -Fp of the same major byte for byte (but for its
/// version line, and pg_dump 15's double spaces), and the script replays through psql into
/// a database equal to the source.
#[test]
fn plain_equals_stock_pg_dump_and_replays() {
    for major in [18, 15] {
        let db = TestDb::new(major, "fmt_p", &source_sql());
        let c = &db.cluster;
        let ours = dump_file(c, &db.name, "p", &["--restrict-key", "K3y"]);
        let ours = std::fs::read(&ours).unwrap();
        let stock = stock_plain(c, &db.name, &["--restrict-key", "K3y"]);
        let (mut a, mut b) = (comparable(&ours, false), comparable(&stock, false));
        if major == 15 {
            (a, b) = (without_pg15_default_acl_spaces(a), without_pg15_default_acl_spaces(b));
        }
        assert!(
            a == b,
            "PostgreSQL {major}: pgsnap -Fp vs stock pg_dump -Fp:\n{}",
            line_diff(&a, &b)
        );

        let source = Fingerprint::of(c, &db.name);
        assert!(source.total_rows() > 0);
        let target = c.create_database("fmt_p_replay", "");
        c.psql(&target, &String::from_utf8(ours).unwrap());
        let diff = source.diff(&Fingerprint::of(c, &target));
        assert!(diff.is_empty(), "PostgreSQL {major}: replayed script differs:\n{diff}");
        c.drop_database(&target);
    }
}

/// `-s -O --no-privileges -f schema.sql`: equal to stock pg_dump's (no matview refresh, no
/// owners, no grants) and replays into the source's schema.
#[test]
fn plain_schema_only_without_owners_replays() {
    let db = TestDb::new(18, "fmt_ps", &source_sql());
    let c = &db.cluster;
    let flags = ["--schema-only", "-O", "--no-privileges"];
    let mut args = flags.to_vec();
    args.extend(["--restrict-key", "K3y"]);
    let path = dump_file(c, &db.name, "p", &args);
    let ours = std::fs::read(&path).unwrap();
    let stock = stock_plain(c, &db.name, &args);
    let (a, b) = (comparable(&ours, false), comparable(&stock, false));
    assert!(a == b, "pgsnap {flags:?} vs stock pg_dump:\n{}", line_diff(&a, &b));
    let text = String::from_utf8(ours).unwrap();
    for absent in ["REFRESH MATERIALIZED VIEW", "OWNER TO", "GRANT ", "COPY "] {
        assert!(!text.contains(absent), "{absent} in a -s -O -x script");
    }
    let target = c.create_database("fmt_ps_replay", "");
    c.psql(&target, &text);
    // Owners and grants are left out on purpose: compared as stock pg_dump -s -O -x sees
    // the two databases.
    let (s, t) = (
        comparable(&stock_plain(c, &db.name, &args), false),
        comparable(&stock_plain(c, &target, &args), false),
    );
    assert!(s == t, "replayed schema differs:\n{}", line_diff(&s, &t));
    assert_eq!(Fingerprint::data_of(c, &target).total_rows(), 0);
    c.drop_database(&target);
}

/// Without -f the script goes to standard output (a fresh `\restrict` key each time, as
/// pg_dump draws one), compressed when asked; -j is refused as pg_dump refuses it.
#[test]
fn plain_to_standard_output_compressed_or_not() {
    let db = TestDb::new(18, "fmt_po", &fixture("app.sql"));
    let c = &db.cluster;
    let to_stdout = |extra: &[&str]| {
        let out = dump_cmd(c, &db.name, "p", extra).output().unwrap();
        check_ok(&format!("pgsnap dump -Fp {extra:?} to standard output"), &out);
        out.stdout
    };
    let plain = to_stdout(&[]);
    let stock = stock_plain(c, &db.name, &[]);
    let (a, b) = (comparable(&plain, true), comparable(&stock, true));
    assert!(a == b, "pgsnap -Fp to standard output:\n{}", line_diff(&a, &b));
    let key = |s: &[u8]| {
        String::from_utf8_lossy(s)
            .lines()
            .find_map(|l| l.strip_prefix("\\restrict ").map(str::to_string))
            .expect("a \\restrict line")
    };
    let first = key(&plain);
    assert!(
        first.len() >= 32 && first.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{first}"
    );
    assert!(String::from_utf8_lossy(&plain).contains(&format!("\n\\unrestrict {first}\n")));

    for (spec, suffix) in [("gzip:5", ".gz"), ("lz4", ".lz4"), ("zstd", ".zst")] {
        let packed = to_stdout(&["-Z", spec]);
        let mut text = Vec::new();
        pgsnap::codec::decoder_for_suffix(suffix, &packed[..])
            .unwrap()
            .read_to_end(&mut text)
            .unwrap();
        assert_ne!(key(&text), first, "each script draws its own key");
        assert_eq!(comparable(&text, true), a, "-Z {spec}");
        // And the compressed script replays.
        if suffix == ".gz" {
            let target = c.create_database("fmt_po_replay", "");
            c.psql(&target, &String::from_utf8(text).unwrap());
            let source = Fingerprint::of(c, &db.name);
            let diff = source.diff(&Fingerprint::of(c, &target));
            assert!(diff.is_empty(), "gzip script replay differs:\n{diff}");
            c.drop_database(&target);
        }
    }

    let out = dump_cmd(c, &db.name, "p", &["-j", "2"]).output().unwrap();
    // Refused before connecting, as every bad flag combination is (exit 1, as pg_dump).
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("pgsnap: error: parallel backup only supported by the directory format"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}

/// A plain dump that fails midway (its worker terminated) leaves no script at -f, and to
/// standard output never prints the script's last lines.
#[test]
fn failed_plain_dumps_never_look_complete() {
    let db = TestDb::new(
        15,
        "fmt_pf",
        "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1500000) g;
         CREATE TABLE small AS SELECT 1 AS x; ANALYZE;",
    );
    let dir = out_dir();
    let path = dir.join("dump.sql");
    let mut cmd = dump_cmd(&db.cluster, &db.name, "p", &[]);
    cmd.arg("-f").arg(&path);
    let (_, res) = run_until_worker_terminated(&db, &mut cmd);
    assert_failed(&res, "-Fp -f");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "nothing left at -f");

    let mut cmd = dump_cmd(&db.cluster, &db.name, "p", &[]);
    let (_, res) = run_until_worker_terminated(&db, cmd.stdout(Stdio::piped()));
    assert_failed(&res, "-Fp to standard output");
    let text = String::from_utf8_lossy(&res.stdout);
    assert!(!text.contains("dump complete") && !text.contains("\\unrestrict"));
}
