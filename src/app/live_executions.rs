//! The executions running in this process: their stop signals, and a tracker so shutdown can wait
//! for them.

use crate::domain::execution::ExecutionEvent;
use crate::domain::ids::ExecutionId;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Why an executor must stop early, where it tells what keeps it from stopping, and where
/// events written for it by others arrive.
#[derive(Clone, Debug, Default)]
pub struct StopSignal {
    /// A user asked to cancel this execution.
    pub cancel: CancellationToken,
    /// The server is shutting down and the grace period is over.
    pub shutdown: CancellationToken,
    /// Events other executions appended to this one's log (a child that finished), already
    /// stored: delivered here so the run need not wait for its next write to see them.
    pub inbox: Inbox,
    /// The storage failure the executor's writes are retrying through, if any.
    pub store_problem: StoreProblem,
}

/// The receiving end of an execution's signals.
#[derive(Clone, Debug, Default)]
pub struct Inbox(Option<Arc<tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<Arc<ExecutionEvent>>>>>);

impl Inbox {
    /// The next signal; never returns for an execution launched without an inbox.
    pub async fn recv(&self) -> Option<Arc<ExecutionEvent>> {
        match &self.0 {
            Some(rx) => rx.lock().await.recv().await,
            None => std::future::pending().await,
        }
    }

    /// Refuses further signals (sending one then fails, see [`LiveExecutions::signal`]); returns
    /// whether some arrived and were not read.
    pub fn close(&self) -> bool {
        let Some(rx) = &self.0 else { return false };
        match rx.try_lock() {
            Ok(mut rx) => {
                rx.close();
                !rx.is_empty()
            }
            // Someone is reading it still: assume the worst.
            Err(_) => true,
        }
    }
}

/// The storage failure an execution's writes are retrying through (a full disk, a database that
/// went away), so that a cancel that cannot be recorded yet can say why.
#[derive(Clone, Debug, Default)]
pub struct StoreProblem(Arc<Mutex<Option<String>>>);

impl StoreProblem {
    pub fn set(&self, problem: String) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(problem);
    }

    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
    }

    #[must_use]
    pub fn get(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// What became of a cancel request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    /// No task of this process runs the execution.
    NotRunningHere,
    /// Its task finished.
    Stopped,
    /// Its task is still finishing after the wait, held up by this storage problem if known.
    StillStopping { store_problem: Option<String> },
}

struct Entry {
    cancel: CancellationToken,
    done: watch::Receiver<bool>,
    signals: tokio::sync::mpsc::UnboundedSender<Arc<ExecutionEvent>>,
    /// Which launch this is: a run that parked can be woken (launched again) before its first
    /// task has quite finished, and that task must not remove the new one's entry.
    launch: u64,
    store_problem: StoreProblem,
}

/// Launches executor tasks and finds them again to cancel them.
pub struct LiveExecutions {
    entries: Arc<Mutex<HashMap<ExecutionId, Entry>>>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
    launches: std::sync::atomic::AtomicU64,
}

impl Default for LiveExecutions {
    fn default() -> Self {
        Self {
            entries: Arc::default(),
            tracker: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            launches: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl LiveExecutions {
    /// Spawns the task that runs execution `id`.
    pub fn launch<F, Fut>(&self, id: ExecutionId, run: F)
    where
        F: FnOnce(StopSignal) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let cancel = CancellationToken::new();
        let store_problem = StoreProblem::default();
        let (done_tx, done_rx) = watch::channel(false);
        let (signals, inbox) = tokio::sync::mpsc::unbounded_channel();
        let launch = self.launches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let entry =
            Entry { cancel: cancel.clone(), done: done_rx, signals, launch, store_problem: store_problem.clone() };
        self.lock().insert(id, entry);
        let inbox = Inbox(Some(Arc::new(tokio::sync::Mutex::new(inbox))));
        let future = run(StopSignal { cancel, shutdown: self.shutdown.clone(), inbox, store_problem });
        let entries = self.entries.clone();
        self.tracker.spawn(async move {
            future.await;
            let mut entries = entries.lock().unwrap_or_else(PoisonError::into_inner);
            if entries.get(&id).is_some_and(|e| e.launch == launch) {
                entries.remove(&id);
            }
            drop(entries);
            let _ = done_tx.send(true);
        });
    }

    /// Asks a running execution to stop and waits up to `wait` for it to finish.
    pub async fn cancel(&self, id: ExecutionId, wait: Duration) -> CancelOutcome {
        let found = self.lock().get(&id).map(|e| (e.cancel.clone(), e.done.clone(), e.store_problem.clone()));
        let Some((cancel, mut done, store_problem)) = found else {
            return CancelOutcome::NotRunningHere;
        };
        cancel.cancel();
        match tokio::time::timeout(wait, done.wait_for(|d| *d)).await {
            Ok(_) => CancelOutcome::Stopped,
            Err(_) => CancelOutcome::StillStopping { store_problem: store_problem.get() },
        }
    }

    /// Asks a running execution to stop, without waiting. `false` when it does not run here.
    pub fn cancel_nowait(&self, id: ExecutionId) -> bool {
        self.lock().get(&id).map(|e| e.cancel.cancel()).is_some()
    }

    /// Hands a stored event to execution `id` if it runs here; `false` when it does not.
    pub fn signal(&self, id: ExecutionId, event: Arc<ExecutionEvent>) -> bool {
        self.lock().get(&id).is_some_and(|e| e.signals.send(event).is_ok())
    }

    /// Whether this process runs execution `id`.
    #[must_use]
    pub fn contains(&self, id: ExecutionId) -> bool {
        self.lock().contains_key(&id)
    }

    /// The executions running here.
    #[must_use]
    pub fn ids(&self) -> Vec<ExecutionId> {
        self.lock().keys().copied().collect()
    }

    /// Whether shutdown has begun (no new executions should be taken on).
    #[must_use]
    pub fn is_closing(&self) -> bool {
        self.tracker.is_closed()
    }

    /// How many executions are running.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops taking new work, lets running executions finish for up to `grace`, then tells the
    /// rest to stop and waits for them to record that.
    pub async fn shutdown(&self, grace: Duration) {
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait()).await.is_err() {
            tracing::warn!(still_running = self.len(), "grace period over: interrupting executions");
            self.shutdown.cancel();
            self.tracker.wait().await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ExecutionId, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cancel_reaches_the_running_task_and_waits_for_it() {
        let running = LiveExecutions::default();
        let id = ExecutionId::generate();
        running.launch(id, |stop| async move { stop.cancel.cancelled().await });
        assert_eq!(running.len(), 1);
        assert_eq!(running.cancel(id, Duration::from_secs(5)).await, CancelOutcome::Stopped);
        assert!(running.is_empty());
        assert_eq!(
            running.cancel(id, Duration::from_secs(1)).await,
            CancelOutcome::NotRunningHere,
            "gone once finished"
        );
    }

    #[tokio::test]
    async fn a_cancel_held_up_by_storage_names_the_problem() {
        let running = LiveExecutions::default();
        let id = ExecutionId::generate();
        running.launch(id, |stop| async move {
            stop.store_problem.set("storage unavailable: disk is full".into());
            stop.shutdown.cancelled().await;
        });
        let outcome = running.cancel(id, Duration::from_millis(50)).await;
        assert_eq!(
            outcome,
            CancelOutcome::StillStopping { store_problem: Some("storage unavailable: disk is full".into()) }
        );
    }

    #[tokio::test]
    async fn a_task_that_ends_after_its_execution_was_launched_again_keeps_the_new_entry() {
        let running = LiveExecutions::default();
        let id = ExecutionId::generate();
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        running.launch(id, |_| async move {
            let _ = wait.await;
        });
        running.launch(id, |stop| async move { stop.cancel.cancelled().await });
        let _ = release.send(());
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(running.contains(id), "the second launch is still known");
        assert_eq!(running.cancel(id, Duration::from_secs(5)).await, CancelOutcome::Stopped);
        assert!(running.is_empty());
    }

    #[tokio::test]
    async fn shutdown_interrupts_executions_that_outlive_the_grace_period() {
        let running = LiveExecutions::default();
        running.launch(ExecutionId::generate(), |stop| async move { stop.shutdown.cancelled().await });
        running.launch(ExecutionId::generate(), |_| async {});
        running.shutdown(Duration::from_millis(50)).await;
        assert!(running.is_empty());
    }
}
