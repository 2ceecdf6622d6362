//! Running workflows over HTTP: execute, read, list, cancel.

use crate::support::*;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};

#[tokio::test]
async fn execute_is_202_with_an_id_that_reads_back_completed_with_named_node_results() {
    let app = app();
    let id = create(&app, chain("echo hello {{ user_query }}")).await;
    let reply =
        post(&app, &format!("/api/v1/workflows/{id}/execute"), json!({"variables": {"user_query": "Tokyo"}})).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(reply.body["message"], "Workflow execution started");
    let execution_id = reply.body["execution_id"].as_str().unwrap();
    assert_eq!(reply.headers["location"], format!("/api/v1/executions/{execution_id}").as_str());
    let run = finished(&app, execution_id).await;
    assert_eq!(run["state"], "Completed");
    assert_eq!(run["error"], Value::Null);
    assert_eq!(run["workflow_id"], id.as_str());
    assert_eq!(run["workflow_version"], 1);
    assert_eq!(run["variables"], json!({"user_query": "Tokyo"}));
    assert!(run["started_at"].is_string() && run["completed_at"].is_string());
    let results = run["node_results"].as_array().unwrap();
    let ids: Vec<&str> = results.iter().map(|r| r["node_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["start", "work", "end"]);
    let work = result(&run, "work");
    assert_eq!(work["node_name"], "WORK");
    assert_eq!(work["kind"], "Code");
    assert_eq!(work["status"], "Succeeded");
    assert_eq!(work["output"], "hello Tokyo");
    assert_eq!(work["attempts"], 1);
    assert_eq!(work["retry_count"], 0);
}

#[tokio::test]
async fn the_execute_body_may_be_omitted() {
    let app = app();
    let id = create(&app, chain("sleep 1")).await;
    let reply = send(&app, Method::POST, &format!("/api/v1/workflows/{id}/execute"), None).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    let non_json = Request::post(format!("/api/v1/workflows/{id}/execute")).body(Body::from("variables=1")).unwrap();
    assert_eq!(send_request(&app, non_json).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn bad_variables_are_client_errors() {
    let app = app();
    let id = create(&app, chain("sleep 1")).await;
    let uri = format!("/api/v1/workflows/{id}/execute");
    let reply = post(&app, &uri, json!({"variables": [1, 2]})).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.body["details"][0]["path"], "variables");
    let reply = post(&app, &uri, json!({"variables": {"nodes": 1}})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body["message"].as_str().unwrap().contains("reserved"));
    // A misspelt field would start a run without its input: refused, naming it.
    let reply = post(&app, &uri, json!({"varaibles": {"thing": "typo"}})).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    assert!(reply.text.contains("varaibles"), "{}", reply.text);
}

#[tokio::test]
async fn if_else_routes_one_branch_and_skips_the_other() {
    let app = app();
    let check = node(
        "check",
        json!({"type": "IfElse", "config": {"expression": "score > 0.5 && tier == 'gold'", "true_branch": "yes", "false_branch": "no"}}),
    );
    let body = workflow(
        json!([
            start("s"),
            check,
            code("yes", "echo yes for {{ nodes.check.output.next_branch }}"),
            code("no", "echo no"),
            code("after_no", "echo x"),
            end("e")
        ]),
        json!([
            edge("s", "check"),
            edge("check", "yes"),
            edge("check", "no"),
            edge("no", "after_no"),
            edge("yes", "e"),
            edge("after_no", "e")
        ]),
    );
    let id = create(&app, body).await;
    let run = finished(&app, &execute(&app, &id, json!({"score": 0.9, "tier": "gold"})).await).await;
    assert_eq!(run["state"], "Completed");
    assert_eq!(result(&run, "check")["output"]["condition_met"], true);
    assert_eq!(result(&run, "yes")["output"], "yes for true");
    assert_eq!(result(&run, "no")["status"], "Skipped");
    assert_eq!(result(&run, "after_no")["status"], "Skipped");
    assert_eq!(result(&run, "e")["status"], "Succeeded", "the join waits only for the live branch");
    let run = finished(&app, &execute(&app, &id, json!({"score": 0.1, "tier": "gold"})).await).await;
    assert_eq!(result(&run, "yes")["status"], "Skipped");
    assert_eq!(result(&run, "after_no")["status"], "Succeeded");
}

#[tokio::test]
async fn parallel_branches_run_at_the_same_time() {
    let app = app();
    let body = workflow(
        json!([start("s"), code("a", "sleep 300"), code("b", "sleep 300"), code("c", "sleep 300"), end("e")]),
        json!([edge("s", "a"), edge("s", "b"), edge("s", "c"), edge("a", "e"), edge("b", "e"), edge("c", "e")]),
    );
    let id = create(&app, body).await;
    let run = finished(&app, &execute(&app, &id, json!({})).await).await;
    let times = |field: &str| -> Vec<String> {
        ["a", "b", "c"].iter().map(|n| result(&run, n)[field].as_str().unwrap().to_owned()).collect()
    };
    let (starts, ends) = (times("started_at"), times("completed_at"));
    let latest_start = starts.iter().max().unwrap();
    let earliest_end = ends.iter().min().unwrap();
    assert!(latest_start < earliest_end, "all three ran at once: starts {starts:?}, ends {ends:?}");
}

#[tokio::test]
async fn a_node_kind_without_runner_fails_the_execution_naming_the_kind() {
    let app = app();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/create-request-start-llm-end.json"
    ))
    .unwrap();
    let id = create(&app, serde_json::from_str(&text).unwrap()).await;
    let run = finished(&app, &execute(&app, &id, json!({"user_query": "hi"})).await).await;
    assert_eq!(run["state"], "Failed");
    assert!(run["error"].as_str().unwrap().contains("NodeKindUnavailable: LLM"), "{}", run["error"]);
    let llm = result(&run, "92a7a309-39a1-4ac7-b357-8a5edde11ede");
    assert_eq!(llm["status"], "Failed");
    assert_eq!(llm["node_name"], "Answer");
}

#[tokio::test]
async fn a_missing_template_variable_fails_the_node_naming_it() {
    let app = app();
    let id = create(&app, chain("echo {{ user_query }}")).await;
    let run = finished(&app, &execute(&app, &id, json!({})).await).await;
    assert_eq!(run["state"], "Failed");
    assert!(result(&run, "work")["error"].as_str().unwrap().contains("`user_query`"));
}

#[tokio::test]
async fn retries_are_visible_in_the_node_result() {
    let app = app();
    let mut body = chain("flaky upstream 503");
    body["workflow"]["nodes"][1]["retry_config"] =
        json!({"max_retries": 2, "initial_delay_ms": 1, "backoff_multiplier": 2.0, "max_delay_ms": 5});
    let id = create(&app, body).await;
    let run = finished(&app, &execute(&app, &id, json!({})).await).await;
    let work = result(&run, "work");
    assert_eq!(work["status"], "Failed");
    assert_eq!(work["attempts"], 3);
    assert_eq!(work["retry_count"], 2);
}

#[tokio::test]
async fn executions_list_filters_by_state_and_workflow_and_pages() {
    let app = app();
    let ok = create(&app, chain("sleep 1")).await;
    let bad = create(&app, chain("fail nope")).await;
    let mut ok_runs = Vec::new();
    for _ in 0..3 {
        ok_runs.push(execute(&app, &ok, json!({})).await);
    }
    let bad_run = execute(&app, &bad, json!({})).await;
    for id in ok_runs.iter().chain([&bad_run]) {
        finished(&app, id).await;
    }
    let all = get(&app, "/api/v1/executions").await.body;
    assert_eq!(all["total"], 4);
    assert_eq!(all["executions"][0]["execution_id"], bad_run.as_str(), "newest first");
    let lower = get(&app, "/api/v1/executions?state=failed").await;
    assert_eq!(lower.status, StatusCode::BAD_REQUEST, "states are the enum's names, as the document says");
    assert!(lower.body["message"].as_str().unwrap().contains("expected one of `Pending`"), "{}", lower.text);
    for empty in ["state=", "cursor=", "workflow_id="] {
        let reply = get(&app, &format!("/api/v1/executions?{empty}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{empty}");
    }
    let failed = get(&app, "/api/v1/executions?state=Failed").await.body;
    assert_eq!(failed["total"], 1);
    assert_eq!(failed["executions"][0]["state"], "Failed");
    assert!(failed["executions"][0]["error"].as_str().unwrap().contains("nope"));
    let of_ok = get(&app, &format!("/api/v1/workflows/{ok}/executions?limit=2")).await.body;
    assert_eq!(of_ok["total"], 3);
    assert_eq!(of_ok["executions"].as_array().unwrap().len(), 2);
    let cursor = of_ok["next_cursor"].as_str().unwrap();
    let rest = get(&app, &format!("/api/v1/workflows/{ok}/executions?limit=2&cursor={cursor}")).await.body;
    assert_eq!(rest["executions"][0]["execution_id"], ok_runs[0].as_str());
    assert_eq!(rest["next_cursor"], Value::Null);
    let completed_of_bad = get(&app, &format!("/api/v1/executions?workflow_id={bad}&state=Completed")).await.body;
    assert_eq!(completed_of_bad["total"], 0);
}

#[tokio::test]
async fn cancel_stops_running_nodes_and_a_second_cancel_is_a_conflict() {
    let app = app();
    let id = create(&app, chain("sleep 30000")).await;
    let execution = execute(&app, &id, json!({})).await;
    wait_for_node(&app, &execution, "work", "Running").await;
    let reply = post(&app, &format!("/api/v1/executions/{execution}/cancel"), json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.body,
        json!({"message": "Execution cancelled successfully", "execution_id": execution, "state": "Cancelled"})
    );
    let run = get(&app, &format!("/api/v1/executions/{execution}")).await.body;
    assert_eq!(run["state"], "Cancelled");
    assert_eq!(result(&run, "work")["status"], "Cancelled");
    assert_eq!(result(&run, "end"), &Value::Null, "nothing after the cancelled node ran");
    let again = post(&app, &format!("/api/v1/executions/{execution}/cancel"), json!({})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["error"], "InvalidState");
}
