//! Azure Blob and Google Cloud Storage destinations against emulators the tests start on free
//! loopback ports — Azurite (Blob service) and fake-gcs-server, both installed by
//! `scripts/provision`: the storage conformance suite on each; wrong credentials and missing
//! containers named without a secret; nothing left behind by uploads, temporaries included;
//! and `pgsnap dump -Fc --to azblob://… --to gcs://…` of a real cluster, credentials from the
//! environment, fetched back and restored with stock pg_restore to data equal to the source.

#[path = "support/azurite.rs"]
mod azurite;
#[path = "support/fake_gcs.rs"]
mod fake_gcs;
#[path = "support/loopback.rs"]
mod loopback;
#[path = "support/storage_kit.rs"]
mod storage_kit;
mod support;

use std::fs;
use std::process::{Command, Stdio};

use azurite::Azurite;
use fake_gcs::FakeGcs;
use pgsnap::archive::writer::RemoteOutput;
use pgsnap::storage::fanout::Destinations;
use pgsnap::storage::{AzureCredentials, GcsCredentials, Location, PART_SIZE, Storage};
use storage_kit::{conformance, payload, rt, scratch};
use support::{Fingerprint, TestDb};

fn azure_url(az: &Azurite, container: &str, prefix: &str) -> String {
    format!("azblob://{container}/{prefix}?endpoint={}", az.endpoint())
}

fn azure_storage(az: &Azurite, container: &str, prefix: &str) -> Storage {
    let loc = Location::parse(&azure_url(az, container, prefix)).unwrap();
    Storage::open_with_credentials(
        &loc,
        &AzureCredentials {
            account: azurite::ACCOUNT.into(),
            key: azurite::KEY.into(),
        },
    )
    .unwrap()
}

fn gcs_storage(gcs: &FakeGcs, bucket: &str, prefix: &str) -> Storage {
    let loc = Location::parse(&format!("gcs://{bucket}/{prefix}?endpoint={}", gcs.endpoint())).unwrap();
    Storage::open_with_credentials(&loc, &GcsCredentials::Anonymous).unwrap()
}

/// Every object name in `bucket` as the emulator holds them (temporaries included).
fn gcs_raw_names(gcs: &FakeGcs, bucket: &str) -> Vec<String> {
    let (status, body) = loopback::request(gcs.port, "GET", &format!("/storage/v1/b/{bucket}/o"), &[], b"");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn conformance_azure_blob_on_azurite() {
    let az = Azurite::start();
    az.create_container("conformance");
    let s = azure_storage(&az, "conformance", "some/prefix");
    let r = rt();
    r.block_on(s.probe()).unwrap();
    r.block_on(conformance(&s));
    // A second prefix in the same container sees nothing of the first.
    az.create_container("other");
    r.block_on(azure_storage(&az, "conformance", "some/prefix").put_bytes("x/kept.bin", b"k".to_vec()))
        .unwrap();
    assert!(
        r.block_on(azure_storage(&az, "conformance", "elsewhere").list(""))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn conformance_gcs_on_fake_gcs_server() {
    let gcs = FakeGcs::start();
    gcs.create_bucket("conformance");
    let s = gcs_storage(&gcs, "conformance", "some/prefix");
    let r = rt();
    r.block_on(s.probe()).unwrap();
    r.block_on(conformance(&s));
    // Uploads go through temporaries: none is left, whether finished, aborted or dropped.
    assert_eq!(gcs_raw_names(&gcs, "conformance"), Vec::<String>::new());
    // A multipart-sized object is published whole under its name, and only there.
    let big = payload(PART_SIZE * 2 + 17, 5);
    r.block_on(s.put_bytes("whole.dump", big.clone())).unwrap();
    assert_eq!(
        gcs_raw_names(&gcs, "conformance"),
        vec!["some/prefix/whole.dump".to_string()]
    );
    assert!(r.block_on(s.get_bytes("whole.dump")).unwrap() == big);
}

#[test]
fn wrong_credentials_and_missing_containers_are_named_without_secrets() {
    let az = Azurite::start();
    az.create_container("there");
    let r = rt();
    // A key of the right form that is not the account's: refused by the service.
    let wrong_key = "d3Jvbmcta2V5LXMzY3IzdA==";
    let loc = Location::parse(&azure_url(&az, "there", "p")).unwrap();
    let s = Storage::open_with_credentials(
        &loc,
        &AzureCredentials {
            account: azurite::ACCOUNT.into(),
            key: wrong_key.into(),
        },
    )
    .unwrap();
    let e = r.block_on(s.probe()).unwrap_err().to_string();
    assert!(e.contains("azblob://there/p"), "{e}");
    assert!(!e.contains(wrong_key) && !e.contains(azurite::KEY), "{e}");
    // A key that is not base64: a configuration error before anything is sent.
    let e = Storage::open_with_credentials(
        &loc,
        &AzureCredentials {
            account: azurite::ACCOUNT.into(),
            key: "not a key s3cr3t".into(),
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("base64") && !e.contains("s3cr3t"), "{e}");
    // A container that does not exist.
    let e = r
        .block_on(azure_storage(&az, "missing", "p").probe())
        .unwrap_err()
        .to_string();
    assert!(e.contains("azblob://missing/p"), "{e}");
    // Credentials of another service do not apply.
    let e = Storage::open_with_credentials(&loc, &GcsCredentials::Anonymous).unwrap_err();
    assert!(e.to_string().contains("do not apply"), "{e}");

    let gcs = FakeGcs::start();
    let e = r
        .block_on(gcs_storage(&gcs, "missing", "p").probe())
        .unwrap_err()
        .to_string();
    assert!(e.contains("gcs://missing/p"), "{e}");
}

#[test]
fn fan_out_to_azure_gcs_and_a_directory_commits_on_each() {
    let az = Azurite::start();
    az.create_container("fan");
    let gcs = FakeGcs::start();
    gcs.create_bucket("fan");
    let dir = scratch("pgsnap-fan-cloud");
    let targets = vec![
        azure_storage(&az, "fan", "p"),
        gcs_storage(&gcs, "fan", "p"),
        Storage::open_url(&format!("file://{}", dir.display())).unwrap(),
    ];
    let data = payload(PART_SIZE + 3 * 1024 * 1024, 11);
    let r = rt();

    // Abandoned mid-way: nothing on any destination (the GCS temporary included).
    {
        let d = Destinations::new(targets.clone(), "db.dump").unwrap();
        let mut f = d.open_archive().unwrap();
        f.write_all(&data).unwrap();
        drop(f);
        for s in d.targets() {
            assert!(r.block_on(s.list("")).unwrap().is_empty(), "{}", s.location());
        }
        assert_eq!(gcs_raw_names(&gcs, "fan"), Vec::<String>::new());
    }

    let d = Destinations::new(targets, "db.dump").unwrap();
    let mut f = d.open_archive().unwrap();
    for c in data.chunks(64 * 1024 + 3) {
        f.write_all(c).unwrap();
    }
    f.commit().unwrap();
    d.publish_manifest(b"{\"test\":true}\n".to_vec(), false).unwrap();
    assert_eq!(d.committed()[0].size, data.len() as u64);
    for s in d.targets() {
        assert!(r.block_on(s.get_bytes("db.dump")).unwrap() == data, "{}", s.location());
        let b: Vec<String> = r.block_on(s.backups()).unwrap().into_iter().map(|o| o.name).collect();
        assert_eq!(b, vec!["db.dump"], "{}", s.location());
    }
}

fn pgsnap() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pgsnap"));
    for v in [
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGPASSWORD",
        "AZURE_STORAGE_ACCOUNT",
        "AZURE_STORAGE_ACCOUNT_NAME",
        "AZURE_STORAGE_KEY",
        "AZURE_STORAGE_ACCOUNT_KEY",
        "AZURE_STORAGE_SAS_TOKEN",
        "AZURE_STORAGE_ENDPOINT",
        "AZURE_STORAGE_CONNECTION_STRING",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "STORAGE_EMULATOR_HOST",
    ] {
        c.env_remove(v);
    }
    c.stdin(Stdio::null());
    c
}

#[test]
fn dump_to_azure_and_gcs_restores_with_stock_pg_restore() {
    let app = fs::read_to_string(support::project_root().join("fixtures/app.sql")).unwrap();
    let db = TestDb::new(18, "cloud_e2e", &app);
    let c = &db.cluster;
    let source = Fingerprint::of(c, &db.name);
    let az = Azurite::start();
    az.create_container("backups");
    let gcs = FakeGcs::start();
    gcs.create_bucket("backups");
    let name = "nightly/app 2026-11-30.dump";
    // Credentials and endpoints from the environment, as a user gives them.
    let env = |cmd: &mut Command| {
        cmd.env("AZURE_STORAGE_CONNECTION_STRING", az.connection_string())
            .env("STORAGE_EMULATOR_HOST", format!("127.0.0.1:{}", gcs.port));
    };

    // A container that does not exist: refused before anything is dumped, named, no secret.
    let mut cmd = pgsnap();
    env(&mut cmd);
    let out = cmd
        .args(["dump", "-Fc", "-h"])
        .arg(c.socket_dir())
        .args(["-p", &c.port.to_string(), "-U", "postgres", "-f", name])
        .args(["--to", "azblob://no-such-container/x", "--to", "gcs://backups/db1"])
        .arg(&db.name)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("azblob://no-such-container/x"), "{stderr}");
    assert!(!stderr.contains(azurite::KEY), "{stderr}");
    assert!(gcs_raw_names(&gcs, "backups").is_empty());

    let mut cmd = pgsnap();
    env(&mut cmd);
    let out = cmd
        .args(["dump", "-Fc", "-h"])
        .arg(c.socket_dir())
        .args(["-p", &c.port.to_string(), "-U", "postgres", "-f", name])
        .args(["--to", "azblob://backups/db1", "--to", "gcs://backups/db1"])
        .arg(&db.name)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dump --to failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let r = rt();
    let fetched = scratch("pgsnap-cloud-fetch");
    for (i, s) in [
        azure_storage(&az, "backups", "db1"),
        gcs_storage(&gcs, "backups", "db1"),
    ]
    .iter()
    .enumerate()
    {
        let b: Vec<String> = r.block_on(s.backups()).unwrap().into_iter().map(|o| o.name).collect();
        assert_eq!(b, vec![name.to_string()], "{}", s.location());
        let local = fetched.join(format!("copy{i}.dump"));
        fs::write(&local, r.block_on(s.get_bytes(name)).unwrap()).unwrap();
        let m: serde_json::Value =
            serde_json::from_slice(&r.block_on(s.get_bytes(&format!("{name}.manifest"))).unwrap()).unwrap();
        assert_eq!(
            m["files"][0]["size"].as_u64(),
            Some(fs::metadata(&local).unwrap().len()),
            "{}",
            s.location()
        );
        let target = c.create_database("cloud_rs", "");
        let res = c
            .tool_of(18, "pg_restore")
            .args(["-d", &target])
            .arg(&local)
            .output()
            .unwrap();
        assert!(
            res.status.success(),
            "pg_restore from {}: {}",
            s.location(),
            String::from_utf8_lossy(&res.stderr)
        );
        let diff = source.diff(&Fingerprint::of(c, &target));
        assert!(diff.is_empty(), "restored from {} differs:\n{diff}", s.location());
        c.drop_database(&target);
    }
    // Only the archive and its manifest on GCS: the upload's temporaries are gone.
    assert_eq!(
        gcs_raw_names(&gcs, "backups"),
        vec![format!("db1/{name}"), format!("db1/{name}.manifest")]
    );
}
