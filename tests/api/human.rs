//! Approval and Form nodes through the real router and services (in-memory storage): a run parks
//! on a request, an answer continues or fails it, expiry fails it, cancel ends it, and the one
//! stream of the execution carries the pause, the answer and the rest.

use super::support::{create, edge, end, execute, finished, get, node, post, result, services, start, workflow};
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

fn app() -> axum::Router {
    super::support::router_with(&services(), oxify_api::adapters::http::HttpSettings::default())
}

fn approval(config: Value) -> Value {
    let mut c = json!({"message": "Deploy to {{env}}?", "context_data": {"env": "{{env}}"}, "approvers": []});
    c.as_object_mut().unwrap().extend(config.as_object().cloned().unwrap_or_default());
    node("a", json!({"type": "Approval", "config": c}))
}

fn around(middle: Value) -> Value {
    let id = middle["id"].as_str().unwrap().to_owned();
    workflow(json!([start("s"), middle, end("e")]), json!([edge("s", &id), edge(&id, "e")]))
}

/// Waits for the execution's first request of `kind` (`approvals` or `forms`), and for the run to park.
async fn request_of(app: &axum::Router, execution: &str, kind: &str) -> Value {
    for _ in 0..500 {
        let list = get(app, &format!("/api/v1/executions/{execution}/{kind}")).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text);
        let state = get(app, &format!("/api/v1/executions/{execution}")).await.body["state"].clone();
        if let Some(first) = list.body[kind].as_array().and_then(|a| a.first())
            && state == "Paused"
        {
            return first.clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no {kind} request for {execution}");
}

#[tokio::test]
async fn an_approved_run_continues_with_the_decision_as_the_node_output() {
    let app = app();
    let wf = create(&app, around(approval(json!({"description": "for {{env}}"})))).await;
    let execution = execute(&app, &wf, json!({"env": "prod"})).await;
    let request = request_of(&app, &execution, "approvals").await;
    assert_eq!(request["message"], "Deploy to prod?");
    assert_eq!(request["description"], "for prod");
    assert_eq!(request["context"], json!({"env": "prod"}));
    assert_eq!(request["state"], "Pending");
    let id = request["id"].as_str().unwrap();
    let listed = get(&app, &format!("/api/v1/approvals?state=Pending&execution_id={execution}")).await;
    assert_eq!(listed.body["total"], 1, "{}", listed.text);
    let decided = post(&app, &format!("/api/v1/approvals/{id}/approve"), json!({"comment": "ship it"})).await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.text);
    assert_eq!(decided.body["state"], "Approved");
    let done = finished(&app, &execution).await;
    assert_eq!(done["state"], "Completed", "{done}");
    let output = &result(&done, "a")["output"];
    assert_eq!(output["approved"], true);
    assert_eq!(output["comment"], "ship it");
    let again = post(&app, &format!("/api/v1/approvals/{id}/reject"), json!({})).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    assert_eq!(again.body["error"], "ConflictError");
}

#[tokio::test]
async fn a_rejection_fails_the_node_and_its_error_route_can_catch_it() {
    let app = app();
    let wf = create(&app, around(approval(json!({})))).await;
    let execution = execute(&app, &wf, json!({"env": "prod"})).await;
    let id = request_of(&app, &execution, "approvals").await["id"].as_str().unwrap().to_owned();
    let reply = send_reject(&app, &id, "not today").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let done = finished(&app, &execution).await;
    assert_eq!(done["state"], "Failed", "{done}");
    assert!(result(&done, "a")["error"].as_str().unwrap().contains("not today"), "{done}");
    assert_eq!(get(&app, &format!("/api/v1/approvals/{id}")).await.body["state"], "Rejected");
}

async fn send_reject(app: &axum::Router, id: &str, comment: &str) -> super::support::Reply {
    post(app, &format!("/api/v1/approvals/{id}/reject"), json!({"comment": comment})).await
}

#[tokio::test]
async fn an_unanswered_approval_expires_on_its_timer_and_fails_the_node() {
    let app = app();
    let wf = create(&app, around(approval(json!({"timeout_seconds": 1})))).await;
    let execution = execute(&app, &wf, json!({"env": "prod"})).await;
    let id = request_of(&app, &execution, "approvals").await["id"].as_str().unwrap().to_owned();
    let done = finished(&app, &execution).await;
    assert_eq!(done["state"], "Failed", "{done}");
    assert!(result(&done, "a")["error"].as_str().unwrap().contains("timed out"), "{done}");
    let approval = get(&app, &format!("/api/v1/approvals/{id}")).await.body;
    assert_eq!(approval["state"], "Expired", "{approval}");
    let late = post(&app, &format!("/api/v1/approvals/{id}/approve"), json!({})).await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.text);
}

#[tokio::test]
async fn cancelling_a_parked_run_cancels_its_approval() {
    let app = app();
    let wf = create(&app, around(approval(json!({})))).await;
    let execution = execute(&app, &wf, json!({"env": "prod"})).await;
    let id = request_of(&app, &execution, "approvals").await["id"].as_str().unwrap().to_owned();
    let cancelled = post(&app, &format!("/api/v1/executions/{execution}/cancel"), json!({})).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text);
    assert_eq!(finished(&app, &execution).await["state"], "Cancelled");
    assert_eq!(get(&app, &format!("/api/v1/approvals/{id}")).await.body["state"], "Cancelled");
    let late = post(&app, &format!("/api/v1/approvals/{id}/approve"), json!({})).await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.text);
}

#[tokio::test]
async fn the_stream_carries_the_pause_the_decision_and_the_rest_without_gap_or_duplicate() {
    let app = app();
    let wf = create(&app, around(approval(json!({})))).await;
    let execution = execute(&app, &wf, json!({"env": "prod"})).await;
    let id = request_of(&app, &execution, "approvals").await["id"].as_str().unwrap().to_owned();
    // Read what is there so far, then follow from the last id seen, as a reconnecting client does.
    let stream_app = app.clone();
    let uri = format!("/api/v1/executions/{execution}/stream");
    let first = tokio::time::timeout(Duration::from_millis(300), {
        let (app, uri) = (stream_app.clone(), uri.clone());
        async move { get(&app, &uri).await }
    })
    .await;
    assert!(first.is_err(), "the stream of a parked run stays open");
    let follower = tokio::spawn(async move {
        let request =
            axum::http::Request::get(&uri).header("last-event-id", "2").body(axum::body::Body::empty()).unwrap();
        super::support::send_request(&stream_app, request).await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(post(&app, &format!("/api/v1/approvals/{id}/approve"), json!({})).await.status, StatusCode::OK);
    let followed = tokio::time::timeout(Duration::from_secs(10), follower).await.unwrap().unwrap();
    let ids: Vec<u64> =
        followed.text.lines().filter_map(|l| l.strip_prefix("id: ")).map(|i| i.parse().unwrap()).collect();
    let kinds: Vec<&str> = followed.text.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
    assert_eq!(ids.first(), Some(&3), "{}", followed.text);
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "no gap, no duplicate: {ids:?}");
    let at = |k: &str| kinds.iter().position(|x| *x == k).unwrap_or_else(|| panic!("{k} in {kinds:?}"));
    assert!(at("approval_requested") < at("execution_paused"), "{kinds:?}");
    assert!(at("execution_paused") < at("approval_decided"), "{kinds:?}");
    assert!(at("approval_decided") < at("execution_resumed"), "{kinds:?}");
    assert!(at("execution_resumed") < at("execution_completed"), "{kinds:?}");
}

fn form(fields: Value) -> Value {
    node("f", json!({"type": "Form", "config": {"title": "Details", "fields": fields}}))
}

fn every_field() -> Value {
    json!([
        {"id": "name", "label": "Name", "field_type": "Text", "required": true, "validation": "[A-Z][a-z]+"},
        {"id": "age", "label": "Age", "field_type": "Number"},
        {"id": "email", "label": "Email", "field_type": "Email", "required": true},
        {"id": "pw", "label": "Password", "field_type": "Password", "required": true},
        {"id": "bio", "label": "Bio", "field_type": "TextArea", "default_value": "none"},
        {"id": "size", "label": "Size", "field_type": "Select", "options": ["S", "M", "L"]},
        {"id": "tags", "label": "Tags", "field_type": "MultiSelect", "options": ["a", "b"]},
        {"id": "tier", "label": "Tier", "field_type": "Radio", "options": [1, 2]},
        {"id": "ok", "label": "OK", "field_type": "Checkbox"},
        {"id": "day", "label": "Day", "field_type": "Date"},
        {"id": "when", "label": "When", "field_type": "DateTime"}
    ])
}

#[tokio::test]
async fn a_form_checks_every_field_and_its_values_become_the_output_without_the_password() {
    let app = app();
    let wf = create(&app, around(form(every_field()))).await;
    let execution = execute(&app, &wf, json!({})).await;
    let request = request_of(&app, &execution, "forms").await;
    let id = request["id"].as_str().unwrap().to_owned();
    assert_eq!(request["json_schema"]["required"], json!(["name", "email", "pw"]));
    assert_eq!(get(&app, &format!("/api/v1/forms/{id}")).await.body["title"], "Details");
    let bad = post(
        &app,
        &format!("/api/v1/forms/{id}/submit"),
        json!({"values": {"name": "ada", "age": "x", "email": "nope", "size": "XL", "tags": ["c"], "tier": 3,
                          "ok": "yes", "day": "01/12/2026", "when": "tomorrow"}}),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    assert_eq!(bad.body["error"], "ValidationError");
    assert!(bad.text.contains("values.pw") && bad.text.contains("values.when"), "{}", bad.text);
    let secret = "correct-horse-battery-staple";
    let good = post(
        &app,
        &format!("/api/v1/forms/{id}/submit"),
        json!({"values": {"name": "Ada", "age": 36, "email": "ada@example.com", "pw": secret, "size": "M",
                          "tags": ["a"], "tier": 2, "ok": true, "day": "2026-12-01", "when": "2026-12-01T10:00:00Z"}}),
    )
    .await;
    assert_eq!(good.status, StatusCode::OK, "{}", good.text);
    assert_eq!(good.body["values"]["pw"], "[redacted]");
    let done = finished(&app, &execution).await;
    assert_eq!(done["state"], "Completed", "{done}");
    assert_eq!(result(&done, "f")["output"]["name"], "Ada");
    assert_eq!(result(&done, "f")["output"]["bio"], "none");
    let again = post(&app, &format!("/api/v1/forms/{id}/submit"), json!({"values": {}})).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    // The password is nowhere: not in the execution, its stream, the form or the lists.
    for uri in [
        format!("/api/v1/executions/{execution}"),
        format!("/api/v1/executions/{execution}/stream"),
        format!("/api/v1/forms/{id}"),
        "/api/v1/forms".to_owned(),
        format!("/api/v1/executions/{execution}/forms"),
    ] {
        let reply = get(&app, &uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
        assert!(!reply.text.contains(secret), "{uri} shows the password: {}", reply.text);
    }
}
