//! One executor step in one go: the state change, node results and events, each kind in as few
//! statements as possible.

use super::codec::{self, micros};
use super::errors::store_error;
use super::writes::{count, expiry};
use crate::domain::access::Scope;
use crate::domain::execution::{ExecutionEvent, ExecutionState, ExecutionUpdate, NewEvent, NodeResult, Signal};
use crate::domain::ids::ExecutionId;
use crate::ports::{Lease, StoreError};
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use std::sync::Arc;

/// Rows per statement, well under SQLite's limit of bound values.
const ROWS: usize = 500;

pub(super) fn apply(
    c: &Connection,
    scope: Scope,
    id: ExecutionId,
    lease: Option<&Lease>,
    update: &ExecutionUpdate,
) -> Result<Vec<Arc<ExecutionEvent>>, StoreError> {
    let key = id.to_string();
    let workspace = scope.workspace().to_string();
    let row: Option<(String, String, i64, i64, Option<String>)> = c
        .prepare_cached(
            "SELECT workflow_id, state, last_seq, results_count, lease_owner FROM executions \
             WHERE id = ?1 AND workspace_id = ?2",
        )
        .and_then(|mut s| {
            s.query_row([&key, &workspace], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))).optional()
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
    let last = u64::try_from(last_seq).unwrap_or(0);
    if update.expect_last_seq.is_some_and(|expected| expected != last) {
        return Err(StoreError::Stale { last_seq: last });
    }
    let (owner, expires) = match (&update.state, lease) {
        (Some(change), _) if change.state.is_terminal() || change.state == ExecutionState::Paused => (None, None),
        (_, Some(lease)) => (Some(lease.owner.clone()), Some(expiry(lease))),
        (_, None) => (owner, None),
    };
    let change = update.state.as_ref();
    let output = change.and_then(|s| s.output.as_ref()).map(|o| o.to_string());
    c.prepare_cached(
        "UPDATE executions SET state = COALESCE(?2, state), error = CASE WHEN ?2 IS NULL THEN error ELSE ?3 END, \
         started_at = COALESCE(?4, started_at), completed_at = COALESCE(?5, completed_at), \
         last_seq = last_seq + ?6, results_count = results_count + ?7, lease_owner = ?8, \
         lease_expires_at = COALESCE(?9, CASE WHEN ?8 IS NULL THEN NULL ELSE lease_expires_at END), \
         output = COALESCE(?10, output), wake_at = CASE WHEN ?2 IS NULL THEN wake_at ELSE ?11 END WHERE id = ?1",
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
            output,
            change.and_then(|s| s.wake_at).map(micros),
        ])
    })
    .map_err(store_error)?;
    if let Some(change) = change.filter(|s| s.state != old_state) {
        count(c, &workspace, &workflow_id, &[(old_state, -1), (change.state, 1)])?;
    }
    let positions: Vec<(i64, &NodeResult)> = (results_count..).zip(&update.node_results).collect();
    for chunk in positions.chunks(ROWS) {
        upsert_results(c, &key, chunk)?;
    }
    let events: Vec<(i64, &NewEvent)> = (last_seq + 1..).zip(&update.events).collect();
    for chunk in events.chunks(ROWS) {
        insert_events(c, &key, chunk)?;
    }
    let mut stored: Vec<Arc<ExecutionEvent>> =
        events.into_iter().map(|(seq, e)| Arc::new(e.clone().stored(id, u64::try_from(seq).unwrap_or(0)))).collect();
    if let Some(signal) = &update.signal {
        stored.extend(deliver(c, &workspace, signal)?.map(Arc::new));
    }
    Ok(stored)
}

/// Appends a signal's event to its target's log, and wakes the target if it is parked. A
/// target that already ended takes nothing more: its log ends with its terminal event.
fn deliver(c: &Connection, workspace: &str, signal: &Signal) -> Result<Option<ExecutionEvent>, StoreError> {
    let key = signal.execution_id.to_string();
    let row: Option<(String, i64, i64)> = c
        .prepare_cached("SELECT state, last_seq, results_count FROM executions WHERE id = ?1 AND workspace_id = ?2")
        .and_then(|mut s| s.query_row([&key, workspace], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional())
        .map_err(store_error)?;
    let (state, last_seq, results_count) =
        row.ok_or_else(|| StoreError::not_found("execution", signal.execution_id))?;
    let state: ExecutionState = state.parse().map_err(codec::corrupt)?;
    if state.is_terminal() {
        return Ok(None);
    }
    c.prepare_cached(
        "UPDATE executions SET last_seq = last_seq + 1, \
         wake_at = CASE WHEN state = 'Paused' THEN ?2 ELSE wake_at END WHERE id = ?1",
    )
    .and_then(|mut s| s.execute(params![key, micros(signal.at)]))
    .map_err(store_error)?;
    let event = NewEvent {
        event: signal.event.clone(),
        state,
        node_results_count: codec::u32_of(results_count),
        at: signal.at,
    };
    insert_events(c, &key, &[(last_seq + 1, &event)])?;
    Ok(Some(event.stored(signal.execution_id, u64::try_from(last_seq + 1).unwrap_or(0))))
}

/// `(?, ?, ...), (?, ?, ...)` for `rows` rows of `columns` values.
fn placeholders(rows: usize, columns: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    vec![row; rows].join(", ")
}

/// Later results of a node replace earlier ones but keep the position of its first. One
/// statement per chunk: the writer runs every statement of every execution, so fewer is faster.
fn upsert_results(c: &Connection, key: &str, rows: &[(i64, &NodeResult)]) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO node_results (execution_id, node_id, position, node_name, kind, status, output, error, attempts, \
         started_at, completed_at, usage) VALUES {} \
         ON CONFLICT (execution_id, node_id) DO UPDATE SET node_name = excluded.node_name, kind = excluded.kind, \
         status = excluded.status, output = excluded.output, error = excluded.error, attempts = excluded.attempts, \
         started_at = excluded.started_at, completed_at = excluded.completed_at, usage = excluded.usage",
        placeholders(rows.len(), 12)
    );
    let mut values: Vec<Sql> = Vec::with_capacity(rows.len() * 12);
    for (position, r) in rows {
        values.extend([
            Sql::Text(key.to_owned()),
            Sql::Text(r.node_id.to_string()),
            Sql::Integer(*position),
            Sql::Text(r.node_name.to_string()),
            Sql::Text(r.kind.to_string()),
            Sql::Text(r.status.as_str().to_owned()),
            r.output.as_ref().map_or(Sql::Null, |o| Sql::Text(o.to_string())),
            r.error.clone().map_or(Sql::Null, Sql::Text),
            Sql::Integer(i64::from(r.attempts)),
            r.started_at.map_or(Sql::Null, |t| Sql::Integer(micros(t))),
            r.completed_at.map_or(Sql::Null, |t| Sql::Integer(micros(t))),
            r.usage.as_ref().map_or(Sql::Null, |u| Sql::Text(serde_json::to_string(u).unwrap_or_default())),
        ]);
    }
    c.prepare_cached(&sql).and_then(|mut s| s.execute(params_from_iter(values))).map_err(store_error)?;
    Ok(())
}

fn insert_events(c: &Connection, key: &str, rows: &[(i64, &NewEvent)]) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO execution_events (execution_id, seq, kind, node_id, data, state, node_results_count, at) VALUES {}",
        placeholders(rows.len(), 8)
    );
    let mut values: Vec<Sql> = Vec::with_capacity(rows.len() * 8);
    for (seq, e) in rows {
        values.extend([
            Sql::Text(key.to_owned()),
            Sql::Integer(*seq),
            Sql::Text(e.kind().as_str().to_owned()),
            e.event.node_id().map_or(Sql::Null, |n| Sql::Text(n.to_string())),
            Sql::Text(e.event.to_json()),
            Sql::Text(e.state.as_str().to_owned()),
            Sql::Integer(i64::from(e.node_results_count)),
            Sql::Integer(micros(e.at)),
        ]);
    }
    c.prepare_cached(&sql).and_then(|mut s| s.execute(params_from_iter(values))).map_err(store_error)?;
    Ok(())
}
