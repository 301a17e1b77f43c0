//! Unit tests of the conn module (compiled only under #[cfg(test)], see mod.rs):
//! resolution precedence, `Config` building, descriptions, conninfo output and the
//! password-retry check. Pure: an injected environment, temp files, in-memory streams.

use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_postgres::config as pg;

use super::*;
use crate::error::ErrorKind;

struct TestEnv {
    vars: HashMap<String, String>,
    socket_dir: PathBuf,
}

impl Env for TestEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
    fn default_socket_dir(&self) -> PathBuf {
        self.socket_dir.clone()
    }
}

/// USER=bob, HOME=/home/bob, default socket dir /run/pg, plus `vars`.
fn env(vars: &[(&str, &str)]) -> TestEnv {
    let mut map: HashMap<String, String> = [("USER", "bob"), ("HOME", "/home/bob")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in vars {
        map.insert(k.to_string(), v.to_string());
    }
    TestEnv {
        vars: map,
        socket_dir: PathBuf::from("/run/pg"),
    }
}

fn no_prompt(_: &str) -> crate::Result<String> {
    panic!("prompted without -W")
}

fn resolve_with(opts: &ConnOptions, env: &dyn Env) -> crate::Result<ConnSettings> {
    ConnSettings::resolve(opts, env, &mut no_prompt)
}

fn resolve(opts: &ConnOptions, vars: &[(&str, &str)]) -> ConnSettings {
    resolve_with(opts, &env(vars)).unwrap()
}

fn dsn(d: &str) -> ConnOptions {
    ConnOptions {
        dbname: Some(d.to_string()),
        ..ConnOptions::default()
    }
}

fn resolve_err(opts: &ConnOptions, vars: &[(&str, &str)]) -> crate::Error {
    resolve_with(opts, &env(vars)).unwrap_err()
}

fn tcp(h: &str) -> Host {
    Host::Tcp(h.to_string())
}

fn sock(p: &str) -> Host {
    Host::Socket(PathBuf::from(p))
}

// ---------------------------------------------------------------- defaults and precedence

#[test]
fn defaults() {
    let s = resolve(&ConnOptions::default(), &[]);
    assert_eq!(s.hosts, vec![sock("/run/pg")]);
    assert!(s.hostaddrs.is_empty());
    assert_eq!(s.ports, vec![5432]);
    assert_eq!(s.user, "bob");
    assert_eq!(s.dbname, "bob", "database defaults to the user");
    assert_eq!(s.password, None);
    assert_eq!(s.passfile, Some(PathBuf::from("/home/bob/.pgpass")));
    assert_eq!(s.application_name, None);
    assert_eq!(s.connect_timeout, None);
    assert_eq!(s.options, None);
    assert_eq!(s.sslmode, SslMode::Prefer);
    assert_eq!(
        (s.sslrootcert.clone(), s.sslcert.clone(), s.sslkey.clone()),
        (None, None, None)
    );
    assert_eq!(s.target_session_attrs, TargetSessionAttrs::Any);
    assert_eq!(s.channel_binding, ChannelBinding::Prefer);
    assert_eq!(s.load_balance_hosts, LoadBalanceHosts::Disable);
    assert_eq!(s.keepalives, Keepalives::default());
    assert_eq!(s.tcp_user_timeout, None);
}

#[test]
fn default_user_falls_back_to_logname_then_fails() {
    let e = TestEnv {
        vars: [("LOGNAME".to_string(), "carol".to_string())].into(),
        socket_dir: PathBuf::from("/tmp"),
    };
    let s = resolve_with(&ConnOptions::default(), &e).unwrap();
    assert_eq!((s.user.as_str(), s.dbname.as_str()), ("carol", "carol"));
    assert_eq!(s.passfile, None, "no HOME, no ~/.pgpass");

    let nobody = |_: &str| None;
    let err = resolve_with(&ConnOptions::default(), &nobody).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("-U"), "{err}");
    // With -U the OS user is not needed.
    let opts = ConnOptions {
        user: Some("dave".into()),
        ..ConnOptions::default()
    };
    assert_eq!(resolve_with(&opts, &nobody).unwrap().dbname, "dave");
}

const ALL_ENV: &[(&str, &str)] = &[
    ("PGHOST", "envhost"),
    ("PGPORT", "5001"),
    ("PGUSER", "envuser"),
    ("PGDATABASE", "envdb"),
    ("PGPASSWORD", "envpw"),
    ("PGPASSFILE", "/env/pgpass"),
    ("PGAPPNAME", "envapp"),
    ("PGCONNECT_TIMEOUT", "7"),
    ("PGSSLMODE", "disable"),
    ("PGOPTIONS", "-c work_mem=64MB"),
    ("PGTARGETSESSIONATTRS", "read-write"),
];

#[test]
fn environment_over_defaults() {
    let s = resolve(&ConnOptions::default(), ALL_ENV);
    assert_eq!(s.hosts, vec![tcp("envhost")]);
    assert_eq!(s.ports, vec![5001]);
    assert_eq!(s.user, "envuser");
    assert_eq!(s.dbname, "envdb");
    assert_eq!(s.password.as_deref(), Some("envpw"));
    assert_eq!(s.passfile, Some(PathBuf::from("/env/pgpass")));
    assert_eq!(s.application_name.as_deref(), Some("envapp"));
    assert_eq!(s.connect_timeout, Some(Duration::from_secs(7)));
    assert_eq!(s.sslmode, SslMode::Disable);
    assert_eq!(s.options.as_deref(), Some("-c work_mem=64MB"));
    assert_eq!(s.target_session_attrs, TargetSessionAttrs::ReadWrite);

    let s = resolve(&ConnOptions::default(), &[("PGHOSTADDR", "10.0.0.9")]);
    assert_eq!(s.hosts, vec![tcp("10.0.0.9")]);
    assert_eq!(s.hostaddrs, vec!["10.0.0.9".parse::<IpAddr>().unwrap()]);
}

#[test]
fn conninfo_over_environment() {
    let s = resolve(
        &dsn(
            "host=cshost port=6001 user=csuser dbname=csdb password=cspw application_name=csapp \
              connect_timeout=9 sslmode=allow options='-c a=b' target_session_attrs=read-only passfile=/cs/pgpass",
        ),
        ALL_ENV,
    );
    assert_eq!(s.hosts, vec![tcp("cshost")]);
    assert_eq!(s.ports, vec![6001]);
    assert_eq!((s.user.as_str(), s.dbname.as_str()), ("csuser", "csdb"));
    assert_eq!(s.password.as_deref(), Some("cspw"));
    assert_eq!(s.passfile, Some(PathBuf::from("/cs/pgpass")));
    assert_eq!(s.application_name.as_deref(), Some("csapp"));
    assert_eq!(s.connect_timeout, Some(Duration::from_secs(9)));
    assert_eq!(s.sslmode, SslMode::Allow);
    assert_eq!(s.options.as_deref(), Some("-c a=b"));
    assert_eq!(s.target_session_attrs, TargetSessionAttrs::ReadOnly);

    // Keywords the string leaves out still come from the environment.
    let s = resolve(&dsn("host=cshost"), ALL_ENV);
    assert_eq!(
        (s.hosts.clone(), s.ports.clone(), s.user.as_str()),
        (vec![tcp("cshost")], vec![5001], "envuser")
    );
    assert_eq!(s.dbname, "envdb");
}

#[test]
fn conninfo_in_dbname_over_flags_like_pg_dump() {
    // pg_dump -h flaghost -p 7001 -U flaguser -d 'postgresql://...' connects where the
    // string says (libpq expands the dbname keyword last).
    let opts = ConnOptions {
        host: Some("flaghost".into()),
        port: Some("7001".into()),
        user: Some("flaguser".into()),
        dbname: Some("postgresql://csuser:cspw@cshost:6001/csdb?application_name=csapp".into()),
        application_name: Some("flagapp".into()),
        password_prompt: PasswordPrompt::Auto,
    };
    let s = resolve(&opts, ALL_ENV);
    assert_eq!(s.hosts, vec![tcp("cshost")]);
    assert_eq!(s.ports, vec![6001]);
    assert_eq!(s.user, "csuser");
    assert_eq!(s.dbname, "csdb");
    assert_eq!(s.password.as_deref(), Some("cspw"));
    assert_eq!(s.application_name.as_deref(), Some("csapp"));
    // Flags still fill what the string leaves out.
    let opts = ConnOptions {
        dbname: Some("dbname=csdb".into()),
        ..opts
    };
    let s = resolve(&opts, ALL_ENV);
    assert_eq!(s.hosts, vec![tcp("flaghost")]);
    assert_eq!(
        (s.ports.clone(), s.user.as_str(), s.dbname.as_str()),
        (vec![7001], "flaguser", "csdb")
    );
}

#[test]
fn flags_over_environment() {
    let opts = ConnOptions {
        host: Some("/flag/sock".into()),
        port: Some("7001".into()),
        user: Some("flaguser".into()),
        dbname: Some("flagdb".into()),
        ..ConnOptions::default()
    };
    let s = resolve(&opts, ALL_ENV);
    assert_eq!(s.hosts, vec![sock("/flag/sock")]);
    assert_eq!(
        (s.ports.clone(), s.user.as_str(), s.dbname.as_str()),
        (vec![7001], "flaguser", "flagdb")
    );
}

#[test]
fn empty_flags_are_ignored() {
    let opts = ConnOptions {
        host: Some(String::new()),
        port: Some(String::new()),
        user: Some(String::new()),
        dbname: Some(String::new()),
        ..ConnOptions::default()
    };
    let s = resolve(&opts, ALL_ENV);
    assert_eq!(
        (s.hosts.clone(), s.user.as_str(), s.dbname.as_str()),
        (vec![tcp("envhost")], "envuser", "envdb")
    );
}

#[test]
fn empty_conninfo_value_hides_environment() {
    // Checked against pg_dump 15: `host=''` with PGHOST set uses the default socket dir.
    let s = resolve(&dsn("host='' port='' user='' dbname=x"), ALL_ENV);
    assert_eq!(s.hosts, vec![sock("/run/pg")]);
    assert_eq!(s.ports, vec![5432]);
    assert_eq!(s.user, "bob");
    // A URI leaves empty parts unset, so the environment applies.
    let s = resolve(&dsn("postgresql:///x"), ALL_ENV);
    assert_eq!((s.hosts.clone(), s.ports.clone()), (vec![tcp("envhost")], vec![5001]));
    let s = resolve(&dsn("postgresql://:4444/x"), ALL_ENV);
    assert_eq!((s.hosts.clone(), s.ports.clone()), (vec![tcp("envhost")], vec![4444]));
}

#[test]
fn dbname_expansion() {
    assert_eq!(resolve(&dsn("shop"), &[]).dbname, "shop");
    assert_eq!(resolve(&dsn("a b"), &[]).dbname, "a b");
    let s = resolve(&dsn("dbname=shop host=h"), &[]);
    assert_eq!((s.dbname.as_str(), s.hosts.clone()), ("shop", vec![tcp("h")]));
    // Only the -d value is expanded; a dbname inside it is a plain name.
    assert_eq!(resolve(&dsn("dbname='host=x'"), &[]).dbname, "host=x");
    assert_eq!(resolve(&dsn("postgres://h/shop"), &[]).dbname, "shop");
    // A connection string without dbname falls back to the environment, then the user.
    assert_eq!(resolve(&dsn("host=h"), &[("PGDATABASE", "envdb")]).dbname, "envdb");
    assert_eq!(resolve(&dsn("host=h"), &[]).dbname, "bob");
    // PGDATABASE is never expanded.
    assert_eq!(
        resolve(&ConnOptions::default(), &[("PGDATABASE", "host=x")]).dbname,
        "host=x"
    );
}

#[test]
fn hosts_and_ports_lists() {
    let s = resolve(&dsn("postgresql://h1:1,h2,[::1]:3/d"), &[]);
    assert_eq!(s.hosts, vec![tcp("h1"), tcp("h2"), tcp("::1")]);
    assert_eq!(s.ports, vec![1, 5432, 3]);
    let s = resolve(&dsn("host=/a,,b port=9"), &[]);
    assert_eq!(s.hosts, vec![sock("/a"), sock("/run/pg"), tcp("b")]);
    assert_eq!(s.ports, vec![9]);
    let s = resolve(&dsn("postgresql://%2Fvar%2Frun%2Fpg:5433/d"), &[]);
    assert_eq!(
        (s.hosts.clone(), s.ports.clone()),
        (vec![sock("/var/run/pg")], vec![5433])
    );
    let s = resolve(&dsn("postgresql:///d?host=/tmp/x&port=5434"), &[]);
    assert_eq!((s.hosts.clone(), s.ports.clone()), (vec![sock("/tmp/x")], vec![5434]));
    let s = resolve(&dsn("host=a,b hostaddr=10.0.0.1,::2"), &[]);
    assert_eq!(
        s.hostaddrs,
        vec!["10.0.0.1".parse::<IpAddr>().unwrap(), "::2".parse().unwrap()]
    );
}

/// (connection string, environment, expected error message)
type Case = (&'static str, &'static [(&'static str, &'static str)], &'static str);

#[test]
fn bad_values() {
    let cases: &[Case] = &[
        ("port=abc", &[], "invalid port number \"abc\""),
        ("port=0", &[], "invalid port number \"0\""),
        ("port=70000", &[], "invalid port number \"70000\""),
        ("port=-1", &[], "invalid port number \"-1\""),
        ("host=a,b,c port=1,2", &[], "could not match 2 port numbers to 3 hosts"),
        (
            "host=a hostaddr=1.1.1.1,2.2.2.2",
            &[],
            "could not match 1 host names to 2 hostaddr values",
        ),
        (
            "hostaddr=db.example",
            &[],
            "could not parse network address \"db.example\"",
        ),
        ("sslmode=maybe", &[], "invalid sslmode value \"maybe\""),
        (
            "target_session_attrs=rw",
            &[],
            "invalid target_session_attrs value \"rw\"",
        ),
        ("channel_binding=yes", &[], "invalid channel_binding value \"yes\""),
        ("load_balance_hosts=on", &[], "invalid load_balance_hosts value \"on\""),
        (
            "connect_timeout=soon",
            &[],
            "invalid integer value \"soon\" for connection option \"connect_timeout\"",
        ),
        (
            "keepalives=yes",
            &[],
            "invalid integer value \"yes\" for connection option \"keepalives\"",
        ),
        (
            "keepalives_idle=-1",
            &[],
            "invalid value \"-1\" for connection option \"keepalives_idle\"",
        ),
        (
            "keepalives_count=-1",
            &[],
            "invalid value \"-1\" for connection option \"keepalives_count\"",
        ),
        (
            "dbname=x",
            &[("PGPORT", "x")],
            "invalid port number \"x\" (from PGPORT)",
        ),
        (
            "dbname=x",
            &[("PGSSLMODE", "on")],
            "invalid sslmode value \"on\" (from PGSSLMODE)",
        ),
        ("sslnegotiation=fast", &[], "invalid sslnegotiation value \"fast\""),
        ("sslcertmode=always", &[], "invalid sslcertmode value \"always\""),
        (
            "ssl_min_protocol_version=TLSv9",
            &[],
            "invalid ssl_min_protocol_version value \"TLSv9\"",
        ),
        (
            "dbname=x",
            &[("PGSSLMAXPROTOCOLVERSION", "SSLv3")],
            "invalid ssl_max_protocol_version value \"SSLv3\" (from PGSSLMAXPROTOCOLVERSION)",
        ),
        (
            "ssl_min_protocol_version=TLSv1.3 ssl_max_protocol_version=TLSv1.2",
            &[],
            "invalid SSL protocol version range",
        ),
        (
            "sslmode=prefer sslnegotiation=direct",
            &[],
            "weak sslmode \"prefer\" may not be used with sslnegotiation=direct (use \"require\", \"verify-ca\", or \"verify-full\")",
        ),
        (
            "sslnegotiation=direct",
            &[],
            "weak sslmode \"prefer\" may not be used with sslnegotiation=direct (use \"require\", \"verify-ca\", or \"verify-full\")",
        ),
        (
            "sslmode=require sslrootcert=system",
            &[],
            "weak sslmode \"require\" may not be used with sslrootcert=system (use \"verify-full\")",
        ),
        (
            "dbname=x",
            &[("PGSSLMODE", "verify-ca"), ("PGSSLROOTCERT", "system")],
            "weak sslmode \"verify-ca\" may not be used with sslrootcert=system (use \"verify-full\")",
        ),
        (
            "sslmode=disable channel_binding=require",
            &[],
            "channel_binding=require needs an SSL connection, but sslmode is \"disable\"",
        ),
        (
            "channel_binding=require",
            &[("PGSSLMODE", "disable")],
            "channel_binding=require needs an SSL connection, but sslmode is \"disable\"",
        ),
    ];
    for (s, vars, want) in cases {
        let e = resolve_err(&dsn(s), vars);
        assert_eq!(e.kind(), ErrorKind::Config, "{s}: {e}");
        assert_eq!(e.to_string(), *want, "{s}");
    }
    let opts = ConnOptions {
        port: Some("http".into()),
        ..ConnOptions::default()
    };
    assert_eq!(
        resolve_err(&opts, &[]).to_string(),
        "invalid port number \"http\" (from -p)"
    );
    // Parse errors of the -d string come through unchanged.
    assert_eq!(
        resolve_err(&dsn("foo=1"), &[]).to_string(),
        "invalid connection option \"foo\""
    );
    assert!(resolve_err(&dsn("host='x"), &[]).to_string().contains("unterminated"));
}

#[test]
fn unsupported_keywords_are_refused_not_dropped() {
    for (s, vars, want) in [
        ("require_auth=scram-sha-256", &[][..], "require_auth=scram-sha-256"),
        (
            "dbname=x",
            &[("PGREQUIREAUTH", "md5")][..],
            "require_auth=md5 (from PGREQUIREAUTH)",
        ),
        ("requirepeer=postgres", &[][..], "requirepeer=postgres"),
        ("gssencmode=require", &[][..], "gssencmode=require"),
        ("replication=database", &[][..], "replication=database"),
        (
            "ssl_max_protocol_version=TLSv1.1",
            &[][..],
            "ssl_max_protocol_version=TLSv1.1 is not supported: pgsnap's TLS implementation (rustls) speaks \
             TLSv1.2 and TLSv1.3 only",
        ),
    ] {
        let e = resolve_err(&dsn(s), vars);
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{s}");
        assert!(e.to_string().contains(want), "{s}: {e}");
    }
    // Values that ask for what we do anyway, and ignorable options, pass.
    for s in [
        "gssencmode=prefer",
        "gssencmode=disable",
        "sslnegotiation=postgres",
        "sslnegotiation=direct sslmode=require",
        "client_encoding=UTF8",
        "service=''",
        "sslsni=1",
        "sslcompression=1",
        "krbsrvname=postgres",
    ] {
        assert!(resolve_with(&dsn(s), &env(&[])).is_ok(), "{s}");
    }
}

#[test]
fn timeouts_and_keepalives() {
    let t = |v: &str| resolve(&dsn(&format!("connect_timeout={v}")), &[]).connect_timeout;
    assert_eq!(t("10"), Some(Duration::from_secs(10)));
    assert_eq!(t("1"), Some(Duration::from_secs(2)), "libpq raises 1 to 2 seconds");
    assert_eq!(t("0"), None);
    assert_eq!(t("-3"), None);
    assert_eq!(t("' 5 '"), Some(Duration::from_secs(5)));
    let s = resolve(
        &dsn("keepalives=0 keepalives_idle=30 keepalives_interval=5 keepalives_count=3 tcp_user_timeout=1500"),
        &[],
    );
    assert_eq!(
        s.keepalives,
        Keepalives {
            enabled: false,
            idle: Some(Duration::from_secs(30)),
            interval: Some(Duration::from_secs(5)),
            count: Some(3)
        }
    );
    assert_eq!(s.tcp_user_timeout, Some(Duration::from_millis(1500)));
    assert!(resolve(&dsn("keepalives=2"), &[]).keepalives.enabled);
}

#[test]
fn ssl_settings_and_other_enums() {
    let s = resolve(
        &dsn(
            "sslmode=verify-full sslrootcert=/r.crt sslcert=/c.crt sslkey=/c.key channel_binding=require load_balance_hosts=random",
        ),
        &[],
    );
    assert_eq!(s.sslmode, SslMode::VerifyFull);
    assert_eq!(s.sslrootcert, Some(PathBuf::from("/r.crt")));
    assert_eq!(s.sslcert, Some(PathBuf::from("/c.crt")));
    assert_eq!(s.sslkey, Some(PathBuf::from("/c.key")));
    assert_eq!(s.channel_binding, ChannelBinding::Require);
    assert_eq!(s.load_balance_hosts, LoadBalanceHosts::Random);
    for m in ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] {
        assert_eq!(SslMode::parse(m).unwrap().as_str(), m);
    }
    for t in ["any", "read-write", "read-only", "primary", "standby", "prefer-standby"] {
        assert_eq!(TargetSessionAttrs::parse(t).unwrap().as_str(), t);
    }
    let s = resolve(&ConnOptions::default(), &[("PGSSLROOTCERT", "/env/root.crt")]);
    assert_eq!(s.sslrootcert, Some(PathBuf::from("/env/root.crt")));
}

#[test]
fn tls_keywords_and_their_environment_variables() {
    let s = resolve(&ConnOptions::default(), &[]);
    assert_eq!(
        (s.sslcertmode, s.sslnegotiation, s.sslsni),
        (SslCertMode::Allow, SslNegotiation::Postgres, true)
    );
    assert_eq!((s.ssl_min_protocol_version, s.ssl_max_protocol_version), (None, None));
    assert_eq!(s.ssl_dir, Some(PathBuf::from("/home/bob/.postgresql")));
    assert_eq!(
        (s.sslpassword.clone(), s.sslcrl.clone(), s.sslcrldir.clone()),
        (None, None, None)
    );

    let s = resolve(
        &dsn(
            "sslmode=verify-ca sslpassword='p w' sslcrl=/c.crl sslcrldir=/crls sslcertmode=require \
             sslnegotiation=direct sslsni=0 ssl_min_protocol_version=tlsv1.2 ssl_max_protocol_version=TLSv1.3 \
             sslkeylogfile=/tmp/keys sslcompression=1",
        ),
        &[],
    );
    assert_eq!(s.sslmode, SslMode::VerifyCa);
    assert_eq!(s.sslpassword.as_deref(), Some("p w"));
    assert_eq!(s.sslcrl, Some(PathBuf::from("/c.crl")));
    assert_eq!(s.sslcrldir, Some(PathBuf::from("/crls")));
    assert_eq!(s.sslcertmode, SslCertMode::Require);
    assert_eq!(s.sslnegotiation, SslNegotiation::Direct);
    assert!(!s.sslsni);
    assert_eq!(s.ssl_min_protocol_version, Some(TlsVersion::Tls1_2));
    assert_eq!(s.ssl_max_protocol_version, Some(TlsVersion::Tls1_3));
    assert_eq!(s.sslkeylogfile, Some(PathBuf::from("/tmp/keys")));

    // Every TLS environment variable of libpq is read.
    let s = resolve(
        &ConnOptions::default(),
        &[
            ("PGSSLMODE", "require"),
            ("PGSSLCERT", "/e/c.crt"),
            ("PGSSLKEY", "/e/c.key"),
            ("PGSSLCRL", "/e/c.crl"),
            ("PGSSLCRLDIR", "/e/crls"),
            ("PGSSLNEGOTIATION", "direct"),
            ("PGCHANNELBINDING", "require"),
            ("PGSSLMINPROTOCOLVERSION", "TLSv1.3"),
            ("PGSSLMAXPROTOCOLVERSION", "TLSv1.3"),
            ("PGSSLCERTMODE", "disable"),
            ("PGSSLSNI", "0"),
        ],
    );
    assert_eq!(
        (s.sslmode, s.sslnegotiation, s.channel_binding, s.sslcertmode, s.sslsni),
        (
            SslMode::Require,
            SslNegotiation::Direct,
            ChannelBinding::Require,
            SslCertMode::Disable,
            false
        )
    );
    assert_eq!(
        (
            s.sslcert.clone(),
            s.sslkey.clone(),
            s.sslcrl.clone(),
            s.sslcrldir.clone()
        ),
        (
            Some(PathBuf::from("/e/c.crt")),
            Some(PathBuf::from("/e/c.key")),
            Some(PathBuf::from("/e/c.crl")),
            Some(PathBuf::from("/e/crls"))
        )
    );
    assert_eq!(s.ssl_min_protocol_version, Some(TlsVersion::Tls1_3));
    // libpq sends SNI only for values starting with '1'.
    assert!(!resolve(&dsn("sslsni=yes"), &[]).sslsni);
    assert!(resolve(&dsn("sslsni=1"), &[]).sslsni);
    // TLSv1 as a minimum is accepted (rustls then starts at 1.2).
    assert_eq!(
        resolve(&dsn("ssl_min_protocol_version=TLSv1"), &[]).ssl_min_protocol_version,
        Some(TlsVersion::Tls1_0)
    );
}

#[test]
fn system_roots_make_verify_full_the_default() {
    assert_eq!(resolve(&dsn("sslrootcert=system"), &[]).sslmode, SslMode::VerifyFull);
    assert_eq!(
        resolve(&dsn("dbname=x"), &[("PGSSLROOTCERT", "system")]).sslmode,
        SslMode::VerifyFull
    );
    assert_eq!(
        resolve(&dsn("sslrootcert=system sslmode=verify-full"), &[]).sslmode,
        SslMode::VerifyFull
    );
    // An explicitly empty sslmode is "not set", as in the rest of resolution.
    assert_eq!(
        resolve(&dsn("sslrootcert=system sslmode=''"), &[]).sslmode,
        SslMode::VerifyFull
    );
}

#[test]
fn pgrequiressl_is_the_last_resort() {
    assert_eq!(
        resolve(&dsn("dbname=x"), &[("PGREQUIRESSL", "1")]).sslmode,
        SslMode::Require
    );
    assert_eq!(
        resolve(&dsn("dbname=x"), &[("PGREQUIRESSL", "0")]).sslmode,
        SslMode::Prefer
    );
    // PGSSLMODE and explicit settings win over it.
    assert_eq!(
        resolve(&dsn("dbname=x"), &[("PGREQUIRESSL", "1"), ("PGSSLMODE", "allow")]).sslmode,
        SslMode::Allow
    );
    assert_eq!(
        resolve(&dsn("sslmode=disable"), &[("PGREQUIRESSL", "1")]).sslmode,
        SslMode::Disable
    );
}

#[test]
fn hostaddr_alone_gives_no_host_name() {
    let s = resolve(&dsn("hostaddr=10.0.0.5"), &[]);
    assert!(!s.host_names_given);
    assert_eq!(s.hosts, vec![tcp("10.0.0.5")]);
    assert!(resolve(&dsn("host=db hostaddr=10.0.0.5"), &[]).host_names_given);
    // The conninfo string keeps the distinction.
    let text = s.to_conninfo_string();
    assert!(text.starts_with("hostaddr=10.0.0.5 port=5432"), "{text}");
    assert_eq!(resolve(&dsn(&text), &[]), s);
}

// ---------------------------------------------------------------- service files

/// An environment whose PGSERVICEFILE is a file with `text`; HOME and PGSYSCONFDIR point
/// into the same temporary directory (empty).
fn with_service_file(text: &str, vars: &[(&str, &str)]) -> (tempfile::TempDir, TestEnv) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("services.conf");
    std::fs::write(&file, text).unwrap();
    let mut e = env(vars);
    for (k, v) in [
        ("PGSERVICEFILE", file.display().to_string()),
        ("HOME", dir.path().display().to_string()),
        ("PGSYSCONFDIR", dir.path().display().to_string()),
    ] {
        e.vars.entry(k.to_string()).or_insert(v);
    }
    (dir, e)
}

const SERVICES: &str = "[prod]\nhost=svchost\nport=6543\ndbname=svcdb\nsslmode=verify-full\napplication_name=svcapp\n\
                        [bad]\nport=ninety\n";

#[test]
fn service_values_rank_between_explicit_settings_and_the_environment() {
    let (_d, e) = with_service_file(
        SERVICES,
        &[
            ("PGHOST", "envhost"),
            ("PGPORT", "5001"),
            ("PGUSER", "envuser"),
            ("PGAPPNAME", "envapp"),
        ],
    );
    let s = resolve_with(&dsn("service=prod"), &e).unwrap();
    assert_eq!(s.hosts, vec![tcp("svchost")], "service over PGHOST");
    assert_eq!(s.ports, vec![6543], "service over PGPORT");
    assert_eq!(s.user, "envuser", "environment fills what the service leaves out");
    assert_eq!(s.dbname, "svcdb");
    assert_eq!(s.sslmode, SslMode::VerifyFull);
    assert_eq!(s.application_name.as_deref(), Some("svcapp"));
    // Explicit settings (string and flags) over the service.
    let opts = ConnOptions {
        port: Some("7001".into()),
        dbname: Some("service=prod host=cshost sslmode=disable application_name=''".into()),
        ..ConnOptions::default()
    };
    let s = resolve_with(&opts, &e).unwrap();
    assert_eq!(s.hosts, vec![tcp("cshost")]);
    assert_eq!(s.ports, vec![7001], "-p over the service");
    assert_eq!(s.sslmode, SslMode::Disable);
    assert_eq!(
        s.application_name, None,
        "an explicit '' hides the service and PGAPPNAME"
    );
    // PGSERVICE names the service when the string does not.
    let (_d, e) = with_service_file(SERVICES, &[("PGSERVICE", "prod")]);
    assert_eq!(resolve_with(&ConnOptions::default(), &e).unwrap().dbname, "svcdb");
    // ... and service= in the string wins over PGSERVICE, service='' turns it off.
    let (_d, e) = with_service_file(SERVICES, &[("PGSERVICE", "bad")]);
    assert_eq!(resolve_with(&dsn("service=prod"), &e).unwrap().dbname, "svcdb");
    assert_eq!(resolve_with(&dsn("service='' dbname=x"), &e).unwrap().ports, vec![5432]);
    // A URI can name the service too.
    let (_d, e) = with_service_file(SERVICES, &[]);
    assert_eq!(
        resolve_with(&dsn("postgresql:///?service=prod"), &e).unwrap().dbname,
        "svcdb"
    );
}

#[test]
fn service_errors_name_the_service_file_and_line() {
    let (dir, e) = with_service_file(SERVICES, &[]);
    let file = dir.path().join("services.conf");
    let err = resolve_with(&dsn("service=bad"), &e).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(
        err.to_string(),
        format!(
            "invalid port number \"ninety\" (from service \"bad\" in \"{}\", line 8)",
            file.display()
        )
    );
    let err = resolve_with(&dsn("service=missing"), &e).unwrap_err();
    assert_eq!(err.to_string(), "definition of service \"missing\" not found");
    let (dir, e) = with_service_file("[s]\nhost=a\nnot a setting\n", &[("PGSERVICE", "s")]);
    assert_eq!(
        resolve_with(&ConnOptions::default(), &e).unwrap_err().to_string(),
        format!(
            "syntax error in service file \"{}\", line 3",
            dir.path().join("services.conf").display()
        )
    );
    // A service file may not name another service.
    let (_d, e) = with_service_file("[s]\nservice=t\n", &[]);
    assert!(
        resolve_with(&dsn("service=s"), &e)
            .unwrap_err()
            .to_string()
            .starts_with("nested service specifications not supported")
    );
}

#[test]
fn user_service_file_wins_over_the_system_one() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let sys = dir.path().join("sys");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&sys).unwrap();
    std::fs::write(home.join(".pg_service.conf"), "[s]\nhost=user-host\n").unwrap();
    std::fs::write(
        sys.join("pg_service.conf"),
        "[s]\nhost=system-host\nport=1\n[only-system]\nhost=sys2\n",
    )
    .unwrap();
    let e = env(&[
        ("HOME", &home.display().to_string()),
        ("PGSYSCONFDIR", &sys.display().to_string()),
    ]);
    let s = resolve_with(&dsn("service=s"), &e).unwrap();
    assert_eq!(
        (s.hosts.clone(), s.ports.clone()),
        (vec![tcp("user-host")], vec![5432]),
        "no merging of files"
    );
    assert_eq!(
        resolve_with(&dsn("service=only-system"), &e).unwrap().hosts,
        vec![tcp("sys2")]
    );
}

#[test]
fn fallback_application_name() {
    let s = resolve(&dsn("fallback_application_name=fb"), &[]);
    assert_eq!(s.application_name.as_deref(), Some("fb"));
    let s = resolve(&dsn("fallback_application_name=fb application_name=app"), &[]);
    assert_eq!(s.application_name.as_deref(), Some("app"));
}

// ---------------------------------------------------------------- prompting

#[test]
fn force_prompt_asks_once_and_wins() {
    let mut asked = Vec::new();
    let mut prompt = |p: &str| {
        asked.push(p.to_string());
        Ok("typed".to_string())
    };
    let opts = ConnOptions {
        password_prompt: PasswordPrompt::Force,
        dbname: Some("password=cspw".into()),
        ..ConnOptions::default()
    };
    let s = ConnSettings::resolve(&opts, &env(&[("PGPASSWORD", "envpw")]), &mut prompt).unwrap();
    assert_eq!(s.password.as_deref(), Some("typed"));
    assert_eq!(asked, vec!["Password: ".to_string()]);
}

#[test]
fn prompt_failure_is_reported() {
    let mut prompt = |_: &str| {
        Err(crate::Error::io(
            "reading the password from the terminal",
            std::io::ErrorKind::NotFound.into(),
        ))
    };
    let opts = ConnOptions {
        password_prompt: PasswordPrompt::Force,
        ..ConnOptions::default()
    };
    let e = ConnSettings::resolve(&opts, &env(&[]), &mut prompt).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
}

#[test]
fn never_and_auto_do_not_prompt_up_front() {
    for mode in [PasswordPrompt::Never, PasswordPrompt::Auto] {
        let opts = ConnOptions {
            password_prompt: mode,
            ..ConnOptions::default()
        };
        assert_eq!(resolve(&opts, &[]).password, None);
    }
}

// ---------------------------------------------------------------- to_config

fn settings(s: &str) -> ConnSettings {
    resolve(&dsn(s), &[("HOME", "/nonexistent-home")])
}

#[test]
fn config_tcp() {
    let c = settings("host=db.example port=6543 user=alice dbname=shop password=pw options='-c x=1' connect_timeout=5")
        .to_config()
        .unwrap();
    assert_eq!(c.get_hosts(), &[pg::Host::Tcp("db.example".into())]);
    assert_eq!(c.get_ports(), &[6543]);
    assert_eq!(c.get_user(), Some("alice"));
    assert_eq!(c.get_dbname(), Some("shop"));
    assert_eq!(c.get_password(), Some(&b"pw"[..]));
    assert_eq!(c.get_options(), Some("-c x=1"));
    assert_eq!(c.get_connect_timeout(), Some(&Duration::from_secs(5)));
    assert_eq!(c.get_application_name(), Some("pgsnap"), "default application name");
    assert_eq!(c.get_ssl_mode(), pg::SslMode::Prefer);
    assert_eq!(c.get_target_session_attrs(), pg::TargetSessionAttrs::Any);
    assert!(c.get_keepalives());
}

#[test]
fn config_socket_multi_host_and_addrs() {
    let c = settings("host=/run/x,h2 port=1,2 hostaddr=127.0.0.1,::1 application_name=me")
        .to_config()
        .unwrap();
    assert_eq!(
        c.get_hosts(),
        &[pg::Host::Unix("/run/x".into()), pg::Host::Tcp("h2".into())]
    );
    assert_eq!(c.get_ports(), &[1, 2]);
    let addrs: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
    assert_eq!(c.get_hostaddrs(), &addrs[..]);
    assert_eq!(c.get_application_name(), Some("me"));
    assert_eq!(c.get_password(), None);
}

#[test]
fn config_keepalives_and_session_attrs() {
    let c = settings(
        "keepalives=0 keepalives_idle=30 keepalives_interval=5 keepalives_count=3 tcp_user_timeout=1500 \
         target_session_attrs=read-write channel_binding=disable load_balance_hosts=random",
    )
    .to_config()
    .unwrap();
    assert!(!c.get_keepalives());
    assert_eq!(c.get_keepalives_idle(), Duration::from_secs(30));
    assert_eq!(c.get_keepalives_interval(), Some(Duration::from_secs(5)));
    assert_eq!(c.get_keepalives_retries(), Some(3));
    assert_eq!(c.get_tcp_user_timeout(), Some(&Duration::from_millis(1500)));
    assert_eq!(c.get_target_session_attrs(), pg::TargetSessionAttrs::ReadWrite);
    assert_eq!(c.get_channel_binding(), pg::ChannelBinding::Disable);
    assert_eq!(c.get_load_balance_hosts(), pg::LoadBalanceHosts::Random);
}

#[test]
fn config_sslmodes() {
    for (mode, want) in [("disable", pg::SslMode::Disable), ("prefer", pg::SslMode::Prefer)] {
        assert_eq!(
            settings(&format!("sslmode={mode}")).to_config().unwrap().get_ssl_mode(),
            want,
            "{mode}"
        );
    }
    // A bare tokio_postgres::Config cannot carry the other modes faithfully.
    for mode in ["allow", "require", "verify-ca", "verify-full"] {
        let e = settings(&format!("sslmode={mode}")).to_config().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.to_string().contains("pgsnap::pg::Target::from_settings"), "{e}");
    }
    // Endpoints carry every mode; the verifying ones need a root certificate file.
    for mode in ["disable", "allow", "prefer", "require"] {
        let tc = settings(&format!("host=h sslmode={mode}")).target_configs().unwrap();
        assert_eq!(tc[0].1.sslmode().as_str(), mode);
    }
    for mode in ["verify-ca", "verify-full"] {
        let e = settings(&format!("host=h sslmode={mode}"))
            .target_configs()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(
            e.to_string()
                .contains("/nonexistent-home/.postgresql/root.crt\" does not exist"),
            "{e}"
        );
    }
}

#[test]
fn config_unsupported_session_attrs() {
    for t in ["primary", "standby", "prefer-standby"] {
        let e = settings(&format!("target_session_attrs={t}")).to_config().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{t}");
        assert!(e.to_string().contains(t));
    }
}

#[test]
fn config_rejects_inconsistent_hand_made_settings() {
    let mut s = settings("host=a,b port=1,2");
    s.ports = vec![1, 2, 3];
    assert!(
        s.to_config()
            .unwrap_err()
            .to_string()
            .contains("could not match 3 port numbers to 2 hosts")
    );
    s.hosts.clear();
    assert_eq!(s.to_config().unwrap_err().kind(), ErrorKind::Config);
}

// ---------------------------------------------------------------- password file in to_config

fn pgpass(dir: &Path, contents: &str, mode: u32) -> PathBuf {
    let path = dir.join("pgpass");
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(contents.as_bytes()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

fn with_passfile(conninfo: &str, passfile: &Path) -> ConnSettings {
    let pf = passfile.to_str().unwrap().to_string();
    resolve(&dsn(conninfo), &[("PGPASSFILE", pf.as_str())])
}

#[test]
fn passfile_supplies_missing_password() {
    let dir = tempfile::tempdir().unwrap();
    let f = pgpass(dir.path(), "db1:5432:shop:alice:from-file\n*:*:*:*:wild\n", 0o600);
    let c = with_passfile("host=db1 user=alice dbname=shop", &f)
        .to_config()
        .unwrap();
    assert_eq!(c.get_password(), Some(&b"from-file"[..]));
    let c = with_passfile("host=db1 port=5433 user=alice dbname=shop", &f)
        .to_config()
        .unwrap();
    assert_eq!(c.get_password(), Some(&b"wild"[..]));
    // An explicit password wins over the file.
    let c = with_passfile("host=db1 user=alice dbname=shop password=given", &f)
        .to_config()
        .unwrap();
    assert_eq!(c.get_password(), Some(&b"given"[..]));
}

#[test]
fn passfile_from_home_directory() {
    let dir = tempfile::tempdir().unwrap();
    pgpass(dir.path(), "h:5432:d:u:home-pw\n", 0o600);
    std::fs::rename(dir.path().join("pgpass"), dir.path().join(".pgpass")).unwrap();
    let home = dir.path().to_str().unwrap();
    let s = resolve(&dsn("host=h user=u dbname=d"), &[("HOME", home)]);
    assert_eq!(s.to_config().unwrap().get_password(), Some(&b"home-pw"[..]));
}

#[test]
fn passfile_socket_matching() {
    let dir = tempfile::tempdir().unwrap();
    let f = pgpass(
        dir.path(),
        "localhost:5432:*:u:local-pw\n/tmp/other:5432:*:u:path-pw\n",
        0o600,
    );
    // The default socket directory (here /run/pg) and an absent host match `localhost`.
    let s = with_passfile("user=u", &f);
    assert_eq!(s.hosts, vec![sock("/run/pg")]);
    assert_eq!(s.to_config().unwrap().get_password(), Some(&b"local-pw"[..]));
    assert_eq!(
        with_passfile("host=/run/pg user=u", &f)
            .to_config()
            .unwrap()
            .get_password(),
        Some(&b"local-pw"[..])
    );
    // TCP to localhost matches too.
    assert_eq!(
        with_passfile("host=localhost user=u", &f)
            .to_config()
            .unwrap()
            .get_password(),
        Some(&b"local-pw"[..])
    );
    // Another socket directory is matched by its path, not by localhost.
    assert_eq!(
        with_passfile("host=/tmp/other user=u", &f)
            .to_config()
            .unwrap()
            .get_password(),
        Some(&b"path-pw"[..])
    );
    assert_eq!(
        with_passfile("host=/tmp/third user=u", &f)
            .to_config()
            .unwrap()
            .get_password(),
        None
    );
    // hostaddr alone is matched by the address.
    let f2 = pgpass(dir.path(), "10.1.2.3:5432:*:u:addr-pw\n", 0o600);
    assert_eq!(
        with_passfile("hostaddr=10.1.2.3 user=u", &f2)
            .to_config()
            .unwrap()
            .get_password(),
        Some(&b"addr-pw"[..])
    );
}

#[test]
fn passfile_with_group_access_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let f = pgpass(dir.path(), "*:*:*:*:secret\n", 0o644);
    assert_eq!(
        with_passfile("host=h user=u", &f).to_config().unwrap().get_password(),
        None
    );
}

#[test]
fn passfile_missing_is_fine() {
    let dir = tempfile::tempdir().unwrap();
    let s = with_passfile("host=h user=u", &dir.path().join("absent"));
    assert_eq!(s.to_config().unwrap().get_password(), None);
}

#[test]
fn passfile_empty_password_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let f = pgpass(dir.path(), "*:*:*:*:\n", 0o600);
    assert_eq!(
        with_passfile("host=h user=u", &f).to_config().unwrap().get_password(),
        None
    );
}

#[test]
fn passfile_per_host_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let f = pgpass(dir.path(), "a:5432:*:u:pw-a\nb:5432:*:u:pw-b\nc:5432:*:u:pw-a\n", 0o600);
    // Hosts agree: one Config can carry the password.
    let c = with_passfile("host=a,c user=u", &f).to_config().unwrap();
    assert_eq!(c.get_password(), Some(&b"pw-a"[..]));
    // Hosts disagree: none is sent rather than one host's password to another.
    let s = with_passfile("host=a,b,z user=u", &f);
    assert_eq!(s.to_config().unwrap().get_password(), None);
    // Per-target configs each carry their own.
    let per: Vec<(String, Option<Vec<u8>>)> = s
        .target_configs()
        .unwrap()
        .into_iter()
        .map(|(t, e)| {
            let c = e.config();
            assert_eq!(c.get_hosts().len(), 1);
            assert_eq!(c.get_ports(), &[5432]);
            (t.describe(), c.get_password().map(<[u8]>::to_vec))
        })
        .collect();
    assert_eq!(
        per,
        vec![
            ("host \"a\" port 5432".to_string(), Some(b"pw-a".to_vec())),
            ("host \"b\" port 5432".to_string(), Some(b"pw-b".to_vec())),
            ("host \"z\" port 5432".to_string(), None),
        ]
    );
    assert_eq!(s.password_for(&s.targets()[1]).as_deref(), Some("pw-b"));
}

#[test]
fn target_configs_keep_per_host_ports_and_addrs() {
    let s = settings("host=/s,h port=1,2 hostaddr=127.0.0.1,127.0.0.2 password=pw");
    let tc = s.target_configs().unwrap();
    assert_eq!(tc.len(), 2);
    assert_eq!(tc[0].1.config().get_hosts(), &[pg::Host::Unix("/s".into())]);
    assert_eq!(tc[1].1.config().get_ports(), &[2]);
    assert_eq!(
        tc[1].1.config().get_hostaddrs(),
        &["127.0.0.2".parse::<IpAddr>().unwrap()]
    );
    assert!(tc.iter().all(|(_, e)| e.config().get_password() == Some(&b"pw"[..])));
    // Load balancing is done by pg::Target across endpoints, not inside one Config.
    let tc = settings("host=a,b load_balance_hosts=random").target_configs().unwrap();
    assert!(
        tc.iter()
            .all(|(_, e)| e.load_balance_hosts() == LoadBalanceHosts::Random
                && e.config().get_load_balance_hosts() == pg::LoadBalanceHosts::Disable)
    );
}

// ---------------------------------------------------------------- describe, Debug, conninfo out

#[test]
fn describe_never_shows_the_password() {
    let s = settings("host=127.0.0.1 user=bob dbname=shop password=hunter2");
    assert_eq!(
        s.describe(),
        "host \"127.0.0.1\" port 5432 user \"bob\" database \"shop\""
    );
    assert_eq!(s.to_string(), s.describe());
    let s = settings("host=/tmp/x port=5433 user=bob dbname=shop");
    assert_eq!(
        s.describe(),
        "socket \"/tmp/x/.s.PGSQL.5433\" user \"bob\" database \"shop\""
    );
    let s = settings("host=a,/s port=1,2 hostaddr=10.0.0.5,::1 user=u dbname=d");
    assert_eq!(
        s.describe(),
        "host \"a\" (address 10.0.0.5) port 1, socket \"/s/.s.PGSQL.2\" user \"u\" database \"d\""
    );
}

#[test]
fn debug_redacts_password() {
    let s = settings("password=hunter2 sslpassword=keypass");
    let shown = format!("{s:?} {s:#?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!shown.contains("keypass"), "{shown}");
    assert!(shown.contains("sslpassword: <redacted>"), "{shown}");
    let endpoints = format!("{:?}", s.target_configs().unwrap());
    assert!(!endpoints.contains("hunter2"), "{endpoints}");
    assert!(shown.contains("password: <redacted>"), "{shown}");
    assert!(format!("{:?}", settings("")).contains("password: None"));
}

#[test]
fn conninfo_string_round_trips() {
    let s = settings(concat!(
        r"host=/tmp/my\ sock,db.example hostaddr=127.0.0.1,::1 port=5433,5434 user='o\'neil' ",
        r"dbname='my db' password='p\'w\\x y' application_name=app options='-c search_path=a,b' ",
        r"connect_timeout=7 sslmode=require sslnegotiation=direct sslrootcert=/r sslcert=/c sslkey=/k ",
        r"target_session_attrs=read-only channel_binding=require load_balance_hosts=random ",
        r"sslcrl=/l sslcrldir=/ld sslpassword='k p' sslcertmode=require sslsni=0 sslkeylogfile=/kl ",
        r"ssl_min_protocol_version=TLSv1.2 ssl_max_protocol_version=TLSv1.3 ",
        r"keepalives=0 keepalives_idle=1 keepalives_interval=2 keepalives_count=3 tcp_user_timeout=250",
    ));
    assert_eq!(s.user, "o'neil");
    assert_eq!(s.password.as_deref(), Some(r"p'w\x y"));
    let text = s.to_conninfo_string();
    let back = resolve(
        &dsn(&text),
        &[("HOME", "/nonexistent-home"), ("PGHOST", "elsewhere"), ("PGPORT", "1")],
    );
    assert_eq!(back, s, "{text}");
    assert!(
        text.starts_with("host='/tmp/my sock,db.example' hostaddr=127.0.0.1,::1 port=5433,5434"),
        "{text}"
    );
    assert!(text.contains(r"password='p\'w\\x y'"), "{text}");
}

#[test]
fn conninfo_string_of_defaults() {
    let s = settings("");
    assert_eq!(
        s.to_conninfo_string(),
        "host=/run/pg port=5432 user=bob dbname=bob passfile=/nonexistent-home/.pgpass sslmode=prefer"
    );
    let back = resolve(&dsn(&s.to_conninfo_string()), &[("HOME", "/nonexistent-home")]);
    assert_eq!(back, s);
}

// ---------------------------------------------------------------- needs_password_retry

/// Answers a startup message with `reply` over an in-memory stream and returns the error
/// tokio-postgres reports (no sockets involved).
async fn connect_to_fake_server(password: Option<&str>, reply: Vec<u8>) -> tokio_postgres::Error {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (client, mut server) = tokio::io::duplex(64 * 1024);
    let server_task = tokio::spawn(async move {
        let mut len = [0u8; 4];
        server.read_exact(&mut len).await.unwrap();
        let mut startup = vec![0u8; u32::from_be_bytes(len) as usize - 4];
        server.read_exact(&mut startup).await.unwrap();
        server.write_all(&reply).await.unwrap();
        let mut rest = Vec::new();
        let _ = server.read_to_end(&mut rest).await;
    });
    let mut config = tokio_postgres::Config::new();
    config.user("bob").dbname("shop").ssl_mode(pg::SslMode::Disable);
    if let Some(p) = password {
        config.password(p);
    }
    let err = match config.connect_raw(client, tokio_postgres::NoTls).await {
        Ok(_) => panic!("fake server cannot accept a login"),
        Err(e) => e,
    };
    server_task.await.unwrap();
    err
}

fn message(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![tag];
    m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
    m.extend_from_slice(body);
    m
}

fn auth_request(code: u32, extra: &[u8]) -> Vec<u8> {
    let mut body = code.to_be_bytes().to_vec();
    body.extend_from_slice(extra);
    message(b'R', &body)
}

fn error_response(sqlstate: &str, text: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for (field, value) in [(b'S', "FATAL"), (b'V', "FATAL"), (b'C', sqlstate), (b'M', text)] {
        body.push(field);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    message(b'E', &body)
}

#[tokio::test]
async fn retry_when_server_wants_a_password_we_lack() {
    let cleartext = auth_request(3, &[]);
    let md5 = auth_request(5, &[1, 2, 3, 4]);
    let scram = auth_request(10, b"SCRAM-SHA-256\0\0");
    for reply in [cleartext, md5, scram] {
        let err = connect_to_fake_server(None, reply).await;
        assert!(needs_password_retry(&err), "{err:?}");
        assert!(PasswordPrompt::Auto.prompts_after(&err));
        assert!(!PasswordPrompt::Never.prompts_after(&err), "-w never prompts");
        assert!(!PasswordPrompt::Force.prompts_after(&err), "-W already prompted");
    }
}

#[tokio::test]
async fn no_retry_for_a_wrong_password_or_other_errors() {
    let mut reply = auth_request(3, &[]);
    reply.extend(error_response(
        "28P01",
        "password authentication failed for user \"bob\"",
    ));
    let err = connect_to_fake_server(Some("wrong"), reply).await;
    assert_eq!(err.code().map(|c| c.code()), Some("28P01"));
    assert!(!needs_password_retry(&err));

    let err = connect_to_fake_server(None, error_response("3D000", "database \"shop\" does not exist")).await;
    assert!(!needs_password_retry(&err));
    assert!(!PasswordPrompt::Auto.prompts_after(&err));
}
