//! `[jobs.NAME.schema_file]` (with its `git` table) and the cron expressions of schedules.

use std::ops::Range;
use std::path::{Component, Path};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use toml::de::DeTable;

use super::{Walker, join, resolve_path};
use crate::config::{GitTarget, Schedule, SchemaFile};

const SCHEMA_FILE_KEYS: &[&str] = &["owners", "privileges", "git"];
const GIT_KEYS: &[&str] = &["work_tree", "file", "author"];

impl Walker<'_> {
    /// A cron expression (seconds optional) whose next fire time after `now` in `tz` exists.
    pub(super) fn cron(
        &mut self,
        t: &DeTable<'_>,
        path: &str,
        name: &str,
        tz: &TimeZone,
        now: Timestamp,
    ) -> Option<Schedule> {
        let (expr, span) = self.text(t, path, name)?;
        let key = join(path, name);
        let parsed = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .build()
            .parse(&expr);
        match parsed {
            Err(e) => {
                self.err(span, &key, format!("invalid cron expression \"{expr}\": {e}"));
                None
            }
            Ok(cron) => match cron.find_next_occurrence(&now.to_zoned(tz.clone()), false) {
                Ok(next) => Some(Schedule {
                    cron: expr,
                    parsed: cron,
                    next: next.timestamp(),
                }),
                Err(e) => {
                    self.err(span, &key, format!("cron expression \"{expr}\" never fires: {e}"));
                    None
                }
            },
        }
    }
}

/// `[jobs.NAME.schema_file]`: `None` when absent; `Err(())` when it has errors (reported).
pub(super) fn schema_file(
    w: &mut Walker<'_>,
    t: &DeTable<'_>,
    path: &str,
    base: &Path,
) -> Result<Option<SchemaFile>, ()> {
    let Some(st) = w.table(t, path, "schema_file") else {
        return if t.contains_key("schema_file") {
            Err(())
        } else {
            Ok(None)
        };
    };
    let before = w.errors.len();
    let sp = join(path, "schema_file");
    let sspan = t.get("schema_file").map_or(0..0, |v| v.span());
    w.known(st, &sp, SCHEMA_FILE_KEYS);
    let owners = w.boolean(st, &sp, "owners").unwrap_or(true);
    let privileges = w.boolean(st, &sp, "privileges").unwrap_or(true);
    let git = match w.table(st, &sp, "git") {
        Some(gt) => {
            let gspan = st.get("git").map_or(sspan, |v| v.span());
            git_target(w, gt, &join(&sp, "git"), gspan, base)
        }
        None => None,
    };
    if w.errors.len() != before {
        return Err(());
    }
    Ok(Some(SchemaFile {
        owners,
        privileges,
        git,
    }))
}

fn git_target(w: &mut Walker<'_>, t: &DeTable<'_>, path: &str, at: Range<usize>, base: &Path) -> Option<GitTarget> {
    w.known(t, path, GIT_KEYS);
    let work_tree = w.text(t, path, "work_tree");
    if work_tree.is_none() && !t.contains_key("work_tree") {
        w.err(
            at.clone(),
            &join(path, "work_tree"),
            "missing: the git work tree the schema file is committed to",
        );
    }
    let file = w.text(t, path, "file");
    if file.is_none() && !t.contains_key("file") {
        w.err(
            at,
            &join(path, "file"),
            "missing: the schema file's path inside the work tree (e.g. \"schema.sql\")",
        );
    }
    if let Some((f, span)) = &file {
        let p = Path::new(f);
        let inside = p
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        let in_git_dir = p
            .components()
            .find(|c| !matches!(c, Component::CurDir))
            .is_some_and(|c| c.as_os_str() == ".git");
        if !inside || p.file_name().is_none() {
            w.err(
                span.clone(),
                &join(path, "file"),
                format!("\"{f}\" must be a relative path inside the work tree (no leading '/', no '..')"),
            );
        } else if in_git_dir {
            w.err(
                span.clone(),
                &join(path, "file"),
                format!("\"{f}\" is inside the repository's .git directory"),
            );
        }
    }
    let author = w.text(t, path, "author").and_then(|(a, span)| match parse_author(&a) {
        Some(pair) => Some(pair),
        None => {
            w.err(
                span,
                &join(path, "author"),
                format!("\"{a}\" is not of the form \"Name <email>\""),
            );
            None
        }
    });
    Some(GitTarget {
        work_tree: resolve_path(base, &work_tree?.0),
        file: file?.0.into(),
        author,
    })
}

/// `Name <email>`, as git writes an identity.
fn parse_author(s: &str) -> Option<(String, String)> {
    let (name, rest) = s.trim().split_once('<')?;
    let email = rest.strip_suffix('>')?;
    let name = name.trim();
    let bad = |x: &str| x.is_empty() || x.contains(['<', '>', '\n']);
    (!bad(name) && !bad(email) && email.contains('@')).then(|| (name.to_string(), email.to_string()))
}

#[cfg(test)]
mod tests {
    use super::parse_author;

    #[test]
    fn authors_are_name_and_email() {
        assert_eq!(
            parse_author("Schema Bot <bot@example.com>"),
            Some(("Schema Bot".into(), "bot@example.com".into()))
        );
        assert_eq!(parse_author("bot@example.com"), None);
        assert_eq!(parse_author("<bot@example.com>"), None);
        assert_eq!(parse_author("Bot <not-an-email>"), None);
    }
}
