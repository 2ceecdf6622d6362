//! Workflow writes, execution creation, counters and leases, each run by the writer thread inside
//! its transaction.

use super::codec::{self, EXECUTION_COLUMNS, micros};
use super::errors::store_error;
use crate::adapters::store::json_columns::ExecutionOptions;
use crate::domain::access::Scope;
use crate::domain::execution::{Execution, ExecutionState};
use crate::domain::ids::{ExecutionId, WorkflowId};
use crate::ports::{ExpectedVersion, Lease, StoreError};
use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, params};

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

pub(super) fn expiry(lease: &Lease) -> i64 {
    micros(Utc::now()) + i64::try_from(lease.ttl.as_micros()).unwrap_or(i64::MAX / 2)
}

pub(super) fn create_workflow(c: &Connection, scope: Scope, v: &NewVersion) -> Result<u32, StoreError> {
    let id = v.id.to_string();
    let workspace = scope.workspace().to_string();
    let existing: Option<(String, i64, Option<i64>)> = c
        .prepare_cached("SELECT workspace_id, latest_version, deleted_at FROM workflows WHERE id = ?1")
        .and_then(|mut s| s.query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional())
        .map_err(store_error)?;
    let version = match existing {
        // A deleted id comes back as a new version, so old executions keep theirs.
        Some((owner, latest, Some(_))) if owner == workspace => {
            c.prepare_cached(
                "UPDATE workflows SET latest_version = ?2, created_at = ?3, deleted_at = NULL WHERE id = ?1",
            )
            .and_then(|mut s| s.execute(params![id, latest + 1, v.created_at]))
            .map_err(store_error)?;
            latest + 1
        }
        // Live, or another workspace's: an id stays with its workspace, deleted or not.
        Some(_) => return Err(StoreError::Conflict(format!("a workflow with id {id} already exists"))),
        None => {
            c.prepare_cached(
                "INSERT INTO workflows (id, latest_version, created_at, workspace_id) VALUES (?1, 1, ?2, ?3)",
            )
            .and_then(|mut s| s.execute(params![id, v.created_at, workspace]))
            .map_err(store_error)?;
            1
        }
    };
    insert_version(c, v, version)
}

/// The current version of a live workflow, provided `expected` admits it. The writer thread runs
/// one write at a time, so nothing can change between this check and the write that follows it.
fn writable_version(c: &Connection, scope: Scope, id: &str, expected: &ExpectedVersion) -> Result<i64, StoreError> {
    let latest: Option<i64> = c
        .prepare_cached(
            "SELECT latest_version FROM workflows WHERE id = ?1 AND workspace_id = ?2 AND deleted_at IS NULL",
        )
        .and_then(|mut s| s.query_row([id, &scope.workspace().to_string()], |r| r.get(0)).optional())
        .map_err(store_error)?;
    let latest = latest.ok_or_else(|| StoreError::not_found("workflow", id))?;
    let current = codec::u32_of(latest);
    if expected.admits(current) { Ok(latest) } else { Err(StoreError::version_mismatch("workflow", id, current)) }
}

pub(super) fn update_workflow(
    c: &Connection,
    scope: Scope,
    v: &NewVersion,
    expected: &ExpectedVersion,
) -> Result<u32, StoreError> {
    let id = v.id.to_string();
    let version = writable_version(c, scope, &id, expected)? + 1;
    c.prepare_cached("UPDATE workflows SET latest_version = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id, version]))
        .map_err(store_error)?;
    insert_version(c, v, version)
}

fn insert_version(c: &Connection, v: &NewVersion, version: i64) -> Result<u32, StoreError> {
    c.prepare_cached(
        "INSERT INTO workflow_versions (workflow_id, version, metadata, definition, node_count, edge_count, saved_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![v.id.to_string(), version, v.metadata, v.definition, v.node_count, v.edge_count, v.saved_at])
    })
    .map_err(store_error)?;
    Ok(codec::u32_of(version))
}

pub(super) fn delete_workflow(
    c: &Connection,
    scope: Scope,
    id: WorkflowId,
    expected: &ExpectedVersion,
) -> Result<(), StoreError> {
    let id = id.to_string();
    writable_version(c, scope, &id, expected)?;
    c.prepare_cached("UPDATE workflows SET deleted_at = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id, micros(Utc::now())]))
        .map_err(store_error)?;
    Ok(())
}

/// Moves the counters of a workflow's executions. A workflow belongs to one workspace, so its
/// (workflow, state) row is that workspace's too.
pub(super) fn count(
    c: &Connection,
    workspace_id: &str,
    workflow_id: &str,
    changes: &[(ExecutionState, i64)],
) -> Result<(), StoreError> {
    let mut stmt = c
        .prepare_cached(
            "INSERT INTO execution_counts (workflow_id, state, n, workspace_id) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (workflow_id, state) DO UPDATE SET n = n + excluded.n",
        )
        .map_err(store_error)?;
    for (state, delta) in changes {
        stmt.execute(params![workflow_id, state.as_str(), delta, workspace_id]).map_err(store_error)?;
    }
    Ok(())
}

pub(super) fn create_execution(c: &Connection, e: &Execution, lease: &Lease) -> Result<(), StoreError> {
    let fail = |err: String| StoreError::Internal(err);
    let variables = serde_json::to_string(e.variables.as_ref()).map_err(|err| fail(err.to_string()))?;
    let options = serde_json::to_string(&ExecutionOptions::of(e)).map_err(|err| fail(err.to_string()))?;
    let workflow_id = e.workflow_id.to_string();
    let workspace_id = e.workspace_id.to_string();
    c.prepare_cached(
        "INSERT INTO executions (id, workflow_id, workflow_version, state, error, variables, created_at, started_at, \
         completed_at, lease_owner, lease_expires_at, options, parent_execution_id, parent_node_id, parent_item, \
         depth, rerun_of, workspace_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )
    .and_then(|mut s| {
        s.execute(params![
            e.id.to_string(),
            workflow_id,
            i64::from(e.workflow_version),
            e.state.as_str(),
            e.error,
            variables,
            micros(e.created_at),
            e.started_at.map(micros),
            e.completed_at.map(micros),
            lease.owner,
            expiry(lease),
            options,
            e.parent.as_ref().map(|p| p.execution_id.to_string()),
            e.parent.as_ref().map(|p| p.node_id.to_string()),
            e.parent.as_ref().and_then(|p| p.item).map(i64::from),
            i64::from(e.depth),
            e.rerun_of.map(|r| r.to_string()),
            workspace_id,
        ])
    })
    .map_err(|err| match store_error(err) {
        StoreError::Conflict(_) => StoreError::Conflict(format!("execution {} already exists", e.id)),
        other => other,
    })?;
    count(c, &workspace_id, &workflow_id, &[(e.state, 1)])
}

pub(super) fn claim(c: &Connection, lease: &Lease, limit: u32, steal: bool) -> Result<Vec<Execution>, StoreError> {
    let sql = format!(
        "UPDATE executions SET lease_owner = ?1, lease_expires_at = ?2 WHERE id IN (SELECT id FROM executions \
         WHERE (state IN ('Pending', 'Running') AND (?3 OR lease_expires_at IS NULL OR lease_expires_at <= ?4)) \
         OR (state = 'Paused' AND wake_at <= ?4 AND (lease_expires_at IS NULL OR lease_expires_at <= ?4)) \
         ORDER BY created_at, id LIMIT ?5) RETURNING {EXECUTION_COLUMNS}"
    );
    let mut stmt = c.prepare_cached(&sql).map_err(store_error)?;
    let mut rows = stmt
        .query(params![lease.owner, expiry(lease), steal, micros(Utc::now()), i64::from(limit)])
        .map_err(store_error)?;
    let mut claimed = Vec::new();
    while let Some(row) = rows.next().map_err(store_error)? {
        claimed.push(codec::execution(row)?);
    }
    claimed.sort_by_key(|e| (e.created_at, e.id));
    Ok(claimed)
}

pub(super) fn renew(c: &Connection, lease: &Lease, ids: &[ExecutionId]) -> Result<Vec<ExecutionId>, StoreError> {
    let mut stmt = c
        .prepare_cached("UPDATE executions SET lease_expires_at = ?3 WHERE id = ?1 AND lease_owner = ?2")
        .map_err(store_error)?;
    let expires = expiry(lease);
    let mut kept = Vec::with_capacity(ids.len());
    for id in ids {
        if stmt.execute(params![id.to_string(), lease.owner, expires]).map_err(store_error)? > 0 {
            kept.push(*id);
        }
    }
    Ok(kept)
}

pub(super) fn release(c: &Connection, lease: &Lease, ids: &[ExecutionId]) -> Result<(), StoreError> {
    let mut stmt = c
        .prepare_cached(
            "UPDATE executions SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ?1 AND lease_owner = ?2",
        )
        .map_err(store_error)?;
    for id in ids {
        stmt.execute(params![id.to_string(), lease.owner]).map_err(store_error)?;
    }
    Ok(())
}
