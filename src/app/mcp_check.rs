//! The save-time check of Tool nodes that name an MCP server: the server must be registered in
//! the workspace; when it answers (within a few seconds), the tool must exist and parameters
//! without templates must fit its input schema (with templates, its required properties must be
//! there). LLM nodes' MCP tools (`"mcp:SERVER"`, `"mcp:SERVER/TOOL"`, `{"type": "mcp", ...}`) are
//! held to the same rules: the server registered, a named tool offered. An unreachable server is
//! not a reason to refuse the workflow: the run will tell.

use crate::domain::access::Scope;
use crate::domain::mcp::{argument_problems, is_server_name};
use crate::domain::valid::ValidWorkflow;
use crate::domain::validation::Problem;
use crate::domain::workflow::NodeKind;
use crate::ports::{McpToolInfo, McpTools};
use serde_json::Value;
use std::time::Duration;

/// How long a save waits for a server's tool list.
const REACH: Duration = Duration::from_secs(5);

pub(super) async fn tool_problems(mcp: &dyn McpTools, scope: Scope, workflow: &ValidWorkflow) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, node) in workflow.workflow().nodes.iter().enumerate() {
        if let NodeKind::Llm(config) = &node.kind {
            for (j, (server, tool)) in config.tools.iter().enumerate().filter_map(|(j, t)| Some((j, mcp_reference(t)?)))
            {
                if let Err((_, text)) = find_tool(mcp, scope, &server, tool.as_deref()).await {
                    problems.push(Problem {
                        node_id: Some(node.id.clone()),
                        path: format!("workflow.nodes[{i}].kind.config.tools[{j}]"),
                        problem: format!("Node {}: tools[{j}]: {text}", node.id),
                    });
                }
            }
            continue;
        }
        let NodeKind::Tool(config) = &node.kind else { continue };
        if !is_server_name(&config.server_id) {
            continue;
        }
        let mut report = |field: &str, text: String| {
            problems.push(Problem {
                node_id: Some(node.id.clone()),
                path: format!("workflow.nodes[{i}].kind.config.{field}"),
                problem: format!("Node {}: {text}", node.id),
            });
        };
        let tool = match find_tool(mcp, scope, &config.server_id, Some(&config.tool_name)).await {
            Ok(Some(tool)) => tool,
            Ok(None) => continue,
            Err((field, text)) => {
                let hint = if field == "server_id" { ", or give an HTTP tool's http(s) base URL" } else { "" };
                report(field, format!("{text}{hint}"));
                continue;
            }
        };
        let parameters =
            if config.parameters.is_null() { Value::Object(serde_json::Map::new()) } else { config.parameters.clone() };
        if has_template(&parameters) {
            let required = tool.input_schema.get("required").and_then(Value::as_array).cloned().unwrap_or_default();
            for name in required.iter().filter_map(Value::as_str) {
                if parameters.get(name).is_none() {
                    report(&format!("parameters.{name}"), format!("tool '{}' requires parameter '{name}'", tool.name));
                }
            }
        } else {
            for (path, text) in argument_problems(&tool.input_schema, &parameters) {
                let field = if path.is_empty() { "parameters".to_owned() } else { format!("parameters.{path}") };
                report(&field, format!("{field}: {text}"));
            }
        }
    }
    problems
}

/// The server and tool an LLM node's `tools` entry names, when it is a well-formed MCP reference
/// (malformed entries are the LLM runner's check to report).
fn mcp_reference(entry: &Value) -> Option<(String, Option<String>)> {
    let (server, tool) = match entry {
        Value::String(text) => {
            let rest = text.strip_prefix("mcp:")?;
            match rest.split_once('/') {
                Some((server, tool)) => (server.trim().to_owned(), Some(tool.trim().to_owned())),
                None => (rest.trim().to_owned(), None),
            }
        }
        Value::Object(map) if map.get("type").and_then(Value::as_str) == Some("mcp") => {
            (map.get("server")?.as_str()?.to_owned(), map.get("tool").and_then(Value::as_str).map(str::to_owned))
        }
        _ => return None,
    };
    (!server.is_empty() && tool.as_deref() != Some("")).then_some((server, tool))
}

/// The tool `server` offers under the name `tool`: `Ok(None)` when no tool is named or the server
/// does not answer in time, `Err((field, text))` when the server is not registered
/// (`server_id`) or offers no such tool (`tool_name`).
async fn find_tool(
    mcp: &dyn McpTools,
    scope: Scope,
    server: &str,
    tool: Option<&str>,
) -> Result<Option<McpToolInfo>, (&'static str, String)> {
    if !mcp.is_registered(scope, server).await {
        return Err((
            "server_id",
            format!(
                "no MCP server named '{server}' is registered in this workspace (register it with POST /api/v1/mcp/servers/register)"
            ),
        ));
    }
    let Some(tool) = tool else { return Ok(None) };
    let Ok(Ok(tools)) = tokio::time::timeout(REACH, mcp.tools(scope, server)).await else { return Ok(None) };
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    let missing = format!("MCP server '{server}' has no tool named '{tool}' (it has: {})", names.join(", "));
    tools.into_iter().find(|t| t.name == tool).map(Some).ok_or(("tool_name", missing))
}

/// Whether a string in `value` is a template (rendered when the node runs).
fn has_template(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains("{{") || s.contains("{%"),
        Value::Array(items) => items.iter().any(has_template),
        Value::Object(map) => map.values().any(has_template),
        _ => false,
    }
}
