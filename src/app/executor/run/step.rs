//! Recording what happens: every change goes through [`Run::emit`], which applies the event to
//! the run's state and adds it, with the node result it changed, to the step's write.

use super::Run;
use crate::domain::execution::{EventKind, ExecutionUpdate, NewEvent, NodeResult, StateChange};
use crate::domain::run::RunEvent;
use std::collections::HashMap;

/// The writes gathered since the last commit.
#[derive(Default)]
pub(super) struct StepBuffer {
    pub update: ExecutionUpdate,
    /// Where each node's result sits in `update.node_results`.
    positions: HashMap<usize, usize, foldhash::fast::RandomState>,
}

impl StepBuffer {
    /// Records a node's latest result, replacing one already waiting in this step's write.
    fn put_result(&mut self, idx: usize, result: NodeResult) {
        match self.positions.get(&idx) {
            Some(&at) => self.update.node_results[at] = result,
            None => {
                self.positions.insert(idx, self.update.node_results.len());
                self.update.node_results.push(result);
            }
        }
    }

    pub fn take(&mut self) -> ExecutionUpdate {
        self.positions.clear();
        std::mem::take(&mut self.update)
    }

    /// Takes back a written step's lists, emptied, so the next steps reuse their capacity
    /// instead of growing new ones.
    pub fn recycle(&mut self, mut written: ExecutionUpdate) {
        if !self.update.is_empty() || self.update.events.capacity() > 0 {
            return;
        }
        written.events.clear();
        written.node_results.clear();
        self.update =
            ExecutionUpdate { events: written.events, node_results: written.node_results, ..Default::default() };
    }

    pub fn is_empty(&self) -> bool {
        self.update.is_empty()
    }
}

impl Run<'_> {
    /// Applies an event to the run's state and records it for the next commit. An event the
    /// state refuses is a bug: it is logged and dropped, so the log never holds a contradiction.
    pub(super) fn emit(&mut self, event: RunEvent) {
        let at = self.ex.clock.now();
        match self.rs.apply(&event, at) {
            Ok(Some(idx)) => {
                let result = self.rs.result(idx);
                self.step.put_result(idx, result);
            }
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
