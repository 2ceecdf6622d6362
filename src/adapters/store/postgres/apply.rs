//! One executor step, inside one transaction: fence on the lease, change the state, keep the
//! counters in step, upsert node results and append events numbered from the execution's row.

use super::codec::{self, col};
use super::errors::store_error;
use super::nul::escape;
use super::writes::count;
use crate::domain::access::Scope;
use crate::domain::execution::{ExecutionEvent, ExecutionState, ExecutionUpdate, NewEvent, NodeResult, Signal};
use crate::domain::ids::ExecutionId;
use crate::ports::{Lease, StoreError};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

pub(super) async fn apply(
    c: &mut PgConnection,
    scope: Scope,
    id: ExecutionId,
    lease: Option<&Lease>,
    update: &ExecutionUpdate,
) -> Result<Vec<Arc<ExecutionEvent>>, StoreError> {
    // The row lock, held to commit, serialises every writer of this execution (in any process),
    // so the state read here is the one being replaced and event numbers cannot collide. NO KEY:
    // the same lock the UPDATE below takes, so it is never upgraded.
    let row = sqlx::query(
        "SELECT workflow_id, state, lease_owner, last_seq FROM executions WHERE id = $1 AND workspace_id = $2 \
             FOR NO KEY UPDATE",
    )
    .bind(id.0)
    .bind(scope.workspace().0)
    .fetch_optional(&mut *c)
    .await
    .map_err(store_error)?
    .ok_or_else(|| StoreError::not_found("execution", id))?;
    let workflow_id: Uuid = col(&row, "workflow_id")?;
    let old_state: ExecutionState = col::<String>(&row, "state")?.parse().map_err(codec::corrupt)?;
    if let Some(lease) = lease
        && col::<Option<String>>(&row, "lease_owner")?.as_deref() != Some(lease.owner.as_str())
    {
        return Err(StoreError::LeaseLost(format!("execution {id} is owned by another process")));
    }
    let logged = u64::try_from(col::<i64>(&row, "last_seq")?).unwrap_or(0);
    if update.expect_last_seq.is_some_and(|expected| expected != logged) {
        return Err(StoreError::Stale { last_seq: logged });
    }
    let change = update.state.as_ref();
    let release = change.is_some_and(|s| s.state.is_terminal() || s.state == ExecutionState::Paused);
    let results = latest_per_node(&update.node_results);
    let n_events = i64::try_from(update.events.len()).unwrap_or(i64::MAX);
    let n_results = i64::try_from(results.len()).unwrap_or(i64::MAX);
    let (last_seq, results_count): (i64, i64) = sqlx::query_as(
        "UPDATE executions SET state = COALESCE($2, state), error = CASE WHEN $2 IS NULL THEN error ELSE $3 END, \
         started_at = COALESCE($4, started_at), completed_at = COALESCE($5, completed_at), \
         last_seq = last_seq + $6, results_count = results_count + $7, \
         lease_owner = CASE WHEN $8 THEN NULL ELSE COALESCE($9, lease_owner) END, \
         lease_expires_at = CASE WHEN $8 THEN NULL WHEN $9 IS NULL THEN lease_expires_at ELSE now() + $10 END, \
         output = COALESCE($11, output), wake_at = CASE WHEN $2 IS NULL THEN wake_at ELSE $12 END \
         WHERE id = $1 RETURNING last_seq, results_count",
    )
    .bind(id.0)
    .bind(change.map(|s| s.state.as_str()))
    .bind(change.and_then(|s| s.error.as_deref()).map(escape))
    .bind(change.and_then(|s| s.started_at))
    .bind(change.and_then(|s| s.completed_at))
    .bind(n_events)
    .bind(n_results)
    .bind(release)
    .bind(lease.map(|l| l.owner.as_str()))
    .bind(lease.map(codec::ttl))
    .bind(change.and_then(|s| s.output.as_ref()).map(|o| o.to_string()))
    .bind(change.and_then(|s| s.wake_at))
    .fetch_one(&mut *c)
    .await
    .map_err(store_error)?;
    if let Some(change) = change.filter(|s| s.state != old_state) {
        count(c, scope, workflow_id, id.0, &[(old_state, -1), (change.state, 1)]).await?;
    }
    if !results.is_empty() {
        upsert_results(c, id, results_count - n_results, &results).await?;
    }
    let mut stored = Vec::new();
    if !update.events.is_empty() {
        stored = append_events(c, id, last_seq - n_events + 1, &update.events).await?;
    }
    if let Some(signal) = &update.signal {
        stored.extend(deliver(c, scope, signal).await?);
    }
    Ok(stored.into_iter().map(Arc::new).collect())
}

/// Appends a signal's event to its target's log (under the target's row lock), and wakes the
/// target if it is parked. A target that already ended takes nothing more: its log ends with its
/// terminal event.
async fn deliver(c: &mut PgConnection, scope: Scope, signal: &Signal) -> Result<Option<ExecutionEvent>, StoreError> {
    let row = sqlx::query(
        "UPDATE executions SET last_seq = last_seq + 1, \
         wake_at = CASE WHEN state = 'Paused' THEN now() ELSE wake_at END \
         WHERE id = $1 AND workspace_id = $2 AND state NOT IN ('Completed', 'Failed', 'Cancelled') \
         RETURNING state, last_seq, results_count",
    )
    .bind(signal.execution_id.0)
    .bind(scope.workspace().0)
    .fetch_optional(&mut *c)
    .await
    .map_err(store_error)?;
    let Some(row) = row else {
        let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM executions WHERE id = $1 AND workspace_id = $2")
            .bind(signal.execution_id.0)
            .bind(scope.workspace().0)
            .fetch_optional(&mut *c)
            .await
            .map_err(store_error)?;
        return match exists {
            Some(_) => Ok(None),
            None => Err(StoreError::not_found("execution", signal.execution_id)),
        };
    };
    let state: ExecutionState = col::<String>(&row, "state")?.parse().map_err(codec::corrupt)?;
    let seq: i64 = col(&row, "last_seq")?;
    let results_count: i64 = col(&row, "results_count")?;
    let event = NewEvent {
        event: signal.event.clone(),
        state,
        node_results_count: u32::try_from(results_count).unwrap_or(u32::MAX),
        at: signal.at,
    };
    let mut stored = append_events(c, signal.execution_id, seq, std::slice::from_ref(&event)).await?;
    Ok(stored.pop())
}

/// One result per node, the last given, in the order the nodes first appear: a multi-row upsert
/// may not touch one row twice.
fn latest_per_node(results: &[NodeResult]) -> Vec<&NodeResult> {
    let mut latest: Vec<&NodeResult> = Vec::with_capacity(results.len());
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(results.len());
    for r in results {
        match index.get(r.node_id.as_str()) {
            Some(&i) => latest[i] = r,
            None => {
                index.insert(r.node_id.as_str(), latest.len());
                latest.push(r);
            }
        }
    }
    latest
}

/// Upserts the results; a node keeps the position of its first result, so the list keeps the
/// order in which nodes first appeared.
async fn upsert_results(
    c: &mut PgConnection,
    id: ExecutionId,
    first_position: i64,
    results: &[&NodeResult],
) -> Result<(), StoreError> {
    let positions: Vec<i64> = (first_position..).take(results.len()).collect();
    let texts = |f: fn(&NodeResult) -> &str| results.iter().map(|r| escape(f(r))).collect::<Vec<_>>();
    let times = |f: fn(&NodeResult) -> Option<DateTime<Utc>>| results.iter().map(|r| f(r)).collect::<Vec<_>>();
    let outputs: Vec<Option<String>> = results.iter().map(|r| r.output.as_ref().map(|o| o.to_string())).collect();
    let usages: Vec<Option<String>> =
        results.iter().map(|r| r.usage.as_ref().and_then(|u| serde_json::to_string(u).ok())).collect();
    let errors: Vec<Option<_>> = results.iter().map(|r| r.error.as_deref().map(escape)).collect();
    let attempts: Vec<i32> = results.iter().map(|r| codec::int(r.attempts)).collect();
    sqlx::query(
        "INSERT INTO node_results (execution_id, node_id, position, node_name, kind, status, output, error, attempts, \
         started_at, completed_at, usage) \
         SELECT $1, t.node_id, t.position, t.node_name, t.kind, t.status, t.output, t.error, t.attempts, \
         t.started_at, t.completed_at, t.usage \
         FROM UNNEST($2::text[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int4[], \
         $10::timestamptz[], $11::timestamptz[], $12::text[]) \
         AS t(node_id, position, node_name, kind, status, output, error, attempts, started_at, completed_at, usage) \
         ON CONFLICT (execution_id, node_id) DO UPDATE SET node_name = excluded.node_name, kind = excluded.kind, \
         status = excluded.status, output = excluded.output, error = excluded.error, attempts = excluded.attempts, \
         started_at = excluded.started_at, completed_at = excluded.completed_at, usage = excluded.usage",
    )
    .bind(id.0)
    .bind(texts(|r| r.node_id.as_str()))
    .bind(positions)
    .bind(texts(|r| &r.node_name))
    .bind(texts(|r| &r.kind))
    .bind(texts(|r| r.status.as_str()))
    .bind(outputs)
    .bind(errors)
    .bind(attempts)
    .bind(times(|r| r.started_at))
    .bind(times(|r| r.completed_at))
    .bind(usages)
    .execute(&mut *c)
    .await
    .map_err(store_error)?;
    Ok(())
}

async fn append_events(
    c: &mut PgConnection,
    id: ExecutionId,
    first_seq: i64,
    events: &[NewEvent],
) -> Result<Vec<ExecutionEvent>, StoreError> {
    let data: Vec<String> = events.iter().map(|e| e.event.to_json()).collect();
    let seqs: Vec<i64> = (first_seq..).take(events.len()).collect();
    sqlx::query(
        "INSERT INTO execution_events (execution_id, seq, kind, node_id, data, state, node_results_count, at) \
         SELECT $1, t.* FROM UNNEST($2::int8[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int4[], \
         $8::timestamptz[]) AS t",
    )
    .bind(id.0)
    .bind(&seqs)
    .bind(events.iter().map(|e| e.kind().as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.event.node_id().map(|n| escape(n.as_str()))).collect::<Vec<_>>())
    .bind(data.iter().map(|d| escape(d)).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.state.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| codec::int(e.node_results_count)).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.at).collect::<Vec<_>>())
    .execute(&mut *c)
    .await
    .map_err(store_error)?;
    Ok(events.iter().zip(seqs).map(|(e, seq)| e.clone().stored(id, u64::try_from(seq).unwrap_or(0))).collect())
}
