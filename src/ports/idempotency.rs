//! Storage port for idempotency keys: which request a key named, and the answer it got.

use super::execution_store::Lease;
use super::store_error::StoreError;
use crate::domain::execution::{Execution, ExecutionEvent, ExecutionUpdate};
use crate::domain::idempotency::{Fingerprint, IdempotencyKey, KeyScope};
use crate::domain::ids::{ExecutionId, WorkflowId};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// A key, the request it named and the answer that request got, kept until `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub scope: KeyScope,
    pub key: IdempotencyKey,
    /// Of the request that used the key first; a retry must have the same.
    pub fingerprint: Fingerprint,
    pub workflow_id: WorkflowId,
    /// The execution the request started.
    pub execution_id: ExecutionId,
    /// The body of the first answer, JSON text, returned as it is to every retry.
    pub response: String,
    pub created_at: DateTime<Utc>,
    /// From then on the key is free again, as if never used.
    pub expires_at: DateTime<Utc>,
}

/// Idempotency keys, written only together with the execution they started, so that a key never
/// points at nothing and no key starts two executions.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Stores a new execution owned by `lease` with its first step (as
    /// [`ExecutionLog::create_with`](super::ExecutionLog::create_with)) and `record`, in one
    /// atomic write: all of it or nothing. A record of the same scope and key that expired by
    /// `record.created_at` is replaced. Returns the step's events as stored.
    ///
    /// # Errors
    /// - MUST return [`StoreError::Conflict`] when a record of the same scope and key has not
    ///   expired by `record.created_at`, and then store nothing, not even the execution. Of
    ///   concurrent calls with one key, exactly one succeeds.
    /// - MUST return [`StoreError::Conflict`] when the execution id is taken, and then store nothing.
    async fn create_with_key(
        &self,
        record: &IdempotencyRecord,
        execution: &Execution,
        lease: &Lease,
        first: &ExecutionUpdate,
    ) -> Result<Vec<Arc<ExecutionEvent>>, StoreError>;

    /// The record of a key, unless it expired by `now` (`expires_at <= now`).
    ///
    /// # Errors
    /// Storage failures only.
    async fn find_key(
        &self,
        scope: &KeyScope,
        key: &IdempotencyKey,
        now: DateTime<Utc>,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Deletes at most `limit` records that expired by `now`, and returns how many it deleted.
    /// The executions they started stay.
    ///
    /// # Errors
    /// Storage failures only.
    async fn purge_expired_keys(&self, now: DateTime<Utc>, limit: u32) -> Result<u64, StoreError>;
}
