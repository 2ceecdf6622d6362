//! The read statements, run on the pool of read connections.

use super::codec::{self, EXECUTION_COLUMNS, micros};
use crate::adapters::store::sql_common::store_error;
use crate::domain::execution::{Execution, ExecutionEvent, NodeResult};
use crate::domain::ids::{ExecutionId, WorkflowId};
use crate::domain::workflow::WorkflowMetadata;
use crate::ports::{Cursor, ExecutionFilter, Page, PageRequest, StoreError, VersionInfo, WorkflowSummary};
use sqlx::sqlite::SqliteArguments;
// Dynamic SQL here is assembled from fixed fragments only; every value is bound.
use sqlx::{Arguments, AssertSqlSafe, Row, SqlitePool};

pub(super) async fn latest_version(pool: &SqlitePool, id: WorkflowId) -> Result<Option<u32>, StoreError> {
    let v: Option<i64> =
        sqlx::query_scalar("SELECT latest_version FROM workflows WHERE id = $1 AND deleted_at IS NULL")
            .bind(id.to_string())
            .fetch_optional(pool)
            .await
            .map_err(store_error)?;
    Ok(v.map(codec::u32_of))
}

pub(super) async fn definition(pool: &SqlitePool, id: WorkflowId, version: u32) -> Result<Option<String>, StoreError> {
    sqlx::query_scalar("SELECT definition FROM workflow_versions WHERE workflow_id = $1 AND version = $2")
        .bind(id.to_string())
        .bind(i64::from(version))
        .fetch_optional(pool)
        .await
        .map_err(store_error)
}

pub(super) async fn list_versions(pool: &SqlitePool, id: WorkflowId) -> Result<Vec<VersionInfo>, StoreError> {
    let rows = sqlx::query(
        "SELECT version, metadata, saved_at FROM workflow_versions WHERE workflow_id = $1 ORDER BY version",
    )
    .bind(id.to_string())
    .fetch_all(pool)
    .await
    .map_err(store_error)?;
    if rows.is_empty() {
        return Err(StoreError::not_found("workflow", id));
    }
    rows.iter()
        .map(|row| {
            let metadata = metadata(row.try_get("metadata").map_err(codec::corrupt)?)?;
            Ok(VersionInfo {
                version: codec::u32_of(row.try_get("version").map_err(codec::corrupt)?),
                saved_at: codec::time(row.try_get("saved_at").map_err(codec::corrupt)?)?,
                name: metadata.name,
                label: metadata.version,
                change_description: metadata.change_description,
            })
        })
        .collect()
}

fn metadata(json: &str) -> Result<WorkflowMetadata, StoreError> {
    serde_json::from_str(json).map_err(codec::corrupt)
}

/// Adds the keyset condition and the limit (one more than asked, to know whether a page follows).
fn keyset(
    sql: &mut String,
    args: &mut SqliteArguments,
    column_prefix: &str,
    page: PageRequest,
) -> Result<(), StoreError> {
    let bind_err = |e: sqlx::error::BoxDynError| StoreError::Internal(e.to_string());
    if let Some(after) = page.after {
        sql.push_str(&format!(
            " AND ({column_prefix}created_at, {column_prefix}id) < (${}, ${})",
            args.len() + 1,
            args.len() + 2
        ));
        args.add(micros(after.created_at)).map_err(bind_err)?;
        args.add(after.id.to_string()).map_err(bind_err)?;
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

pub(super) async fn list_workflows(pool: &SqlitePool, page: PageRequest) -> Result<Page<WorkflowSummary>, StoreError> {
    let mut sql = String::from(
        "SELECT w.id, w.created_at, w.latest_version, v.metadata, v.node_count, v.edge_count FROM workflows w \
         JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.latest_version WHERE w.deleted_at IS NULL",
    );
    let mut args = SqliteArguments::default();
    keyset(&mut sql, &mut args, "w.", page)?;
    let rows = sqlx::query_with(AssertSqlSafe(sql), args).fetch_all(pool).await.map_err(store_error)?;
    let items = rows
        .iter()
        .map(|row| {
            let get_i = |n: &str| row.try_get::<i64, _>(n).map_err(codec::corrupt);
            let summary = WorkflowSummary {
                metadata: metadata(row.try_get("metadata").map_err(codec::corrupt)?)?,
                version: codec::u32_of(get_i("latest_version")?),
                node_count: usize::try_from(get_i("node_count")?).unwrap_or(0),
                edge_count: usize::try_from(get_i("edge_count")?).unwrap_or(0),
            };
            Ok((summary, get_i("created_at")?))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM workflows WHERE deleted_at IS NULL")
        .fetch_one(pool)
        .await
        .map_err(store_error)?;
    let page = paged(items, page.limit, total, |(s, created)| Cursor {
        created_at: codec::time(*created).unwrap_or_default(),
        id: s.metadata.id.0,
    });
    Ok(Page { items: page.items.into_iter().map(|(s, _)| s).collect(), total: page.total, next: page.next })
}

pub(super) async fn get_execution(pool: &SqlitePool, id: ExecutionId) -> Result<Execution, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!("SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = $1")))
        .bind(id.to_string())
        .fetch_optional(pool)
        .await
        .map_err(store_error)?
        .ok_or_else(|| StoreError::not_found("execution", id))?;
    codec::execution(&row)
}

async fn exists(pool: &SqlitePool, id: ExecutionId) -> Result<(), StoreError> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM executions WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(pool)
        .await
        .map_err(store_error)?;
    found.map(|_| ()).ok_or_else(|| StoreError::not_found("execution", id))
}

pub(super) async fn node_results(pool: &SqlitePool, id: ExecutionId) -> Result<Vec<NodeResult>, StoreError> {
    let rows = sqlx::query("SELECT * FROM node_results WHERE execution_id = $1 ORDER BY position")
        .bind(id.to_string())
        .fetch_all(pool)
        .await
        .map_err(store_error)?;
    if rows.is_empty() {
        exists(pool, id).await?;
    }
    rows.iter().map(codec::node_result).collect()
}

pub(super) async fn events_after(
    pool: &SqlitePool,
    id: ExecutionId,
    after: u64,
    limit: u32,
) -> Result<Vec<ExecutionEvent>, StoreError> {
    let rows = sqlx::query("SELECT * FROM execution_events WHERE execution_id = $1 AND seq > $2 ORDER BY seq LIMIT $3")
        .bind(id.to_string())
        .bind(i64::try_from(after).unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(store_error)?;
    if rows.is_empty() {
        exists(pool, id).await?;
    }
    rows.iter().map(|row| codec::event(row, id)).collect()
}

pub(super) async fn list_executions(
    pool: &SqlitePool,
    filter: ExecutionFilter,
    page: PageRequest,
) -> Result<Page<Execution>, StoreError> {
    let bind_err = |e: sqlx::error::BoxDynError| StoreError::Internal(e.to_string());
    let mut sql = format!("SELECT {EXECUTION_COLUMNS} FROM executions WHERE 1 = 1");
    let mut count_sql = String::from("SELECT COALESCE(SUM(n), 0) FROM execution_counts WHERE 1 = 1");
    let mut args = SqliteArguments::default();
    let mut count_args = SqliteArguments::default();
    if let Some(w) = filter.workflow_id {
        sql.push_str(&format!(" AND workflow_id = ${}", args.len() + 1));
        count_sql.push_str(&format!(" AND workflow_id = ${}", count_args.len() + 1));
        args.add(w.to_string()).map_err(bind_err)?;
        count_args.add(w.to_string()).map_err(bind_err)?;
    }
    if let Some(s) = filter.state {
        sql.push_str(&format!(" AND state = ${}", args.len() + 1));
        count_sql.push_str(&format!(" AND state = ${}", count_args.len() + 1));
        args.add(s.as_str()).map_err(bind_err)?;
        count_args.add(s.as_str()).map_err(bind_err)?;
    }
    keyset(&mut sql, &mut args, "", page)?;
    let rows = sqlx::query_with(AssertSqlSafe(sql), args).fetch_all(pool).await.map_err(store_error)?;
    let items = rows.iter().map(codec::execution).collect::<Result<Vec<_>, _>>()?;
    let total: i64 =
        sqlx::query_scalar_with(AssertSqlSafe(count_sql), count_args).fetch_one(pool).await.map_err(store_error)?;
    Ok(paged(items, page.limit, total, |e| Cursor { created_at: e.created_at, id: e.id.0 }))
}
