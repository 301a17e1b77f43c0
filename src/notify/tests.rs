use std::path::Path;
use std::time::Duration;

use super::message::*;
use super::*;
use crate::jobs::{Outcome, RunRecord, Trigger};

fn job() -> Job {
    let text = "[notifiers.hook]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/x\"\n\
                [jobs.shop]\ndestination = \"/b\"\nsource = { dbname = \"x\" }\n\
                notify = { on_failure = [\"hook\"] }\n";
    let c = crate::config::parse(text, Path::new("/etc/pgsnap.toml"), jiff::Timestamp::UNIX_EPOCH).unwrap();
    c.jobs[0].clone()
}

fn record(outcome: Outcome) -> RunRecord {
    RunRecord {
        finished: "2026-11-30T02:01:00Z".into(),
        error: (outcome == Outcome::Failed).then(|| "could not connect to server".into()),
        archive: (outcome == Outcome::Succeeded).then(|| "shop-20261130T020000Z.dump".into()),
        tables: Some(2),
        rows: Some(554),
        size: Some(4096),
        ..RunRecord::for_test("shop", "2026-11-30T02:00:00Z", Trigger::Schedule, outcome)
    }
}

#[test]
fn texts_say_what_happened_where() {
    let j = job();
    let failed = Event::Run(Box::new(record(Outcome::Failed)));
    assert_eq!(failed.kind(), EventKind::Failure);
    assert_eq!(
        render_text(&j, &failed, "db1"),
        "pgsnap: job shop on db1 FAILED (scheduled run started 2026-11-30T02:00:00Z): could not connect to server"
    );
    let ok = Event::Run(Box::new(record(Outcome::Succeeded)));
    assert_eq!(
        render_text(&j, &ok, "db1"),
        "pgsnap: job shop on db1 succeeded (scheduled run started 2026-11-30T02:00:00Z): \
         shop-20261130T020000Z.dump, 2 tables, 554 rows, 4096 bytes"
    );
    // Best effort: the run succeeded, the destination that failed is named.
    let mut r = record(Outcome::Succeeded);
    for (url, outcome, error) in [
        (
            "s3://bk/shop",
            crate::jobs::DestinationState::Failed,
            Some("connection reset".to_string()),
        ),
        ("file:///nas", crate::jobs::DestinationState::Committed, None),
    ] {
        r.destinations.push(crate::jobs::DestinationOutcome {
            url: url.into(),
            outcome,
            error,
            bytes: 4096,
            seconds: 0.5,
        });
    }
    assert!(render_text(&j, &Event::Run(Box::new(r)), "db1").ends_with(
        "4096 bytes; committed on 1 further destination(s); the backup failed on 1 of 2 destination(s): \
             s3://bk/shop (connection reset)"
    ),);
    let late = Event::Overdue {
        due: "2026-12-01T03:00:00Z".into(),
        last_success: None,
    };
    assert_eq!(late.kind(), EventKind::Overdue);
    assert!(render_text(&j, &late, "db1").contains("OVERDUE: a successful run was due by 2026-12-01T03:00:00Z"));
    let body: serde_json::Value = serde_json::from_slice(&webhook_body(&j, &late, "db1")).unwrap();
    assert_eq!(body["event"], "overdue");
    assert_eq!(body["overdue"]["last_success"], serde_json::Value::Null);
    let body: serde_json::Value = serde_json::from_slice(&webhook_body(&j, &failed, "db1")).unwrap();
    assert_eq!(body["run"]["outcome"], "failed");
    let tg: serde_json::Value = serde_json::from_slice(&telegram_body(&j, &failed, "db1", "-100123")).unwrap();
    assert_eq!(tg["chat_id"], -100123);
    let tg: serde_json::Value = serde_json::from_slice(&telegram_body(&j, &failed, "db1", "@ops")).unwrap();
    assert_eq!(tg["chat_id"], "@ops");
    let (subject, body) = email(&j, &failed, "db1");
    assert_eq!(subject, "[pgsnap] job shop FAILED on db1");
    assert!(body.contains("\"outcome\": \"failed\""), "{body}");
}

#[test]
fn discord_messages_are_cut_to_its_limit() {
    let j = job();
    let mut r = record(Outcome::Failed);
    r.error = Some("x".repeat(5000));
    let d: serde_json::Value = serde_json::from_slice(&discord_body(&j, &Event::Run(Box::new(r)), "h")).unwrap();
    assert_eq!(d["content"].as_str().unwrap().chars().count(), 2000);
}

#[test]
fn signature_is_hmac_sha256_of_the_body() {
    // RFC 4231 test case 2.
    assert_eq!(
        signature(b"Jefe", b"what do ya want for nothing?"),
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn backoff_doubles_up_to_its_cap() {
    let b = Backoff {
        first: Duration::from_millis(100),
        max: Duration::from_millis(350),
        timeout: Duration::from_secs(1),
    };
    let pauses: Vec<u128> = (1..=5).map(|n| b.pause(n).as_millis()).collect();
    assert_eq!(pauses, [100, 200, 350, 350, 350]);
}

/// A notifier nobody listens on: every try fails, the last error is kept, nothing panics.
#[tokio::test]
async fn an_unreachable_notifier_is_retried_and_reported() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut j = job();
    j.notifiers[0].kind = NotifierKind::Webhook {
        url: UrlSource::Inline(format!("http://127.0.0.1:{port}/hook")),
        hmac_secret: None,
    };
    j.notifiers[0].attempts = 3;
    let b = Backoff {
        first: Duration::from_millis(10),
        max: Duration::from_millis(20),
        timeout: Duration::from_secs(5),
    };
    let d = send_with(&j, &Event::Run(Box::new(record(Outcome::Failed))), b).await;
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].attempts, d[0].outcome), (3, DeliveryOutcome::Failed));
    assert!(
        d[0].error
            .as_deref()
            .unwrap()
            .contains("could not connect to http://127.0.0.1:"),
        "{d:?}"
    );
    // A success is not sent to on_failure's notifiers.
    let d = send_with(&j, &Event::Run(Box::new(record(Outcome::Succeeded))), b).await;
    assert!(d.is_empty());
}

/// The scheduler's call: an overdue event goes to the job's `overdue` notifiers only.
#[tokio::test]
async fn overdue_goes_to_the_overdue_list() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        // Headers, then as many body bytes as Content-Length says.
        loop {
            let n = s.read(&mut buf).await.unwrap();
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .unwrap()
                    .parse()
                    .unwrap();
                if body.len() >= len {
                    s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await.unwrap();
                    return text;
                }
            }
            assert!(n > 0, "closed early: {text}");
        }
    });
    let mut j = job();
    j.notifiers[0].kind = NotifierKind::Webhook {
        url: UrlSource::Inline(format!("http://127.0.0.1:{port}/late")),
        hmac_secret: None,
    };
    j.notify.on_failure.clear();
    j.notify.overdue = vec!["hook".into()];
    let event = Event::Overdue {
        due: "2026-12-01T03:00:00Z".into(),
        last_success: Some("2026-11-29T02:00:00Z".into()),
    };
    let d = send(&j, &event).await;
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].outcome, d[0].attempts, d[0].event),
        (DeliveryOutcome::Delivered, 1, EventKind::Overdue)
    );
    let request = server.await.unwrap();
    assert!(request.starts_with("POST /late HTTP/1.1\r\n"), "{request}");
    assert!(request.contains("\r\nX-Pgsnap-Event: overdue\r\n"), "{request}");
    let body: serde_json::Value = serde_json::from_str(request.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(body["overdue"]["last_success"], "2026-11-29T02:00:00Z");
    // Nothing goes to on_failure for it, and a run's failure not to `overdue`.
    let d = send(&j, &Event::Run(Box::new(record(Outcome::Failed)))).await;
    assert!(d.is_empty());
}
