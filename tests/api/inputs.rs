//! Typed inputs (`workflow.input_schema`), numbers however spelled, and save-time reference checks,
//! through the real router.

use super::support::{app, create, edge, end, execute, finished, get, node, post, result, start, workflow};
use axum::http::StatusCode;
use serde_json::{Value, json};

fn typed_workflow() -> Value {
    let mut body = workflow(
        json!([
            start("start"),
            node(
                "check",
                json!({"type": "IfElse", "config": {
                "expression": "id == '123' && count >= 2", "true_branch": "yes", "false_branch": "no"}})
            ),
            node(
                "yes",
                json!({"type": "Parallel", "config": {"strategy": "WaitAll", "tasks": [
                {"id": "t", "expression": "{{ id }} x{{ count }} ({{ tier }})"}]}})
            ),
            end("no"),
        ]),
        json!([edge("start", "check"), edge("check", "yes"), edge("check", "no")]),
    );
    body["workflow"]["input_schema"] = json!({
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": {"type": "string", "description": "Customer id"},
            "count": {"type": "integer", "minimum": 0, "default": 2},
            "tier": {"type": "string", "enum": ["gold", "silver"], "default": "silver"},
            "email": {"type": "string", "format": "email"}
        }
    });
    body
}

#[tokio::test]
async fn the_input_schema_is_stored_and_returned() {
    let app = app();
    let id = create(&app, typed_workflow()).await;
    let reply = get(&app, &format!("/api/v1/workflows/{id}")).await;
    assert_eq!(reply.body["workflow"]["input_schema"], typed_workflow()["workflow"]["input_schema"]);
    let doc = get(&app, "/api-docs/openapi.json").await.body;
    let workflow_schema = &doc["components"]["schemas"]["Workflow"]["properties"];
    assert!(workflow_schema.get("input_schema").is_some(), "documented in the OpenAPI document");
}

#[tokio::test]
async fn execute_fills_defaults_and_takes_a_string_id() {
    let app = app();
    let id = create(&app, typed_workflow()).await;
    let execution = finished(&app, &execute(&app, &id, json!({"id": "123"})).await).await;
    assert_eq!(execution["state"], "Completed", "{execution}");
    assert_eq!(execution["variables"], json!({"id": "123", "count": 2, "tier": "silver"}));
    assert_eq!(result(&execution, "yes")["output"]["results"]["t"]["value"], "123 x2 (silver)");
}

#[tokio::test]
async fn execute_lists_every_problem_with_its_path_and_starts_nothing() {
    let app = app();
    let id = create(&app, typed_workflow()).await;
    let reply = post(
        &app,
        &format!("/api/v1/workflows/{id}/execute"),
        json!({"variables": {"id": 123, "count": -1, "tier": "bronze", "email": "nope"}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(reply.body["error"], "ValidationError");
    let paths: Vec<&str> =
        reply.body["details"].as_array().unwrap().iter().filter_map(|d| d["path"].as_str()).collect();
    for expected in ["variables.id", "variables.count", "variables.tier", "variables.email"] {
        assert!(paths.contains(&expected), "{expected} missing from {paths:?}");
    }
    let missing = post(&app, &format!("/api/v1/workflows/{id}/execute"), json!({"variables": {}})).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(missing.body["message"].as_str().unwrap().contains("id"), "{}", missing.text);
    let listed = get(&app, &format!("/api/v1/workflows/{id}/executions")).await;
    assert_eq!(listed.body["total"], 0, "refused runs are not recorded");
}

#[tokio::test]
async fn an_expression_of_the_wrong_type_for_a_declared_input_is_refused_at_save() {
    let app = app();
    let mut body = typed_workflow();
    body["workflow"]["nodes"][1]["kind"]["config"]["expression"] = json!("id == 123");
    let reply = post(&app, "/api/v1/workflows", body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(reply.body["details"][0]["node_id"], "check");
    assert_eq!(reply.body["details"][0]["path"], "workflow.nodes[1].kind.config.expression");
    assert!(reply.body["details"][0]["problem"].as_str().unwrap().contains("compares a string with an int"));
}

#[tokio::test]
async fn without_an_input_schema_any_variables_are_taken_as_before() {
    let app = app();
    let mut body = typed_workflow();
    body["workflow"].as_object_mut().unwrap().remove("input_schema");
    let id = create(&app, body).await;
    let execution = finished(&app, &execute(&app, &id, json!({"id": "123", "count": 5, "tier": "x"})).await).await;
    assert_eq!(execution["state"], "Completed");
    assert_eq!(result(&execution, "yes")["status"], "Succeeded");
}

fn switch_on_count() -> Value {
    workflow(
        json!([
            start("start"),
            node(
                "route",
                json!({"type": "Switch", "config": {"switch_on": "count", "cases": [
                {"match_value": "3", "action": "three"}], "default_case": "other"}})
            ),
            end("three"),
            end("other"),
        ]),
        json!([edge("start", "route"), edge("route", "three"), edge("route", "other")]),
    )
}

#[tokio::test]
async fn a_switch_routes_3_and_3_point_0_alike() {
    let app = app();
    let id = create(&app, switch_on_count()).await;
    for raw in
        [r#"{"variables": {"count": 3}}"#, r#"{"variables": {"count": 3.0}}"#, r#"{"variables": {"count": 3e0}}"#]
    {
        let request = axum::http::Request::post(format!("/api/v1/workflows/{id}/execute"))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(raw))
            .unwrap();
        let reply = super::support::send_request(&app, request).await;
        let execution = finished(&app, reply.body["execution_id"].as_str().unwrap()).await;
        assert_eq!(result(&execution, "three")["status"], "Succeeded", "{raw}: {execution}");
        assert_eq!(result(&execution, "other")["status"], "Skipped", "{raw}");
        assert_eq!(execution["variables"]["count"].to_string(), "3", "one spelling is kept");
    }
}

#[tokio::test]
async fn references_to_missing_or_sibling_nodes_are_refused_at_save() {
    let app = app();
    let ghost = workflow(
        json!([
            start("start"),
            node(
                "p",
                json!({"type": "Parallel", "config": {"strategy": "WaitAll",
            "tasks": [{"id": "t", "expression": "{{ nodes.ghost.output.text }}"}]}})
            )
        ]),
        json!([edge("start", "p")]),
    );
    let reply = post(&app, "/api/v1/workflows", ghost).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["details"][0]["path"], "workflow.nodes[1].kind.config.tasks[0].expression");
    let constant = workflow(
        json!([
            start("start"),
            node(
                "c",
                json!({"type": "IfElse", "config": {
            "expression": "\"yes\"", "true_branch": "a", "false_branch": "b"}})
            ),
            end("a"),
            end("b")
        ]),
        json!([edge("start", "c"), edge("c", "a"), edge("c", "b")]),
    );
    let reply = post(&app, "/api/v1/workflows", constant).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body["message"].as_str().unwrap().contains("must yield a bool"), "{}", reply.text);
}
