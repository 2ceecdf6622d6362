//! Workflow writes, execution creation and the per-(workflow, state) counters, each run inside
//! the caller's transaction.

use super::errors::store_error;
use super::{codec, nul};
use crate::adapters::store::json_columns::ExecutionOptions;
use crate::domain::access::Scope;
use crate::domain::execution::{Execution, ExecutionState};
use crate::domain::ids::WorkflowId;
use crate::ports::{ExpectedVersion, Lease, StoreError};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// A workflow version about to be stored; `metadata` and `definition` are JSON text.
pub(super) struct NewVersion {
    pub id: WorkflowId,
    pub metadata: String,
    pub definition: String,
    pub node_count: i32,
    pub edge_count: i32,
    pub created_at: DateTime<Utc>,
    pub saved_at: DateTime<Utc>,
}

pub(super) async fn create_workflow(c: &mut PgConnection, scope: Scope, v: &NewVersion) -> Result<u32, StoreError> {
    // One statement decides between a new id and a deleted one of the same workspace coming back
    // (as a new version, so old executions keep theirs), and two concurrent creates of one id
    // cannot both succeed. An id stays with its workspace: another one cannot take it over.
    let version: Option<i32> = sqlx::query_scalar(
        "INSERT INTO workflows AS w (id, latest_version, created_at, workspace_id) VALUES ($1, 1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET latest_version = w.latest_version + 1, created_at = excluded.created_at, \
         deleted_at = NULL WHERE w.deleted_at IS NOT NULL AND w.workspace_id = excluded.workspace_id \
         RETURNING latest_version",
    )
    .bind(v.id.0)
    .bind(v.created_at)
    .bind(scope.workspace().0)
    .fetch_optional(&mut *c)
    .await
    .map_err(store_error)?;
    let version = version.ok_or_else(|| StoreError::Conflict(format!("a workflow with id {} already exists", v.id)))?;
    insert_version(c, v, version).await
}

/// The versions `expected` admits, as the statements below bind them: NULL for any.
fn admitted(expected: &ExpectedVersion) -> Option<Vec<i32>> {
    match expected {
        ExpectedVersion::Any => None,
        // A version past the INTEGER range cannot be stored, so it cannot be current either.
        ExpectedVersion::OneOf(versions) => Some(versions.iter().filter_map(|v| i32::try_from(*v).ok()).collect()),
    }
}

/// Why a conditional statement changed no row: the workflow is gone, or at another version.
async fn refusal(c: &mut PgConnection, scope: Scope, id: WorkflowId) -> StoreError {
    let current: Result<Option<i32>, StoreError> = sqlx::query_scalar(
        "SELECT latest_version FROM workflows WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL",
    )
    .bind(id.0)
    .bind(scope.workspace().0)
    .fetch_optional(&mut *c)
    .await
    .map_err(store_error);
    match current {
        Ok(None) => StoreError::not_found("workflow", id),
        Ok(Some(v)) => match codec::u32_of(v) {
            Ok(v) => StoreError::version_mismatch("workflow", id, v),
            Err(e) => e,
        },
        Err(e) => e,
    }
}

pub(super) async fn update_workflow(
    c: &mut PgConnection,
    scope: Scope,
    v: &NewVersion,
    expected: &ExpectedVersion,
) -> Result<u32, StoreError> {
    // The version check is part of the UPDATE: a concurrent writer of the same row waits for our
    // commit, then re-evaluates the condition on the new row and changes nothing.
    let version: Option<i32> = sqlx::query_scalar(
        "UPDATE workflows SET latest_version = latest_version + 1 WHERE id = $1 AND deleted_at IS NULL \
         AND ($2::int4[] IS NULL OR latest_version = ANY($2)) AND workspace_id = $3 RETURNING latest_version",
    )
    .bind(v.id.0)
    .bind(admitted(expected))
    .bind(scope.workspace().0)
    .fetch_optional(&mut *c)
    .await
    .map_err(store_error)?;
    match version {
        Some(version) => insert_version(c, v, version).await,
        None => Err(refusal(c, scope, v.id).await),
    }
}

async fn insert_version(c: &mut PgConnection, v: &NewVersion, version: i32) -> Result<u32, StoreError> {
    sqlx::query(
        "INSERT INTO workflow_versions (workflow_id, version, metadata, definition, node_count, edge_count, saved_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(v.id.0)
    .bind(version)
    .bind(&v.metadata)
    .bind(&v.definition)
    .bind(v.node_count)
    .bind(v.edge_count)
    .bind(v.saved_at)
    .execute(&mut *c)
    .await
    .map_err(store_error)?;
    codec::u32_of(version)
}

pub(super) async fn delete_workflow(
    c: &mut PgConnection,
    scope: Scope,
    id: WorkflowId,
    expected: &ExpectedVersion,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE workflows SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL \
         AND ($2::int4[] IS NULL OR latest_version = ANY($2)) AND workspace_id = $3",
    )
    .bind(id.0)
    .bind(admitted(expected))
    .bind(scope.workspace().0)
    .execute(&mut *c)
    .await
    .map_err(store_error)?;
    if done.rows_affected() == 0 { Err(refusal(c, scope, id).await) } else { Ok(()) }
}

/// Counter shards per (workflow, state).
const SHARDS: u128 = 16;

/// Adds the deltas to the counters of `execution`'s shard in one statement. Rows are locked in
/// state order, so two transactions moving executions of one workflow in opposite directions
/// cannot deadlock.
pub(super) async fn count(
    c: &mut PgConnection,
    scope: Scope,
    workflow_id: Uuid,
    execution: Uuid,
    deltas: &[(ExecutionState, i64)],
) -> Result<(), StoreError> {
    let shard = i16::try_from(execution.as_u128() % SHARDS).unwrap_or(0);
    let mut deltas = deltas.to_vec();
    deltas.sort_by_key(|(state, _)| state.as_str());
    let states: Vec<&str> = deltas.iter().map(|(s, _)| s.as_str()).collect();
    let ns: Vec<i64> = deltas.iter().map(|(_, n)| *n).collect();
    sqlx::query(
        "INSERT INTO execution_counts (workflow_id, state, shard, n, workspace_id) \
         SELECT $1, t.state, $4, t.n, $5 FROM UNNEST($2::text[], $3::int8[]) WITH ORDINALITY AS t(state, n, i) ORDER BY t.i \
         ON CONFLICT (workflow_id, state, shard) DO UPDATE SET n = execution_counts.n + excluded.n",
    )
    .bind(workflow_id)
    .bind(states)
    .bind(ns)
    .bind(shard)
    .bind(scope.workspace().0)
    .execute(&mut *c)
    .await
    .map_err(store_error)?;
    Ok(())
}

pub(super) async fn create_execution(c: &mut PgConnection, e: &Execution, lease: &Lease) -> Result<(), StoreError> {
    let variables = codec::json_text(e.variables.as_ref())?;
    let options = codec::json_text(&ExecutionOptions::of(e))?;
    sqlx::query(
        "INSERT INTO executions (id, workflow_id, workflow_version, state, error, variables, created_at, started_at, \
         completed_at, lease_owner, lease_expires_at, options, parent_execution_id, parent_node_id, parent_item, depth, \
         rerun_of, workspace_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now() + $11, $12, $13, $14, $15, $16, $17, $18)",
    )
    .bind(e.id.0)
    .bind(e.workflow_id.0)
    .bind(codec::int(e.workflow_version))
    .bind(e.state.as_str())
    .bind(e.error.as_deref().map(nul::escape))
    .bind(variables)
    .bind(e.created_at)
    .bind(e.started_at)
    .bind(e.completed_at)
    .bind(&lease.owner)
    .bind(codec::ttl(lease))
    .bind(options)
    .bind(e.parent.as_ref().map(|p| p.execution_id.0))
    .bind(e.parent.as_ref().map(|p| nul::escape(p.node_id.as_str())))
    .bind(e.parent.as_ref().and_then(|p| p.item).map(codec::int))
    .bind(codec::int(e.depth))
    .bind(e.rerun_of.map(|r| r.0))
    .bind(e.workspace_id.0)
    .execute(&mut *c)
    .await
    .map_err(|err| match store_error(err) {
        StoreError::Conflict(_) => StoreError::Conflict(format!("execution {} already exists", e.id)),
        other => other,
    })?;
    count(c, e.scope(), e.workflow_id.0, e.id.0, &[(e.state, 1)]).await
}
