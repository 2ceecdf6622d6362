//! The MCP servers a workspace registered, as runners use them: a Tool node naming a registered
//! server, and an LLM node's tool-calling loop, list a server's tools and call one through this
//! port. The adapter behind it (rmcp clients, pooled per server) is `adapters::mcp`.

use crate::domain::access::Scope;
use serde_json::Value;
use std::time::Duration;

/// One tool a server offers, as its `tools/list` answer describes it (MCP specification,
/// 2025-06-18, "Tools").
#[derive(Clone, Debug, PartialEq)]
pub struct McpToolInfo {
    pub name: String,
    pub description: Option<String>,
    /// The tool's `inputSchema`, a JSON Schema object.
    pub input_schema: Value,
}

/// Why a listing or a call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum McpError {
    /// No server of that name in the workspace.
    #[error("no MCP server named '{0}' is registered in this workspace")]
    UnknownServer(String),
    #[error("MCP server '{server}' has no tool named '{tool}'")]
    UnknownTool { server: String, tool: String },
    /// The arguments fail the tool's input schema; every problem with its JSON path.
    #[error("arguments for MCP tool '{tool}' do not match its input schema: {problems}")]
    InvalidArguments { tool: String, problems: String },
    /// The server could not be reached or broke off; worth another attempt.
    #[error("MCP server '{server}' is unavailable: {reason}")]
    Unavailable { server: String, reason: String, retry_after: Option<Duration> },
    /// The tool ran and reported an error (`isError: true`), or the server answered a JSON-RPC
    /// error.
    #[error("MCP tool '{tool}' failed: {message}")]
    ToolFailed { tool: String, message: String },
}

impl McpError {
    /// Whether another attempt may succeed.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// The registered MCP servers of every workspace, reachable by name.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait McpTools: Send + Sync {
    /// Whether `server` names a registered server of the workspace.
    async fn is_registered(&self, scope: Scope, server: &str) -> bool;

    /// The tools of a registered server.
    ///
    /// # Errors
    /// [`McpError::UnknownServer`], or [`McpError::Unavailable`].
    async fn tools(&self, scope: Scope, server: &str) -> Result<Vec<McpToolInfo>, McpError>;

    /// Calls `tool` with `arguments` (a JSON object, checked against the tool's input schema
    /// first). The result is the tool's structured content when it gave one, else its content
    /// blocks (`{"content": [...]}`).
    ///
    /// # Errors
    /// Any [`McpError`].
    async fn call(&self, scope: Scope, server: &str, tool: &str, arguments: Value) -> Result<Value, McpError>;
}
