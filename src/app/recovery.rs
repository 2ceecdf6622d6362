//! Keeping executions alive across process deaths: at start and periodically, take over the
//! unfinished executions no live process owns and resume them; while running, renew the leases
//! of this process's executions.

use super::cascade::{Cascade, ending};
use super::executor::Executor;
use super::live_executions::LiveExecutions;
use crate::domain::execution::{Execution, ExecutionState};
use crate::ports::{Clock, EventBus, ExecutionStore, StoreError, WorkflowStore};
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Executions claimed per store query.
const BATCH: u32 = 256;
/// How often the store is asked for executions to take over or wake.
const WAKE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Finds and resumes orphaned executions.
pub struct Recovery {
    pub workflows: Arc<dyn WorkflowStore>,
    pub executions: Arc<dyn ExecutionStore>,
    pub executor: Arc<Executor>,
    pub running: Arc<LiveExecutions>,
    pub bus: Arc<dyn EventBus>,
    pub clock: Arc<dyn Clock>,
}

impl Recovery {
    /// Claims orphaned executions and resumes them; `steal` takes even those whose lease has not
    /// expired (for a store only this process can open). Returns how many were resumed.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn recover(&self, steal: bool) -> Result<usize, StoreError> {
        let mut resumed = 0;
        loop {
            if self.running.is_closing() {
                return Ok(resumed);
            }
            let claimed = self.executions.claim(self.executor.lease(), BATCH, steal).await?;
            let n = claimed.len();
            for execution in claimed {
                self.resume(execution).await?;
                resumed += 1;
            }
            if n < BATCH as usize {
                return Ok(resumed);
            }
        }
    }

    async fn resume(&self, execution: Execution) -> Result<(), StoreError> {
        let workflow = match self
            .workflows
            .get_version(execution.scope(), execution.workflow_id, execution.workflow_version)
            .await
        {
            Ok(v) => v.workflow,
            Err(StoreError::NotFound { .. }) => return self.fail_without_workflow(&execution).await,
            Err(e) => return Err(e),
        };
        let executor = self.executor.clone();
        self.running.launch(execution.id, move |stop| async move {
            if let Err(e) = executor.resume(execution, workflow, stop).await {
                tracing::warn!(error = %e, "reading the event log to resume failed; trying again later");
            }
        });
        Ok(())
    }

    /// Fails an execution whose workflow version cannot be read any more, with its terminal
    /// event, so that watchers end too.
    async fn fail_without_workflow(&self, execution: &Execution) -> Result<(), StoreError> {
        let error =
            format!("cannot resume: workflow {} version {} is gone", execution.workflow_id, execution.workflow_version);
        tracing::error!(execution_id = %execution.id, "{error}");
        let finished = self
            .executions
            .node_results(execution.scope(), execution.id)
            .await?
            .iter()
            .filter(|r| r.status.is_terminal())
            .count();
        let update = ending(execution, ExecutionState::Failed, &error, self.clock.now(), finished);
        let events =
            self.executions.apply(execution.scope(), execution.id, Some(self.executor.lease()), &update).await?;
        let cascade = Cascade {
            store: self.executions.clone(),
            running: self.running.clone(),
            bus: self.bus.clone(),
            clock: self.clock.clone(),
        };
        cascade.publish(events);
        Ok(())
    }

    /// Renews this process's leases every third of their lifetime and looks for orphans every
    /// half, until `stop` fires.
    pub fn spawn_maintenance(self: Arc<Self>, stop: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(async move {
            let ttl = self.executor.lease().ttl;
            let mut renew = tokio::time::interval(ttl / 3);
            // Parked runs whose timer is due, or that a signal woke, are claimed within a second
            // of it (at once when the signal or the timer came from this process).
            let mut sweep = tokio::time::interval(WAKE_EVERY.min(ttl / 2));
            sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = renew.tick() => self.renew().await,
                    () = self.executor.wake().notified() => self.sweep().await,
                    () = self.executor.timer_due() => self.sweep().await,
                    _ = sweep.tick() => self.sweep().await,
                }
            }
        })
    }

    async fn sweep(&self) {
        if let Err(e) = self.recover(false).await {
            tracing::warn!(error = %e, "looking for executions to resume failed");
        }
    }

    async fn renew(&self) {
        let ids = self.running.ids();
        if ids.is_empty() {
            return;
        }
        match self.executions.renew(self.executor.lease(), &ids).await {
            Ok(kept) if kept.len() < ids.len() => {
                let lost: Vec<_> = ids.iter().filter(|id| !kept.contains(id)).collect();
                tracing::warn!(?lost, "leases lost: another process took these executions over");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "renewing execution leases failed"),
        }
    }
}
