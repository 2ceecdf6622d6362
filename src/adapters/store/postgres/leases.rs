//! Who runs which execution: claiming orphans, renewing and releasing leases. Each is a single
//! statement (atomic on its own) timed by the database's `now()`, since process clocks differ.

use super::codec::{self, EXECUTION_COLUMNS};
use super::errors::store_error;
use crate::domain::execution::Execution;
use crate::domain::ids::ExecutionId;
use crate::ports::{Lease, StoreError};
use sqlx::{AssertSqlSafe, PgPool};
use std::collections::HashSet;
use uuid::Uuid;

pub(super) async fn claim(pool: &PgPool, lease: &Lease, limit: u32, steal: bool) -> Result<Vec<Execution>, StoreError> {
    // SKIP LOCKED: rows another process is writing or claiming right now are not orphans, and
    // waiting for them would only make concurrent claimers queue behind each other.
    let sql = format!(
        "UPDATE executions SET lease_owner = $1, lease_expires_at = now() + $2 WHERE id IN (SELECT id FROM executions \
         WHERE (state IN ('Pending', 'Running') AND ($3 OR lease_expires_at IS NULL OR lease_expires_at <= now())) \
         OR (state = 'Paused' AND wake_at <= now() AND (lease_expires_at IS NULL OR lease_expires_at <= now())) \
         ORDER BY created_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING {EXECUTION_COLUMNS}"
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(&lease.owner)
        .bind(codec::ttl(lease))
        .bind(steal)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(store_error)?;
    let mut claimed = rows.iter().map(codec::execution).collect::<Result<Vec<_>, _>>()?;
    // RETURNING follows no order.
    claimed.sort_by_key(|e| (e.created_at, e.id));
    Ok(claimed)
}

fn uuids(ids: &[ExecutionId]) -> Vec<Uuid> {
    ids.iter().map(|id| id.0).collect()
}

pub(super) async fn renew(pool: &PgPool, lease: &Lease, ids: &[ExecutionId]) -> Result<Vec<ExecutionId>, StoreError> {
    let kept: HashSet<Uuid> = sqlx::query_scalar(
        "UPDATE executions SET lease_expires_at = now() + $3 WHERE id = ANY($1) AND lease_owner = $2 RETURNING id",
    )
    .bind(uuids(ids))
    .bind(&lease.owner)
    .bind(codec::ttl(lease))
    .fetch_all(pool)
    .await
    .map_err(store_error)?
    .into_iter()
    .collect();
    Ok(ids.iter().filter(|id| kept.contains(&id.0)).copied().collect())
}

pub(super) async fn release(pool: &PgPool, lease: &Lease, ids: &[ExecutionId]) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE executions SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ANY($1) AND lease_owner = $2",
    )
    .bind(uuids(ids))
    .bind(&lease.owner)
    .execute(pool)
    .await
    .map_err(store_error)?;
    Ok(())
}
