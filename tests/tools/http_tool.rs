//! HTTP tools against a fake API opened with `OXIFY_HTTP_ALLOW`: query or JSON body, path
//! parameters, headers, JSON or text output with status and headers, retries as the node's
//! retry config says, the size cap and the timeout.

use crate::upstream::Upstream;
use crate::{attempt, chain, config, harness, node, tool};
use oxify_api::ports::RunnerError;
use oxify_api::startup::config::Config;
use serde_json::json;
use std::time::Duration;

/// The settings with loopback opened to workflows.
fn opened() -> Config {
    let mut c = config();
    c.http_allow = "127.0.0.1".into();
    c
}

#[tokio::test]
async fn a_get_sends_rendered_parameters_as_the_query_and_returns_status_headers_and_json() {
    let api = Upstream::start().await;
    let node = tool(
        "t",
        &api.url,
        "GET /echo/{kind}",
        json!({"kind": "users", "q": "{{ question }}", "limit": "{{ n }}", "ids": [1, 2]}),
    );
    let output =
        attempt(&opened(), node, json!({"question": "six times seven", "n": 5})).await.expect("it succeeds").value;
    assert_eq!(output["status"], 200);
    assert_eq!(output["headers"]["content-type"], "application/json");
    assert_eq!(output["url"], format!("{}/echo/users?ids=1&ids=2&limit=5&q=six+times+seven", api.url));
    assert_eq!(output["body"]["method"], "GET");
    assert_eq!(output["body"]["path"], "/echo/users");
    assert_eq!(output["body"]["query"], json!([["ids", "1"], ["ids", "2"], ["limit", "5"], ["q", "six times seven"]]));
}

#[tokio::test]
async fn a_post_sends_the_parameters_as_a_json_body_with_the_configured_headers() {
    let api = Upstream::start().await;
    let mut node = tool(
        "t",
        &api.url,
        "POST /echo",
        json!({"question": "{{ question }}", "n": "{{ n }}", "nested": {"keep": [true, null]}}),
    );
    node["kind"]["config"]["headers"] = json!({"Authorization": "Bearer {{ token }}", "X-Trace": "fixed"});
    let output = attempt(&opened(), node, json!({"question": "q?", "n": 7, "token": "t0k"})).await.expect("ok").value;
    assert_eq!(output["body"]["body"], json!({"question": "q?", "n": 7, "nested": {"keep": [true, null]}}));
    assert_eq!(output["body"]["headers"]["authorization"], "Bearer t0k");
    assert_eq!(output["body"]["headers"]["x-trace"], "fixed");
    assert_eq!(output["body"]["headers"]["content-type"], "application/json");
}

#[tokio::test]
async fn a_text_answer_is_text() {
    let api = Upstream::start().await;
    let output = attempt(&opened(), tool("t", &api.url, "GET /text", json!(null)), json!({})).await.expect("ok").value;
    assert_eq!(output["body"], "plain words");
    assert!(output["headers"]["content-type"].as_str().unwrap().starts_with("text/plain"));
}

#[tokio::test]
async fn statuses_are_classified_as_the_llm_runner_classifies_them() {
    let api = Upstream::start().await;
    let call = async |code: u16| {
        attempt(&opened(), tool("t", &api.url, &format!("GET /status/{code}"), json!(null)), json!({})).await
    };
    let busy = call(429).await.unwrap_err();
    assert_eq!(busy.retry_after(), Some(Duration::from_secs(1)), "{busy}");
    assert_eq!(busy.to_string(), format!("GET {}/status/429 answered 429 Too Many Requests: status 429", api.url));
    assert!(call(503).await.unwrap_err().is_retryable());
    assert!(call(500).await.unwrap_err().is_retryable());
    let missing = call(404).await.unwrap_err();
    assert!(
        matches!(&missing, RunnerError::Permanent(m) if m.ends_with("answered 404 Not Found: status 404")),
        "{missing}"
    );
    let down = attempt(&opened(), tool("t", "http://127.0.0.1:9", "GET /x", json!(null)), json!({})).await.unwrap_err();
    assert!(down.is_retryable(), "a refused connection may pass: {down}");
}

#[tokio::test]
async fn a_failing_call_is_retried_as_the_nodes_retry_config_says() {
    let api = Upstream::start().await;
    let h = harness(opened()).await;
    let mut flaky = tool("t", &api.url, "GET /flaky", json!(null));
    flaky["retry_config"] =
        json!({"max_retries": 2, "initial_delay_ms": 10, "backoff_multiplier": 2.0, "max_delay_ms": 50});
    let run = h.finished(&h.start(chain(vec![flaky]), json!({})).await).await;
    assert_eq!(run["state"], "Completed", "{run}");
    assert_eq!(node(&run, "t")["attempts"], 2);
    assert_eq!(node(&run, "t")["output"]["body"], json!({"ok": true, "calls": 2}));
    // Without a retry config, one attempt.
    let once = Upstream::start().await;
    let run = h.finished(&h.start(chain(vec![tool("t", &once.url, "GET /flaky", json!(null))]), json!({})).await).await;
    assert_eq!(run["state"], "Failed");
    assert_eq!(once.seen().len(), 1);
}

#[tokio::test]
async fn an_answer_beyond_the_size_cap_fails_the_node() {
    let api = Upstream::start().await;
    let mut capped = opened();
    capped.http_max_response_bytes = 1000;
    let ok = attempt(&capped, tool("t", &api.url, "GET /big", json!({"bytes": 1000})), json!({})).await;
    assert_eq!(ok.expect("at the cap").value["body"].as_str().map(str::len), Some(1000));
    let big = attempt(&capped, tool("t", &api.url, "GET /big", json!({"bytes": 1001})), json!({})).await;
    assert_eq!(
        big,
        Err(RunnerError::Permanent(format!("GET {}/big answered with more than 1000 bytes (the limit)", api.url)))
    );
}

#[tokio::test]
async fn a_call_that_takes_too_long_is_a_retryable_timeout() {
    let api = Upstream::start().await;
    let mut quick = opened();
    quick.http_timeout_secs = 1;
    let started = std::time::Instant::now();
    let slow = attempt(&quick, tool("t", &api.url, "GET /slow", json!(null)), json!({})).await.unwrap_err();
    assert!(slow.is_retryable());
    assert_eq!(slow.to_string(), format!("GET {}/slow did not answer within 1000 ms", api.url));
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn redirects_are_followed_and_the_tools_headers_stay_with_their_origin() {
    let (first, second) = (Upstream::start().await, Upstream::start().await);
    let with_key = |to: String| {
        let mut node = tool("t", &first.url, "GET /redirect", json!({"to": to}));
        node["kind"]["config"]["headers"] = json!({"X-Api-Key": "secret-key"});
        node
    };
    let output = attempt(&opened(), with_key("/echo/same".into()), json!({})).await.expect("followed").value;
    assert_eq!((output["status"].clone(), output["body"]["path"].clone()), (json!(200), json!("/echo/same")));
    assert_eq!(output["body"]["headers"]["x-api-key"], "secret-key", "the same origin keeps the headers");
    let output =
        attempt(&opened(), with_key(format!("{}/echo/other", second.url)), json!({})).await.expect("followed").value;
    assert_eq!(output["url"], format!("{}/echo/other", second.url));
    assert_eq!(output["body"]["headers"].get("x-api-key"), None, "another origin never gets the tool's headers");
    assert!(second.seen()[0].headers.get("x-api-key").is_none());
}

#[tokio::test]
async fn unregistered_mcp_servers_and_malformed_tools_are_refused_at_save() {
    let h = harness(opened()).await;
    let mut bad_header = tool("h", "http://127.0.0.1:1", "GET /x", json!(null));
    bad_header["kind"]["config"]["headers"] = json!({"Host": "internal"});
    let (status, body) = h
        .post(
            "/api/v1/workflows",
            chain(vec![
                tool("m", "github", "create_issue", json!({})),
                tool("n", "http://127.0.0.1:1", "status", json!({})),
                bad_header,
            ]),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let found: Vec<(String, String)> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["path"].as_str().unwrap().to_owned(), p["problem"].as_str().unwrap().to_owned()))
        .collect();
    // A name is checked against the workspace's MCP servers after the runners' own checks.
    assert_eq!(found[0].0, "workflow.nodes[2].kind.config.tool_name");
    assert_eq!(found[1].0, "workflow.nodes[3].kind.config.headers.Host");
    assert_eq!(found[2].0, "workflow.nodes[1].kind.config.server_id");
    assert!(found[2].1.contains("no MCP server named 'github' is registered in this workspace"), "{}", found[2].1);
    let (status, body) = h
        .post("/api/v1/workflows", chain(vec![tool("t", "http://127.0.0.1:1", "GET /x", json!({"q": "{{ oops("}))]))
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["details"][0]["path"], "workflow.nodes[1].kind.config.parameters.q", "{body}");
}
