//! What an LLM node does when the provider behaves.

use crate::provider::{Reply, anthropic, openai};
use crate::*;
use oxify_api::domain::workflow::NodeKindTag;
use oxify_api::ports::ConfigProblem;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn openai_stream_deltas_reach_an_sse_client_in_order_and_the_output_is_whole() {
    let h = harness(|_| {}).await;
    let pieces: Vec<String> = ["The ", "weather ", "in ", "Tokyo ", "is ", "sunny."].map(String::from).to_vec();
    h.provider.script([Reply::OpenAiStream { pieces: pieces.clone(), gap: Duration::from_millis(40), usage: (30, 6) }]);
    let prompt = "Answer briefly: {{ user_query }}";
    let wf =
        chain(vec![llm("answer", "openai", prompt, json!({"system_prompt": "Be {{ tone }}.", "temperature": 0.2}))]);
    let execution = h.start(wf, json!({"variables": {"user_query": "weather in Tokyo?", "tone": "concise"}})).await;
    let events = h.events(&execution).await;
    let deltas: Vec<String> = events
        .iter()
        .filter(|e| e.event == "node_output_delta")
        .map(|e| serde_json::from_str::<Value>(&e.data).unwrap()["delta"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(deltas, pieces, "every delta, in order");
    let delta_ids: Vec<&str> =
        events.iter().filter(|e| e.event == "node_output_delta").map(|e| e.id.as_str()).collect();
    assert!(
        delta_ids.iter().all(|id| id.contains('.')),
        "partial output ids point after a stored event: {delta_ids:?}"
    );
    let run = h.finished(&execution).await;
    assert_eq!(run["state"], "Completed");
    let answer = node(&run, "answer");
    assert_eq!(answer["output"]["response"], "The weather in Tokyo is sunny.");
    assert_eq!(answer["output"]["finish_reason"], "stop");
    assert_eq!(answer["usage"]["input_tokens"], 30);
    assert_eq!(answer["usage"]["total_tokens"], 36);
    let sent = &h.provider.requests()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.headers["authorization"], format!("Bearer {OPENAI_KEY}").as_str());
    assert_eq!(sent.body["stream"], true);
    assert_eq!(sent.body["stream_options"]["include_usage"], true);
    assert_eq!(sent.body["messages"][0], json!({"role": "system", "content": "Be concise."}));
    assert_eq!(sent.body["messages"][1], json!({"role": "user", "content": "Answer briefly: weather in Tokyo?"}));
    assert_eq!(sent.body["temperature"], 0.2);
    assert_eq!(sent.body["max_tokens"], 64);
}

#[tokio::test]
async fn openai_without_streaming_reads_the_whole_completion() {
    let h = harness(|_| {}).await;
    h.provider.script([Reply::OpenAiWhole { text: "42".into(), usage: (9, 1) }]);
    let wf =
        chain(vec![llm("answer", "openai", "What is 6 x 7?", json!({"extra_params": {"stream": false, "seed": 7}}))]);
    let run = h.finished(&h.start(wf, json!({})).await).await;
    assert_eq!(node(&run, "answer")["output"]["response"], "42");
    assert_eq!(node(&run, "answer")["usage"]["total_tokens"], 10);
    let sent = &h.provider.requests()[0].body;
    assert_eq!((sent["stream"].clone(), sent["seed"].clone()), (json!(false), json!(7)), "extra_params pass through");
}

#[tokio::test]
async fn anthropic_messages_stream_with_usage_from_start_and_delta() {
    let h = harness(|_| {}).await;
    h.provider.script([anthropic("Bonjour le monde")]);
    let wf = chain(vec![llm("fr", "anthropic", "Say hello in French", json!({"system_prompt": "You translate."}))]);
    let execution = h.start(wf, json!({})).await;
    let events = h.events(&execution).await;
    let deltas = events.iter().filter(|e| e.event == "node_output_delta").count();
    assert_eq!(deltas, 3);
    let run = h.finished(&execution).await;
    let fr = node(&run, "fr");
    assert_eq!(fr["output"]["response"], "Bonjour le monde");
    assert_eq!(fr["output"]["finish_reason"], "end_turn");
    assert_eq!((fr["usage"]["input_tokens"].clone(), fr["usage"]["output_tokens"].clone()), (json!(25), json!(15)));
    let sent = &h.provider.requests()[0];
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.headers["x-api-key"], ANTHROPIC_KEY);
    assert_eq!(sent.headers["anthropic-version"], "2023-06-01");
    assert_eq!(sent.body["system"], "You translate.");
    assert_eq!(sent.body["max_tokens"], 64);
}

#[tokio::test]
async fn ollama_and_local_use_the_openai_protocol_and_outputs_flow_to_the_next_node() {
    let h = harness(|_| {}).await;
    h.provider.script([openai("Paris"), openai("About 2.1 million people.")]);
    let first = llm("capital", "ollama", "Capital of France?", json!({}));
    let second = llm("size", "local", "Population of {{ nodes.capital.output.response }}?", json!({}));
    let run = h.finished(&h.start(chain(vec![first, second]), json!({})).await).await;
    assert_eq!(run["state"], "Completed", "{run}");
    let requests = h.provider.requests();
    assert_eq!(requests[1].body["messages"][0]["content"], "Population of Paris?");
    assert!(requests[0].headers.get("authorization").is_none(), "no key is sent to a local server");
}

#[tokio::test]
async fn usage_and_cost_are_summed_per_execution_and_reported_on_the_stream() {
    let h = harness(|c| c.llm_prices = "test-model=1.0/2.0".into()).await;
    h.provider.script([
        Reply::OpenAiStream { pieces: vec!["a".into()], gap: Duration::ZERO, usage: (1000, 500) },
        Reply::OpenAiStream { pieces: vec!["b".into()], gap: Duration::ZERO, usage: (3000, 1500) },
    ]);
    let wf = chain(vec![llm("one", "openai", "x", json!({})), llm("two", "openai", "y", json!({}))]);
    let execution = h.start(wf, json!({})).await;
    let events = h.events(&execution).await;
    let run = h.finished(&execution).await;
    assert_eq!(node(&run, "one")["usage"]["cost_usd"], 0.002);
    assert_eq!(run["usage"]["input_tokens"], 4000);
    assert_eq!(run["usage"]["output_tokens"], 2000);
    assert_eq!(run["usage"]["total_tokens"], 6000);
    assert!((run["usage"]["cost_usd"].as_f64().unwrap() - 0.008).abs() < 1e-9);
    let usage: Vec<Value> =
        events.iter().filter(|e| e.event == "usage").map(|e| serde_json::from_str(&e.data).unwrap()).collect();
    assert_eq!(usage.len(), 2);
    assert_eq!(usage[1]["node_id"], "two");
    assert_eq!(usage[1]["execution_usage"]["total_tokens"], 6000);
}

#[tokio::test]
async fn keys_appear_in_no_response_event_or_result() {
    let h = harness(|_| {}).await;
    h.provider.script([Reply::Status { code: 401, retry_after: None, message: "Incorrect API key provided".into() }]);
    let wf = chain(vec![llm("answer", "openai", "hi", json!({}))]);
    let execution = h.start(wf, json!({})).await;
    let events = h.events(&execution).await;
    let run = h.finished(&execution).await;
    assert_eq!(run["state"], "Failed");
    assert!(run["error"].as_str().unwrap().contains("Incorrect API key provided"));
    let everything = format!("{run} {events:?}");
    assert!(!everything.contains(OPENAI_KEY) && !everything.contains("0123456789"), "a key leaked");
}

#[tokio::test]
async fn a_node_base_url_never_receives_the_server_key() {
    // The second provider is on loopback, which a node's own base URL may reach only when opened.
    let h = harness(|c| c.http_allow = "127.0.0.1".into()).await;
    let (elsewhere, elsewhere_url) = provider::Provider::start().await;
    elsewhere.script([openai("fine")]);
    let wf = chain(vec![llm(
        "answer",
        "openai",
        "hi",
        json!({"extra_params": {"base_url": format!("{elsewhere_url}/v1")}}),
    )]);
    let run = h.finished(&h.start(wf, json!({})).await).await;
    assert_eq!(run["state"], "Completed", "{run}");
    assert!(elsewhere.requests()[0].headers.get("authorization").is_none());
    assert!(h.provider.requests().is_empty());
}

#[tokio::test]
async fn unknown_providers_and_missing_keys_are_refused_at_save() {
    let h = harness(|_| {}).await;
    let (status, body) = h.post("/api/v1/workflows", chain(vec![llm("a", "mystery-ai", "hi", json!({}))])).await;
    assert_eq!(status, 400);
    assert_eq!(body["details"][0]["path"], "workflow.nodes[1].kind.config");
    assert!(body["details"][0]["problem"].as_str().unwrap().contains("unknown LLM provider 'mystery-ai'"));
    let bare = oxify_api::startup::wiring::runners_with_env(&Config::defaults(), |_| None).unwrap();
    let node = serde_json::from_value(llm("a", "openai", "hi", json!({}))).unwrap();
    let problems = bare.get(NodeKindTag::Llm).unwrap().check(&node);
    assert_eq!(
        problems,
        [ConfigProblem::whole(
            "provider openai needs OPENAI_API_KEY on the server, which is not set, or a workspace secret named OPENAI_API_KEY"
        )
        .unless_secret("OPENAI_API_KEY")]
    );
}
