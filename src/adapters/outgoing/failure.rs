//! What a failed call to another server means for the node that made it: 429, 5xx, timeouts and
//! connection errors may pass and are retried (after `Retry-After` when the server asked); other
//! statuses, and a destination the SSRF guard refused, will repeat and are not.

use super::guard::refusal;
use crate::ports::RunnerError;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::time::Duration;

/// Longest upstream error text kept in a node's error.
pub const MAX_ERROR_TEXT: usize = 500;

/// Longest `Retry-After` honoured; a server asking for more (or for nonsense such as `1e300`) is
/// taken to ask for this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// A request that got no answer. Connection refused, reset, timed out: worth another attempt; a
/// destination the guard refused: not. `who` names the caller in the message (`openai`,
/// `GET https://api.example.com/items`); the URL is left out of reqwest's own text.
#[must_use]
pub fn transport(e: &reqwest::Error, who: &str) -> RunnerError {
    if let Some(refused) = refusal(e) {
        return RunnerError::Permanent(format!("{who} refused: {refused}"));
    }
    let e = clean(e);
    RunnerError::retryable(format!("{who} request failed: {e}"))
}

/// reqwest's message with its causes, without the URL.
fn clean(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "");
    }
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// An answer that is not a success: 429, 408 and 5xx are retried (the server is busy or broken
/// for now), other statuses are not.
#[must_use]
pub fn status_error(status: StatusCode, retry_after: Option<Duration>, body: &str, who: &str) -> RunnerError {
    let detail = error_message(body);
    let message = format!("{who} answered {status}: {detail}");
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        RunnerError::Retryable { message, retry_after }
    } else {
        RunnerError::Permanent(message)
    }
}

/// The server's own error message (`{"error": {"message": ...}}`, `{"error": "..."}`), else the
/// body's start, at most [`MAX_ERROR_TEXT`] characters.
#[must_use]
pub fn error_message(body: &str) -> String {
    let from_json = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        let error = v.get("error")?;
        error.get("message").and_then(Value::as_str).map(str::to_owned).or_else(|| error.as_str().map(str::to_owned))
    });
    let text = from_json.unwrap_or_else(|| body.trim().to_owned());
    if text.is_empty() { "no details".into() } else { text.chars().take(MAX_ERROR_TEXT).collect() }
}

/// `Retry-After` as seconds or as an HTTP date, at most [`MAX_RETRY_AFTER`].
#[must_use]
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    let asked = if let Ok(seconds) = value.parse::<f64>() {
        // Bounded before the conversion, which panics on values a `Duration` cannot hold.
        if !seconds.is_finite() || seconds < 0.0 {
            return None;
        }
        Duration::from_secs_f64(seconds.min(MAX_RETRY_AFTER.as_secs_f64()))
    } else {
        let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        (when.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().ok()?
    };
    Some(asked.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    #[test]
    fn rate_limits_and_server_errors_are_retryable_other_client_errors_are_not() {
        let r = status_error(
            StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(2)),
            r#"{"error":{"message":"slow down"}}"#,
            "openai",
        );
        assert_eq!(r.retry_after(), Some(Duration::from_secs(2)));
        assert_eq!(r.to_string(), "openai answered 429 Too Many Requests: slow down");
        assert!(status_error(StatusCode::BAD_GATEWAY, None, "", "openai").is_retryable());
        assert!(status_error(StatusCode::REQUEST_TIMEOUT, None, "", "openai").is_retryable());
        let bad = status_error(StatusCode::BAD_REQUEST, None, r#"{"error":{"message":"model not found"}}"#, "openai");
        assert!(!bad.is_retryable());
        assert!(bad.to_string().contains("model not found"));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        h.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        let d = retry_after(&h).unwrap();
        assert!(d > Duration::from_secs(25) && d <= Duration::from_secs(30));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn absurd_retry_afters_are_bounded_or_ignored_never_a_panic() {
        let mut h = HeaderMap::new();
        for (value, expected) in [
            ("1e300", Some(MAX_RETRY_AFTER)),
            ("86400", Some(MAX_RETRY_AFTER)),
            ("-1", None),
            ("NaN", None),
            ("inf", None),
            ("Fri, 31 Dec 9999 23:59:59 GMT", Some(MAX_RETRY_AFTER)),
            ("0.5", Some(Duration::from_millis(500))),
        ] {
            h.insert(RETRY_AFTER, HeaderValue::from_static(value));
            assert_eq!(retry_after(&h), expected, "{value}");
        }
    }

    #[test]
    fn long_or_empty_error_bodies_are_summarised() {
        assert_eq!(error_message(""), "no details");
        assert_eq!(error_message(&"x".repeat(2000)).len(), MAX_ERROR_TEXT);
        assert_eq!(error_message(r#"{"error":"overloaded"}"#), "overloaded");
    }
}
