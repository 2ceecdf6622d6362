//! What an LLM node does when the provider misbehaves: rate limits, errors, slowness, garbage.

use crate::provider::{Reply, openai};
use crate::*;
use serde_json::json;
use std::time::Duration;

fn fast_retries(extra: Value) -> Value {
    let mut node = llm("answer", "openai", "hi", extra);
    node["retry_config"] =
        json!({"max_retries": 3, "initial_delay_ms": 10, "backoff_multiplier": 2.0, "max_delay_ms": 50});
    node
}

#[tokio::test]
async fn a_429_is_retried_after_the_retry_after_it_asked_for() {
    let h = harness(|_| {}).await;
    h.provider.script([
        Reply::Status { code: 429, retry_after: Some("1".into()), message: "Rate limit reached".into() },
        openai("ok"),
    ]);
    let execution = h.start(chain(vec![fast_retries(json!({}))]), json!({})).await;
    let events = h.events(&execution).await;
    let run = h.finished(&execution).await;
    assert_eq!(run["state"], "Completed", "{run}");
    assert_eq!(node(&run, "answer")["attempts"], 2);
    let requests = h.provider.requests();
    assert!(requests[1].at - requests[0].at >= Duration::from_secs(1), "waited for Retry-After");
    let retrying: Vec<Value> =
        events.iter().filter(|e| e.event == "node_retrying").map(|e| serde_json::from_str(&e.data).unwrap()).collect();
    assert_eq!(retrying.len(), 1);
    assert_eq!(retrying[0]["attempt"], 2);
    assert!(retrying[0]["error"].as_str().unwrap().contains("429"));
    assert!(retrying[0]["delay_ms"].as_u64().unwrap() >= 1000);
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff() {
    let h = harness(|_| {}).await;
    h.provider.script([
        Reply::Status { code: 500, retry_after: None, message: "boom".into() },
        Reply::Status { code: 503, retry_after: None, message: "overloaded".into() },
        openai("third time lucky"),
    ]);
    let run = h.finished(&h.start(chain(vec![fast_retries(json!({}))]), json!({})).await).await;
    assert_eq!(node(&run, "answer")["output"]["response"], "third time lucky");
    assert_eq!(node(&run, "answer")["attempts"], 3);
}

#[tokio::test]
async fn a_400_is_not_retried() {
    let h = harness(|_| {}).await;
    h.provider.script([Reply::Status {
        code: 400,
        retry_after: None,
        message: "model 'test-model' does not exist".into(),
    }]);
    let run = h.finished(&h.start(chain(vec![fast_retries(json!({}))]), json!({})).await).await;
    assert_eq!(run["state"], "Failed");
    assert_eq!(node(&run, "answer")["attempts"], 1);
    assert_eq!(h.provider.requests().len(), 1);
    assert!(run["error"].as_str().unwrap().contains("answered 400 Bad Request: model 'test-model' does not exist"));
}

#[tokio::test]
async fn a_slow_provider_times_the_node_out() {
    let h = harness(|_| {}).await;
    h.provider.always(Reply::Slow(Duration::from_secs(30), Box::new(openai("too late"))));
    let mut slow = llm("answer", "openai", "hi", json!({}));
    slow["timeout_config"] = json!({"execution_timeout_ms": 300});
    slow["retry_config"] =
        json!({"max_retries": 0, "initial_delay_ms": 1, "backoff_multiplier": 1.0, "max_delay_ms": 1});
    let run = h.finished(&h.start(chain(vec![slow]), json!({})).await).await;
    assert_eq!(run["state"], "Failed");
    assert!(node(&run, "answer")["error"].as_str().unwrap().contains("timed out after 300 ms"));
}

#[tokio::test]
async fn a_stalled_stream_fails_on_the_idle_deadline() {
    let h = harness(|_| {}).await;
    h.provider.always(Reply::OpenAiStream {
        pieces: vec!["a".into(), "b".into()],
        gap: Duration::from_secs(30),
        usage: (1, 1),
    });
    let mut node_json = llm("answer", "openai", "hi", json!({}));
    node_json["timeout_config"] = json!({"execution_timeout_ms": 60000, "idle_timeout_ms": 200});
    node_json["retry_config"] =
        json!({"max_retries": 0, "initial_delay_ms": 1, "backoff_multiplier": 1.0, "max_delay_ms": 1});
    let run = h.finished(&h.start(chain(vec![node_json]), json!({})).await).await;
    assert!(node(&run, "answer")["error"].as_str().unwrap().contains("sent nothing for 200 ms"), "{run}");
}

#[tokio::test]
async fn cancelling_the_execution_aborts_the_request_to_the_provider() {
    let h = harness(|_| {}).await;
    h.provider.always(Reply::OpenAiStream {
        pieces: vec!["slow ".into(); 100],
        gap: Duration::from_millis(200),
        usage: (1, 1),
    });
    let execution = h.start(chain(vec![llm("answer", "openai", "hi", json!({}))]), json!({})).await;
    while h.provider.requests().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, body) = h.post(&format!("/api/v1/executions/{execution}/cancel"), json!({})).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("Cancelled")));
    for _ in 0..200 {
        if h.provider.abandoned() == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the provider never saw the request go away");
}

#[tokio::test]
async fn the_rate_governor_holds_a_fan_out_to_the_configured_concurrency() {
    let h = harness(|c| {
        c.llm_limits = "openai=concurrency:3".into();
        c.max_concurrent_nodes = 50;
    })
    .await;
    h.provider.always(Reply::Slow(Duration::from_millis(50), Box::new(openai("done"))));
    let mut nodes = vec![
        json!({"id": "start", "name": "Start", "kind": {"type": "Start"}}),
        json!({"id": "end", "name": "End", "kind": {"type": "End"}}),
    ];
    let mut edges = Vec::new();
    for i in 0..30 {
        let id = format!("q{i}");
        nodes.push(llm(&id, "openai", "hi", json!({})));
        edges.extend([json!({"from": "start", "to": id}), json!({"from": id, "to": "end"})]);
    }
    let wf = json!({"workflow": {"metadata": {"name": "fan-out"}, "nodes": nodes, "edges": edges}});
    let run = h.finished(&h.start(wf, json!({})).await).await;
    assert_eq!(run["state"], "Completed");
    assert_eq!(h.provider.requests().len(), 30);
    assert_eq!(h.provider.max_in_flight(), 3, "never more than three at once, and no 429s to retry");
}

#[tokio::test]
async fn malformed_provider_output_fails_the_node_clearly() {
    let garbage_stream = "data: {\"id\":\"x\",\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: {not json\n\n";
    let cases = [
        (
            Reply::Raw { content_type: "text/event-stream".into(), body: garbage_stream.into() },
            "malformed stream chunk",
            json!({}),
        ),
        (
            Reply::Raw { content_type: "application/json".into(), body: "<html>oops</html>".into() },
            "not JSON",
            json!({"stream": false}),
        ),
        (
            Reply::Raw { content_type: "application/json".into(), body: r#"{"choices": []}"#.into() },
            "no choices",
            json!({"stream": false}),
        ),
        (
            Reply::Raw { content_type: "text/event-stream".into(), body: "data: {\"choices\":[]}\n\n".into() },
            "before the answer was complete",
            json!({}),
        ),
    ];
    for (reply, expected, extra) in cases {
        let h = harness(|_| {}).await;
        h.provider.always(reply);
        let mut n = llm("answer", "openai", "hi", json!({"extra_params": extra}));
        n["retry_config"] =
            json!({"max_retries": 0, "initial_delay_ms": 1, "backoff_multiplier": 1.0, "max_delay_ms": 1});
        let run = h.finished(&h.start(chain(vec![n]), json!({})).await).await;
        assert_eq!(run["state"], "Failed");
        let error = node(&run, "answer")["error"].as_str().unwrap().to_owned();
        assert!(error.contains(expected), "expected '{expected}' in: {error}");
    }
}

#[tokio::test]
async fn a_missing_prompt_variable_fails_the_node_naming_it_without_calling_the_provider() {
    let h = harness(|_| {}).await;
    let run = h
        .finished(
            &h.start(chain(vec![llm("answer", "openai", "Answer: {{ user_query }}", json!({}))]), json!({})).await,
        )
        .await;
    assert!(
        node(&run, "answer")["error"].as_str().unwrap().contains("prompt_template: template references `user_query`")
    );
    assert!(h.provider.requests().is_empty());
}

fn four_calls() -> Value {
    chain((1..=4).map(|i| llm(&format!("c{i}"), "openai", "hi", json!({}))).collect())
}

#[tokio::test]
async fn max_tokens_stops_the_execution_before_the_call_that_would_pass_it() {
    let h = harness(|_| {}).await;
    h.provider.always(openai("ok"));
    let execution = h.start(four_calls(), json!({"max_tokens": 100})).await;
    let run = h.finished(&execution).await;
    assert_eq!(run["state"], "Failed");
    assert_eq!(h.provider.requests().len(), 3, "the fourth call was never made");
    let error = run["error"].as_str().unwrap();
    assert!(error.contains("node 'C4' (c4) failed: budget exceeded"), "{error}");
    assert!(error.contains("of max_tokens 100 remain"), "{error}");
    assert_eq!(run["usage"]["total_tokens"], 48);
    assert_eq!(run["budget"]["max_tokens"], 100);
}

#[tokio::test]
async fn max_cost_is_kept_with_configured_prices_and_refused_without() {
    let h = harness(|c| c.llm_prices = "test-model=1000/1000".into()).await;
    h.provider.always(openai("ok"));
    let run = h.finished(&h.start(four_calls(), json!({"max_cost_usd": 0.1})).await).await;
    assert_eq!(h.provider.requests().len(), 3);
    assert!(run["error"].as_str().unwrap().contains("of max_cost_usd 0.1 remain"), "{run}");
    assert!(run["usage"]["cost_usd"].as_f64().unwrap() <= 0.1);
    let unpriced = harness(|_| {}).await;
    let run = unpriced.finished(&unpriced.start(four_calls(), json!({"max_cost_usd": 1.0})).await).await;
    assert!(run["error"].as_str().unwrap().contains("no price is configured"), "{run}");
    assert!(unpriced.provider.requests().is_empty());
}

#[tokio::test]
async fn a_nonsensical_budget_is_a_bad_request() {
    let h = harness(|_| {}).await;
    let (_, created) = h.post("/api/v1/workflows", four_calls()).await;
    let id = created["id"].as_str().unwrap();
    for body in [json!({"max_tokens": 0}), json!({"max_cost_usd": -2})] {
        let (status, reply) = h.post(&format!("/api/v1/workflows/{id}/execute"), body).await;
        assert_eq!(status, 400, "{reply}");
        assert_eq!(reply["error"], "BadRequest");
    }
}

#[tokio::test]
async fn a_long_retry_after_parks_the_run_on_a_durable_timer_instead_of_holding_a_task() {
    let h = harness(|_| {}).await;
    h.provider.script([
        Reply::Status { code: 429, retry_after: Some("5".into()), message: "Rate limit reached".into() },
        openai("ok"),
    ]);
    let execution = h.start(chain(vec![fast_retries(json!({}))]), json!({})).await;
    let mut parked = None;
    for _ in 0..300 {
        let run = h.get(&format!("/api/v1/executions/{execution}")).await;
        if run["state"] == "Paused" {
            parked = Some(run);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let parked = parked.expect("the run parked while it waited for the retry");
    assert_eq!(node(&parked, "answer")["status"], "Waiting");
    let run = h.finished(&execution).await;
    assert_eq!(run["state"], "Completed", "{run}");
    assert_eq!(node(&run, "answer")["attempts"], 2);
    let requests = h.provider.requests();
    assert!(requests[1].at - requests[0].at >= Duration::from_secs(5), "the timer waited for Retry-After");
    let events = h.events(&execution).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).filter(|k| *k != "node_output_delta").collect();
    let position = |k: &str| kinds.iter().position(|x| *x == k).unwrap_or_else(|| panic!("{k} missing: {kinds:?}"));
    assert!(position("node_retrying") < position("node_waiting"));
    assert!(position("node_waiting") < position("execution_paused"));
    assert!(position("execution_paused") < position("execution_resumed"));
    let waiting = events.iter().find(|e| e.event == "node_waiting").unwrap();
    assert!(waiting.data.contains("\"kind\":\"timer\""), "{}", waiting.data);
}
