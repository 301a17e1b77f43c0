//! Notifications: a job's run (failed, or succeeded when the job asks) and a job found
//! overdue, sent to the notifiers the job names — a generic webhook (JSON POST, optionally
//! HMAC-SHA256 signed), Slack and Discord incoming webhooks, the Telegram bot API, email
//! over SMTP with STARTTLS.
//!
//! A notification never fails a backup: each one is tried `attempts` times with growing
//! pauses, and what happened (channel, attempts, outcome, error) comes back as a
//! [`Delivery`] the caller records. Secrets (webhook URLs, tokens, passwords, HMAC keys)
//! are read when sending and never appear in a message or an error: a destination is named
//! by its host only.
//!
//! The clients are this crate's own, small ones over tokio and tokio-rustls (both already
//! built for the PostgreSQL connections): HTTP/1.1 POST of one body ([`http`]) and an SMTP
//! submission dialogue ([`smtp`]), so notifications add no crate to the build.
//!
//! The scheduler calls [`send`] with [`Event::Overdue`] when a job is late.

mod http;
mod message;
mod smtp;
mod tls;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{Job, Notifier, NotifierKind, UrlSource};
use crate::jobs::RunRecord;

pub use message::{hostname, render_text};

/// What happened, to be told.
#[derive(Debug, Clone)]
pub enum Event {
    /// A run ended: its record says how (`failed` goes to `on_failure`, `succeeded` to
    /// `on_success`).
    Run(Box<RunRecord>),
    /// No successful run since `due` (RFC 3339), raised by the scheduler; `last_success`
    /// is the start of the newest good backup, if any. Goes to the job's `overdue`.
    Overdue { due: String, last_success: Option<String> },
}

/// Which list of the job's notifiers an event goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Failure,
    Success,
    Overdue,
}

impl EventKind {
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Failure => "failure",
            EventKind::Success => "success",
            EventKind::Overdue => "overdue",
        }
    }
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Run(r) if r.outcome == crate::jobs::Outcome::Succeeded => EventKind::Success,
            Event::Run(_) => EventKind::Failure,
            Event::Overdue { .. } => EventKind::Overdue,
        }
    }
}

/// How a notification ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryOutcome {
    Delivered,
    Failed,
}

/// One notification's fate, as the run record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The notifier's name in the configuration.
    pub notifier: String,
    /// webhook, slack, discord, telegram, email.
    pub channel: String,
    pub event: EventKind,
    /// Tries made (1 when the first succeeded).
    pub attempts: u32,
    pub outcome: DeliveryOutcome,
    /// The last try's error, for a failed delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When it ended (RFC 3339).
    pub finished: String,
}

/// Sends `event` to each notifier of `job` listed for its kind, all at once, each retried
/// as its notifier allows. Never fails: the outcome of each is in the result, in the
/// order the job lists them.
pub async fn send(job: &Job, event: &Event) -> Vec<Delivery> {
    send_with(job, event, Backoff::standard()).await
}

/// Pauses between tries: `first`, doubled each time, at most `max`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    pub first: Duration,
    pub max: Duration,
    /// One try's limit (connect, TLS, request and answer).
    pub timeout: Duration,
}

impl Backoff {
    pub(crate) fn standard() -> Backoff {
        Backoff {
            first: Duration::from_secs(1),
            max: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
        }
    }

    fn pause(&self, after_try: u32) -> Duration {
        let factor = 1u32.checked_shl(after_try.saturating_sub(1)).unwrap_or(u32::MAX);
        self.first.saturating_mul(factor).min(self.max)
    }
}

pub(crate) async fn send_with(job: &Job, event: &Event, backoff: Backoff) -> Vec<Delivery> {
    let kind = event.kind();
    let names = match kind {
        EventKind::Failure => &job.notify.on_failure,
        EventKind::Success => &job.notify.on_success,
        EventKind::Overdue => &job.notify.overdue,
    };
    let host = hostname();
    let sends = names.iter().filter_map(|name| {
        let n = job.notifiers.iter().find(|n| &n.name == name)?;
        Some(deliver(job, n, event, &host, backoff))
    });
    futures_util::future::join_all(sends).await
}

async fn deliver(job: &Job, n: &Notifier, event: &Event, host: &str, backoff: Backoff) -> Delivery {
    let attempts = n.attempts.max(1);
    let mut tries = 0;
    let mut last_error = None;
    while tries < attempts {
        if tries > 0 {
            tokio::time::sleep(backoff.pause(tries)).await;
        }
        tries += 1;
        let result = match tokio::time::timeout(backoff.timeout, send_once(job, n, event, host)).await {
            Ok(r) => r,
            Err(_) => Err(SendError::retry(format!(
                "no answer within {} s",
                backoff.timeout.as_secs()
            ))),
        };
        match result {
            Ok(()) => {
                last_error = None;
                break;
            }
            Err(e) => {
                // The caller reports the final outcome; each try is detail.
                tracing::info!(
                    "notifier {} ({}): try {tries} of {attempts} failed: {}",
                    n.name,
                    n.kind.channel(),
                    e.message
                );
                let permanent = !e.retry;
                last_error = Some(e.message);
                if permanent {
                    break;
                }
            }
        }
    }
    Delivery {
        notifier: n.name.clone(),
        channel: n.kind.channel().to_string(),
        event: event.kind(),
        attempts: tries,
        outcome: if last_error.is_none() {
            DeliveryOutcome::Delivered
        } else {
            DeliveryOutcome::Failed
        },
        error: last_error,
        finished: jiff::Timestamp::now().to_string(),
    }
}

/// A failed try: what went wrong (never a secret) and whether another may succeed.
#[derive(Debug)]
pub(crate) struct SendError {
    pub message: String,
    pub retry: bool,
}

impl SendError {
    pub(crate) fn retry(message: impl Into<String>) -> SendError {
        SendError {
            message: message.into(),
            retry: true,
        }
    }

    pub(crate) fn permanent(message: impl Into<String>) -> SendError {
        SendError {
            message: message.into(),
            retry: false,
        }
    }
}

async fn send_once(job: &Job, n: &Notifier, event: &Event, host: &str) -> Result<(), SendError> {
    let secret = |s: &crate::config::Secret| s.read().map_err(|e| SendError::permanent(e.to_string()));
    let tls = || tls::client_config(n.tls_ca_file.as_deref());
    match &n.kind {
        NotifierKind::Webhook { url, hmac_secret } => {
            let url = match url {
                UrlSource::Inline(u) => u.clone(),
                UrlSource::Secret(s) => secret(s)?,
            };
            let body = message::webhook_body(job, event, host);
            let mut headers = vec![("X-Pgsnap-Event".to_string(), event.kind().name().to_string())];
            if let Some(key) = hmac_secret {
                let key = secret(key)?;
                headers.push((
                    message::SIGNATURE_HEADER.to_string(),
                    message::signature(key.as_bytes(), &body),
                ));
            }
            http::post(&url, &body, &headers, tls).await
        }
        NotifierKind::Slack { url } => {
            http::post(&secret(url)?, &message::slack_body(job, event, host), &[], tls).await
        }
        NotifierKind::Discord { url } => {
            http::post(&secret(url)?, &message::discord_body(job, event, host), &[], tls).await
        }
        NotifierKind::Telegram {
            bot_token,
            chat_id,
            api_base,
        } => {
            let token = secret(bot_token)?;
            let url = format!("{}/bot{token}/sendMessage", api_base.trim_end_matches('/'));
            http::post(&url, &message::telegram_body(job, event, host, chat_id), &[], tls).await
        }
        NotifierKind::Email {
            smtp_host,
            smtp_port,
            starttls,
            from,
            to,
            username,
            password,
        } => {
            let login = match (username, password) {
                (Some(u), Some(p)) => Some((u.clone(), secret(p)?)),
                _ => None,
            };
            let (subject, body) = message::email(job, event, host);
            smtp::send(
                &smtp::Submission {
                    host: smtp_host,
                    port: *smtp_port,
                    starttls: *starttls,
                    login,
                    from,
                    to,
                    subject: &subject,
                    body: &body,
                    helo: host,
                },
                tls,
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests;
