//! What is recorded about an execution: the run itself, one result per node, and its event log.

use super::state::{ExecutionState, NodeStatus};
use crate::domain::budget::BudgetLimits;
use crate::domain::ids::{ExecutionId, NodeId, WorkflowId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;
use utoipa::ToSchema;

/// One run of one version of a workflow.
#[derive(Clone, Debug, PartialEq)]
pub struct Execution {
    pub id: ExecutionId,
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
}

impl Execution {
    #[must_use]
    pub fn new(
        workflow_id: WorkflowId,
        workflow_version: u32,
        variables: Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: ExecutionId::generate(),
            workflow_id,
            workflow_version,
            state: ExecutionState::Pending,
            error: None,
            variables: Arc::new(variables),
            budget: BudgetLimits::default(),
            created_at: now,
            started_at: None,
            completed_at: None,
        }
    }
}

/// The latest record of one node in one execution.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeResult {
    pub node_id: NodeId,
    pub node_name: String,
    pub kind: String,
    pub status: NodeStatus,
    pub output: Option<Arc<Value>>,
    pub error: Option<String>,
    /// Attempts started so far (1 for a node that ran once).
    pub attempts: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl NodeResult {
    /// A first record of `node`, with no output or error yet.
    #[must_use]
    pub fn of(node: &crate::domain::workflow::Node, status: NodeStatus, attempts: u32) -> Self {
        Self {
            node_id: node.id.clone(),
            node_name: node.name.clone(),
            kind: node.kind.name().into(),
            status,
            output: None,
            error: None,
            attempts,
            started_at: None,
            completed_at: None,
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
}

/// The kinds of events in an execution's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    ExecutionStarted,
    /// A process took over an execution whose previous process stopped.
    ExecutionResumed,
    NodeStarted,
    NodeCompleted,
    NodeFailed,
    NodeRetrying,
    NodeSkipped,
    NodeCancelled,
    /// A node reported token usage; carries the node's and the execution's totals.
    Usage,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionCancelled,
}

impl EventKind {
    pub const ALL: [Self; 12] = [
        Self::ExecutionStarted,
        Self::ExecutionResumed,
        Self::NodeStarted,
        Self::NodeCompleted,
        Self::NodeFailed,
        Self::NodeRetrying,
        Self::NodeSkipped,
        Self::NodeCancelled,
        Self::Usage,
        Self::ExecutionCompleted,
        Self::ExecutionFailed,
        Self::ExecutionCancelled,
    ];

    /// The SSE event name, e.g. `node_completed`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ExecutionStarted => "execution_started",
            Self::ExecutionResumed => "execution_resumed",
            Self::NodeStarted => "node_started",
            Self::NodeCompleted => "node_completed",
            Self::NodeFailed => "node_failed",
            Self::NodeRetrying => "node_retrying",
            Self::NodeSkipped => "node_skipped",
            Self::NodeCancelled => "node_cancelled",
            Self::Usage => "usage",
            Self::ExecutionCompleted => "execution_completed",
            Self::ExecutionFailed => "execution_failed",
            Self::ExecutionCancelled => "execution_cancelled",
        }
    }

    /// Whether this is the last event of an execution.
    #[must_use]
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::ExecutionCompleted | Self::ExecutionFailed | Self::ExecutionCancelled)
    }
}

impl std::str::FromStr for EventKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| format!("unknown event kind '{s}'"))
    }
}

/// An event about to be appended to an execution's log.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub kind: EventKind,
    pub node_id: Option<NodeId>,
    /// The event's JSON object, as sent in the SSE `data:` field.
    pub data: Arc<str>,
    /// The execution's state and finished-node count once this event happened.
    pub state: ExecutionState,
    pub node_results_count: u32,
    pub at: DateTime<Utc>,
}

/// An event in an execution's log; `seq` counts from 1 within the execution.
#[derive(Clone, Debug, PartialEq)]
pub struct ExecutionEvent {
    pub seq: u64,
    pub execution_id: ExecutionId,
    pub kind: EventKind,
    pub node_id: Option<NodeId>,
    pub data: Arc<str>,
    pub state: ExecutionState,
    pub node_results_count: u32,
    pub at: DateTime<Utc>,
}

impl NewEvent {
    /// The event as stored at position `seq` of the log of `execution_id`.
    #[must_use]
    pub fn stored(self, execution_id: ExecutionId, seq: u64) -> ExecutionEvent {
        ExecutionEvent {
            seq,
            execution_id,
            kind: self.kind,
            node_id: self.node_id,
            data: self.data,
            state: self.state,
            node_results_count: self.node_results_count,
            at: self.at,
        }
    }
}

/// Partial output of a running node (streamed LLM tokens), delivered live and never stored.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputDelta {
    pub execution_id: ExecutionId,
    pub node_id: NodeId,
    /// The last stored event's sequence number when this was produced.
    pub after_seq: u64,
    /// Counts this node attempt's deltas from 1.
    pub index: u64,
    /// The delta's JSON object, as sent in the SSE `data:` field.
    pub data: Arc<str>,
}

/// Everything one step of the executor records, applied atomically.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExecutionUpdate {
    pub state: Option<StateChange>,
    pub node_results: Vec<NodeResult>,
    pub events: Vec<NewEvent>,
}

impl ExecutionUpdate {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.state.is_none() && self.node_results.is_empty() && self.events.is_empty()
    }
}
