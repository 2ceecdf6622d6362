//! Restoring a run from what an earlier process recorded, then carrying on.

use super::{Extra, Run, SKIPPED_REASON};
use crate::domain::budget::Budget;
use crate::domain::execution::{EventKind, ExecutionState, NodeResult, NodeStatus};
use crate::domain::usage::Usage;
use crate::domain::valid::Compiled;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

impl Run<'_> {
    pub(in crate::app::executor) async fn resume(mut self, recorded: Vec<NodeResult>) {
        if self.stop.cancel.is_cancelled() {
            return self.end(ExecutionState::Cancelled, Some("cancelled before it resumed".into())).await;
        }
        let rerun = self.restore(recorded);
        // Spending before the crash counts against the budget.
        self.budget = Arc::new(std::sync::Mutex::new(Budget::new(self.budget_limits, self.usage)));
        if self.state == ExecutionState::Pending {
            self.change_state(ExecutionState::Running, None);
        } else {
            let reason = format!("resumed after the process running it stopped; {rerun} node(s) in flight run again");
            self.event(EventKind::ExecutionResumed, None, &Extra { reason: Some(&reason), ..Extra::default() });
        }
        tracing::info!(execution_id = %self.id, rerun, "execution resumed");
        self.run_loop().await;
    }

    /// Replays recorded results through the scheduler, in topological order, so its decisions
    /// (ready, skipped, branch taken) are those the earlier process made. Returns how many nodes
    /// were in flight and run again.
    fn restore(&mut self, recorded: Vec<NodeResult>) -> usize {
        let mut by_index: HashMap<usize, NodeResult> = HashMap::new();
        for result in recorded {
            if let Some(idx) = self.wf.index_of(&result.node_id) {
                by_index.insert(idx, result);
            }
        }
        // Cancelled nodes run again, so only final outcomes count as finished.
        let done =
            |r: &&NodeResult| matches!(r.status, NodeStatus::Succeeded | NodeStatus::Failed | NodeStatus::Skipped);
        self.finished = u32::try_from(by_index.values().filter(done).count()).unwrap_or(u32::MAX);
        let order = self.wf.topological_order().to_vec();
        let mut rerun = 0;
        for idx in order {
            if self.plan.status(idx) != NodeStatus::Ready {
                continue;
            }
            let Some(result) = by_index.get(&idx) else { continue };
            let replayed = match result.status {
                NodeStatus::Succeeded => {
                    let output = result.output.clone().unwrap_or_else(|| Arc::new(Value::Null));
                    if let Some(usage) = Usage::of_output(&output) {
                        self.usage = self.usage.plus(usage);
                    }
                    let taken = self.taken_by(idx, &output);
                    self.data.outputs.set(idx, output);
                    self.plan.start(idx).and_then(|()| self.plan.succeed(&self.wf, idx, &taken))
                }
                NodeStatus::Skipped => self.plan.start(idx).and_then(|()| self.plan.skip(&self.wf, idx)),
                NodeStatus::Failed => {
                    let node = self.wf.node(idx);
                    let error = result.error.clone().unwrap_or_default();
                    self.failure = Some(format!("node '{}' ({}) failed: {error}", node.name, node.id));
                    self.plan.start(idx).and_then(|()| self.plan.fail(idx))
                }
                NodeStatus::Running | NodeStatus::Cancelled | NodeStatus::Pending | NodeStatus::Ready => {
                    self.next_attempt.insert(idx, result.attempts + 1);
                    rerun += 1;
                    Ok(())
                }
            };
            if let Err(e) = replayed {
                tracing::error!(error = %e, node = idx, "recorded result contradicts the workflow; running the node again");
            }
            self.results[idx] = Some(result.clone());
        }
        // Skips decided while replaying were recorded by the earlier process, unless it stopped
        // between deciding and recording them.
        for idx in self.plan.take_skipped() {
            if by_index.get(&idx).is_some_and(|r| r.status == NodeStatus::Skipped) {
                continue;
            }
            self.record_one_skipped(idx);
        }
        rerun
    }

    /// The branch a recorded IfElse or Switch output chose.
    fn taken_by(&self, idx: usize, output: &Value) -> Vec<usize> {
        match self.wf.compiled(idx) {
            Compiled::Plain => Vec::new(),
            Compiled::IfElse { .. } | Compiled::Switch { .. } => output
                .get("next_node")
                .and_then(Value::as_str)
                .and_then(|id| self.wf.index_of(&id.into()))
                .into_iter()
                .collect(),
        }
    }

    pub(super) fn record_one_skipped(&mut self, idx: usize) {
        let result = NodeResult {
            completed_at: Some(self.ex.clock.now()),
            ..NodeResult::of(self.wf.node(idx), NodeStatus::Skipped, 0)
        };
        self.put_result(idx, result);
        self.finished += 1;
        self.event(EventKind::NodeSkipped, Some(idx), &Extra { reason: Some(SKIPPED_REASON), ..Extra::default() });
    }
}
