//! The LLM tool-calling loop against the fake provider: the model asks for tools (HTTP tools on a
//! server on loopback, other workflows), the server runs them in parallel and sends the results
//! back in the provider's format, until the model answers.

use crate::provider::{Reply, calls, openai};
use crate::{chain, harness, llm, node};
use axum::Json;
use axum::extract::{Query, State};
use axum::routing::get;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A tool server: `GET /add?a=&b=` (slow enough for two calls to overlap; counts calls in
/// flight), `GET /fail` (500).
#[derive(Clone, Default)]
struct Tools {
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
}

async fn add(State(t): State<Tools>, Query(q): Query<HashMap<String, f64>>) -> Json<Value> {
    let now = t.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    t.max_in_flight.fetch_max(now, Ordering::SeqCst);
    t.calls.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    t.in_flight.fetch_sub(1, Ordering::SeqCst);
    Json(json!({"sum": q.get("a").unwrap_or(&0.0) + q.get("b").unwrap_or(&0.0)}))
}

async fn fail() -> (axum::http::StatusCode, Json<Value>) {
    (axum::http::StatusCode::BAD_REQUEST, Json(json!({"error": "the tool is broken"})))
}

async fn tool_server() -> (Tools, String) {
    let tools = Tools::default();
    let app = axum::Router::new().route("/add", get(add)).route("/fail", get(fail)).with_state(tools.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (tools, base)
}

fn add_tool(base: &str) -> Value {
    json!({"type": "http", "name": "add", "description": "Adds a and b", "server_id": base, "tool_name": "GET /add",
           "parameters": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]}})
}

fn fail_tool(base: &str) -> Value {
    json!({"type": "http", "name": "broken", "description": "Always fails", "server_id": base, "tool_name": "GET /fail"})
}

#[tokio::test]
async fn openai_two_tools_at_once_then_an_answer() {
    let (tools, base) = tool_server().await;
    let h = harness(|c| c.http_allow = "127.0.0.1".into()).await;
    h.provider.script([
        Reply::OpenAiTools {
            calls: calls(&[("call_1", "add", json!({"a": 1, "b": 2})), ("call_2", "add", json!({"a": 10, "b": 5}))]),
            usage: (30, 10),
        },
        openai("The sums are 3 and 15"),
    ]);
    let node_json = llm("agent", "openai", "Add things", json!({"tools": [add_tool(&base)]}));
    let execution = h.start(chain(vec![node_json]), json!({})).await;
    let run = h.finished(&execution).await;
    assert_eq!(run["state"], "Completed", "{run}");
    assert_eq!(tools.max_in_flight.load(Ordering::SeqCst), 2, "both calls of the round ran at once");

    let output = &node(&run, "agent")["output"];
    assert_eq!(output["response"], "The sums are 3 and 15");
    assert_eq!(output["tool_rounds"], 1);
    let results = output["tool_results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["result"]["body"]["sum"], 3.0);
    assert_eq!(results[1]["result"]["body"]["sum"], 15.0);
    assert_eq!(results[1]["arguments"], json!({"a": 10, "b": 5}));
    assert!(results[0]["duration_ms"].as_u64().unwrap() >= 300);
    assert_eq!(output["usage"]["total_tokens"], 56, "usage is summed over both model calls: {output}");

    // What the provider got back: the tools, then the assistant's calls and one tool message each.
    let requests = h.provider.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body["tools"][0]["function"]["name"], "add");
    assert_eq!(requests[0].body["tools"][0]["function"]["parameters"]["required"], json!(["a", "b"]));
    let messages = requests[1].body["messages"].as_array().unwrap();
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(messages[1]["tool_calls"][1]["function"]["arguments"], r#"{"a":10,"b":5}"#);
    assert_eq!(messages[2]["role"], "tool");
    assert_eq!(messages[2]["tool_call_id"], "call_1");
    assert!(messages[3]["content"].as_str().unwrap().contains("15"), "{}", messages[3]);
}

#[tokio::test]
async fn a_live_stream_shows_each_tool_call() {
    let (_tools, base) = tool_server().await;
    let h = harness(|c| c.http_allow = "127.0.0.1".into()).await;
    h.provider.script([
        Reply::Slow(
            Duration::from_millis(300),
            Box::new(Reply::OpenAiTools { calls: calls(&[("c1", "add", json!({"a": 2, "b": 2}))]), usage: (5, 5) }),
        ),
        openai("four"),
    ]);
    let node_json = llm("agent", "openai", "Add", json!({"tools": [add_tool(&base)]}));
    let execution = h.start(chain(vec![node_json]), json!({})).await;
    let events = h.events(&execution).await;
    let call = events.iter().find(|e| e.event == "node_tool_call").expect("a node_tool_call frame");
    let data: Value = serde_json::from_str(&call.data).unwrap();
    assert_eq!(data["node_id"], "agent");
    assert_eq!(data["tool_call"]["name"], "add");
    assert_eq!(data["tool_call"]["arguments"], json!({"a": 2, "b": 2}));
    assert_eq!(data["tool_call"]["result"]["body"]["sum"], 4.0);
    assert!(data["tool_call"]["duration_ms"].is_u64());
    assert!(call.id.contains('.'), "a live frame has a delta id: {}", call.id);
}

#[tokio::test]
async fn anthropic_a_failing_tool_goes_back_to_the_model_as_an_error_result() {
    let (_tools, base) = tool_server().await;
    let h = harness(|c| c.http_allow = "127.0.0.1".into()).await;
    h.provider.script([
        Reply::AnthropicTools {
            text: "Let me try.".into(),
            calls: calls(&[("toolu_1", "broken", json!({})), ("toolu_2", "add", json!({"a": 1, "b": 1}))]),
            usage: (20, 8),
        },
        crate::provider::anthropic("The tool failed, but 1 + 1 = 2"),
    ]);
    let node_json = llm("agent", "anthropic", "Try", json!({"tools": [fail_tool(&base), add_tool(&base)]}));
    let run = h.finished(&h.start(chain(vec![node_json]), json!({})).await).await;
    assert_eq!(run["state"], "Completed", "{run}");
    let output = &node(&run, "agent")["output"];
    assert!(output["tool_results"][0]["error"].as_str().unwrap().contains("400"), "{output}");

    let requests = h.provider.requests();
    assert_eq!(requests[0].body["tools"][0]["input_schema"], json!({"type": "object"}));
    let messages = requests[1].body["messages"].as_array().unwrap();
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(messages[1]["content"][0], json!({"type": "text", "text": "Let me try."}));
    assert_eq!(messages[1]["content"][2]["input"], json!({"a": 1, "b": 1}));
    let results = messages[2]["content"].as_array().unwrap();
    assert_eq!(results[0]["type"], "tool_result");
    assert_eq!(results[0]["tool_use_id"], "toolu_1");
    assert_eq!(results[0]["is_error"], true);
    assert!(results[0]["content"].as_str().unwrap().starts_with("error:"));
    assert_eq!(results[1]["is_error"], false);
}

#[tokio::test]
async fn the_round_limit_fails_the_node_and_an_unknown_tool_is_answered_with_an_error() {
    let (tools, base) = tool_server().await;
    let h = harness(|c| c.http_allow = "127.0.0.1".into()).await;
    h.provider.script([Reply::OpenAiTools { calls: calls(&[("c0", "nonexistent", json!({}))]), usage: (1, 1) }]);
    h.provider.always(Reply::OpenAiTools { calls: calls(&[("c", "add", json!({"a": 1, "b": 1}))]), usage: (1, 1) });
    let node_json = llm("agent", "openai", "Loop", json!({"tools": [add_tool(&base)], "max_tool_rounds": 3}));
    let run = h.finished(&h.start(chain(vec![node_json]), json!({})).await).await;
    assert_eq!(run["state"], "Failed");
    let error = node(&run, "agent")["error"].as_str().unwrap();
    assert!(error.contains("after 3 rounds"), "{error}");
    assert_eq!(h.provider.requests().len(), 4, "three rounds of tools, then the call that asked again");
    assert_eq!(tools.calls.load(Ordering::SeqCst), 2, "the unknown tool was never called");
    let second = &h.provider.requests()[1].body["messages"][2];
    assert!(second["content"].as_str().unwrap().contains("no tool named 'nonexistent'"), "{second}");
}

#[tokio::test]
async fn the_budget_stops_a_round() {
    let (_tools, base) = tool_server().await;
    let h = harness(|c| c.http_allow = "127.0.0.1".into()).await;
    h.provider.always(Reply::OpenAiTools { calls: calls(&[("c", "add", json!({"a": 1, "b": 1}))]), usage: (30, 30) });
    let node_json = llm("agent", "openai", "Loop", json!({"tools": [add_tool(&base)]}));
    let run = h.finished(&h.start(chain(vec![node_json]), json!({"max_tokens": 200})).await).await;
    assert_eq!(run["state"], "Failed");
    let error = node(&run, "agent")["error"].as_str().unwrap();
    assert!(error.contains("budget exceeded"), "{error}");
    let made = h.provider.requests().len();
    assert!((2..=3).contains(&made), "the budget stopped the loop after {made} model calls, before its round limit");
}

#[tokio::test]
async fn another_workflow_is_a_tool() {
    let h = harness(|_| {}).await;
    let callee = json!({"workflow": {"metadata": {"name": "lookup city", "description": "Finds a city"},
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "nodes": [{"id": "start", "name": "Start", "kind": {"type": "Start"}},
                  {"id": "find", "name": "Find", "kind": {"type": "Code", "config": {"runtime": "javascript",
                   "code": "({ found: variables.city + ', France' })", "inputs": [], "output": "out"}}},
                  {"id": "end", "name": "End", "kind": {"type": "End"}}],
        "edges": [{"from": "start", "to": "find"}, {"from": "find", "to": "end"}]}});
    let (status, created) = h.post("/api/v1/workflows", callee).await;
    assert_eq!(status, 201, "{created}");
    let callee_id = created["id"].as_str().unwrap().to_owned();
    h.provider.script([
        Reply::OpenAiTools {
            calls: calls(&[("w1", "lookup_city", json!({"city": "Paris"})), ("w2", "lookup_city", json!({"town": 1}))]),
            usage: (5, 5),
        },
        openai("Paris it is"),
    ]);
    let node_json = llm("agent", "openai", "Which city?", json!({"tools": [format!("workflow:{callee_id}")]}));
    let run = h.finished(&h.start(chain(vec![node_json]), json!({})).await).await;
    assert_eq!(run["state"], "Completed", "{run}");
    let first = &h.provider.requests()[0].body["tools"][0]["function"];
    assert_eq!(first["name"], "lookup_city");
    assert_eq!(first["description"], "Finds a city");
    assert_eq!(first["parameters"]["required"], json!(["city"]));
    let results = node(&run, "agent")["output"]["tool_results"].as_array().unwrap().clone();
    assert!(results[0]["result"].to_string().contains("Paris, France"), "{}", results[0]);
    assert!(results[1]["error"].as_str().unwrap().contains("city"), "arguments that miss the inputs: {}", results[1]);
    let runs = h.get(&format!("/api/v1/executions?workflow_id={callee_id}")).await;
    assert!(runs.to_string().contains("Completed"), "the call was an execution of its own: {runs}");
}

#[tokio::test]
async fn malformed_tools_are_refused_at_save() {
    let h = harness(|_| {}).await;
    let bad = llm(
        "agent",
        "openai",
        "x",
        json!({"tools": ["shell:rm", {"type": "http", "name": "a b", "server_id": "https://x.y", "tool_name": "GET /"},
                         {"type": "http", "name": "meta", "server_id": "http://169.254.169.254", "tool_name": "GET /latest"}],
               "max_tool_rounds": 0}),
    );
    let (status, body) = h.post("/api/v1/workflows", chain(vec![bad])).await;
    assert_eq!(status, 400, "{body}");
    let text = body.to_string();
    for expected in ["tools[0]", "tools[1].name", "tools[2].server_id", "max_tool_rounds"] {
        assert!(text.contains(expected), "{expected} missing from {text}");
    }
}
