//! The save-time check of Tool nodes that name an MCP server: the server must be registered in
//! the workspace; when it answers (within a few seconds), the tool must exist and parameters
//! without templates must fit its input schema (with templates, its required properties must be
//! there). An unreachable server is not a reason to refuse the workflow: the run will tell.

use crate::domain::access::Scope;
use crate::domain::mcp::{argument_problems, is_server_name};
use crate::domain::valid::ValidWorkflow;
use crate::domain::validation::Problem;
use crate::domain::workflow::NodeKind;
use crate::ports::McpTools;
use serde_json::Value;
use std::time::Duration;

/// How long a save waits for a server's tool list.
const REACH: Duration = Duration::from_secs(5);

pub(super) async fn tool_problems(mcp: &dyn McpTools, scope: Scope, workflow: &ValidWorkflow) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, node) in workflow.workflow().nodes.iter().enumerate() {
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
        let server = &config.server_id;
        if !mcp.is_registered(scope, server).await {
            report(
                "server_id",
                format!(
                    "no MCP server named '{server}' is registered in this workspace (register it with POST /api/v1/mcp/servers/register, or give an HTTP tool's http(s) base URL)"
                ),
            );
            continue;
        }
        let Ok(Ok(tools)) = tokio::time::timeout(REACH, mcp.tools(scope, server)).await else { continue };
        let Some(tool) = tools.iter().find(|t| t.name == config.tool_name) else {
            let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
            report(
                "tool_name",
                format!(
                    "MCP server '{server}' has no tool named '{}' (it has: {})",
                    config.tool_name,
                    names.join(", ")
                ),
            );
            continue;
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

/// Whether a string in `value` is a template (rendered when the node runs).
fn has_template(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains("{{") || s.contains("{%"),
        Value::Array(items) => items.iter().any(has_template),
        Value::Object(map) => map.values().any(has_template),
        _ => false,
    }
}
