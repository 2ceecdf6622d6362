//! One execution's run: the loop of schedule, commit, spawn, wait.

use super::Executor;
use super::attempt::{Attempt, Done, Outcome};
use super::record::{DeltaSink, Extra};
use crate::app::running::StopSignal;
use crate::domain::budget::{Budget, BudgetLimits};
use crate::domain::control;
use crate::domain::data::{DataContext, NodeOutputs};
use crate::domain::execution::{Execution, ExecutionState, ExecutionUpdate, NodeResult};
use crate::domain::ids::{ExecutionId, WorkflowId};
use crate::domain::number;
use crate::domain::retry;
use crate::domain::scheduler::Plan;
use crate::domain::usage::Usage;
use crate::domain::valid::ValidWorkflow;
use crate::domain::workflow::TimeoutAction;
use crate::ports::{NodeInput, RunnerError};
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

mod finish;
mod record;
mod resume;

/// Longest `Retry-After` honoured; a server asking for more is treated as asking for this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// "Equal jitter": half the backoff, plus a random part of the other half, so that nodes failing
/// together do not retry together.
fn jitter(delay: Duration) -> Duration {
    let half = delay / 2;
    let extra = u64::try_from(half.as_micros()).unwrap_or(u64::MAX);
    half + Duration::from_micros(fastrand::u64(0..=extra))
}

/// Steps of runners finishing at once after which the loop lets other tasks run.
const YIELD_EVERY: u32 = 64;

const SKIPPED_REASON: &str = "no live input: the branch leading here was not taken";

pub(super) struct Run<'e> {
    ex: &'e Executor,
    id: ExecutionId,
    workflow_id: WorkflowId,
    state: ExecutionState,
    wf: ValidWorkflow,
    plan: Plan,
    data: DataContext,
    results: Vec<Option<NodeResult>>,
    finished: u32,
    pending: ExecutionUpdate,
    /// Where each node's result sits in `pending.node_results`.
    pending_results: HashMap<usize, usize>,
    tasks: JoinSet<Done>,
    in_flight: usize,
    to_spawn: Vec<(usize, u32, Option<Duration>)>,
    failure: Option<String>,
    /// Attempt numbers of nodes that ran before a resume (they run again as a new attempt).
    pub(super) next_attempt: HashMap<usize, u32>,
    stop: StopSignal,
    /// Fired when the run ends, so runners abandon whatever they still do.
    nodes_cancel: CancellationToken,
    /// The last stored event's sequence number, for partial output published meanwhile.
    last_seq: Arc<AtomicU64>,
    /// Tokens and cost so far.
    usage: Usage,
    /// The record of a new execution, written with the first step.
    unsaved: Option<Execution>,
    /// Told when that first write is durable, or failed.
    stored: Option<tokio::sync::oneshot::Sender<Result<(), crate::ports::StoreError>>>,
    /// The first write failed: nothing of this run exists in the store.
    never_stored: bool,
    /// What model calls may spend, and what they may still spend.
    budget_limits: BudgetLimits,
    budget: Arc<Mutex<Budget>>,
}

impl<'e> Run<'e> {
    pub(super) fn new(ex: &'e Executor, execution: &Execution, wf: ValidWorkflow, stop: StopSignal) -> Self {
        let data = DataContext {
            variables: execution.variables.clone(),
            outputs: Arc::new(NodeOutputs::new(wf.graph().index.clone())),
        };
        Self {
            ex,
            id: execution.id,
            workflow_id: execution.workflow_id,
            state: execution.state,
            plan: Plan::new(&wf),
            results: vec![None; wf.len()],
            wf,
            data,
            finished: 0,
            pending: ExecutionUpdate::default(),
            pending_results: HashMap::new(),
            tasks: JoinSet::new(),
            in_flight: 0,
            to_spawn: Vec::new(),
            failure: None,
            next_attempt: HashMap::new(),
            stop,
            nodes_cancel: CancellationToken::new(),
            last_seq: Arc::default(),
            usage: Usage::default(),
            unsaved: None,
            stored: None,
            never_stored: false,
            budget_limits: execution.budget,
            budget: Arc::new(Mutex::new(Budget::new(execution.budget, Usage::default()))),
        }
    }

    /// Marks the execution as not stored yet: the first commit writes its record too.
    pub(super) fn unsaved(
        mut self,
        execution: Execution,
        stored: tokio::sync::oneshot::Sender<Result<(), crate::ports::StoreError>>,
    ) -> Self {
        self.unsaved = Some(execution);
        self.stored = Some(stored);
        self
    }

    pub(super) async fn drive(mut self) {
        if self.stop.cancel.is_cancelled() {
            return self.end(ExecutionState::Cancelled, Some("cancelled before it started".into())).await;
        }
        self.change_state(ExecutionState::Running, None);
        self.run_loop().await;
    }

    pub(super) async fn run_loop(mut self) {
        let mut inline_steps = 0u32;
        loop {
            self.schedule();
            if let Some(failure) = self.failure.clone() {
                return self.end(ExecutionState::Failed, Some(failure)).await;
            }
            if self.plan.is_finished() && self.tasks.is_empty() {
                return self.end(ExecutionState::Completed, None).await;
            }
            if self.tasks.is_empty() && self.to_spawn.is_empty() {
                let stall = "internal error: no node can run although the workflow has not finished";
                tracing::error!(execution_id = %self.id, "{stall}");
                return self.end(ExecutionState::Failed, Some(stall.into())).await;
            }
            if let Err(e) = self.commit().await {
                return self.abandon(e).await;
            }
            let done_at_once = self.spawn_pending();
            if !done_at_once.is_empty() {
                for done in done_at_once {
                    self.on_joined(Ok(done));
                }
                inline_steps += 1;
                if inline_steps.is_multiple_of(YIELD_EVERY) {
                    // Runners that never wait would otherwise keep this worker thread to themselves.
                    tokio::task::yield_now().await;
                }
                if !self.stop.cancel.is_cancelled() && !self.stop.shutdown.is_cancelled() {
                    continue;
                }
            }
            let stop = self.stop.clone();
            tokio::select! {
                biased;
                () = stop.cancel.cancelled() => {
                    return self.end(ExecutionState::Cancelled, Some("cancelled by request".into())).await;
                }
                () = stop.shutdown.cancelled() => {
                    if self.ex.limits.resumable {
                        return self.hand_over().await;
                    }
                    let why = "interrupted: the server shut down before the execution finished";
                    return self.end(ExecutionState::Failed, Some(why.into())).await;
                }
                Some(joined) = self.tasks.join_next() => self.on_joined(joined),
            }
            while let Some(joined) = self.tasks.try_join_next() {
                self.on_joined(joined);
            }
        }
    }

    /// Starts every ready node the limits allow: control nodes are evaluated on the spot, runner
    /// nodes are queued to be spawned once this step is committed.
    fn schedule(&mut self) {
        loop {
            self.record_skipped();
            if self.failure.is_some() {
                return;
            }
            let Some(idx) = self.plan.peek_ready() else {
                return;
            };
            let kind = self.wf.node(idx).kind.clone();
            let is_control = control::is_control(&kind);
            if !is_control && self.in_flight >= self.ex.limits.max_concurrent_nodes {
                return;
            }
            self.plan.next_ready();
            let attempt = self.next_attempt.remove(&idx).unwrap_or(1);
            self.start_node(idx, attempt);
            if let Some(result) = control::evaluate(&self.wf, idx, &self.data) {
                match result {
                    Ok(out) => self.succeed(idx, out.output, &out.taken),
                    Err(e) => self.fail(idx, &e),
                }
            } else if self.ex.runners.get(kind.name()).is_some() {
                self.in_flight += 1;
                self.to_spawn.push((idx, 1, None));
            } else {
                self.fail(idx, &RunnerError::KindUnavailable(kind.name().into()).to_string());
            }
        }
    }

    /// Starts the queued attempts. Each is polled once here first: one that finishes at once (a
    /// cached or trivial runner) is returned instead of paying for a task and a thread hop.
    fn spawn_pending(&mut self) -> Vec<Done> {
        let mut done_at_once = Vec::new();
        for (idx, attempt, delay) in std::mem::take(&mut self.to_spawn) {
            let node = self.wf.node(idx);
            let Some(runner) = self.ex.runners.get(node.kind.name()) else {
                continue;
            };
            let timeout = node
                .timeout_config
                .as_ref()
                .map(|t| Duration::from_millis(t.execution_timeout_ms))
                .or(self.ex.limits.default_node_timeout);
            let sink = Arc::new(DeltaSink {
                bus: self.ex.bus.clone(),
                execution_id: self.id,
                workflow_id: self.workflow_id,
                node_id: node.id.clone(),
                attempt,
                last_seq: self.last_seq.clone(),
                count: AtomicU64::new(0),
            });
            let input = NodeInput {
                execution_id: self.id,
                workflow: self.wf.clone(),
                node_index: idx,
                attempt,
                data: self.data.clone(),
                sink,
                budget: self.budget.clone(),
            };
            let cancel = self.nodes_cancel.child_token();
            let mut attempt: Pin<Box<dyn Future<Output = Done> + Send>> =
                Box::pin(Attempt { runner, input, cancel, delay, timeout }.run());
            // Polling with a no-op waker is safe: a pending future registers the task's real
            // waker on its next poll, which the spawned task makes at once.
            match attempt.as_mut().poll(&mut TaskContext::from_waker(Waker::noop())) {
                Poll::Ready(done) => done_at_once.push(done),
                Poll::Pending => {
                    self.tasks.spawn(attempt);
                }
            }
        }
        done_at_once
    }

    fn on_joined(&mut self, joined: Result<Done, tokio::task::JoinError>) {
        // Tasks are only aborted when the run ends, so a join error here cannot be an abort.
        let Ok(Done { idx, attempt, outcome }) = joined else {
            return;
        };
        let node = self.wf.node(idx);
        let policy = node.retry_config.as_ref().or_else(|| self.ex.runners.default_retry(node.kind.name()));
        let retry_delay = retry::delay_before(policy, attempt + 1).map(jitter);
        let action = node.timeout_config.as_ref().map(|t| t.timeout_action.clone()).unwrap_or_default();
        match outcome {
            Outcome::Output(mut value) => {
                self.in_flight -= 1;
                number::canonicalize(&mut value);
                self.succeed(idx, value, &[]);
            }
            Outcome::Error(e) if e.is_retryable() && retry_delay.is_some() => {
                let asked = e.retry_after().unwrap_or_default().min(MAX_RETRY_AFTER);
                self.retry(idx, attempt + 1, retry_delay.unwrap_or_default().max(asked), &e.to_string());
            }
            Outcome::Error(e) => {
                self.in_flight -= 1;
                let suffix = if attempt > 1 { format!(" (after {attempt} attempts)") } else { String::new() };
                self.fail(idx, &format!("{e}{suffix}"));
            }
            Outcome::TimedOut(limit) => {
                let message = format!("timed out after {} ms", limit.as_millis());
                if let Some(delay) = retry_delay {
                    return self.retry(idx, attempt + 1, delay, &message);
                }
                self.in_flight -= 1;
                match action {
                    TimeoutAction::Fail => self.fail(idx, &message),
                    TimeoutAction::Skip => self.skip_timed_out(idx, &message),
                    TimeoutAction::UseDefault(text) => self.succeed(idx, Value::String(text), &[]),
                }
            }
        }
    }
}
