//! Carrying on a run another process left: its state is the fold of its log; attempts that were
//! in flight run again as new attempts, nodes that finished are never run again.

use super::Run;
use crate::domain::execution::ExecutionState;
use crate::domain::run::RunEvent;

impl Run<'_> {
    pub(in crate::app::executor) async fn resume(mut self, last_seq: u64) {
        self.sink.last_seq.store(last_seq, std::sync::atomic::Ordering::Relaxed);
        self.log_end = last_seq;
        if self.stop.cancel.is_cancelled() {
            return self.end(ExecutionState::Cancelled, "cancelled before it resumed".into()).await;
        }
        let rerun = self.rs.requeue_interrupted();
        let count = rerun.len();
        self.next_attempt.extend(rerun);
        if self.rs.state() == ExecutionState::Pending {
            self.emit(RunEvent::ExecutionStarted);
        } else if self.rs.state() == ExecutionState::Paused {
            let reason = "woken: a signal or a timer arrived for the parked execution".to_owned();
            self.emit(RunEvent::ExecutionResumed { reason });
        } else {
            let reason = format!("resumed after the process running it stopped; {count} node(s) in flight run again");
            self.emit(RunEvent::ExecutionResumed { reason });
        }
        tracing::info!(execution_id = %self.id, rerun = count, "execution resumed");
        self.relaunch_lost_children().await;
        self.reconcile_tasks().await;
        self.run_loop().await;
    }
}
