//! What the SQL adapters share: database errors as [`StoreError`]s, stored workflow definitions
//! back into [`ValidWorkflow`]s (cached: versions never change), and the workflow summary.

use crate::domain::ids::WorkflowId;
use crate::domain::valid::ValidWorkflow;
use crate::domain::validation::restore;
use crate::domain::workflow::Workflow;
use crate::ports::StoreError;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Translates a database error. Connection trouble, a busy or full disk and a read-only database
/// are `Unavailable` (worth retrying, and reported as 503); a unique violation is a `Conflict`.
pub(crate) fn store_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) => {
            if db.is_unique_violation() {
                return StoreError::Conflict(db.message().to_owned());
            }
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            match transient_reason(&code) {
                Some(reason) => StoreError::Unavailable(format!("{reason}: {}", db.message())),
                None => StoreError::Internal(format!("database error {code}: {}", db.message())),
            }
        }
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => StoreError::Unavailable(e.to_string()),
        _ => StoreError::Internal(e.to_string()),
    }
}

/// Database error codes that describe a passing condition (SQLite result codes, Postgres SQLSTATEs).
fn transient_reason(code: &str) -> Option<&'static str> {
    match code {
        "5" | "6" | "261" | "262" | "517" => Some("database is busy"),
        "13" => Some("disk is full"),
        "8" | "264" | "520" | "776" | "1032" => Some("database is read-only"),
        "10" | "266" | "522" | "778" | "1290" | "3338" | "4874" => Some("disk I/O error"),
        "53100" => Some("disk is full"),
        "25006" => Some("database is read-only"),
        "40001" | "40P01" => Some("transaction conflict"),
        c if c.starts_with("08") || c.starts_with("57P") || c.starts_with("53") => Some("database unavailable"),
        _ => None,
    }
}

/// Parses and validates a stored definition.
pub(crate) fn definition(json: &str) -> Result<ValidWorkflow, StoreError> {
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

/// Serializes a workflow's metadata and whole definition for storage.
pub(crate) fn encode_workflow(workflow: &Workflow) -> Result<(String, String), StoreError> {
    let fail = |e: serde_json::Error| StoreError::Internal(format!("cannot encode workflow: {e}"));
    Ok((serde_json::to_string(&workflow.metadata).map_err(fail)?, serde_json::to_string(workflow).map_err(fail)?))
}

/// The `options` column: everything an execute request set besides the variables.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct ExecutionOptions {
    #[serde(default)]
    pub budget: crate::domain::budget::BudgetLimits,
}

impl ExecutionOptions {
    pub fn of(execution: &crate::domain::execution::Execution) -> Self {
        Self { budget: execution.budget }
    }
}
