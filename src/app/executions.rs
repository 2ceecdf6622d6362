//! Execution use cases: start a run, read it, list runs, cancel one.

use super::error::ServiceError;
use super::executor::Executor;
use super::running::RunningExecutions;
use crate::domain::data::RESERVED_NAMES;
use crate::domain::execution::{
    EventKind, Execution, ExecutionState, ExecutionUpdate, NewEvent, NodeResult, StateChange,
};
use crate::domain::ids::{ExecutionId, WorkflowId};
use crate::ports::{Clock, EventBus, ExecutionFilter, ExecutionStore, Page, PageRequest, WorkflowStore};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// How long a cancel request waits for the running nodes to stop.
const CANCEL_WAIT: Duration = Duration::from_secs(10);

/// Starts, reads and cancels executions.
pub struct ExecutionService {
    workflows: Arc<dyn WorkflowStore>,
    executions: Arc<dyn ExecutionStore>,
    bus: Arc<dyn EventBus>,
    executor: Arc<Executor>,
    running: Arc<RunningExecutions>,
    clock: Arc<dyn Clock>,
}

impl ExecutionService {
    #[must_use]
    pub fn new(
        workflows: Arc<dyn WorkflowStore>,
        executions: Arc<dyn ExecutionStore>,
        bus: Arc<dyn EventBus>,
        executor: Arc<Executor>,
        running: Arc<RunningExecutions>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { workflows, executions, bus, executor, running, clock }
    }

    /// Records a new execution of the workflow's latest version and starts running it.
    ///
    /// # Errors
    /// `NotFound` for an unknown workflow; `BadRequest` for a variable with a reserved name.
    #[tracing::instrument(skip_all, fields(workflow_id = %workflow_id))]
    pub async fn start(
        &self,
        workflow_id: WorkflowId,
        variables: Map<String, Value>,
    ) -> Result<Execution, ServiceError> {
        if let Some(name) = RESERVED_NAMES.iter().find(|n| variables.contains_key(**n)) {
            return Err(ServiceError::BadRequest(format!(
                "variable name '{name}' is reserved (templates use it for {name}.<...>); rename the variable"
            )));
        }
        let versioned = self.workflows.get(workflow_id).await?;
        let execution = Execution::new(workflow_id, versioned.version, variables, self.clock.now());
        self.executions.create(&execution).await?;
        let (executor, run, workflow) = (self.executor.clone(), execution.clone(), versioned.workflow);
        self.running.launch(execution.id, move |stop| async move { executor.run(run, workflow, stop).await });
        tracing::info!(execution_id = %execution.id, "execution started");
        Ok(execution)
    }

    /// An execution and its node results.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn get(&self, id: ExecutionId) -> Result<(Execution, Vec<NodeResult>), ServiceError> {
        let execution = self.executions.get(id).await?;
        let results = self.executions.node_results(id).await?;
        Ok((execution, results))
    }

    /// # Errors
    /// `NotFound` when filtering by a workflow that never existed.
    pub async fn list(&self, filter: ExecutionFilter, page: PageRequest) -> Result<Page<Execution>, ServiceError> {
        Ok(self.executions.list(filter, page).await?)
    }

    /// Stops a pending or running execution: its running nodes are aborted and it ends `Cancelled`.
    ///
    /// # Errors
    /// `NotFound`; `InvalidState` when it had already finished.
    #[tracing::instrument(skip_all, fields(execution_id = %id))]
    pub async fn cancel(&self, id: ExecutionId) -> Result<Execution, ServiceError> {
        let before = self.executions.get(id).await?;
        if before.state.is_terminal() {
            return Err(already_finished(&before));
        }
        if !self.running.cancel(id, CANCEL_WAIT).await {
            self.cancel_orphan(&before).await?;
        }
        let after = self.executions.get(id).await?;
        match after.state {
            ExecutionState::Cancelled => Ok(after),
            s if s.is_terminal() => Err(already_finished(&after)),
            _ => Err(ServiceError::Unavailable("the execution is still stopping; try again".into())),
        }
    }

    /// Cancels an execution no task in this process is running (for instance, one left behind by
    /// a process that died).
    async fn cancel_orphan(&self, execution: &Execution) -> Result<(), ServiceError> {
        let state = execution
            .state
            .transition(ExecutionState::Cancelled)
            .map_err(|e| ServiceError::InvalidState(e.to_string()))?;
        let at = self.clock.now();
        let data = serde_json::json!({
            "execution_id": execution.id, "workflow_id": execution.workflow_id, "state": state,
            "error": "cancelled by request", "timestamp": at,
        });
        let finished =
            self.executions.node_results(execution.id).await?.iter().filter(|r| r.status.is_terminal()).count();
        let update = ExecutionUpdate {
            state: Some(StateChange {
                state,
                error: Some("cancelled by request".into()),
                started_at: None,
                completed_at: Some(at),
            }),
            node_results: Vec::new(),
            events: vec![NewEvent {
                kind: EventKind::ExecutionCancelled,
                node_id: None,
                data: data.to_string().into(),
                state,
                node_results_count: u32::try_from(finished).unwrap_or(u32::MAX),
                at,
            }],
        };
        for event in self.executions.apply(execution.id, &update).await? {
            self.bus.publish(Arc::new(event));
        }
        Ok(())
    }

    pub(crate) fn store(&self) -> &Arc<dyn ExecutionStore> {
        &self.executions
    }

    pub(crate) fn bus(&self) -> &Arc<dyn EventBus> {
        &self.bus
    }
}

fn already_finished(execution: &Execution) -> ServiceError {
    ServiceError::InvalidState(format!("execution {} already finished: it is {}", execution.id, execution.state))
}
