//! Stored workflow versions back into [`ValidWorkflow`]s, cached by (id, version): versions never
//! change, so an entry never goes stale. A stored version is restored (parsed and compiled), not
//! validated again: a rule added since it was saved must not make it, or the executions pinned
//! to it, unreadable.

use crate::domain::ids::WorkflowId;
use crate::domain::valid::ValidWorkflow;
use crate::domain::validation::restore;
use crate::domain::workflow::Workflow;
use crate::ports::StoreError;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Parses and restores a stored definition.
fn definition(json: &str) -> Result<ValidWorkflow, StoreError> {
    let workflow: Workflow =
        serde_json::from_str(json).map_err(|e| StoreError::Internal(format!("stored workflow is unreadable: {e}")))?;
    restore(workflow).map_err(|e| StoreError::Internal(format!("stored workflow no longer compiles: {e}")))
}

/// Validated workflow versions by (id, version). Versions are immutable, so entries never go stale.
#[derive(Default)]
pub(crate) struct VersionCache {
    entries: Mutex<HashMap<(WorkflowId, u32), ValidWorkflow>>,
}

/// Versions kept; the cache is emptied when full (simple, and refilled at the cost of a parse).
const CACHE_CAPACITY: usize = 1024;

impl VersionCache {
    pub fn get_or_parse(
        &self,
        id: WorkflowId,
        version: u32,
        json: impl FnOnce() -> Option<String>,
    ) -> Result<Option<ValidWorkflow>, StoreError> {
        if let Some(hit) = self.lock().get(&(id, version)) {
            return Ok(Some(hit.clone()));
        }
        let Some(json) = json() else { return Ok(None) };
        let parsed = definition(&json)?;
        let mut entries = self.lock();
        if entries.len() >= CACHE_CAPACITY {
            entries.clear();
        }
        entries.insert((id, version), parsed.clone());
        Ok(Some(parsed))
    }

    pub fn insert(&self, version: u32, workflow: &ValidWorkflow) {
        let mut entries = self.lock();
        if entries.len() >= CACHE_CAPACITY {
            entries.clear();
        }
        entries.insert((workflow.id(), version), workflow.clone());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(WorkflowId, u32), ValidWorkflow>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
