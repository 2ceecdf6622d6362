//! One execution's run: the loop of schedule, commit, spawn, wait.

use super::Executor;
use super::attempt::{Attempt, Done, Outcome};
use super::record::{DeltaSink, EventData, Extra};
use crate::app::running::StopSignal;
use crate::domain::budget::{Budget, BudgetLimits};
use crate::domain::control;
use crate::domain::data::{DataContext, NodeOutputs};
use crate::domain::execution::{
    EventKind, Execution, ExecutionState, ExecutionUpdate, NewEvent, NodeResult, NodeStatus, StateChange,
};
use crate::domain::ids::{ExecutionId, WorkflowId};
use crate::domain::retry;
use crate::domain::scheduler::Plan;
use crate::domain::usage::Usage;
use crate::domain::valid::ValidWorkflow;
use crate::domain::workflow::TimeoutAction;
use crate::ports::{NodeInput, RunnerError, StoreError};
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

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
            budget_limits: execution.budget,
            budget: Arc::new(Mutex::new(Budget::new(execution.budget, Usage::default()))),
        }
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
            Outcome::Output(value) => {
                self.in_flight -= 1;
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

    fn start_node(&mut self, idx: usize, attempt: u32) {
        if let Err(e) = self.plan.start(idx) {
            tracing::error!(error = %e, node = idx, "scheduler refused to start a node");
            return;
        }
        let result = NodeResult {
            started_at: Some(self.ex.clock.now()),
            ..NodeResult::of(self.wf.node(idx), NodeStatus::Running, attempt)
        };
        self.put_result(idx, result);
        self.event(EventKind::NodeStarted, Some(idx), &Extra { attempt: Some(attempt), ..Extra::default() });
    }

    fn retry(&mut self, idx: usize, attempt: u32, delay: Duration, error: &str) {
        if let Some(mut result) = self.results[idx].clone() {
            result.attempts = attempt;
            result.error = Some(error.to_owned());
            self.put_result(idx, result);
        }
        let delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        let extra = Extra { attempt: Some(attempt), error: Some(error), delay_ms: Some(delay_ms), ..Extra::default() };
        self.event(EventKind::NodeRetrying, Some(idx), &extra);
        self.to_spawn.push((idx, attempt, Some(delay)));
    }

    fn succeed(&mut self, idx: usize, output: Value, taken: &[usize]) {
        if let Err(e) = self.plan.succeed(&self.wf, idx, taken) {
            tracing::error!(error = %e, node = idx, "scheduler refused a node's success");
            return;
        }
        let output = Arc::new(output);
        self.data.outputs.set(idx, output.clone());
        let duration = self.finish_result(idx, NodeStatus::Succeeded, Some(output.clone()), None);
        let extra = Extra { output: Some(&output), duration_ms: duration, ..self.attempt_extra(idx) };
        self.event(EventKind::NodeCompleted, Some(idx), &extra);
        if let Some(usage) = Usage::of_output(&output) {
            self.usage = self.usage.plus(usage);
            let extra = Extra { usage: Some(usage), execution_usage: Some(self.usage), ..Extra::default() };
            self.event(EventKind::Usage, Some(idx), &extra);
        }
    }

    fn fail(&mut self, idx: usize, error: &str) {
        if let Err(e) = self.plan.fail(idx) {
            tracing::error!(error = %e, node = idx, "scheduler refused a node's failure");
            return;
        }
        let duration = self.finish_result(idx, NodeStatus::Failed, None, Some(error.to_owned()));
        let extra = Extra { error: Some(error), duration_ms: duration, ..self.attempt_extra(idx) };
        self.event(EventKind::NodeFailed, Some(idx), &extra);
        let node = self.wf.node(idx);
        self.failure = Some(format!("node '{}' ({}) failed: {error}", node.name, node.id));
    }

    fn skip_timed_out(&mut self, idx: usize, reason: &str) {
        if let Err(e) = self.plan.skip(&self.wf, idx) {
            tracing::error!(error = %e, node = idx, "scheduler refused to skip a node");
            return;
        }
        let duration = self.finish_result(idx, NodeStatus::Skipped, None, Some(reason.to_owned()));
        let extra = Extra { reason: Some(reason), duration_ms: duration, ..self.attempt_extra(idx) };
        self.event(EventKind::NodeSkipped, Some(idx), &extra);
    }

    fn record_skipped(&mut self) {
        for idx in self.plan.take_skipped() {
            self.record_one_skipped(idx);
        }
    }

    /// Marks a started node finished; returns how long it ran, in milliseconds.
    fn finish_result(
        &mut self,
        idx: usize,
        status: NodeStatus,
        output: Option<Arc<Value>>,
        error: Option<String>,
    ) -> Option<i64> {
        let now = self.ex.clock.now();
        let mut result = self.results[idx].clone()?;
        result.status = status;
        result.output = output;
        result.error = error;
        result.completed_at = Some(now);
        let duration = result.started_at.map(|s| (now - s).num_milliseconds());
        self.put_result(idx, result);
        self.finished += 1;
        duration
    }

    fn attempt_extra(&self, idx: usize) -> Extra<'static> {
        Extra { attempt: self.results[idx].as_ref().map(|r| r.attempts), ..Extra::default() }
    }

    /// Records a node's latest result, replacing one already waiting in this step's write.
    fn put_result(&mut self, idx: usize, result: NodeResult) {
        match self.pending_results.get(&idx) {
            Some(&at) => self.pending.node_results[at] = result.clone(),
            None => {
                self.pending_results.insert(idx, self.pending.node_results.len());
                self.pending.node_results.push(result.clone());
            }
        }
        self.results[idx] = Some(result);
    }

    fn change_state(&mut self, to: ExecutionState, error: Option<String>) {
        match self.state.transition(to) {
            Ok(state) => self.state = state,
            Err(e) => {
                tracing::error!(error = %e, "illegal execution state change refused");
                return;
            }
        }
        let at = self.ex.clock.now();
        let kind = match to {
            ExecutionState::Completed => EventKind::ExecutionCompleted,
            ExecutionState::Failed => EventKind::ExecutionFailed,
            ExecutionState::Cancelled => EventKind::ExecutionCancelled,
            _ => EventKind::ExecutionStarted,
        };
        self.event(kind, None, &Extra { error: error.as_deref(), ..Extra::default() });
        let started_at = match (&self.pending.state, to) {
            (_, ExecutionState::Running) => Some(at),
            (Some(earlier), _) => earlier.started_at,
            (None, _) => None,
        };
        let completed_at = to.is_terminal().then_some(at);
        self.pending.state = Some(StateChange { state: to, error, started_at, completed_at });
    }

    fn event(&mut self, kind: EventKind, idx: Option<usize>, extra: &Extra<'_>) {
        let at = self.ex.clock.now();
        let node = idx.map(|i| self.wf.node(i));
        let data = EventData {
            execution_id: self.id,
            workflow_id: self.workflow_id,
            state: self.state,
            node_results_count: self.finished,
            node_id: node.map(|n| &n.id),
            node_name: node.map(|n| n.name.as_str()),
            kind: node.map(|n| n.kind.name()),
            attempt: extra.attempt,
            output: extra.output,
            error: extra.error,
            duration_ms: extra.duration_ms,
            delay_ms: extra.delay_ms,
            reason: extra.reason,
            usage: extra.usage,
            execution_usage: extra.execution_usage,
            timestamp: at,
        };
        let json =
            serde_json::to_string(&data).unwrap_or_else(|e| format!(r#"{{"error":"unserializable event: {e}"}}"#));
        self.pending.events.push(NewEvent {
            kind,
            node_id: node.map(|n| n.id.clone()),
            data: json.into(),
            state: self.state,
            node_results_count: self.finished,
            at,
        });
    }

    /// Stops every node still running, then records the final state.
    async fn end(mut self, state: ExecutionState, error: Option<String>) {
        self.stop_nodes().await;
        let reason = match state {
            ExecutionState::Cancelled => "execution cancelled",
            ExecutionState::Failed => "execution failed",
            _ => "execution ended",
        };
        let running: Vec<usize> = self.plan.running().collect();
        for idx in running {
            if self.plan.cancel(idx).is_ok() {
                self.finish_result(idx, NodeStatus::Cancelled, None, Some(reason.into()));
                self.event(EventKind::NodeCancelled, Some(idx), &Extra { reason: Some(reason), ..Extra::default() });
            }
        }
        self.change_state(state, error);
        if self.commit().await.is_ok() {
            tracing::debug!(execution_id = %self.id, state = %self.state, "execution finished");
        }
    }

    /// The store refused a write for good, or another process took the execution over: stop
    /// working on it. Unless it is someone else's now, record it failed on its own (the refused
    /// write may hold what the store cannot take), so that no process resumes it into the same
    /// failure forever.
    async fn abandon(mut self, error: StoreError) {
        self.stop_nodes().await;
        if let StoreError::LeaseLost(_) = error {
            tracing::warn!(execution_id = %self.id, "another process took the execution over; stopping here");
            return;
        }
        self.pending = ExecutionUpdate::default();
        self.pending_results.clear();
        self.change_state(ExecutionState::Failed, Some(format!("execution progress could not be stored: {error}")));
        if self.commit().await.is_err() {
            tracing::error!(execution_id = %self.id, "execution abandoned: not even its failure can be stored");
        }
    }

    /// Shutdown with a store that outlives the process: stop the nodes, record nothing more, and
    /// give the execution up so the next process resumes it (nodes in flight run again).
    async fn hand_over(mut self) {
        self.stop_nodes().await;
        let _ = self.commit().await;
        if let Err(e) = self.ex.store.release(&self.ex.lease, &[self.id]).await {
            tracing::warn!(error = %e, "could not release the execution; it is resumed once its lease expires");
        }
        tracing::info!(execution_id = %self.id, "execution handed over to the next process");
    }

    async fn stop_nodes(&mut self) {
        self.nodes_cancel.cancel();
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }

    /// Stores the step's writes (retrying while the store is unavailable), then publishes them.
    async fn commit(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let update = std::mem::take(&mut self.pending);
        self.pending_results.clear();
        let mut delay = Duration::from_millis(20);
        loop {
            match self.ex.store.apply(self.id, Some(&self.ex.lease), &update).await {
                Ok(events) => {
                    if let Some(last) = events.last() {
                        self.last_seq.store(last.seq, Ordering::Relaxed);
                    }
                    for event in events {
                        self.ex.bus.publish(Arc::new(event));
                    }
                    return Ok(());
                }
                Err(e) if e.is_transient() && !self.stop.shutdown.is_cancelled() => {
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis(), "storing execution progress failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.ex.limits.store_retry_max_delay);
                }
                Err(e) => {
                    tracing::error!(error = %e, "storing execution progress failed");
                    return Err(e);
                }
            }
        }
    }
}
