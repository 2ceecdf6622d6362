//! One execution's run: the loop of schedule, commit, spawn, wait. The run's state is a
//! [`RunState`] changed only by events ([`Run::emit`]); this file decides when to start what.

use super::Executor;
use super::attempt::{self, Attempt, Done, Outcome};
use super::delta_sink::DeltaSink;
use crate::app::live_executions::StopSignal;
use crate::domain::budget::{Budget, BudgetLimits};
use crate::domain::control;
use crate::domain::execution::{Execution, ExecutionState, NodeStatus};
use crate::domain::ids::{ExecutionId, NodeId};
use crate::domain::number;
use crate::domain::run::composite;
use crate::domain::run::policy::{self, Failure, Next};
use crate::domain::run::{RunEvent, RunState, Wait};
use crate::domain::valid::ValidWorkflow;
use crate::ports::{AttemptSink, NodeInput, NodeOutput, RunnerError, StoreError};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;
use step::StepBuffer;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

mod children;
mod finish;
mod human;
mod resume;
mod step;

/// Steps of runners finishing at once after which the loop commits them and lets other tasks
/// run.
const YIELD_EVERY: u32 = 64;

/// Steps of runners finishing at once between two looks at the cancel and shutdown signals.
const CANCEL_CHECK_EVERY: u32 = 8;

/// Nodes evaluated in place (control nodes) after which the step is committed before more are:
/// a workflow of thousands of them then writes in bounded steps instead of one that holds the
/// whole run in memory twice (as the step and as the store's write).
const IN_PLACE_PER_STEP: usize = 256;

/// Retry delays at least this long wait on a durable timer instead of in a task.
const PARK_RETRIES_FROM: Duration = Duration::from_secs(5);

const SKIPPED_REASON: &str = "no live input: the branch leading here was not taken";

/// A new execution's record, written with its first step, and who waits to hear it is durable.
pub(super) struct FirstCommit {
    pub execution: Execution,
    pub stored: tokio::sync::oneshot::Sender<Result<(), StoreError>>,
}

pub(super) struct Run<'e> {
    ex: &'e Executor,
    id: ExecutionId,
    /// The execution's workspace: every store call of the run, and its children, stay in it.
    scope: crate::domain::access::Scope,
    rs: RunState,
    step: StepBuffer,
    tasks: JoinSet<Done>,
    in_flight: usize,
    to_spawn: Vec<(usize, u32, Option<Duration>)>,
    /// Attempts that finished when first polled, for the loop to take in.
    done_at_once: Vec<Done>,
    /// Attempt numbers of nodes that ran before a resume (they run again as a new attempt).
    next_attempt: HashMap<usize, u32>,
    stop: StopSignal,
    /// Fired when the run ends, so runners abandon whatever they still do.
    nodes_cancel: CancellationToken,
    /// Where the run's node attempts send partial output; it holds the last stored event's
    /// sequence number, for partial output published meanwhile.
    sink: Arc<DeltaSink>,
    first: Option<FirstCommit>,
    /// The first write failed: nothing of this run exists in the store.
    never_stored: bool,
    /// What model calls may spend, and what they may still spend.
    budget: Arc<Mutex<Budget>>,
    budget_limits: BudgetLimits,
    /// For a child execution: its record, whose parent hears how it ended.
    child_of: Option<Execution>,
    /// How deep this run is in a chain of children.
    depth: u32,
    /// Children recorded in this step, to create once it is durable.
    launches: Vec<children::Launch>,
    /// Children to cancel (their node failed, or the run ends).
    stopping: Vec<ExecutionId>,
    /// Composite nodes whose children changed since their last step.
    dirty: Vec<usize>,
    /// Sequence numbers of events others wrote into this log, already taken in.
    seen_signals: HashSet<u64>,
    /// The last sequence number of the log as this run knows it.
    log_end: u64,
    /// Nodes waiting on a retry timer.
    timers: usize,
    /// Who started the execution (its requests to people name them; its children inherit it).
    started_by: Option<String>,
    /// Requests to people recorded in this step, to store once it is durable.
    new_tasks: Vec<crate::domain::human::HumanTask>,
    /// Approval and Form nodes in the workflow (0: none of their bookkeeping runs).
    humans: usize,
}

impl Drop for Run<'_> {
    /// However the run stops here (it ended, parked, was handed over or lost its lease), its
    /// node attempts are over: their partial output is no longer live.
    fn drop(&mut self) {
        self.ex.bus.discard_deltas(self.id);
    }
}

impl<'e> Run<'e> {
    pub(super) fn new(ex: &'e Executor, execution: &Execution, wf: ValidWorkflow, stop: StopSignal) -> Self {
        let rs = RunState::new(wf, execution.variables.clone(), execution.state);
        Self::with_state(ex, execution, rs, stop)
    }

    pub(super) fn with_state(ex: &'e Executor, execution: &Execution, rs: RunState, stop: StopSignal) -> Self {
        let nodes = rs.workflow().len();
        let step = StepBuffer::for_nodes(nodes);
        let sink = Arc::new(DeltaSink {
            bus: ex.bus.clone(),
            execution_id: execution.id,
            workflow_id: execution.workflow_id,
            workflow: rs.workflow().clone(),
            last_seq: AtomicU64::new(0),
            counts: Mutex::default(),
        });
        Self {
            ex,
            id: execution.id,
            scope: execution.scope(),
            budget: Arc::new(Mutex::new(Budget::new(execution.budget, rs.usage()))),
            budget_limits: execution.budget,
            child_of: execution.parent.is_some().then(|| execution.clone()),
            depth: execution.depth,
            launches: Vec::new(),
            stopping: Vec::new(),
            dirty: Vec::new(),
            seen_signals: HashSet::new(),
            log_end: 0,
            timers: rs.timers().len(),
            started_by: execution.started_by.clone(),
            new_tasks: Vec::new(),
            humans: (0..nodes).filter(|&i| human::is_human(&rs.workflow().node(i).kind)).count(),
            rs,
            step,
            tasks: JoinSet::new(),
            in_flight: 0,
            to_spawn: Vec::with_capacity(nodes.min(64)),
            done_at_once: Vec::with_capacity(nodes.min(64)),
            next_attempt: HashMap::new(),
            stop,
            nodes_cancel: CancellationToken::new(),
            sink,
            first: None,
            never_stored: false,
        }
    }

    /// Marks the execution as not stored yet: the first commit writes its record too.
    pub(super) fn unsaved(mut self, first: FirstCommit) -> Self {
        self.first = Some(first);
        self
    }

    pub(super) async fn drive(self) {
        self.drive_seeded(Vec::new()).await;
    }

    /// Starts the run with `seeds` (nodes reused from an earlier run) already recorded; a seed
    /// whose node is not ready when its turn comes is left out, and that node runs.
    pub(super) async fn drive_seeded(mut self, seeds: Vec<RunEvent>) {
        if self.stop.cancel.is_cancelled() {
            return self.end(ExecutionState::Cancelled, "cancelled before it started".into()).await;
        }
        self.emit(RunEvent::ExecutionStarted);
        let mut skipping = None;
        for seed in seeds {
            if let RunEvent::NodeStarted { node_id, .. } = &seed {
                let ready =
                    self.rs.workflow().index_of(node_id).is_some_and(|i| self.rs.status(i) == NodeStatus::Ready);
                skipping = (!ready).then(|| node_id.clone());
            }
            if skipping.as_ref().is_some_and(|s| Some(s) == seed.node_id()) {
                continue;
            }
            self.emit(seed);
        }
        self.run_loop().await;
    }

    pub(super) async fn run_loop(mut self) {
        let mut inline_steps = 0u32;
        // Whether the last step's runners all finished at once (nothing was awaited).
        let mut inline = false;
        loop {
            self.expire_due().await;
            let step_full = self.schedule();
            if let Some(failure) = self.rs.failure().map(str::to_owned) {
                return self.end(ExecutionState::Failed, failure).await;
            }
            if self.rs.all_done() && self.tasks.is_empty() {
                return self.complete().await;
            }
            if step_full {
                // More nodes are ready: store this step first, and let other tasks run.
                if let Err(e) = self.commit().await {
                    return self.abandon(e).await;
                }
                tokio::task::yield_now().await;
                continue;
            }
            if self.tasks.is_empty()
                && self.to_spawn.is_empty()
                && self.launches.is_empty()
                && self.new_tasks.is_empty()
            {
                if self.rs.waiting().next().is_none() && !self.rs.held() {
                    let stall = "internal error: no node can run although the workflow has not finished";
                    tracing::error!(execution_id = %self.id, "{stall}");
                    return self.end(ExecutionState::Failed, stall.into()).await;
                }
                if self.stop.cancel.is_cancelled() {
                    return self.end(ExecutionState::Cancelled, "cancelled by request".into()).await;
                }
                match self.park().await {
                    Ok(children::Parked::Yes) => {
                        // A signal sent from now on would never be read here: close the inbox, so
                        // that senders wake the run through the store instead, and do that for a
                        // signal that slipped in meanwhile (its write woke the parked run).
                        if self.stop.inbox.close() {
                            self.ex.wake.notify_one();
                        }
                        return;
                    }
                    Ok(children::Parked::Signalled) => continue,
                    Err(e) => return self.abandon(e).await,
                }
            }
            // Steps of runners that finish at once (pure computations) are committed together,
            // every YIELD_EVERY steps: the log is durable before anything is awaited, and a
            // crash in between only runs those computations again.
            let batching = inline && self.launches.is_empty() && self.stopping.is_empty();
            if !batching && let Err(e) = self.commit().await {
                return self.abandon(e).await;
            }
            self.cancel_stopping().await;
            if !self.new_tasks.is_empty() {
                if batching && let Err(e) = self.commit().await {
                    return self.abandon(e).await;
                }
                self.create_tasks().await;
                continue;
            }
            if !self.launches.is_empty() {
                self.launch_children().await;
                continue;
            }
            let mut done_at_once = self.spawn_pending();
            let any_at_once = !done_at_once.is_empty();
            inline = any_at_once && self.tasks.is_empty();
            for done in done_at_once.drain(..) {
                self.on_joined(Ok(done));
            }
            self.done_at_once = done_at_once;
            if any_at_once {
                inline_steps += 1;
                if inline_steps.is_multiple_of(YIELD_EVERY) {
                    inline = false;
                    if let Err(e) = self.commit().await {
                        return self.abandon(e).await;
                    }
                    // Runners that never wait would otherwise keep this worker thread to themselves.
                    tokio::task::yield_now().await;
                }
                // A token's check takes a lock: look every few steps (a cancel waits a few
                // microseconds more).
                if !inline_steps.is_multiple_of(CANCEL_CHECK_EVERY)
                    || (!self.stop.cancel.is_cancelled() && !self.stop.shutdown.is_cancelled())
                {
                    continue;
                }
            }
            inline = false;
            if let Err(e) = self.commit().await {
                return self.abandon(e).await;
            }
            let stop = self.stop.clone();
            let next_timer = self.next_timer();
            tokio::select! {
                biased;
                () = stop.cancel.cancelled() => {
                    return self.end(ExecutionState::Cancelled, "cancelled by request".into()).await;
                }
                () = stop.shutdown.cancelled() => {
                    if self.ex.limits.resumable {
                        return self.hand_over().await;
                    }
                    let why = "interrupted: the server shut down before the execution finished";
                    return self.end(ExecutionState::Failed, why.into()).await;
                }
                Some(joined) = self.tasks.join_next() => self.on_joined(joined),
                Some(signal) = stop.inbox.recv() => self.on_signal(&signal),
                () = sleep_until(next_timer), if next_timer.is_some() => {}
            }
            while let Some(joined) = self.tasks.try_join_next() {
                self.on_joined(joined);
            }
        }
    }

    /// Starts the attempts whose retry timer is due.
    fn fire_due_timers(&mut self) {
        if self.timers == 0 {
            return;
        }
        let now = self.ex.clock.now();
        for (idx, attempt, until) in self.rs.timers() {
            if until <= now {
                self.emit(RunEvent::NodeStarted { node_id: self.node_id(idx), attempt });
                self.timers -= 1;
                self.in_flight += 1;
                self.to_spawn.push((idx, attempt, None));
            }
        }
    }

    /// When the nearest retry timer or request deadline is due, if any node waits on one. A run
    /// paused by hand starts no retry, so only deadlines (which expire requests) wake it.
    fn next_timer(&self) -> Option<DateTime<Utc>> {
        let deadline = self.next_deadline();
        if self.timers == 0 || self.rs.held() {
            return deadline;
        }
        let retry = self.rs.timers().into_iter().map(|(_, _, until)| until).min();
        retry.into_iter().chain(deadline).min()
    }

    fn node_id(&self, idx: usize) -> NodeId {
        self.rs.workflow().node(idx).id.clone()
    }

    /// Starts every ready node the limits allow: control nodes are evaluated on the spot, runner
    /// nodes are queued to be spawned once this step is committed. Returns `true` when it stopped
    /// with nodes still ready because the step holds [`IN_PLACE_PER_STEP`] evaluated nodes.
    fn schedule(&mut self) -> bool {
        if self.rs.held() {
            // Paused by hand: answers are taken in, but nothing new starts.
            self.advance_dirty();
            return false;
        }
        self.fire_due_timers();
        self.advance_dirty();
        let mut in_place = 0;
        loop {
            for idx in self.rs.take_skipped() {
                let node_id = self.node_id(idx);
                self.emit(RunEvent::NodeSkipped {
                    node_id,
                    reason: SKIPPED_REASON.into(),
                    attempt: None,
                    duration_ms: None,
                });
            }
            if self.rs.failure().is_some() {
                return false;
            }
            let Some(idx) = self.rs.peek_ready() else {
                return false;
            };
            let wf = self.rs.workflow().clone();
            let kind = &wf.node(idx).kind;
            let is_control = control::is_control(kind);
            if !is_control && self.in_flight >= self.ex.limits.max_concurrent_nodes {
                return false;
            }
            if in_place == IN_PLACE_PER_STEP {
                return true;
            }
            self.rs.next_ready();
            let attempt = self.next_attempt.remove(&idx).unwrap_or(1);
            self.emit(RunEvent::NodeStarted { node_id: self.node_id(idx), attempt });
            if composite::is_composite(kind) {
                in_place += 1;
                self.start_composite(idx, attempt);
            } else if human::is_human(kind) {
                in_place += 1;
                self.start_human(idx, attempt);
            } else if let Some(result) = control::evaluate(&wf, idx, self.rs.data()) {
                in_place += 1;
                match result {
                    Ok(out) => {
                        let taken = out.taken.iter().map(|&t| self.node_id(t)).collect();
                        self.succeed(idx, attempt, out.output, taken);
                    }
                    Err(e) => self.fail(idx, attempt, e),
                }
            } else if self.ex.runners.get(kind.tag()).is_some() {
                self.in_flight += 1;
                self.to_spawn.push((idx, attempt, None));
            } else {
                self.fail(idx, attempt, RunnerError::KindUnavailable(kind.name().into()).to_string());
            }
        }
    }

    /// What an attempt of node `idx` must reveal: nothing for the many nodes that use no secret.
    fn reveal_for(&self, wf: &ValidWorkflow, idx: usize, optional: &'static [&'static str]) -> Option<attempt::Reveal> {
        let names = wf.secrets_of(idx);
        if names.is_empty() && optional.is_empty() {
            return None;
        }
        let source = self.ex.secrets.clone();
        match source {
            Some(source) => Some(attempt::Reveal { source, scope: self.scope, names: names.clone(), optional }),
            // Without a secret source, a node that names a secret fails on its missing value.
            None if !names.is_empty() => {
                Some(attempt::Reveal { source: Arc::new(NoSecrets), scope: self.scope, names: names.clone(), optional })
            }
            None => None,
        }
    }

    /// Starts the queued attempts. Each is polled once here first: one that finishes at once (a
    /// cached or trivial runner) is returned instead of paying for a task and a thread hop.
    fn spawn_pending(&mut self) -> Vec<Done> {
        // Both lists keep their capacity from step to step.
        let mut done_at_once = std::mem::take(&mut self.done_at_once);
        let mut to_spawn = std::mem::take(&mut self.to_spawn);
        for (idx, attempt, delay) in to_spawn.drain(..) {
            let wf = self.rs.workflow();
            let node = wf.node(idx);
            let Some(runner) = self.ex.runners.get(node.kind.tag()) else {
                continue;
            };
            let timeout = node
                .timeout_config
                .as_ref()
                .map(|t| Duration::from_millis(t.execution_timeout_ms))
                .or(self.ex.limits.default_node_timeout);
            let input = NodeInput {
                execution_id: self.id,
                scope: self.scope,
                workflow: wf.clone(),
                node_index: idx,
                attempt,
                data: self.rs.data().clone(),
                sink: AttemptSink::new(self.sink.clone(), idx, attempt),
                budget: self.budget.clone(),
            };
            let cancel = self.nodes_cancel.clone();
            let secrets = self.reveal_for(wf, idx, runner.workspace_secrets());
            let mut attempt: Pin<Box<dyn Future<Output = Done> + Send>> =
                Box::pin(Attempt { runner, input, cancel, delay, timeout, secrets }.run());
            // Polling with a no-op waker is safe: a pending future registers the task's real
            // waker on its next poll, which the spawned task makes at once.
            match attempt.as_mut().poll(&mut TaskContext::from_waker(Waker::noop())) {
                Poll::Ready(done) => done_at_once.push(done),
                Poll::Pending => {
                    self.tasks.spawn(attempt);
                }
            }
        }
        self.to_spawn = to_spawn;
        done_at_once
    }

    fn on_joined(&mut self, joined: Result<Done, tokio::task::JoinError>) {
        // Tasks are only aborted when the run ends, so a join error here cannot be an abort.
        let Ok(Done { idx, attempt, outcome }) = joined else {
            return;
        };
        let failure = match outcome {
            Outcome::Output(NodeOutput { mut value, usage }) => {
                self.in_flight -= 1;
                number::canonicalize(&mut value);
                self.succeed(idx, attempt, value, Vec::new());
                if let Some(usage) = usage {
                    let execution_usage = self.rs.usage().plus(usage);
                    self.emit(RunEvent::Usage { node_id: self.node_id(idx), usage, execution_usage });
                }
                return;
            }
            Outcome::Error(e) => {
                Failure::Error { retryable: e.is_retryable(), retry_after: e.retry_after(), message: e.to_string() }
            }
            Outcome::TimedOut(limit) => Failure::TimedOut(limit),
        };
        let wf = self.rs.workflow().clone();
        let node = wf.node(idx);
        let default = self.ex.runners.default_retry(node.kind.tag());
        match policy::after_failure(node, default, attempt, &failure, fastrand::f64()) {
            Next::Retry { attempt, delay, error } => {
                let delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
                self.emit(RunEvent::NodeRetrying { node_id: node.id.clone(), attempt, error, delay_ms });
                if delay >= PARK_RETRIES_FROM {
                    // A long wait holds no task: a durable timer starts the attempt, here or,
                    // once the run parked, on whichever process wakes it.
                    self.in_flight -= 1;
                    let until =
                        self.ex.clock.now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
                    self.emit(RunEvent::NodeWaiting {
                        node_id: node.id.clone(),
                        attempt,
                        waiting_for: Wait::Timer { until },
                    });
                    self.timers += 1;
                } else {
                    self.to_spawn.push((idx, attempt, Some(delay)));
                }
            }
            Next::Fail(message) => {
                self.in_flight -= 1;
                self.fail(idx, attempt, message);
            }
            Next::Skip(reason) => {
                self.in_flight -= 1;
                let duration_ms = self.rs.duration_ms(idx, self.ex.clock.now());
                let attempt = Some(attempt);
                self.emit(RunEvent::NodeSkipped { node_id: node.id.clone(), reason, attempt, duration_ms });
            }
            Next::UseDefault(text) => {
                self.in_flight -= 1;
                self.succeed(idx, attempt, Value::String(text), Vec::new());
            }
        }
    }

    fn succeed(&mut self, idx: usize, attempt: u32, output: Value, taken: Vec<NodeId>) {
        let now = self.ex.clock.now();
        let duration_ms = self.rs.duration_ms(idx, now);
        let node_id = self.node_id(idx);
        let event = RunEvent::NodeCompleted {
            node_id,
            attempt,
            output: Arc::new(output),
            taken,
            duration_ms,
            reused_from: None,
        };
        self.emit_at(event, now);
    }

    /// Fails node `idx` for good; its error route, if it has one, catches the failure.
    fn fail(&mut self, idx: usize, attempt: u32, error: String) {
        let now = self.ex.clock.now();
        let duration_ms = self.rs.duration_ms(idx, now);
        let routed_to = self.rs.workflow().error_route(idx).map(|r| self.node_id(r));
        self.emit_at(RunEvent::NodeFailed { node_id: self.node_id(idx), attempt, error, duration_ms, routed_to }, now);
    }
}

/// Sleeps until `at` (at once if it passed; forever without one).
async fn sleep_until(at: Option<DateTime<Utc>>) {
    match at {
        Some(at) => {
            let wait = (at - Utc::now()).to_std().unwrap_or_default();
            tokio::time::sleep(wait).await;
        }
        None => std::future::pending().await,
    }
}

/// The secret source of a server that keeps none.
struct NoSecrets;

#[async_trait::async_trait]
impl crate::ports::SecretSource for NoSecrets {
    async fn reveal(
        &self,
        _scope: crate::domain::access::Scope,
        names: &[String],
        _optional: &[&str],
    ) -> Result<Vec<(String, String)>, crate::ports::RevealError> {
        match names.first() {
            Some(name) => Err(crate::ports::RevealError::Missing(name.clone())),
            None => Ok(Vec::new()),
        }
    }
}
