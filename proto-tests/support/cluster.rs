use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Once, OnceLock};
use std::time::{Duration, Instant};

use super::server_install::{check_server_user_access, hold_mirror_of_server, pg_root, server_bin, server_install};

/// OS user that runs the servers when the tests run as root (created by scripts/provision).
pub(super) const SERVER_OS_USER: &str = "pgsnaptest";
/// Role whose members must authenticate with a password over TCP (see `pg_hba.conf` below).
pub const PASSWORD_GROUP: &str = "pgsnap_password_auth";

pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Path of a provisioned PostgreSQL binary; fails with the command that installs it.
pub fn pg_bin(major: u32, tool: &str) -> PathBuf {
    let path = pg_root().join(major.to_string()).join("bin").join(tool);
    if !path.is_file() {
        panic!(
            "PostgreSQL {major} `{tool}` is missing at {}.\nFix: run `./scripts/provision` in {} \
             (it installs PostgreSQL 14-18 into .pg/).",
            path.display(),
            project_root().display()
        );
    }
    path
}

pub(super) fn uid() -> u32 {
    fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX)
}

pub fn is_root() -> bool {
    uid() == 0
}

fn test_root() -> PathBuf {
    std::env::temp_dir().join(format!("pgsnap-test-{}", uid()))
}

/// nextest gives every process of one run the same id; plain `cargo test` runs one process.
fn run_id() -> String {
    match std::env::var("NEXTEST_RUN_ID") {
        Ok(id) => format!("run-{}", &id[..id.len().min(13)]),
        Err(_) => format!("pid-{}", std::process::id()),
    }
}

/// Runs a server-side tool (initdb, pg_ctl) as the unprivileged server user when root.
fn server_cmd(bin: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.arg("-u").arg(SERVER_OS_USER).arg("--").arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

fn run_ok(mut cmd: Command, what: &str) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

fn give_to_server_user(path: &Path) {
    if is_root() {
        let out = Command::new("chown")
            .arg("-R")
            .arg(format!("{SERVER_OS_USER}:"))
            .arg(path)
            .output()
            .expect("chown");
        assert!(
            out.status.success(),
            "chown {} to {SERVER_OS_USER} failed: {}\nFix: run ./scripts/provision as root (it creates the user).",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn open_lock(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

fn postmaster_pid(data: &Path) -> Option<i32> {
    let text = fs::read_to_string(data.join("postmaster.pid")).ok()?;
    let pid: i32 = text.lines().next()?.trim().parse().ok()?;
    Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
}

/// Stops a server found in `dir/data` (if any) and removes `dir`.
fn stop_and_remove(dir: &Path) {
    let data = dir.join("data");
    if let Some(pid) = postmaster_pid(&data) {
        // SIGQUIT = immediate shutdown; the cluster is thrown away anyway.
        let _ = Command::new("kill").arg("-QUIT").arg(pid.to_string()).output();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("kill").arg("-KILL").arg(pid.to_string()).output();
        }
    }
    let _ = fs::remove_dir_all(dir);
}

/// Joins this process's run: a shared lock on `<run>/alive.lock`, held until the process
/// exits (the kernel drops it even on SIGKILL). A run whose lock nobody holds has no live
/// process left, so everything in it may be reaped.
fn join_run() {
    static ALIVE: OnceLock<File> = OnceLock::new();
    ALIVE.get_or_init(|| {
        let dir = test_root().join(run_id());
        loop {
            let _ = fs::create_dir_all(&dir);
            for p in [test_root(), dir.clone()] {
                let _ = fs::set_permissions(&p, fs::Permissions::from_mode(0o755));
            }
            let path = dir.join("alive.lock");
            let Ok(f) = OpenOptions::new().create(true).truncate(false).write(true).open(&path) else {
                continue; // a reaper removed the directory meanwhile: start again
            };
            f.lock_shared().expect("lock alive.lock");
            // A reaper may have removed the file between open and lock; then this lock
            // guards nothing and we start again.
            let same = match (f.metadata(), fs::metadata(&path)) {
                (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
                _ => false,
            };
            if same {
                return f;
            }
        }
    });
}

/// Removes the runs no live process belongs to (left by killed or finished test runs), once
/// per process.
fn reap_stale() {
    static ONCE: Once = Once::new();
    ONCE.call_once(reap_stale_runs);
}

/// Stops the servers of every other run without a live process and removes the run.
pub fn reap_stale_runs() {
    let current = run_id();
    let Ok(runs) = fs::read_dir(test_root()) else { return };
    for run in runs.flatten() {
        if run.file_name().to_string_lossy() == current || !run.path().is_dir() {
            continue;
        }
        // Held exclusively while removing, so no process can join the run meanwhile.
        let lock = File::open(run.path().join("alive.lock")).ok();
        if lock.as_ref().is_some_and(|f| f.try_lock().is_err()) {
            continue;
        }
        for cl in fs::read_dir(run.path()).into_iter().flatten().flatten() {
            if cl.path().is_dir() {
                stop_and_remove(&cl.path());
            }
        }
        let _ = fs::remove_dir_all(run.path());
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// The security label provider every test cluster loads (`shared_preload_libraries`):
/// `fixtures/seclabel/pgsnap_seclabel.c`, compiled into `.pg/<major>/lib/` by
/// scripts/provision. It registers the providers `pgsnap` and `"pgsnap audit"`, which accept
/// only the labels `unclassified`, `confidential`, `secret`, `top secret` and
/// `it's "quoted" \ and ünïcödé`.
pub const LABEL_PROVIDER: &str = "pgsnap_seclabel";

/// Fails with the fix when the label provider module is not built for `major` in the
/// installation its servers run from.
fn require_label_provider(major: u32) {
    let so = server_install(major).join("lib").join(format!("{LABEL_PROVIDER}.so"));
    if !so.is_file() {
        panic!(
            "the test clusters' security label provider is missing: {} does not exist.\n\
             Fix: run `./scripts/provision` in {} (it compiles fixtures/seclabel/pgsnap_seclabel.c \
             against each provisioned PostgreSQL's headers into .pg/<major>/lib/).",
            so.display(),
            project_root().display()
        );
    }
}

/// Extra configuration for a private cluster: `conf` is appended to postgresql.conf, `hba`
/// lines go before the harness's own (the first matching line wins), and `files` (name
/// relative to the data directory, contents) are written with mode 0600 before the server
/// starts, owned by the server's OS user like the rest of the data directory — for
/// certificates and keys, say.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    pub conf: String,
    pub hba: String,
    pub files: Vec<(String, Vec<u8>)>,
}

/// A running throwaway PostgreSQL server.
pub struct Cluster {
    pub major: u32,
    pub dir: PathBuf,
    pub port: u16,
    kind: Kind,
}

enum Kind {
    /// Owned by this value: stopped and deleted on drop.
    Private { _users: File },
    /// Shared by the processes of one test run; `users` is held shared while in use.
    Shared { users: File },
}

impl Cluster {
    /// A cluster shared by every test of this test binary in this run (see module docs).
    pub fn shared(major: u32) -> Cluster {
        join_run();
        reap_stale();
        let exe = std::env::current_exe().ok();
        let label = exe
            .as_deref()
            .and_then(|p| p.file_stem())
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "tests".into());
        let dir = test_root().join(run_id()).join(format!("{label}-pg{major}"));
        Self::acquire(major, dir, true, &ClusterOptions::default())
    }

    /// A cluster of its own, stopped and deleted when dropped (also on panic).
    pub fn private(major: u32) -> Cluster {
        Self::private_with(major, ClusterOptions::default())
    }

    /// A cluster of its own with extra configuration (see [`ClusterOptions`]).
    pub fn private_with(major: u32, opts: ClusterOptions) -> Cluster {
        join_run();
        reap_stale();
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = test_root()
            .join(run_id())
            .join(format!("private-{}-{n}-pg{major}", std::process::id()));
        Self::acquire(major, dir, false, &opts)
    }

    fn acquire(major: u32, dir: PathBuf, shared: bool, opts: &ClusterOptions) -> Cluster {
        for tool in ["initdb", "pg_ctl", "postgres", "psql", "pg_dump", "pg_restore"] {
            pg_bin(major, tool);
        }
        // As root, the mirror the servers run from; locked until this process exits, so it is
        // not reaped while this process uses a server started from it.
        require_label_provider(major);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o755));
        let setup = open_lock(&dir.join("setup.lock"));
        setup.lock().expect("lock setup.lock");
        let users = open_lock(&dir.join("users.lock"));
        if shared {
            users.lock_shared().expect("lock users.lock shared");
        } else {
            users.lock().expect("lock users.lock");
        }
        let port = ensure_running(major, &dir, opts);
        hold_mirror_of_server(&dir.join("data"));
        // The test extensions, where this server reads extension files.
        let pid = postmaster_pid(&dir.join("data")).expect("the server just started runs");
        super::extensions::install_all(&super::extensions::extension_dir_of(pid));
        setup.unlock().expect("unlock setup.lock");
        let kind = if shared {
            Kind::Shared { users }
        } else {
            Kind::Private { _users: users }
        };
        Cluster { major, dir, port, kind }
    }

    pub fn socket_dir(&self) -> PathBuf {
        self.dir.join("sock")
    }

    pub fn bin(&self, tool: &str) -> PathBuf {
        pg_bin(self.major, tool)
    }

    /// libpq conninfo for a database on this cluster over the unix socket.
    pub fn conninfo(&self, db: &str) -> String {
        format!(
            "host={} port={} user=postgres dbname={}",
            self.socket_dir().display(),
            self.port,
            db
        )
    }

    /// A client command of this cluster's version with PGHOST/PGPORT/PGUSER pointing here.
    pub fn tool(&self, tool: &str) -> Command {
        self.tool_of(self.major, tool)
    }

    /// A client command of another provisioned version pointing at this cluster.
    pub fn tool_of(&self, major: u32, tool: &str) -> Command {
        let mut c = Command::new(pg_bin(major, tool));
        c.env("PGHOST", self.socket_dir())
            .env("PGPORT", self.port.to_string())
            .env("PGUSER", "postgres")
            .env("PGTZ", "UTC")
            .env_remove("PGDATABASE")
            .env_remove("PGPASSWORD")
            .env_remove("PGSERVICE")
            .env_remove("PGOPTIONS");
        c.stdin(Stdio::null());
        c
    }

    /// Runs SQL through psql (ON_ERROR_STOP) and returns unaligned, tuples-only output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let mut c = self.tool("psql");
        c.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db, "-f", "-"]);
        c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn psql");
        {
            let mut stdin = child.stdin.take().expect("psql stdin");
            let sql = sql.to_owned();
            std::thread::spawn(move || {
                let _ = stdin.write_all(sql.as_bytes());
            });
        }
        let out = child.wait_with_output().expect("wait psql");
        if !out.status.success() {
            panic!(
                "psql on {db} failed:\n{}\nSQL:\n{}",
                String::from_utf8_lossy(&out.stderr),
                truncate(sql, 2000)
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Creates a database with a unique name and runs `sql` in it.
    pub fn create_database(&self, prefix: &str, sql: &str) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{}_{}_{}",
            prefix
                .to_ascii_lowercase()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        self.psql(
            "postgres",
            &format!("CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'"),
        );
        if !sql.is_empty() {
            self.psql(&name, sql);
        }
        name
    }

    pub fn drop_database(&self, name: &str) {
        // A database with subscriptions cannot be dropped: detach them from their slots
        // (test subscriptions never have real ones) and drop them first.
        let subs = self.psql(
            "postgres",
            &format!(
                "SELECT quote_ident(s.subname) FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid \
                 WHERE d.datname = '{}'",
                name.replace('\'', "''")
            ),
        );
        for sub in subs.lines().filter(|l| !l.is_empty()) {
            self.psql(
                name,
                &format!(
                    "ALTER SUBSCRIPTION {sub} DISABLE;\nALTER SUBSCRIPTION {sub} SET (slot_name = NONE);\n\
                     DROP SUBSCRIPTION {sub};"
                ),
            );
        }
        let force = if self.major >= 13 { " WITH (FORCE)" } else { "" };
        self.psql("postgres", &format!("DROP DATABASE IF EXISTS \"{name}\"{force}"));
    }

    /// `server_version_num` of the running server.
    /// Stops this (private) server, fast mode: sessions are ended, as when a server goes down.
    pub fn stop(&self) {
        assert!(
            matches!(self.kind, Kind::Private { .. }),
            "only a private cluster is stopped"
        );
        let mut c = server_cmd(&server_bin(self.major, "pg_ctl"));
        c.arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "fast", "-w", "stop"]);
        run_ok(c, "pg_ctl stop");
    }

    /// Starts this (private) server again, on its port.
    pub fn start(&self) {
        assert!(
            matches!(self.kind, Kind::Private { .. }),
            "only a private cluster is started"
        );
        let mut c = server_cmd(&server_bin(self.major, "pg_ctl"));
        c.arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "60", "-o", &format!("-p {}", self.port), "start"]);
        run_ok(c, "pg_ctl start");
    }

    pub fn version_num(&self) -> u32 {
        self.psql("postgres", "SHOW server_version_num")
            .trim()
            .parse()
            .expect("server_version_num")
    }
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Creates (initdb) and starts the cluster in `dir` unless it already runs; returns its port.
/// Called with the setup lock held.
fn ensure_running(major: u32, dir: &Path, opts: &ClusterOptions) -> u16 {
    let data = dir.join("data");
    let sock = dir.join("sock");
    if !data.join("PG_VERSION").exists() {
        let _ = fs::remove_dir_all(&data);
        fs::create_dir_all(&sock).expect("create sock dir");
        give_to_server_user(dir);
        check_server_user_access(major, dir);
        let mut c = server_cmd(&server_bin(major, "initdb"));
        c.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        c.env("TZ", "UTC");
        run_ok(c, &format!("initdb (PostgreSQL {major}) in {}", data.display()));
        let hba = format!(
            "{}local all all trust\nhost all +{PASSWORD_GROUP} 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust\n",
            opts.hba
        );
        fs::write(data.join("pg_hba.conf"), hba).expect("write pg_hba.conf");
        let conf = format!(
            "\n# pgsnap test harness\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 60\n\
             shared_buffers = 64MB\nmax_wal_size = 1GB\ncheckpoint_timeout = 30min\n\
             log_min_messages = warning\nlog_line_prefix = '%m [%p] %d '\ntimezone = 'UTC'\n\
             shared_preload_libraries = '{LABEL_PROVIDER}'\n",
            sock.display()
        );
        let mut f = OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .expect("open postgresql.conf");
        f.write_all(conf.as_bytes()).expect("append postgresql.conf");
        f.write_all(opts.conf.as_bytes()).expect("append postgresql.conf");
        for (name, contents) in &opts.files {
            let path = data.join(name);
            fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod 0600");
        }
        give_to_server_user(dir);
    }
    let port_file = dir.join("port");
    if postmaster_pid(&data).is_some()
        && let Some(port) = fs::read_to_string(&port_file).ok().and_then(|p| p.trim().parse().ok())
    {
        return port;
    }
    let mut last_err = String::new();
    for _ in 0..5 {
        let port = free_port();
        let mut c = server_cmd(&server_bin(major, "pg_ctl"));
        c.arg("-D").arg(&data).arg("-l").arg(dir.join("server.log"));
        c.args(["-w", "-t", "60", "-o", &format!("-p {port}"), "start"]);
        let out = c.stdin(Stdio::null()).output().expect("run pg_ctl");
        if out.status.success() {
            fs::write(&port_file, port.to_string()).expect("write port file");
            // The group whose members must use a password over TCP (see pg_hba.conf).
            let psql = pg_bin(major, "psql");
            let out = Command::new(psql)
                .args(["-X", "-q", "-h"])
                .arg(&sock)
                .args(["-p", &port.to_string(), "-U", "postgres", "-d", "postgres", "-c"])
                .arg(format!(
                    "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PASSWORD_GROUP}') \
                     THEN CREATE ROLE {PASSWORD_GROUP} NOLOGIN; END IF; END$$"
                ))
                .output()
                .expect("psql");
            assert!(
                out.status.success(),
                "create role: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return port;
        }
        last_err = format!(
            "{}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            fs::read_to_string(dir.join("server.log")).unwrap_or_default()
        );
    }
    panic!("could not start PostgreSQL {major} in {}:\n{last_err}", data.display());
}

impl Drop for Cluster {
    fn drop(&mut self) {
        match &self.kind {
            Kind::Private { .. } => stop_and_remove(&self.dir),
            Kind::Shared { users } => {
                let _ = users.unlock();
                let setup = open_lock(&self.dir.join("setup.lock"));
                if setup.lock().is_err() {
                    return;
                }
                // Last user out stops the server; the next user of this run restarts it.
                let probe = open_lock(&self.dir.join("users.lock"));
                if probe.try_lock().is_ok() {
                    let data = self.dir.join("data");
                    if postmaster_pid(&data).is_some() {
                        let mut c = server_cmd(&server_bin(self.major, "pg_ctl"));
                        c.arg("-D").arg(&data).args(["-m", "fast", "-w", "stop"]);
                        let _ = c.stdin(Stdio::null()).output();
                    }
                    let _ = probe.unlock();
                }
                let _ = setup.unlock();
            }
        }
    }
}

/// A fresh database on this test binary's shared cluster of `major`, dropped at the end.
pub struct TestDb {
    pub cluster: Cluster,
    pub name: String,
}

impl TestDb {
    pub fn new(major: u32, prefix: &str, sql: &str) -> TestDb {
        let cluster = Cluster::shared(major);
        let name = cluster.create_database(prefix, sql);
        TestDb { cluster, name }
    }

    pub fn psql(&self, sql: &str) -> String {
        self.cluster.psql(&self.name, sql)
    }

    pub fn conninfo(&self) -> String {
        self.cluster.conninfo(&self.name)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.cluster.drop_database(&self.name);
        }
    }
}
