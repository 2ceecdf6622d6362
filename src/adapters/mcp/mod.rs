//! The MCP adapter: rmcp clients of the servers each workspace registered, pooled per
//! (workspace, server). A call that finds its connection dead (the server restarted, the stdio
//! process died) connects again once and retries; arguments are checked against the tool's input
//! schema first; every call is counted in the server's stats.

mod connection;
mod outcome;

use crate::adapters::outgoing::AddressGuard;
use crate::domain::access::Scope;
use crate::domain::ids::WorkspaceId;
use crate::domain::mcp::{McpServer, McpTransport, argument_problems, describe_problems};
use crate::ports::{McpConnector, McpError, McpServerStore, McpToolInfo, McpTools, SecretSource};
use connection::Connection;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// How servers are reached.
#[derive(Clone, Debug)]
pub struct McpSettings {
    /// Commands a stdio server may run, matched exactly (`OXIFY_MCP_STDIO_ALLOW`).
    pub stdio_allow: Vec<String>,
    /// Starting a server and the initialize handshake, with the tool listing.
    pub connect_timeout: Duration,
    /// One tool call.
    pub call_timeout: Duration,
}

impl Default for McpSettings {
    fn default() -> Self {
        Self {
            stdio_allow: Vec::new(),
            connect_timeout: Duration::from_secs(10),
            call_timeout: Duration::from_secs(60),
        }
    }
}

struct Backing {
    servers: Arc<dyn McpServerStore>,
    secrets: Arc<dyn SecretSource>,
}

type Slot = Arc<tokio::sync::Mutex<Option<Arc<Connection>>>>;

/// The MCP servers of every workspace, reached through pooled rmcp clients.
pub struct McpHub {
    settings: McpSettings,
    guard: Arc<AddressGuard>,
    http: reqwest::Client,
    backing: OnceLock<Backing>,
    /// One slot per (workspace, server): whoever connects holds the slot, so that concurrent
    /// callers wait for one connection rather than each opening their own.
    pool: Mutex<HashMap<(WorkspaceId, String), Slot>>,
}

impl McpHub {
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(settings: McpSettings, guard: Arc<AddressGuard>) -> Result<Self, String> {
        let http = connection::http_client(guard.clone())?;
        Ok(Self { settings, guard, http, backing: OnceLock::new(), pool: Mutex::new(HashMap::new()) })
    }

    fn backing(&self) -> Result<&Backing, McpError> {
        self.backing.get().ok_or_else(|| McpError::Unavailable {
            server: String::new(),
            reason: "MCP servers are not available on this server".into(),
            retry_after: None,
        })
    }

    async fn server(&self, scope: Scope, name: &str) -> Result<McpServer, McpError> {
        let backing = self.backing()?;
        match backing.servers.mcp_server(scope, name).await {
            Ok(Some(server)) => Ok(server),
            Ok(None) => Err(McpError::UnknownServer(name.to_owned())),
            Err(e) => Err(unavailable(name, format!("reading the registration failed: {e}"))),
        }
    }

    fn slot(&self, scope: Scope, name: &str) -> Slot {
        let mut pool = self.pool.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        pool.entry((scope.workspace(), name.to_owned())).or_default().clone()
    }

    /// The pooled connection to the server, opened when there is none, it died, it was opened
    /// for another transport, or it is `stale` (a call just failed on it).
    async fn connection(
        &self,
        scope: Scope,
        server: &McpServer,
        stale: Option<&Arc<Connection>>,
    ) -> Result<Arc<Connection>, McpError> {
        let slot = self.slot(scope, &server.name);
        let mut held = slot.lock().await;
        if let Some(current) = held.as_ref() {
            let is_stale = stale.is_some_and(|s| Arc::ptr_eq(s, current));
            if !is_stale && current.is_alive() && current.transport == server.transport {
                return Ok(current.clone());
            }
        }
        *held = None;
        let backing = self.backing()?;
        let connect =
            connection::connect(&server.transport, scope, backing.secrets.as_ref(), &self.http, &self.settings);
        let opened = match tokio::time::timeout(self.settings.connect_timeout, connect).await {
            Ok(Ok(opened)) => Arc::new(opened),
            Ok(Err(reason)) => return Err(unavailable(&server.name, reason)),
            Err(_) => {
                let secs = self.settings.connect_timeout.as_secs_f64();
                return Err(unavailable(&server.name, format!("connecting took longer than {secs} s")));
            }
        };
        *held = Some(opened.clone());
        Ok(opened)
    }

    /// Calls the tool, connecting again once when the connection turns out dead.
    async fn call_on(&self, scope: Scope, server: &McpServer, tool: &str, arguments: Value) -> Result<Value, McpError> {
        let mut stale: Option<Arc<Connection>> = None;
        loop {
            let conn = self.connection(scope, server, stale.as_ref()).await?;
            let info = conn
                .tools
                .iter()
                .find(|t| t.name == tool)
                .ok_or_else(|| McpError::UnknownTool { server: server.name.clone(), tool: tool.to_owned() })?;
            let problems = argument_problems(&info.input_schema, &arguments);
            if !problems.is_empty() {
                return Err(McpError::InvalidArguments {
                    tool: tool.to_owned(),
                    problems: describe_problems(&problems),
                });
            }
            let call = conn.client.call_tool(outcome::request(tool, &arguments));
            match tokio::time::timeout(self.settings.call_timeout, call).await {
                Ok(Ok(result)) => return outcome::value(tool, result),
                Ok(Err(e)) if stale.is_none() && outcome::is_dead_connection(&e) => {
                    tracing::info!(server = %server.name, error = %e, "MCP connection lost; connecting again");
                    stale = Some(conn);
                }
                Ok(Err(e)) => return Err(outcome::failure(&server.name, tool, e)),
                // Not retried: the tool may have run.
                Err(_) => {
                    let secs = self.settings.call_timeout.as_secs_f64();
                    return Err(unavailable(&server.name, format!("the call to '{tool}' took longer than {secs} s")));
                }
            }
        }
    }
}

fn unavailable(server: &str, reason: String) -> McpError {
    McpError::Unavailable { server: server.to_owned(), reason, retry_after: None }
}

#[async_trait::async_trait]
impl McpTools for McpHub {
    async fn is_registered(&self, scope: Scope, server: &str) -> bool {
        let Ok(backing) = self.backing() else { return false };
        matches!(backing.servers.mcp_server(scope, server).await, Ok(Some(_)))
    }

    async fn tools(&self, scope: Scope, server: &str) -> Result<Vec<McpToolInfo>, McpError> {
        let record = self.server(scope, server).await?;
        Ok(self.connection(scope, &record, None).await?.tools.clone())
    }

    async fn call(&self, scope: Scope, server: &str, tool: &str, arguments: Value) -> Result<Value, McpError> {
        let record = self.server(scope, server).await?;
        let result = self.call_on(scope, &record, tool, arguments).await;
        let backing = self.backing()?;
        let at = chrono::Utc::now();
        if let Err(e) = backing.servers.record_mcp_call(scope, server, result.is_err(), at).await {
            tracing::warn!(server, error = %e, "counting an MCP call failed");
        }
        result
    }
}

impl McpConnector for McpHub {
    fn attach(&self, servers: Arc<dyn McpServerStore>, secrets: Arc<dyn SecretSource>) {
        if self.backing.set(Backing { servers, secrets }).is_err() {
            tracing::warn!("the MCP adapter was attached twice; keeping the first storage");
        }
    }

    fn refusal(&self, transport: &McpTransport) -> Option<String> {
        match transport {
            McpTransport::Stdio { command, .. } => (!self.settings.stdio_allow.iter().any(|c| c == command)).then(|| {
                format!(
                    "the command '{command}' is not on this server's stdio allow list (OXIFY_MCP_STDIO_ALLOW); an administrator of the server must allow it"
                )
            }),
            McpTransport::StreamableHttp { url, .. } => {
                let parsed = reqwest::Url::parse(url).ok()?;
                self.guard.check_url(&parsed).err().map(|refused| format!("url: {refused}"))
            }
        }
    }

    fn forget(&self, scope: Scope, server: &str) {
        let mut pool = self.pool.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        pool.remove(&(scope.workspace(), server.to_owned()));
    }
}
