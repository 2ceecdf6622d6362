//! A map over 50 items through a child workflow with an LLM node, 5 at a time, killed with
//! SIGKILL in the middle and started again: the finished items are not run again, the others
//! are, and the results come out in item order.

use super::provider::{Provider, Reply, openai};
use super::{get, kill_9, post, postgres_url, start, wait_until};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

const ITEMS: usize = 50;

fn child() -> Value {
    json!({"workflow": {"metadata": {"name": "one item"}, "nodes": [
        {"id": "start", "name": "Start", "kind": {"type": "Start"}},
        {"id": "ask", "name": "Ask", "kind": {"type": "LLM", "config": {
            "provider": "openai", "model": "m", "prompt_template": "item {{ item }}"}}},
        {"id": "end", "name": "End", "kind": {"type": "End"}}],
        "edges": [{"from": "start", "to": "ask"}, {"from": "ask", "to": "end"}]}})
}

fn parent(child: &str) -> Value {
    json!({"workflow": {"metadata": {"name": "map"}, "nodes": [
        {"id": "start", "name": "Start", "kind": {"type": "Start"}},
        {"id": "map", "name": "Map", "kind": {"type": "Loop", "config": {
            "loop_type": {"variant": "ForEach", "collection_path": "items", "item_variable": "item",
                          "body_expression": "", "parallel": true, "max_concurrency": 5},
            "max_iterations": 100, "body_workflow": child}}},
        {"id": "end", "name": "End", "kind": {"type": "End"}}],
        "edges": [{"from": "start", "to": "map"}, {"from": "map", "to": "end"}]}})
}

/// Calls per prompt the provider received.
fn calls(provider: &Provider) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for r in provider.requests() {
        *counts.entry(r.body["messages"][0]["content"].as_str().unwrap_or_default().to_owned()).or_insert(0) += 1;
    }
    counts
}

async fn finished_items(base: &str, parent: &str) -> Vec<String> {
    let list = get(&format!("{base}/api/v1/executions?parent_execution_id={parent}&state=Completed&limit=500")).await;
    let mut done = Vec::new();
    for child in list["executions"].as_array().unwrap() {
        let run = get(&format!("{base}/api/v1/executions/{}", child["execution_id"].as_str().unwrap())).await;
        done.push(format!("item {}", run["variables"]["item"]));
    }
    done
}

async fn map_survives_a_kill(database_url: &str) {
    let (provider, provider_url) = Provider::start().await;
    provider.always(Reply::Slow(Duration::from_millis(60), Box::new(openai("done"))));
    let mut first = start(database_url, &provider_url);
    let child_id = post(&format!("{}/api/v1/workflows", first.url), child()).await["id"].as_str().unwrap().to_owned();
    let parent_id =
        post(&format!("{}/api/v1/workflows", first.url), parent(&child_id)).await["id"].as_str().unwrap().to_owned();
    let items: Vec<usize> = (0..ITEMS).collect();
    let run =
        post(&format!("{}/api/v1/workflows/{parent_id}/execute", first.url), json!({"variables": {"items": items}}))
            .await;
    let execution = run["execution_id"].as_str().unwrap().to_owned();
    let children = format!("{}/api/v1/executions?parent_execution_id={execution}&state=Completed", first.url);
    wait_until(&children, |list| list["total"].as_u64().unwrap_or(0) >= 12).await;
    let done_at_kill = finished_items(&first.url, &execution).await;
    kill_9(&mut first);
    let before_restart = calls(&provider);
    assert!(done_at_kill.len() >= 12, "{done_at_kill:?}");
    let second = start(database_url, &provider_url);
    let url = format!("{}/api/v1/executions/{execution}", second.url);
    let run = wait_until(&url, |r| r["state"] == "Completed" || r["state"] == "Failed").await;
    assert_eq!(run["state"], "Completed", "{run}");
    let map = run["node_results"].as_array().unwrap().iter().find(|n| n["node_id"] == "map").unwrap();
    let prompts: Vec<&str> =
        map["output"]["results"].as_array().unwrap().iter().map(|r| r["ask"]["prompt"].as_str().unwrap()).collect();
    let expected: Vec<String> = (0..ITEMS).map(|i| format!("item {i}")).collect();
    assert_eq!(prompts, expected, "results in item order");
    let counts = calls(&provider);
    for item in &done_at_kill {
        assert_eq!(counts.get(item), Some(&1), "{item} finished before the kill and ran once");
        assert_eq!(before_restart.get(item), Some(&1));
    }
    let rerun = counts.values().filter(|n| **n > 1).count();
    assert!(rerun <= 5, "at most the items in flight at the kill ran again: {rerun}");
    assert_eq!(counts.len(), ITEMS, "every item was asked");
}

#[tokio::test]
async fn a_sqlite_map_over_a_child_workflow_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    map_survives_a_kill(&format!("sqlite://{}", dir.path().join("map.db").display())).await;
}

#[tokio::test]
#[cfg_attr(not(oxify_test_postgres), ignore = "needs OXIFY_TEST_POSTGRES_URL at build time (.ci/run sets it)")]
async fn a_postgres_map_over_a_child_workflow_survives_sigkill() {
    let url = postgres_url().await;
    map_survives_a_kill(&url).await;
}
