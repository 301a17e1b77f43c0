//! Malformed invocations of `pgsnap dump`: bad options, conflicting switches, bad `-Z`,
//! patterns and filter files, names that match nothing, bad connection settings. Each gives
//! one clear message and exit status 1, and leaves nothing at the output path. Where stock
//! pg_dump 18 has a message for the same command line, ours is the same (compared live,
//! after the program-name prefix).

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use support::{Cluster, Scratch};

/// What to expect of pgsnap's message.
enum Expect {
    /// The same lines as stock pg_dump 18 prints for the same arguments.
    Stock,
    /// pgsnap's own message (pg_dump accepts the command or words it differently): a
    /// fragment of it.
    Own(&'static str),
}

struct Case {
    args: Vec<String>,
    /// Text for standard input (a filter read from `-`).
    stdin: Option<&'static str>,
    expect: Expect,
}

fn stock(args: &[&str]) -> Case {
    Case {
        args: args.iter().map(|s| s.to_string()).collect(),
        stdin: None,
        expect: Expect::Stock,
    }
}

fn own(args: &[&str], needle: &'static str) -> Case {
    Case {
        args: args.iter().map(|s| s.to_string()).collect(),
        stdin: None,
        expect: Expect::Own(needle),
    }
}

fn run(mut cmd: Command, stdin: Option<&str>) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        let mut input = child.stdin.take().unwrap();
        input.write_all(text.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// The message lines with the program prefix taken off (`/path/pg_dump: `, `pgsnap: `),
/// the command in the hint written the same way, and the `error: ` label dropped (glibc's
/// getopt messages have none, pgsnap labels every error), so stock and pgsnap lines compare.
fn normalised(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .map(|l| {
            let rest = l.split_once(": ").map(|(_, r)| r).unwrap_or(l);
            let rest = rest.strip_prefix("error: ").unwrap_or(rest);
            rest.replace("\"pgsnap dump --help\"", "\"PROG --help\"")
                .replace("\"pg_dump --help\"", "\"PROG --help\"")
        })
        .collect()
}

fn check(c: &Cluster, db: &str, case: &Case, dir: &Path) -> Result<(), String> {
    let out = dir.join("out");
    // The output and the database first, so a case's own trailing option (`--jobs` with no
    // value) stays last; cases naming the database with -d get no positional one.
    let mut args: Vec<String> = Vec::new();
    let mut rest: &[String] = &case.args;
    if rest.first().map(String::as_str) == Some("--no-output-flag") {
        rest = &rest[1..];
    } else {
        args.extend(["-f".to_string(), out.to_string_lossy().into_owned()]);
    }
    if !rest.iter().any(|a| a == "-d") {
        args.push(db.to_string());
    }
    args.extend(rest.iter().cloned());
    let mut ours = Command::new(env!("CARGO_BIN_EXE_pgsnap"));
    ours.arg("dump").args(&args);
    for (k, v) in [
        ("PGHOST", c.socket_dir().to_string_lossy().into_owned()),
        ("PGPORT", c.port.to_string()),
    ] {
        ours.env(k, v);
    }
    ours.env("PGUSER", "postgres")
        .env_remove("PGPASSWORD")
        .env_remove("PGDATABASE");
    let res = run(ours, case.stdin);
    let stderr = String::from_utf8_lossy(&res.stderr).into_owned();
    let show = format!("pgsnap dump {}:\n{stderr}", args.join(" "));
    if res.status.code() != Some(1) {
        return Err(format!("exit {:?}, not 1: {show}", res.status.code()));
    }
    let errors = stderr.lines().filter(|l| l.contains(": error: ")).count();
    let hint_only = stderr.lines().all(|l| l.contains(": hint: "));
    if errors != 1 && !hint_only {
        return Err(format!("{errors} error lines, not one: {show}"));
    }
    if stderr.contains("panicked") || stderr.contains("\x1b[") {
        return Err(format!("not a plain message: {show}"));
    }
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    if !left.is_empty() {
        return Err(format!("left behind {left:?}: {show}"));
    }
    match &case.expect {
        Expect::Own(needle) => {
            if !stderr.contains(needle) {
                return Err(format!("expected {needle:?}: {show}"));
            }
        }
        Expect::Stock => {
            let stock_dir = dir.join("stock");
            std::fs::create_dir_all(&stock_dir).unwrap();
            let stock_args: Vec<String> = args
                .iter()
                .map(|a| {
                    if *a == out.to_string_lossy() {
                        stock_dir.join("out").to_string_lossy().into_owned()
                    } else {
                        a.clone()
                    }
                })
                .collect();
            let mut cmd = c.tool_of(18, "pg_dump");
            cmd.args(&stock_args);
            let s = run(cmd, case.stdin);
            if s.status.success() {
                return Err(format!("stock pg_dump accepted it (bad case): {show}"));
            }
            let (a, b) = (normalised(&res.stderr), normalised(&s.stderr));
            if a != b {
                return Err(format!("ours:  {a:?}\nstock: {b:?}\n{show}"));
            }
            let _ = std::fs::remove_dir_all(&stock_dir);
        }
    }
    Ok(())
}

#[test]
fn malformed_invocations_fail_like_pg_dump() {
    let c = Cluster::shared(18);
    let db = c.create_database("inv", "CREATE TABLE t1 (a int); CREATE TABLE t2 (b int);");
    let work = Scratch::new("pgsnap-inv");
    let filter = |name: &str, text: &str| {
        let p = work.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    };
    let bad_type = filter("bad-type", "include tables t1\n");
    let not_allowed = filter("not-allowed", "# comment\ninclude function f\n");
    let open_quote = filter("open-quote", "include table \"t1\nexclude table t2\n");
    let bad_command = filter("bad-command", "include table t1\nfrob table t2\n");
    let no_pattern = filter("no-pattern", "exclude table_data   \n");
    let missing = work.path().join("no-such-filter").to_string_lossy().into_owned();
    let a_dir = work.path().to_string_lossy().into_owned();
    let cross = format!("{db}.public");
    let cases = vec![
        // getopt.
        stock(&["--no-such-flag"]),
        stock(&["-k"]),
        stock(&["--fil=x"]),
        stock(&["--inserts=3"]),
        stock(&["--jobs"]),
        stock(&["-X"]),
        stock(&["-Fd", "--help"]),
        // Values.
        stock(&["-j", "abc"]),
        stock(&["-j", "0"]),
        stock(&["--extra-float-digits=4"]),
        stock(&["--rows-per-insert=0"]),
        stock(&["--section=foo"]),
        stock(&["--sync-method=bar"]),
        stock(&["extra-db"]),
        stock(&["-d", "a", "b"]),
        // Conflicts and requirements.
        stock(&["-s", "-a"]),
        stock(&["-s", "--statistics-only"]),
        stock(&["-a", "--statistics-only"]),
        stock(&["-a", "--no-data"]),
        stock(&["-s", "--no-schema"]),
        stock(&["--statistics-only", "--no-statistics"]),
        stock(&["--statistics", "--no-statistics"]),
        stock(&["-a", "--statistics"]),
        stock(&["-s", "--include-foreign-data=x"]),
        stock(&["-Fd", "-j2", "--include-foreign-data=x"]),
        stock(&["-c", "-a"]),
        stock(&["--if-exists"]),
        stock(&["--on-conflict-do-nothing"]),
        stock(&["-Fx"]),
        // pgsnap parallelises custom and tar too; a plain script is refused as by pg_dump.
        stock(&["-Fp", "-j2"]),
        stock(&["-Fd", "--restrict-key=abc"]),
        stock(&["--restrict-key=a-b"]),
        stock(&["--no-output-flag", "-Fd"]),
        // -Z.
        stock(&["-Z", "10"]),
        stock(&["-Z", "brotli"]),
        stock(&["-Z", "none:3"]),
        stock(&["-Z", "gzip:foo=1"]),
        stock(&["-Fc", "-Z", "lz4:workers=2"]),
        stock(&["-Z", "zstd:long=maybe"]),
        stock(&["-Ft", "-Z", "5"]),
        // Filter files.
        stock(&["--filter", &missing]),
        stock(&["--filter", &a_dir]),
        stock(&["--filter", &bad_type]),
        stock(&["--filter", &not_allowed]),
        stock(&["--filter", &open_quote]),
        stock(&["--filter", &bad_command]),
        stock(&["--filter", &no_pattern]),
        Case {
            args: vec!["--filter=-".into()],
            stdin: Some("exclude table t1\nexclude database d\n"),
            expect: Expect::Stock,
        },
        // Patterns, against the server.
        stock(&["-Fd", "-t", "nosuch"]),
        stock(&["-Fd", "-t", "nosuch*", "-t", "\"T1\""]),
        stock(&["-Fd", "-n", "nosuch"]),
        stock(&["-Fd", "-e", "nosuch"]),
        stock(&["-Fd", "--strict-names", "-t", "t1", "-t", "nosuch"]),
        stock(&["-Fd", "--strict-names", "-n", "public", "-n", "nosuch"]),
        stock(&[
            "-Fd",
            "--strict-names",
            "--table-and-children=t1",
            "--table-and-children=t9",
        ]),
        stock(&["-Fd", "--include-foreign-data=nosuch"]),
        stock(&["-Fd", "-t", "a.b.c.d"]),
        stock(&["-Fd", "-n", "a.b.c"]),
        stock(&["-Fd", "-e", "a.b"]),
        stock(&["-Fd", "-T", "x.y.z.w"]),
        stock(&["-Fd", "-t", "other.public.t1"]),
        stock(&["-Fd", "-n", &cross]),
        stock(&["-Fd", "-E", "FOO"]),
        // pgsnap's own words.
        own(&["-E", "LATIN1"], "writes dumps in UTF8"),
        own(&["--binary-upgrade"], "--binary-upgrade is not supported"),
        own(&["--archive-version=1.13"], "unsupported archive version"),
        own(&["-Fd", "-Z", "zstd", "--archive-version=1.14"], "zstd"),
        own(
            &["--lock-wait-timeout=soon"],
            "invalid value for parameter \"statement_timeout\": \"soon\"",
        ),
        own(&["-Fd", "--role=nosuch_role"], "role \"nosuch_role\" does not exist"),
        own(&["-Fd", "--snapshot=nosuch"], "invalid snapshot identifier"),
        own(&["-Fd", "-d", "port=notanumber"], "port"),
        own(&["-Fd", "-d", "nosuchkey=1"], "nosuchkey"),
        own(&["-Fd", "-d", "postgresql://host:badport/db"], "badport"),
        own(&["-Fd", "-d", "sslmode=sometimes"], "sslmode"),
        own(&["-Fd", "-U", "nosuch_user_x"], "nosuch_user_x"),
        own(&["-Fd", "-d", "nosuch_database_x"], "nosuch_database_x"),
    ];
    assert!(cases.len() >= 40);
    let queue = std::sync::Mutex::new(cases.into_iter().enumerate().collect::<Vec<_>>());
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let Some((i, case)) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let dir = work.path().join(format!("case{i}"));
                    std::fs::create_dir_all(&dir).unwrap();
                    if let Err(e) = check(&c, &db, &case, &dir) {
                        failures.lock().unwrap().push(e);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    c.drop_database(&db);
}
