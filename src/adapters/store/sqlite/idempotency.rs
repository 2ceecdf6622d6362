//! Idempotency keys in SQLite. A key is inserted by the same writer job as the execution it
//! started, so both commit together or neither does; the writer runs one job at a time, so two
//! requests with one key cannot both get past the insert.

use super::codec::{self, col, micros};
use super::errors::store_error;
use super::{SqliteStore, apply, writes};
use crate::domain::execution::{Execution, ExecutionEvent, ExecutionUpdate};
use crate::domain::idempotency::{Fingerprint, IdempotencyKey, KeyScope};
use crate::domain::ids::{ExecutionId, WorkflowId};
use crate::ports::{IdempotencyRecord, IdempotencyStore, Lease, StoreError};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, Row, params};
use std::sync::Arc;

/// Inserts the record, replacing one of the same key that has expired; a live one is a conflict.
fn insert_key(c: &Connection, r: &IdempotencyRecord) -> Result<(), StoreError> {
    let changed = c
        .prepare_cached(
            "INSERT INTO idempotency_keys (scope, key, fingerprint, workflow_id, execution_id, response, created_at, \
             expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, \
             workflow_id = excluded.workflow_id, execution_id = excluded.execution_id, response = excluded.response, \
             created_at = excluded.created_at, expires_at = excluded.expires_at \
             WHERE idempotency_keys.expires_at <= excluded.created_at",
        )
        .and_then(|mut s| {
            s.execute(params![
                r.scope.as_str(),
                r.key.as_str(),
                r.fingerprint.as_str(),
                r.workflow_id.to_string(),
                r.execution_id.to_string(),
                r.response,
                micros(r.created_at),
                micros(r.expires_at),
            ])
        })
        .map_err(store_error)?;
    if changed == 0 {
        return Err(StoreError::Conflict(format!("idempotency key '{}' is in use", r.key)));
    }
    Ok(())
}

fn record(row: &Row<'_>) -> Result<IdempotencyRecord, StoreError> {
    let key = col::<String>(row, "key")?;
    Ok(IdempotencyRecord {
        scope: KeyScope::from_stored(col(row, "scope")?),
        key: IdempotencyKey::parse(key.as_bytes()).map_err(codec::corrupt)?,
        fingerprint: Fingerprint::from_stored(col(row, "fingerprint")?),
        workflow_id: WorkflowId(codec::parse(&col::<String>(row, "workflow_id")?, "workflow id")?),
        execution_id: ExecutionId(codec::parse(&col::<String>(row, "execution_id")?, "execution id")?),
        response: col(row, "response")?,
        created_at: codec::time(col(row, "created_at")?)?,
        expires_at: codec::time(col(row, "expires_at")?)?,
    })
}

fn find(c: &Connection, scope: &str, key: &str, now: i64) -> Result<Option<IdempotencyRecord>, StoreError> {
    let mut stmt = c
        .prepare_cached("SELECT * FROM idempotency_keys WHERE scope = ?1 AND key = ?2 AND expires_at > ?3")
        .map_err(store_error)?;
    let mut rows = stmt.query(params![scope, key, now]).map_err(store_error)?;
    rows.next().map_err(store_error)?.map(record).transpose()
}

fn purge(c: &Connection, now: i64, limit: u32) -> Result<u64, StoreError> {
    let deleted = c
        .prepare_cached(
            "DELETE FROM idempotency_keys WHERE rowid IN \
             (SELECT rowid FROM idempotency_keys WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)",
        )
        .and_then(|mut s| s.execute(params![now, i64::from(limit)]))
        .map_err(store_error)?;
    Ok(deleted as u64)
}

#[async_trait::async_trait]
impl IdempotencyStore for SqliteStore {
    async fn create_with_key(
        &self,
        record: &IdempotencyRecord,
        execution: &Execution,
        lease: &Lease,
        first: &ExecutionUpdate,
    ) -> Result<Vec<Arc<ExecutionEvent>>, StoreError> {
        let (r, e, lease, first) = (record.clone(), execution.clone(), lease.clone(), first.clone());
        // One job: a failure anywhere rolls all of it back (see the writer's savepoints).
        self.writer
            .write(move |c| {
                writes::create_execution(c, &e, &lease)?;
                let events = apply::apply(c, e.scope(), e.id, Some(&lease), &first)?;
                insert_key(c, &r)?;
                Ok(events)
            })
            .await
    }

    async fn find_key(
        &self,
        scope: &KeyScope,
        key: &IdempotencyKey,
        now: DateTime<Utc>,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let (scope, key) = (scope.as_str().to_owned(), key.as_str().to_owned());
        self.readers.read(move |c| find(c, &scope, &key, micros(now))).await
    }

    async fn purge_expired_keys(&self, now: DateTime<Utc>, limit: u32) -> Result<u64, StoreError> {
        self.writer.write(move |c| purge(c, micros(now), limit)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upsert_whose_condition_fails_changes_no_row() {
        // The conflict check relies on SQLite counting a skipped DO UPDATE as no change.
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)").unwrap();
        let upsert = "INSERT INTO t VALUES ('a', ?1) ON CONFLICT (k) DO UPDATE SET v = excluded.v WHERE t.v < ?1";
        assert_eq!(c.execute(upsert, [5]).unwrap(), 1);
        assert_eq!(c.execute(upsert, [3]).unwrap(), 0);
        assert_eq!(c.execute(upsert, [9]).unwrap(), 1);
    }
}
