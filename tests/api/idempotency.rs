//! `Idempotency-Key` on execute, through the real router: a retry gets the first answer (200,
//! same body, `Idempotent-Replayed: true`) and starts nothing; another body or workflow with the
//! key is a 422; a malformed key is a 400; racing retries start one execution; a request that
//! fails leaves its key unused.

use crate::support::*;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode};
use serde_json::{Value, json};

/// POST execute with these `Idempotency-Key` values (raw bytes) and this body (none: no body).
async fn execute_keyed(app: &Router, workflow_id: &str, keys: &[&[u8]], body: Option<&str>) -> Reply {
    let mut req = Request::builder().method(Method::POST).uri(format!("/api/v1/workflows/{workflow_id}/execute"));
    for key in keys {
        req = req.header("idempotency-key", HeaderValue::from_bytes(key).unwrap());
    }
    let body = match body {
        Some(text) => {
            req = req.header("content-type", "application/json");
            Body::from(text.to_owned())
        }
        None => Body::empty(),
    };
    send_request(app, req.body(body).unwrap()).await
}

async fn executions_of(app: &Router, workflow_id: &str) -> u64 {
    get(app, &format!("/api/v1/workflows/{workflow_id}/executions")).await.body["total"].as_u64().unwrap()
}

fn assert_replay_of(reply: &Reply, first: &Reply) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.text, first.text, "the same body, byte for byte");
    assert_eq!(reply.headers["idempotent-replayed"], "true");
    assert_eq!(reply.headers["content-type"], "application/json");
    assert_eq!(reply.headers["location"], first.headers["location"]);
}

#[tokio::test]
async fn a_retry_with_the_same_key_and_body_gets_the_first_answer_and_starts_nothing() {
    let app = app();
    let wf = create(&app, chain("sleep 1")).await;
    let body = r#"{"variables": {"q": "hi"}, "max_tokens": 100}"#;
    let first = execute_keyed(&app, &wf, &[b"retry-1"], Some(body)).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.text);
    let execution = first.body["execution_id"].as_str().unwrap();
    assert_eq!(
        first.body,
        json!({"execution_id": execution, "message": "Workflow execution started", "workflow_version": 1})
    );
    assert_eq!(first.headers["location"], format!("/api/v1/executions/{execution}").as_str());
    assert!(first.headers.get("idempotent-replayed").is_none());
    for _ in 0..2 {
        assert_replay_of(&execute_keyed(&app, &wf, &[b"retry-1"], Some(body)).await, &first);
    }
    assert_eq!(executions_of(&app, &wf).await, 1);
    assert_eq!(finished(&app, execution).await["state"], "Completed");
    assert_replay_of(&execute_keyed(&app, &wf, &[b"retry-1"], Some(body)).await, &first);
    let unkeyed = post(&app, &format!("/api/v1/workflows/{wf}/execute"), json!({"variables": {"q": "hi"}})).await;
    assert_eq!(unkeyed.status, StatusCode::ACCEPTED, "without a key, every request runs");
    assert_eq!(executions_of(&app, &wf).await, 2);
}

#[tokio::test]
async fn however_a_request_is_spelled_the_same_request_is_a_retry() {
    let app = app();
    let wf = create(&app, chain("sleep 1")).await;
    let first = execute_keyed(&app, &wf, &[b"empty"], None).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.text);
    for same in ["", "{}", r#"{"variables": {}}"#, r#"{"variables": {}, "max_tokens": null, "max_cost_usd": null}"#] {
        assert_replay_of(&execute_keyed(&app, &wf, &[b"empty"], Some(same)).await, &first);
    }
    let numbers = execute_keyed(&app, &wf, &[b"numbers"], Some(r#"{"variables": {"n": 3, "m": [1.5, 2]}}"#)).await;
    assert_eq!(numbers.status, StatusCode::ACCEPTED);
    let respelled = r#"{"variables": {"m": [1.50, 2.0], "n": 3.0}}"#;
    assert_replay_of(&execute_keyed(&app, &wf, &[b"numbers"], Some(respelled)).await, &numbers);
    assert_replay_of(&execute_keyed(&app, &wf, &[b"\"numbers\""], Some(respelled)).await, &numbers);
    assert_eq!(executions_of(&app, &wf).await, 2);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_a_422_and_starts_nothing() {
    let app = app();
    let wf = create(&app, chain("sleep 1")).await;
    let first = execute_keyed(&app, &wf, &[b"k"], Some(r#"{"variables": {"q": "hi"}}"#)).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    for other in [r#"{"variables": {"q": "hello"}}"#, r#"{"variables": {"q": "hi"}, "max_tokens": 5}"#, "{}"] {
        let reply = execute_keyed(&app, &wf, &[b"k"], Some(other)).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{other}: {}", reply.text);
        assert_eq!(reply.body["error"], "IdempotencyKeyReused");
        let message = reply.body["message"].as_str().unwrap();
        assert!(
            message.contains("'k'") && message.contains("different body") && message.contains("new key"),
            "{message}"
        );
    }
    assert_eq!(executions_of(&app, &wf).await, 1);
}

#[tokio::test]
async fn the_same_key_on_another_workflow_is_a_422_naming_it() {
    let app = app();
    let (first_wf, second_wf) = (create(&app, chain("sleep 1")).await, create(&app, chain("sleep 1")).await);
    assert_eq!(execute_keyed(&app, &first_wf, &[b"k"], None).await.status, StatusCode::ACCEPTED);
    let reply = execute_keyed(&app, &second_wf, &[b"k"], None).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    assert_eq!(reply.body["error"], "IdempotencyKeyReused");
    assert!(reply.body["message"].as_str().unwrap().contains(&format!("another workflow ({first_wf})")));
    assert_eq!(executions_of(&app, &second_wf).await, 0);
    // Checked before the workflow is read: even a workflow that does not exist gets the 422.
    let missing = execute_keyed(&app, "00000000-0000-4000-8000-000000000000", &[b"k"], None).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_malformed_key_is_a_400_in_the_error_format_and_starts_nothing() {
    let app = app();
    let wf = create(&app, chain("sleep 1")).await;
    let long = vec![b'k'; 256];
    let cases: [(&[&[u8]], &str); 7] = [
        (&[b""], "empty"),
        (&[&long], "256 bytes long"),
        (&[b"a b"], "a space"),
        (&[b"a\tb"], "control character"),
        (&["clé".as_bytes()], "non-ASCII"),
        (&[b"\"a\\nb\""], "backslash"),
        (&[b"one", b"two"], "one Idempotency-Key header"),
    ];
    for (keys, why) in cases {
        let reply = execute_keyed(&app, &wf, keys, None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{why}: {}", reply.text);
        assert_eq!(reply.body["error"], "BadRequest");
        let message = reply.body["message"].as_str().unwrap();
        assert!(message.contains("Idempotency-Key") && message.contains(why), "{message}");
    }
    assert_eq!(executions_of(&app, &wf).await, 0);
    let longest = vec![b'~'; 255];
    assert_eq!(execute_keyed(&app, &wf, &[&longest], None).await.status, StatusCode::ACCEPTED, "255 is fine");
}

#[tokio::test]
async fn concurrent_requests_with_one_key_start_exactly_one_execution() {
    let app = app();
    let wf = create(&app, chain("sleep 50")).await;
    let mut requests = Vec::new();
    for _ in 0..12 {
        let (app, wf) = (app.clone(), wf.clone());
        requests.push(tokio::spawn(async move {
            execute_keyed(&app, &wf, &[b"race"], Some(r#"{"variables": {"n": 1}}"#)).await
        }));
    }
    let mut replies = Vec::new();
    for r in requests {
        replies.push(r.await.unwrap());
    }
    let started: Vec<&Reply> = replies.iter().filter(|r| r.status == StatusCode::ACCEPTED).collect();
    assert_eq!(started.len(), 1, "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    for reply in replies.iter().filter(|r| r.status != StatusCode::ACCEPTED) {
        assert_replay_of(reply, started[0]);
    }
    assert_eq!(executions_of(&app, &wf).await, 1);
}

fn schema_workflow() -> Value {
    let mut body = chain("sleep 1");
    body["workflow"]["input_schema"] =
        json!({"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}});
    body
}

#[tokio::test]
async fn a_request_that_fails_leaves_its_key_unused() {
    let app = app();
    let missing = execute_keyed(&app, "00000000-0000-4000-8000-000000000000", &[b"unused"], None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let wf = create(&app, schema_workflow()).await;
    let invalid = execute_keyed(&app, &wf, &[b"unused"], Some(r#"{"variables": {"id": 7}}"#)).await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST, "{}", invalid.text);
    assert_eq!(invalid.body["error"], "ValidationError");
    let reserved = execute_keyed(&app, &wf, &[b"unused"], Some(r#"{"variables": {"nodes": 1}}"#)).await;
    assert_eq!(reserved.status, StatusCode::BAD_REQUEST);
    let budget = execute_keyed(&app, &wf, &[b"unused"], Some(r#"{"max_tokens": 0}"#)).await;
    assert_eq!(budget.status, StatusCode::BAD_REQUEST);
    let shape = execute_keyed(&app, &wf, &[b"unused"], Some(r#"{"variables": []}"#)).await;
    assert_eq!(shape.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(shape.body["error"], "ValidationError");
    assert_eq!(executions_of(&app, &wf).await, 0);
    let valid = r#"{"variables": {"id": "7"}}"#;
    let first = execute_keyed(&app, &wf, &[b"unused"], Some(valid)).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "the key was still free: {}", first.text);
    assert_replay_of(&execute_keyed(&app, &wf, &[b"unused"], Some(valid)).await, &first);
}

#[tokio::test]
async fn the_openapi_document_declares_the_header_the_replay_and_the_422() {
    let doc = get(&app(), "/api-docs/openapi.json").await.body;
    let execute = &doc["paths"]["/api/v1/workflows/{id}/execute"]["post"];
    let params = execute["parameters"].as_array().unwrap();
    let key = params.iter().find(|p| p["name"] == "Idempotency-Key").expect("Idempotency-Key declared");
    assert_eq!((&key["in"], &key["required"]), (&json!("header"), &json!(false)));
    assert!(key["description"].as_str().unwrap().contains("422"));
    let responses = &execute["responses"];
    assert!(responses["200"]["headers"]["Idempotent-Replayed"].is_object());
    assert!(responses["200"]["content"]["application/json"].is_object());
    assert!(responses["422"]["description"].as_str().unwrap().contains("IdempotencyKeyReused"));
    assert!(responses["409"].is_object());
}

#[tokio::test]
async fn a_browser_may_send_a_key_and_read_the_replay_header() {
    let settings = oxify_api::adapters::http::HttpSettings {
        cors_origins: vec!["https://ui.example".into()],
        ..oxify_api::adapters::http::HttpSettings::default()
    };
    let app = router_with(&services(), settings);
    let preflight = Request::options("/api/v1/workflows/x/execute")
        .header("origin", "https://ui.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "idempotency-key,content-type")
        .body(Body::empty())
        .unwrap();
    let reply = send_request(&app, preflight).await;
    assert!(reply.headers["access-control-allow-headers"].to_str().unwrap().contains("idempotency-key"));
    let wf = create(&app, chain("sleep 1")).await;
    let request = || {
        Request::post(format!("/api/v1/workflows/{wf}/execute"))
            .header("origin", "https://ui.example")
            .header("idempotency-key", "browser")
            .body(Body::empty())
            .unwrap()
    };
    send_request(&app, request()).await;
    let replay = send_request(&app, request()).await;
    assert_eq!(replay.status, StatusCode::OK);
    assert!(replay.headers["access-control-expose-headers"].to_str().unwrap().contains("idempotent-replayed"));
}
