//! Calls to Chroma's v2 API in the default tenant and database, failures as [`StoreError`]s:
//! no answer is `Unavailable`, 404 `NotFound`, anything else `Internal` with Chroma's message.

use crate::ports::StoreError;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;

/// Where collections are kept: Chroma's defaults, present on every server.
const TENANT: &str = "default_tenant";
const DATABASE: &str = "default_database";

/// A Chroma server's base URL and an HTTP client for it.
pub struct ChromaClient {
    http: reqwest::Client,
    /// `<base>/api/v2/tenants/<tenant>/databases/<database>/collections`.
    collections: String,
}

impl ChromaClient {
    /// # Errors
    /// A client that cannot be built.
    pub fn new(base: &str) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("the Chroma client cannot be built: {e}"))?;
        let base = base.trim().trim_end_matches('/');
        Ok(Self { http, collections: format!("{base}/api/v2/tenants/{TENANT}/databases/{DATABASE}/collections") })
    }

    /// `method` on `path` under the collections URL (`""`, `/<name>`, `/<id>/query`, ...).
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<T, StoreError> {
        let mut request = self.http.request(method, format!("{}{path}", self.collections));
        if let Some(body) = body {
            request = request.json(body);
        }
        // The URL is left out of errors: it may carry credentials.
        let response = request
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(format!("Chroma did not answer: {}", e.without_url())))?;
        let status = response.status();
        if status.is_success() {
            return response.json().await.map_err(|e| {
                StoreError::Internal(format!("Chroma's answer is not the expected JSON: {}", e.without_url()))
            });
        }
        let message = response
            .json::<Value>()
            .await
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_default();
        Err(match status {
            StatusCode::NOT_FOUND => StoreError::not_found("collection", what),
            s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
                StoreError::Unavailable(format!("Chroma answered {s}: {message}"))
            }
            s => StoreError::Internal(format!("Chroma answered {s}: {message}")),
        })
    }
}
