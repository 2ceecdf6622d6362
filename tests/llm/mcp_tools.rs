//! The LLM tool loop calling a registered MCP server (the test server over stdio): the server's
//! tools offered to the model with their input schemas, calls answered (a tool error goes back
//! to the model as an error result), and references to unregistered servers or missing tools
//! refused when the workflow is saved.

#[path = "../common/mcp_server.rs"]
mod mcp_server;

use crate::provider::{Reply, calls, openai};
use crate::{Harness, chain, harness, llm, node};
use mcp_server::binary;
use serde_json::json;

async fn with_calc() -> Harness {
    let h = harness(|c| {
        c.mcp_stdio_allow = binary();
        c.mcp_connect_timeout_secs = 10;
    })
    .await;
    let (status, reply) = h
        .post("/api/v1/mcp/servers/register", json!({"name": "calc", "transport": "stdio", "command": binary()}))
        .await;
    assert_eq!(status, 201, "{reply}");
    h
}

#[tokio::test]
async fn a_registered_servers_tools_are_offered_and_called() {
    let h = with_calc().await;
    h.provider.script([
        Reply::OpenAiTools {
            calls: calls(&[("c1", "add", json!({"a": 2, "b": 3})), ("c2", "fail", json!({}))]),
            usage: (10, 5),
        },
        openai("2 + 3 = 5"),
    ]);
    let agent = llm("agent", "openai", "Add 2 and 3", json!({"tools": ["mcp:calc"]}));
    let run = h.finished(&h.start(chain(vec![agent]), json!({})).await).await;
    assert_eq!(run["state"], "Completed", "{run}");
    let output = &node(&run, "agent")["output"];
    assert_eq!(output["response"], "2 + 3 = 5");
    assert!(output["tool_results"][0]["result"].to_string().contains('5'), "{output}");
    assert!(output["tool_results"][1]["error"].is_string(), "the failing tool's error: {output}");

    let requests = h.provider.requests();
    let offered: Vec<&str> =
        requests[0].body["tools"].as_array().unwrap().iter().map(|t| t["function"]["name"].as_str().unwrap()).collect();
    for name in ["add", "fail", "echo", "pid", "sleep"] {
        assert!(offered.contains(&name), "{name} offered: {offered:?}");
    }
    let add = requests[0].body["tools"].as_array().unwrap().iter().find(|t| t["function"]["name"] == "add").unwrap();
    assert_eq!(add["function"]["parameters"]["required"], json!(["a", "b"]));
    let messages = requests[1].body["messages"].as_array().unwrap();
    assert_eq!(messages[2]["role"], "tool");
    assert!(messages[2]["content"].as_str().unwrap().contains('5'), "{}", messages[2]);
}

#[tokio::test]
async fn one_named_tool_is_the_only_one_offered() {
    let h = with_calc().await;
    h.provider.script([
        Reply::OpenAiTools { calls: calls(&[("c1", "add", json!({"a": 1, "b": 1}))]), usage: (1, 1) },
        openai("two"),
    ]);
    let agent = llm("agent", "openai", "Add", json!({"tools": [{"type": "mcp", "server": "calc", "tool": "add"}]}));
    let run = h.finished(&h.start(chain(vec![agent]), json!({})).await).await;
    assert_eq!(run["state"], "Completed", "{run}");
    let requests = h.provider.requests();
    assert_eq!(requests[0].body["tools"].as_array().unwrap().len(), 1);
    assert_eq!(requests[0].body["tools"][0]["function"]["name"], "add");
}

#[tokio::test]
async fn unregistered_servers_and_missing_tools_are_refused_at_save() {
    let h = with_calc().await;
    let agent = llm("agent", "openai", "x", json!({"tools": ["mcp:ghost", "mcp:calc/nope", "mcp:calc/add"]}));
    let (status, body) = h.post("/api/v1/workflows", chain(vec![agent])).await;
    assert_eq!(status, 400, "{body}");
    let text = body.to_string();
    assert!(text.contains("tools[0]") && text.contains("ghost"), "{text}");
    assert!(text.contains("tools[1]") && text.contains("nope"), "{text}");
    assert!(!text.contains("tools[2]"), "a tool the server offers is fine: {text}");
}
