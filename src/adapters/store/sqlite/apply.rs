//! One executor step in one go: the state change, node results and events, each kind written
//! with as few statements as possible (the writer runs every statement of every execution).

use super::codec::{self, micros};
use super::writes::expiry;
use crate::adapters::store::sql_common::store_error;
use crate::domain::execution::{ExecutionEvent, ExecutionState, ExecutionUpdate, NewEvent, NodeResult};
use crate::domain::ids::ExecutionId;
use crate::ports::{Lease, StoreError};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

/// Rows per statement, well under SQLite's limit of bound values.
const ROWS: usize = 500;

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
    let owner = get("lease_owner")?;
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
    .bind(i64::try_from(update.events.len()).unwrap_or(0))
    .bind(i64::try_from(update.node_results.len()).unwrap_or(0))
    .bind(owner)
    .bind(expires)
    .execute(&mut *c)
    .await
    .map_err(store_error)?;
    if let Some(change) = change.filter(|s| s.state != old_state) {
        sqlx::query(
            "INSERT INTO execution_counts (workflow_id, state, n) VALUES ($1, $2, -1), ($1, $3, 1) \
             ON CONFLICT (workflow_id, state) DO UPDATE SET n = n + excluded.n",
        )
        .bind(&workflow_id)
        .bind(old_state.as_str())
        .bind(change.state.as_str())
        .execute(&mut *c)
        .await
        .map_err(store_error)?;
    }
    let positions: Vec<(i64, &NodeResult)> = (results_count..).zip(&update.node_results).collect();
    for chunk in positions.chunks(ROWS) {
        upsert_results(c, &key, chunk).await?;
    }
    let events: Vec<(i64, &NewEvent)> = (last_seq + 1..).zip(&update.events).collect();
    for chunk in events.chunks(ROWS) {
        insert_events(c, &key, chunk).await?;
    }
    Ok(events.into_iter().map(|(seq, e)| e.clone().stored(id, u64::try_from(seq).unwrap_or(0))).collect())
}

/// Later results of a node replace earlier ones but keep the position of its first.
async fn upsert_results(c: &mut SqliteConnection, key: &str, rows: &[(i64, &NodeResult)]) -> Result<(), StoreError> {
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
        "INSERT INTO node_results (execution_id, node_id, position, node_name, kind, status, output, error, attempts, \
         started_at, completed_at) ",
    );
    q.push_values(rows, |mut b, (position, r)| {
        b.push_bind(key)
            .push_bind(r.node_id.as_str())
            .push_bind(*position)
            .push_bind(r.node_name.as_str())
            .push_bind(r.kind.as_str())
            .push_bind(r.status.as_str())
            .push_bind(r.output.as_ref().map(|o| o.to_string()))
            .push_bind(r.error.as_deref())
            .push_bind(i64::from(r.attempts))
            .push_bind(r.started_at.map(micros))
            .push_bind(r.completed_at.map(micros));
    });
    q.push(
        " ON CONFLICT (execution_id, node_id) DO UPDATE SET node_name = excluded.node_name, kind = excluded.kind, \
         status = excluded.status, output = excluded.output, error = excluded.error, attempts = excluded.attempts, \
         started_at = excluded.started_at, completed_at = excluded.completed_at",
    );
    q.build().execute(&mut *c).await.map_err(store_error)?;
    Ok(())
}

async fn insert_events(c: &mut SqliteConnection, key: &str, rows: &[(i64, &NewEvent)]) -> Result<(), StoreError> {
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
        "INSERT INTO execution_events (execution_id, seq, kind, node_id, data, state, node_results_count, at) ",
    );
    q.push_values(rows, |mut b, (seq, e)| {
        b.push_bind(key)
            .push_bind(*seq)
            .push_bind(e.kind.as_str())
            .push_bind(e.node_id.as_ref().map(|n| n.as_str().to_owned()))
            .push_bind(e.data.to_string())
            .push_bind(e.state.as_str())
            .push_bind(i64::from(e.node_results_count))
            .push_bind(micros(e.at));
    });
    q.build().execute(&mut *c).await.map_err(store_error)?;
    Ok(())
}
