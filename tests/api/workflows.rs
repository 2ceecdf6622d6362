//! Workflow CRUD over HTTP.

use crate::support::*;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

fn seed_example() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/create-request-start-llm-end.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn create_returns_201_with_id_and_location_and_get_returns_it_completed() {
    let app = app();
    let reply = post(&app, "/api/v1/workflows", chain("sleep 1")).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.body["message"], "Workflow created successfully");
    assert_eq!(reply.body["workflow_version"], 1);
    let id = reply.body["id"].as_str().unwrap();
    assert_eq!(reply.headers["location"], format!("/api/v1/workflows/{id}").as_str());
    let got = get(&app, &format!("/api/v1/workflows/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    let wf = &got.body["workflow"];
    assert_eq!(wf["metadata"]["id"], id);
    assert_eq!(wf["metadata"]["version"], "1.0.0");
    assert!(wf["metadata"]["created_at"].is_string());
    assert!(wf["edges"][0]["id"].is_string(), "edge ids are filled in");
    assert_eq!(wf["nodes"][1]["kind"]["type"], "Code");
    assert_eq!(got.body["workflow_version"], 1);
}

#[tokio::test]
async fn the_seed_example_is_accepted_with_its_own_id_and_a_second_create_conflicts() {
    let app = app();
    let reply = post(&app, "/api/v1/workflows", seed_example()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["id"], "2ae6448b-de19-4d70-88f8-ef6a90dc2f7e");
    let again = post(&app, "/api/v1/workflows", seed_example()).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["error"], "ConflictError");
    let got = get(&app, "/api/v1/workflows/2ae6448b-de19-4d70-88f8-ef6a90dc2f7e").await;
    let original = seed_example();
    assert_eq!(got.body["workflow"]["nodes"], original["workflow"]["nodes"], "nodes round-trip unchanged");
    assert_eq!(got.body["workflow"]["edges"], original["workflow"]["edges"]);
}

#[tokio::test]
async fn invalid_workflow_is_400_with_every_problem_in_details() {
    let app = app();
    let body = workflow(json!([end("e"), end("e"), code("x", "sleep 1")]), json!([edge("x", "ghost")]));
    let reply = post(&app, "/api/v1/workflows", body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"], "ValidationError");
    let details = reply.body["details"].as_array().unwrap();
    let problems: Vec<&str> = details.iter().map(|d| d["problem"].as_str().unwrap()).collect();
    assert!(problems.contains(&"Workflow has no start node"), "{problems:?}");
    assert!(problems.iter().any(|p| p.starts_with("Duplicate node id 'e'")), "{problems:?}");
    assert!(problems.contains(&"Edge references non-existent node: ghost"), "{problems:?}");
    assert!(details.iter().all(|d| d["path"].as_str().unwrap().starts_with("workflow.")));
    assert!(reply.body["message"].as_str().unwrap().contains("more problems"));
}

#[tokio::test]
async fn list_is_paginated_newest_first_with_total_and_summaries() {
    let app = app();
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(create(&app, chain("sleep 1")).await);
    }
    let first = get(&app, "/api/v1/workflows?limit=2").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body["total"], 5);
    let page: Vec<&str> =
        first.body["workflows"].as_array().unwrap().iter().map(|w| w["metadata"]["id"].as_str().unwrap()).collect();
    assert_eq!(page, [ids[4].as_str(), ids[3].as_str()]);
    assert_eq!(first.body["workflows"][0]["node_count"], 3);
    assert!(first.body["workflows"][0].get("nodes").is_none(), "lists carry summaries, not definitions");
    let mut seen: Vec<String> = page.iter().map(|s| (*s).to_owned()).collect();
    let mut cursor = first.body["next_cursor"].as_str().map(str::to_owned);
    while let Some(c) = cursor {
        let next = get(&app, &format!("/api/v1/workflows?limit=2&cursor={c}")).await;
        seen.extend(
            next.body["workflows"].as_array().unwrap().iter().map(|w| w["metadata"]["id"].as_str().unwrap().to_owned()),
        );
        cursor = next.body["next_cursor"].as_str().map(str::to_owned);
    }
    ids.reverse();
    assert_eq!(seen, ids, "every workflow exactly once, in order");
}

#[tokio::test]
async fn update_stores_a_new_version_and_checks_the_id() {
    let app = app();
    let id = create(&app, chain("sleep 1")).await;
    let uri = format!("/api/v1/workflows/{id}");
    let reply = send(&app, Method::PUT, &uri, Some(chain("sleep 2"))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body, json!({"message": "Workflow updated successfully", "workflow_version": 2}));
    let got = get(&app, &uri).await;
    assert_eq!(got.body["workflow"]["nodes"][1]["kind"]["config"]["code"], "sleep 2");
    assert_eq!(got.body["workflow_version"], 2);
    let mut other = chain("sleep 1");
    other["workflow"]["metadata"]["id"] = json!("00000000-0000-4000-8000-000000000000");
    let mismatch = send(&app, Method::PUT, &uri, Some(other)).await;
    assert_eq!(mismatch.status, StatusCode::BAD_REQUEST);
    let invalid = send(&app, Method::PUT, &uri, Some(workflow(json!([]), json!([])))).await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert_eq!(invalid.body["details"][0]["problem"], "Workflow has no nodes");
}

#[tokio::test]
async fn update_of_a_missing_workflow_is_404() {
    let app = app();
    let reply =
        send(&app, Method::PUT, "/api/v1/workflows/00000000-0000-4000-8000-000000000000", Some(chain("sleep 1"))).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.body["error"], "NotFound");
}

#[tokio::test]
async fn delete_hides_the_workflow_but_keeps_its_executions_readable() {
    let app = app();
    let id = create(&app, chain("sleep 1")).await;
    let execution = execute(&app, &id, json!({})).await;
    finished(&app, &execution).await;
    let uri = format!("/api/v1/workflows/{id}");
    let reply = send(&app, Method::DELETE, &uri, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["message"], "Workflow deleted successfully");
    assert_eq!(get(&app, &uri).await.status, StatusCode::NOT_FOUND);
    assert_eq!(send(&app, Method::DELETE, &uri, None).await.status, StatusCode::NOT_FOUND);
    let run = get(&app, &format!("/api/v1/executions/{execution}")).await;
    assert_eq!(run.status, StatusCode::OK);
    assert_eq!(run.body["state"], "Completed");
    let listed = get(&app, &format!("{uri}/executions")).await;
    assert_eq!(listed.body["total"], 1);
    assert_eq!(get(&app, "/api/v1/workflows").await.body["total"], 0);
}

#[tokio::test]
async fn versions_are_listed_and_each_stays_readable() {
    let app = app();
    let id = create(&app, chain("sleep 1")).await;
    let uri = format!("/api/v1/workflows/{id}");
    let mut v2 = chain("sleep 2");
    v2["workflow"]["metadata"]["version"] = json!("2.0.0");
    v2["workflow"]["metadata"]["change_description"] = json!("slower");
    send(&app, Method::PUT, &uri, Some(v2)).await;
    let run = execute(&app, &id, json!({})).await;
    assert_eq!(finished(&app, &run).await["workflow_version"], 2);
    let list = get(&app, &format!("{uri}/versions")).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["total"], 2);
    assert_eq!(list.body["versions"][1]["workflow_version"], 2);
    assert_eq!(list.body["versions"][1]["version"], "2.0.0");
    assert_eq!(list.body["versions"][1]["change_description"], "slower");
    let first = get(&app, &format!("{uri}/versions/1")).await;
    assert_eq!(first.body["workflow"]["nodes"][1]["kind"]["config"]["code"], "sleep 1");
    assert_eq!(first.body["workflow_version"], 1);
    send(&app, Method::DELETE, &uri, None).await;
    assert_eq!(get(&app, &format!("{uri}/versions/2")).await.status, StatusCode::OK, "history outlives the delete");
    assert_eq!(get(&app, &format!("{uri}/versions/3")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, &format!("{uri}/versions/x")).await.status, StatusCode::BAD_REQUEST);
    let never = "/api/v1/workflows/00000000-0000-4000-8000-000000000000/versions";
    assert_eq!(get(&app, never).await.status, StatusCode::NOT_FOUND);
}
