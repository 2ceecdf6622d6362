//! The pure scheduler: given a valid workflow and what has happened so far, which nodes are ready
//! and which can no longer run. Each edge is decided once, live or dead, when its source finishes:
//! a node is ready when all its incoming edges are decided and at least one is live, and skipped
//! when all are dead. So a join waits only for branches that can still arrive.

use crate::domain::execution::{NodeStatus, TransitionError};
use crate::domain::valid::ValidWorkflow;
use std::collections::VecDeque;

/// The run state of one execution's nodes.
#[derive(Clone, Debug)]
pub struct Plan {
    status: Vec<NodeStatus>,
    undecided_in: Vec<u32>,
    live_in: Vec<u32>,
    ready: VecDeque<usize>,
    skipped: Vec<usize>,
    unfinished: usize,
}

impl Plan {
    /// A fresh plan: the nodes without incoming edges (the Start nodes) are ready.
    #[must_use]
    pub fn new(workflow: &ValidWorkflow) -> Self {
        let in_degree = &workflow.graph().in_degree;
        let mut plan = Self {
            status: vec![NodeStatus::Pending; workflow.len()],
            undecided_in: in_degree.clone(),
            live_in: vec![0; workflow.len()],
            ready: VecDeque::new(),
            skipped: Vec::new(),
            unfinished: workflow.len(),
        };
        for idx in (0..workflow.len()).filter(|&i| in_degree[i] == 0) {
            plan.status[idx] = NodeStatus::Ready;
            plan.ready.push_back(idx);
        }
        plan
    }

    #[must_use]
    pub fn status(&self, idx: usize) -> NodeStatus {
        self.status[idx]
    }

    /// The next ready node, in the order nodes became ready.
    pub fn next_ready(&mut self) -> Option<usize> {
        let idx = self.peek_ready()?;
        self.ready.pop_front();
        Some(idx)
    }

    /// The node [`Plan::next_ready`] would return, left in place.
    pub fn peek_ready(&mut self) -> Option<usize> {
        // A node started out of queue order (when a run is restored) is dropped here, lazily.
        while let Some(&idx) = self.ready.front() {
            if self.status[idx] == NodeStatus::Ready {
                return Some(idx);
            }
            self.ready.pop_front();
        }
        None
    }

    /// Nodes that became `Skipped` since the last call, in the order they were skipped.
    pub fn take_skipped(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.skipped)
    }

    /// Whether every node reached a final status.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.unfinished == 0
    }

    /// Nodes currently `Running` or `Waiting` (started, not finished).
    pub fn running(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.status.len()).filter(|&i| matches!(self.status[i], NodeStatus::Running | NodeStatus::Waiting))
    }

    /// A ready node starts running.
    ///
    /// # Errors
    /// When the node is not `Ready`.
    pub fn start(&mut self, idx: usize) -> Result<(), TransitionError> {
        self.set(idx, NodeStatus::Running)
    }

    /// A running node finished. `taken` names the branch targets a branching node chose; edges to
    /// its other branch targets die, edges to non-branch successors stay live.
    ///
    /// # Errors
    /// When the node is not `Running`.
    pub fn succeed(&mut self, workflow: &ValidWorkflow, idx: usize, taken: &[usize]) -> Result<(), TransitionError> {
        self.set(idx, NodeStatus::Succeeded)?;
        self.decide_edges(workflow, idx, Live::Taken(taken));
        Ok(())
    }

    /// A running node waits for something outside the run.
    ///
    /// # Errors
    /// When the node is not `Running`.
    pub fn wait(&mut self, idx: usize) -> Result<(), TransitionError> {
        self.set(idx, NodeStatus::Waiting)
    }

    /// A waiting node is running again (its wait ended and it decides what comes next).
    ///
    /// # Errors
    /// When the node is not `Waiting`.
    pub fn unwait(&mut self, idx: usize) -> Result<(), TransitionError> {
        self.set(idx, NodeStatus::Running)
    }

    /// A running node failed, and its error route to `route` catches the failure: the edge to
    /// `route` is the only one that lives.
    ///
    /// # Errors
    /// When the node is not `Running` or `Waiting`.
    pub fn fail_routed(&mut self, workflow: &ValidWorkflow, idx: usize, route: usize) -> Result<(), TransitionError> {
        self.set(idx, NodeStatus::Failed)?;
        self.decide_edges(workflow, idx, Live::Only(route));
        Ok(())
    }

    /// A node is skipped (a timeout with `Skip`): all its outgoing edges die. The node itself is
    /// not reported by [`Plan::take_skipped`], only the nodes skipped because of it.
    ///
    /// # Errors
    /// When the node already finished.
    pub fn skip(&mut self, workflow: &ValidWorkflow, idx: usize) -> Result<(), TransitionError> {
        self.set(idx, NodeStatus::Skipped)?;
        self.decide_edges(workflow, idx, Live::None);
        Ok(())
    }

    /// A running node failed for good.
    ///
    /// # Errors
    /// When the node is not `Running`.
    pub fn fail(&mut self, idx: usize) -> Result<(), TransitionError> {
        self.set(idx, NodeStatus::Failed)
    }

    /// A node that had not finished is cancelled.
    ///
    /// # Errors
    /// When the node already finished.
    pub fn cancel(&mut self, idx: usize) -> Result<(), TransitionError> {
        self.set(idx, NodeStatus::Cancelled)
    }

    /// A node that was running when its process died runs again.
    ///
    /// # Errors
    /// When the node is not `Running`.
    pub fn requeue(&mut self, idx: usize) -> Result<(), TransitionError> {
        self.set(idx, NodeStatus::Ready)?;
        self.ready.push_back(idx);
        Ok(())
    }

    fn set(&mut self, idx: usize, to: NodeStatus) -> Result<(), TransitionError> {
        let from = self.status[idx];
        self.status[idx] = from.transition(to)?;
        if to.is_terminal() {
            self.unfinished -= 1;
        }
        Ok(())
    }

    fn decide_edges(&mut self, workflow: &ValidWorkflow, idx: usize, rule: Live<'_>) {
        // Skips propagate through `decided`; a node that succeeded needs no list (no allocation).
        let mut decided = Vec::new();
        let mut next = Some((idx, rule));
        while let Some((from, rule)) = next.take().or_else(|| decided.pop()) {
            let branches = workflow.branch_targets(from);
            for &to in &workflow.graph().successors[from] {
                let live = match rule {
                    Live::Taken(taken) => !branches.contains(&to) || taken.contains(&to),
                    Live::Only(route) => to == route,
                    Live::None => false,
                };
                self.undecided_in[to] -= 1;
                if live {
                    self.live_in[to] += 1;
                }
                if self.undecided_in[to] > 0 || self.status[to] != NodeStatus::Pending {
                    continue;
                }
                if self.live_in[to] > 0 {
                    self.status[to] = NodeStatus::Ready;
                    self.ready.push_back(to);
                } else {
                    self.status[to] = NodeStatus::Skipped;
                    self.unfinished -= 1;
                    self.skipped.push(to);
                    decided.push((to, Live::None));
                }
            }
        }
    }
}

/// Which outgoing edges of a finished node live.
#[derive(Clone, Copy)]
enum Live<'a> {
    /// It succeeded: edges to branch targets live only if taken, the others live.
    Taken(&'a [usize]),
    /// It failed and its error route catches it: only the edge to the route lives.
    Only(usize),
    /// It was skipped: every edge dies.
    None,
}

#[cfg(test)]
mod tests;
