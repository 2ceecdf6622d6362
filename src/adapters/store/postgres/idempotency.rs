//! Idempotency keys in Postgres. A key is inserted in the transaction that creates the execution
//! it started, so both commit together or neither does. Two transactions inserting one key meet
//! on its primary key: the second waits for the first, then finds the key taken and rolls back.

use super::codec::{self, col};
use super::errors::store_error;
use super::{PostgresStore, apply, finish, writes};
use crate::domain::execution::{Execution, ExecutionEvent, ExecutionUpdate};
use crate::domain::idempotency::{Fingerprint, IdempotencyKey, KeyScope};
use crate::domain::ids::{ExecutionId, WorkflowId};
use crate::ports::{IdempotencyRecord, IdempotencyStore, Lease, StoreError};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;
use std::sync::Arc;
use uuid::Uuid;

/// Inserts the record, replacing one of the same key that has expired; a live one is a conflict.
async fn insert_key(c: &mut PgConnection, r: &IdempotencyRecord) -> Result<(), StoreError> {
    let inserted: Option<i32> = sqlx::query_scalar(
        "INSERT INTO idempotency_keys AS k (scope, key, fingerprint, workflow_id, execution_id, response, created_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, \
         workflow_id = excluded.workflow_id, execution_id = excluded.execution_id, response = excluded.response, \
         created_at = excluded.created_at, expires_at = excluded.expires_at \
         WHERE k.expires_at <= excluded.created_at RETURNING 1",
    )
    .bind(r.scope.as_str())
    .bind(r.key.as_str())
    .bind(r.fingerprint.as_str())
    .bind(r.workflow_id.0)
    .bind(r.execution_id.0)
    .bind(&r.response)
    .bind(r.created_at)
    .bind(r.expires_at)
    .fetch_optional(&mut *c)
    .await
    .map_err(store_error)?;
    match inserted {
        Some(_) => Ok(()),
        None => Err(StoreError::Conflict(format!("idempotency key '{}' is in use", r.key))),
    }
}

fn record(row: &PgRow) -> Result<IdempotencyRecord, StoreError> {
    let key = col::<String>(row, "key")?;
    Ok(IdempotencyRecord {
        scope: KeyScope::from_stored(col(row, "scope")?),
        key: IdempotencyKey::parse(key.as_bytes()).map_err(codec::corrupt)?,
        fingerprint: Fingerprint::from_stored(col(row, "fingerprint")?),
        workflow_id: WorkflowId(col::<Uuid>(row, "workflow_id")?),
        execution_id: ExecutionId(col::<Uuid>(row, "execution_id")?),
        response: col(row, "response")?,
        created_at: col(row, "created_at")?,
        expires_at: col(row, "expires_at")?,
    })
}

#[async_trait::async_trait]
impl IdempotencyStore for PostgresStore {
    async fn create_with_key(
        &self,
        record: &IdempotencyRecord,
        execution: &Execution,
        lease: &Lease,
        first: &ExecutionUpdate,
    ) -> Result<Vec<Arc<ExecutionEvent>>, StoreError> {
        let mut tx = self.begin().await?;
        let stored = async {
            writes::create_execution(&mut tx, execution, lease).await?;
            let events = apply::apply(&mut tx, execution.scope(), execution.id, Some(lease), first).await?;
            insert_key(&mut tx, record).await?;
            Ok(events)
        }
        .await;
        finish(tx, stored).await
    }

    async fn find_key(
        &self,
        scope: &KeyScope,
        key: &IdempotencyKey,
        now: DateTime<Utc>,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        sqlx::query("SELECT * FROM idempotency_keys WHERE scope = $1 AND key = $2 AND expires_at > $3")
            .bind(scope.as_str())
            .bind(key.as_str())
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?
            .as_ref()
            .map(record)
            .transpose()
    }

    async fn purge_expired_keys(&self, now: DateTime<Utc>, limit: u32) -> Result<u64, StoreError> {
        // SKIP LOCKED: processes purging at once take different rows, and a row being replaced by
        // a new request's key is left alone; the outer condition re-checks the expiry, so a key
        // renewed meanwhile is never deleted.
        let done = sqlx::query(
            "DELETE FROM idempotency_keys WHERE expires_at <= $1 AND (scope, key) IN \
             (SELECT scope, key FROM idempotency_keys WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 \
             FOR UPDATE SKIP LOCKED)",
        )
        .bind(now)
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected())
    }
}
