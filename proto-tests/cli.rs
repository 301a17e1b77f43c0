//! The `pgsnap` binary's contract: --version, --help, exit codes 0 / 1 / 2.

use std::process::Command;

fn pgsnap(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pgsnap")).args(args).output().unwrap()
}

#[test]
fn version_and_help_exit_zero() {
    let v = pgsnap(&["--version"]);
    assert_eq!(v.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&v.stdout).trim(),
        format!("pgsnap {}", env!("CARGO_PKG_VERSION"))
    );
    let h = pgsnap(&["--help"]);
    assert_eq!(h.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&h.stdout).contains("dump"));
    for help in ["--help", "-?"] {
        let d = pgsnap(&["dump", help]);
        assert_eq!(d.status.code(), Some(0), "dump {help}");
        let text = String::from_utf8_lossy(&d.stdout);
        for flag in ["--jobs", "--compress", "--lock-wait-timeout", "--host", "--schema-only"] {
            assert!(text.contains(flag), "dump {help} lists {flag}:\n{text}");
        }
    }
}

#[test]
fn usage_errors_exit_two_with_a_message() {
    for args in [
        &["--no-such-flag"][..],
        &["dump", "--no-such-flag"],
        &["dump", "-Fd", "-f", "x", "-s", "-a", "db"],
        &["dump", "-Fd", "-f", "x", "-Z", "brotli", "db"],
        &["dump", "-Fd", "-f", "x", "-j", "0", "db"],
        &["dump", "-Fx", "-f", "x", "db"],
        &["dump", "-Fd", "db"],
        &["dump", "-f", "x", "-j", "2", "db"],
        &["dump", "-Fc", "-f", "x", "--restrict-key", "k", "db"],
        &["frobnicate"],
    ] {
        let out = pgsnap(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("error"), "{args:?}: {stderr}");
        assert!(!std::path::Path::new("x").exists());
    }
}

#[test]
fn impossible_compression_and_version_combination_is_refused() {
    let out = pgsnap(&[
        "dump",
        "-Fd",
        "-f",
        "/nonexistent-dir/x",
        "-Z",
        "zstd",
        "--archive-version",
        "1.14",
        "db",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("zstd") && stderr.contains("1.15"), "{stderr}");
}
