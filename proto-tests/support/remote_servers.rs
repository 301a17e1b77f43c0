//! Remote storage servers for the destination tests, started on free loopback ports and
//! stopped on drop: OpenSSH's `sshd` (SFTP) and WsgiDAV (WebDAV). Both are installed into the
//! checkout's `.cache/` by `./scripts/provision` (`PGSNAP_SSHD_DIR`, `PGSNAP_WEBDAV_DIR`
//! override where); a missing one fails the test with that command.
//!
//! sshd gets its own host key, config (`UsePAM no`, `StrictModes no`: the tests may run as root
//! in a private directory), an authorized key generated here, and the built-in SFTP server.
//! As root it runs (through `setpriv`) as the tests' unprivileged OS user (`pgsnaptest`, as the PostgreSQL test
//! servers do), so it needs no privilege-separation user and logs in only that user. The
//! client side is the system's OpenSSH client: [`Sshd::client_env`] gives a process the key
//! (`PGSNAP_SFTP_KEY`) and an `ssh` first in `PATH` that reads this server's `ssh_config`
//! (its `UserKnownHostsFile` holding the host key) — what a user's `~/.ssh/config` does.
#![allow(dead_code)]

use std::ffi::OsString;
use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Scratch, project_root};

/// The OS user the test servers run as when the tests run as root.
const SERVER_OS_USER: &str = "pgsnaptest";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("run id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

fn id_of(user: &str, flag: &str) -> u32 {
    let out = Command::new("id").args([flag, user]).output().expect("run id");
    assert!(
        out.status.success(),
        "OS user {user} is missing: run ./scripts/provision as root (it creates it)"
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn wait_listening(port: u16, what: &str, log: &Path, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited ({status}) before listening on port {port}:\n{}",
                fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on port {port} within 60 s:\n{}",
            fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Finds `name` below `dir` (the unpacked Debian packages keep their own layout).
fn find_below(dir: &Path, name: &str) -> Option<PathBuf> {
    for e in fs::read_dir(dir).ok()?.filter_map(|e| e.ok()) {
        let p = e.path();
        if p.file_name().is_some_and(|n| n == name) {
            return Some(p);
        }
        if e.file_type().is_ok_and(|t| t.is_dir())
            && let Some(f) = find_below(&p, name)
        {
            return Some(f);
        }
    }
    None
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// An sshd serving SFTP on a free loopback port.
pub struct Sshd {
    child: Child,
    pub port: u16,
    /// Everything of this server: keys, config, log, the served directory. Removed (or kept,
    /// for a failing test) after `child` is stopped: fields drop after `Drop::drop`.
    pub dir: Scratch,
    /// The directory the tests write into (owned by the login user).
    pub data: PathBuf,
    /// The user to log in as.
    pub user: String,
    /// The client's private key.
    pub key: PathBuf,
    /// Holds the `ssh` wrapper put first in the client's `PATH`.
    pub bin: PathBuf,
}

impl Sshd {
    pub fn start() -> Sshd {
        let install = std::env::var_os("PGSNAP_SSHD_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| project_root().join(".cache/sshd"));
        let fix = "run ./scripts/provision (it unpacks Debian's openssh-server into .cache/sshd)";
        let sshd_bin = install.join("usr/sbin/sshd");
        assert!(
            sshd_bin.is_file(),
            "sshd is not installed at {}: {fix}",
            sshd_bin.display()
        );
        let ssh = which("ssh").unwrap_or_else(|| panic!("the OpenSSH client ssh is not in PATH: {fix}"));
        let keygen = which("ssh-keygen").unwrap_or_else(|| panic!("ssh-keygen is not in PATH: {fix}"));

        let dir = Scratch::new("pgsnap-sshd");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let root = is_root();
        // sshd and the library only its Debian package ships, copied where the server user
        // can read them wherever the checkout is.
        fs::copy(&sshd_bin, dir.join("sshd")).unwrap();
        if let Some(lib) = find_below(&install, "libwrap.so.0") {
            fs::copy(lib, dir.join("libwrap.so.0")).unwrap();
        }
        for (name, comment) in [("host_key", "pgsnap test host"), ("user_key", "pgsnap test client")] {
            let out = Command::new(&keygen)
                .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
                .arg(dir.join(name))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "ssh-keygen: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let data = dir.join("data");
        fs::create_dir(&data).unwrap();
        fs::copy(dir.join("user_key.pub"), dir.join("authorized_keys")).unwrap();
        fs::set_permissions(dir.join("authorized_keys"), fs::Permissions::from_mode(0o644)).unwrap();
        let user = if root {
            let (uid, gid) = (id_of(SERVER_OS_USER, "-u"), id_of(SERVER_OS_USER, "-g"));
            for p in [dir.join("host_key"), data.clone()] {
                std::os::unix::fs::chown(&p, Some(uid), Some(gid)).unwrap();
            }
            SERVER_OS_USER.to_string()
        } else {
            current_user()
        };
        let port = free_port();
        let config = dir.join("sshd_config");
        fs::write(
            &config,
            format!(
                "ListenAddress 127.0.0.1:{port}\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
                 UsePAM no\nStrictModes no\nPidFile none\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nSubsystem sftp internal-sftp\nMaxSessions 100\n\
                 MaxStartups 100\nLogLevel VERBOSE\n",
                d = dir.display()
            ),
        )
        .unwrap();
        fs::set_permissions(&config, fs::Permissions::from_mode(0o644)).unwrap();

        // The client: known_hosts with this server's key, and a config naming it.
        let host_pub = fs::read_to_string(dir.join("host_key.pub")).unwrap();
        let mut fields = host_pub.split_whitespace();
        let (kind, key) = (fields.next().unwrap(), fields.next().unwrap());
        fs::write(dir.join("known_hosts"), format!("[127.0.0.1]:{port} {kind} {key}\n")).unwrap();
        fs::write(
            dir.join("ssh_config"),
            format!(
                "Host *\n  UserKnownHostsFile {d}/known_hosts\n  GlobalKnownHostsFile /dev/null\n  LogLevel ERROR\n",
                d = dir.display()
            ),
        )
        .unwrap();
        let bin = dir.join("bin");
        fs::create_dir(&bin).unwrap();
        fs::write(
            bin.join("ssh"),
            format!(
                "#!/bin/sh\nexec {} -F {}/ssh_config \"$@\"\n",
                ssh.display(),
                dir.display()
            ),
        )
        .unwrap();
        fs::set_permissions(bin.join("ssh"), fs::Permissions::from_mode(0o755)).unwrap();

        let log = dir.join("sshd.log");
        let mut cmd = if root {
            // setpriv executes sshd in its own place (runuser would fork and stay between),
            // so stopping the child stops the server.
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={}", id_of(SERVER_OS_USER, "-u")))
                .arg(format!("--regid={}", id_of(SERVER_OS_USER, "-g")))
                .arg("--clear-groups")
                .arg(dir.join("sshd"));
            c
        } else {
            Command::new(dir.join("sshd"))
        };
        // sshd must be started by its absolute path (it re-executes itself per connection).
        let mut child = cmd
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .env("LD_LIBRARY_PATH", &dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", dir.join("sshd").display()));
        wait_listening(port, "sshd", &log, &mut child);
        Sshd {
            child,
            port,
            key: dir.join("user_key"),
            dir,
            data,
            user,
            bin,
        }
    }

    /// `sftp://user@127.0.0.1:port/<data>/<sub>`.
    pub fn url(&self, sub: &str) -> String {
        format!(
            "sftp://{}@127.0.0.1:{}{}/{sub}",
            self.user,
            self.port,
            self.data.display()
        )
    }

    /// Environment for a client process: the key, `ssh` reading this server's client
    /// config, and a private directory for ssh's control sockets.
    pub fn client_env(&self) -> Vec<(String, OsString)> {
        let mut path = OsString::from(&self.bin);
        if let Some(p) = std::env::var_os("PATH") {
            path.push(":");
            path.push(p);
        }
        let state = self.dir.join("state");
        let _ = fs::create_dir(&state);
        vec![
            ("PATH".into(), path),
            ("PGSNAP_SFTP_KEY".into(), self.key.clone().into()),
            ("XDG_STATE_HOME".into(), state.into()),
        ]
    }

    /// The ssh client processes of this server's clients still running (pid and command
    /// line): every `ssh` whose arguments name this server's directory (its client config, or
    /// a control socket under the client's state directory), so other tests' clients never
    /// count.
    pub fn ssh_clients(&self) -> Vec<String> {
        let dir = self.dir.to_string_lossy().into_owned();
        let mut out = Vec::new();
        for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
            let name = e.file_name();
            let Some(pid) = name.to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit())) else {
                continue;
            };
            // A process gone meanwhile, or a zombie (its command line is empty), is not running.
            let Ok(cmdline) = fs::read(e.path().join("cmdline")) else {
                continue;
            };
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let is_ssh = args
                .first()
                .is_some_and(|a| Path::new(a).file_name().is_some_and(|f| f == "ssh"));
            if is_ssh && args.iter().skip(1).any(|a| a.contains(&dir)) {
                out.push(format!("{pid}: {}", args.join(" ")));
            }
        }
        out
    }

    /// The server's log so far (for assertion messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A WsgiDAV server with basic authentication, serving a temporary directory.
pub struct Wsgidav {
    child: Child,
    pub port: u16,
    /// Removed (or kept, for a failing test) after `child` is stopped, as [`Sshd::dir`].
    pub dir: Scratch,
    /// The directory served at `/`.
    pub data: PathBuf,
    pub user: String,
    pub password: String,
}

impl Wsgidav {
    pub fn start() -> Wsgidav {
        let venv = std::env::var_os("PGSNAP_WEBDAV_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| project_root().join(".cache/webdav"));
        let bin = venv.join("bin/wsgidav");
        assert!(
            bin.is_file(),
            "WsgiDAV is not installed at {}: run ./scripts/provision (it installs wsgidav and cheroot into .cache/webdav)",
            bin.display()
        );
        let dir = Scratch::new("pgsnap-webdav");
        let data = dir.join("data");
        fs::create_dir(&data).unwrap();
        let port = free_port();
        let (user, password) = ("pgsnap".to_string(), "dav-pass-31337".to_string());
        let config = serde_json::json!({
            "host": "127.0.0.1",
            "port": port,
            "provider_mapping": { "/": data.to_str().unwrap() },
            "http_authenticator": {
                "accept_basic": true,
                "accept_digest": false,
                "default_to_digest": false,
                "trusted_auth_header": null,
            },
            "simple_dc": { "user_mapping": { "*": { &user: { "password": &password } } } },
            "dir_browser": { "enable": false },
            "lock_storage": true,
            "verbose": 2,
        });
        let cfg = dir.join("wsgidav.json");
        fs::write(&cfg, config.to_string()).unwrap();
        let log = dir.join("wsgidav.log");
        let mut child = Command::new(&bin)
            .arg(format!("--config={}", cfg.display()))
            .stdin(Stdio::null())
            .stdout(fs::File::create(&log).unwrap())
            .stderr(fs::File::create(dir.join("wsgidav.err")).unwrap())
            .spawn()
            .unwrap();
        wait_listening(port, "wsgidav", &log, &mut child);
        Wsgidav {
            child,
            port,
            dir,
            data,
            user,
            password,
        }
    }

    /// `webdav://127.0.0.1:port/<sub>`.
    pub fn url(&self, sub: &str) -> String {
        format!("webdav://127.0.0.1:{}/{sub}", self.port)
    }

    pub fn client_env(&self) -> Vec<(String, OsString)> {
        vec![
            ("PGSNAP_WEBDAV_USER".into(), self.user.clone().into()),
            ("PGSNAP_WEBDAV_PASSWORD".into(), self.password.clone().into()),
        ]
    }
}

impl Drop for Wsgidav {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
