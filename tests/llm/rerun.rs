//! Reruns and billing with real LLM nodes against the fake provider: what a rerun reuses is not
//! called (nor paid for) again, and only what a runner reports as usage is billed.

use crate::provider::openai;
use crate::{chain, harness, llm, node};
use serde_json::json;

#[tokio::test]
async fn a_rerun_from_a_node_calls_the_provider_only_for_that_node_and_what_follows() {
    let h = harness(|_| {}).await;
    h.provider.always(openai("answer"));
    let workflow = chain(vec![
        llm("first", "openai", "first {{ topic }}", json!({})),
        llm("second", "openai", "second {{ nodes.first.output.response }} {{ topic }}", json!({})),
        llm("third", "openai", "third {{ nodes.second.output.response }}", json!({})),
    ]);
    let old = h.start(workflow, json!({"variables": {"topic": "a"}})).await;
    let run = h.finished(&old).await;
    assert_eq!(run["state"], "Completed", "{run}");
    assert_eq!(h.provider.requests().len(), 3);
    let (status, rerun) = h
        .post(&format!("/api/v1/executions/{old}/rerun"), json!({"from_node": "second", "variables": {"topic": "b"}}))
        .await;
    assert_eq!(status, 202, "{rerun}");
    let again = h.finished(rerun["execution_id"].as_str().unwrap()).await;
    assert_eq!(again["state"], "Completed", "{again}");
    let prompts: Vec<String> = h
        .provider
        .requests()
        .iter()
        .skip(3)
        .map(|r| r.body["messages"][0]["content"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(prompts, ["second answer b", "third answer"], "first is reused, not called again");
    assert!(node(&again, "first")["usage"].is_null(), "a reused node spent nothing in the rerun");
    assert_eq!(again["usage"]["total_tokens"], 32, "only the two calls of the rerun are counted");
    let events = h.events(rerun["execution_id"].as_str().unwrap()).await;
    let reused =
        events.iter().find(|e| e.event == "node_completed" && e.data.contains("\"node_id\":\"first\"")).unwrap();
    assert!(reused.data.contains(&format!("\"reused_from\":\"{old}\"")), "{}", reused.data);
}
