//! The write statements, each run by the writer inside its transaction.

use super::codec::{self, EXECUTION_COLUMNS, micros};
use crate::adapters::store::sql_common::{ExecutionOptions, store_error};
use crate::domain::execution::{Execution, ExecutionEvent, ExecutionState, ExecutionUpdate};
use crate::domain::ids::{ExecutionId, WorkflowId};
use crate::ports::{Lease, StoreError};
use chrono::Utc;
use sqlx::{AssertSqlSafe, Row, SqliteConnection};

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

fn expiry(lease: &Lease) -> i64 {
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

pub(super) async fn apply(
    c: &mut SqliteConnection,
    id: ExecutionId,
    lease: Option<&Lease>,
    update: &ExecutionUpdate,
) -> Result<Vec<ExecutionEvent>, StoreError> {
    let key = id.to_string();
    let row =
        sqlx::query("SELECT workflow_id, state, last_seq, results_count, lease_owner FROM executions WHERE id = $1")
            .bind(&key)
            .fetch_optional(&mut *c)
            .await
            .map_err(store_error)?
            .ok_or_else(|| StoreError::not_found("execution", id))?;
    let get = |name: &str| row.try_get::<Option<String>, _>(name).map_err(codec::corrupt);
    let workflow_id = get("workflow_id")?.unwrap_or_default();
    let old_state: ExecutionState = get("state")?.unwrap_or_default().parse().map_err(codec::corrupt)?;
    let last_seq: i64 = row.try_get("last_seq").map_err(codec::corrupt)?;
    let results_count: i64 = row.try_get("results_count").map_err(codec::corrupt)?;
    if let Some(lease) = lease
        && get("lease_owner")?.as_deref() != Some(lease.owner.as_str())
    {
        return Err(StoreError::LeaseLost(format!("execution {id} is owned by another process")));
    }
    let (owner, expires) = match (&update.state, lease) {
        (Some(change), _) if change.state.is_terminal() => (None, None),
        (_, Some(lease)) => (Some(lease.owner.clone()), Some(expiry(lease))),
        (_, None) => (get("lease_owner")?, None),
    };
    let n_events = i64::try_from(update.events.len()).unwrap_or(0);
    let n_results = i64::try_from(update.node_results.len()).unwrap_or(0);
    let change = update.state.as_ref();
    sqlx::query(
        "UPDATE executions SET state = COALESCE($2, state), error = CASE WHEN $2 IS NULL THEN error ELSE $3 END, \
         started_at = COALESCE($4, started_at), completed_at = COALESCE($5, completed_at), \
         last_seq = last_seq + $6, results_count = results_count + $7, lease_owner = $8, \
         lease_expires_at = COALESCE($9, CASE WHEN $8 IS NULL THEN NULL ELSE lease_expires_at END) WHERE id = $1",
    )
    .bind(&key)
    .bind(change.map(|s| s.state.as_str()))
    .bind(change.and_then(|s| s.error.clone()))
    .bind(change.and_then(|s| s.started_at).map(micros))
    .bind(change.and_then(|s| s.completed_at).map(micros))
    .bind(n_events)
    .bind(n_results)
    .bind(owner)
    .bind(expires)
    .execute(&mut *c)
    .await
    .map_err(store_error)?;
    if let Some(change) = change.filter(|s| s.state != old_state) {
        count(c, &workflow_id, old_state, -1).await?;
        count(c, &workflow_id, change.state, 1).await?;
    }
    for (position, r) in (results_count..).zip(&update.node_results) {
        let output = r.output.as_ref().map(|o| o.to_string());
        sqlx::query(
            "INSERT INTO node_results (execution_id, node_id, position, node_name, kind, status, output, error, attempts, \
             started_at, completed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (execution_id, node_id) DO UPDATE SET node_name = excluded.node_name, kind = excluded.kind, \
             status = excluded.status, output = excluded.output, error = excluded.error, attempts = excluded.attempts, \
             started_at = excluded.started_at, completed_at = excluded.completed_at",
        )
        .bind(&key)
        .bind(r.node_id.as_str())
        .bind(position)
        .bind(&r.node_name)
        .bind(&r.kind)
        .bind(r.status.as_str())
        .bind(output)
        .bind(&r.error)
        .bind(i64::from(r.attempts))
        .bind(r.started_at.map(micros))
        .bind(r.completed_at.map(micros))
        .execute(&mut *c)
        .await
        .map_err(store_error)?;
    }
    let mut stored = Vec::with_capacity(update.events.len());
    for (seq, event) in (last_seq + 1..).zip(&update.events) {
        sqlx::query(
            "INSERT INTO execution_events (execution_id, seq, kind, node_id, data, state, node_results_count, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&key)
        .bind(seq)
        .bind(event.kind.as_str())
        .bind(event.node_id.as_ref().map(|n| n.as_str()))
        .bind(&*event.data)
        .bind(event.state.as_str())
        .bind(i64::from(event.node_results_count))
        .bind(micros(event.at))
        .execute(&mut *c)
        .await
        .map_err(store_error)?;
        stored.push(event.clone().stored(id, u64::try_from(seq).unwrap_or(0)));
    }
    Ok(stored)
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
