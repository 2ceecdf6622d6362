//! Ending a run (completed, failed, cancelled, handed over or abandoned) and committing its writes.

use super::Run;
use crate::domain::execution::ExecutionState;
use crate::domain::run::{RunEvent, workflow_output};
use crate::ports::StoreError;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

impl Run<'_> {
    /// Every node finished: the run completes with the workflow's output.
    pub(super) async fn complete(mut self) {
        let output = Arc::new(workflow_output(&self.rs));
        self.emit(RunEvent::ExecutionCompleted { output: Some(output) });
        self.tell_parent();
        if self.commit().await.is_ok() {
            tracing::debug!(execution_id = %self.id, "execution completed");
        }
    }

    /// Stops every node still running, then records the final state.
    pub(in crate::app::executor) async fn end(mut self, state: ExecutionState, error: String) {
        self.stop_nodes().await;
        let reason = match state {
            ExecutionState::Cancelled => "execution cancelled",
            ExecutionState::Failed => "execution failed",
            _ => "execution ended",
        };
        let unfinished: Vec<usize> = self.rs.unfinished().collect();
        for idx in unfinished {
            self.stop_children_of(idx);
            self.emit(RunEvent::NodeCancelled { node_id: self.node_id(idx), reason: reason.into() });
        }
        self.emit(match state {
            ExecutionState::Cancelled => RunEvent::ExecutionCancelled { reason: error },
            _ => RunEvent::ExecutionFailed { error },
        });
        self.tell_parent();
        if self.commit().await.is_ok() {
            tracing::debug!(execution_id = %self.id, state = %self.rs.state(), "execution finished");
        }
        self.cancel_stopping().await;
        self.cancel_tasks().await;
    }

    /// The store refused a write for good, or another process took the execution over: stop
    /// working on it. Unless it is someone else's now, record it failed on its own (the refused
    /// write may hold what the store cannot take), so that no process resumes it into the same
    /// failure forever.
    pub(super) async fn abandon(mut self, error: StoreError) {
        self.stop_nodes().await;
        if self.never_stored {
            return;
        }
        if let StoreError::LeaseLost(_) = error {
            tracing::warn!(execution_id = %self.id, "another process took the execution over; stopping here");
            return;
        }
        self.step.clear();
        self.emit(RunEvent::ExecutionFailed { error: format!("execution progress could not be stored: {error}") });
        self.tell_parent();
        if self.commit().await.is_err() {
            tracing::error!(execution_id = %self.id, "execution abandoned: not even its failure can be stored");
        }
    }

    /// Shutdown with a store that outlives the process: stop the nodes, record nothing more, and
    /// give the execution up so the next process resumes it (nodes in flight run again).
    pub(super) async fn hand_over(mut self) {
        self.stop_nodes().await;
        let _ = self.commit().await;
        if let Err(e) = self.ex.store.release(&self.ex.lease, &[self.id]).await {
            tracing::warn!(error = %e, "could not release the execution; it is resumed once its lease expires");
        }
        tracing::info!(execution_id = %self.id, "execution handed over to the next process");
    }

    /// After a write: takes in what others appended to the log meanwhile (a gap before this
    /// step's first event), publishes the step, and hands a parent the news written for it.
    async fn committed(&mut self, mut events: Vec<Arc<crate::domain::execution::ExecutionEvent>>) {
        let mut own = events.iter().filter(|e| e.execution_id == self.id).map(|e| e.seq);
        let first = own.next();
        if let (Some(first), Some(last)) = (first, own.next_back().or(first)) {
            if first > self.log_end + 1
                && let Err(e) = self.catch_up(self.log_end, Some(first)).await
            {
                tracing::warn!(error = %e, "reading signals written meanwhile failed; they are read on resume");
            }
            self.log_end = self.log_end.max(last);
        }
        // A signal for another execution (the last event, if any) goes to it; the step's own
        // events go out together.
        if let Some(signal) = events.pop_if(|e| e.execution_id != self.id) {
            if !self.ex.running.signal(signal.execution_id, signal.clone()) {
                // The parent is parked (or runs elsewhere): have the sweep wake it now.
                self.ex.wake.notify_one();
            }
            self.ex.bus.publish(signal);
        }
        self.ex.bus.publish_all(events);
        // Only now: a delta never claims a place after an event not yet published.
        self.sink.last_seq.store(self.log_end, Ordering::Relaxed);
    }

    pub(super) async fn stop_nodes(&mut self) {
        self.nodes_cancel.cancel();
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }

    /// Stores the step's writes (retrying while the store is unavailable), then publishes them.
    pub(super) async fn commit(&mut self) -> Result<(), StoreError> {
        if self.step.is_empty() {
            return Ok(());
        }
        let update = self.step.take(&self.rs);
        let mut delay = Duration::from_millis(20);
        loop {
            let written = match &self.first {
                Some(first) => self.ex.store.create_with(&first.execution, &self.ex.lease, &update).await,
                None => self.ex.store.apply(self.scope, self.id, Some(&self.ex.lease), &update).await,
            };
            match written {
                Ok(events) => {
                    self.stop.store_problem.clear();
                    if let Some(first) = self.first.take() {
                        let _ = first.stored.send(Ok(()));
                    }
                    self.step.recycle(update);
                    self.committed(events).await;
                    return Ok(());
                }
                // A new execution's first write is not retried: its client is waiting for the
                // answer, and gets a 503 to retry rather than a request that hangs.
                Err(e) if e.is_transient() && self.first.is_none() && !self.stop.shutdown.is_cancelled() => {
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis(), "storing execution progress failed; retrying");
                    self.stop.store_problem.set(e.to_string());
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.ex.limits.store_retry_max_delay);
                }
                Err(e) => {
                    tracing::error!(error = %e, "storing execution progress failed");
                    if let Some(first) = self.first.take() {
                        self.never_stored = true;
                        let _ = first.stored.send(Err(e.clone()));
                    }
                    return Err(e);
                }
            }
        }
    }
}
