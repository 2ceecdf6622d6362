//! The Tool runner: a Tool node whose `server_id` is an http(s) base URL makes a real HTTP call
//! (the seed's fallback); one naming an MCP server fails as not available yet.

use super::arguments::{render_headers, render_parameters};
use super::http_target::HttpTarget;
use super::http_tool::HttpTool;
use super::request::{HttpRequest, header_name_problem};
use crate::domain::workflow::{McpConfig, Node, NodeKind};
use crate::ports::{ConfigProblem, NodeInput, NodeOutput, NodeRunner, RunnerError};
use reqwest::Url;
use tokio_util::sync::CancellationToken;

/// Runs `Tool` nodes.
pub struct ToolRunner {
    http: HttpTool,
}

impl ToolRunner {
    #[must_use]
    pub fn new(http: HttpTool) -> Self {
        Self { http }
    }
}

/// The HTTP target of a Tool node.
fn http_target(config: &McpConfig) -> Result<HttpTarget, ConfigProblem> {
    HttpTarget::parse(&config.server_id, &config.tool_name)?.ok_or_else(|| {
        ConfigProblem::at(
            "server_id",
            format!(
                "server_id '{}' names an MCP server, and MCP tools are not available on this server yet; an HTTP tool's server_id is an http(s) base URL",
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
        match http_target(config) {
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
