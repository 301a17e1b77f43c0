//! The commands of the backup scripts users run today, as written (issue 7's list): each
//! runs as stock pg_dump 18, as `pgsnap dump` and through a link named `pg_dump`; every
//! result is restored with the stock tool the script uses (pg_restore, `psql -f`, a pipe
//! through openssl), and the restored databases — schema as `pg_dump -s` prints it, every
//! table's rows, sequences — and the archives' `pg_restore -l` entries are the same.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use support::compare::{check_ok, fixture, listing};
use support::{Cluster, Fingerprint, Scratch, TestDb};

const MAJOR: u32 = 18;

/// How a script restores what its dump command wrote.
#[derive(Clone, Copy)]
enum Restore {
    /// `pg_restore [ARGS] -d NEW FILE`.
    Tool(&'static [&'static str]),
    /// `psql -v ON_ERROR_STOP=1 -d NEW -f FILE` into an empty database.
    Psql,
    /// `pg_restore --data-only -d NEW FILE` into a database that has the schema already.
    DataOnly,
    /// The dump's standard output went through `openssl enc`; decrypted into `pg_restore`.
    Openssl,
}

struct Script {
    name: &'static str,
    /// pg_dump's arguments; `DB` stands for the database name.
    args: &'static [&'static str],
    /// What the dump writes, relative to the working directory (`None`: standard output).
    output: Option<&'static str>,
    restore: Restore,
    /// Whether the entries come in stock's order too (not only the same entries).
    same_order: bool,
}

const SCRIPTS: &[Script] = &[
    Script {
        name: "nightly custom -Z 6 over TCP",
        args: &[
            "-F",
            "c",
            "-Z",
            "6",
            "-h",
            "localhost",
            "-U",
            "postgres",
            "-d",
            "DB",
            "-f",
            "backup_20261130_0200.dump",
        ],
        output: Some("backup_20261130_0200.dump"),
        restore: Restore::Tool(&[]),
        same_order: true,
    },
    Script {
        name: "critical tables before a migration",
        args: &[
            "-F",
            "c",
            "-d",
            "DB",
            "-t",
            "users",
            "-t",
            "orders",
            "-f",
            "pre_migrate_critical_tables.dump",
        ],
        output: Some("pre_migrate_critical_tables.dump"),
        restore: Restore::Tool(&[]),
        // The view over both tables is not dumped but still sorted, as pg_dump sorts it:
        // it keeps both tables ahead of their sequences.
        same_order: true,
    },
    Script {
        name: "parallel directory",
        args: &[
            "-F",
            "d",
            "-j",
            "4",
            "-Z",
            "6",
            "-h",
            "localhost",
            "-U",
            "postgres",
            "-d",
            "DB",
            "-f",
            "backup_dir/",
        ],
        output: Some("backup_dir"),
        restore: Restore::Tool(&["-F", "d", "-j", "4"]),
        same_order: true,
    },
    Script {
        name: "schema into git",
        args: &["-d", "DB", "--schema-only", "-O", "--no-privileges", "-f", "schema.sql"],
        output: Some("schema.sql"),
        restore: Restore::Psql,
        same_order: true,
    },
    Script {
        name: "data only",
        args: &["-F", "c", "-d", "DB", "--data-only", "-f", "data_backup.dump"],
        output: Some("data_backup.dump"),
        restore: Restore::DataOnly,
        same_order: true,
    },
    Script {
        name: "daily without the noisy tables",
        args: &[
            "-F",
            "c",
            "-d",
            "DB",
            "-T",
            "logs",
            "-T",
            "sessions",
            "-T",
            "cache",
            "-T",
            "analytics_events",
            "-f",
            "standard_daily.dump",
        ],
        output: Some("standard_daily.dump"),
        restore: Restore::Tool(&[]),
        same_order: true,
    },
    Script {
        name: "patterns excluded",
        args: &[
            "-F",
            "c",
            "-d",
            "DB",
            "-T",
            "public.*_log",
            "-T",
            "public.*_cache",
            "-T",
            "audit_trail",
            "-f",
            "production_backup.dump",
        ],
        output: Some("production_backup.dump"),
        restore: Restore::Tool(&[]),
        same_order: true,
    },
    Script {
        name: "custom to a pipe through openssl",
        args: &["-F", "c", "-d", "DB"],
        output: None,
        restore: Restore::Openssl,
        same_order: true,
    },
];

/// Who runs the dump command.
#[derive(Clone, Copy, Debug)]
enum Dumper {
    Stock,
    Pgsnap,
    Link,
}

/// The program and the words before the script's arguments.
fn program(dumper: Dumper, link: &Path) -> (PathBuf, Vec<&'static str>) {
    match dumper {
        Dumper::Stock => (support::pg_bin(MAJOR, "pg_dump"), vec![]),
        Dumper::Pgsnap => (PathBuf::from(env!("CARGO_BIN_EXE_pgsnap")), vec!["dump"]),
        Dumper::Link => (link.to_path_buf(), vec![]),
    }
}

/// Environment as a user's shell has it: the port and user of the server, host from -h or
/// the socket directory.
fn in_env(c: &Cluster, mut cmd: Command, cwd: &Path) -> Command {
    cmd.current_dir(cwd)
        .env("PGHOST", c.socket_dir())
        .env("PGPORT", c.port.to_string())
        .env("PGUSER", "postgres")
        .env_remove("PGDATABASE")
        .env_remove("PGPASSWORD")
        .env_remove("PGSERVICE")
        .env_remove("PG_COLOR")
        .stdin(Stdio::null());
    cmd
}

const PASS: &str = "pass:not-a-real-secret";

/// Runs `script` with `dumper` in `cwd`; returns the path of what it wrote.
fn run_dump(c: &Cluster, db: &str, script: &Script, dumper: Dumper, link: &Path, cwd: &Path) -> PathBuf {
    let (prog, pre) = program(dumper, link);
    let args: Vec<&str> = script.args.iter().map(|a| if *a == "DB" { db } else { a }).collect();
    let mut cmd = in_env(c, Command::new(prog), cwd);
    cmd.args(pre).args(&args);
    let what = format!("{dumper:?} `{}`", script.name);
    match script.output {
        Some(out) => {
            let res = cmd.output().unwrap();
            check_ok(&what, &res);
            assert!(res.stdout.is_empty(), "{what} wrote to standard output");
            cwd.join(out)
        }
        None => {
            // `pg_dump ... | openssl enc -aes-256-cbc -salt -pbkdf2 -out backup.dump.enc`
            let mut dump = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
            let enc = Command::new("openssl")
                .current_dir(cwd)
                .args([
                    "enc",
                    "-aes-256-cbc",
                    "-salt",
                    "-pbkdf2",
                    "-out",
                    "backup.dump.enc",
                    "-pass",
                    PASS,
                ])
                .stdin(dump.stdout.take().unwrap())
                .output()
                .unwrap_or_else(|e| panic!("openssl is needed for this test (apt-get install openssl): {e}"));
            let res = dump.wait_with_output().unwrap();
            check_ok(&what, &res);
            check_ok("openssl enc", &enc);
            cwd.join("backup.dump.enc")
        }
    }
}

fn restore(c: &Cluster, source: &str, script: &Script, file: &Path) -> String {
    let target = c.create_database("restored", "");
    let out: Output = match script.restore {
        Restore::Tool(extra) => c
            .tool_of(MAJOR, "pg_restore")
            .args(extra)
            .args(["-d", &target])
            .arg(file)
            .output()
            .unwrap(),
        Restore::Psql => c
            .tool_of(MAJOR, "psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &target, "-f"])
            .arg(file)
            .output()
            .unwrap(),
        Restore::DataOnly => {
            let schema = c.tool_of(MAJOR, "pg_dump").args(["-s", "-d", source]).output().unwrap();
            check_ok("pg_dump -s", &schema);
            c.psql(&target, &String::from_utf8_lossy(&schema.stdout));
            c.tool_of(MAJOR, "pg_restore")
                .args(["--data-only", "-d", &target])
                .arg(file)
                .output()
                .unwrap()
        }
        Restore::Openssl => {
            let mut dec = Command::new("openssl")
                .args(["enc", "-d", "-aes-256-cbc", "-pbkdf2", "-pass", PASS, "-in"])
                .arg(file)
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let out = c
                .tool_of(MAJOR, "pg_restore")
                .args(["-d", &target])
                .stdin(dec.stdout.take().unwrap())
                .output()
                .unwrap();
            assert!(dec.wait().unwrap().success(), "openssl enc -d failed");
            out
        }
    };
    check_ok(&format!("restore of `{}`", script.name), &out);
    target
}

fn entries(c: &Cluster, script: &Script, file: &Path) -> Option<Vec<String>> {
    match script.restore {
        Restore::Tool(_) | Restore::DataOnly => Some(listing(c, MAJOR, file)),
        Restore::Psql | Restore::Openssl => None,
    }
}

fn check_script(script: &Script) {
    let db = TestDb::new(MAJOR, "production_db", &fixture("commands.sql"));
    let c = &db.cluster;
    let link_dir = Scratch::new("pgsnap-commands");
    let link = link_dir.path().join("pg_dump");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_pgsnap"), &link).unwrap();

    let mut results = Vec::new();
    for dumper in [Dumper::Stock, Dumper::Pgsnap, Dumper::Link] {
        let cwd = Scratch::new("pgsnap-commands");
        let file = run_dump(c, &db.name, script, dumper, &link, cwd.path());
        let listed = entries(c, script, &file);
        let restored = restore(c, &db.name, script, &file);
        let fp = Fingerprint::of(c, &restored);
        c.drop_database(&restored);
        results.push((dumper, listed, fp));
    }
    let (_, stock_entries, stock_fp) = &results[0];
    assert!(stock_fp.total_rows() > 0 || matches!(script.restore, Restore::Psql));
    let sorted = |l: &Option<Vec<String>>| {
        l.clone().map(|mut l| {
            l.sort();
            l
        })
    };
    for (dumper, listed, fp) in &results[1..] {
        if script.same_order {
            assert_eq!(
                listed, stock_entries,
                "{dumper:?} `{}`: entries or their order differ from stock pg_dump's",
                script.name
            );
        } else {
            assert_eq!(
                sorted(listed),
                sorted(stock_entries),
                "{dumper:?} `{}`: entries differ from stock pg_dump's",
                script.name
            );
        }
        let diff = fp.diff(stock_fp);
        assert!(
            diff.is_empty(),
            "{dumper:?} `{}` restores differently from stock:\n{diff}",
            script.name
        );
    }
}

macro_rules! script_tests {
    ($($test:ident => $i:expr),* $(,)?) => {
        $(#[test]
        fn $test() {
            check_script(&SCRIPTS[$i]);
        })*
    };
}

script_tests! {
    nightly_custom_over_tcp => 0,
    critical_tables_before_a_migration => 1,
    parallel_directory_restored_in_parallel => 2,
    plain_schema_replayed_by_psql => 3,
    data_only_restored_into_the_schema => 4,
    daily_without_noisy_tables => 5,
    excluded_by_patterns => 6,
    custom_through_openssl => 7,
}
