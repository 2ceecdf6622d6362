//! Telling people that a request waits for them: a signed JSON POST to a node's `notify_url`,
//! retried with growing delays, every attempt kept in the request's delivery log.
//!
//! The signature is HMAC-SHA256 under a workspace secret (the node's `notify_secret`, by default
//! [`DEFAULT_SECRET`]) over `"<timestamp>.<body>"`, sent as
//! `X-Oxify-Signature: t=<unix seconds>,v1=<hex>` (the receiver recomputes it and rejects stale
//! timestamps).

use super::task::{HumanTask, TaskKind};
use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

/// The workspace secret that signs notifications when a node names none.
pub const DEFAULT_SECRET: &str = "NOTIFY_SIGNING_KEY";

/// Attempts at most; the first is made at once, the others after [`backoff`].
pub const MAX_ATTEMPTS: usize = 6;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Oxify-Signature";

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum DeliveryState {
    /// An attempt is due (at `next_attempt_at`).
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed.
    Failed,
}

/// One attempt at delivering a notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryAttempt {
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why the attempt failed (no answer, a non-2xx status, no signing key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long the attempt took, in milliseconds.
    pub duration_ms: u64,
}

/// A request's notification and its delivery log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    pub url: String,
    /// The workspace secret that signs it (its name; the value is never stored here).
    pub secret: String,
    pub state: DeliveryState,
    /// When the next attempt is due (`Pending` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub attempts: Vec<DeliveryAttempt>,
}

impl Delivery {
    /// A delivery to `url` signed with secret `secret` (default [`DEFAULT_SECRET`]), due `now`.
    #[must_use]
    pub fn new(url: &str, secret: Option<&str>, now: DateTime<Utc>) -> Self {
        Self {
            url: url.to_owned(),
            secret: secret.unwrap_or(DEFAULT_SECRET).to_owned(),
            state: DeliveryState::Pending,
            next_attempt_at: Some(now),
            attempts: Vec::new(),
        }
    }

    /// Records an attempt: a 2xx status delivers; otherwise the next attempt is due after
    /// [`backoff`], or, after [`MAX_ATTEMPTS`], the delivery failed.
    pub fn record(&mut self, attempt: DeliveryAttempt) {
        self.record_as(attempt, false);
    }

    /// Records an attempt that failed in a way another attempt cannot mend (the URL refused):
    /// the delivery fails now.
    pub fn record_final(&mut self, attempt: DeliveryAttempt) {
        self.record_as(attempt, true);
    }

    fn record_as(&mut self, attempt: DeliveryAttempt, last: bool) {
        let delivered = attempt.status.is_some_and(|s| (200..300).contains(&s));
        let at = attempt.at;
        self.attempts.push(attempt);
        (self.state, self.next_attempt_at) = if delivered {
            (DeliveryState::Delivered, None)
        } else if last || self.attempts.len() >= MAX_ATTEMPTS {
            (DeliveryState::Failed, None)
        } else {
            (DeliveryState::Pending, Some(at + backoff(self.attempts.len())))
        };
    }
}

impl Delivery {
    /// Ends the delivery without sending: its request was answered, expired or cancelled first
    /// (telling people about it would send them to something that no longer waits).
    pub fn abandon(&mut self, why: String, at: DateTime<Utc>) {
        self.attempts.push(DeliveryAttempt { at, status: None, error: Some(why), duration_ms: 0 });
        (self.state, self.next_attempt_at) = (DeliveryState::Failed, None);
    }
}

/// The wait after the `failed`-th failed attempt: 1 s, 2 s, 4 s, ... at most 5 minutes.
#[must_use]
pub fn backoff(failed: usize) -> chrono::Duration {
    let exp = u32::try_from(failed.saturating_sub(1)).unwrap_or(u32::MAX).min(16);
    chrono::Duration::seconds(i64::from(2u32.pow(exp)).min(300))
}

/// The JSON body of a request's notification: what waits, where to answer it, and until when.
#[must_use]
pub fn payload(task: &HumanTask) -> Value {
    let (event, route) = match task.kind {
        TaskKind::Approval => ("approval_requested", "approvals"),
        TaskKind::Form => ("form_requested", "forms"),
    };
    json!({
        "event": event,
        "id": task.id,
        "workspace_id": task.workspace_id,
        "execution_id": task.execution_id,
        "workflow_id": task.workflow_id,
        "node_id": task.node_id,
        "request": notice_of(task),
        "approvers": task.approvers,
        "expires_at": task.expires_at,
        "created_at": task.created_at,
        "links": {"self": format!("/api/v1/{route}/{}", task.id)},
    })
}

/// What a notification shows of the request: an approval's message, description and context; a
/// form's title and description (its fields are read through the API).
fn notice_of(task: &HumanTask) -> Value {
    let r = &task.request;
    match task.kind {
        TaskKind::Approval => {
            json!({"message": r["message"], "description": r["description"], "context": r["context"]})
        }
        TaskKind::Form => json!({"title": r["title"], "description": r["description"]}),
    }
}

/// The value of the [`SIGNATURE_HEADER`]: `t=<timestamp>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>`.
#[must_use]
pub fn signature(key: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn attempt(s: i64, status: Option<u16>) -> DeliveryAttempt {
        DeliveryAttempt { at: at(s), status, error: None, duration_ms: 1 }
    }

    #[test]
    fn a_2xx_answer_delivers_and_ends_the_retries() {
        let mut d = Delivery::new("https://hooks.example.com/x", None, at(0));
        assert_eq!(
            (d.state, d.next_attempt_at, d.secret.as_str()),
            (DeliveryState::Pending, Some(at(0)), DEFAULT_SECRET)
        );
        d.record(attempt(0, Some(503)));
        assert_eq!((d.state, d.next_attempt_at), (DeliveryState::Pending, Some(at(1))));
        d.record(attempt(1, None));
        assert_eq!(d.next_attempt_at, Some(at(3)), "the second wait is twice the first");
        d.record(attempt(3, Some(204)));
        assert_eq!((d.state, d.next_attempt_at, d.attempts.len()), (DeliveryState::Delivered, None, 3));
    }

    #[test]
    fn a_delivery_fails_after_the_last_attempt() {
        let mut d = Delivery::new("https://hooks.example.com/x", Some("HOOK"), at(0));
        for i in 0..MAX_ATTEMPTS {
            assert_eq!(d.state, DeliveryState::Pending);
            d.record(attempt(i64::try_from(i).unwrap() * 100, Some(500)));
        }
        assert_eq!((d.state, d.next_attempt_at), (DeliveryState::Failed, None));
        assert_eq!(backoff(100), chrono::Duration::seconds(300), "the wait is capped");
    }

    #[test]
    fn a_refused_url_fails_the_delivery_at_once() {
        let mut d = Delivery::new("http://127.0.0.1/hook", None, at(0));
        d.record_final(DeliveryAttempt {
            at: at(0),
            status: None,
            error: Some("refused: loopback".into()),
            duration_ms: 0,
        });
        assert_eq!((d.state, d.next_attempt_at, d.attempts.len()), (DeliveryState::Failed, None, 1));
    }

    #[test]
    fn a_delivery_for_a_request_answered_first_is_abandoned() {
        let mut d = Delivery::new("https://hooks.example.com/x", None, at(0));
        d.abandon("answered".into(), at(1));
        assert_eq!(
            (d.state, d.next_attempt_at, d.attempts[0].error.as_deref()),
            (DeliveryState::Failed, None, Some("answered"))
        );
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let sig = signature(b"Jefe", 0, b"what do ya want for nothing?");
        assert_eq!(sig, signature(b"Jefe", 0, b"what do ya want for nothing?"));
        assert!(sig.starts_with("t=0,v1=") && sig.len() == "t=0,v1=".len() + 64, "{sig}");
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let plain: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(plain, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert_ne!(signature(b"other", 0, b"x"), signature(b"Jefe", 0, b"x"));
    }
}
