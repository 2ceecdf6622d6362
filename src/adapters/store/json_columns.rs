//! The JSON columns both SQL stores write the same way: a workflow's metadata and definition,
//! and an execution's `options`.

use crate::domain::workflow::Workflow;
use crate::ports::StoreError;

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
    /// Who started the execution (`user:<id>`, `api_key:<id>`, `anonymous`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
}

impl ExecutionOptions {
    pub fn of(execution: &crate::domain::execution::Execution) -> Self {
        Self { budget: execution.budget, started_by: execution.started_by.clone() }
    }
}
