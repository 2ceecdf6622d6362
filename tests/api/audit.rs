//! The audit log: what changed, who did it and when, for the workspace's admins.

use super::support::{app, chain, create, execute, finished, get, post, send};
use axum::http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn changes_are_recorded_newest_first_and_filtered_by_action() {
    let app = app();
    let workflow = create(&app, chain("echo hi")).await;
    let put = send(&app, Method::PUT, &format!("/api/v1/workflows/{workflow}"), Some(chain("echo again"))).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    let execution = execute(&app, &workflow, json!({})).await;
    finished(&app, &execution).await;
    let refused = post(&app, &format!("/api/v1/executions/{execution}/cancel"), json!({})).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "a finished run cannot be cancelled");
    post(&app, "/api/v1/secrets", json!({"name": "TOKEN", "value": "never-in-the-log-123"})).await;
    send(&app, Method::DELETE, "/api/v1/secrets/TOKEN", None).await;
    send(&app, Method::DELETE, &format!("/api/v1/workflows/{workflow}"), None).await;

    let log = get(&app, "/api/v1/audit").await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text);
    let actions: Vec<&str> =
        log.body["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "workflow.deleted",
            "secret.deleted",
            "secret.set",
            "execution.started",
            "workflow.updated",
            "workflow.created"
        ],
        "a refused request leaves no entry: {}",
        log.text
    );
    assert_eq!(log.body["total"], 6);
    let first = &log.body["entries"][5];
    assert_eq!((first["actor"].as_str(), first["target"].as_str()), (Some("anonymous"), Some(workflow.as_str())));
    assert_eq!(log.body["entries"][3]["target"], execution);
    assert!(!log.text.contains("never-in-the-log-123"), "no secret value in the log");

    let only = get(&app, "/api/v1/audit?action=workflow.created").await;
    assert_eq!(only.body["total"], 1, "{}", only.text);
    let page = get(&app, "/api/v1/audit?limit=4").await;
    assert_eq!(page.body["entries"].as_array().unwrap().len(), 4);
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let rest = get(&app, &format!("/api/v1/audit?limit=4&cursor={cursor}")).await;
    let rest: Vec<&str> =
        rest.body["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(rest, ["workflow.updated", "workflow.created"]);
    for bad in ["/api/v1/audit?limit=0", "/api/v1/audit?cursor=nope", "/api/v1/audit?action="] {
        assert_eq!(get(&app, bad).await.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn keys_created_and_revoked_are_recorded_without_the_key() {
    let app = app();
    let created = post(&app, "/api/v1/api-keys", json!({"name": "ci", "role": "Write"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let (id, key) = (created.body["id"].as_str().unwrap(), created.body["key"].as_str().unwrap());
    let revoked = send(&app, Method::DELETE, &format!("/api/v1/api-keys/{id}"), None).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    let log = get(&app, "/api/v1/audit").await;
    let actions: Vec<&str> =
        log.body["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["api_key.revoked", "api_key.created"], "{}", log.text);
    assert_eq!(log.body["entries"][1]["target"], id);
    assert!(!log.text.contains(key), "the key itself is never recorded");
}
