//! Secret routes and secrets in runs, through the real router.

use super::support::{app, chain, create, execute, finished, get, post, result, send};
use axum::http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_secret_is_set_described_and_deleted_but_never_shown() {
    let app = app();
    let set =
        post(&app, "/api/v1/secrets", json!({"name": "API_TOKEN", "value": "tok-123456789", "description": "CRM"}))
            .await;
    assert_eq!(set.status, StatusCode::CREATED, "{}", set.text);
    assert_eq!(set.body["name"], "API_TOKEN");
    let listed = get(&app, "/api/v1/secrets").await;
    assert_eq!((listed.body["total"].as_u64(), &listed.body["secrets"][0]["description"]), (Some(1), &json!("CRM")));
    let one = get(&app, "/api/v1/secrets/API_TOKEN").await;
    assert_eq!(one.status, StatusCode::OK);
    for text in [&set.text, &listed.text, &one.text] {
        assert!(!text.contains("tok-123456789"), "{text}");
    }
    let deleted = send(&app, Method::DELETE, "/api/v1/secrets/API_TOKEN", None).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    assert_eq!(get(&app, "/api/v1/secrets/API_TOKEN").await.status, StatusCode::NOT_FOUND);
    assert_eq!(send(&app, Method::DELETE, "/api/v1/secrets/API_TOKEN", None).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_names_and_values_are_refused_in_the_error_format() {
    let app = app();
    for (body, status) in [
        (json!({"name": "1BAD", "value": "long-enough-value"}), StatusCode::BAD_REQUEST),
        (json!({"name": "a.b", "value": "long-enough-value"}), StatusCode::BAD_REQUEST),
        (json!({"name": "SHORT", "value": "1234567"}), StatusCode::BAD_REQUEST),
        (json!({"name": "BIG", "value": "x".repeat(64 * 1024 + 1)}), StatusCode::BAD_REQUEST),
        (json!({"name": "NOVALUE"}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"name": "EXTRA", "value": "long-enough-value", "shown": true}), StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let reply = post(&app, "/api/v1/secrets", body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text);
        assert!(reply.body["error"].is_string() && reply.body["message"].is_string(), "{}", reply.text);
    }
    assert_eq!(get(&app, "/api/v1/secrets").await.body["total"], 0, "nothing was stored");
}

#[tokio::test]
async fn a_run_uses_a_secret_without_ever_recording_it() {
    let app = app();
    post(&app, "/api/v1/secrets", json!({"name": "PASS", "value": "p4ss-w0rd-xyz"})).await;
    let workflow = create(&app, chain("echo key={{ secrets.PASS }}")).await;
    let run = finished(&app, &execute(&app, &workflow, json!({})).await).await;
    assert_eq!(run["state"], "Completed", "{run}");
    assert_eq!(result(&run, "work")["output"], "key=[redacted]");
    assert!(!run.to_string().contains("p4ss-w0rd-xyz"));
}

#[tokio::test]
async fn a_run_that_needs_a_missing_secret_fails_naming_it() {
    let app = app();
    let workflow = create(&app, chain("echo {{ secrets.NOT_SET }}")).await;
    let run = finished(&app, &execute(&app, &workflow, json!({})).await).await;
    assert_eq!(run["state"], "Failed", "{run}");
    let error = result(&run, "work")["error"].as_str().unwrap_or_default().to_owned();
    assert!(error.contains("secret 'NOT_SET' is not set in this workspace"), "{run}");
}

#[tokio::test]
async fn secrets_is_a_reserved_variable_name() {
    let app = app();
    let workflow = create(&app, chain("echo hi")).await;
    let reply =
        post(&app, &format!("/api/v1/workflows/{workflow}/execute"), json!({"variables": {"secrets": {"PASS": "x"}}}))
            .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
}
