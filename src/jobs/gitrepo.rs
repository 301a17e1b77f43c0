//! Committing a job's schema file to a git work tree with the `git` command: the file is
//! copied in and committed only when its content differs from what the repository has, so
//! an unchanged schema makes no commit. Only that file is committed, whatever else the
//! index holds (`git commit -- FILE`).

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::config::GitTarget;
use crate::error::{Error, ErrorKind, Result};

/// What a commit attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Committed {
    /// False when the file was unchanged.
    pub committed: bool,
    /// The new commit, or HEAD when nothing was committed (`None` in an empty repository).
    pub commit: Option<String>,
}

/// Puts `content` (a file) at `target.file` in the work tree and commits it with `message`
/// when it changed. Blocking (runs git).
pub(crate) fn commit_file(target: &GitTarget, content: &Path, message: &str) -> Result<Committed> {
    let wt = &target.work_tree;
    match git(target, &["--version"]) {
        Ok(o) if o.status.success() => {}
        Ok(o) => return Err(failed("git --version", &o)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::new(
                ErrorKind::Config,
                "the git command is not installed (needed to commit the schema file; install git or remove \
                 schema_file.git)",
            ));
        }
        Err(e) => return Err(Error::io("could not run git", e)),
    }
    if !wt.is_dir() {
        return Err(Error::config(format!(
            "schema file: \"{}\" is not a git work tree (no such directory)",
            wt.display()
        )));
    }
    let inside = run(target, &["rev-parse", "--is-inside-work-tree"])?;
    if !inside.status.success() || String::from_utf8_lossy(&inside.stdout).trim() != "true" {
        let why = String::from_utf8_lossy(&inside.stderr).trim().to_string();
        return Err(Error::config(format!(
            "schema file: \"{}\" is not a git work tree{}",
            wt.display(),
            if why.is_empty() {
                String::new()
            } else {
                format!(" ({why})")
            }
        )));
    }

    // In place by rename, so the work tree never holds half a file.
    let dest = wt.join(&target.file);
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::io(format!("could not create \"{}\"", parent.display()), e))?;
    }
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dest.with_file_name(format!(".{name}.pgsnap-tmp"));
    std::fs::copy(content, &tmp)
        .and_then(|_| std::fs::rename(&tmp, &dest))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(format!("could not write \"{}\"", dest.display()), e)
        })?;

    let file = target.file.to_string_lossy().into_owned();
    let add = run(target, &["add", "--", &file])?;
    if !add.status.success() {
        return Err(failed("git add", &add));
    }
    // 0: the index's file is the same as HEAD's; 1: it differs (or HEAD has none).
    let diff = run(target, &["diff", "--cached", "--quiet", "--", &file])?;
    let changed = match diff.status.code() {
        Some(0) => false,
        Some(1) => true,
        _ => return Err(failed("git diff --cached", &diff)),
    };
    if changed {
        let commit = run(target, &["commit", "--quiet", "-m", message, "--", &file])?;
        if !commit.status.success() {
            // git's own advice names its configuration; pgsnap's setting does the same.
            let hint = if target.author.is_none() {
                " (set schema_file.git.author, or git's user.name and user.email)"
            } else {
                ""
            };
            return Err(Error::new(
                ErrorKind::Io,
                format!("{}{hint}", failed("git commit", &commit).message()),
            ));
        }
    }
    let head = run(target, &["rev-parse", "--verify", "--quiet", "HEAD"])?;
    let commit = head
        .status
        .success()
        .then(|| String::from_utf8_lossy(&head.stdout).trim().to_string());
    Ok(Committed {
        committed: changed,
        commit,
    })
}

/// git in the work tree, with the environment that could point it elsewhere removed (a
/// daemon started from a git hook inherits GIT_DIR) and no prompts.
fn git(target: &GitTarget, args: &[&str]) -> std::io::Result<Output> {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(&target.work_tree)
        .args(args)
        .stdin(Stdio::null())
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE");
    if let Some((name, email)) = &target.author {
        cmd.env("GIT_AUTHOR_NAME", name)
            .env("GIT_AUTHOR_EMAIL", email)
            .env("GIT_COMMITTER_NAME", name)
            .env("GIT_COMMITTER_EMAIL", email);
    }
    cmd.output()
}

fn run(target: &GitTarget, args: &[&str]) -> Result<Output> {
    git(target, args).map_err(|e| Error::io(format!("could not run git {}", args.join(" ")), e))
}

fn failed(what: &str, o: &Output) -> Error {
    let text = String::from_utf8_lossy(&o.stderr);
    let first: String = text.lines().take(3).collect::<Vec<_>>().join(" / ");
    Error::new(ErrorKind::Io, format!("{what} failed ({}): {first}", o.status))
}

/// The commit message: which job, which database, which snapshot.
pub(crate) fn message(job: &str, database: &str, snapshot_time: &str, archive: &str) -> String {
    format!(
        "pgsnap: schema of database {database} (job {job})\n\nSnapshot taken at {snapshot_time}; archive {archive}.\n"
    )
}
