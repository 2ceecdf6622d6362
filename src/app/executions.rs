//! Execution use cases: start a run, read it, list runs, cancel one.

use super::cascade::Cascade;
use super::error::ServiceError;
use super::executor::Executor;
use super::live_executions::{CancelOutcome, LiveExecutions};
use crate::domain::access::Scope;
use crate::domain::budget::BudgetLimits;
use crate::domain::data::RESERVED_NAMES;
use crate::domain::execution::{Execution, ExecutionState, ExecutionUpdate, NodeResult, Signal};
use crate::domain::ids::{ExecutionId, WorkflowId};
use crate::domain::number;
use crate::domain::run::RunEvent;
use crate::domain::valid::ValidWorkflow;
use crate::domain::validation::ValidationError;
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
    running: Arc<LiveExecutions>,
    clock: Arc<dyn Clock>,
    cancel_wait: Duration,
    /// Executions a workspace may have pending or running at once (0: no limit).
    max_in_flight: u64,
    /// Requests to people, cancelled with the execution that waits on them.
    tasks: Option<Arc<dyn crate::ports::HumanTaskStore>>,
}

impl ExecutionService {
    #[must_use]
    pub fn new(
        workflows: Arc<dyn WorkflowStore>,
        executions: Arc<dyn ExecutionStore>,
        bus: Arc<dyn EventBus>,
        executor: Arc<Executor>,
        running: Arc<LiveExecutions>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            workflows,
            executions,
            bus,
            executor,
            running,
            clock,
            cancel_wait: CANCEL_WAIT,
            max_in_flight: 0,
            tasks: None,
        }
    }

    /// Refuses new executions of a workspace that has `max` pending or running (0: no limit).
    #[must_use]
    pub fn with_max_in_flight(self, max: u64) -> Self {
        Self { max_in_flight: max, ..self }
    }

    /// `TooBusy` when the workspace already has its limit of executions in flight. Counted
    /// from the stores' counters (no scan); a burst racing past the check may exceed the limit
    /// by the number of requests in the burst.
    async fn check_in_flight(&self, scope: Scope) -> Result<(), ServiceError> {
        if self.max_in_flight == 0 {
            return Ok(());
        }
        let mut in_flight = 0;
        for state in [ExecutionState::Pending, ExecutionState::Running] {
            let filter = ExecutionFilter { state: Some(state), ..ExecutionFilter::default() };
            // The totals only (kept as counters): no page of items to read.
            in_flight += self.executions.list(scope, filter, PageRequest { limit: 0, after: None }).await?.total;
        }
        if in_flight >= self.max_in_flight {
            return Err(ServiceError::TooBusy {
                message: format!(
                    "this workspace has {in_flight} executions pending or running, its limit \
                     (OXIFY_MAX_RUNNING_PER_WORKSPACE is {}); retry when some have finished",
                    self.max_in_flight
                ),
                retry_after_secs: 1,
            });
        }
        Ok(())
    }

    /// Cancels an execution's pending approvals and forms with it.
    #[must_use]
    pub fn with_tasks(self, tasks: Arc<dyn crate::ports::HumanTaskStore>) -> Self {
        Self { tasks: Some(tasks), ..self }
    }

    /// Appends `event` to execution `id`'s log as a signal and wakes the run: at once when it
    /// runs here, else the process that claims it (this one's sweep is poked; others find it
    /// within a second). Returns `false` when the execution already ended (nothing is written).
    ///
    /// # Errors
    /// `NotFound`; storage failures.
    pub async fn signal(&self, scope: Scope, id: ExecutionId, event: RunEvent) -> Result<bool, ServiceError> {
        let at = self.clock.now();
        let update = ExecutionUpdate { signal: Some(Signal { execution_id: id, event, at }), ..Default::default() };
        let events = self.executions.apply(scope, id, None, &update).await?;
        let delivered = !events.is_empty();
        for event in events {
            if !self.running.signal(id, event.clone()) {
                self.executor.wake().notify_one();
            }
            self.bus.publish(event);
        }
        Ok(delivered)
    }

    /// The workflow's latest version.
    pub(crate) async fn workflow(
        &self,
        scope: Scope,
        id: WorkflowId,
    ) -> Result<crate::ports::VersionedWorkflow, ServiceError> {
        Ok(self.workflows.get(scope, id).await?)
    }

    /// What the bus publishes for the execution from now on.
    pub(crate) fn subscribe(&self, id: ExecutionId) -> crate::ports::Subscription {
        self.bus.subscribe(id)
    }

    /// How deep executions may nest (workflows calling workflows).
    pub(crate) fn max_depth(&self) -> u32 {
        self.executor.max_depth()
    }

    /// How long a cancel request waits for the running nodes to stop (10 s unless set).
    #[must_use]
    pub fn with_cancel_wait(self, cancel_wait: Duration) -> Self {
        Self { cancel_wait, ..self }
    }

    /// Records a new execution of the workflow's latest version and starts running it.
    ///
    /// # Errors
    /// `NotFound` for an unknown workflow; `BadRequest` for a variable with a reserved name;
    /// `Validation` listing every way the variables do not fit the workflow's `input_schema`.
    #[tracing::instrument(skip_all, fields(workflow_id = %workflow_id))]
    pub async fn start(
        &self,
        scope: Scope,
        workflow_id: WorkflowId,
        variables: Map<String, Value>,
        budget: BudgetLimits,
        started_by: Option<String>,
    ) -> Result<Execution, ServiceError> {
        let (execution, workflow) = self.prepare(scope, workflow_id, variables, budget, started_by).await?;
        self.launch(execution, workflow).await
    }

    /// The execution a start request would record, and the workflow version it runs, once the
    /// request is checked (errors as for [`ExecutionService::start`]). Nothing is stored yet.
    pub(crate) async fn prepare(
        &self,
        scope: Scope,
        workflow_id: WorkflowId,
        variables: Map<String, Value>,
        budget: BudgetLimits,
        started_by: Option<String>,
    ) -> Result<(Execution, ValidWorkflow), ServiceError> {
        if let Some(problem) = budget.problem() {
            return Err(ServiceError::BadRequest(problem));
        }
        if let Some(name) = RESERVED_NAMES.iter().find(|n| variables.contains_key(**n)) {
            return Err(ServiceError::BadRequest(format!(
                "variable name '{name}' is reserved (templates use it for {name}.<...>); rename the variable"
            )));
        }
        let versioned = self.workflows.get(scope, workflow_id).await?;
        self.check_in_flight(scope).await?;
        let mut variables = variables;
        // `3.0` and `3` are one number: keep one spelling, so a run renders and routes the same
        // however the client wrote it (see domain::number).
        number::canonicalize_map(&mut variables);
        if let Some(inputs) = versioned.workflow.inputs() {
            inputs.apply(&mut variables).map_err(|problems| ValidationError { problems })?;
        }
        let execution = Execution {
            budget,
            started_by,
            ..Execution::new(scope, workflow_id, versioned.version, variables, self.clock.now())
        };
        Ok((execution, versioned.workflow))
    }

    /// Starts running a prepared execution; answers once its record is durable.
    pub(crate) async fn launch(
        &self,
        execution: Execution,
        workflow: ValidWorkflow,
    ) -> Result<Execution, ServiceError> {
        let (stored_tx, stored) = tokio::sync::oneshot::channel();
        let (executor, run) = (self.executor.clone(), execution.clone());
        self.running
            .launch(execution.id, move |stop| async move { executor.start(run, workflow, stop, stored_tx).await });
        // The record is written with the first step: answer once it is durable.
        match stored.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => return Err(ServiceError::Internal("the execution stopped before it was stored".into())),
        }
        tracing::debug!(execution_id = %execution.id, "execution started");
        Ok(execution)
    }

    /// Reruns a finished execution from node `from`: a new execution of the same workflow
    /// version, linked to the old one, whose variables are the old ones with `overrides` on top
    /// (checked against the input schema again). Every node `from` does not lead to that
    /// succeeded before keeps its recorded output and is not run; `from` and what follows run.
    ///
    /// # Errors
    /// `NotFound`; `InvalidState` while the execution still runs; `BadRequest` for a node the
    /// workflow does not have, or a reserved variable name; `Validation` for variables.
    #[tracing::instrument(skip_all, fields(execution_id = %id))]
    pub async fn rerun(
        &self,
        scope: Scope,
        id: ExecutionId,
        from: &crate::domain::ids::NodeId,
        overrides: Map<String, Value>,
        budget: Option<BudgetLimits>,
    ) -> Result<Execution, ServiceError> {
        let old = self.executions.get(scope, id).await?;
        if !old.state.is_terminal() {
            return Err(ServiceError::InvalidState(format!(
                "execution {id} is {}: rerun it once it has finished",
                old.state
            )));
        }
        if let Some(name) = RESERVED_NAMES.iter().find(|n| overrides.contains_key(**n)) {
            return Err(ServiceError::BadRequest(format!("variable name '{name}' is reserved")));
        }
        self.check_in_flight(scope).await?;
        let workflow = self.workflows.get_version(scope, old.workflow_id, old.workflow_version).await?.workflow;
        let log = self.executions.events_after(scope, id, 0, u32::MAX).await?;
        let seeds = crate::domain::run::rerun::seeds(&workflow, id, &log, from).map_err(ServiceError::BadRequest)?;
        let mut variables = old.variables.as_ref().clone();
        variables.extend(overrides);
        number::canonicalize_map(&mut variables);
        if let Some(inputs) = workflow.inputs() {
            inputs.apply(&mut variables).map_err(|problems| ValidationError { problems })?;
        }
        let budget = budget.unwrap_or(old.budget);
        if let Some(problem) = budget.problem() {
            return Err(ServiceError::BadRequest(problem));
        }
        let mut execution = Execution::new(scope, old.workflow_id, old.workflow_version, variables, self.clock.now());
        (execution.rerun_of, execution.budget, execution.started_by) = (Some(id), budget, old.started_by.clone());
        let (stored_tx, stored) = tokio::sync::oneshot::channel();
        let (executor, run) = (self.executor.clone(), execution.clone());
        self.running.launch(execution.id, move |stop| async move {
            executor.start_rerun(run, workflow, seeds, stop, stored_tx).await;
        });
        match stored.await {
            Ok(Ok(())) => Ok(execution),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(ServiceError::Internal("the execution stopped before it was stored".into())),
        }
    }

    /// An execution and its node results.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn get(&self, scope: Scope, id: ExecutionId) -> Result<(Execution, Vec<NodeResult>), ServiceError> {
        let execution = self.executions.get(scope, id).await?;
        let results = self.executions.node_results(scope, id).await?;
        Ok((execution, results))
    }

    /// # Errors
    /// `NotFound` when filtering by a workflow that never existed.
    pub async fn list(
        &self,
        scope: Scope,
        filter: ExecutionFilter,
        page: PageRequest,
    ) -> Result<Page<Execution>, ServiceError> {
        Ok(self.executions.list(scope, filter, page).await?)
    }

    /// Stops a pending or running execution: its running nodes are aborted and it ends `Cancelled`.
    ///
    /// # Errors
    /// `NotFound`; `InvalidState` when it had already finished.
    #[tracing::instrument(skip_all, fields(execution_id = %id))]
    pub async fn cancel(&self, scope: Scope, id: ExecutionId) -> Result<Execution, ServiceError> {
        // Read in scope first: a running execution of another workspace must not be stopped by id.
        let before = self.executions.get(scope, id).await?;
        if before.state.is_terminal() {
            return Err(already_finished(&before));
        }
        let held_up_by = match self.running.cancel(id, self.cancel_wait).await {
            CancelOutcome::NotRunningHere => {
                self.cancel_orphan(&before).await?;
                None
            }
            CancelOutcome::Stopped => None,
            CancelOutcome::StillStopping { store_problem } => store_problem,
        };
        let after = self.executions.get(scope, id).await?;
        if after.state == ExecutionState::Cancelled
            && let Some(tasks) = &self.tasks
            && let Err(e) =
                tasks.close_tasks(scope, id, None, crate::domain::human::TaskState::Cancelled, self.clock.now()).await
        {
            tracing::warn!(error = %e, "cancelling the execution's pending requests failed");
        }
        match (after.state, held_up_by) {
            (ExecutionState::Cancelled, _) => Ok(after),
            (s, _) if s.is_terminal() => Err(already_finished(&after)),
            (_, Some(problem)) => Err(ServiceError::Unavailable(format!(
                "the execution is still stopping: its cancellation cannot be stored yet ({problem}); it is recorded as soon as the storage recovers"
            ))),
            (_, None) => Err(ServiceError::Unavailable("the execution is still stopping; try again".into())),
        }
    }

    /// Cancels an execution no task in this process is running (parked, or left behind by a
    /// process that died), with its children.
    async fn cancel_orphan(&self, execution: &Execution) -> Result<(), ServiceError> {
        execution.state.transition(ExecutionState::Cancelled).map_err(|e| ServiceError::InvalidState(e.to_string()))?;
        let cascade = Cascade {
            store: self.executions.clone(),
            running: self.running.clone(),
            bus: self.bus.clone(),
            clock: self.clock.clone(),
        };
        Ok(cascade.cancel_tree(execution.scope(), execution.id, "cancelled by request").await?)
    }

    /// Checks that the storage answers.
    ///
    /// # Errors
    /// `Unavailable` when it does not.
    pub async fn ping(&self) -> Result<(), ServiceError> {
        Ok(self.executions.ping().await?)
    }
}

fn already_finished(execution: &Execution) -> ServiceError {
    ServiceError::InvalidState(format!("execution {} already finished: it is {}", execution.id, execution.state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::executor::ExecutorLimits;
    use crate::app::runner_registry::RunnerRegistry;
    use crate::ports::{MockClock, MockEventBus, MockExecutionStore, MockWorkflowStore, StoreError};
    use chrono::Utc;

    struct Mocks {
        workflows: MockWorkflowStore,
        executions: MockExecutionStore,
        bus: MockEventBus,
    }

    impl Mocks {
        fn new() -> Self {
            Self {
                workflows: MockWorkflowStore::new(),
                executions: MockExecutionStore::new(),
                bus: MockEventBus::new(),
            }
        }

        fn service(self) -> ExecutionService {
            self.service_with(Arc::default())
        }

        fn service_with(self, running: Arc<LiveExecutions>) -> ExecutionService {
            let mut clock = MockClock::new();
            clock.expect_now().returning(Utc::now);
            let clock: Arc<dyn Clock> = Arc::new(clock);
            let executions: Arc<dyn ExecutionStore> = Arc::new(self.executions);
            let bus: Arc<dyn EventBus> = Arc::new(self.bus);
            let executor = Arc::new(Executor::new(
                executions.clone(),
                bus.clone(),
                RunnerRegistry::new(),
                clock.clone(),
                ExecutorLimits::default(),
                crate::ports::Lease { owner: "test".into(), ttl: Duration::from_secs(30) },
            ));
            ExecutionService::new(Arc::new(self.workflows), executions, bus, executor, running, clock)
        }
    }

    fn execution(state: ExecutionState) -> Execution {
        let mut e = Execution::new(Scope::DEFAULT, WorkflowId::generate(), 1, Map::new(), Utc::now());
        e.state = state;
        e
    }

    #[tokio::test]
    async fn starting_an_unknown_workflow_is_not_found_and_records_nothing() {
        let mut m = Mocks::new();
        m.workflows.expect_get().returning(|_, id| Err(StoreError::not_found("workflow", id)));
        m.executions.expect_create_with().times(0);
        let err = m
            .service()
            .start(Scope::DEFAULT, WorkflowId::generate(), Map::new(), BudgetLimits::default(), None)
            .await
            .unwrap_err();
        assert!(matches!(err, ServiceError::NotFound(msg) if msg.starts_with("Workflow ")));
    }

    #[tokio::test]
    async fn reserved_variable_names_are_refused_before_anything_is_read() {
        let mut m = Mocks::new();
        m.workflows.expect_get().times(0);
        let mut vars = Map::new();
        vars.insert("variables".into(), Value::Null);
        assert!(matches!(
            m.service().start(Scope::DEFAULT, WorkflowId::generate(), vars, BudgetLimits::default(), None).await,
            Err(ServiceError::BadRequest(_))
        ));
    }

    #[tokio::test]
    async fn cancelling_a_finished_execution_is_an_invalid_state() {
        let mut m = Mocks::new();
        let done = execution(ExecutionState::Completed);
        let id = done.id;
        m.executions.expect_get().returning(move |_, _| Ok(done.clone()));
        m.executions.expect_apply().times(0);
        let err = m.service().cancel(Scope::DEFAULT, id).await.unwrap_err();
        assert!(matches!(err, ServiceError::InvalidState(msg) if msg.contains("Completed")));
    }

    #[tokio::test]
    async fn a_cancel_that_storage_holds_up_names_the_storage_problem() {
        let mut m = Mocks::new();
        let stuck = execution(ExecutionState::Running);
        let id = stuck.id;
        m.executions.expect_get().returning(move |_, _| Ok(stuck.clone()));
        let running = Arc::new(LiveExecutions::default());
        // An executor whose writes keep failing on a full disk: it cannot record the cancel.
        running.launch(id, |stop| async move {
            stop.store_problem.set("storage unavailable: disk is full: database or disk is full".into());
            stop.shutdown.cancelled().await;
        });
        let service = m.service_with(running).with_cancel_wait(Duration::from_millis(50));
        let err = service.cancel(Scope::DEFAULT, id).await.unwrap_err();
        let ServiceError::Unavailable(message) = err else { panic!("{err:?}") };
        assert!(
            message.starts_with("the execution is still stopping: its cancellation cannot be stored yet"),
            "{message}"
        );
        assert!(message.contains("disk is full"), "{message}");
    }

    #[tokio::test]
    async fn cancelling_an_execution_no_process_runs_records_and_publishes_it() {
        let mut m = Mocks::new();
        let orphan = execution(ExecutionState::Running);
        let id = orphan.id;
        let state = Arc::new(std::sync::Mutex::new(orphan));
        let (read, write) = (state.clone(), state.clone());
        m.executions.expect_get().returning(move |_, _| Ok(read.lock().unwrap().clone()));
        m.executions.expect_node_results().returning(|_, _| Ok(Vec::new()));
        m.executions
            .expect_list()
            .withf(move |_, f, _| f.parent == Some(id))
            .returning(|_, _, _| Ok(crate::ports::Page { items: Vec::new(), total: 0, next: None }));
        m.executions.expect_apply().times(1).returning(move |_, id, _lease, update| {
            let change = update.state.clone().unwrap();
            write.lock().unwrap().state = change.state;
            Ok(update.events.iter().cloned().map(|e| Arc::new(e.stored(id, 9))).collect())
        });
        m.bus
            .expect_publish()
            .withf(|e| e.kind() == crate::domain::execution::EventKind::ExecutionCancelled && e.seq == 9)
            .times(1)
            .return_const(());
        let cancelled = m.service().cancel(Scope::DEFAULT, id).await.unwrap();
        assert_eq!(cancelled.state, ExecutionState::Cancelled);
    }
}
