//! A fake HTTP API on 127.0.0.1 for HTTP tools: it echoes what it received, answers late, with
//! any status, redirects, sends big bodies, fails once then recovers; and it records every
//! request, so a test can tell that a refused call never reached it.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the fake API received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
}

#[derive(Default)]
struct Inner {
    seen: Mutex<Vec<Seen>>,
    flaky_calls: AtomicUsize,
}

/// The fake API, running until dropped with its test's runtime.
#[derive(Clone)]
pub struct Upstream {
    inner: Arc<Inner>,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl Upstream {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .route("/echo", any(echo))
            .route("/echo/{*rest}", any(echo))
            .route("/slow", get(slow))
            .route("/status/{code}", any(status))
            .route("/redirect", any(redirect))
            .route("/big", get(big))
            .route("/text", get(|| async { "plain words" }))
            .route("/flaky", any(flaky))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("the fake API serves") });
        Self { inner, url }
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.inner.seen.lock().expect("not poisoned").clone()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port")
    }
}

fn record(inner: &Inner, method: &Method, uri: &Uri, headers: &HeaderMap) {
    let seen = Seen { method: method.to_string(), path: uri.path().to_owned(), headers: headers.clone() };
    inner.seen.lock().expect("not poisoned").push(seen);
}

/// `{"method", "path", "query", "headers", "body"}` of the request.
async fn echo(State(inner): State<Arc<Inner>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    record(&inner, &method, &uri, &headers);
    let query: Vec<(String, String)> = uri.query().map(url_pairs).unwrap_or_default();
    let header_map: BTreeMap<String, String> =
        headers.iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned())).collect();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    axum::Json(json!({
        "method": method.as_str(), "path": uri.path(), "query": query, "headers": header_map, "body": body
    }))
    .into_response()
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x/?{query}"))
        .map(|u| u.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
        .unwrap_or_default()
}

async fn slow(State(inner): State<Arc<Inner>>, method: Method, uri: Uri, headers: HeaderMap) -> &'static str {
    record(&inner, &method, &uri, &headers);
    tokio::time::sleep(Duration::from_secs(30)).await;
    "too late"
}

/// That status, with `Retry-After: 1` on a 429, and a JSON error body.
async fn status(
    State(inner): State<Arc<Inner>>,
    Path(code): Path<u16>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    record(&inner, &method, &uri, &headers);
    let code = StatusCode::from_u16(code).expect("a status");
    let mut response =
        (code, axum::Json(json!({"error": {"message": format!("status {}", code.as_u16())}}))).into_response();
    if code == StatusCode::TOO_MANY_REQUESTS {
        response.headers_mut().insert("retry-after", "1".parse().expect("a header"));
    }
    response
}

/// A 302 to `?to=`, or a 307 with `&code=307`.
async fn redirect(
    State(inner): State<Arc<Inner>>,
    Query(q): Query<BTreeMap<String, String>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    record(&inner, &method, &uri, &headers);
    let code = q.get("code").and_then(|c| c.parse().ok()).unwrap_or(302);
    let mut response = StatusCode::from_u16(code).expect("a status").into_response();
    response.headers_mut().insert("location", q["to"].parse().expect("a location"));
    response
}

/// `?bytes=N` bytes of text.
async fn big(Query(q): Query<BTreeMap<String, String>>) -> String {
    "x".repeat(q.get("bytes").and_then(|b| b.parse().ok()).unwrap_or(0))
}

/// A 503 on the first call, then `{"ok": true, "calls": n}`.
async fn flaky(State(inner): State<Arc<Inner>>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    record(&inner, &method, &uri, &headers);
    let calls = inner.flaky_calls.fetch_add(1, Ordering::SeqCst) + 1;
    if calls == 1 {
        return (StatusCode::SERVICE_UNAVAILABLE, "warming up").into_response();
    }
    axum::Json(json!({"ok": true, "calls": calls})).into_response()
}
