//! The executor: the one place where the domain's decisions and the ports' effects meet.
//! Load state, ask the scheduler for ready nodes, run them concurrently (bounded), record each
//! result durably, apply the transition, publish the events, repeat.

mod attempt;
mod record;
mod run;
#[cfg(test)]
mod tests;

use super::runners::RunnerRegistry;
use super::running::StopSignal;
use crate::domain::execution::Execution;
use crate::domain::execution::NodeResult;
use crate::domain::valid::ValidWorkflow;
use crate::ports::{Clock, EventBus, ExecutionStore, Lease, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// Bounds on what one execution may do at once.
#[derive(Clone, Debug)]
pub struct ExecutorLimits {
    /// Runner nodes of one execution in flight at once.
    pub max_concurrent_nodes: usize,
    /// Deadline of each attempt of a node without its own `timeout_config`.
    pub default_node_timeout: Option<Duration>,
    /// Longest wait between retries of a storage write that failed transiently.
    pub store_retry_max_delay: Duration,
    /// Whether the store outlives the process: then an execution interrupted by shutdown is
    /// left to be resumed by the next process, instead of being marked failed.
    pub resumable: bool,
}

impl Default for ExecutorLimits {
    fn default() -> Self {
        Self {
            max_concurrent_nodes: 16,
            default_node_timeout: Some(Duration::from_secs(600)),
            store_retry_max_delay: Duration::from_secs(5),
            resumable: false,
        }
    }
}

/// Runs executions to a final state.
pub struct Executor {
    store: Arc<dyn ExecutionStore>,
    bus: Arc<dyn EventBus>,
    runners: RunnerRegistry,
    clock: Arc<dyn Clock>,
    limits: ExecutorLimits,
    lease: Lease,
}

impl Executor {
    #[must_use]
    pub fn new(
        store: Arc<dyn ExecutionStore>,
        bus: Arc<dyn EventBus>,
        runners: RunnerRegistry,
        clock: Arc<dyn Clock>,
        limits: ExecutorLimits,
        lease: Lease,
    ) -> Self {
        Self { store, bus, runners, clock, limits, lease }
    }

    /// This process's claim on the executions it runs.
    #[must_use]
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// Runs `execution` (of `workflow`) until it completes, fails or is stopped, recording every
    /// step in the store before publishing it.
    #[tracing::instrument(skip_all, fields(execution_id = %execution.id, workflow_id = %execution.workflow_id))]
    pub async fn run(&self, execution: Execution, workflow: ValidWorkflow, stop: StopSignal) {
        run::Run::new(self, &execution, workflow, stop).drive().await;
    }

    /// Runs a new execution that is not stored yet: its record is written together with its first
    /// step, and `stored` hears once that write is durable (or failed, in which case nothing was
    /// stored and the run stops).
    #[tracing::instrument(skip_all, fields(execution_id = %execution.id, workflow_id = %execution.workflow_id))]
    pub async fn start(
        &self,
        execution: Execution,
        workflow: ValidWorkflow,
        stop: StopSignal,
        stored: tokio::sync::oneshot::Sender<Result<(), StoreError>>,
    ) {
        run::Run::new(self, &execution, workflow, stop).unsaved(execution, stored).drive().await;
    }

    /// Continues an execution another process left unfinished: nodes with a recorded result are
    /// not run again, nodes that were in flight run again as a new attempt.
    #[tracing::instrument(skip_all, fields(execution_id = %execution.id, workflow_id = %execution.workflow_id))]
    pub async fn resume(
        &self,
        execution: Execution,
        workflow: ValidWorkflow,
        recorded: Vec<NodeResult>,
        stop: StopSignal,
    ) {
        run::Run::new(self, &execution, workflow, stop).resume(recorded).await;
    }
}
