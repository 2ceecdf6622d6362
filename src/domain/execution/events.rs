//! An execution's events: the kinds, an event before and after it is appended to the log, the
//! signal one execution's step sends another, and the live-only partial output of a node with
//! its place in the stream.

use super::state::ExecutionState;
use crate::domain::ids::{ExecutionId, NodeId};
use crate::domain::run::RunEvent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

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
    /// An Approval node asks people for a decision.
    ApprovalRequested,
    /// An approval was approved, rejected or expired.
    ApprovalDecided,
    /// A Form node asks people for values.
    FormRequested,
    FormSubmitted,
    /// Someone asked the run to pause (`POST /executions/{id}/pause`): no new node starts.
    PauseRequested,
    /// Someone asked a paused run to go on (`POST /executions/{id}/resume`).
    ResumeRequested,
}

impl EventKind {
    pub const ALL: [Self; 23] = [
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
        Self::ApprovalRequested,
        Self::ApprovalDecided,
        Self::FormRequested,
        Self::FormSubmitted,
        Self::PauseRequested,
        Self::ResumeRequested,
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
            Self::ApprovalRequested => "approval_requested",
            Self::ApprovalDecided => "approval_decided",
            Self::FormRequested => "form_requested",
            Self::FormSubmitted => "form_submitted",
            Self::PauseRequested => "pause_requested",
            Self::ResumeRequested => "resume_requested",
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

/// An event about to be appended to an execution's log. The event is held inline: the one
/// allocation an event costs is the `Arc` the stored event is published in.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub event: RunEvent,
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
    pub event: RunEvent,
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

/// An event for another execution, appended in the same atomic write (a child telling its
/// parent it finished). A parked target is woken.
#[derive(Clone, Debug, PartialEq)]
pub struct Signal {
    pub execution_id: ExecutionId,
    pub event: RunEvent,
    pub at: DateTime<Utc>,
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
    pub kind: DeltaKind,
}

/// What a live (unstored) frame of a running node carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeltaKind {
    /// Streamed text (`node_output_delta`).
    #[default]
    Text,
    /// A tool call and its result (`node_tool_call`).
    ToolCall,
}

impl DeltaKind {
    /// The SSE event name.
    #[must_use]
    pub fn event_name(self) -> &'static str {
        match self {
            Self::Text => "node_output_delta",
            Self::ToolCall => "node_tool_call",
        }
    }
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
