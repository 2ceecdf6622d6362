//! The HTTP side shared by the providers: sending a request, turning error responses into
//! retryable or permanent failures (through [`crate::adapters::outgoing::failure`], which every
//! outgoing call shares), and reading an event stream with an idle deadline.

use crate::adapters::outgoing::failure::{self, error_message, retry_after, status_error};
use crate::ports::RunnerError;
use eventsource_stream::{Event, Eventsource};
use futures::{Stream, StreamExt};
use reqwest::{RequestBuilder, Response};
use serde_json::Value;
use std::time::Duration;

/// Most token count believed from a provider's usage report; larger ones are taken as this.
pub(crate) const MAX_REPORTED_TOKENS: u64 = 1_000_000_000;

/// A token count from a provider's JSON, bounded (absent or not a count: 0).
pub(crate) fn token_count(value: Option<&Value>) -> u64 {
    value.and_then(Value::as_u64).unwrap_or(0).min(MAX_REPORTED_TOKENS)
}

/// Sends a request; any answer but a 2xx becomes an error. A redirect to another origin arrives
/// here unfollowed (see `adapters::outgoing`) and is reported as such.
pub(crate) async fn send(request: RequestBuilder, provider: &str) -> Result<Response, RunnerError> {
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

/// A request that got no answer: see [`failure::transport`].
pub(crate) fn transport(e: &reqwest::Error, provider: &str) -> RunnerError {
    failure::transport(e, provider)
}

/// The provider's own error message, else the body's start.
pub(crate) fn provider_message(body: &str) -> String {
    error_message(body)
}

/// The server-sent events of a streamed response; an error when nothing arrives for `idle`.
pub(crate) fn events(
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
pub(crate) async fn json_body(response: Response, provider: &str) -> Result<Value, RunnerError> {
    response.json().await.map_err(|e| RunnerError::Permanent(format!("{provider} sent a body that is not JSON: {e}")))
}

/// Parses one JSON chunk of a stream; a malformed one fails the node.
pub(crate) fn chunk(data: &str, provider: &str) -> Result<Value, RunnerError> {
    serde_json::from_str(data).map_err(|e| {
        let start: String = data.chars().take(120).collect();
        RunnerError::Permanent(format!("{provider} sent a malformed stream chunk ({e}): {start}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_counts_are_bounded() {
        assert_eq!(token_count(Some(&serde_json::json!(u64::MAX))), MAX_REPORTED_TOKENS);
        assert_eq!(token_count(Some(&serde_json::json!(-5))), 0);
        assert_eq!(token_count(Some(&serde_json::json!(1e300))), 0);
        assert_eq!(token_count(Some(&serde_json::json!("12"))), 0);
        assert_eq!(token_count(None), 0);
        assert_eq!(token_count(Some(&serde_json::json!(12))), 12);
    }
}
