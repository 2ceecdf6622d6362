//! Registered MCP servers in SQLite.

use super::SqliteStore;
use super::codec::{micros, time};
use super::errors::store_error;
use crate::domain::access::Scope;
use crate::domain::mcp::{McpServer, McpServerStats, McpTransport};
use crate::ports::{McpServerStore, StoreError};
use chrono::{DateTime, Utc};
use rusqlite::{Row, params};

const COLUMNS: &str = "name, transport, created_at, calls, errors, last_used_at";

type Columns = (String, String, i64, i64, i64, Option<i64>);

fn columns(r: &Row<'_>) -> rusqlite::Result<Columns> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
}

fn server((name, transport, created, calls, errors, last): Columns) -> Result<McpServer, StoreError> {
    let transport: McpTransport = serde_json::from_str(&transport)
        .map_err(|e| StoreError::Internal(format!("MCP server {name}: unreadable transport: {e}")))?;
    Ok(McpServer {
        name,
        transport,
        created_at: time(created)?,
        stats: McpServerStats {
            calls: u64::try_from(calls).unwrap_or_default(),
            errors: u64::try_from(errors).unwrap_or_default(),
            last_used_at: last.map(time).transpose()?,
        },
    })
}

#[async_trait::async_trait]
impl McpServerStore for SqliteStore {
    async fn insert_mcp_server(&self, scope: Scope, server: &McpServer) -> Result<(), StoreError> {
        let (ws, s) = (scope.workspace().to_string(), server.clone());
        let transport = serde_json::to_string(&s.transport).map_err(|e| StoreError::Internal(e.to_string()))?;
        self.writer
            .write(move |c| {
                let inserted = c
                    .prepare_cached(
                        "INSERT INTO mcp_servers (workspace_id, name, transport, created_at, calls, errors, \
                         last_used_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (workspace_id, name) DO NOTHING",
                    )
                    .and_then(|mut st| {
                        st.execute(params![
                            ws,
                            s.name,
                            transport,
                            micros(s.created_at),
                            i64::try_from(s.stats.calls).unwrap_or(i64::MAX),
                            i64::try_from(s.stats.errors).unwrap_or(i64::MAX),
                            s.stats.last_used_at.map(micros),
                        ])
                    })
                    .map_err(store_error)?;
                if inserted == 0 {
                    return Err(StoreError::Conflict(format!(
                        "an MCP server named '{}' is already registered",
                        s.name
                    )));
                }
                Ok(())
            })
            .await
    }

    async fn mcp_server(&self, scope: Scope, name: &str) -> Result<Option<McpServer>, StoreError> {
        let (ws, name) = (scope.workspace().to_string(), name.to_owned());
        self.readers
            .read(move |c| {
                let mut st = c
                    .prepare_cached(&format!("SELECT {COLUMNS} FROM mcp_servers WHERE workspace_id = ?1 AND name = ?2"))
                    .map_err(store_error)?;
                let mut rows = st.query_map(params![ws, name], columns).map_err(store_error)?;
                rows.next().map(|row| server(row.map_err(store_error)?)).transpose()
            })
            .await
    }

    async fn mcp_servers(&self, scope: Scope) -> Result<Vec<McpServer>, StoreError> {
        let ws = scope.workspace().to_string();
        self.readers
            .read(move |c| {
                let mut st = c
                    .prepare_cached(&format!("SELECT {COLUMNS} FROM mcp_servers WHERE workspace_id = ?1 ORDER BY name"))
                    .map_err(store_error)?;
                let rows = st.query_map([ws], columns).map_err(store_error)?;
                rows.map(|row| server(row.map_err(store_error)?)).collect()
            })
            .await
    }

    async fn delete_mcp_server(&self, scope: Scope, name: &str) -> Result<(), StoreError> {
        let (ws, name) = (scope.workspace().to_string(), name.to_owned());
        self.writer
            .write(move |c| {
                let deleted = c
                    .prepare_cached("DELETE FROM mcp_servers WHERE workspace_id = ?1 AND name = ?2")
                    .and_then(|mut st| st.execute(params![ws, name]))
                    .map_err(store_error)?;
                if deleted == 0 { Err(StoreError::not_found("MCP server", &name)) } else { Ok(()) }
            })
            .await
    }

    async fn record_mcp_call(
        &self,
        scope: Scope,
        name: &str,
        failed: bool,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (ws, name) = (scope.workspace().to_string(), name.to_owned());
        self.writer
            .write(move |c| {
                let updated = c
                    .prepare_cached(
                        "UPDATE mcp_servers SET calls = calls + 1, errors = errors + ?3, last_used_at = ?4 \
                         WHERE workspace_id = ?1 AND name = ?2",
                    )
                    .and_then(|mut st| st.execute(params![ws, name, i64::from(failed), micros(at)]))
                    .map_err(store_error)?;
                if updated == 0 { Err(StoreError::not_found("MCP server", &name)) } else { Ok(()) }
            })
            .await
    }
}
