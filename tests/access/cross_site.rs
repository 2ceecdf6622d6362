//! Browser-style requests from another site: "simple" requests (no body, `text/plain`, a form)
//! that a page anywhere could make a visitor's browser send are refused before they act, also
//! with anonymous access on; the same requests from the server's own origin, from an allowed
//! origin, or from a program (no `Origin`) are not.

use crate::support::{Harness, harness, is_error, workflow};
use reqwest::StatusCode;

async fn anonymous() -> Harness {
    harness(|c| {
        c.access.allow_anonymous = true;
        c.cors_origins = vec!["https://ui.example".into()];
    })
    .await
}

#[tokio::test]
async fn simple_cross_site_requests_cannot_act() {
    let h = anonymous().await;
    let created = h.post("/api/v1/workflows", None, &workflow()).await;
    assert_eq!(created.status, StatusCode::CREATED, "anonymous access works: {}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let execute = h.url(&format!("/api/v1/workflows/{id}/execute"));
    let evil = "https://evil.example";
    let attempts = [
        h.http.post(&execute).header("Origin", evil),
        h.http.post(&execute).header("Origin", evil).header("Content-Type", "text/plain").body("{}"),
        h.http
            .post(&execute)
            .header("Origin", evil)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("variables=1"),
        h.http.post(&execute).header("Origin", "null"),
        h.http.post(&execute).header("Sec-Fetch-Site", "cross-site"),
        h.http.delete(h.url(&format!("/api/v1/workflows/{id}"))).header("Origin", evil),
        h.http
            .post(h.url("/api/v1/api-keys"))
            .header("Origin", evil)
            .header("Content-Type", "text/plain")
            .body(r#"{"name":"x","role":"Admin"}"#),
    ];
    for attempt in attempts {
        let reply = h.send(attempt).await;
        is_error(&reply, StatusCode::FORBIDDEN, "Forbidden");
        assert!(reply.body["message"].as_str().unwrap().contains("another site"), "{}", reply.body);
    }
    let runs = h.get("/api/v1/executions", None).await;
    assert_eq!(runs.body["total"], 0, "nothing ran: {}", runs.body);
    assert_eq!(h.get(&format!("/api/v1/workflows/{id}"), None).await.status, StatusCode::OK, "nothing was deleted");
    // Reading is not acting: a cross-site GET passes (CORS keeps the answer from the page).
    assert_eq!(h.send(h.http.get(h.url("/api/v1/workflows")).header("Origin", evil)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn own_allowed_and_program_requests_act() {
    let h = anonymous().await;
    let own = h.base.clone();
    for origin in [Some(own.as_str()), Some("https://ui.example"), None] {
        let mut request = h.http.post(h.url("/api/v1/workflows")).json(&workflow());
        if let Some(origin) = origin {
            request = request.header("Origin", origin).header("Sec-Fetch-Site", "same-origin");
        }
        let reply = h.send(request).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{origin:?}: {}", reply.body);
    }
    let allowed = h
        .http
        .post(h.url("/api/v1/workflows"))
        .header("Origin", "https://ui.example")
        .header("Sec-Fetch-Site", "cross-site")
        .json(&workflow());
    assert_eq!(h.send(allowed).await.status, StatusCode::CREATED, "a listed origin may, though cross-site");
}
