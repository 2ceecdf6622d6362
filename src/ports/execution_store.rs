//! Storage ports for executions, split by role: the records a client reads, the event log the
//! executor writes, the leases that say which process runs what, and a health check. One store
//! plays every role ([`ExecutionStore`]); a caller asks only for the roles it uses, so a mock or
//! a new adapter (a read replica, a log that notifies) carries only those.

use super::paging::{Page, PageRequest};
use super::store_error::StoreError;
use crate::domain::access::Scope;
use crate::domain::execution::{Execution, ExecutionEvent, ExecutionState, ExecutionUpdate, NodeResult};
use crate::domain::ids::{ExecutionId, WorkflowId};
use std::sync::Arc;
use std::time::Duration;

/// A process's claim on the executions it runs: it must renew the claim within `ttl`, or another
/// process may take them over. Every write by the owner renews it too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// Unique per process start.
    pub owner: String,
    pub ttl: Duration,
}

/// Which executions to list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecutionFilter {
    pub workflow_id: Option<WorkflowId>,
    pub state: Option<ExecutionState>,
    /// Only the children of this execution.
    pub parent: Option<ExecutionId>,
}

/// Executions and their node results, as clients read them.
///
/// Every call that names executions is confined to one workspace's [`Scope`]: an execution of
/// another workspace is treated as if it did not exist (`NotFound`, or left out of a list).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait ExecutionRecords: Send + Sync {
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when no execution has this id.
    async fn get(&self, scope: Scope, id: ExecutionId) -> Result<Execution, StoreError>;

    /// The latest result of every node that started or was skipped, in the order each first appeared.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when no execution has this id.
    async fn node_results(&self, scope: Scope, id: ExecutionId) -> Result<Vec<NodeResult>, StoreError>;

    /// Executions matching the filter, newest first.
    ///
    /// # Errors
    /// Storage failures only.
    async fn list(
        &self,
        scope: Scope,
        filter: ExecutionFilter,
        page: PageRequest,
    ) -> Result<Page<Execution>, StoreError>;
}

/// The step log: every change to an execution is one atomic step (state, node results, events),
/// and the events are read back in order.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait ExecutionLog: Send + Sync {
    /// Applies one step atomically: the state change, node results (replacing earlier results of
    /// the same nodes), events (numbered on from the last) and the signal to another execution
    /// (its event numbered on from that one's last; a `Paused` target is woken: its `wake_at`
    /// becomes now; a target in a final state takes nothing). Returns the events as stored, the
    /// signal's last, each in the `Arc` it is published in.
    /// With a lease, the write is fenced: it happens only while the lease owns the execution,
    /// and renews it. A final state, and `Paused`, release the execution; `Paused` stores the
    /// change's `wake_at`, any other state clears it.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when no execution of the scope (or signal target,
    ///   which must be of the same scope) has this id.
    /// - MUST return [`StoreError::LeaseLost`] when a lease is given and does not own the execution.
    /// - MUST return [`StoreError::Stale`] when `expect_last_seq` is set and the log ends
    ///   elsewhere, and then change nothing.
    async fn apply<'a>(
        &self,
        scope: Scope,
        id: ExecutionId,
        lease: Option<&'a Lease>,
        update: &ExecutionUpdate,
    ) -> Result<Vec<Arc<ExecutionEvent>>, StoreError>;

    /// Stores a new execution, owned by `lease`, together with its first step, in one atomic
    /// write (one durable commit for an execution that finishes in its first step). Returns the
    /// step's events as stored. With an empty step it only stores the execution. Its workspace
    /// is the execution's `workspace_id`.
    ///
    /// # Errors
    /// - MUST return [`StoreError::Conflict`] when the id is taken, and then store nothing.
    async fn create_with(
        &self,
        execution: &Execution,
        lease: &Lease,
        first: &ExecutionUpdate,
    ) -> Result<Vec<Arc<ExecutionEvent>>, StoreError>;

    /// Events with `seq > after`, in order, at most `limit`.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when no execution has this id.
    async fn events_after(
        &self,
        scope: Scope,
        id: ExecutionId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<ExecutionEvent>, StoreError>;
}

/// Which process runs which unfinished execution.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait Leases: Send + Sync {
    /// Takes over unfinished executions nobody owns: `Pending` and `Running` ones whose lease
    /// expired (all of them when `steal` is set, for a store only this process can use), and
    /// `Paused` ones whose `wake_at` has come. Oldest first, at most `limit`.
    ///
    /// # Errors
    /// Storage failures only.
    async fn claim(&self, lease: &Lease, limit: u32, steal: bool) -> Result<Vec<Execution>, StoreError>;

    /// Extends the lease on these executions; returns those it still owns.
    ///
    /// # Errors
    /// Storage failures only.
    async fn renew(&self, lease: &Lease, ids: &[ExecutionId]) -> Result<Vec<ExecutionId>, StoreError>;

    /// Gives these executions up, so that another process may claim them at once.
    ///
    /// # Errors
    /// Storage failures only.
    async fn release(&self, lease: &Lease, ids: &[ExecutionId]) -> Result<(), StoreError>;
}

/// Whether the storage answers.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait StoreHealth: Send + Sync {
    /// Checks that the storage answers.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when it does not.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Every role of the execution storage, for the callers that need most of them (the executor,
/// recovery) and for the adapters, which each implement all four on one struct.
pub trait ExecutionStore: ExecutionRecords + ExecutionLog + Leases + StoreHealth {}

impl<T: ExecutionRecords + ExecutionLog + Leases + StoreHealth + ?Sized> ExecutionStore for T {}

// A mock of the whole store (`MockExecutionStore`), for code that takes an `ExecutionStore`:
// `automock` cannot see a supertrait's methods, so the four roles are listed again here.
#[cfg(any(test, feature = "mocks"))]
mockall::mock! {
    pub ExecutionStore {}

    #[async_trait::async_trait]
    impl ExecutionRecords for ExecutionStore {
        async fn get(&self, scope: Scope, id: ExecutionId) -> Result<Execution, StoreError>;
        async fn node_results(&self, scope: Scope, id: ExecutionId) -> Result<Vec<NodeResult>, StoreError>;
        async fn list(&self, scope: Scope, filter: ExecutionFilter, page: PageRequest) -> Result<Page<Execution>, StoreError>;
    }

    #[async_trait::async_trait]
    impl ExecutionLog for ExecutionStore {
        async fn apply<'a>(
            &self,
            scope: Scope,
            id: ExecutionId,
            lease: Option<&'a Lease>,
            update: &ExecutionUpdate,
        ) -> Result<Vec<Arc<ExecutionEvent>>, StoreError>;
        async fn create_with(
            &self,
            execution: &Execution,
            lease: &Lease,
            first: &ExecutionUpdate,
        ) -> Result<Vec<Arc<ExecutionEvent>>, StoreError>;
        async fn events_after(&self, scope: Scope, id: ExecutionId, after: u64, limit: u32)
        -> Result<Vec<ExecutionEvent>, StoreError>;
    }

    #[async_trait::async_trait]
    impl Leases for ExecutionStore {
        async fn claim(&self, lease: &Lease, limit: u32, steal: bool) -> Result<Vec<Execution>, StoreError>;
        async fn renew(&self, lease: &Lease, ids: &[ExecutionId]) -> Result<Vec<ExecutionId>, StoreError>;
        async fn release(&self, lease: &Lease, ids: &[ExecutionId]) -> Result<(), StoreError>;
    }

    #[async_trait::async_trait]
    impl StoreHealth for ExecutionStore {
        async fn ping(&self) -> Result<(), StoreError>;
    }
}
