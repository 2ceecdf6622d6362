//! Odd text through the API: what JSON can carry is kept exactly (NUL, separators, astral
//! characters), and what no Unicode text can hold (a lone surrogate escape) is a clear 422.

use crate::support::*;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

/// Sends raw JSON text, so that escapes reach the server exactly as written.
async fn send_raw(app: &Router, method: Method, uri: &str, json_text: &str) -> Reply {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(json_text.to_owned()))
        .unwrap();
    send_request(app, req).await
}

fn workflow_named(name: &str) -> String {
    format!(
        r#"{{"workflow": {{"metadata": {{"name": "{name}"}}, "nodes": [{{"id": "s", "name": "S", "kind": {{"type": "Start"}}}}], "edges": []}}}}"#
    )
}

fn assert_not_unicode(reply: &Reply, path: &str) {
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    assert_eq!(reply.body["error"], "ValidationError");
    let message = reply.body["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("request body has a string that is not Unicode text at {path}:")),
        "{message}"
    );
    assert!(message.contains("surrogate pair"), "{message}");
    assert_eq!(reply.body["details"][0]["path"], path);
}

#[tokio::test]
async fn a_workflow_with_a_lone_surrogate_is_422_naming_the_field() {
    let app = app();
    for escape in [r"\ud800", r"\udfff", r"a\ud83d b", r"\ud83d\u0041"] {
        let reply = send_raw(&app, Method::POST, "/api/v1/workflows", &workflow_named(escape)).await;
        assert_not_unicode(&reply, "workflow.metadata.name");
    }
    let id = create(&app, chain("sleep 1")).await;
    let reply = send_raw(&app, Method::PUT, &format!("/api/v1/workflows/{id}"), &workflow_named(r"\ud800")).await;
    assert_not_unicode(&reply, "workflow.metadata.name");
    assert_eq!(get(&app, "/api/v1/workflows").await.body["total"], 1, "nothing else was stored");
}

#[tokio::test]
async fn execute_variables_with_a_lone_surrogate_are_422_naming_the_variable() {
    let app = app();
    let id = create(&app, chain("echo {{ q }}")).await;
    let uri = format!("/api/v1/workflows/{id}/execute");
    let reply = send_raw(&app, Method::POST, &uri, r#"{"variables": {"q": "x\udc00"}}"#).await;
    assert_not_unicode(&reply, "variables.q");
    let reply = send_raw(&app, Method::POST, &uri, r#"{"variables": {"deep": [{"k": "\ud800"}]}}"#).await;
    assert_not_unicode(&reply, "variables.deep[0].k");
    let reply = send_raw(&app, Method::POST, &uri, r#"{"variables": {"\ud800": 1}}"#).await;
    assert_eq!((reply.status, &reply.body["error"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("ValidationError")));
    assert_eq!(get(&app, "/api/v1/executions").await.body["total"], 0, "no execution started");
}

#[tokio::test]
async fn text_json_can_carry_is_kept_exactly() {
    let app = app();
    let odd = "nul\u{0} sep\u{2028} bom\u{FEFF} max\u{FFFF} astral😀 pair\u{1F600}";
    let escaped = r"nul\u0000 sep\u2028 bom\ufeff max\uffff astral😀 pair\ud83d\ude00";
    let reply = send_raw(&app, Method::POST, "/api/v1/workflows", &workflow_named(escaped)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let id = reply.body["id"].as_str().unwrap().to_owned();
    assert_eq!(get(&app, &format!("/api/v1/workflows/{id}")).await.body["workflow"]["metadata"]["name"], odd);
    let id = create(&app, chain("echo [{{ q }}]")).await;
    let run = execute(&app, &id, json!({"q": odd})).await;
    let done = finished(&app, &run).await;
    assert_eq!(done["variables"]["q"], odd);
    assert_eq!(result(&done, "work")["output"], format!("[{odd}]"), "the prompt-like rendering sees the same text");
}
