//! The HTTP side shared by the providers: sending a request, turning error responses into
//! retryable or permanent failures (honouring `Retry-After`), and reading an event stream with an
//! idle deadline.

use crate::ports::RunnerError;
use eventsource_stream::{Event, Eventsource};
use futures::{Stream, StreamExt};
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::Value;
use std::time::Duration;

/// Longest provider error text kept in a node's error.
const MAX_ERROR_TEXT: usize = 500;

/// Longest `Retry-After` honoured; a provider asking for more (or for nonsense such as `1e300`)
/// is taken to ask for this.
pub(super) const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Most token count believed from a provider's usage report; larger ones are taken as this.
pub(super) const MAX_REPORTED_TOKENS: u64 = 1_000_000_000;

/// A token count from a provider's JSON, bounded (absent or not a count: 0).
pub(super) fn token_count(value: Option<&Value>) -> u64 {
    value.and_then(Value::as_u64).unwrap_or(0).min(MAX_REPORTED_TOKENS)
}

/// Sends a request; any answer but a 2xx becomes an error. A redirect to another origin arrives
/// here unfollowed (see `adapters::outgoing`) and is reported as such.
pub(super) async fn send(request: RequestBuilder, provider: &str) -> Result<Response, RunnerError> {
    let response = request.send().await.map_err(|e| transport(&e, provider))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    if status.is_redirection() {
        let target = crate::adapters::outgoing::redirect_target(&response);
        return Err(RunnerError::Permanent(format!(
            "{provider} answered {status}, a redirect to {target}; redirects to another origin are not followed, so that credentials stay with the configured server (point the provider's base URL there if it is right)"
        )));
    }
    let retry_after = retry_after(response.headers());
    let body = response.text().await.unwrap_or_default();
    Err(status_error(status, retry_after, &body, provider))
}

/// Connection refused, reset, timed out: worth another attempt. The URL is left out of the text.
pub(super) fn transport(e: &reqwest::Error, provider: &str) -> RunnerError {
    let e = clean(e);
    RunnerError::retryable(format!("{provider} request failed: {e}"))
}

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

/// 429 and 5xx are retried (the provider is busy or broken for now); other statuses are not.
pub(super) fn status_error(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &str,
    provider: &str,
) -> RunnerError {
    let detail = provider_message(body);
    let message = format!("{provider} answered {status}: {detail}");
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        RunnerError::Retryable { message, retry_after }
    } else {
        RunnerError::Permanent(message)
    }
}

/// The provider's own error message (`{"error": {"message": ...}}`), else the body's start.
pub(super) fn provider_message(body: &str) -> String {
    let from_json = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        let error = v.get("error")?;
        error.get("message").and_then(Value::as_str).map(str::to_owned).or_else(|| error.as_str().map(str::to_owned))
    });
    let text = from_json.unwrap_or_else(|| body.trim().to_owned());
    if text.is_empty() { "no details".into() } else { text.chars().take(MAX_ERROR_TEXT).collect() }
}

/// `Retry-After` as seconds or as an HTTP date, at most [`MAX_RETRY_AFTER`].
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
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

/// The server-sent events of a streamed response; an error when nothing arrives for `idle`.
pub(super) fn events(
    response: Response,
    idle: Duration,
    provider: String,
) -> impl Stream<Item = Result<Event, RunnerError>> {
    let mut inner = response.bytes_stream().eventsource();
    async_stream::stream! {
        loop {
            match tokio::time::timeout(idle, inner.next()).await {
                Err(_) => {
                    yield Err(RunnerError::retryable(format!("{provider} stream sent nothing for {} ms", idle.as_millis())));
                    return;
                }
                Ok(None) => return,
                Ok(Some(Ok(event))) => yield Ok(event),
                Ok(Some(Err(e))) => {
                    yield Err(RunnerError::retryable(format!("{provider} stream broke off: {e}")));
                    return;
                }
            }
        }
    }
}

/// The JSON body of a whole (not streamed) answer.
pub(super) async fn json_body(response: Response, provider: &str) -> Result<Value, RunnerError> {
    response.json().await.map_err(|e| RunnerError::Permanent(format!("{provider} sent a body that is not JSON: {e}")))
}

/// Parses one JSON chunk of a stream; a malformed one fails the node.
pub(super) fn chunk(data: &str, provider: &str) -> Result<Value, RunnerError> {
    serde_json::from_str(data).map_err(|e| {
        let start: String = data.chars().take(120).collect();
        RunnerError::Permanent(format!("{provider} sent a malformed stream chunk ({e}): {start}"))
    })
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
    fn token_counts_are_bounded() {
        assert_eq!(token_count(Some(&serde_json::json!(u64::MAX))), MAX_REPORTED_TOKENS);
        assert_eq!(token_count(Some(&serde_json::json!(-5))), 0);
        assert_eq!(token_count(Some(&serde_json::json!(1e300))), 0);
        assert_eq!(token_count(Some(&serde_json::json!("12"))), 0);
        assert_eq!(token_count(None), 0);
        assert_eq!(token_count(Some(&serde_json::json!(12))), 12);
    }

    #[test]
    fn long_or_empty_error_bodies_are_summarised() {
        assert_eq!(provider_message(""), "no details");
        assert_eq!(provider_message(&"x".repeat(2000)).len(), MAX_ERROR_TEXT);
        assert_eq!(provider_message(r#"{"error":"overloaded"}"#), "overloaded");
    }
}
