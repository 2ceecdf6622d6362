//! Ending executions no task here runs (parked, or left by a process that died), and their
//! children with them: an execution's children never outlive it.

use super::live_executions::LiveExecutions;
use crate::domain::access::Scope;
use crate::domain::execution::{Execution, ExecutionState, ExecutionUpdate, NewEvent, Signal, StateChange};
use crate::domain::ids::ExecutionId;
use crate::domain::run::RunEvent;
use crate::ports::{Clock, EventBus, ExecutionFilter, ExecutionStore, PageRequest, StoreError};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// What ending an execution from outside its run needs.
#[derive(Clone)]
pub struct Cascade {
    pub store: Arc<dyn ExecutionStore>,
    pub running: Arc<LiveExecutions>,
    pub bus: Arc<dyn EventBus>,
    pub clock: Arc<dyn Clock>,
}

/// Children listed per query while cancelling a tree.
const CHILDREN_PAGE: u32 = 500;

impl Cascade {
    /// Cancels execution `id` and, depth first, its unfinished children. An execution running
    /// here is told to stop (its run cancels its own children); any other is ended in the store
    /// with its terminal event.
    ///
    /// # Errors
    /// Storage failures.
    /// `id` must be known to belong to `scope`: a running execution is stopped by id alone.
    pub async fn cancel_tree(&self, scope: Scope, id: ExecutionId, reason: &str) -> Result<(), StoreError> {
        let mut pending = vec![id];
        while let Some(id) = pending.pop() {
            if self.running.cancel_nowait(id) {
                continue;
            }
            let execution = match self.store.get(scope, id).await {
                Ok(e) => e,
                Err(StoreError::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            };
            if !execution.state.is_terminal() {
                let finished =
                    self.store.node_results(scope, id).await?.iter().filter(|r| r.status.is_terminal()).count();
                let update = ending(&execution, ExecutionState::Cancelled, reason, self.clock.now(), finished);
                match self.store.apply(scope, id, None, &update).await {
                    Ok(events) => self.publish(events),
                    // Its owner ended it meanwhile.
                    Err(StoreError::LeaseLost(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            let filter = ExecutionFilter { parent: Some(id), ..ExecutionFilter::default() };
            let children = self.store.list(scope, filter, PageRequest { limit: CHILDREN_PAGE, after: None }).await?;
            pending.extend(children.items.iter().filter(|c| !c.state.is_terminal()).map(|c| c.id));
        }
        Ok(())
    }

    /// Publishes stored events; one written for a parent (a child's end) also wakes it.
    pub fn publish(&self, events: Vec<Arc<crate::domain::execution::ExecutionEvent>>) {
        for event in events {
            if event.kind() == crate::domain::execution::EventKind::ChildFinished {
                self.running.signal(event.execution_id, event.clone());
            }
            self.bus.publish(event);
        }
    }
}

/// The write that ends an execution outside its run: the final state and its terminal event, so
/// that every watcher receives its last frame, and for a child, the news to its parent.
#[must_use]
pub fn ending(
    execution: &Execution,
    state: ExecutionState,
    error: &str,
    at: DateTime<Utc>,
    finished: usize,
) -> ExecutionUpdate {
    let event = match state {
        ExecutionState::Cancelled => RunEvent::ExecutionCancelled { reason: error.into() },
        _ => RunEvent::ExecutionFailed { error: error.into() },
    };
    ExecutionUpdate {
        state: Some(StateChange { error: Some(error.into()), completed_at: Some(at), ..StateChange::to(state) }),
        events: vec![NewEvent { event, state, node_results_count: u32::try_from(finished).unwrap_or(u32::MAX), at }],
        signal: child_finished(execution, state, None, Some(error.into()), at),
        ..ExecutionUpdate::default()
    }
}

/// The signal a child execution that ended sends its parent (none for a top-level execution).
#[must_use]
pub fn child_finished(
    execution: &Execution,
    state: ExecutionState,
    output: Option<Arc<serde_json::Value>>,
    error: Option<String>,
    at: DateTime<Utc>,
) -> Option<Signal> {
    let parent = execution.parent.as_ref()?;
    Some(Signal {
        execution_id: parent.execution_id,
        event: RunEvent::ChildFinished {
            node_id: parent.node_id.clone(),
            child_execution_id: execution.id,
            item: parent.item,
            state,
            output,
            error,
        },
        at,
    })
}
