//! The MCP servers a workspace registered, as runners use them: a Tool node naming a registered
//! server, and an LLM node's tool-calling loop, list a server's tools and call one through this
//! port. The adapter behind it (rmcp clients, pooled per server) is `adapters::mcp`.

use super::secret_store::SecretSource;
use super::store_error::StoreError;
use crate::domain::access::Scope;
use crate::domain::mcp::{McpServer, McpTransport};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::sync::Arc;
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

/// The MCP servers each workspace registered, by name.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait McpServerStore: Send + Sync {
    /// Stores a new server (its stats as given, normally zero).
    ///
    /// # Errors
    /// - MUST return [`StoreError::Conflict`] when the workspace has a server of that name.
    async fn insert_mcp_server(&self, scope: Scope, server: &McpServer) -> Result<(), StoreError>;

    /// # Errors
    /// Storage failures only (`None` when the workspace has no such server).
    async fn mcp_server(&self, scope: Scope, name: &str) -> Result<Option<McpServer>, StoreError>;

    /// The workspace's servers, by name.
    ///
    /// # Errors
    /// Storage failures.
    async fn mcp_servers(&self, scope: Scope) -> Result<Vec<McpServer>, StoreError>;

    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when the workspace has no such server.
    async fn delete_mcp_server(&self, scope: Scope, name: &str) -> Result<(), StoreError>;

    /// Counts one call of the server's tools at `at`, and one error when `failed`.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when the workspace has no such server.
    async fn record_mcp_call(
        &self,
        scope: Scope,
        name: &str,
        failed: bool,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// The MCP adapter as the composition root sees it: built with the runners, before storage is
/// open, then attached to the registered servers and the secrets their headers name.
pub trait McpConnector: McpTools {
    /// Where the registered servers and the workspace secrets are. Until called, no server is
    /// registered anywhere.
    fn attach(&self, servers: Arc<dyn McpServerStore>, secrets: Arc<dyn SecretSource>);

    /// Why this server refuses to reach `transport` (a stdio command not on the allow list, an
    /// address the SSRF guard refuses), or `None`.
    fn refusal(&self, transport: &McpTransport) -> Option<String>;

    /// Closes the pooled connection to the server, if any (it was unregistered).
    fn forget(&self, scope: Scope, server: &str);
}
