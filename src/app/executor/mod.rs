//! The executor: the one place where the domain's decisions and the ports' effects meet.
//! Load state, ask the scheduler for ready nodes, run them concurrently (bounded), record each
//! result durably, apply the transition, publish the events, repeat.

mod attempt;
mod delta_sink;
mod run;
#[cfg(test)]
mod tests;
mod timers;

use super::live_executions::{LiveExecutions, StopSignal};
use super::runner_registry::RunnerRegistry;
use crate::domain::execution::{Execution, ExecutionState};
use crate::domain::run::RunState;
use crate::domain::valid::ValidWorkflow;
use crate::ports::{Clock, EventBus, ExecutionStore, Lease, StoreError, WorkflowStore};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::Notify;

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
    /// How deep child executions may nest (a SubWorkflow in a SubWorkflow ...).
    pub max_depth: u32,
    /// Executions a workspace may have pending or running at once, started by requests (their
    /// children are not counted); 0 for no limit.
    pub max_in_flight_per_workspace: u64,
}

impl Default for ExecutorLimits {
    fn default() -> Self {
        Self {
            max_concurrent_nodes: 16,
            default_node_timeout: Some(Duration::from_secs(600)),
            store_retry_max_delay: Duration::from_secs(5),
            resumable: false,
            max_depth: 8,
            max_in_flight_per_workspace: 0,
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
    /// Where child executions find their workflows; without it, nodes that run children fail.
    workflows: Option<Arc<dyn WorkflowStore>>,
    /// The executions this process runs, which child executions join.
    running: Arc<LiveExecutions>,
    /// Itself, to run the child executions it starts.
    me: Weak<Executor>,
    /// Tells the recovery loop to look for runs to wake now (a parked parent whose child ended).
    wake: Arc<Notify>,
    /// When the runs this process parked on a timer are due.
    timers: timers::Timers,
    /// Where node attempts get the workspace secrets they refer to; without it, a node that
    /// refers to one fails.
    secrets: Option<Arc<dyn crate::ports::SecretSource>>,
    /// Where Approval and Form nodes keep their requests; without it, they fail.
    tasks: Option<Arc<dyn crate::ports::HumanTaskStore>>,
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
        Self {
            store,
            bus,
            runners,
            clock,
            limits,
            lease,
            workflows: None,
            running: Arc::default(),
            me: Weak::new(),
            wake: Arc::default(),
            timers: timers::Timers::default(),
            secrets: None,
            tasks: None,
        }
    }

    /// Lets Approval and Form nodes ask people, keeping their requests in `tasks`.
    #[must_use]
    pub fn with_tasks(mut self, tasks: Arc<dyn crate::ports::HumanTaskStore>) -> Self {
        self.tasks = Some(tasks);
        self
    }

    /// Lets node attempts reveal the workspace secrets they refer to.
    #[must_use]
    pub fn with_secrets(mut self, secrets: Arc<dyn crate::ports::SecretSource>) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// Lets the executor run child executions (SubWorkflow, Loop over a workflow): it reads
    /// their workflows from `workflows`, runs them among `running`, and pokes `wake` when a
    /// parked parent is to be woken.
    #[must_use]
    pub fn with_children(
        mut self,
        workflows: Arc<dyn WorkflowStore>,
        running: Arc<LiveExecutions>,
        wake: Arc<Notify>,
    ) -> Self {
        (self.workflows, self.running, self.wake) = (Some(workflows), running, wake);
        self
    }

    /// The executor, shared, knowing itself (to run children).
    #[must_use]
    pub fn into_arc(self) -> Arc<Self> {
        Arc::new_cyclic(|me| Self { me: me.clone(), ..self })
    }

    /// Fires when a parked execution was signalled and should be woken now.
    #[must_use]
    pub fn wake(&self) -> &Notify {
        &self.wake
    }

    /// Returns once a timer of a run this process parked is due (never while there is none), for
    /// the recovery loop to wake that run then.
    pub async fn timer_due(&self) {
        loop {
            let wait = self.timers.next().map(|at| (at - self.clock.now()).to_std().unwrap_or_default());
            tokio::select! {
                () = sleep_for(wait) => {
                    self.timers.forget_until(self.clock.now());
                    return;
                }
                () = self.timers.changed() => {}
            }
        }
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
        let run = run::Run::new(self, &execution, workflow, stop);
        run.unsaved(run::FirstCommit { execution, stored }).drive().await;
    }

    /// Runs a new execution that reruns an earlier one: `seeds` record the nodes it reuses (see
    /// [`crate::domain::run::rerun::seeds`]); otherwise as [`Executor::start`].
    #[tracing::instrument(skip_all, fields(execution_id = %execution.id, workflow_id = %execution.workflow_id))]
    pub async fn start_rerun(
        &self,
        execution: Execution,
        workflow: ValidWorkflow,
        seeds: Vec<crate::domain::run::RunEvent>,
        stop: StopSignal,
        stored: tokio::sync::oneshot::Sender<Result<(), StoreError>>,
    ) {
        let run = run::Run::new(self, &execution, workflow, stop);
        run.unsaved(run::FirstCommit { execution, stored }).drive_seeded(seeds).await;
    }

    /// How deep executions may nest.
    pub(crate) fn max_depth(&self) -> u32 {
        self.limits.max_depth
    }

    /// [`Executor::start`] for a child execution, type-erased: a run that starts children runs
    /// this future, and naming it here keeps the compiler from chasing that recursion.
    pub(crate) fn start_child(
        self: Arc<Self>,
        execution: Execution,
        workflow: ValidWorkflow,
        stop: StopSignal,
        stored: tokio::sync::oneshot::Sender<Result<(), StoreError>>,
    ) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(async move { self.start(execution, workflow, stop, stored).await })
    }

    /// Continues an execution another process left unfinished: its state is the fold of its
    /// event log; nodes that finished are not run again, attempts that were in flight run again.
    ///
    /// # Errors
    /// When the log cannot be read (the execution stays claimed and is tried again later).
    #[tracing::instrument(skip_all, fields(execution_id = %execution.id, workflow_id = %execution.workflow_id))]
    pub async fn resume(
        &self,
        execution: Execution,
        workflow: ValidWorkflow,
        stop: StopSignal,
    ) -> Result<(), StoreError> {
        let events = self.store.events_after(execution.scope(), execution.id, 0, u32::MAX).await?;
        let last_seq = events.last().map_or(0, |e| e.seq);
        let log = events.iter().map(|e| (&e.event, e.at));
        match RunState::fold(workflow.clone(), execution.variables.clone(), log) {
            Ok(rs) => run::Run::with_state(self, &execution, rs, stop).resume(last_seq).await,
            Err(e) => {
                // A log that contradicts its workflow cannot be carried on: end it, visibly.
                tracing::error!(error = %e, "cannot resume: the event log does not fit the workflow");
                let rs = RunState::new(workflow, execution.variables.clone(), ExecutionState::Running);
                let run = run::Run::with_state(self, &execution, rs, stop);
                run.end(ExecutionState::Failed, format!("cannot resume: the event log does not fit the workflow: {e}"))
                    .await;
            }
        }
        Ok(())
    }
}

/// Sleeps for `wait`; forever without one.
async fn sleep_for(wait: Option<Duration>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
    }
}
