//! Upstreams are not trusted: no key follows a redirect to another origin, a key quoted back by a
//! provider is redacted everywhere, and absurd numbers from a provider are bounded, for each
//! protocol (OpenAI, Anthropic, and Ollama over the OpenAI protocol).

use crate::provider::{Provider, Reply};
use crate::*;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::json;
use std::time::Duration;

/// Each provider name a node can use, with the key the harness gives it.
const PROVIDERS: [(&str, &str); 3] = [("openai", OPENAI_KEY), ("anthropic", ANTHROPIC_KEY), ("ollama", OLLAMA_KEY)];

async fn keyed_harness() -> Harness {
    harness_with(&[("OLLAMA_API_KEY", OLLAMA_KEY)], |_| {}).await
}

fn once(provider: &str) -> Value {
    let mut node = llm("answer", provider, "hi", json!({}));
    node["retry_config"] =
        json!({"max_retries": 0, "initial_delay_ms": 1, "backoff_multiplier": 1.0, "max_delay_ms": 1});
    node
}

fn path_of(provider: &str) -> &'static str {
    if provider == "anthropic" { "/v1/messages" } else { "/v1/chat/completions" }
}

#[tokio::test]
async fn no_key_follows_a_redirect_to_another_origin_for_any_provider() {
    let h = keyed_harness().await;
    let (elsewhere, elsewhere_url) = Provider::start().await;
    elsewhere.always(provider::openai("the key came along"));
    for (provider, _) in PROVIDERS {
        for code in [301, 302, 307, 308] {
            let location = format!("{elsewhere_url}{}", path_of(provider));
            h.provider.script([Reply::Redirect { code, location }]);
            let run = h.finished(&h.start(chain(vec![once(provider)]), json!({})).await).await;
            assert_eq!(run["state"], "Failed", "{provider} {code}: {run}");
            let error = node(&run, "answer")["error"].as_str().unwrap().to_owned();
            assert!(error.contains(&format!("answered {code}")), "{error}");
            assert!(error.contains(&format!("a redirect to {elsewhere_url}")), "{error}");
            assert!(error.contains("not followed"), "{error}");
        }
    }
    assert!(elsewhere.requests().is_empty(), "nothing (and so no key) reached the other origin");
}

#[tokio::test]
async fn a_redirect_within_the_provider_s_origin_is_followed() {
    let h = keyed_harness().await;
    for (provider, key) in PROVIDERS {
        let first = h.provider.requests().len();
        let target = h.provider_url.clone() + path_of(provider);
        let answer = if provider == "anthropic" { provider::anthropic("moved") } else { provider::openai("moved") };
        h.provider.script([Reply::Redirect { code: 307, location: target }, answer]);
        let run = h.finished(&h.start(chain(vec![once(provider)]), json!({})).await).await;
        assert_eq!(node(&run, "answer")["output"]["response"], "moved", "{provider}: {run}");
        let followed = &h.provider.requests()[first + 1];
        let sent = followed.headers.get("authorization").or_else(|| followed.headers.get("x-api-key")).unwrap();
        assert!(sent.to_str().unwrap().contains(key), "the key stays with its own server");
    }
}

#[tokio::test]
async fn a_key_quoted_back_by_a_provider_is_never_stored_logged_or_returned() {
    let h = keyed_harness().await;
    for (provider, key) in PROVIDERS {
        h.provider.script([Reply::Status {
            code: 401,
            retry_after: None,
            message: format!("Incorrect API key provided: {key}"),
        }]);
        let execution = h.start(chain(vec![once(provider)]), json!({})).await;
        let events = h.events(&execution).await;
        let run = h.finished(&execution).await;
        assert_eq!(run["state"], "Failed");
        assert!(run["error"].as_str().unwrap().contains("Incorrect API key provided: [redacted]"), "{run}");
        assert!(!run.to_string().contains(key), "{provider}: the key is in the execution: {run}");
        assert!(events.iter().all(|e| !e.data.contains(key)), "{provider}: the key is in an event");
    }
}

#[tokio::test]
async fn a_key_repeated_in_an_answer_is_redacted_in_deltas_and_output() {
    let h = keyed_harness().await;
    for (provider, key) in PROVIDERS {
        let pieces =
            vec!["Your key is ".to_owned(), key[..9].to_owned(), key[9..].to_owned(), ", keep it safe.".to_owned()];
        let reply = if provider == "anthropic" {
            Reply::AnthropicStream { pieces, gap: Duration::from_millis(5), usage: (3, 4) }
        } else {
            Reply::OpenAiStream { pieces, gap: Duration::from_millis(5), usage: (3, 4) }
        };
        h.provider.script([reply]);
        let execution = h.start(chain(vec![once(provider)]), json!({})).await;
        let events = h.events(&execution).await;
        let run = h.finished(&execution).await;
        assert_eq!(node(&run, "answer")["output"]["response"], "Your key is [redacted], keep it safe.", "{provider}");
        let streamed: String = events
            .iter()
            .filter(|e| e.event == "node_output_delta")
            .map(|e| serde_json::from_str::<Value>(&e.data).unwrap()["delta"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(streamed, "Your key is [redacted], keep it safe.", "{provider}");
        assert!(events.iter().all(|e| !e.data.contains(key)));
    }
}

#[tokio::test]
async fn a_retry_after_of_1e300_is_bounded_not_a_panic() {
    let h = harness(|_| {}).await;
    h.provider.script([Reply::Status { code: 429, retry_after: Some("1e300".into()), message: "slow down".into() }]);
    let mut node = llm("answer", "openai", "hi", json!({}));
    node["retry_config"] =
        json!({"max_retries": 2, "initial_delay_ms": 10, "backoff_multiplier": 2.0, "max_delay_ms": 50});
    let execution = h.start(chain(vec![node]), json!({})).await;
    let reply = h.http.get(format!("{}/api/v1/executions/{execution}/stream", h.base)).send().await.unwrap();
    let mut events = reply.bytes_stream().eventsource();
    let retrying = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(event)) = events.next().await {
            if event.event == "node_retrying" {
                return serde_json::from_str::<Value>(&event.data).unwrap();
            }
        }
        panic!("the stream ended without a retry");
    })
    .await
    .expect("a node_retrying event");
    assert_eq!(retrying["delay_ms"], 600_000, "waits the longest Retry-After honoured: {retrying}");
    let (status, cancelled) = h.post(&format!("/api/v1/executions/{execution}/cancel"), json!({})).await;
    assert_eq!(status, 200, "{cancelled}");
}

#[tokio::test]
async fn absurd_usage_counts_and_tool_call_positions_are_bounded() {
    let h = harness(|_| {}).await;
    let whole = json!({"id": "x", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": u64::MAX, "completion_tokens": 1e300, "total_tokens": -1}});
    h.provider.script([Reply::Raw { content_type: "application/json".into(), body: whole.to_string() }]);
    let run = h
        .finished(
            &h.start(chain(vec![llm("answer", "openai", "hi", json!({"extra_params": {"stream": false}}))]), json!({}))
                .await,
        )
        .await;
    assert_eq!(run["state"], "Completed", "{run}");
    assert_eq!(node(&run, "answer")["usage"]["input_tokens"], 1_000_000_000);
    assert_eq!(node(&run, "answer")["usage"]["output_tokens"], 0);

    let chunk = json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": u64::MAX, "id": "c", "function": {"name": "f", "arguments": "{}"}}]}}]});
    h.provider.script([Reply::Raw {
        content_type: "text/event-stream".into(),
        body: format!("data: {chunk}\n\ndata: [DONE]\n\n"),
    }]);
    let run = h.finished(&h.start(chain(vec![once("openai")]), json!({})).await).await;
    assert_eq!(run["state"], "Failed");
    assert!(node(&run, "answer")["error"].as_str().unwrap().contains("tool call number 18446744073709551615"), "{run}");
}
