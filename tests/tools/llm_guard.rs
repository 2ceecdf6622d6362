//! The guard on LLM nodes: a node's own `base_url` is an address the workflow author chose, so
//! it reaches only public addresses and what `OXIFY_HTTP_ALLOW` opens; the providers the
//! operator configured (`OPENAI_BASE_URL`, Ollama on localhost) are not limited.

use crate::upstream::Upstream;
use crate::{attempt, chain, config, harness, node};
use oxify_api::ports::RunnerError;
use serde_json::{Value, json};

fn llm(base_url: &str) -> Value {
    json!({"id": "answer", "name": "Answer", "kind": {"type": "LLM", "config": {
        "provider": "ollama", "model": "m", "prompt_template": "hi",
        "extra_params": {"base_url": base_url, "stream": false}}}})
}

#[tokio::test]
async fn a_nodes_own_base_url_cannot_reach_an_internal_service() {
    let api = Upstream::start().await;
    let h = harness(config()).await;
    // An IP literal is refused when the workflow is saved.
    let (status, body) = h.post("/api/v1/workflows", chain(vec![llm(&format!("{}/echo", api.url))])).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["details"][0]["path"], "workflow.nodes[1].kind.config.extra_params.base_url");
    assert!(body["details"][0]["problem"].as_str().unwrap().contains("127.0.0.1 is a loopback address"), "{body}");
    // A name is refused as it resolves, and the service never sees the POST.
    let named = format!("http://localhost:{}/echo", api.port());
    let run = h.finished(&h.start(chain(vec![llm(&named)]), json!({})).await).await;
    assert_eq!(run["state"], "Failed");
    let error = node(&run, "answer")["error"].as_str().unwrap();
    assert!(error.contains("refused: localhost ("), "{error}");
    assert!(api.seen().is_empty(), "{:?}", api.seen());
}

#[tokio::test]
async fn an_opened_address_is_reached() {
    let api = Upstream::start().await;
    let mut opened = config();
    opened.http_allow = "127.0.0.1".into();
    // The fake API is no model server: it is reached, and its echo is not a completion.
    let result = attempt(&opened, llm(&format!("{}/echo", api.url)), json!({})).await;
    assert!(!matches!(&result, Err(RunnerError::Permanent(m)) if m.contains("refused")), "{result:?}");
    assert_eq!(api.seen().len(), 1);
    assert_eq!(api.seen()[0].path, "/echo/chat/completions");
}
