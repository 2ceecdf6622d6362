//! What is recorded about an execution: the run itself, one result per node, and the step that
//! changes them (its events are in `events.rs`).

use super::events::{NewEvent, Signal};
use super::state::{ExecutionState, NodeStatus};
use crate::domain::access::Scope;
use crate::domain::budget::BudgetLimits;
use crate::domain::ids::{ExecutionId, NodeId, WorkflowId, WorkspaceId};
use crate::domain::usage::Usage;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;
use utoipa::ToSchema;

/// One run of one version of a workflow.
#[derive(Clone, Debug, PartialEq)]
pub struct Execution {
    pub id: ExecutionId,
    /// The workspace the execution belongs to (its workflow's, and its children's).
    pub workspace_id: WorkspaceId,
    pub workflow_id: WorkflowId,
    pub workflow_version: u32,
    pub state: ExecutionState,
    /// Why the execution failed or was cancelled.
    pub error: Option<String>,
    pub variables: Arc<Map<String, Value>>,
    /// Spending limits on model calls.
    pub budget: BudgetLimits,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// The execution and node this one runs for: a SubWorkflow's child, or a Loop item's.
    pub parent: Option<ParentLink>,
    /// How deep in a chain of children: 0 for an execution started by a client.
    pub depth: u32,
    /// The execution this one reruns (`POST /executions/{id}/rerun`).
    pub rerun_of: Option<ExecutionId>,
    /// What the workflow produced, once completed (see [`crate::domain::run::workflow_output`]).
    pub output: Option<Arc<Value>>,
    /// Who started it, as the audit log names actors (`user:<id>`, `api_key:<id>`,
    /// `anonymous`); a child has its parent's. By default they may not approve its approvals.
    pub started_by: Option<String>,
}

/// Where a child execution belongs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ParentLink {
    pub execution_id: ExecutionId,
    pub node_id: NodeId,
    /// The Loop item the child runs, counted from 0.
    pub item: Option<u32>,
}

impl Execution {
    #[must_use]
    pub fn new(
        scope: Scope,
        workflow_id: WorkflowId,
        workflow_version: u32,
        variables: Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: ExecutionId::generate(),
            workspace_id: scope.workspace(),
            workflow_id,
            workflow_version,
            state: ExecutionState::Pending,
            error: None,
            variables: Arc::new(variables),
            budget: BudgetLimits::default(),
            created_at: now,
            started_at: None,
            completed_at: None,
            parent: None,
            depth: 0,
            rerun_of: None,
            output: None,
            started_by: None,
        }
    }

    /// The scope of the execution's workspace.
    #[must_use]
    pub fn scope(&self) -> Scope {
        Scope::new(self.workspace_id)
    }
}

/// The latest record of one node in one execution.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeResult {
    pub node_id: NodeId,
    pub node_name: Arc<str>,
    /// The node kind's name (`LLM`, `Code`...): a constant, or as a store read it.
    pub kind: std::borrow::Cow<'static, str>,
    pub status: NodeStatus,
    pub output: Option<Arc<Value>>,
    pub error: Option<String>,
    /// Attempts started so far (1 for a node that ran once).
    pub attempts: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Tokens and cost of the node's model calls, as its runner measured them.
    pub usage: Option<Usage>,
}

impl NodeResult {
    /// A first record of node `idx` of `wf`, with no output or error yet.
    #[must_use]
    pub fn of(wf: &crate::domain::valid::ValidWorkflow, idx: usize, status: NodeStatus, attempts: u32) -> Self {
        let node = wf.node(idx);
        Self {
            node_id: node.id.clone(),
            node_name: wf.name_of(idx).clone(),
            kind: std::borrow::Cow::Borrowed(node.kind.name()),
            status,
            output: None,
            error: None,
            attempts,
            started_at: None,
            completed_at: None,
            usage: None,
        }
    }
}

/// A change to an execution's state, applied together with node results and events.
#[derive(Clone, Debug, PartialEq)]
pub struct StateChange {
    pub state: ExecutionState,
    pub error: Option<String>,
    /// Set when the execution starts running (kept if several changes share one write).
    pub started_at: Option<DateTime<Utc>>,
    /// Set when the execution reaches a final state.
    pub completed_at: Option<DateTime<Utc>>,
    /// The workflow's output, with `Completed`.
    pub output: Option<Arc<Value>>,
    /// With `Paused`: when to wake the run even if no signal comes (a timer).
    pub wake_at: Option<DateTime<Utc>>,
}

impl StateChange {
    /// A change to `state` with nothing else set.
    #[must_use]
    pub fn to(state: ExecutionState) -> Self {
        Self { state, error: None, started_at: None, completed_at: None, output: None, wake_at: None }
    }
}

/// Everything one step of the executor records, applied atomically.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExecutionUpdate {
    pub state: Option<StateChange>,
    pub node_results: Vec<NodeResult>,
    pub events: Vec<NewEvent>,
    /// An event for another execution, written with this step.
    pub signal: Option<Signal>,
    /// Apply only if the log still ends at this sequence number (no event was appended by
    /// someone else meanwhile): a run parks only if no signal arrived since it last looked.
    pub expect_last_seq: Option<u64>,
}

impl ExecutionUpdate {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.state.is_none() && self.node_results.is_empty() && self.events.is_empty() && self.signal.is_none()
    }
}
