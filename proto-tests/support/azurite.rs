//! Azurite, Microsoft's Azure Storage emulator (npm `azurite`, installed by
//! `scripts/provision` into `.cache/azurite` or `$PGSNAP_AZURITE_DIR`): its Blob service on a
//! free loopback port with a private data directory, stopped and removed on drop. It holds
//! the well-known development account `devstoreaccount1`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::loopback;
use crate::support::Scratch;

pub const ACCOUNT: &str = "devstoreaccount1";
/// The development account's published key (Azurite's documentation; not a secret).
pub const KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

pub struct Azurite {
    child: Child,
    pub port: u16,
    /// Removed (or kept, for a failing test) after `child` is stopped: fields drop after
    /// `Drop::drop`.
    dir: Scratch,
}

impl Azurite {
    pub fn start() -> Azurite {
        let root = std::env::var_os("PGSNAP_AZURITE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| crate::support::project_root().join(".cache/azurite"));
        let bin = root.join("node_modules/.bin/azurite-blob");
        assert!(
            bin.exists(),
            "Azurite is not installed at {}: run ./scripts/provision (it installs npm's azurite into .cache/azurite)",
            bin.display()
        );
        let dir = Scratch::new("pgsnap-azurite");
        let port = loopback::free_port();
        let mut child = Command::new(&bin)
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string(), "--location"])
            .arg(&dir)
            .args(["--skipApiVersionCheck", "--loose", "--silent"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        loopback::wait_listening(&mut child, port, "azurite-blob", Duration::from_secs(90));
        Azurite { child, port, dir }
    }

    /// The Blob endpoint, path-style as Azurite serves it.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}", self.port)
    }

    /// A connection string for `AZURE_STORAGE_CONNECTION_STRING`.
    pub fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={};",
            self.endpoint()
        )
    }

    /// Creates `container` (Create Container, signed with the account's shared key).
    pub fn create_container(&self, container: &str) {
        let date = jiff::Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let version = "2021-08-06";
        let path = format!("/{ACCOUNT}/{container}");
        // The shared-key string to sign: verb, eleven standard headers (all empty here; an
        // empty body has an empty Content-Length), the x-ms- headers, the resource.
        let to_sign = format!(
            "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{ACCOUNT}{path}\nrestype:container"
        );
        use base64ct::Encoding;
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &base64ct::Base64::decode_vec(KEY).unwrap());
        let sig = base64ct::Base64::encode_string(ring::hmac::sign(&key, to_sign.as_bytes()).as_ref());
        let (status, body) = loopback::request(
            self.port,
            "PUT",
            &format!("{path}?restype=container"),
            &[
                ("x-ms-date", date),
                ("x-ms-version", version.to_string()),
                ("Authorization", format!("SharedKey {ACCOUNT}:{sig}")),
            ],
            b"",
        );
        assert_eq!(status, 201, "create container {container}: {body}");
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
