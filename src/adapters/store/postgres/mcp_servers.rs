//! Registered MCP servers in Postgres.

use super::PostgresStore;
use super::codec::col;
use super::errors::store_error;
use crate::domain::access::Scope;
use crate::domain::mcp::{McpServer, McpServerStats, McpTransport};
use crate::ports::{McpServerStore, StoreError};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;

fn server(r: &PgRow) -> Result<McpServer, StoreError> {
    let name: String = col(r, "name")?;
    let transport: sqlx::types::Json<McpTransport> = col(r, "transport")?;
    let (calls, errors): (i64, i64) = (col(r, "calls")?, col(r, "errors")?);
    Ok(McpServer {
        name,
        transport: transport.0,
        created_at: col(r, "created_at")?,
        stats: McpServerStats {
            calls: u64::try_from(calls).unwrap_or_default(),
            errors: u64::try_from(errors).unwrap_or_default(),
            last_used_at: col(r, "last_used_at")?,
        },
    })
}

#[async_trait::async_trait]
impl McpServerStore for PostgresStore {
    async fn insert_mcp_server(&self, scope: Scope, server: &McpServer) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO mcp_servers (workspace_id, name, transport, created_at, calls, errors, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (workspace_id, name) DO NOTHING",
        )
        .bind(scope.workspace().0)
        .bind(&server.name)
        .bind(sqlx::types::Json(&server.transport))
        .bind(server.created_at)
        .bind(i64::try_from(server.stats.calls).unwrap_or(i64::MAX))
        .bind(i64::try_from(server.stats.errors).unwrap_or(i64::MAX))
        .bind(server.stats.last_used_at)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!("an MCP server named '{}' is already registered", server.name)));
        }
        Ok(())
    }

    async fn mcp_server(&self, scope: Scope, name: &str) -> Result<Option<McpServer>, StoreError> {
        let row = sqlx::query(
            "SELECT name, transport, created_at, calls, errors, last_used_at FROM mcp_servers \
             WHERE workspace_id = $1 AND name = $2",
        )
        .bind(scope.workspace().0)
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.as_ref().map(server).transpose()
    }

    async fn mcp_servers(&self, scope: Scope) -> Result<Vec<McpServer>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, transport, created_at, calls, errors, last_used_at FROM mcp_servers \
             WHERE workspace_id = $1 ORDER BY name",
        )
        .bind(scope.workspace().0)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(server).collect()
    }

    async fn delete_mcp_server(&self, scope: Scope, name: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM mcp_servers WHERE workspace_id = $1 AND name = $2")
            .bind(scope.workspace().0)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        if done.rows_affected() == 0 { Err(StoreError::not_found("MCP server", name)) } else { Ok(()) }
    }

    async fn record_mcp_call(
        &self,
        scope: Scope,
        name: &str,
        failed: bool,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE mcp_servers SET calls = calls + 1, errors = errors + $3, last_used_at = $4 \
             WHERE workspace_id = $1 AND name = $2",
        )
        .bind(scope.workspace().0)
        .bind(name)
        .bind(i64::from(failed))
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        if done.rows_affected() == 0 { Err(StoreError::not_found("MCP server", name)) } else { Ok(()) }
    }
}
