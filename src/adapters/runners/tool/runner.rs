//! The Tool runner: a Tool node whose `server_id` names an MCP server registered in the
//! execution's workspace calls `tool_name` through the MCP port with the rendered `parameters`;
//! one whose `server_id` is an http(s) base URL makes a real HTTP call (the seed's fallback).

use super::arguments::{render_headers, render_parameters};
use super::http_target::HttpTarget;
use super::http_tool::HttpTool;
use super::request::{HttpRequest, header_name_problem};
use crate::domain::mcp::name_problem;
use crate::domain::workflow::{McpConfig, Node, NodeKind};
use crate::ports::{ConfigProblem, McpError, McpTools, NodeInput, NodeOutput, NodeRunner, RunnerError};
use reqwest::Url;
use serde_json::Value;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Runs `Tool` nodes.
pub struct ToolRunner {
    http: HttpTool,
    /// The registered MCP servers; `None` in a build without them.
    mcp: Option<Arc<dyn McpTools>>,
}

impl ToolRunner {
    #[must_use]
    pub fn new(http: HttpTool) -> Self {
        Self { http, mcp: None }
    }

    /// Tool nodes naming a registered server call it through `mcp`.
    #[must_use]
    pub fn with_mcp(mut self, mcp: Arc<dyn McpTools>) -> Self {
        self.mcp = Some(mcp);
        self
    }

    async fn call_mcp(
        &self,
        mcp: &dyn McpTools,
        input: &NodeInput,
        config: &McpConfig,
    ) -> Result<NodeOutput, RunnerError> {
        let arguments = match render_parameters(&config.parameters, &input.data).map_err(RunnerError::Permanent)? {
            Value::Null => Value::Object(serde_json::Map::new()),
            other => other,
        };
        match mcp.call(input.scope, &config.server_id, &config.tool_name, arguments).await {
            Ok(value) => Ok(NodeOutput::of(value)),
            Err(e @ McpError::Unavailable { retry_after, .. }) => {
                Err(RunnerError::Retryable { retry_after, message: e.to_string() })
            }
            Err(e) => Err(RunnerError::Permanent(e.to_string())),
        }
    }
}

/// The HTTP target of a Tool node whose `server_id` names no registered MCP server.
fn http_target(config: &McpConfig) -> Result<HttpTarget, ConfigProblem> {
    HttpTarget::parse(&config.server_id, &config.tool_name)?.ok_or_else(|| {
        ConfigProblem::at(
            "server_id",
            format!(
                "no MCP server named '{}' is registered in this workspace, and an HTTP tool's server_id is an http(s) base URL",
                config.server_id
            ),
        )
    })
}

#[async_trait::async_trait]
impl NodeRunner for ToolRunner {
    async fn run(&self, input: NodeInput, cancel: CancellationToken) -> Result<NodeOutput, RunnerError> {
        let node = input.node();
        let NodeKind::Tool(config) = &node.kind else {
            return Err(RunnerError::Permanent(format!("node {} is not a Tool node", node.id)));
        };
        if let Some(mcp) = &self.mcp
            && crate::domain::mcp::is_server_name(&config.server_id)
            && mcp.is_registered(input.scope, &config.server_id).await
        {
            return tokio::select! {
                result = self.call_mcp(mcp.as_ref(), &input, config) => result,
                () = cancel.cancelled() => Err(RunnerError::Permanent("cancelled".into())),
            };
        }
        let target = http_target(config).map_err(|p| RunnerError::Permanent(p.problem))?;
        let arguments = render_parameters(&config.parameters, &input.data).map_err(RunnerError::Permanent)?;
        let headers = render_headers(&config.headers, &input.data).map_err(RunnerError::Permanent)?;
        let request = HttpRequest::build(&target, arguments, &headers).map_err(RunnerError::Permanent)?;
        tokio::select! {
            result = self.http.call(request) => result.map(NodeOutput::of),
            () = cancel.cancelled() => Err(RunnerError::Permanent("cancelled".into())),
        }
    }

    fn check(&self, node: &Node) -> Vec<ConfigProblem> {
        let NodeKind::Tool(config) = &node.kind else { return Vec::new() };
        let id = &node.id;
        let mut problems = Vec::new();
        // A server name is checked against the workspace's servers when the workflow is saved
        // (the check there knows the workspace; this one does not).
        let named = crate::domain::mcp::is_server_name(&config.server_id);
        match http_target(config) {
            Err(_) if named && self.mcp.is_some() => {
                if let Some(problem) = name_problem(&config.server_id) {
                    problems.push(ConfigProblem::at("server_id", problem));
                }
            }
            Err(p) => problems.push(p),
            // An IP literal is judged now; a name as it resolves, when the node runs.
            Ok(target) => {
                if let Ok(Err(refused)) = Url::parse(&target.base).map(|url| self.http.guard().check_url(&url)) {
                    problems.push(ConfigProblem::at("server_id", format!("server_id: {refused}")));
                }
            }
        }
        for name in config.headers.keys() {
            if let Some(problem) = header_name_problem(name) {
                problems.push(ConfigProblem::at(format!("headers.{name}"), problem));
            }
        }
        for p in &mut problems {
            p.problem = format!("Node {id}: {}", p.problem);
        }
        problems
    }
}
