//! MCP tools through the real server: the test server (`examples/mcp_test_server.rs`) registered
//! over stdio and streamable HTTP, its tools listed and invoked, bad arguments refused with every
//! problem listed, calls and errors counted, servers restarted mid-run, and a workflow whose Tool
//! node names a registered server.

#[path = "../common/mcp_server.rs"]
mod mcp_server;

use crate::{Harness, chain, config, harness, node, tool};
use mcp_server::{HttpServer, binary};
use oxify_api::startup::config::Config;
use serde_json::{Value, json};

/// Loopback opened (the HTTP test server), the test server allowed as a stdio command.
fn mcp_config() -> Config {
    let mut config = config();
    config.http_allow = "127.0.0.1".into();
    config.mcp_stdio_allow = binary();
    config.mcp_connect_timeout_secs = 10;
    config.mcp_call_timeout_secs = 10;
    config
}

fn stdio(name: &str) -> Value {
    json!({"name": name, "transport": "stdio", "command": binary(), "env": {"MODE": "test"}})
}

fn streamable(name: &str, url: &str) -> Value {
    json!({"name": name, "transport": "streamable_http", "url": url, "headers": {"X-Token": "plain-value"}})
}

async fn register(h: &Harness, body: Value) {
    let (status, reply) = h.post("/api/v1/mcp/servers/register", body).await;
    assert_eq!(status, 201, "{reply}");
}

async fn invoke(h: &Harness, server: &str, tool: &str, arguments: Value) -> (u16, Value) {
    h.post("/api/v1/mcp/tools/invoke", json!({"server": server, "tool": tool, "arguments": arguments})).await
}

async fn pid(h: &Harness, server: &str) -> u64 {
    let (status, reply) = invoke(h, server, "pid", json!({})).await;
    assert_eq!(status, 200, "{reply}");
    reply["result"]["pid"].as_u64().expect("a pid")
}

#[tokio::test]
async fn servers_of_both_transports_are_registered_listed_and_their_tools_called() {
    let http_server = HttpServer::start().await;
    let h = harness(mcp_config()).await;
    register(&h, stdio("local")).await;
    register(&h, streamable("remote", &http_server.url())).await;

    let listed = h.get("/api/v1/mcp/servers").await;
    assert_eq!(listed["total"], 2, "{listed}");
    assert_eq!(listed["servers"][0]["name"], "local");
    assert_eq!(listed["servers"][0]["transport"], "stdio");
    assert_eq!(listed["servers"][0]["env"], json!({"MODE": "***"}), "env values are never shown");
    assert_eq!(listed["servers"][1]["transport"], "streamable_http");
    assert_eq!(listed["servers"][1]["headers"], json!({"X-Token": "***"}), "header values are never shown");

    for server in ["local", "remote"] {
        let (status, tools) = h.post("/api/v1/mcp/tools", json!({"server": server})).await;
        assert_eq!(status, 200, "{tools}");
        let names: Vec<&str> = tools["tools"].as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
        assert_eq!(names, ["add", "fail", "echo", "pid", "sleep"], "{tools}");
        assert_eq!(tools["tools"][0]["input_schema"]["required"], json!(["a", "b"]));

        let (status, sum) = invoke(&h, server, "add", json!({"a": 2, "b": 40})).await;
        assert_eq!((status, &sum["result"]), (200, &json!({"sum": 42.0})), "{sum}");
        let (status, echoed) = invoke(&h, server, "echo", json!({"word": "hi"})).await;
        assert_eq!(status, 200, "{echoed}");
        assert_eq!(echoed["result"]["content"][0]["text"], "{\"word\":\"hi\"}", "{echoed}");
        let (status, failed) = invoke(&h, server, "fail", json!({})).await;
        assert_eq!((status, &failed["is_error"]), (200, &json!(true)), "{failed}");
        assert_eq!(failed["error"], "the tool failed on purpose");
    }
}

#[tokio::test]
async fn bad_arguments_unknown_servers_and_tools_and_disallowed_commands_are_refused() {
    let h = harness(mcp_config()).await;
    register(&h, stdio("calc")).await;
    let (status, reply) = invoke(&h, "calc", "add", json!({"a": "one", "c": 3})).await;
    assert_eq!(status, 400, "{reply}");
    // Every problem: `a` is no number, `b` is missing, `c` is not allowed.
    let problems: Vec<(&str, &str)> = reply["details"]
        .as_array()
        .expect("the problems")
        .iter()
        .map(|p| (p["path"].as_str().unwrap_or_default(), p["problem"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(problems.len(), 3, "{reply}");
    assert!(problems.iter().any(|(path, problem)| *path == "arguments.a" && problem.contains("number")), "{reply}");
    assert!(problems.iter().any(|(path, problem)| *path == "arguments" && problem.contains("\"b\"")), "{reply}");
    assert!(problems.iter().any(|(path, problem)| *path == "arguments" && problem.contains("'c'")), "{reply}");

    let (status, reply) = invoke(&h, "nobody", "add", json!({"a": 1, "b": 2})).await;
    assert_eq!((status, reply["error"].as_str()), (404, Some("NotFound")), "{reply}");
    let (status, reply) = h.post("/api/v1/mcp/tools", json!({"server": "nobody"})).await;
    assert_eq!(status, 404, "{reply}");
    let (status, reply) = invoke(&h, "calc", "divide", json!({})).await;
    assert_eq!(status, 404, "{reply}");
    assert!(reply["message"].as_str().unwrap_or_default().contains("divide"), "{reply}");

    let (status, reply) =
        h.post("/api/v1/mcp/servers/register", json!({"name": "sh", "transport": "stdio", "command": "/bin/sh"})).await;
    assert_eq!(status, 403, "{reply}");
    assert!(reply["message"].as_str().unwrap_or_default().contains("allow list"), "{reply}");
    let (status, reply) = h.post("/api/v1/mcp/servers/register", stdio("calc")).await;
    assert_eq!(status, 409, "{reply}");
    let (status, reply) = h
        .post("/api/v1/mcp/servers/register", json!({"name": "9bad", "transport": "streamable_http", "url": "ftp://x"}))
        .await;
    assert_eq!(status, 400, "{reply}");
    assert!(reply.to_string().contains("name") && reply.to_string().contains("ftp://x"), "both problems: {reply}");
}

#[tokio::test]
async fn a_private_address_needs_the_allow_list() {
    let mut closed = mcp_config();
    closed.http_allow = String::new();
    let h = harness(closed).await;
    let (status, reply) = h.post("/api/v1/mcp/servers/register", streamable("inside", "http://127.0.0.1:9/mcp")).await;
    assert_eq!(status, 400, "{reply}");
}

#[tokio::test]
async fn stats_count_calls_and_errors_and_unregistering_forgets_the_server() {
    let h = harness(mcp_config()).await;
    register(&h, stdio("calc")).await;
    invoke(&h, "calc", "add", json!({"a": 1, "b": 2})).await;
    invoke(&h, "calc", "fail", json!({})).await;
    invoke(&h, "calc", "add", json!({"a": 1, "b": 2})).await;
    let stats = h.get("/api/v1/mcp/stats").await;
    assert_eq!(stats["servers"][0]["calls"], 3, "{stats}");
    assert_eq!(stats["servers"][0]["errors"], 1, "{stats}");
    assert_eq!((stats["total_calls"].as_u64(), stats["total_errors"].as_u64()), (Some(3), Some(1)), "{stats}");
    assert!(stats["servers"][0]["last_used_at"].is_string(), "{stats}");

    let gone = h.http.delete(format!("{}/api/v1/mcp/servers/unregister?name=calc", h.base)).send().await.unwrap();
    assert_eq!(gone.status(), 200);
    let again = h.http.delete(format!("{}/api/v1/mcp/servers/unregister", h.base)).json(&json!({"name": "calc"}));
    assert_eq!(again.send().await.unwrap().status(), 404);
    assert_eq!(h.get("/api/v1/mcp/servers").await["total"], 0);
    let (status, _) = invoke(&h, "calc", "add", json!({"a": 1, "b": 2})).await;
    assert_eq!(status, 404);
    let audit = h.get("/api/v1/audit").await.to_string();
    assert!(audit.contains("mcp_server.registered") && audit.contains("mcp_server.unregistered"), "{audit}");
}

#[tokio::test]
async fn a_restarted_http_server_is_reached_again() {
    let mut server = HttpServer::start().await;
    let h = harness(mcp_config()).await;
    register(&h, streamable("remote", &server.url())).await;
    let before = pid(&h, "remote").await;
    server.restart().await;
    let after = pid(&h, "remote").await;
    assert_ne!(before, after, "the call reached the new server");
    let (status, sum) = invoke(&h, "remote", "add", json!({"a": 1, "b": 1})).await;
    assert_eq!((status, &sum["result"]["sum"]), (200, &json!(2.0)), "{sum}");
    server.kill().await;
    let (status, reply) = invoke(&h, "remote", "add", json!({"a": 1, "b": 1})).await;
    assert_eq!(status, 503, "a server that is down is unavailable: {reply}");
}

#[tokio::test]
async fn a_stdio_server_that_dies_is_started_again() {
    let h = harness(mcp_config()).await;
    register(&h, stdio("local")).await;
    let first = pid(&h, "local").await;
    assert_eq!(pid(&h, "local").await, first, "the connection is pooled: one process");
    let killed = std::process::Command::new("kill").args(["-9", &first.to_string()]).status().unwrap();
    assert!(killed.success());
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let second = pid(&h, "local").await;
    assert_ne!(first, second, "a new process answered");
}

#[tokio::test]
async fn a_workflow_calls_a_registered_server_through_its_tool_node() {
    let server = HttpServer::start().await;
    let h = harness(mcp_config()).await;
    register(&h, streamable("calc", &server.url())).await;
    register(&h, stdio("local")).await;
    let add = tool("add", "calc", "add", json!({"a": "{{ x }}", "b": 2}));
    let echo = tool("echo", "local", "echo", json!({"sum": "{{ nodes.add.output.sum }}"}));
    let execution = h.start(chain(vec![add, echo]), json!({"x": 40})).await;
    let run = h.finished(&execution).await;
    assert_eq!(run["state"], "Completed", "{run}");
    assert_eq!(node(&run, "add")["output"]["sum"].as_f64(), Some(42.0), "{run}");
    let echoed = node(&run, "echo")["output"]["content"][0]["text"].as_str().unwrap_or_default();
    assert!(echoed.starts_with("{\"sum\":42"), "the second node got the first one's sum: {run}");
    let stats = h.get("/api/v1/mcp/stats").await;
    assert_eq!(stats["total_calls"], 2, "{stats}");

    // A tool that reports an error fails its node, for good.
    let execution = h.start(chain(vec![tool("bad", "calc", "fail", json!({}))]), json!({})).await;
    let run = h.finished(&execution).await;
    assert_eq!(run["state"], "Failed", "{run}");
    assert!(node(&run, "bad")["error"].as_str().unwrap_or_default().contains("failed on purpose"), "{run}");
}

#[tokio::test]
async fn a_tool_node_is_checked_against_the_workspace_servers_when_saved() {
    let h = harness(mcp_config()).await;
    register(&h, stdio("calc")).await;
    let cases = [
        (tool("t", "nobody", "add", json!({"a": 1, "b": 2})), "no MCP server named 'nobody'"),
        (tool("t", "calc", "divide", json!({})), "no tool named 'divide'"),
        (tool("t", "calc", "add", json!({"a": "one"})), "parameters"),
        (tool("t", "calc", "add", json!({"a": "{{ x }}"})), "requires parameter 'b'"),
    ];
    for (node, expected) in cases {
        let (status, reply) = h.post("/api/v1/workflows", chain(vec![node])).await;
        assert_eq!(status, 400, "{reply}");
        assert!(reply.to_string().contains(expected), "{expected}: {reply}");
    }
    let (status, reply) =
        h.post("/api/v1/workflows", chain(vec![tool("t", "calc", "add", json!({"a": "{{ x }}", "b": 2}))])).await;
    assert_eq!(status, 201, "{reply}");
}
