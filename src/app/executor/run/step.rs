//! Recording what happens: every change goes through [`Run::emit`], which applies the event to
//! the run's state and adds it, and the node whose result it changed, to the step's write.

use super::Run;
use crate::domain::execution::{EventKind, ExecutionUpdate, NewEvent, StateChange};
use crate::domain::run::{RunEvent, RunState};

/// The writes gathered since the last commit. Node results are taken at commit time, once per
/// node the step changed, rather than built on every event (a node that starts and finishes
/// within one step is written once, finished).
#[derive(Default)]
pub(super) struct StepBuffer {
    pub update: ExecutionUpdate,
    /// Nodes whose result changed in this step, in the order they first did.
    touched: Vec<usize>,
    /// Whether each node is in `touched` (by node index, grown on demand).
    in_step: Vec<bool>,
}

impl StepBuffer {
    /// A buffer sized for a run of a workflow of `nodes` nodes (two events a node, up to a point).
    pub fn for_nodes(nodes: usize) -> Self {
        let events = (2 * nodes + 4).min(512);
        let update = ExecutionUpdate {
            events: Vec::with_capacity(events),
            node_results: Vec::with_capacity(nodes.min(256)),
            ..ExecutionUpdate::default()
        };
        Self { update, touched: Vec::with_capacity(nodes.min(256)), in_step: vec![false; nodes] }
    }

    /// Notes that node `idx`'s result changed.
    fn touch(&mut self, idx: usize) {
        if idx >= self.in_step.len() {
            self.in_step.resize(idx + 1, false);
        }
        if !self.in_step[idx] {
            self.in_step[idx] = true;
            self.touched.push(idx);
        }
    }

    /// The step's write, with the latest result of every node it changed.
    pub fn take(&mut self, rs: &RunState) -> ExecutionUpdate {
        for idx in self.touched.drain(..) {
            self.in_step[idx] = false;
            self.update.node_results.push(rs.result(idx));
        }
        std::mem::take(&mut self.update)
    }

    /// Drops what the step gathered.
    pub fn clear(&mut self) {
        for idx in self.touched.drain(..) {
            self.in_step[idx] = false;
        }
        self.update = ExecutionUpdate::default();
    }

    /// Takes back a written step's lists, emptied, so the next steps reuse their capacity
    /// instead of growing new ones.
    pub fn recycle(&mut self, mut written: ExecutionUpdate) {
        if !self.is_empty() || self.update.events.capacity() > 0 {
            return;
        }
        written.events.clear();
        written.node_results.clear();
        self.update =
            ExecutionUpdate { events: written.events, node_results: written.node_results, ..Default::default() };
    }

    pub fn is_empty(&self) -> bool {
        self.update.is_empty() && self.touched.is_empty()
    }
}

impl Run<'_> {
    /// Applies an event to the run's state and records it for the next commit. An event the
    /// state refuses is a bug: it is logged and dropped, so the log never holds a contradiction.
    pub(super) fn emit(&mut self, event: RunEvent) {
        let at = self.ex.clock.now();
        self.emit_at(event, at);
    }

    /// [`Run::emit`] at a time the caller read already.
    pub(super) fn emit_at(&mut self, event: RunEvent, at: chrono::DateTime<chrono::Utc>) {
        match self.rs.apply(&event, at) {
            Ok(Some(idx)) => self.step.touch(idx),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, event = ?event.kind(), "run state refused an event");
                return;
            }
        }
        let kind = event.kind();
        let state = self.rs.state();
        self.step.update.events.push(NewEvent { event, state, node_results_count: self.rs.finished(), at });
        if is_state_change(kind) {
            self.record_state(kind, at);
        }
    }

    /// The execution row follows the state the run's events put it in.
    fn record_state(&mut self, kind: EventKind, at: chrono::DateTime<chrono::Utc>) {
        let state = self.rs.state();
        let started_at = match &self.step.update.state {
            _ if kind == EventKind::ExecutionStarted => Some(at),
            Some(earlier) => earlier.started_at,
            None => None,
        };
        let (error, output) = match self.step.update.events.last().map(|e| &e.event) {
            Some(RunEvent::ExecutionFailed { error }) => (Some(error.clone()), None),
            Some(RunEvent::ExecutionCancelled { reason }) => (Some(reason.clone()), None),
            Some(RunEvent::ExecutionCompleted { output }) => (None, output.clone()),
            _ => (None, None),
        };
        self.step.update.state = Some(StateChange {
            state,
            error,
            started_at,
            completed_at: state.is_terminal().then_some(at),
            output,
            wake_at: None,
        });
    }
}

fn is_state_change(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::ExecutionStarted
            | EventKind::ExecutionResumed
            | EventKind::ExecutionPaused
            | EventKind::ExecutionCompleted
            | EventKind::ExecutionFailed
            | EventKind::ExecutionCancelled
    )
}
