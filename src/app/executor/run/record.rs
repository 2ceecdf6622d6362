//! The run's bookkeeping: node results, events and state changes, gathered into the step's write.

use super::Run;
use crate::app::executor::record::{EventData, Extra};
use crate::domain::execution::{EventKind, ExecutionState, NewEvent, NodeResult, NodeStatus, StateChange};
use crate::domain::usage::Usage;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

impl Run<'_> {
    pub(super) fn start_node(&mut self, idx: usize, attempt: u32) {
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

    pub(super) fn retry(&mut self, idx: usize, attempt: u32, delay: Duration, error: &str) {
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

    pub(super) fn succeed(&mut self, idx: usize, output: Value, taken: &[usize]) {
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

    pub(super) fn fail(&mut self, idx: usize, error: &str) {
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

    pub(super) fn skip_timed_out(&mut self, idx: usize, reason: &str) {
        if let Err(e) = self.plan.skip(&self.wf, idx) {
            tracing::error!(error = %e, node = idx, "scheduler refused to skip a node");
            return;
        }
        let duration = self.finish_result(idx, NodeStatus::Skipped, None, Some(reason.to_owned()));
        let extra = Extra { reason: Some(reason), duration_ms: duration, ..self.attempt_extra(idx) };
        self.event(EventKind::NodeSkipped, Some(idx), &extra);
    }

    pub(super) fn record_skipped(&mut self) {
        for idx in self.plan.take_skipped() {
            self.record_one_skipped(idx);
        }
    }

    /// Marks a started node finished; returns how long it ran, in milliseconds.
    pub(super) fn finish_result(
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

    pub(super) fn attempt_extra(&self, idx: usize) -> Extra<'static> {
        Extra { attempt: self.results[idx].as_ref().map(|r| r.attempts), ..Extra::default() }
    }

    /// Records a node's latest result, replacing one already waiting in this step's write.
    pub(super) fn put_result(&mut self, idx: usize, result: NodeResult) {
        match self.pending_results.get(&idx) {
            Some(&at) => self.pending.node_results[at] = result.clone(),
            None => {
                self.pending_results.insert(idx, self.pending.node_results.len());
                self.pending.node_results.push(result.clone());
            }
        }
        self.results[idx] = Some(result);
    }

    pub(super) fn change_state(&mut self, to: ExecutionState, error: Option<String>) {
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

    pub(super) fn event(&mut self, kind: EventKind, idx: Option<usize>, extra: &Extra<'_>) {
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
}
