//! The execution store the executor writes through. It passes everything on, except that the
//! first write of an execution started with an idempotency key also stores the key, in the same
//! atomic write ([`IdempotencyStore::create_with_key`]): a key never points at an execution that
//! was not stored, and a stored execution's key is never missing. The executor knows nothing of
//! keys; it writes a new execution with `create_with`, and this store recognises it by its id.

use crate::domain::access::Scope;
use crate::domain::execution::{Execution, ExecutionEvent, ExecutionUpdate, NodeResult};
use crate::domain::ids::ExecutionId;
use crate::ports::{
    ExecutionFilter, ExecutionLog, ExecutionRecords, ExecutionStore, IdempotencyRecord, IdempotencyStore, Lease,
    Leases, Page, PageRequest, StoreError, StoreHealth,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// An [`ExecutionStore`] that stores keys with the first write of the executions they started
/// (a decorator of the store it wraps).
pub struct KeyedFirstWrites {
    inner: Arc<dyn ExecutionStore>,
    keys: Arc<dyn IdempotencyStore>,
    /// Keys waiting for the first write of their execution.
    waiting: Mutex<HashMap<ExecutionId, IdempotencyRecord>>,
}

/// Keeps a key waiting for its execution's first write; forgets it when dropped.
pub(super) struct Waiting<'a> {
    owner: &'a KeyedFirstWrites,
    id: ExecutionId,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.owner.lock().remove(&self.id);
    }
}

impl KeyedFirstWrites {
    #[must_use]
    pub fn new(inner: Arc<dyn ExecutionStore>, keys: Arc<dyn IdempotencyStore>) -> Self {
        Self { inner, keys, waiting: Mutex::default() }
    }

    /// Makes the first write of `record.execution_id` store `record` with it, for as long as the
    /// returned guard lives. The record stays until then (rather than being taken by the first
    /// attempt), so that a retried first write stores the key too.
    pub(super) fn expect(&self, record: IdempotencyRecord) -> Waiting<'_> {
        let id = record.execution_id;
        self.lock().insert(id, record);
        Waiting { owner: self, id }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<ExecutionId, IdempotencyRecord>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

// Only `create_with` is changed; the other roles pass straight through.

#[async_trait::async_trait]
impl ExecutionLog for KeyedFirstWrites {
    async fn apply<'a>(
        &self,
        scope: Scope,
        id: ExecutionId,
        lease: Option<&'a Lease>,
        update: &ExecutionUpdate,
    ) -> Result<Vec<Arc<ExecutionEvent>>, StoreError> {
        self.inner.apply(scope, id, lease, update).await
    }

    async fn create_with(
        &self,
        execution: &Execution,
        lease: &Lease,
        first: &ExecutionUpdate,
    ) -> Result<Vec<Arc<ExecutionEvent>>, StoreError> {
        let keyed = self.lock().get(&execution.id).cloned();
        match keyed {
            Some(record) => self.keys.create_with_key(&record, execution, lease, first).await,
            None => self.inner.create_with(execution, lease, first).await,
        }
    }

    async fn events_after(
        &self,
        scope: Scope,
        id: ExecutionId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<ExecutionEvent>, StoreError> {
        self.inner.events_after(scope, id, after, limit).await
    }
}

#[async_trait::async_trait]
impl ExecutionRecords for KeyedFirstWrites {
    async fn get(&self, scope: Scope, id: ExecutionId) -> Result<Execution, StoreError> {
        self.inner.get(scope, id).await
    }

    async fn node_results(&self, scope: Scope, id: ExecutionId) -> Result<Vec<NodeResult>, StoreError> {
        self.inner.node_results(scope, id).await
    }

    async fn list(
        &self,
        scope: Scope,
        filter: ExecutionFilter,
        page: PageRequest,
    ) -> Result<Page<Execution>, StoreError> {
        self.inner.list(scope, filter, page).await
    }
}

#[async_trait::async_trait]
impl Leases for KeyedFirstWrites {
    async fn claim(&self, lease: &Lease, limit: u32, steal: bool) -> Result<Vec<Execution>, StoreError> {
        self.inner.claim(lease, limit, steal).await
    }

    async fn renew(&self, lease: &Lease, ids: &[ExecutionId]) -> Result<Vec<ExecutionId>, StoreError> {
        self.inner.renew(lease, ids).await
    }

    async fn release(&self, lease: &Lease, ids: &[ExecutionId]) -> Result<(), StoreError> {
        self.inner.release(lease, ids).await
    }
}

#[async_trait::async_trait]
impl StoreHealth for KeyedFirstWrites {
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::idempotency::{Fingerprint, IdempotencyKey, KeyScope};
    use crate::domain::ids::WorkflowId;
    use crate::ports::{MockExecutionStore, MockIdempotencyStore};
    use chrono::Utc;
    use std::time::Duration;

    fn record_for(execution: &Execution) -> IdempotencyRecord {
        IdempotencyRecord {
            scope: KeyScope::of(crate::domain::ids::WorkspaceId::DEFAULT),
            key: IdempotencyKey::parse(b"k").unwrap(),
            fingerprint: Fingerprint::from_stored("f".into()),
            workflow_id: execution.workflow_id,
            execution_id: execution.id,
            response: "{}".into(),
            created_at: execution.created_at,
            expires_at: execution.created_at,
        }
    }

    #[tokio::test]
    async fn the_first_write_of_a_keyed_execution_stores_its_key_and_others_pass_through() {
        let lease = Lease { owner: "me".into(), ttl: Duration::from_secs(30) };
        let keyed = Execution::new(
            crate::domain::access::Scope::DEFAULT,
            WorkflowId::generate(),
            1,
            serde_json::Map::new(),
            Utc::now(),
        );
        let plain = Execution::new(
            crate::domain::access::Scope::DEFAULT,
            WorkflowId::generate(),
            1,
            serde_json::Map::new(),
            Utc::now(),
        );
        let (keyed_id, plain_id) = (keyed.id, plain.id);
        let mut inner = MockExecutionStore::new();
        inner.expect_create_with().withf(move |e, _, _| e.id == plain_id).times(1).returning(|_, _, _| Ok(Vec::new()));
        let mut keys = MockIdempotencyStore::new();
        // Twice: a retried first write stores the key too.
        keys.expect_create_with_key()
            .withf(move |r, e, _, _| r.execution_id == keyed_id && e.id == keyed_id)
            .times(2)
            .returning(|_, _, _, _| Ok(Vec::new()));
        let store = KeyedFirstWrites::new(Arc::new(inner), Arc::new(keys));
        let waiting = store.expect(record_for(&keyed));
        store.create_with(&keyed, &lease, &ExecutionUpdate::default()).await.unwrap();
        store.create_with(&keyed, &lease, &ExecutionUpdate::default()).await.unwrap();
        store.create_with(&plain, &lease, &ExecutionUpdate::default()).await.unwrap();
        drop(waiting);
        assert!(store.lock().is_empty(), "the key is forgotten with its guard");
    }
}
