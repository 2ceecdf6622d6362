//! Storage port for workflows and their immutable versions.

use super::paging::{Page, PageRequest};
use super::store_error::StoreError;
use crate::domain::access::Scope;
use crate::domain::ids::WorkflowId;
use crate::domain::valid::ValidWorkflow;
use crate::domain::workflow::WorkflowMetadata;
use chrono::{DateTime, Utc};

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

/// Stored workflows. Every save is a new immutable version; deleting a workflow hides it but
/// keeps its versions for the executions that ran them.
///
/// Every call is confined to one workspace's [`Scope`]: a workflow of another workspace is
/// treated as if it did not exist (`NotFound`), except that its id stays taken (ids are unique
/// across the server, so `create` with it is a `Conflict`).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait WorkflowStore: Send + Sync {
    /// Stores the first version of a new workflow and returns its version number (1).
    ///
    /// # Errors
    /// - MUST return [`StoreError::Conflict`] when a workflow with this id exists, in any
    ///   workspace, live or deleted in another workspace.
    async fn create(&self, scope: Scope, workflow: &ValidWorkflow) -> Result<u32, StoreError>;

    /// Stores a new version of an existing workflow and returns its number, provided `expected`
    /// admits the current version. The check and the write are one atomic step: of two writers
    /// expecting the same version, exactly one succeeds.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when no workflow has this id, whatever `expected` says.
    /// - MUST return [`StoreError::VersionMismatch`] with the current version when `expected` does
    ///   not admit it, and then store nothing.
    async fn update(
        &self,
        scope: Scope,
        workflow: &ValidWorkflow,
        expected: &ExpectedVersion,
    ) -> Result<u32, StoreError>;

    /// The latest version.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when no workflow has this id.
    async fn get(&self, scope: Scope, id: WorkflowId) -> Result<VersionedWorkflow, StoreError>;

    /// A given version, even of a deleted workflow.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when there is no such version.
    async fn get_version(&self, scope: Scope, id: WorkflowId, version: u32) -> Result<VersionedWorkflow, StoreError>;

    /// Hides a workflow from `get` and `list`, provided `expected` admits its current version
    /// (checked atomically with the delete, as for `update`).
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when no workflow has this id, whatever `expected` says.
    /// - MUST return [`StoreError::VersionMismatch`] with the current version when `expected` does
    ///   not admit it, and then change nothing.
    async fn delete(&self, scope: Scope, id: WorkflowId, expected: &ExpectedVersion) -> Result<(), StoreError>;

    /// Workflows, newest first.
    ///
    /// # Errors
    /// Storage failures only.
    async fn list(&self, scope: Scope, page: PageRequest) -> Result<Page<WorkflowSummary>, StoreError>;

    /// Every version of a workflow (also of a deleted one), oldest first.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when no workflow ever had this id.
    async fn list_versions(&self, scope: Scope, id: WorkflowId) -> Result<Vec<VersionInfo>, StoreError>;
}
