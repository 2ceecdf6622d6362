//! Workflows an LLM node offers its model as tools: the model's arguments become the workflow's
//! variables, and the workflow's output is the tool's result.

use crate::domain::access::Scope;
use crate::domain::ids::{ExecutionId, WorkflowId};
use serde_json::{Map, Value};
use std::sync::{Arc, OnceLock, Weak};
use tokio_util::sync::CancellationToken;

/// What a model is told about a workflow it may call.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkflowToolInfo {
    pub name: String,
    pub description: String,
    /// The workflow's `input_schema`, or an open object schema when it declares none.
    pub input_schema: Value,
}

/// Runs workflows as tools.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait WorkflowTools: Send + Sync {
    /// # Errors
    /// A sentence for a workflow the workspace does not have.
    async fn describe(&self, scope: Scope, workflow: WorkflowId) -> Result<WorkflowToolInfo, String>;

    /// Runs the workflow's latest version with `arguments` as its variables, one level deeper
    /// than `caller` (the nesting limit applies), and waits for its end; cancelling `cancel`
    /// cancels the run.
    ///
    /// # Errors
    /// A sentence: the workflow is unknown, the arguments do not fit its inputs, the nesting is
    /// too deep, or the run failed or was cancelled (with its error).
    async fn call(
        &self,
        scope: Scope,
        caller: ExecutionId,
        workflow: WorkflowId,
        arguments: Map<String, Value>,
        cancel: CancellationToken,
    ) -> Result<Value, String>;
}

/// The workflow tools, known only once the use cases are assembled (after the runners, which
/// need them): the composition root fills the slot. Until then, and after the use cases are
/// gone, calls fail with a sentence.
#[derive(Default)]
pub struct WorkflowToolsSlot(OnceLock<Weak<dyn WorkflowTools>>);

impl std::fmt::Debug for WorkflowToolsSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() { "WorkflowToolsSlot(filled)" } else { "WorkflowToolsSlot(empty)" })
    }
}

impl WorkflowToolsSlot {
    /// Fills the slot (once; later calls are ignored). Held weakly: the use cases own the slot's
    /// runners, not the other way round.
    pub fn fill(&self, tools: &Arc<dyn WorkflowTools>) {
        let _ = self.0.set(Arc::downgrade(tools));
    }

    fn get(&self) -> Result<Arc<dyn WorkflowTools>, String> {
        self.0.get().and_then(Weak::upgrade).ok_or_else(|| "workflows cannot be called as tools here".to_owned())
    }
}

#[async_trait::async_trait]
impl WorkflowTools for WorkflowToolsSlot {
    async fn describe(&self, scope: Scope, workflow: WorkflowId) -> Result<WorkflowToolInfo, String> {
        self.get()?.describe(scope, workflow).await
    }

    async fn call(
        &self,
        scope: Scope,
        caller: ExecutionId,
        workflow: WorkflowId,
        arguments: Map<String, Value>,
        cancel: CancellationToken,
    ) -> Result<Value, String> {
        self.get()?.call(scope, caller, workflow, arguments, cancel).await
    }
}
