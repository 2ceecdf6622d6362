//! Workflows called as tools by an LLM node: each call is an execution of its own, in the
//! caller's workspace and one level deeper than the caller, awaited to its end.

use super::error::ServiceError;
use super::executions::ExecutionService;
use crate::domain::access::Scope;
use crate::domain::budget::BudgetLimits;
use crate::domain::execution::ExecutionState;
use crate::domain::ids::{ExecutionId, WorkflowId};
use crate::domain::run::RunEvent;
use crate::ports::{BusItem, WorkflowToolInfo, WorkflowTools};
use futures::StreamExt;
use serde_json::{Map, Value, json};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often a call looks at the store for its run's end, in case the live stream lagged.
const POLL: Duration = Duration::from_secs(2);

fn sentence(e: ServiceError) -> String {
    match e {
        ServiceError::Validation(v) => {
            let problems: Vec<String> = v.problems.iter().map(|p| format!("{}: {}", p.path, p.problem)).collect();
            format!("the arguments do not fit the workflow's inputs: {}", problems.join("; "))
        }
        other => other.to_string(),
    }
}

#[async_trait::async_trait]
impl WorkflowTools for ExecutionService {
    async fn describe(&self, scope: Scope, workflow: WorkflowId) -> Result<WorkflowToolInfo, String> {
        let versioned = self.workflow(scope, workflow).await.map_err(sentence)?;
        let stored = versioned.workflow.workflow();
        Ok(WorkflowToolInfo {
            name: stored.metadata.name.clone(),
            description: stored.metadata.description.clone().unwrap_or_else(|| format!("Runs workflow {workflow}")),
            input_schema: stored.input_schema.clone().unwrap_or_else(|| json!({"type": "object"})),
        })
    }

    async fn call(
        &self,
        scope: Scope,
        caller: ExecutionId,
        workflow: WorkflowId,
        arguments: Map<String, Value>,
        cancel: CancellationToken,
    ) -> Result<Value, String> {
        let parent = self.get(scope, caller).await.map_err(sentence)?.0;
        let depth = parent.depth.saturating_add(1);
        let max = self.max_depth();
        if depth > max {
            return Err(format!(
                "workflows calling workflows are nested {depth} deep, past the limit of {max} (OXIFY_MAX_SUBWORKFLOW_DEPTH)"
            ));
        }
        let (mut execution, valid) =
            // Whoever started the calling run started this one too (its approvals say so).
            self.prepare(scope, workflow, arguments, BudgetLimits::default(), parent.started_by).await.map_err(sentence)?;
        execution.depth = depth;
        let id = execution.id;
        // Subscribed before the run starts, so its end cannot slip past.
        let mut live = self.subscribe(id).live;
        self.launch(execution, valid).await.map_err(sentence)?;
        loop {
            tokio::select! {
                item = live.next() => match item {
                    Some(BusItem::Event(event)) => if let Some(end) = ending(&event.event) {
                        return end;
                    },
                    Some(_) => {}
                    None => return self.outcome(scope, id).await,
                },
                () = tokio::time::sleep(POLL) => {
                    let (execution, _) = self.get(scope, id).await.map_err(sentence)?;
                    if execution.state.is_terminal() {
                        return self.outcome(scope, id).await;
                    }
                }
                () = cancel.cancelled() => {
                    let _ = self.cancel(scope, id).await;
                    return Err("cancelled".into());
                }
            }
        }
    }
}

impl ExecutionService {
    /// The end of a finished execution as a tool result.
    async fn outcome(&self, scope: Scope, id: ExecutionId) -> Result<Value, String> {
        let (execution, _) = self.get(scope, id).await.map_err(sentence)?;
        match execution.state {
            ExecutionState::Completed => Ok(execution.output.map_or(Value::Null, |o| (*o).clone())),
            state => Err(format!(
                "workflow run {id} ended {state:?}: {}",
                execution.error.unwrap_or_else(|| "no error recorded".into())
            )),
        }
    }
}

/// What an event that ends a run means for the caller.
fn ending(event: &RunEvent) -> Option<Result<Value, String>> {
    match event {
        RunEvent::ExecutionCompleted { output } => Some(Ok(output.as_ref().map_or(Value::Null, |o| (**o).clone()))),
        RunEvent::ExecutionFailed { error } => Some(Err(format!("the workflow failed: {error}"))),
        RunEvent::ExecutionCancelled { reason } => Some(Err(format!("the workflow was cancelled: {reason}"))),
        _ => None,
    }
}
