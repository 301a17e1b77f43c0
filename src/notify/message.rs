//! What a notification says, per channel: pure functions of the job, the event and the
//! host name.

use ring::hmac;
use serde_json::{Value, json};

use super::{Event, EventKind};
use crate::config::Job;

/// The generic webhook's signature header: `sha256=` and the lowercase hex HMAC-SHA256 of
/// the exact body bytes under the shared secret (the scheme GitHub's webhooks use).
pub const SIGNATURE_HEADER: &str = "X-Pgsnap-Signature-256";

/// Discord refuses a message over 2000 characters, Telegram over 4096.
const DISCORD_LIMIT: usize = 2000;
const TELEGRAM_LIMIT: usize = 4096;

/// This machine's name, as the kernel knows it (`localhost` when it cannot be read).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// The one-paragraph human summary every chat channel and the email's first line carry.
pub fn render_text(job: &Job, event: &Event, host: &str) -> String {
    match event {
        Event::Overdue { due, last_success } => format!(
            "pgsnap: job {} on {host} is OVERDUE: a successful run was due by {due}; last successful backup: {}",
            job.name,
            last_success.as_deref().unwrap_or("none")
        ),
        Event::Run(r) => {
            let mut s = match event.kind() {
                EventKind::Failure => format!(
                    "pgsnap: job {} on {host} FAILED ({} run started {}): {}",
                    job.name,
                    trigger_name(r),
                    r.started,
                    r.error.as_deref().unwrap_or("unknown error")
                ),
                _ => format!(
                    "pgsnap: job {} on {host} succeeded ({} run started {}): {}, {} tables, {} rows, {} bytes",
                    job.name,
                    trigger_name(r),
                    r.started,
                    r.archive.as_deref().unwrap_or("-"),
                    r.tables.unwrap_or(0),
                    r.rows.unwrap_or(0),
                    r.size.unwrap_or(0)
                ),
            };
            if let Some(v) = &r.verification {
                s.push_str(&format!("; verify: {}", v.summary()));
            }
            if let Some(t) = &r.test_restore {
                s.push_str(&format!("; test restore: {}", t.summary()));
            }
            let committed = r
                .destinations
                .iter()
                .filter(|d| d.outcome == crate::jobs::DestinationState::Committed)
                .count();
            if committed > 0 {
                s.push_str(&format!("; committed on {committed} further destination(s)"));
            }
            // A failed run's error already names them (destination_policy = "all").
            if r.outcome == crate::jobs::Outcome::Succeeded
                && let Some(f) = crate::jobs::remote::failures(r)
            {
                s.push_str(&format!("; {f}"));
            }
            s
        }
    }
}

fn trigger_name(r: &crate::jobs::RunRecord) -> &'static str {
    match r.trigger {
        crate::jobs::Trigger::Manual => "manual",
        crate::jobs::Trigger::Schedule => "scheduled",
        crate::jobs::Trigger::Predeploy => "pre-deployment",
    }
}

/// The generic webhook's JSON: the event, the summary, and the whole run record (or the
/// overdue facts).
pub fn webhook_body(job: &Job, event: &Event, host: &str) -> Vec<u8> {
    let mut v = json!({
        "source": "pgsnap",
        "version": env!("CARGO_PKG_VERSION"),
        "event": event.kind().name(),
        "job": job.name,
        "host": host,
        "text": render_text(job, event, host),
    });
    match event {
        Event::Run(r) => v["run"] = serde_json::to_value(r.as_ref()).unwrap_or(Value::Null),
        Event::Overdue { due, last_success } => {
            v["overdue"] = json!({ "due": due, "last_success": last_success });
        }
    }
    v.to_string().into_bytes()
}

pub fn slack_body(job: &Job, event: &Event, host: &str) -> Vec<u8> {
    json!({ "text": render_text(job, event, host) })
        .to_string()
        .into_bytes()
}

pub fn discord_body(job: &Job, event: &Event, host: &str) -> Vec<u8> {
    json!({ "content": truncate(&render_text(job, event, host), DISCORD_LIMIT) })
        .to_string()
        .into_bytes()
}

/// `sendMessage`: a numeric chat id goes as a number, a `@channel` name as a string.
pub fn telegram_body(job: &Job, event: &Event, host: &str, chat_id: &str) -> Vec<u8> {
    let chat: Value = chat_id
        .parse::<i64>()
        .map_or_else(|_| Value::String(chat_id.to_string()), Value::from);
    json!({
        "chat_id": chat,
        "text": truncate(&render_text(job, event, host), TELEGRAM_LIMIT),
        "disable_web_page_preview": true,
    })
    .to_string()
    .into_bytes()
}

/// Subject and plain-text body of the email: the summary, then the record as JSON.
pub fn email(job: &Job, event: &Event, host: &str) -> (String, String) {
    let what = match event.kind() {
        EventKind::Failure => "FAILED",
        EventKind::Success => "succeeded",
        EventKind::Overdue => "is OVERDUE",
    };
    let subject = format!("[pgsnap] job {} {what} on {host}", job.name);
    let mut body = render_text(job, event, host);
    body.push_str("\n\n");
    match event {
        Event::Run(r) => {
            body.push_str("Run record:\n");
            body.push_str(&serde_json::to_string_pretty(r.as_ref()).unwrap_or_default());
        }
        Event::Overdue { due, last_success } => {
            body.push_str(&format!(
                "Due by: {due}\nLast successful backup: {}",
                last_success.as_deref().unwrap_or("none")
            ));
        }
    }
    body.push('\n');
    (subject, body)
}

/// `sha256=<hex>` of HMAC-SHA256(key, body).
pub fn signature(key: &[u8], body: &[u8]) -> String {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// At most `max` characters, an ellipsis marking the cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}
