//! One executor step in one go: the state change, node results and events.

use super::codec::{self, micros};
use super::errors::store_error;
use super::writes::{count, expiry};
use crate::domain::execution::{ExecutionEvent, ExecutionState, ExecutionUpdate};
use crate::domain::ids::ExecutionId;
use crate::ports::{Lease, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

pub(super) fn apply(
    c: &Connection,
    id: ExecutionId,
    lease: Option<&Lease>,
    update: &ExecutionUpdate,
) -> Result<Vec<ExecutionEvent>, StoreError> {
    let key = id.to_string();
    let row: Option<(String, String, i64, i64, Option<String>)> = c
        .prepare_cached("SELECT workflow_id, state, last_seq, results_count, lease_owner FROM executions WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row([&key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))).optional()
        })
        .map_err(store_error)?;
    let (workflow_id, old_state, last_seq, results_count, owner) =
        row.ok_or_else(|| StoreError::not_found("execution", id))?;
    let old_state: ExecutionState = old_state.parse().map_err(codec::corrupt)?;
    if let Some(lease) = lease
        && owner.as_deref() != Some(lease.owner.as_str())
    {
        return Err(StoreError::LeaseLost(format!("execution {id} is owned by another process")));
    }
    let (owner, expires) = match (&update.state, lease) {
        (Some(change), _) if change.state.is_terminal() => (None, None),
        (_, Some(lease)) => (Some(lease.owner.clone()), Some(expiry(lease))),
        (_, None) => (owner, None),
    };
    let change = update.state.as_ref();
    c.prepare_cached(
        "UPDATE executions SET state = COALESCE(?2, state), error = CASE WHEN ?2 IS NULL THEN error ELSE ?3 END, \
         started_at = COALESCE(?4, started_at), completed_at = COALESCE(?5, completed_at), \
         last_seq = last_seq + ?6, results_count = results_count + ?7, lease_owner = ?8, \
         lease_expires_at = COALESCE(?9, CASE WHEN ?8 IS NULL THEN NULL ELSE lease_expires_at END) WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            key,
            change.map(|s| s.state.as_str()),
            change.and_then(|s| s.error.clone()),
            change.and_then(|s| s.started_at).map(micros),
            change.and_then(|s| s.completed_at).map(micros),
            i64::try_from(update.events.len()).unwrap_or(0),
            i64::try_from(update.node_results.len()).unwrap_or(0),
            owner,
            expires,
        ])
    })
    .map_err(store_error)?;
    if let Some(change) = change.filter(|s| s.state != old_state) {
        count(c, &workflow_id, &[(old_state, -1), (change.state, 1)])?;
    }
    let mut results = c
        .prepare_cached(
            "INSERT INTO node_results (execution_id, node_id, position, node_name, kind, status, output, error, attempts, \
             started_at, completed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
             ON CONFLICT (execution_id, node_id) DO UPDATE SET node_name = excluded.node_name, kind = excluded.kind, \
             status = excluded.status, output = excluded.output, error = excluded.error, attempts = excluded.attempts, \
             started_at = excluded.started_at, completed_at = excluded.completed_at",
        )
        .map_err(store_error)?;
    for (position, r) in (results_count..).zip(&update.node_results) {
        results
            .execute(params![
                key,
                r.node_id.as_str(),
                position,
                r.node_name,
                r.kind,
                r.status.as_str(),
                r.output.as_ref().map(|o| o.to_string()),
                r.error,
                i64::from(r.attempts),
                r.started_at.map(micros),
                r.completed_at.map(micros),
            ])
            .map_err(store_error)?;
    }
    let mut events = c
        .prepare_cached(
            "INSERT INTO execution_events (execution_id, seq, kind, node_id, data, state, node_results_count, at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(store_error)?;
    let mut stored = Vec::with_capacity(update.events.len());
    for (seq, e) in (last_seq + 1..).zip(&update.events) {
        events
            .execute(params![
                key,
                seq,
                e.kind.as_str(),
                e.node_id.as_ref().map(|n| n.as_str()),
                &*e.data,
                e.state.as_str(),
                i64::from(e.node_results_count),
                micros(e.at),
            ])
            .map_err(store_error)?;
        stored.push(e.clone().stored(id, u64::try_from(seq).unwrap_or(0)));
    }
    Ok(stored)
}
