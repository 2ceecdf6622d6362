//! The read statements, each a single query on the pool (no transaction needed).

use super::codec::{self, EXECUTION_COLUMNS, col};
use super::errors::store_error;
use crate::domain::access::Scope;
use crate::domain::execution::{Execution, ExecutionEvent, NodeResult};
use crate::domain::ids::{ExecutionId, WorkflowId, WorkspaceId};
use crate::domain::workflow::WorkflowMetadata;
use crate::ports::{Cursor, ExecutionFilter, Page, PageRequest, StoreError, VersionInfo, WorkflowSummary};
use sqlx::postgres::{PgArguments, PgRow};
// Dynamic SQL here is assembled from fixed fragments only; every value is bound.
use sqlx::{Arguments, AssertSqlSafe, PgPool};

pub(super) async fn latest_version(pool: &PgPool, scope: Scope, id: WorkflowId) -> Result<Option<u32>, StoreError> {
    let v: Option<i32> = sqlx::query_scalar(
        "SELECT latest_version FROM workflows WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL",
    )
    .bind(id.0)
    .bind(scope.workspace().0)
    .fetch_optional(pool)
    .await
    .map_err(store_error)?;
    v.map(codec::u32_of).transpose()
}

/// The workspace a workflow id belongs to, if it was ever used.
pub(super) async fn owner(pool: &PgPool, id: WorkflowId) -> Result<Option<WorkspaceId>, StoreError> {
    let owner: Option<uuid::Uuid> = sqlx::query_scalar("SELECT workspace_id FROM workflows WHERE id = $1")
        .bind(id.0)
        .fetch_optional(pool)
        .await
        .map_err(store_error)?;
    Ok(owner.map(WorkspaceId))
}

/// The stored definition as JSON text, which is what the version cache parses.
pub(super) async fn definition(pool: &PgPool, id: WorkflowId, version: u32) -> Result<Option<String>, StoreError> {
    // A version past the INTEGER range cannot have been stored.
    let Ok(version) = i32::try_from(version) else { return Ok(None) };
    sqlx::query_scalar("SELECT definition FROM workflow_versions WHERE workflow_id = $1 AND version = $2")
        .bind(id.0)
        .bind(version)
        .fetch_optional(pool)
        .await
        .map_err(store_error)
}

fn metadata(row: &PgRow) -> Result<WorkflowMetadata, StoreError> {
    codec::json(row, "metadata")
}

pub(super) async fn list_versions(pool: &PgPool, scope: Scope, id: WorkflowId) -> Result<Vec<VersionInfo>, StoreError> {
    let rows = sqlx::query(
        "SELECT v.version, v.metadata, v.saved_at FROM workflow_versions v JOIN workflows w ON w.id = v.workflow_id \
         WHERE v.workflow_id = $1 AND w.workspace_id = $2 ORDER BY v.version",
    )
    .bind(id.0)
    .bind(scope.workspace().0)
    .fetch_all(pool)
    .await
    .map_err(store_error)?;
    if rows.is_empty() {
        return Err(StoreError::not_found("workflow", id));
    }
    rows.iter()
        .map(|row| {
            let metadata = metadata(row)?;
            Ok(VersionInfo {
                version: codec::u32_of(col(row, "version")?)?,
                saved_at: col(row, "saved_at")?,
                name: metadata.name,
                label: metadata.version,
                change_description: metadata.change_description,
            })
        })
        .collect()
}

fn bind_err(e: sqlx::error::BoxDynError) -> StoreError {
    StoreError::Internal(e.to_string())
}

/// Adds the keyset condition and the limit (one more than asked, to know whether a page follows).
/// The row comparison matches the `(created_at DESC, id DESC)` indexes, so a page costs an index range.
fn keyset(sql: &mut String, args: &mut PgArguments, column_prefix: &str, page: PageRequest) -> Result<(), StoreError> {
    if let Some(after) = page.after {
        sql.push_str(&format!(
            " AND ({column_prefix}created_at, {column_prefix}id) < (${}, ${})",
            args.len() + 1,
            args.len() + 2
        ));
        args.add(after.created_at).map_err(bind_err)?;
        args.add(after.id).map_err(bind_err)?;
    }
    sql.push_str(&format!(
        " ORDER BY {column_prefix}created_at DESC, {column_prefix}id DESC LIMIT ${}",
        args.len() + 1
    ));
    args.add(i64::from(page.limit) + 1).map_err(bind_err)?;
    Ok(())
}

fn paged<T>(mut items: Vec<T>, limit: u32, total: i64, key: impl Fn(&T) -> Cursor) -> Page<T> {
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next = if more { items.last().map(key) } else { None };
    Page { items, total: u64::try_from(total).unwrap_or(0), next }
}

pub(super) async fn list_workflows(
    pool: &PgPool,
    scope: Scope,
    page: PageRequest,
) -> Result<Page<WorkflowSummary>, StoreError> {
    let mut sql = String::from(
        "SELECT w.id, w.created_at, w.latest_version, v.metadata, v.node_count, v.edge_count FROM workflows w \
         JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.latest_version \
         WHERE w.workspace_id = $1 AND w.deleted_at IS NULL",
    );
    let mut args = PgArguments::default();
    args.add(scope.workspace().0).map_err(bind_err)?;
    keyset(&mut sql, &mut args, "w.", page)?;
    let rows = sqlx::query_with(AssertSqlSafe(sql), args).fetch_all(pool).await.map_err(store_error)?;
    let items = rows
        .iter()
        .map(|row| {
            let summary = WorkflowSummary {
                metadata: metadata(row)?,
                version: codec::u32_of(col(row, "latest_version")?)?,
                node_count: codec::usize_of(col(row, "node_count")?)?,
                edge_count: codec::usize_of(col(row, "edge_count")?)?,
            };
            Ok((summary, Cursor { created_at: col(row, "created_at")?, id: col(row, "id")? }))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let total: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM workflows WHERE workspace_id = $1 AND deleted_at IS NULL")
            .bind(scope.workspace().0)
            .fetch_one(pool)
            .await
            .map_err(store_error)?;
    let page = paged(items, page.limit, total, |(_, cursor)| *cursor);
    Ok(Page { items: page.items.into_iter().map(|(s, _)| s).collect(), total: page.total, next: page.next })
}

pub(super) async fn get_execution(pool: &PgPool, scope: Scope, id: ExecutionId) -> Result<Execution, StoreError> {
    let sql = format!("SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = $1 AND workspace_id = $2");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(id.0)
        .bind(scope.workspace().0)
        .fetch_optional(pool)
        .await
        .map_err(store_error)?
        .ok_or_else(|| StoreError::not_found("execution", id))?;
    codec::execution(&row)
}

async fn exists(pool: &PgPool, scope: Scope, id: ExecutionId) -> Result<(), StoreError> {
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM executions WHERE id = $1 AND workspace_id = $2")
        .bind(id.0)
        .bind(scope.workspace().0)
        .fetch_optional(pool)
        .await
        .map_err(store_error)?;
    found.map(|_| ()).ok_or_else(|| StoreError::not_found("execution", id))
}

pub(super) async fn node_results(pool: &PgPool, scope: Scope, id: ExecutionId) -> Result<Vec<NodeResult>, StoreError> {
    // Checked first: results of another workspace's execution must not be read at all.
    exists(pool, scope, id).await?;
    let rows = sqlx::query(
        "SELECT node_id, node_name, kind, status, output, error, attempts, started_at, completed_at, usage \
         FROM node_results WHERE execution_id = $1 ORDER BY position",
    )
    .bind(id.0)
    .fetch_all(pool)
    .await
    .map_err(store_error)?;
    rows.iter().map(codec::node_result).collect()
}

pub(super) async fn events_after(
    pool: &PgPool,
    scope: Scope,
    id: ExecutionId,
    after: u64,
    limit: u32,
) -> Result<Vec<ExecutionEvent>, StoreError> {
    exists(pool, scope, id).await?;
    let rows = sqlx::query(
        "SELECT seq, kind, node_id, data, state, node_results_count, at FROM execution_events \
         WHERE execution_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(id.0)
    .bind(i64::try_from(after).unwrap_or(i64::MAX))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(store_error)?;
    rows.iter().map(|row| codec::event(row, id)).collect()
}

pub(super) async fn list_executions(
    pool: &PgPool,
    scope: Scope,
    filter: ExecutionFilter,
    page: PageRequest,
) -> Result<Page<Execution>, StoreError> {
    let mut sql = format!("SELECT {EXECUTION_COLUMNS} FROM executions WHERE workspace_id = $1");
    // SUM over BIGINT is NUMERIC in Postgres: cast back so it decodes as i64.
    let mut count_sql =
        String::from("SELECT COALESCE(SUM(n), 0)::BIGINT FROM execution_counts WHERE workspace_id = $1");
    let mut args = PgArguments::default();
    let mut count_args = PgArguments::default();
    args.add(scope.workspace().0).map_err(bind_err)?;
    count_args.add(scope.workspace().0).map_err(bind_err)?;
    if let Some(w) = filter.workflow_id {
        sql.push_str(&format!(" AND workflow_id = ${}", args.len() + 1));
        count_sql.push_str(&format!(" AND workflow_id = ${}", count_args.len() + 1));
        args.add(w.0).map_err(bind_err)?;
        count_args.add(w.0).map_err(bind_err)?;
    }
    if let Some(s) = filter.state {
        sql.push_str(&format!(" AND state = ${}", args.len() + 1));
        count_sql.push_str(&format!(" AND state = ${}", count_args.len() + 1));
        args.add(s.as_str()).map_err(bind_err)?;
        count_args.add(s.as_str()).map_err(bind_err)?;
    }
    if let Some(parent) = filter.parent {
        // Children are few: their total is counted, not kept in the counters.
        count_sql =
            String::from("SELECT COUNT(*) FROM executions WHERE parent_execution_id = $1 AND workspace_id = $2");
        count_args = PgArguments::default();
        count_args.add(parent.0).map_err(bind_err)?;
        count_args.add(scope.workspace().0).map_err(bind_err)?;
        if let Some(w) = filter.workflow_id {
            count_sql.push_str(" AND workflow_id = $3");
            count_args.add(w.0).map_err(bind_err)?;
        }
        if let Some(s) = filter.state {
            count_sql.push_str(&format!(" AND state = ${}", count_args.len() + 1));
            count_args.add(s.as_str()).map_err(bind_err)?;
        }
        sql.push_str(&format!(" AND parent_execution_id = ${}", args.len() + 1));
        args.add(parent.0).map_err(bind_err)?;
    }
    keyset(&mut sql, &mut args, "", page)?;
    // Limit 0 asks for the total only.
    let items = if page.limit == 0 {
        Vec::new()
    } else {
        let rows = sqlx::query_with(AssertSqlSafe(sql), args).fetch_all(pool).await.map_err(store_error)?;
        rows.iter().map(codec::execution).collect::<Result<Vec<_>, _>>()?
    };
    let total: i64 =
        sqlx::query_scalar_with(AssertSqlSafe(count_sql), count_args).fetch_one(pool).await.map_err(store_error)?;
    Ok(paged(items, page.limit, total, |e| Cursor { created_at: e.created_at, id: e.id.0 }))
}
