use std::path::Path;

use jiff::Timestamp;

use super::*;

fn now() -> Timestamp {
    "2026-11-30T12:00:00Z".parse().unwrap()
}

/// The README's example, kept in sync: `fixtures/config/pgsnap.toml`.
const EXAMPLE: &str = include_str!("../../fixtures/config/pgsnap.toml");

fn check(text: &str) -> Result<Config, Vec<ConfigError>> {
    parse(text, Path::new("/etc/pgsnap/pgsnap.toml"), now())
}

const MINIMAL: &str = r#"
[jobs.nightly]
destination = "/backups"
[jobs.nightly.source]
dbname = "shop"
"#;

#[test]
fn the_readme_example_is_valid() {
    let c = check(EXAMPLE).unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(c.jobs.len(), 3);
    let n = c.job("nightly").unwrap();
    assert_eq!(n.format, OutputFormat::Custom);
    assert_eq!(n.time_zone_name, "Europe/Berlin");
    assert_eq!(
        n.retention.describe(),
        "keep-daily 7, keep-weekly 4, keep-monthly 12, keep-yearly 3"
    );
    assert_eq!(n.source.password, Some(Secret::Env("PGSNAP_SHOP_PASSWORD".into())));
    // 02:00 Berlin (UTC+1 in winter) after 2026-11-30 12:00 UTC.
    assert_eq!(n.schedule.as_ref().unwrap().next.to_string(), "2026-12-01T01:00:00Z");
    assert_eq!(c.notifiers.len(), 5);
    assert_eq!(n.destination_policy, DestinationPolicy::BestEffort);
    assert_eq!(n.abandoned_after, std::time::Duration::from_secs(24 * 3600));
    let urls: Vec<String> = n.destinations.iter().map(|d| d.location.to_string()).collect();
    assert_eq!(urls, ["s3://acme-backups/shop", "file:///mnt/nas/pgsnap/nightly"]);
    assert_eq!(n.destinations[0].retention.describe(), "keep-daily 30, keep-monthly 24");
    assert_eq!(n.destinations[1].retention.describe(), n.retention.describe());
    let critical = c.job("critical").unwrap();
    assert_eq!(critical.select.tables, ["public.orders", "public.payments"]);
    let args = critical.dump_args(Path::new("/x"));
    assert!(args.contains(&"--table=public.orders".to_string()), "{args:?}");
    let schema = c.job("schema").unwrap();
    assert_eq!(schema.content, Content::SchemaOnly);
    assert!(schema.dump_args(Path::new("/x")).contains(&"--no-owner".to_string()));
}

#[test]
fn custom_and_tar_jobs_may_run_in_parallel() {
    // `pgsnap dump` accepts -j with -Fc and -Ft; a job accepts what the command accepts.
    for format in ["custom", "tar", "directory"] {
        let text = format!(
            "[jobs.a]\ndestination = \"/b\"\nformat = \"{format}\"\nparallel = 4\n\
             source = {{ dbname = \"x\" }}\n"
        );
        let c = check(&text).unwrap_or_else(|e| panic!("{format}: {e:#?}"));
        assert_eq!(c.job("a").unwrap().parallel, 4, "{format}");
    }
}

#[test]
fn split_threshold_reaches_the_dump_command() {
    let text = "[jobs.a]\ndestination = \"/b\"\nformat = \"directory\"\nparallel = 4\n\
                split_tables_larger_than = \"2GB\"\nsource = { dbname = \"x\" }\n";
    let c = check(text).unwrap();
    let args = c.job("a").unwrap().dump_args(Path::new("/x"));
    assert!(args.contains(&"--split-tables-larger-than=2GB".to_string()), "{args:?}");
    let parsed = crate::cli::dump::parse(&args, &mut |_| unreachable!()).unwrap();
    let crate::cli::DumpCommand::Run(req) = parsed else {
        panic!("not a dump")
    };
    assert_eq!(req.split_pages, 262_144);
    // Unset: the command's default.
    let c = check(MINIMAL).unwrap();
    assert!(!c.jobs[0].dump_args(Path::new("/x")).iter().any(|a| a.contains("split")));
}

#[test]
fn defaults() {
    let c = check(MINIMAL).unwrap();
    let j = &c.jobs[0];
    assert_eq!(j.source.conninfo, "dbname=shop");
    assert_eq!(j.content, Content::Full);
    assert_eq!(j.format, OutputFormat::Custom);
    assert_eq!(j.retention.describe(), Policy::gfs().describe());
    assert_eq!(j.time_zone_name, "UTC");
    assert!(j.schedule.is_none());
    assert_eq!(j.parallel, 1);
}

#[test]
fn daemon_settings_and_schedule_policies() {
    let c = check(MINIMAL).unwrap();
    assert_eq!(c.daemon, DaemonSettings::default());
    assert_eq!(c.daemon.grace_period, std::time::Duration::from_secs(60));
    assert_eq!(c.jobs[0].missed, Missed::RunOnce);
    assert_eq!(c.jobs[0].jitter, std::time::Duration::ZERO);
    let c = check(
        "[daemon]\nstate_dir = \"state\"\ngrace_period = \"1m 30s\"\n\
         [jobs.nightly]\nschedule = \"*/5 * * * * *\"\nmissed = \"skip\"\njitter = \"2s\"\n\
         destination = \"/b\"\nsource = { dbname = \"x\" }\n",
    )
    .unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(c.daemon.state_dir.as_deref(), Some(Path::new("/etc/pgsnap/state")));
    assert_eq!(c.daemon.grace_period, std::time::Duration::from_secs(90));
    let j = &c.jobs[0];
    assert_eq!(j.missed, Missed::Skip);
    assert_eq!(j.jitter, std::time::Duration::from_secs(2));
    // Seconds field: every 5 s after now (12:00:00).
    assert_eq!(j.schedule.as_ref().unwrap().next.to_string(), "2026-11-30T12:00:05Z");
    // A grace period of zero cancels at once.
    let c = check(&format!("[daemon]\ngrace_period = \"0s\"\n{MINIMAL}")).unwrap();
    assert_eq!(c.daemon.grace_period, std::time::Duration::ZERO);
}

#[test]
fn the_state_directory_defaults_to_xdg() {
    let cfg = Path::new("/etc/pgsnap/pgsnap.toml");
    assert_eq!(
        default_state_dir(cfg, Some("/var/state".into()), Some("/home/u".into())),
        Path::new("/var/state/pgsnap")
    );
    // A relative XDG_STATE_HOME is ignored, as the XDG spec says.
    assert_eq!(
        default_state_dir(cfg, Some("rel".into()), Some("/home/u".into())),
        Path::new("/home/u/.local/state/pgsnap")
    );
    assert_eq!(
        default_state_dir(cfg, None, None),
        Path::new("/etc/pgsnap/pgsnap-state")
    );
}

#[test]
fn relative_paths_are_taken_from_the_configs_directory() {
    let c = check(&MINIMAL.replace("/backups", "backups")).unwrap();
    assert_eq!(c.jobs[0].destination, Path::new("/etc/pgsnap/backups"));
}

/// A malformed configuration, the line and key of the error expected (the first one when
/// several are reported), and a word its message must contain.
struct Bad {
    text: &'static str,
    line: usize,
    key: &'static str,
    says: &'static str,
}

const BAD: &[Bad] = &[
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\nschedul = \"0 2 * * *\"\n",
        line: 4,
        key: "jobs.a.schedul",
        says: "unknown key",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\n[jobs.a.source]\ndbname = \"x\"\npassword = \"hunter2\"\n",
        line: 5,
        key: "jobs.a.source.password",
        says: "password_env",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\n[jobs.a.source]\nconninfo = \"postgresql://u:secret@db/x\"\n",
        line: 4,
        key: "jobs.a.source.conninfo",
        says: "inline",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\n[jobs.a.source]\ndbname = \"x\"\npassword_env = \"A\"\npassword_file = \"/f\"\n",
        line: 6,
        key: "jobs.a.source.password_file",
        says: "not both",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\n[jobs.a.source]\nhost = \"db\"\n",
        line: 3,
        key: "jobs.a.source.dbname",
        says: "missing",
    },
    Bad {
        text: "[jobs.a]\nsource = { dbname = \"x\" }\n",
        line: 1,
        key: "jobs.a.destination",
        says: "missing",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\n",
        line: 1,
        key: "jobs.a.source",
        says: "missing",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\nschedule = \"61 2 * * *\"\n",
        line: 4,
        key: "jobs.a.schedule",
        says: "cron",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\nschedule = \"0 0 30 2 *\"\n",
        line: 4,
        key: "jobs.a.schedule",
        says: "never fires",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\ntimezone = \"Mars/Olympus\"\n",
        line: 4,
        key: "jobs.a.timezone",
        says: "time zone",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\nformat = \"zip\"\n",
        line: 4,
        key: "jobs.a.format",
        says: "custom",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\ncontent = \"everything\"\n",
        line: 4,
        key: "jobs.a.content",
        says: "schema-only",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\ncompression = \"brotli:5\"\n",
        line: 4,
        key: "jobs.a.compression",
        says: "brotli",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\nformat = \"plain\"\nparallel = 4\n",
        line: 5,
        key: "jobs.a.parallel",
        says: "directory",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\nsplit_tables_larger_than = \"big\"\n",
        line: 4,
        key: "jobs.a.split_tables_larger_than",
        says: "512MB",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\nparallel = \"4\"\n",
        line: 4,
        key: "jobs.a.parallel",
        says: "integer",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[jobs.a.retention]\nkeep_daily = -1\n",
        line: 5,
        key: "jobs.a.retention.keep_daily",
        says: "from 0",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[jobs.a.retention]\nkeep_within = \"a while\"\n",
        line: 5,
        key: "jobs.a.retention.keep_within",
        says: "duration",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[jobs.a.retention]\nkeep_daily = 0\n",
        line: 4,
        key: "jobs.a.retention",
        says: "keeps nothing",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[jobs.a.retention]\nkeep_dayly = 3\n",
        line: 5,
        key: "jobs.a.retention.keep_dayly",
        says: "unknown key",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[jobs.a.select]\ntables = [\"a.b.c.d\"]\n",
        line: 5,
        key: "jobs.a.select.tables[0]",
        says: "too many dotted names",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[jobs.a.select]\ntables = \"orders\"\n",
        line: 5,
        key: "jobs.a.select.tables",
        says: "array",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[jobs.a.notify]\non_failure = [\"ops\"]\n",
        line: 5,
        key: "jobs.a.notify.on_failure[0]",
        says: "no notifier",
    },
    Bad {
        text: "[notifiers.ops]\ntype = \"slack\"\nurl = \"https://hooks.slack.com/services/T/B/x\"\n[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n",
        line: 3,
        key: "notifiers.ops.url",
        says: "url_env",
    },
    Bad {
        text: "[notifiers.ops]\ntype = \"pager\"\n[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n",
        line: 2,
        key: "notifiers.ops.type",
        says: "webhook",
    },
    Bad {
        text: "[notifiers.mail]\ntype = \"email\"\nsmtp_host = \"mx\"\nfrom = \"pgsnap@example.com\"\nto = [\"ops\"]\n[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n",
        line: 5,
        key: "notifiers.mail.to[0]",
        says: "email address",
    },
    Bad {
        text: "[notifiers.tg]\ntype = \"telegram\"\nbot_token_env = \"T\"\n[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n",
        line: 1,
        key: "notifiers.tg.chat_id",
        says: "missing",
    },
    Bad {
        text: "[jobs.\"night ly\"]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n",
        line: 1,
        key: "jobs.night ly",
        says: "names may only",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[jobs.a]\nformat = \"tar\"\n",
        line: 4,
        key: "",
        says: "invalid TOML",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\", port = 70000 }\n",
        line: 3,
        key: "jobs.a.source.port",
        says: "65535",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\", sslmode = \"maybe\" }\n",
        line: 3,
        key: "jobs.a.source.sslmode",
        says: "sslmode",
    },
    Bad {
        text: "# nothing here yet\n",
        line: 1,
        key: "jobs",
        says: "no job",
    },
    Bad {
        text: "jobs = 3\n",
        line: 1,
        key: "jobs",
        says: "table",
    },
    Bad {
        text: "[job.a]\ndestination = \"/b\"\n",
        line: 1,
        key: "job",
        says: "unknown key",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\nowners = \"no\"\n",
        line: 4,
        key: "jobs.a.owners",
        says: "true or false",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\nschedule = \"0 2 * * *\"\nmissed = \"catch-up\"\n",
        line: 5,
        key: "jobs.a.missed",
        says: "run-once, skip",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\nmissed = \"skip\"\n",
        line: 4,
        key: "jobs.a.missed",
        says: "only a job with a schedule",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\nschedule = \"0 2 * * *\"\njitter = \"a bit\"\n",
        line: 5,
        key: "jobs.a.jitter",
        says: "invalid duration",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\nschedule = \"0 2 * * *\"\njitter = \"1mo\"\n",
        line: 5,
        key: "jobs.a.jitter",
        says: "seconds, minutes, hours or days",
    },
    Bad {
        text: "[daemon]\ngrace_period = \"-5s\"\n[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n",
        line: 2,
        key: "daemon.grace_period",
        says: "positive",
    },
    Bad {
        text: "[daemon]\nstatedir = \"/var/lib/pgsnap\"\n[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n",
        line: 2,
        key: "daemon.statedir",
        says: "unknown key",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\nencrypt_to = [\"age1notakey\"]\n",
        line: 4,
        key: "jobs.a.encrypt_to[0]",
        says: "recipient",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\nencrypt_to = \"age1qqq\"\n",
        line: 4,
        key: "jobs.a.encrypt_to",
        says: "array",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\nencrypt_to_file = \"r.txt\"\npassphrase_file = \"p\"\n",
        line: 5,
        key: "jobs.a.passphrase_file",
        says: "cannot be combined",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\npassphrase = \"hunter2\"\n",
        line: 4,
        key: "jobs.a.passphrase",
        says: "passphrase_file",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[jobs.a.verify]\nenabled = \"yes\"\n",
        line: 5,
        key: "jobs.a.verify.enabled",
        says: "true or false",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[jobs.a.verify]\nidentity_file = \"key.txt\"\n",
        line: 5,
        key: "jobs.a.verify.identity_file",
        says: "not encrypted",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\npassphrase_file = \"p\"\n[jobs.a.verify]\nidentity_file = \"key.txt\"\n",
        line: 6,
        key: "jobs.a.verify.identity_file",
        says: "passphrase file",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[jobs.a.verify]\nsample = 3\n",
        line: 5,
        key: "jobs.a.verify.sample",
        says: "unknown key",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\nformat = \"plain\"\n[jobs.a.verify.restore]\nhost = \"/tmp\"\n",
        line: 5,
        key: "jobs.a.verify.restore",
        says: "plain SQL",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\nencrypt_to_file = \"r.txt\"\n[jobs.a.verify.restore]\nhost = \"/tmp\"\n",
        line: 5,
        key: "jobs.a.verify.restore",
        says: "identity_file",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[jobs.a.verify.restore]\nhost = \"/tmp\"\npassword = \"pw\"\n",
        line: 6,
        key: "jobs.a.verify.restore.password",
        says: "password_env",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[jobs.a.verify.restore]\nport = \"x\"\nserver = 1\n",
        line: 6,
        key: "jobs.a.verify.restore.server",
        says: "unknown key",
    },
    Bad {
        text: "[notifiers.h]\ntype = \"webhook\"\nurl = \"http://h/\"\nattempts = 0\n[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n",
        line: 4,
        key: "notifiers.h.attempts",
        says: "at least 1",
    },
    Bad {
        text: "[notifiers.h]\ntype = \"webhook\"\nurl = \"http://h/\"\nattempts = 11\n[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n",
        line: 4,
        key: "notifiers.h.attempts",
        says: "from 0 to 10",
    },
    Bad {
        text: "[notifiers.h]\ntype = \"webhook\"\nurl = \"http://h/\"\nhmac_secret = \"k\"\n[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n",
        line: 4,
        key: "notifiers.h.hmac_secret",
        says: "hmac_secret_env",
    },
    Bad {
        text: "[notifiers.t]\ntype = \"telegram\"\nbot_token = \"1:x\"\nchat_id = 1\n[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n",
        line: 3,
        key: "notifiers.t.bot_token",
        says: "bot_token_env",
    },
    Bad {
        text: "[notifiers.m]\ntype = \"email\"\nsmtp_host = \"mx\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]\nusername = \"u\"\npassword_env = \"P\"\nstarttls = false\n[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n",
        line: 8,
        key: "notifiers.m.starttls",
        says: "never sent unencrypted",
    },
    Bad {
        text: "[notifiers.m]\ntype = \"email\"\nsmtp_host = \"mx\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]\nusername = \"u\"\n[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n",
        line: 1,
        key: "notifiers.m.password_env",
        says: "both username and",
    },
    Bad {
        text: "[notifiers.m]\ntype = \"email\"\nsmtp_host = \"mx\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]\ntls_ca_file = 3\n[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n",
        line: 6,
        key: "notifiers.m.tls_ca_file",
        says: "a string",
    },
    Bad {
        text: "[notifiers.s]\ntype = \"slack\"\nurl_env = \"S\"\napi_base = \"http://x\"\n[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n",
        line: 4,
        key: "notifiers.s.api_base",
        says: "unknown key",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[jobs.a.schema_file]\nowner = false\n",
        line: 5,
        key: "jobs.a.schema_file.owner",
        says: "unknown key (expected one of: owners, privileges, git)",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[jobs.a.schema_file]\nprivileges = \"no\"\n",
        line: 5,
        key: "jobs.a.schema_file.privileges",
        says: "true or false",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\nschema_file = true\n",
        line: 4,
        key: "jobs.a.schema_file",
        says: "a table",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[jobs.a.schema_file.git]\nfile = \"schema.sql\"\n",
        line: 4,
        key: "jobs.a.schema_file.git.work_tree",
        says: "missing",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[jobs.a.schema_file.git]\nwork_tree = \"/srv/repo\"\n",
        line: 4,
        key: "jobs.a.schema_file.git.file",
        says: "missing",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[jobs.a.schema_file.git]\nwork_tree = \"/srv/repo\"\nfile = \"../outside.sql\"\n",
        line: 6,
        key: "jobs.a.schema_file.git.file",
        says: "relative path inside the work tree",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[jobs.a.schema_file.git]\nwork_tree = \"/srv/repo\"\nfile = \"/etc/schema.sql\"\n",
        line: 6,
        key: "jobs.a.schema_file.git.file",
        says: "relative path",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[jobs.a.schema_file.git]\nwork_tree = \"/srv/repo\"\nfile = \".git/hooks/pre-commit\"\n",
        line: 6,
        key: "jobs.a.schema_file.git.file",
        says: ".git directory",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[jobs.a.schema_file.git]\nwork_tree = \"/srv/repo\"\nfile = \"s.sql\"\nauthor = \"bot\"\n",
        line: 7,
        key: "jobs.a.schema_file.git.author",
        says: "Name <email>",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[jobs.a.schema_file.git]\nwork_tree = \"/srv/repo\"\nfile = \"s.sql\"\nbranch = \"main\"\n",
        line: 7,
        key: "jobs.a.schema_file.git.branch",
        says: "unknown key",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[jobs.a.verify.restore]\nschedule = \"0 3 * * 8\"\n",
        line: 5,
        key: "jobs.a.verify.restore.schedule",
        says: "cron",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\ndestinations = \"s3://bk/x\"\n",
        line: 4,
        key: "jobs.a.destinations",
        says: "array of tables",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[[jobs.a.destinations]]\nurl = \"ftp://h/x\"\n",
        line: 5,
        key: "jobs.a.destinations[0].url",
        says: "unknown scheme",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[[jobs.a.destinations]]\nretention = { keep_last = 2 }\n",
        line: 4,
        key: "jobs.a.destinations[0].url",
        says: "missing",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[[jobs.a.destinations]]\nurl = \"s3://AKID:secret@bk/x\"\n",
        line: 5,
        key: "jobs.a.destinations[0].url",
        says: "credentials",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[[jobs.a.destinations]]\nurl = \"s3://bk/x\"\nregion = \"eu-west-1\"\n",
        line: 6,
        key: "jobs.a.destinations[0].region",
        says: "unknown key",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[[jobs.a.destinations]]\nurl = \"s3://bk/x\"\n[[jobs.a.destinations]]\nurl = \"s3://bk/x/\"\n",
        line: 7,
        key: "jobs.a.destinations[1].url",
        says: "given twice",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[[jobs.a.destinations]]\nurl = \"file:///b\"\n",
        line: 5,
        key: "jobs.a.destinations[0].url",
        says: "own directory",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[[jobs.a.destinations]]\nurl = \"s3://bk/x\"\nretention = { keep_dayly = 3 }\n",
        line: 6,
        key: "jobs.a.destinations[0].retention.keep_dayly",
        says: "unknown key",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n[[jobs.a.destinations]]\nurl = \"s3://bk/x\"\nretention = { keep_last = 0 }\n",
        line: 6,
        key: "jobs.a.destinations[0].retention",
        says: "keeps nothing",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\ndestination_policy = \"most\"\n",
        line: 4,
        key: "jobs.a.destination_policy",
        says: "all, best-effort",
    },
    Bad {
        text: "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\nabandoned_after = \"0s\"\n",
        line: 4,
        key: "jobs.a.abandoned_after",
        says: "positive",
    },
];

#[test]
fn schema_file_and_restore_schedule() {
    let text = "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\ncontent = \"data-only\"\ntimezone = \"Europe/Berlin\"\n\
                [jobs.a.schema_file]\nowners = false\n\
                [jobs.a.schema_file.git]\nwork_tree = \"repo\"\nfile = \"./db/shop.sql\"\nauthor = \"Schema Bot <bot@example.com>\"\n\
                [jobs.a.verify.restore]\nschedule = \"0 3 * * 0\"\n";
    let c = check(text).unwrap_or_else(|e| panic!("{e:#?}"));
    let j = &c.jobs[0];
    let sf = j.schema_file.as_ref().unwrap();
    assert!(!sf.owners && sf.privileges);
    let git = sf.git.as_ref().unwrap();
    assert_eq!(git.work_tree, Path::new("/etc/pgsnap/repo"));
    assert_eq!(git.file, Path::new("./db/shop.sql"));
    assert_eq!(git.author, Some(("Schema Bot".into(), "bot@example.com".into())));
    let r = j.verify.restore.as_ref().unwrap();
    assert_eq!(r.server.conninfo, "dbname=postgres");
    // Sunday 03:00 Berlin after Monday 2026-11-30 12:00 UTC.
    assert_eq!(r.schedule.as_ref().unwrap().next.to_string(), "2026-12-06T02:00:00Z");
    // Without the tables: no schema file, test restores after each run.
    let c = check(MINIMAL).unwrap();
    assert!(c.jobs[0].schema_file.is_none());
}

#[test]
fn malformed_configs_name_the_line_and_key() {
    assert!(BAD.len() >= 20);
    for (n, b) in BAD.iter().enumerate() {
        let errors = match check(b.text) {
            Ok(_) => panic!("case {n} was accepted:\n{}", b.text),
            Err(e) => e,
        };
        let first = &errors[0];
        assert_eq!(
            (first.line, first.key.as_str()),
            (b.line, b.key),
            "case {n}: {errors:#?}\n{}",
            b.text
        );
        assert!(
            first.message.contains(b.says),
            "case {n}: \"{}\" does not say \"{}\"",
            first.message,
            b.says
        );
    }
}

#[test]
fn every_error_is_reported_not_only_the_first() {
    let text = "[jobs.a]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\nformat = \"zip\"\ntimezone = \"Nowhere\"\n\
                [jobs.b]\ncolour = \"red\"\nsource = { dbname = \"y\" }\ndestination = \"/c\"\n";
    let errors = check(text).unwrap_err();
    let got: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.key.as_str())).collect();
    assert_eq!(
        got,
        [(4, "jobs.a.format"), (5, "jobs.a.timezone"), (7, "jobs.b.colour")]
    );
    assert_eq!(
        errors[2].to_string(),
        "line 7: jobs.b.colour: unknown key (expected one of: source, content, format, compression, parallel, split_tables_larger_than, \
         owners, privileges, select, destination, destinations, destination_policy, abandoned_after, schedule, timezone, retention, notify, missed, jitter, \
         encrypt_to, encrypt_to_file, passphrase_file, verify, schema_file)"
    );
}

#[test]
fn the_readme_shows_the_example_as_it_is() {
    let readme = include_str!("../../README.md");
    assert!(
        readme.contains(&format!("```toml\n{EXAMPLE}```")),
        "README's example differs from fixtures/config/pgsnap.toml"
    );
}
