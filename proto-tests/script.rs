//! The plain-SQL printer (`archive::script`) against its oracle: for directory archives made
//! by stock pg_dump 18 and 15, the script it prints equals stock `pg_restore -f -` of the same
//! major byte for byte, for the default options and each restore option that shapes a
//! script; the printed script of the app fixture replays through psql into the same
//! database; and stock pg_dump's own plain output equals it where the two tools agree.

mod support;

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use pgsnap::archive::script::{
    DataSink, Dialect, EntryDetail, ScriptOptions, ScriptPrinter, Sections, SourceSettings, Verbose, print_script,
};
use pgsnap::archive::{ArchiveVersion, DirectoryReader, TocEntry};
use support::fingerprint::line_diff;
use support::{Cluster, Fingerprint, Scratch, TestDb};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(support::project_root().join("fixtures").join(name)).expect("read fixture")
}

/// Option sets pg_restore 15 and 18 both take, each printed by pg_restore and by us.
const OPTION_SETS: &[&[&str]] = &[
    &[],
    &["-O"],
    &["-x"],
    &["-c"],
    &["-c", "--if-exists"],
    &["-C"],
    &["-C", "-c", "--if-exists"],
    &["--section=pre-data"],
    &["--section=data"],
    &["--section=post-data"],
    &["-s"],
    &["-a"],
    &["-a", "--disable-triggers"],
    &["--use-set-session-authorization"],
    &["--no-tablespaces"],
    &["--no-table-access-method"],
    &["--enable-row-security"],
    &["--restrict-key=KEY"],
    &["-v"],
    &["-1", "--role=Admin Role"],
    &["-a", "--disable-triggers", "--superuser=o'boss"],
    &[
        "--no-comments",
        "--no-publications",
        "--no-security-labels",
        "--no-subscriptions",
    ],
];

/// Option sets only pg_restore 18 has (statistics, policies), or that matter for archives
/// with statistics.
const OPTION_SETS_18: &[&[&str]] = &[
    &["--no-statistics"],
    &["--statistics-only"],
    &["--no-schema"],
    &["--no-data"],
    &["--no-policies"],
    &["-c", "--if-exists", "-O", "-x", "--use-set-session-authorization"],
];

/// The ScriptOptions a pg_restore command line means (what the CLI will map; kept here so
/// the oracle test states its own reading of each flag).
fn options_for(flags: &[&str], dialect: Dialect) -> ScriptOptions {
    let mut o = ScriptOptions {
        dialect,
        ..ScriptOptions::default()
    };
    let (mut schema_only, mut data_only, mut stats_only, mut with_stats) = (false, false, false, false);
    let mut sections: Option<Sections> = None;
    for f in flags {
        match *f {
            "-O" => o.no_owner = true,
            "-x" => o.no_privileges = true,
            "-c" => o.clean = true,
            "--if-exists" => o.if_exists = true,
            "-C" => o.create = true,
            "-s" => schema_only = true,
            "-a" => data_only = true,
            "--statistics-only" => stats_only = true,
            "--statistics" => with_stats = true,
            "--no-schema" => o.no_schema = true,
            "--no-data" => o.no_data = true,
            "--no-statistics" => o.no_statistics = true,
            "--no-policies" => o.no_policies = true,
            "--disable-triggers" => o.disable_triggers = true,
            "--use-set-session-authorization" => o.use_set_session_authorization = true,
            "--no-tablespaces" => o.no_tablespaces = true,
            "--no-table-access-method" => o.no_table_access_method = true,
            "--enable-row-security" => o.enable_row_security = true,
            "-1" => o.single_transaction = true,
            // Directory archives name each entry's data file in verbose comments.
            "-v" => {
                o.verbose = Some(Verbose {
                    entry_detail: EntryDetail::File,
                    ..Verbose::default()
                })
            }
            "--no-comments" => o.no_comments = true,
            "--no-publications" => o.no_publications = true,
            "--no-security-labels" => o.no_security_labels = true,
            "--no-subscriptions" => o.no_subscriptions = true,
            f if f.starts_with("--role=") => o.role = Some(f["--role=".len()..].to_string()),
            f if f.starts_with("--superuser=") => o.superuser = Some(f["--superuser=".len()..].to_string()),
            f if f.starts_with("--section=") => sections
                .get_or_insert(Sections::NONE)
                .add(&f["--section=".len()..])
                .unwrap(),
            f if f.starts_with("--restrict-key=") => o.restrict_key = Some(f["--restrict-key=".len()..].to_string()),
            other => panic!("test does not map {other}"),
        }
    }
    // pg_restore 18's derivation of what to print from -s/-a/--statistics(-only).
    o.no_data |= schema_only || stats_only;
    o.no_schema |= data_only || stats_only;
    o.no_statistics |= (schema_only || data_only) && !with_stats && !stats_only;
    if let Some(s) = sections {
        o.sections = s;
    }
    o
}

/// A stock `pg_dump -Fd` archive of `db` made by the cluster's own pg_dump.
fn stock_archive(db: &TestDb, extra: &[&str]) -> (Scratch, PathBuf) {
    let dir = Scratch::new("pgsnap-script");
    let path = dir.path().join("stock");
    let out = db
        .cluster
        .tool("pg_dump")
        .args(["-Fd", "--no-sync", "-f"])
        .arg(&path)
        .args(extra)
        .arg(&db.name)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dir, path)
}

/// `pg_restore -f - <flags> <archive>` of the cluster's major.
fn pg_restore_script(cluster: &Cluster, archive: &Path, flags: &[&str]) -> Vec<u8> {
    let out = cluster
        .tool("pg_restore")
        .args(["-f", "-"])
        .args(flags)
        .arg(archive)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pg_restore {flags:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The text after `prefix` on the first line of `script` that starts with it.
fn line_after(script: &[u8], prefix: &str) -> Option<String> {
    String::from_utf8_lossy(script)
        .lines()
        .find_map(|l| l.strip_prefix(prefix).map(str::to_string))
}

/// Copies a directory archive's data into the printer's sink: table data files as they
/// are, large objects listed in their blobs TOC file one by one.
fn copy_directory_data(reader: &DirectoryReader, e: &TocEntry, sink: &mut DataSink<'_>) -> pgsnap::Result<()> {
    let io_err = |what: &str| {
        let what = what.to_string();
        move |err: io::Error| pgsnap::Error::io(what, err)
    };
    if e.desc != "BLOBS" {
        let mut r = reader.open_data(e)?;
        io::copy(&mut r, sink).map_err(io_err("copying table data"))?;
        return Ok(());
    }
    // Archives before 1.16 have one BLOBS entry and always name its file blobs.toc.
    let mut list = e.clone();
    if reader.header().version < ArchiveVersion::V1_16 {
        list.filename = "blobs.toc".into();
    }
    let mut text = String::new();
    reader
        .open_data(&list)?
        .read_to_string(&mut text)
        .map_err(io_err("reading the blobs TOC"))?;
    for line in text.lines() {
        let (oid, file) = line.split_once(' ').expect("blobs TOC line \"<oid> <file>\"");
        sink.start_large_object(oid.parse().expect("oid"))
            .map_err(io_err("starting a large object"))?;
        let mut blob = e.clone();
        blob.filename = file.to_string();
        io::copy(&mut reader.open_data(&blob)?, sink).map_err(io_err("copying a large object"))?;
        sink.end_large_object().map_err(io_err("ending a large object"))?;
    }
    Ok(())
}

/// Our printer's script for a directory archive.
fn our_script(archive: &Path, opts: &ScriptOptions) -> Vec<u8> {
    let reader = DirectoryReader::open(archive).unwrap();
    let settings = SourceSettings::from_toc(reader.entries()).unwrap();
    let mut out = Vec::new();
    let report = print_script(
        &mut out,
        reader.header(),
        reader.entries(),
        &settings,
        opts,
        |e, sink| copy_directory_data(&reader, e, sink),
    )
    .unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    out
}

/// The same script through the resumable printer, the way an archive writer that receives
/// each table's rows drives it.
fn our_script_stepping(archive: &Path, opts: &ScriptOptions) -> Vec<u8> {
    let reader = DirectoryReader::open(archive).unwrap();
    let settings = SourceSettings::from_toc(reader.entries()).unwrap();
    let mut printer = ScriptPrinter::new(
        reader.header().clone(),
        reader.entries().to_vec(),
        settings,
        opts.clone(),
    )
    .unwrap();
    let mut out = Vec::new();
    while let Some(entry) = printer.next_data(&mut out).unwrap() {
        let mut sink = printer.data_sink(&mut out);
        copy_directory_data(&reader, &entry, &mut sink).unwrap();
        printer.end_data(sink).unwrap();
    }
    printer.finish(&mut out).unwrap();
    out
}

/// Compares our script with pg_restore's for every option set; on a difference, shows it.
fn assert_matches_pg_restore(cluster: &Cluster, archive: &Path, sets: &[&[&str]], what: &str) {
    let dialect = Dialect::from_major(cluster.major).unwrap();
    let mut failures = Vec::new();
    for flags in sets {
        let stock = pg_restore_script(cluster, archive, flags);
        let mut opts = options_for(flags, dialect);
        if opts.restrict_key.is_none() {
            // pg_restore drew a random key; the printer is pure, the caller passes it.
            opts.restrict_key = line_after(&stock, "\\restrict ");
            assert!(
                opts.restrict_key.is_some(),
                "pg_restore {flags:?} printed no \\restrict line"
            );
        }
        if let Some(v) = opts.verbose.as_mut() {
            // Likewise the time stamps, which the caller formats.
            v.started_on = line_after(&stock, "-- Started on ").expect("a Started on line");
            v.completed_on = line_after(&stock, "-- Completed on ").expect("a Completed on line");
        }
        let ours = our_script(archive, &opts);
        if ours != stock {
            failures.push(format!(
                "{what}, pg_restore {} {flags:?}:\n{}",
                cluster.major,
                line_diff(&String::from_utf8_lossy(&stock), &String::from_utf8_lossy(&ours))
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn oracle(major: u32, fixture_name: &str, dump_flags: &[&str], extra_sets: &[&[&str]]) {
    let db = TestDb::new(major, "script", &fixture(fixture_name));
    let (_dir, archive) = stock_archive(&db, dump_flags);
    assert_matches_pg_restore(&db.cluster, &archive, OPTION_SETS, fixture_name);
    if !extra_sets.is_empty() {
        assert_matches_pg_restore(&db.cluster, &archive, extra_sets, fixture_name);
    }
}

#[test]
fn app_fixture_prints_as_pg_restore_18_does() {
    oracle(18, "app.sql", &[], OPTION_SETS_18);
}

/// Security labels of every kind (the database's only with -C, large objects' as data),
/// under every option set, including --no-security-labels.
#[test]
fn security_labels_print_as_pg_restore_18_does() {
    oracle(18, "compat/security_labels.sql", &[], &[]);
}

#[test]
fn security_labels_print_as_pg_restore_15_does() {
    oracle(15, "compat/security_labels.sql", &[], &[]);
}

#[test]
fn awkward_fixture_prints_as_pg_restore_18_does() {
    oracle(18, "awkward.sql", &[], &[]);
}

#[test]
fn pg18_fixture_prints_as_pg_restore_18_does() {
    oracle(18, "pg18.sql", &[], &[]);
}

#[test]
fn printer_fixture_prints_as_pg_restore_18_does() {
    oracle(18, "script.sql", &[], OPTION_SETS_18);
}

#[test]
fn statistics_archive_prints_as_pg_restore_18_does() {
    oracle(18, "app.sql", &["--statistics"], OPTION_SETS_18);
}

#[test]
fn app_fixture_prints_as_pg_restore_15_does() {
    oracle(15, "app.sql", &[], &[]);
}

#[test]
fn awkward_fixture_prints_as_pg_restore_15_does() {
    oracle(15, "awkward.sql", &[], &[]);
}

#[test]
fn printer_fixture_prints_as_pg_restore_15_does() {
    oracle(15, "script.sql", &[], &[]);
}

/// A source with `standard_conforming_strings = off`: the script turns escape warnings off,
/// doubles backslashes in the literals it writes and in large-object bytes.
#[test]
fn escaped_strings_source_prints_as_pg_restore_does() {
    for major in [18, 15] {
        let db = TestDb::new(major, "script_escaped", &fixture("script.sql"));
        db.psql(&format!(
            "ALTER DATABASE \"{}\" SET standard_conforming_strings = off",
            db.name
        ));
        let (_dir, archive) = stock_archive(&db, &[]);
        let settings = SourceSettings::from_toc(DirectoryReader::open(&archive).unwrap().entries()).unwrap();
        assert!(
            !settings.std_strings,
            "the dump should carry standard_conforming_strings = off"
        );
        assert_matches_pg_restore(
            &db.cluster,
            &archive,
            &[&[], &["--use-set-session-authorization"], &["-c", "--if-exists"]],
            "script.sql with standard_conforming_strings off",
        );
    }
}

/// Objects in a tablespace of their own: `SET default_tablespace`, the header's
/// `; Tablespace:` part, and what `--no-tablespaces` removes.
#[test]
fn tablespaces_print_as_pg_restore_does() {
    for major in [18, 15] {
        let cluster = Cluster::shared(major);
        // The location must belong to the server's OS user; the cluster directory does.
        let name = format!("script_ts_{}", std::process::id());
        let location = cluster.dir.join(&name);
        std::fs::create_dir_all(&location).unwrap();
        if is_root() {
            let out = std::process::Command::new("chown")
                .arg("pgsnaptest:")
                .arg(&location)
                .output()
                .unwrap();
            assert!(out.status.success(), "chown: {}", String::from_utf8_lossy(&out.stderr));
        }
        cluster.psql(
            "postgres",
            &format!("CREATE TABLESPACE \"{name}\" LOCATION '{}'", location.display()),
        );
        {
            let db = TestDb::new(
                major,
                "script_ts",
                &format!(
                    "CREATE TABLE placed (id int PRIMARY KEY USING INDEX TABLESPACE \"{name}\", v text) TABLESPACE \"{name}\";
                     CREATE INDEX placed_v ON placed (v) TABLESPACE \"{name}\";
                     CREATE TABLE elsewhere (x int);
                     INSERT INTO placed VALUES (1, 'a');"
                ),
            );
            let (_dir, archive) = stock_archive(&db, &[]);
            let stock = pg_restore_script(&db.cluster, &archive, &[]);
            assert!(String::from_utf8_lossy(&stock).contains(&format!("; Tablespace: {name}\n")));
            assert_matches_pg_restore(
                &db.cluster,
                &archive,
                &[&[], &["--no-tablespaces"], &["-c", "--if-exists"], &["-v"]],
                "tablespaces",
            );
        }
        cluster.psql("postgres", &format!("DROP TABLESPACE \"{name}\""));
        let _ = std::fs::remove_dir_all(&location);
    }
}

/// A LATIN1 database: the encoding name the script sets, and data bytes that are not
/// UTF-8 copied through untouched.
#[test]
fn latin1_source_prints_as_pg_restore_does() {
    for major in [18, 15] {
        let cluster = Cluster::shared(major);
        let name = format!("script_latin1_{}", std::process::id());
        cluster.psql(
            "postgres",
            &format!("CREATE DATABASE {name} TEMPLATE template0 ENCODING 'LATIN1' LOCALE 'C'"),
        );
        cluster.psql(
            &name,
            "SET client_encoding = 'UTF8'; CREATE TABLE words (w text); INSERT INTO words VALUES ('café'), ('naïve'), ('Ærø');",
        );
        let dir = Scratch::new("pgsnap-script");
        let archive = dir.path().join("stock");
        let out = cluster
            .tool("pg_dump")
            .args(["-Fd", "--no-sync", "-f"])
            .arg(&archive)
            .arg(&name)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let stock = pg_restore_script(&cluster, &archive, &[]);
        assert!(String::from_utf8_lossy(&stock).contains("SET client_encoding = 'LATIN1';"));
        assert!(stock.windows(4).any(|w| w == b"caf\xe9"), "the data is LATIN1 bytes");
        assert_matches_pg_restore(&cluster, &archive, &[&[], &["-a"]], "LATIN1 database");
        cluster.drop_database(&name);
    }
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// The printed script of the app fixture, run by psql with ON_ERROR_STOP into a fresh
/// database, gives the source's schema, rows and sequence states.
#[test]
fn printed_script_replays_to_the_same_database() {
    for major in [18, 15] {
        let db = TestDb::new(major, "script_src", &fixture("app.sql"));
        let (_dir, archive) = stock_archive(&db, &[]);
        let opts = ScriptOptions {
            dialect: Dialect::from_major(major).unwrap(),
            restrict_key: Some("replayKey1".into()),
            ..ScriptOptions::default()
        };
        let script = String::from_utf8(our_script_stepping(&archive, &opts)).expect("UTF-8 script");
        assert_eq!(
            script.as_bytes(),
            our_script(&archive, &opts),
            "both ways of driving the printer agree"
        );
        let target = db.cluster.create_database("script_replay", "");
        db.cluster.psql(&target, &script);
        let source = Fingerprint::of(&db.cluster, &db.name);
        let replayed = Fingerprint::of(&db.cluster, &target);
        assert!(source.total_rows() > 0);
        assert_eq!(source, replayed, "PostgreSQL {major}:\n{}", source.diff(&replayed));
        db.cluster.drop_database(&target);
    }
}

/// Stock pg_dump's plain output is pg_restore's script of its own archive, except the
/// version line (pg_dump writes its own, pg_restore the archive's) — for these option sets.
/// Where they differ by design (`-s` drops matview refreshes at dump time, `-a` orders data
/// by foreign keys), the archive is the reference and the sets are left out here.
#[test]
fn stock_plain_dump_equals_the_printed_archive() {
    let keep_version = |s: &[u8]| {
        String::from_utf8_lossy(s)
            .lines()
            .filter(|l| !l.starts_with("-- Dumped by pg_dump version "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for major in [18, 15] {
        let db = TestDb::new(major, "script_plain", &fixture("app.sql"));
        let (_dir, archive) = stock_archive(&db, &[]);
        let dialect = Dialect::from_major(major).unwrap();
        for flags in [
            &[][..],
            &["-O", "-x"],
            &["-c", "--if-exists"],
            &["-C"],
            &["--use-set-session-authorization"],
        ] {
            let plain = db
                .cluster
                .tool("pg_dump")
                .args(["-Fp", "--restrict-key=K3y"])
                .args(flags)
                .arg(&db.name)
                .output()
                .unwrap();
            assert!(plain.status.success(), "{}", String::from_utf8_lossy(&plain.stderr));
            let mut opts = options_for(flags, dialect);
            opts.restrict_key = Some("K3y".into());
            let ours = our_script(&archive, &opts);
            let (a, b) = (keep_version(&plain.stdout), keep_version(&ours));
            assert!(a == b, "pg_dump {major} -Fp {flags:?}:\n{}", line_diff(&a, &b));
        }
    }
}
