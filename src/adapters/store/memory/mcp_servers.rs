//! Registered MCP servers in memory.

use super::InMemoryStore;
use crate::domain::access::Scope;
use crate::domain::mcp::McpServer;
use crate::ports::{McpServerStore, StoreError};
use chrono::{DateTime, Utc};

#[async_trait::async_trait]
impl McpServerStore for InMemoryStore {
    async fn insert_mcp_server(&self, scope: Scope, server: &McpServer) -> Result<(), StoreError> {
        let mut inner = self.write();
        let slot = (scope.workspace(), server.name.clone());
        if inner.mcp_servers.contains_key(&slot) {
            return Err(StoreError::Conflict(format!("an MCP server named '{}' is already registered", server.name)));
        }
        inner.mcp_servers.insert(slot, server.clone());
        Ok(())
    }

    async fn mcp_server(&self, scope: Scope, name: &str) -> Result<Option<McpServer>, StoreError> {
        Ok(self.read().mcp_servers.get(&(scope.workspace(), name.to_owned())).cloned())
    }

    async fn mcp_servers(&self, scope: Scope) -> Result<Vec<McpServer>, StoreError> {
        let inner = self.read();
        let mut found: Vec<McpServer> =
            inner.mcp_servers.iter().filter(|((ws, _), _)| *ws == scope.workspace()).map(|(_, s)| s.clone()).collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    async fn delete_mcp_server(&self, scope: Scope, name: &str) -> Result<(), StoreError> {
        match self.write().mcp_servers.remove(&(scope.workspace(), name.to_owned())) {
            Some(_) => Ok(()),
            None => Err(StoreError::not_found("MCP server", name)),
        }
    }

    async fn record_mcp_call(
        &self,
        scope: Scope,
        name: &str,
        failed: bool,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut inner = self.write();
        let server = inner
            .mcp_servers
            .get_mut(&(scope.workspace(), name.to_owned()))
            .ok_or_else(|| StoreError::not_found("MCP server", name))?;
        server.stats.calls += 1;
        server.stats.errors += u64::from(failed);
        server.stats.last_used_at = Some(at);
        Ok(())
    }
}
