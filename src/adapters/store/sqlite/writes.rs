//! The write statements, each run by the writer inside its transaction.

use super::codec::{self, EXECUTION_COLUMNS, micros};
use crate::adapters::store::sql_common::{ExecutionOptions, store_error};
use crate::domain::execution::{Execution, ExecutionState};
use crate::domain::ids::{ExecutionId, WorkflowId};
use crate::ports::{Lease, StoreError};
use chrono::Utc;
use sqlx::{AssertSqlSafe, SqliteConnection};

/// A workflow version about to be stored.
pub(super) struct NewVersion {
    pub id: WorkflowId,
    pub metadata: String,
    pub definition: String,
    pub node_count: i64,
    pub edge_count: i64,
    pub created_at: i64,
    pub saved_at: i64,
}

const UNFINISHED: &str = "('Pending', 'Running', 'Paused')";

pub(super) fn expiry(lease: &Lease) -> i64 {
    micros(Utc::now()) + i64::try_from(lease.ttl.as_micros()).unwrap_or(i64::MAX / 2)
}

pub(super) async fn create_workflow(c: &mut SqliteConnection, v: &NewVersion) -> Result<u32, StoreError> {
    let id = v.id.to_string();
    let existing: Option<(i64, Option<i64>)> =
        sqlx::query_as("SELECT latest_version, deleted_at FROM workflows WHERE id = $1")
            .bind(&id)
            .fetch_optional(&mut *c)
            .await
            .map_err(store_error)?;
    let version = match existing {
        Some((_, None)) => return Err(StoreError::Conflict(format!("a workflow with id {id} already exists"))),
        Some((latest, Some(_))) => {
            // A deleted id comes back as a new version, so old executions keep theirs.
            sqlx::query("UPDATE workflows SET latest_version = $2, created_at = $3, deleted_at = NULL WHERE id = $1")
                .bind(&id)
                .bind(latest + 1)
                .bind(v.created_at)
                .execute(&mut *c)
                .await
                .map_err(store_error)?;
            latest + 1
        }
        None => {
            sqlx::query("INSERT INTO workflows (id, latest_version, created_at) VALUES ($1, 1, $2)")
                .bind(&id)
                .bind(v.created_at)
                .execute(&mut *c)
                .await
                .map_err(store_error)?;
            1
        }
    };
    insert_version(c, v, version).await
}

pub(super) async fn update_workflow(c: &mut SqliteConnection, v: &NewVersion) -> Result<u32, StoreError> {
    let id = v.id.to_string();
    let latest: Option<i64> =
        sqlx::query_scalar("SELECT latest_version FROM workflows WHERE id = $1 AND deleted_at IS NULL")
            .bind(&id)
            .fetch_optional(&mut *c)
            .await
            .map_err(store_error)?;
    let version = latest.ok_or_else(|| StoreError::not_found("workflow", &id))? + 1;
    sqlx::query("UPDATE workflows SET latest_version = $2 WHERE id = $1")
        .bind(&id)
        .bind(version)
        .execute(&mut *c)
        .await
        .map_err(store_error)?;
    insert_version(c, v, version).await
}

async fn insert_version(c: &mut SqliteConnection, v: &NewVersion, version: i64) -> Result<u32, StoreError> {
    sqlx::query(
        "INSERT INTO workflow_versions (workflow_id, version, metadata, definition, node_count, edge_count, saved_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(v.id.to_string())
    .bind(version)
    .bind(&v.metadata)
    .bind(&v.definition)
    .bind(v.node_count)
    .bind(v.edge_count)
    .bind(v.saved_at)
    .execute(&mut *c)
    .await
    .map_err(store_error)?;
    Ok(codec::u32_of(version))
}

pub(super) async fn delete_workflow(c: &mut SqliteConnection, id: WorkflowId) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE workflows SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL")
        .bind(id.to_string())
        .bind(micros(Utc::now()))
        .execute(&mut *c)
        .await
        .map_err(store_error)?;
    if done.rows_affected() == 0 { Err(StoreError::not_found("workflow", id)) } else { Ok(()) }
}

async fn count(
    c: &mut SqliteConnection,
    workflow_id: &str,
    state: ExecutionState,
    delta: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO execution_counts (workflow_id, state, n) VALUES ($1, $2, $3) \
         ON CONFLICT (workflow_id, state) DO UPDATE SET n = n + excluded.n",
    )
    .bind(workflow_id)
    .bind(state.as_str())
    .bind(delta)
    .execute(&mut *c)
    .await
    .map_err(store_error)?;
    Ok(())
}

pub(super) async fn create_execution(c: &mut SqliteConnection, e: &Execution, lease: &Lease) -> Result<(), StoreError> {
    let variables = serde_json::to_string(e.variables.as_ref()).map_err(|err| StoreError::Internal(err.to_string()))?;
    let workflow_id = e.workflow_id.to_string();
    sqlx::query(
        "INSERT INTO executions (id, workflow_id, workflow_version, state, error, variables, created_at, started_at, \
         completed_at, lease_owner, lease_expires_at, options) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(e.id.to_string())
    .bind(&workflow_id)
    .bind(i64::from(e.workflow_version))
    .bind(e.state.as_str())
    .bind(&e.error)
    .bind(variables)
    .bind(micros(e.created_at))
    .bind(e.started_at.map(micros))
    .bind(e.completed_at.map(micros))
    .bind(&lease.owner)
    .bind(expiry(lease))
    .bind(serde_json::to_string(&ExecutionOptions::of(e)).map_err(|err| StoreError::Internal(err.to_string()))?)
    .execute(&mut *c)
    .await
    .map_err(|err| match store_error(err) {
        StoreError::Conflict(_) => StoreError::Conflict(format!("execution {} already exists", e.id)),
        other => other,
    })?;
    count(c, &workflow_id, e.state, 1).await
}

pub(super) async fn claim(
    c: &mut SqliteConnection,
    lease: &Lease,
    limit: u32,
    steal: bool,
) -> Result<Vec<Execution>, StoreError> {
    let now = micros(Utc::now());
    let sql = format!(
        "UPDATE executions SET lease_owner = $1, lease_expires_at = $2 WHERE id IN (SELECT id FROM executions \
         WHERE state IN {UNFINISHED} AND ($3 OR lease_expires_at IS NULL OR lease_expires_at <= $4) \
         ORDER BY created_at, id LIMIT $5) RETURNING {EXECUTION_COLUMNS}"
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(&lease.owner)
        .bind(expiry(lease))
        .bind(steal)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&mut *c)
        .await
        .map_err(store_error)?;
    let mut claimed = rows.iter().map(codec::execution).collect::<Result<Vec<_>, _>>()?;
    claimed.sort_by_key(|e| (e.created_at, e.id));
    Ok(claimed)
}

pub(super) async fn renew(
    c: &mut SqliteConnection,
    lease: &Lease,
    ids: &[ExecutionId],
) -> Result<Vec<ExecutionId>, StoreError> {
    let expires = expiry(lease);
    let mut kept = Vec::with_capacity(ids.len());
    for id in ids {
        let done = sqlx::query("UPDATE executions SET lease_expires_at = $3 WHERE id = $1 AND lease_owner = $2")
            .bind(id.to_string())
            .bind(&lease.owner)
            .bind(expires)
            .execute(&mut *c)
            .await
            .map_err(store_error)?;
        if done.rows_affected() > 0 {
            kept.push(*id);
        }
    }
    Ok(kept)
}

pub(super) async fn release(c: &mut SqliteConnection, lease: &Lease, ids: &[ExecutionId]) -> Result<(), StoreError> {
    for id in ids {
        sqlx::query(
            "UPDATE executions SET lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 AND lease_owner = $2",
        )
        .bind(id.to_string())
        .bind(&lease.owner)
        .execute(&mut *c)
        .await
        .map_err(store_error)?;
    }
    Ok(())
}
