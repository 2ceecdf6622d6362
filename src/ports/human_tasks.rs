//! Requests to people (approvals, forms) beside the runs that wait on them.

use super::paging::{Page, PageRequest};
use super::store_error::StoreError;
use crate::domain::access::Scope;
use crate::domain::human::{Delivery, HumanTask, TaskKind, TaskState};
use crate::domain::ids::{ExecutionId, TaskId, WorkflowId};
use chrono::{DateTime, Utc};

/// Which requests to list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskFilter {
    pub kind: Option<TaskKind>,
    pub state: Option<TaskState>,
    pub workflow_id: Option<WorkflowId>,
    pub execution_id: Option<ExecutionId>,
}

/// Approvals and forms, per workspace. A request's answers are written with a check of its
/// `revision`, so two people answering at once never both count against one stale read.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait HumanTaskStore: Send + Sync {
    /// Stores a new request in its `workspace_id`; returns `false`, changing nothing, when one
    /// with this id exists (a run resumed after a crash makes sure its requests exist).
    ///
    /// # Errors
    /// Storage failures.
    async fn create_task(&self, task: &HumanTask) -> Result<bool, StoreError>;

    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when the workspace has no request with this id.
    async fn task(&self, scope: Scope, id: TaskId) -> Result<HumanTask, StoreError>;

    /// Requests matching the filter, newest first.
    ///
    /// # Errors
    /// Storage failures.
    async fn tasks(&self, scope: Scope, filter: TaskFilter, page: PageRequest) -> Result<Page<HumanTask>, StoreError>;

    /// Writes the request's state, decisions, response, sealed values, `decided_at` and
    /// `revision`, if its stored revision is `expected_revision` and it is still `Pending`.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when the workspace has no such request.
    /// - MUST return [`StoreError::VersionMismatch`] (with the stored revision) when it moved on or
    ///   is final, and then change nothing.
    async fn update_task(&self, scope: Scope, task: &HumanTask, expected_revision: u32) -> Result<(), StoreError>;

    /// Moves the still `Pending` requests of an execution (only `only`, when given) to `state`
    /// (`Expired` or `Cancelled`) at `at`. Returns how many moved: 0 when they were answered
    /// first.
    ///
    /// # Errors
    /// Storage failures.
    async fn close_tasks(
        &self,
        scope: Scope,
        execution_id: ExecutionId,
        only: Option<TaskId>,
        state: TaskState,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Requests of any workspace whose notification is due at `now` (at most `limit`), each
    /// claimed until `now + claim`: meanwhile no other caller (no other process) gets it, and
    /// if the claimer dies it is due again after that.
    ///
    /// # Errors
    /// Storage failures.
    async fn due_notifications(
        &self,
        now: DateTime<Utc>,
        claim: chrono::Duration,
        limit: u32,
    ) -> Result<Vec<HumanTask>, StoreError>;

    /// Writes a request's notification (its delivery log); its next attempt is due at
    /// `delivery.next_attempt_at` (none: no more attempts). Ends any claim on it.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when the workspace has no such request.
    async fn record_notification(&self, scope: Scope, id: TaskId, delivery: &Delivery) -> Result<(), StoreError>;
}
