//! The live progress display of `pgsnap dump`, seen in a real terminal: pgsnap runs inside a
//! tmux pane (its stderr a terminal, so the default `--progress=auto` draws) against a real
//! cluster with a table large enough to be split across workers; the pane is captured
//! (`tmux capture-pane -p`, the screen as a user sees it) while the dump runs and after it
//! ends: a total line with bytes, ETA and tables, one line per busy worker with its table
//! and page range, nothing left on screen at the end; stopped with Ctrl-C, the display is
//! gone and the `pgsnap: error: ...` line is whole.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Scratch, TestDb};

/// About 11 000 pages (90 MB): above the default split threshold of 8192 pages, so `-j 2`
/// reads it as page ranges, and long enough to watch.
const BIG_ROWS: i64 = 500_000;

fn db() -> TestDb {
    TestDb::new(
        15,
        "display",
        &format!(
            "CREATE TABLE big (id int, pad text);
             INSERT INTO big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, {BIG_ROWS}) g;
             CREATE TABLE small_a (id int); INSERT INTO small_a SELECT generate_series(1, 100);
             CREATE TABLE small_b (id int); INSERT INTO small_b SELECT generate_series(1, 100);
             ANALYZE;"
        ),
    )
}

/// A tmux server of our own (its own socket), killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(script: &Path) -> Tmux {
        let which = Command::new("tmux").arg("-V").output();
        assert!(
            which.as_ref().is_ok_and(|o| o.status.success()),
            "tmux is needed to test the terminal display: run ./scripts/provision (it installs the Debian package tmux)"
        );
        let socket = format!("pgsnap-display-{}", std::process::id());
        let t = Tmux { socket };
        let out = t
            .cmd()
            .args(["new-session", "-d", "-s", "dump", "-x", "200", "-y", "50", "sh"])
            .arg(script)
            .env("TERM", "xterm-256color")
            .output()
            .unwrap();
        assert!(out.status.success(), "tmux: {}", String::from_utf8_lossy(&out.stderr));
        t
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]);
        c
    }

    /// The pane's visible screen, one string per row, trailing blanks trimmed.
    fn capture(&self) -> Vec<String> {
        let out = self.cmd().args(["capture-pane", "-p", "-t", "dump"]).output().unwrap();
        assert!(
            out.status.success(),
            "capture-pane: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim_end().to_string())
            .collect()
    }

    fn send_keys(&self, keys: &str) {
        let out = self.cmd().args(["send-keys", "-t", "dump", keys]).output().unwrap();
        assert!(out.status.success());
    }

    /// Captures until `done` holds for the screen; panics with the last screen after `limit`.
    fn wait_for(&self, limit: Duration, what: &str, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let start = Instant::now();
        loop {
            let screen = self.capture();
            if done(&screen) {
                return screen;
            }
            if start.elapsed() > limit {
                panic!("{what}: not seen within {limit:?}; last screen:\n{}", screen.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(40));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

/// A script that runs the dump in the pane, then prints its exit status and stays open.
fn script(dir: &Path, db: &TestDb, out: &Path) -> PathBuf {
    let c = &db.cluster;
    let path = dir.join("run.sh");
    let text = format!(
        "unset PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD PGPASSFILE PG_COLOR\n\
         trap : INT\n\
         '{}' dump -Fd -j 2 -h '{}' -p {} -U postgres -f '{}' '{}'\n\
         echo \"EXIT=$?\"\n\
         sleep 600\n",
        support::compare::pgsnap_bin().display(),
        c.socket_dir().display(),
        c.port,
        out.display(),
        db.name
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The total line: bytes so far of the estimate, ETA, tables done.
fn total_line(screen: &[String]) -> Option<&String> {
    screen
        .iter()
        .find(|l| l.contains(" ETA ") && l.contains("tables ") && l.contains("B/"))
}

/// Workers' lines reading a range of `big`.
fn range_lines(screen: &[String]) -> Vec<&String> {
    screen
        .iter()
        .filter(|l| l.trim_start().starts_with("worker ") && l.contains("public.big pages "))
        .collect()
}

fn exit_line(screen: &[String]) -> Option<&String> {
    screen.iter().find(|l| l.starts_with("EXIT="))
}

/// Nothing of the display is left.
fn assert_cleared(screen: &[String]) {
    for l in screen {
        assert!(
            !l.contains(" ETA ") && !l.trim_start().starts_with("worker ") && !l.contains("tables "),
            "display left on screen: {l:?}\n{}",
            screen.join("\n")
        );
    }
}

#[test]
fn display_in_a_terminal_shows_totals_and_workers_and_clears() {
    let db = db();
    let dir = Scratch::new("pgsnap-display");
    let out = dir.path().join("archive");
    let tmux = Tmux::start(&script(dir.path(), &db, &out));

    // While it runs: the total line and a worker on a page range of big, drawn together.
    let screen = tmux.wait_for(Duration::from_secs(120), "the display with a worker on a range", |s| {
        exit_line(s).is_some() || (total_line(s).is_some() && !range_lines(s).is_empty())
    });
    assert!(
        exit_line(&screen).is_none(),
        "the dump ended before its display was seen:\n{}",
        screen.join("\n")
    );
    let total = total_line(&screen).unwrap();
    assert!(total.contains("tables ") && total.contains("/3"), "{total:?}");
    for l in range_lines(&screen) {
        // `worker N: public.big pages A-B` (or `A-end` for the last range), then bytes.
        let rest = l.split("public.big pages ").nth(1).unwrap();
        let range = rest.split_whitespace().next().unwrap();
        let (from, to) = range.split_once('-').unwrap_or_else(|| panic!("{l:?}"));
        let from: u64 = from.parse().unwrap_or_else(|_| panic!("{l:?}"));
        assert!(to == "end" || to.parse::<u64>().is_ok_and(|t| t > from), "{l:?}");
    }
    // At most one line per worker (-j 2), below the total line.
    let workers = screen.iter().filter(|l| l.trim_start().starts_with("worker ")).count();
    assert!(workers <= 2, "{}", screen.join("\n"));

    // At the end: the dump succeeded and the display is gone.
    let end = tmux.wait_for(Duration::from_secs(300), "the end of the dump", |s| {
        exit_line(s).is_some()
    });
    assert_eq!(exit_line(&end).unwrap(), "EXIT=0", "{}", end.join("\n"));
    assert_cleared(&end);
    assert!(out.join("toc.dat").is_file());
}

#[test]
fn ctrl_c_clears_the_display_and_leaves_the_error_readable() {
    let db = db();
    let dir = Scratch::new("pgsnap-display");
    let out = dir.path().join("archive");
    let tmux = Tmux::start(&script(dir.path(), &db, &out));
    let screen = tmux.wait_for(Duration::from_secs(120), "the display with a worker on a range", |s| {
        exit_line(s).is_some() || (total_line(s).is_some() && !range_lines(s).is_empty())
    });
    assert!(
        exit_line(&screen).is_none(),
        "the dump ended before it could be interrupted:\n{}",
        screen.join("\n")
    );
    // Ctrl-C typed into the terminal: the terminal echoes `^C` where the cursor is, and
    // SIGINT goes to the foreground process group (the script traps it and carries on).
    tmux.send_keys("C-c");
    let end = tmux.wait_for(Duration::from_secs(60), "the end of the dump", |s| {
        exit_line(s).is_some()
    });
    assert_eq!(exit_line(&end).unwrap(), "EXIT=1", "{}", end.join("\n"));
    assert_cleared(&end);
    // The error is one whole line of its own, as pg_dump prints it.
    let errors: Vec<&String> = end.iter().filter(|l| l.contains("pgsnap: error: ")).collect();
    assert_eq!(errors.len(), 1, "{}", end.join("\n"));
    let e = errors[0].trim_start_matches("^C");
    assert!(e.starts_with("pgsnap: error: "), "{e:?}\n{}", end.join("\n"));
    assert!(!e.contains('[') && !e.contains("ETA"), "{e:?}");
    assert!(!out.exists(), "a stopped dump left {}", out.display());
}
