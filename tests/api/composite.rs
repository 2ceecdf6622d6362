//! Nodes that run child executions (SubWorkflow, Loop over a workflow), error routes, reruns and
//! parked runs, through the real router and services (in-memory storage, scripted Code nodes).

use super::support::{
    code, create, edge, end, execute, finished, get, node, post, result, router_with, services, start, workflow,
};
use axum::http::StatusCode;
use oxify_api::adapters::http::HttpSettings;
use oxify_api::app::services::Services;
use serde_json::{Value, json};
use std::time::Duration;

fn app_of(services: &Services) -> axum::Router {
    router_with(services, HttpSettings::default())
}

fn parallel(id: &str, expression: &str) -> Value {
    node(
        id,
        json!({"type": "Parallel", "config": {"strategy": "WaitAll", "tasks": [{"id": "t", "expression": expression}]}}),
    )
}

fn sub(id: &str, child: &str, mappings: Value) -> Value {
    node(
        id,
        json!({"type": "SubWorkflow", "config": {
        "workflow_path": child, "input_mappings": mappings, "output_variable": "result"}}),
    )
}

fn for_each(id: &str, child: &str, extra: Value) -> Value {
    let mut loop_type = json!({"variant": "ForEach", "collection_path": "items", "item_variable": "item",
        "index_variable": "i", "body_expression": ""});
    if let (Some(lt), Some(more)) = (loop_type.as_object_mut(), extra.get("loop_type").and_then(Value::as_object)) {
        lt.extend(more.clone());
    }
    let mut config = json!({"loop_type": loop_type, "body_workflow": child});
    if let (Some(c), Some(more)) = (config.as_object_mut(), extra.get("config").and_then(Value::as_object)) {
        c.extend(more.clone());
    }
    node(id, json!({"type": "Loop", "config": config}))
}

/// Start -> (the node) -> End.
fn around(middle: Value) -> Value {
    let id = middle["id"].as_str().unwrap().to_owned();
    workflow(json!([start("s"), middle, end("e")]), json!([edge("s", &id), edge(&id, "e")]))
}

async fn children_of(app: &axum::Router, parent: &str) -> Vec<Value> {
    let list = get(app, &format!("/api/v1/executions?parent_execution_id={parent}&limit=500")).await;
    list.body["executions"].as_array().cloned().unwrap_or_default()
}

async fn stream_kinds(app: &axum::Router, execution: &str) -> Vec<String> {
    let reply = get(app, &format!("/api/v1/executions/{execution}/stream")).await;
    reply.text.lines().filter_map(|l| l.strip_prefix("event: ")).map(str::to_owned).collect()
}

#[tokio::test]
async fn a_sub_workflow_runs_a_child_execution_and_returns_its_output() {
    let services = services();
    let app = app_of(&services);
    let child = create(&app, around(parallel("p", "child got {{ topic }} x{{ n * 2 }}"))).await;
    let parent = create(&app, around(sub("sub", &child, json!({"topic": "{{ topic }}", "n": "{{ n }}"})))).await;
    let run = finished(&app, &execute(&app, &parent, json!({"topic": "rust", "n": 3})).await).await;
    assert_eq!(run["state"], "Completed", "{run}");
    let out = &result(&run, "sub")["output"];
    assert_eq!(out["output"]["p"]["results"]["t"]["value"], "child got rust x6");
    assert_eq!(out["result"], out["output"], "output_variable names the child's output");
    let child_id = out["execution_id"].as_str().unwrap();
    let children = children_of(&app, run["execution_id"].as_str().unwrap()).await;
    assert_eq!(children.len(), 1);
    assert_eq!(children[0]["execution_id"], child_id);
    let child_run = get(&app, &format!("/api/v1/executions/{child_id}")).await.body;
    assert_eq!(child_run["parent_execution_id"], run["execution_id"]);
    assert_eq!(child_run["parent_node_id"], "sub");
    assert_eq!(child_run["depth"], 1);
    assert_eq!(child_run["variables"]["n"], 3, "a mapping that names one value keeps its type");
    assert_eq!(run["output"]["sub"], *out, "the parent's output is what feeds its End");
    let kinds = stream_kinds(&app, run["execution_id"].as_str().unwrap()).await;
    let at = |k: &str| kinds.iter().position(|x| x == k).unwrap_or_else(|| panic!("no {k} in {kinds:?}"));
    assert!(at("child_started") < at("child_finished"));
    assert!(at("node_waiting") < at("child_finished"));
    assert_eq!(kinds.last().map(String::as_str), Some("execution_completed"));
}

#[tokio::test]
async fn a_parent_parks_while_its_child_runs_and_holds_nothing() {
    let services = services();
    let app = app_of(&services);
    let child = create(&app, around(code("slow", "sleep 400"))).await;
    let parent = create(&app, around(sub("sub", &child, json!({})))).await;
    let id = execute(&app, &parent, json!({})).await;
    let mut parked = false;
    for _ in 0..100 {
        let run = get(&app, &format!("/api/v1/executions/{id}")).await.body;
        if run["state"] == "Paused" {
            parked = true;
            assert_eq!(result(&run, "sub")["status"], "Waiting");
            let execution_id = id.parse().unwrap();
            assert!(!services.running.contains(execution_id), "no task is held for a parked run");
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(parked, "the parent parked while its child ran");
    let run = finished(&app, &id).await;
    assert_eq!(run["state"], "Completed");
    let kinds = stream_kinds(&app, &id).await;
    assert!(
        kinds.contains(&"execution_paused".to_owned()) && kinds.contains(&"execution_resumed".to_owned()),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn sub_workflow_references_are_checked_when_saved() {
    let app = app_of(&services());
    let file = post(&app, "/api/v1/workflows", around(sub("sub", "/srv/workflows/child.json", json!({})))).await;
    assert_eq!(file.status, StatusCode::BAD_REQUEST);
    assert!(
        file.body["details"][0]["problem"]
            .as_str()
            .unwrap()
            .contains("reading workflow files on the server is not allowed")
    );
    let ghost =
        post(&app, "/api/v1/workflows", around(sub("sub", "7d7c1f7e-5b1e-4d3c-9a51-0f3f1c7a0b11", json!({})))).await;
    assert_eq!(ghost.status, StatusCode::BAD_REQUEST);
    assert!(ghost.body["message"].as_str().unwrap().contains("no stored workflow"), "{}", ghost.text);

    let b = create(&app, around(parallel("p", "b"))).await;
    let a = create(&app, around(sub("sub", &b, json!({})))).await;
    // B now runs A, which runs B: refused.
    let looped = super::support::send(
        &app,
        axum::http::Method::PUT,
        &format!("/api/v1/workflows/{b}"),
        Some(around(sub("sub", &a, json!({})))),
    )
    .await;
    assert_eq!(looped.status, StatusCode::BAD_REQUEST, "{}", looped.text);
    assert!(looped.body["message"].as_str().unwrap().contains("runs this workflow again"), "{}", looped.text);
    let mut me = around(sub("sub", "00000000-0000-4000-8000-000000000001", json!({})));
    me["workflow"]["metadata"]["id"] = json!("00000000-0000-4000-8000-000000000001");
    let own = post(&app, "/api/v1/workflows", me).await;
    assert!(own.body["message"].as_str().unwrap().contains("runs its own workflow"), "{}", own.text);
}

#[tokio::test]
async fn children_nest_only_as_deep_as_the_limit() {
    let app = app_of(&services());
    let mut target = create(&app, around(parallel("p", "deepest"))).await;
    for _ in 0..9 {
        target = create(&app, around(sub("sub", &target, json!({})))).await;
    }
    let run = finished(&app, &execute(&app, &target, json!({})).await).await;
    assert_eq!(run["state"], "Failed", "nine levels of children exceed the limit of eight: {run}");
    assert!(run["error"].as_str().unwrap().contains("nest too deep"), "{run}");
}

fn item_child() -> Value {
    workflow(
        json!([start("s"), code("work", "sleep 30"), code("echo", "echo {{ item }}#{{ i }}"), end("e")]),
        json!([edge("s", "work"), edge("work", "echo"), edge("echo", "e")]),
    )
}

#[tokio::test]
async fn a_loop_over_a_workflow_runs_each_item_as_a_child_in_item_order_within_the_concurrency() {
    let app = app_of(&services());
    let child = create(&app, item_child()).await;
    let extra = json!({"loop_type": {"parallel": true, "max_concurrency": 2}});
    let parent = create(&app, around(for_each("map", &child, extra))).await;
    let items = json!(["a", "b", "c", "d", "e"]);
    let run = finished(&app, &execute(&app, &parent, json!({"items": items})).await).await;
    assert_eq!(run["state"], "Completed", "{run}");
    let out = &result(&run, "map")["output"];
    let results: Vec<&str> = out["results"].as_array().unwrap().iter().map(|r| r["echo"].as_str().unwrap()).collect();
    assert_eq!(results, ["a#0", "b#1", "c#2", "d#3", "e#4"]);
    assert_eq!(out["iterations"], 5);
    let mut spans: Vec<(String, String)> = Vec::new();
    for c in children_of(&app, run["execution_id"].as_str().unwrap()).await {
        let c = get(&app, &format!("/api/v1/executions/{}", c["execution_id"].as_str().unwrap())).await.body;
        spans.push((c["created_at"].as_str().unwrap().to_owned(), c["completed_at"].as_str().unwrap().to_owned()));
    }
    assert_eq!(spans.len(), 5);
    for (begin, _) in &spans {
        let overlapping = spans.iter().filter(|(b, e)| b <= begin && begin < e).count();
        assert!(overlapping <= 2, "at most max_concurrency children at once: {spans:?}");
    }
    let reply = get(&app, &format!("/api/v1/executions/{}/stream", run["execution_id"].as_str().unwrap())).await;
    let progress: Vec<Value> = reply
        .text
        .split("\n\n")
        .filter(|frame| frame.contains("event: loop_progress"))
        .filter_map(|frame| frame.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|data| serde_json::from_str(data).unwrap())
        .collect();
    assert!(progress.len() >= 2, "progress is reported as items finish: {progress:?}");
    let last = progress.last().unwrap();
    assert_eq!((last["completed"].as_u64(), last["total"].as_u64()), (Some(5), Some(5)));
}

fn picky_child() -> Value {
    workflow(
        json!([
            start("s"),
            node(
                "check",
                json!({"type": "IfElse", "config": {"expression": "item == 'bad'", "true_branch": "boom", "false_branch": "ok"}})
            ),
            code("boom", "fail bad item"),
            parallel("ok", "{{ item }}"),
            end("e")
        ]),
        json!([edge("s", "check"), edge("check", "boom"), edge("check", "ok"), edge("boom", "e"), edge("ok", "e")]),
    )
}

#[tokio::test]
async fn a_failed_item_fails_the_loop_or_is_skipped_or_collected_as_asked() {
    let app = app_of(&services());
    let child = create(&app, picky_child()).await;
    let items = json!({"items": ["x", "bad", "y"]});
    for (policy, state, kept) in [("fail_fast", "Failed", 0), ("skip", "Completed", 2), ("collect", "Completed", 3)] {
        let parent =
            create(&app, around(for_each("map", &child, json!({"config": {"on_item_failure": policy}})))).await;
        let run = finished(&app, &execute(&app, &parent, items.clone()).await).await;
        assert_eq!(run["state"], state, "{policy}: {run}");
        if state == "Completed" {
            let results = result(&run, "map")["output"]["results"].as_array().unwrap().clone();
            assert_eq!(results.len(), kept, "{policy}");
            if policy == "collect" {
                assert!(results[1]["error"].as_str().unwrap().contains("bad item"), "{results:?}");
            }
        } else {
            assert!(run["error"].as_str().unwrap().contains("bad item"), "{run}");
        }
    }
}

#[tokio::test]
async fn cancelling_a_parent_cancels_its_running_child() {
    let app = app_of(&services());
    let child = create(&app, around(code("slow", "sleep 60000"))).await;
    let parent = create(&app, around(sub("sub", &child, json!({})))).await;
    let id = execute(&app, &parent, json!({})).await;
    let mut child_id = None;
    for _ in 0..200 {
        if let Some(c) = children_of(&app, &id).await.first() {
            child_id = c["execution_id"].as_str().map(str::to_owned);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let child_id = child_id.expect("the child started");
    let cancelled = post(&app, &format!("/api/v1/executions/{id}/cancel"), json!({})).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text);
    assert_eq!(finished(&app, &id).await["state"], "Cancelled");
    assert_eq!(finished(&app, &child_id).await["state"], "Cancelled", "the child does not outlive its parent");
}

#[tokio::test]
async fn an_error_route_catches_a_failure_and_the_run_goes_on() {
    let app = app_of(&services());
    let mut risky = code("risky", "fail upstream said no");
    risky["on_error"] = json!({"route_to": "fallback"});
    let body = workflow(
        json!([
            start("s"),
            risky,
            code("next", "echo fine"),
            parallel("fallback", "caught: {{ nodes.risky.output.error.message }}"),
            end("e")
        ]),
        json!([
            edge("s", "risky"),
            edge("risky", "next"),
            edge("risky", "fallback"),
            edge("next", "e"),
            edge("fallback", "e")
        ]),
    );
    let id = create(&app, body).await;
    let run = finished(&app, &execute(&app, &id, json!({})).await).await;
    assert_eq!(run["state"], "Completed", "{run}");
    assert_eq!(result(&run, "risky")["status"], "Failed");
    assert_eq!(result(&run, "next")["status"], "Skipped");
    assert_eq!(result(&run, "fallback")["output"]["results"]["t"]["value"], "caught: upstream said no");
    let mut bad = code("risky", "echo x");
    bad["on_error"] = json!({"route_to": "nowhere"});
    let reply = post(&app, "/api/v1/workflows", around(bad)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["details"][0]["path"], "workflow.nodes[1].on_error.route_to");
}

#[tokio::test]
async fn a_rerun_from_a_node_reuses_what_is_upstream_and_runs_the_rest() {
    let app = app_of(&services());
    let body = workflow(
        json!([start("s"), code("a", "echo A{{ x }}"), code("b", "echo B({{ nodes.a.output }}) x={{ x }}"), end("e")]),
        json!([edge("s", "a"), edge("a", "b"), edge("b", "e")]),
    );
    let wf = create(&app, body).await;
    let first = finished(&app, &execute(&app, &wf, json!({"x": 1})).await).await;
    let old = first["execution_id"].as_str().unwrap();
    let reply =
        post(&app, &format!("/api/v1/executions/{old}/rerun"), json!({"from_node": "b", "variables": {"x": 2}})).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    assert_eq!(reply.body["rerun_of"], old);
    let rerun = finished(&app, reply.body["execution_id"].as_str().unwrap()).await;
    assert_eq!(rerun["state"], "Completed", "{rerun}");
    assert_eq!(rerun["rerun_of"], old);
    assert_eq!(result(&rerun, "a")["output"], "A1", "a is reused, not run with x=2");
    assert_eq!(result(&rerun, "b")["output"], "B(A1) x=2");
    let bad = post(&app, &format!("/api/v1/executions/{old}/rerun"), json!({"from_node": "ghost"})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn template_loops_and_try_catch_run_inline() {
    let app = app_of(&services());
    let each = node(
        "each",
        json!({"type": "Loop", "config": {"loop_type": {"variant": "ForEach",
        "collection_path": "names", "item_variable": "who", "index_variable": "k", "body_expression": "{{ k }}:{{ who }}"}}}),
    );
    let run =
        finished(&app, &execute(&app, &create(&app, around(each)).await, json!({"names": ["ada", "bob"]})).await).await;
    assert_eq!(result(&run, "each")["output"]["results"], json!(["0:ada", "1:bob"]));
    let capped = node(
        "each",
        json!({"type": "Loop", "config": {"max_iterations": 2, "loop_type": {"variant": "Repeat",
        "count": "{{ n }}", "body_expression": "x"}}}),
    );
    let run = finished(&app, &execute(&app, &create(&app, around(capped)).await, json!({"n": 5})).await).await;
    assert_eq!(run["state"], "Failed", "reaching max_iterations never routes as success");
    assert!(run["error"].as_str().unwrap().contains("max_iterations"));
    let guarded = node(
        "guard",
        json!({"type": "TryCatch", "config": {"try_expression": "{{ missing }}",
        "catch_expression": "recovered from {{ oops }}", "finally_expression": "done", "error_variable": "oops"}}),
    );
    let run = finished(&app, &execute(&app, &create(&app, around(guarded)).await, json!({})).await).await;
    let out = &result(&run, "guard")["output"];
    assert_eq!(out["caught"], true);
    assert!(out["result"].as_str().unwrap().starts_with("recovered from"), "{out}");
    assert_eq!(out["finally"], "done");
}
