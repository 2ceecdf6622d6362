//! Storage ports: workflows with their versions, executions with node results and event logs.

use crate::domain::execution::{Execution, ExecutionEvent, ExecutionState, ExecutionUpdate, NodeResult};
use crate::domain::ids::{ExecutionId, WorkflowId};
use crate::domain::valid::ValidWorkflow;
use crate::domain::workflow::WorkflowMetadata;
use chrono::{DateTime, Utc};
use std::time::Duration;
use uuid::Uuid;

/// A process's claim on the executions it runs: it must renew the claim within `ttl`, or another
/// process may take them over. Every write by the owner renews it too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// Unique per process start.
    pub owner: String,
    pub ttl: Duration,
}

/// One stored version of a workflow, as the version list shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct VersionInfo {
    pub version: u32,
    pub saved_at: DateTime<Utc>,
    pub name: String,
    /// The author's free-text `metadata.version`.
    pub label: String,
    pub change_description: Option<String>,
}

/// Why a storage call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },
    #[error("{0}")]
    Conflict(String),
    /// The storage is out of reach for now; the same call may succeed later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage failure: {0}")]
    Internal(String),
    /// Another process took over the execution (its lease expired): stop working on it.
    #[error("lease lost: {0}")]
    LeaseLost(String),
    /// A conditional write found the entity at a version it did not expect, and changed nothing.
    #[error("{entity} {id} is at version {current}, which the write did not expect")]
    VersionMismatch { entity: &'static str, id: String, current: u32 },
    /// A write conditional on the end of an execution's log found events appended meanwhile
    /// (a signal arrived), and changed nothing.
    #[error("the event log moved on to event {last_seq}")]
    Stale { last_seq: u64 },
}

impl StoreError {
    #[must_use]
    pub fn not_found(entity: &'static str, id: impl ToString) -> Self {
        Self::NotFound { entity, id: id.to_string() }
    }

    #[must_use]
    pub fn version_mismatch(entity: &'static str, id: impl ToString, current: u32) -> Self {
        Self::VersionMismatch { entity, id: id.to_string(), current }
    }

    /// Whether retrying the same call later may succeed.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Position in a list ordered newest first: the creation time and id of the last item seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// Which page of a list to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<Cursor>,
}

/// One page of a list, the number of items matching in all, and where the next page starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub next: Option<Cursor>,
}

/// A workflow at one of its versions (1 for the first save, +1 per update).
#[derive(Clone, Debug)]
pub struct VersionedWorkflow {
    pub version: u32,
    pub workflow: ValidWorkflow,
}

/// Which current versions a conditional write accepts: the "compare" of a compare-and-set, which
/// the store checks atomically with the write (the HTTP layer builds it from `If-Match`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// Whatever version is current: an unconditional write.
    #[default]
    Any,
    /// One of these versions; an empty list accepts none.
    OneOf(Vec<u32>),
}

impl ExpectedVersion {
    /// Whether a write may replace `current`.
    #[must_use]
    pub fn admits(&self, current: u32) -> bool {
        match self {
            Self::Any => true,
            Self::OneOf(versions) => versions.contains(&current),
        }
    }
}

/// What a workflow list shows of each workflow.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkflowSummary {
    pub metadata: WorkflowMetadata,
    pub version: u32,
    pub node_count: usize,
    pub edge_count: usize,
}

/// Which executions to list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecutionFilter {
    pub workflow_id: Option<WorkflowId>,
    pub state: Option<ExecutionState>,
    /// Only the children of this execution.
    pub parent: Option<ExecutionId>,
}

/// Stored workflows. Every save is a new immutable version; deleting a workflow hides it but
/// keeps its versions for the executions that ran them.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait WorkflowStore: Send + Sync {
    /// Stores the first version of a new workflow and returns its version number (1).
    ///
    /// # Errors
    /// - MUST return [`StoreError::Conflict`] when a workflow with this id exists.
    async fn create(&self, workflow: &ValidWorkflow) -> Result<u32, StoreError>;

    /// Stores a new version of an existing workflow and returns its number, provided `expected`
    /// admits the current version. The check and the write are one atomic step: of two writers
    /// expecting the same version, exactly one succeeds.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when no workflow has this id, whatever `expected` says.
    /// - MUST return [`StoreError::VersionMismatch`] with the current version when `expected` does
    ///   not admit it, and then store nothing.
    async fn update(&self, workflow: &ValidWorkflow, expected: &ExpectedVersion) -> Result<u32, StoreError>;

    /// The latest version.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when no workflow has this id.
    async fn get(&self, id: WorkflowId) -> Result<VersionedWorkflow, StoreError>;

    /// A given version, even of a deleted workflow.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when there is no such version.
    async fn get_version(&self, id: WorkflowId, version: u32) -> Result<VersionedWorkflow, StoreError>;

    /// Hides a workflow from `get` and `list`, provided `expected` admits its current version
    /// (checked atomically with the delete, as for `update`).
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when no workflow has this id, whatever `expected` says.
    /// - MUST return [`StoreError::VersionMismatch`] with the current version when `expected` does
    ///   not admit it, and then change nothing.
    async fn delete(&self, id: WorkflowId, expected: &ExpectedVersion) -> Result<(), StoreError>;

    /// Workflows, newest first.
    ///
    /// # Errors
    /// Storage failures only.
    async fn list(&self, page: PageRequest) -> Result<Page<WorkflowSummary>, StoreError>;

    /// Every version of a workflow (also of a deleted one), oldest first.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when no workflow ever had this id.
    async fn list_versions(&self, id: WorkflowId) -> Result<Vec<VersionInfo>, StoreError>;
}

/// Stored executions, their node results and their event logs.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait ExecutionStore: Send + Sync {
    /// Stores a new execution, owned by `lease`.
    ///
    /// # Errors
    /// - MUST return [`StoreError::Conflict`] when the id is taken.
    async fn create(&self, execution: &Execution, lease: &Lease) -> Result<(), StoreError>;

    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when no execution has this id.
    async fn get(&self, id: ExecutionId) -> Result<Execution, StoreError>;

    /// The latest result of every node that started or was skipped, in the order each first appeared.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when no execution has this id.
    async fn node_results(&self, id: ExecutionId) -> Result<Vec<NodeResult>, StoreError>;

    /// Executions matching the filter, newest first.
    ///
    /// # Errors
    /// Storage failures only.
    async fn list(&self, filter: ExecutionFilter, page: PageRequest) -> Result<Page<Execution>, StoreError>;

    /// Applies one step atomically: the state change, node results (replacing earlier results of
    /// the same nodes), events (numbered on from the last) and the signal to another execution
    /// (its event numbered on from that one's last; a `Paused` target is woken: its `wake_at`
    /// becomes now; a target in a final state takes nothing). Returns the events as stored, the
    /// signal's last.
    /// With a lease, the write is fenced: it happens only while the lease owns the execution,
    /// and renews it. A final state, and `Paused`, release the execution; `Paused` stores the
    /// change's `wake_at`, any other state clears it.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when no execution (or signal target) has this id.
    /// - MUST return [`StoreError::LeaseLost`] when a lease is given and does not own the execution.
    /// - MUST return [`StoreError::Stale`] when `expect_last_seq` is set and the log ends
    ///   elsewhere, and then change nothing.
    async fn apply<'a>(
        &self,
        id: ExecutionId,
        lease: Option<&'a Lease>,
        update: &ExecutionUpdate,
    ) -> Result<Vec<ExecutionEvent>, StoreError>;

    /// Stores a new execution, owned by `lease`, together with its first step, in one atomic
    /// write (one durable commit for an execution that finishes in its first step). Returns the
    /// step's events as stored.
    ///
    /// # Errors
    /// - MUST return [`StoreError::Conflict`] when the id is taken, and then store nothing.
    async fn create_with(
        &self,
        execution: &Execution,
        lease: &Lease,
        first: &ExecutionUpdate,
    ) -> Result<Vec<ExecutionEvent>, StoreError>;

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

    /// Checks that the storage answers.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when it does not.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Events with `seq > after`, in order, at most `limit`.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when no execution has this id.
    async fn events_after(&self, id: ExecutionId, after: u64, limit: u32) -> Result<Vec<ExecutionEvent>, StoreError>;
}
