//! Workflow use cases: create, read, update (a new version), delete and list.

use super::error::ServiceError;
use crate::domain::ids::WorkflowId;
use crate::domain::validation::validate;
use crate::domain::workflow::WorkflowDraft;
use crate::ports::{Clock, Page, PageRequest, VersionedWorkflow, WorkflowStore, WorkflowSummary};
use std::sync::Arc;

/// Validates and stores workflows.
pub struct WorkflowService {
    store: Arc<dyn WorkflowStore>,
    clock: Arc<dyn Clock>,
}

impl WorkflowService {
    #[must_use]
    pub fn new(store: Arc<dyn WorkflowStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Validates and stores a new workflow; the id is the draft's or a new one.
    ///
    /// # Errors
    /// `Validation` listing every problem; `Conflict` when the id is taken.
    #[tracing::instrument(skip_all, fields(workflow_id))]
    pub async fn create(&self, draft: WorkflowDraft) -> Result<VersionedWorkflow, ServiceError> {
        let id = draft.metadata.id.unwrap_or_else(WorkflowId::generate);
        tracing::Span::current().record("workflow_id", tracing::field::display(id));
        let now = self.clock.now();
        let workflow = validate(draft.complete(id, now, now))?;
        let version = self.store.create(&workflow).await?;
        Ok(VersionedWorkflow { version, workflow })
    }

    /// Validates and stores a new version of an existing workflow.
    ///
    /// # Errors
    /// `NotFound`; `BadRequest` when the body names another id; `Validation`.
    #[tracing::instrument(skip_all, fields(workflow_id = %id))]
    pub async fn update(&self, id: WorkflowId, draft: WorkflowDraft) -> Result<VersionedWorkflow, ServiceError> {
        if let Some(other) = draft.metadata.id.filter(|other| *other != id) {
            return Err(ServiceError::BadRequest(format!(
                "workflow.metadata.id {other} does not match the id {id} in the path"
            )));
        }
        let current = self.store.get(id).await?;
        let created_at = current.workflow.workflow().metadata.created_at;
        let workflow = validate(draft.complete(id, created_at, self.clock.now()))?;
        let version = self.store.update(&workflow).await?;
        Ok(VersionedWorkflow { version, workflow })
    }

    /// # Errors
    /// `NotFound`.
    pub async fn get(&self, id: WorkflowId) -> Result<VersionedWorkflow, ServiceError> {
        Ok(self.store.get(id).await?)
    }

    /// # Errors
    /// `NotFound`.
    #[tracing::instrument(skip_all, fields(workflow_id = %id))]
    pub async fn delete(&self, id: WorkflowId) -> Result<(), ServiceError> {
        Ok(self.store.delete(id).await?)
    }

    /// # Errors
    /// Storage failures.
    pub async fn list(&self, page: PageRequest) -> Result<Page<WorkflowSummary>, ServiceError> {
        Ok(self.store.list(page).await?)
    }
}
