//! Idempotency keys in memory, kept under the store's one lock: a key and the execution it
//! started are stored in one step, so no reader ever sees one without the other.

use super::InMemoryStore;
use crate::domain::execution::{Execution, ExecutionEvent, ExecutionUpdate};
use crate::domain::idempotency::{IdempotencyKey, KeyScope};
use crate::ports::{IdempotencyRecord, IdempotencyStore, Lease, StoreError};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;

pub(super) type Keys = HashMap<(KeyScope, IdempotencyKey), IdempotencyRecord>;

#[async_trait::async_trait]
impl IdempotencyStore for InMemoryStore {
    async fn create_with_key(
        &self,
        record: &IdempotencyRecord,
        execution: &Execution,
        lease: &Lease,
        first: &ExecutionUpdate,
    ) -> Result<Vec<Arc<ExecutionEvent>>, StoreError> {
        let mut inner = self.write();
        let slot = (record.scope.clone(), record.key.clone());
        if inner.keys.get(&slot).is_some_and(|held| held.expires_at > record.created_at) {
            return Err(StoreError::Conflict(format!("idempotency key '{}' is in use", record.key)));
        }
        // Checked before anything is written, so a refused call leaves no trace.
        inner.create(execution, lease)?;
        let events = inner.apply(execution.scope(), execution.id, Some(lease), first)?;
        inner.keys.insert(slot, record.clone());
        Ok(events)
    }

    async fn find_key(
        &self,
        scope: &KeyScope,
        key: &IdempotencyKey,
        now: DateTime<Utc>,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let inner = self.read();
        Ok(inner.keys.get(&(scope.clone(), key.clone())).filter(|r| r.expires_at > now).cloned())
    }

    async fn purge_expired_keys(&self, now: DateTime<Utc>, limit: u32) -> Result<u64, StoreError> {
        let mut inner = self.write();
        let mut expired: Vec<(DateTime<Utc>, (KeyScope, IdempotencyKey))> =
            inner.keys.iter().filter(|(_, r)| r.expires_at <= now).map(|(k, r)| (r.expires_at, k.clone())).collect();
        expired.sort_unstable();
        expired.truncate(limit as usize);
        for (_, slot) in &expired {
            inner.keys.remove(slot);
        }
        Ok(expired.len() as u64)
    }
}
