//! Sending an HTTP tool's request: through the guarded client (only addresses a workflow may
//! reach), redirects followed here one at a time so each target is checked by the guard and the
//! tool's headers go only to the origin they were written for, the whole call under a timeout,
//! the answer read up to a size cap and returned as `{"status", "headers", "body", "url"}`.

use super::request::HttpRequest;
use crate::adapters::outgoing::failure::{self, MAX_ERROR_TEXT, retry_after, status_error};
use crate::adapters::outgoing::{self, AddressGuard};
use crate::ports::RunnerError;
use reqwest::redirect::Policy;
use reqwest::{Method, Response, StatusCode, Url};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Redirects followed at most.
const MAX_REDIRECTS: usize = 5;

/// How HTTP tool calls are bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpToolLimits {
    /// Whole call: connecting, redirects, reading the answer.
    pub timeout: Duration,
    /// Largest answer body read, in bytes.
    pub max_response_bytes: usize,
}

impl Default for HttpToolLimits {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(30), max_response_bytes: 10 * 1024 * 1024 }
    }
}

/// Makes HTTP tool calls.
#[derive(Clone)]
pub struct HttpTool {
    client: reqwest::Client,
    guard: Arc<AddressGuard>,
    limits: HttpToolLimits,
}

impl HttpTool {
    /// # Errors
    /// When the HTTP client cannot be built (no TLS backend).
    pub fn new(guard: Arc<AddressGuard>, limits: HttpToolLimits) -> Result<Self, String> {
        Ok(Self { client: outgoing::guarded_client(guard.clone(), Policy::none())?, guard, limits })
    }

    #[must_use]
    pub fn guard(&self) -> &AddressGuard {
        &self.guard
    }

    /// Sends `request` and returns the answer. A 2xx answer is the output; 408, 429 and 5xx
    /// are retryable failures (honouring `Retry-After`), as are network errors and the timeout;
    /// other statuses, refused destinations and oversized answers are permanent.
    ///
    /// # Errors
    /// See above; every message names the method and the URL without its query.
    pub async fn call(&self, request: HttpRequest) -> Result<Value, RunnerError> {
        let who = describe(&request.method, &request.url);
        match tokio::time::timeout(self.limits.timeout, self.follow(request, &who)).await {
            Ok(result) => result,
            Err(_) => Err(RunnerError::retryable(format!(
                "{who} did not answer within {} ms",
                self.limits.timeout.as_millis()
            ))),
        }
    }

    async fn follow(&self, request: HttpRequest, who: &str) -> Result<Value, RunnerError> {
        let HttpRequest { mut method, mut url, headers, mut body } = request;
        let origin = url.origin();
        for _ in 0..=MAX_REDIRECTS {
            self.guard
                .check_url(&url)
                .map_err(|refused| RunnerError::Permanent(format!("{who} refused: {refused}")))?;
            let mut builder = self.client.request(method.clone(), url.clone());
            // The tool's headers (credentials among them) are for the origin it names only.
            if url.origin() == origin {
                builder = builder.headers(headers.clone());
            }
            if let Some(json) = &body {
                builder = builder.json(json);
            }
            let response = builder.send().await.map_err(|e| failure::transport(&e, who))?;
            let status = response.status();
            if status.is_redirection()
                && let Some(next) = location(&response)
            {
                // 303, and 301/302 after a POST (as browsers do), turn into a GET without body.
                if status == StatusCode::SEE_OTHER
                    || (matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND) && method == Method::POST)
                {
                    method = Method::GET;
                    body = None;
                }
                url = next;
                continue;
            }
            if !status.is_success() {
                let wait = retry_after(response.headers());
                let text =
                    read_capped(response, MAX_ERROR_TEXT * 4).await.map(|b| String::from_utf8_lossy(&b).into_owned());
                return Err(status_error(status, wait, &text.unwrap_or_default(), who));
            }
            return self.output(response, who).await;
        }
        Err(RunnerError::Permanent(format!("{who} was redirected more than {MAX_REDIRECTS} times")))
    }

    async fn output(&self, response: Response, who: &str) -> Result<Value, RunnerError> {
        let status = response.status().as_u16();
        let url = response.url().to_string();
        let mut headers = Map::new();
        for (name, value) in response.headers() {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            match headers.get_mut(name.as_str()) {
                Some(Value::String(joined)) => {
                    joined.push_str(", ");
                    joined.push_str(&value);
                }
                _ => {
                    headers.insert(name.as_str().to_owned(), Value::String(value));
                }
            }
        }
        let is_json = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            });
        let max = self.limits.max_response_bytes;
        let too_large = || RunnerError::Permanent(format!("{who} answered with more than {max} bytes (the limit)"));
        if response.content_length().is_some_and(|n| n > max as u64) {
            return Err(too_large());
        }
        let bytes = read_capped(response, max + 1).await.map_err(|e| failure::transport(&e, who))?;
        if bytes.len() > max {
            return Err(too_large());
        }
        let body = if bytes.is_empty() {
            Value::Null
        } else if is_json {
            // A body that says JSON and is not is kept as text rather than lost.
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        } else {
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
        };
        Ok(json!({"status": status, "headers": headers, "body": body, "url": url}))
    }
}

/// The answer's body, stopping once `cap` bytes are in (the rest is never read).
async fn read_capped(mut response: Response, cap: usize) -> Result<Vec<u8>, reqwest::Error> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() >= cap {
            bytes.truncate(cap);
            break;
        }
    }
    Ok(bytes)
}

/// Where a redirect points, resolved against the URL that answered it.
fn location(response: &Response) -> Option<Url> {
    let location = response.headers().get(reqwest::header::LOCATION)?.to_str().ok()?;
    response.url().join(location).ok()
}

/// `GET https://api.example.com/items` (no query, which may carry secrets).
fn describe(method: &Method, url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    format!("{method} {shown}")
}
