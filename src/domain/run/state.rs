//! A run's state as the fold of its events: which nodes ran and how, what they produced, what
//! they wait for, what the run spent. [`RunState::apply`] is the only way it changes, so a run
//! resumed from its log is in exactly the state the process that wrote the log was in.

use super::event::{RunEvent, Wait};
use crate::domain::data::{DataContext, NodeOutputs};
use crate::domain::execution::{ExecutionState, NodeResult, NodeStatus};
use crate::domain::human::{Decision, TaskState};
use crate::domain::ids::{ExecutionId, NodeId, TaskId};
use crate::domain::scheduler::Plan;
use crate::domain::usage::Usage;
use crate::domain::valid::ValidWorkflow;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What a composite node's children did: started ones by item (0 for a SubWorkflow), and the
/// results of those that ended.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Children {
    pub started: BTreeMap<u32, ExecutionId>,
    pub finished: BTreeMap<u32, ChildResult>,
}

impl Children {
    /// Children started and not finished.
    #[must_use]
    pub fn running(&self) -> Vec<ExecutionId> {
        self.started.iter().filter(|(item, _)| !self.finished.contains_key(item)).map(|(_, id)| *id).collect()
    }
}

/// How a child execution ended.
#[derive(Clone, Debug, PartialEq)]
pub struct ChildResult {
    pub execution_id: ExecutionId,
    pub state: ExecutionState,
    pub output: Option<Arc<Value>>,
    pub error: Option<String>,
}

/// One node's record within the run.
#[derive(Clone, Debug, Default)]
pub struct NodeRun {
    /// Attempts started (the attempt in flight, or the next one when a retry is pending).
    pub attempts: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub output: Option<Arc<Value>>,
    pub error: Option<String>,
    pub usage: Option<Usage>,
    pub waiting_for: Option<Wait>,
    pub children: Children,
    /// The last Loop progress reported: (completed, failed).
    pub progress: (u32, u32),
    /// Whether a result row exists (the node started or was skipped).
    pub recorded: bool,
    /// A person's answer to the node's approval or form, once it came.
    pub answer: Option<Answer>,
}

/// A person's answer to an Approval or Form node.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// The approval reached a final state.
    Decided { approval_id: TaskId, state: TaskState, decisions: Vec<Decision> },
    /// The form's accepted values (passwords redacted).
    Submitted { values: Arc<Value> },
}

/// The state of one execution's run.
#[derive(Debug)]
pub struct RunState {
    wf: ValidWorkflow,
    plan: Plan,
    nodes: Vec<NodeRun>,
    data: DataContext,
    usage: Usage,
    state: ExecutionState,
    finished: u32,
    failure: Option<String>,
    /// Paused by hand: no node starts until someone resumes the run.
    held: bool,
}

impl RunState {
    /// The state before any event: every node pending, the Start nodes ready.
    #[must_use]
    pub fn new(wf: ValidWorkflow, variables: Arc<Map<String, Value>>, state: ExecutionState) -> Self {
        let data = DataContext {
            variables,
            outputs: Arc::new(NodeOutputs::new(wf.graph().index.clone())),
            secrets: Arc::default(),
        };
        Self {
            plan: Plan::new(&wf),
            nodes: vec![NodeRun::default(); wf.len()],
            wf,
            data,
            usage: Usage::default(),
            state,
            finished: 0,
            failure: None,
            held: false,
        }
    }

    /// Folds a log into a fresh state.
    ///
    /// # Errors
    /// The first event that contradicts the workflow or the events before it.
    pub fn fold<'a>(
        wf: ValidWorkflow,
        variables: Arc<Map<String, Value>>,
        events: impl IntoIterator<Item = (&'a RunEvent, DateTime<Utc>)>,
    ) -> Result<Self, String> {
        let mut state = Self::new(wf, variables, ExecutionState::Pending);
        for (event, at) in events {
            state.apply(event, at)?;
        }
        Ok(state)
    }

    #[must_use]
    pub fn workflow(&self) -> &ValidWorkflow {
        &self.wf
    }

    #[must_use]
    pub fn data(&self) -> &DataContext {
        &self.data
    }

    #[must_use]
    pub fn node(&self, idx: usize) -> &NodeRun {
        &self.nodes[idx]
    }

    #[must_use]
    pub fn status(&self, idx: usize) -> NodeStatus {
        self.plan.status(idx)
    }

    #[must_use]
    pub fn state(&self) -> ExecutionState {
        self.state
    }

    /// Node results in a final status (the count events and lists report).
    #[must_use]
    pub fn finished(&self) -> u32 {
        self.finished
    }

    #[must_use]
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// Why the run failed, once a node failed without an error route.
    #[must_use]
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// Whether someone paused the run by hand (and nobody resumed it since).
    #[must_use]
    pub fn held(&self) -> bool {
        self.held
    }

    /// Whether every node reached a final status.
    #[must_use]
    pub fn all_done(&self) -> bool {
        self.plan.is_finished()
    }

    /// The next ready node, in the order nodes became ready.
    pub fn next_ready(&mut self) -> Option<usize> {
        self.plan.next_ready()
    }

    /// The node [`RunState::next_ready`] would return.
    pub fn peek_ready(&mut self) -> Option<usize> {
        self.plan.peek_ready()
    }

    /// Nodes skipped because no live input reached them, since the last call (their
    /// `NodeSkipped` events are still to be written).
    pub fn take_skipped(&mut self) -> Vec<usize> {
        self.plan.take_skipped()
    }

    /// Nodes started and not finished: running an attempt, or waiting.
    pub fn unfinished(&self) -> impl Iterator<Item = usize> + '_ {
        self.plan.running()
    }

    /// Retries waiting on a durable timer: (node, attempt, when it is due).
    #[must_use]
    pub fn timers(&self) -> Vec<(usize, u32, DateTime<Utc>)> {
        self.waiting()
            .filter_map(|i| match &self.nodes[i].waiting_for {
                Some(Wait::Timer { until }) => Some((i, self.nodes[i].attempts, *until)),
                _ => None,
            })
            .collect()
    }

    /// Approvals and forms waited on that expire: (node, request, when).
    #[must_use]
    pub fn deadlines(&self) -> Vec<(usize, TaskId, DateTime<Utc>)> {
        self.waiting()
            .filter(|&i| self.nodes[i].answer.is_none())
            .filter_map(|i| match self.nodes[i].waiting_for.as_ref().and_then(Wait::task) {
                Some((id, Some(at))) => Some((i, id, at)),
                _ => None,
            })
            .collect()
    }

    /// Nodes waiting for a person's answer: (node, request).
    #[must_use]
    pub fn human_waits(&self) -> Vec<(usize, TaskId)> {
        self.waiting()
            .filter_map(|i| self.nodes[i].waiting_for.as_ref().and_then(Wait::task).map(|(id, _)| (i, id)))
            .collect()
    }

    /// Nodes waiting for something outside the run.
    pub fn waiting(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(|&i| self.plan.status(i) == NodeStatus::Waiting)
    }

    /// After a crash: nodes whose attempt was in flight run again as a new attempt; waiting
    /// nodes keep waiting. Returns the nodes to start again, with their next attempt number.
    pub fn requeue_interrupted(&mut self) -> Vec<(usize, u32)> {
        let interrupted: Vec<usize> =
            (0..self.nodes.len()).filter(|&i| self.plan.status(i) == NodeStatus::Running).collect();
        let mut again = Vec::with_capacity(interrupted.len());
        for idx in interrupted {
            if self.plan.requeue(idx).is_ok() {
                again.push((idx, self.nodes[idx].attempts + 1));
            }
        }
        again
    }

    fn index(&self, id: &NodeId) -> Result<usize, String> {
        self.wf.index_of(id).ok_or_else(|| format!("event names node '{id}', which the workflow does not have"))
    }

    /// Applies one event. Returns the node it changed, if any (its result row is to be written).
    ///
    /// # Errors
    /// An event that names an unknown node or moves a node or the run illegally.
    pub fn apply(&mut self, event: &RunEvent, at: DateTime<Utc>) -> Result<Option<usize>, String> {
        use RunEvent as E;
        let changed = match event {
            E::ExecutionStarted => {
                self.move_to(ExecutionState::Running)?;
                None
            }
            E::ExecutionResumed { .. } => {
                if self.state == ExecutionState::Paused || self.state == ExecutionState::Pending {
                    self.move_to(ExecutionState::Running)?;
                }
                None
            }
            E::ExecutionPaused { .. } => {
                self.move_to(ExecutionState::Paused)?;
                None
            }
            E::PauseRequested { .. } => {
                self.held = !self.state.is_terminal();
                None
            }
            E::ResumeRequested { .. } => {
                self.held = false;
                None
            }
            E::ExecutionCompleted { .. } => self.end(ExecutionState::Completed)?,
            E::ExecutionFailed { .. } => self.end(ExecutionState::Failed)?,
            E::ExecutionCancelled { .. } => self.end(ExecutionState::Cancelled)?,
            E::NodeStarted { node_id, attempt } => {
                let idx = self.index(node_id)?;
                if self.plan.status(idx) == NodeStatus::Waiting {
                    // A node that waited for its retry's timer starts that attempt.
                    self.plan.unwait(idx).map_err(|e| format!("node {node_id}: {e}"))?;
                    let n = &mut self.nodes[idx];
                    (n.attempts, n.waiting_for) = (*attempt, None);
                    return Ok(Some(idx));
                }
                self.plan.start(idx).map_err(|e| format!("node {node_id}: {e}"))?;
                let n = &mut self.nodes[idx];
                (n.attempts, n.started_at, n.completed_at, n.error, n.recorded, n.answer) =
                    (*attempt, Some(at), None, None, true, None);
                Some(idx)
            }
            E::NodeRetrying { node_id, attempt, error, .. } => {
                let idx = self.index(node_id)?;
                let n = &mut self.nodes[idx];
                (n.attempts, n.error) = (*attempt, Some(error.clone()));
                Some(idx)
            }
            E::NodeCompleted { node_id, attempt, output, taken, reused_from: _, .. } => {
                let idx = self.index(node_id)?;
                let taken = taken.iter().map(|t| self.index(t)).collect::<Result<Vec<_>, _>>()?;
                self.plan.succeed(&self.wf, idx, &taken).map_err(|e| format!("node {node_id}: {e}"))?;
                self.data.outputs.set(idx, output.clone());
                self.finish_node(idx, at, Some(output.clone()), None);
                self.nodes[idx].attempts = self.nodes[idx].attempts.max(*attempt);
                Some(idx)
            }
            E::NodeFailed { node_id, error, routed_to, .. } => {
                let idx = self.index(node_id)?;
                match routed_to {
                    Some(route) => {
                        let route = self.index(route)?;
                        self.plan.fail_routed(&self.wf, idx, route).map_err(|e| format!("node {node_id}: {e}"))?;
                        let node = self.wf.node(idx);
                        let caught = Arc::new(json!({"error": {
                            "node_id": node.id, "kind": node.kind.name(), "message": error}}));
                        self.data.outputs.set(idx, caught.clone());
                        self.finish_node(idx, at, Some(caught), Some(error.clone()));
                    }
                    None => {
                        self.plan.fail(idx).map_err(|e| format!("node {node_id}: {e}"))?;
                        let node = self.wf.node(idx);
                        self.failure
                            .get_or_insert_with(|| format!("node '{}' ({}) failed: {error}", node.name, node.id));
                        self.finish_node(idx, at, None, Some(error.clone()));
                    }
                }
                Some(idx)
            }
            E::NodeSkipped { node_id, reason, .. } => {
                let idx = self.index(node_id)?;
                match self.plan.status(idx) {
                    NodeStatus::Running | NodeStatus::Waiting => {
                        self.plan.skip(&self.wf, idx).map_err(|e| format!("node {node_id}: {e}"))?;
                    }
                    // Skipped already: the scheduler decided it when the branch was not taken.
                    NodeStatus::Skipped => {}
                    other => return Err(format!("node {node_id} cannot be skipped while {other}")),
                }
                self.finish_node(idx, at, None, Some(reason.clone()));
                Some(idx)
            }
            E::NodeCancelled { node_id, reason } => {
                let idx = self.index(node_id)?;
                self.plan.cancel(idx).map_err(|e| format!("node {node_id}: {e}"))?;
                self.finish_node(idx, at, None, Some(reason.clone()));
                Some(idx)
            }
            E::NodeWaiting { node_id, waiting_for, .. } => {
                let idx = self.index(node_id)?;
                if self.plan.status(idx) == NodeStatus::Running {
                    self.plan.wait(idx).map_err(|e| format!("node {node_id}: {e}"))?;
                }
                self.nodes[idx].waiting_for = Some(waiting_for.clone());
                Some(idx)
            }
            E::Usage { node_id, usage, execution_usage } => {
                let idx = self.index(node_id)?;
                let n = &mut self.nodes[idx];
                n.usage = Some(n.usage.map_or(*usage, |u| u.plus(*usage)));
                self.usage = *execution_usage;
                Some(idx)
            }
            E::ChildStarted { node_id, child_execution_id, item } => {
                let idx = self.index(node_id)?;
                self.nodes[idx].children.started.insert(item.unwrap_or(0), *child_execution_id);
                None
            }
            E::ChildFinished { node_id, child_execution_id, item, state, output, error } => {
                let idx = self.index(node_id)?;
                let result = ChildResult {
                    execution_id: *child_execution_id,
                    state: *state,
                    output: output.clone(),
                    error: error.clone(),
                };
                self.nodes[idx].children.finished.insert(item.unwrap_or(0), result);
                None
            }
            E::ApprovalRequested { node_id, .. } | E::FormRequested { node_id, .. } => {
                self.index(node_id)?;
                None
            }
            E::ApprovalDecided { node_id, approval_id, state, decisions } => {
                let idx = self.index(node_id)?;
                self.nodes[idx].answer =
                    Some(Answer::Decided { approval_id: *approval_id, state: *state, decisions: decisions.clone() });
                None
            }
            E::FormSubmitted { node_id, values, .. } => {
                let idx = self.index(node_id)?;
                self.nodes[idx].answer = Some(Answer::Submitted { values: values.clone() });
                None
            }
            E::LoopProgress { node_id, completed, failed, .. } => {
                let idx = self.index(node_id)?;
                self.nodes[idx].progress = (*completed, *failed);
                None
            }
        };
        Ok(changed)
    }

    fn move_to(&mut self, to: ExecutionState) -> Result<(), String> {
        if self.state != to {
            self.state = self.state.transition(to).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn end(&mut self, to: ExecutionState) -> Result<Option<usize>, String> {
        self.move_to(to)?;
        Ok(None)
    }

    fn finish_node(&mut self, idx: usize, at: DateTime<Utc>, output: Option<Arc<Value>>, error: Option<String>) {
        let n = &mut self.nodes[idx];
        (n.completed_at, n.output, n.error, n.waiting_for, n.recorded) = (Some(at), output, error, None, true);
        self.finished += 1;
    }

    /// The result row of node `idx`, as the API shows it.
    #[must_use]
    pub fn result(&self, idx: usize) -> NodeResult {
        let n = &self.nodes[idx];
        NodeResult {
            output: n.output.clone(),
            error: n.error.clone(),
            started_at: n.started_at,
            completed_at: n.completed_at,
            usage: n.usage,
            ..NodeResult::of(&self.wf, idx, self.plan.status(idx), n.attempts)
        }
    }

    /// How long node `idx` has run, in milliseconds, at `now`.
    #[must_use]
    pub fn duration_ms(&self, idx: usize, now: DateTime<Utc>) -> Option<i64> {
        self.nodes[idx].started_at.map(|s| (now - s).num_milliseconds())
    }
}
