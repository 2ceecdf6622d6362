//! MCP server use cases: register, list, unregister the servers of a workspace, list a server's
//! tools, invoke one, and read the calls and errors counted.

use super::error::ServiceError;
use crate::domain::access::Scope;
use crate::domain::mcp::{
    McpServer, McpServerStats, McpTransport, argument_problems, name_problem, transport_problems,
};
use crate::domain::validation::{Problem, ValidationError};
use crate::ports::{Clock, McpConnector, McpError, McpServerStore, McpToolInfo};
use serde_json::Value;
use std::sync::Arc;

/// What an invoked tool answered.
#[derive(Clone, Debug, PartialEq)]
pub enum Invoked {
    /// The tool's structured content, or `{"content": [...]}`.
    Result(Value),
    /// The tool ran and reported an error (`isError`), or the server answered a JSON-RPC error.
    ToolError(String),
}

/// Registered MCP servers, per workspace.
pub struct McpService {
    store: Arc<dyn McpServerStore>,
    /// `None` in a build without the MCP adapter: servers can be listed but not reached.
    tools: Option<Arc<dyn McpConnector>>,
    clock: Arc<dyn Clock>,
}

fn problem(path: &str, text: impl Into<String>) -> Problem {
    Problem { node_id: None, path: path.to_owned(), problem: text.into() }
}

impl McpService {
    #[must_use]
    pub fn new(store: Arc<dyn McpServerStore>, tools: Option<Arc<dyn McpConnector>>, clock: Arc<dyn Clock>) -> Self {
        Self { store, tools, clock }
    }

    fn tools(&self) -> Result<&Arc<dyn McpConnector>, ServiceError> {
        self.tools
            .as_ref()
            .ok_or_else(|| ServiceError::Unavailable("MCP servers are not available on this server".into()))
    }

    /// Registers a server under `name`.
    ///
    /// # Errors
    /// `Validation` (a bad name, URL, header or command, every problem listed), `Forbidden` (a
    /// stdio command this server does not allow), `BadRequest` (an address the SSRF guard
    /// refuses), `Conflict` (the name is taken in the workspace), storage failures.
    pub async fn register(&self, scope: Scope, name: &str, transport: McpTransport) -> Result<McpServer, ServiceError> {
        let mut problems: Vec<Problem> = name_problem(name).map(|p| problem("name", p)).into_iter().collect();
        for text in transport_problems(&transport) {
            let path = text.split_once(':').map_or("transport", |(path, _)| path).to_owned();
            problems.push(problem(&path, text));
        }
        if !problems.is_empty() {
            return Err(ValidationError { problems }.into());
        }
        if let Some(refusal) = self.tools()?.refusal(&transport) {
            return Err(match transport {
                McpTransport::Stdio { .. } => ServiceError::Forbidden(refusal),
                McpTransport::StreamableHttp { .. } => ServiceError::BadRequest(refusal),
            });
        }
        let server = McpServer {
            name: name.to_owned(),
            transport,
            created_at: self.clock.now(),
            stats: McpServerStats::default(),
        };
        self.store.insert_mcp_server(scope, &server).await?;
        Ok(server)
    }

    /// # Errors
    /// `NotFound` when the workspace has no such server; storage failures.
    pub async fn unregister(&self, scope: Scope, name: &str) -> Result<(), ServiceError> {
        self.store.delete_mcp_server(scope, name).await?;
        if let Some(tools) = &self.tools {
            tools.forget(scope, name);
        }
        Ok(())
    }

    /// The workspace's servers, by name.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn list(&self, scope: Scope) -> Result<Vec<McpServer>, ServiceError> {
        Ok(self.store.mcp_servers(scope).await?)
    }

    /// The tools a server offers, with their input schemas.
    ///
    /// # Errors
    /// `NotFound` (no such server in the workspace), `Unavailable` (the server cannot be
    /// reached).
    pub async fn server_tools(&self, scope: Scope, name: &str) -> Result<Vec<McpToolInfo>, ServiceError> {
        self.tools()?.tools(scope, name).await.map_err(service_error)
    }

    /// Calls `tool` of the server with `arguments`, checked against the tool's input schema
    /// first (every problem listed).
    ///
    /// # Errors
    /// `NotFound` (no such server, or no such tool), `Validation` (arguments that do not fit
    /// the schema), `Unavailable` (the server cannot be reached).
    pub async fn invoke(
        &self,
        scope: Scope,
        name: &str,
        tool: &str,
        arguments: Value,
    ) -> Result<Invoked, ServiceError> {
        let tools = self.tools()?;
        let listed = tools.tools(scope, name).await.map_err(service_error)?;
        let info = listed
            .iter()
            .find(|t| t.name == tool)
            .ok_or_else(|| service_error(McpError::UnknownTool { server: name.to_owned(), tool: tool.to_owned() }))?;
        let problems = argument_problems(&info.input_schema, &arguments);
        if !problems.is_empty() {
            let problems = problems
                .into_iter()
                .map(|(path, text)| {
                    let path = if path.is_empty() { "arguments".to_owned() } else { format!("arguments.{path}") };
                    problem(&path, format!("{path}: {text}"))
                })
                .collect();
            return Err(ValidationError { problems }.into());
        }
        match tools.call(scope, name, tool, arguments).await {
            Ok(value) => Ok(Invoked::Result(value)),
            Err(McpError::ToolFailed { message, .. }) => Ok(Invoked::ToolError(message)),
            Err(e) => Err(service_error(e)),
        }
    }
}

/// The service error a port error is, as HTTP shows it.
fn service_error(e: McpError) -> ServiceError {
    match e {
        McpError::UnknownServer(_) | McpError::UnknownTool { .. } => ServiceError::NotFound(e.to_string()),
        McpError::InvalidArguments { .. } => ServiceError::BadRequest(e.to_string()),
        McpError::Unavailable { .. } => ServiceError::Unavailable(e.to_string()),
        McpError::ToolFailed { .. } => ServiceError::BadRequest(e.to_string()),
    }
}
