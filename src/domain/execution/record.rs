//! What is recorded about an execution: the run itself, one result per node, and its event log.

use super::state::{ExecutionState, NodeStatus};
use crate::domain::budget::BudgetLimits;
use crate::domain::ids::{ExecutionId, NodeId, WorkflowId};
use crate::domain::run::RunEvent;
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
            parent: None,
            depth: 0,
            rerun_of: None,
            output: None,
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
    /// Tokens and cost of the node's model calls, as its runner measured them.
    pub usage: Option<Usage>,
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

/// An event for another execution, appended in the same atomic write (a child telling its
/// parent it finished). A parked target is woken.
#[derive(Clone, Debug, PartialEq)]
pub struct Signal {
    pub execution_id: ExecutionId,
    pub event: Arc<RunEvent>,
    pub at: DateTime<Utc>,
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
    /// The run is parked until something outside happens.
    ExecutionPaused,
    /// A node waits for child executions or a timer.
    NodeWaiting,
    ChildStarted,
    ChildFinished,
    LoopProgress,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionCancelled,
}

impl EventKind {
    pub const ALL: [Self; 17] = [
        Self::ExecutionStarted,
        Self::ExecutionResumed,
        Self::NodeStarted,
        Self::NodeCompleted,
        Self::NodeFailed,
        Self::NodeRetrying,
        Self::NodeSkipped,
        Self::NodeCancelled,
        Self::Usage,
        Self::ExecutionPaused,
        Self::NodeWaiting,
        Self::ChildStarted,
        Self::ChildFinished,
        Self::LoopProgress,
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
            Self::ExecutionPaused => "execution_paused",
            Self::NodeWaiting => "node_waiting",
            Self::ChildStarted => "child_started",
            Self::ChildFinished => "child_finished",
            Self::LoopProgress => "loop_progress",
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
    pub event: Arc<RunEvent>,
    /// The execution's state and finished-node count once this event happened.
    pub state: ExecutionState,
    pub node_results_count: u32,
    pub at: DateTime<Utc>,
}

/// An event in an execution's log; `seq` counts from 1 within the execution.
#[derive(Clone, Debug)]
pub struct ExecutionEvent {
    pub seq: u64,
    pub execution_id: ExecutionId,
    pub event: Arc<RunEvent>,
    pub state: ExecutionState,
    pub node_results_count: u32,
    pub at: DateTime<Utc>,
    /// Filled once by whoever presents the event (the HTTP edge renders its wire JSON), so
    /// that every subscriber of a live event shares one rendering.
    pub rendered: std::sync::OnceLock<Arc<str>>,
}

impl PartialEq for ExecutionEvent {
    fn eq(&self, other: &Self) -> bool {
        (self.seq, self.execution_id, &self.event, self.state, self.node_results_count, self.at)
            == (other.seq, other.execution_id, &other.event, other.state, other.node_results_count, other.at)
    }
}

impl ExecutionEvent {
    #[must_use]
    pub fn kind(&self) -> EventKind {
        self.event.kind()
    }

    #[must_use]
    pub fn node_id(&self) -> Option<&NodeId> {
        self.event.node_id()
    }
}

impl NewEvent {
    #[must_use]
    pub fn kind(&self) -> EventKind {
        self.event.kind()
    }

    /// The event as stored at position `seq` of the log of `execution_id`.
    #[must_use]
    pub fn stored(self, execution_id: ExecutionId, seq: u64) -> ExecutionEvent {
        ExecutionEvent {
            seq,
            execution_id,
            event: self.event,
            state: self.state,
            node_results_count: self.node_results_count,
            at: self.at,
            rendered: std::sync::OnceLock::new(),
        }
    }
}

/// Partial output of a running node (streamed LLM tokens), delivered live and never stored.
///
/// Its place in the execution's stream is `(after_seq, n)`: after stored event `after_seq` and
/// after `n - 1` other deltas of the execution since that event. The stream sends it with the
/// id `after_seq.n`, so a client that reconnects with that id resumes right after it.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputDelta {
    pub execution_id: ExecutionId,
    pub node_id: NodeId,
    /// The last stored event's sequence number before this delta (the event bus fixes it, so
    /// that it agrees with the order in which events and deltas are delivered).
    pub after_seq: u64,
    /// Counts the execution's deltas since event `after_seq`, from 1 (set by the event bus).
    pub n: u64,
    /// Counts this node attempt's deltas from 1.
    pub index: u64,
    /// The delta's JSON object, as sent in the SSE `data:` field.
    pub data: Arc<str>,
}

impl OutputDelta {
    /// Where this delta stands in its execution's stream.
    #[must_use]
    pub fn position(&self) -> StreamPosition {
        StreamPosition { seq: self.after_seq, delta: self.n }
    }
}

/// A place in an execution's stream: stored event `seq`, then `delta` deltas after it (0 for
/// the event itself). Ordered as the stream is; written `12` or `12.3` (the SSE id).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamPosition {
    pub seq: u64,
    pub delta: u64,
}

impl StreamPosition {
    /// The place of stored event `seq`.
    #[must_use]
    pub const fn event(seq: u64) -> Self {
        Self { seq, delta: 0 }
    }
}

impl std::fmt::Display for StreamPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.delta {
            0 => write!(f, "{}", self.seq),
            n => write!(f, "{}.{n}", self.seq),
        }
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
