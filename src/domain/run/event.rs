//! Everything that happens to a run, as typed events. The log of an execution is a list of these
//! (serde-tagged JSON, `{"type": "node_completed", ...}`), and a run's state is the fold of its
//! log (see [`super::RunState::apply`]). The wire format clients see is rendered from them at the
//! HTTP edge; it is not stored.

use crate::domain::execution::{EventKind, ExecutionState};
use crate::domain::human::{Decision, TaskState};
use crate::domain::ids::{ExecutionId, NodeId, TaskId};
use crate::domain::usage::Usage;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use utoipa::ToSchema;

/// One thing that happened to a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RunEvent {
    /// The run began.
    ExecutionStarted,
    /// The run continues: after a crash (another process took it over), or after it was parked.
    ExecutionResumed {
        reason: String,
    },
    /// Nothing can progress until something outside happens; the run is stored and no process
    /// holds it until then.
    ExecutionPaused {
        reason: String,
        waiting: Vec<NodeId>,
    },
    /// An attempt of a node began.
    NodeStarted {
        node_id: NodeId,
        attempt: u32,
    },
    /// A node finished with its output; `taken` lists the branches a branching node chose.
    NodeCompleted {
        node_id: NodeId,
        attempt: u32,
        #[schema(value_type = Object)]
        output: Arc<Value>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        taken: Vec<NodeId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<i64>,
        /// Set when the output was reused from an earlier execution (a rerun).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reused_from: Option<ExecutionId>,
    },
    /// A node failed for good. With `routed_to`, its error route catches the failure: that
    /// branch runs and the execution goes on.
    NodeFailed {
        node_id: NodeId,
        attempt: u32,
        error: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        routed_to: Option<NodeId>,
    },
    /// An attempt failed and attempt `attempt` follows after `delay_ms`.
    NodeRetrying {
        node_id: NodeId,
        attempt: u32,
        error: String,
        delay_ms: u64,
    },
    /// A node will not run (its branch was not taken), or timed out with `timeout_action: Skip`.
    NodeSkipped {
        node_id: NodeId,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attempt: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<i64>,
    },
    /// A node was stopped because the execution ended.
    NodeCancelled {
        node_id: NodeId,
        reason: String,
    },
    /// A node waits for something outside the run (a child execution, a timer).
    NodeWaiting {
        node_id: NodeId,
        attempt: u32,
        waiting_for: Wait,
    },
    /// A model call's tokens and cost, with the execution's running total.
    Usage {
        node_id: NodeId,
        usage: Usage,
        execution_usage: Usage,
    },
    /// A child execution started for a node (a SubWorkflow, or one item of a Loop).
    ChildStarted {
        node_id: NodeId,
        child_execution_id: ExecutionId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<u32>,
    },
    /// A child execution ended.
    ChildFinished {
        node_id: NodeId,
        child_execution_id: ExecutionId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<u32>,
        state: ExecutionState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        output: Option<Arc<Value>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// How far a Loop has come.
    LoopProgress {
        node_id: NodeId,
        completed: u32,
        failed: u32,
        total: u32,
    },
    /// An Approval node asks people for a decision (`GET /api/v1/approvals/{approval_id}`); a
    /// `node_waiting` follows.
    ApprovalRequested {
        node_id: NodeId,
        approval_id: TaskId,
        /// The rendered message.
        message: String,
        /// When the approval expires (`timeout_seconds`), if it does.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_at: Option<DateTime<Utc>>,
    },
    /// An approval reached a final state: `Approved` (the node completes with the decision as
    /// its output), `Rejected` or `Expired` (the node fails).
    ApprovalDecided {
        node_id: NodeId,
        approval_id: TaskId,
        state: TaskState,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        decisions: Vec<Decision>,
    },
    /// A Form node asks people for values (`GET /api/v1/forms/{form_id}`); a `node_waiting`
    /// follows.
    FormRequested {
        node_id: NodeId,
        form_id: TaskId,
        title: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_at: Option<DateTime<Utc>>,
    },
    /// A form was submitted: `values` are the accepted values, `Password` fields redacted; they
    /// become the node's output.
    FormSubmitted {
        node_id: NodeId,
        form_id: TaskId,
        /// Who submitted (`user:<id>`, `api_key:<id>`, `anonymous`).
        by: String,
        #[schema(value_type = Object)]
        values: Arc<Value>,
    },
    /// Someone asked the run to pause: no node starts until a [`RunEvent::ResumeRequested`];
    /// running attempts finish, then the run parks (`execution_paused`).
    PauseRequested {
        /// Who asked (`user:<id>`, `api_key:<id>`, `anonymous`).
        by: String,
    },
    /// Someone asked a run paused by hand to go on.
    ResumeRequested {
        /// Who asked.
        by: String,
    },
    /// The run finished; `output` is the workflow's output (see [`super::workflow_output`]).
    ExecutionCompleted {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        output: Option<Arc<Value>>,
    },
    ExecutionFailed {
        error: String,
    },
    ExecutionCancelled {
        reason: String,
    },
}

/// What a waiting node waits for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Wait {
    /// Child executions (a SubWorkflow's one, or a Loop's items) still running.
    Children { running: Vec<ExecutionId> },
    /// A point in time (a long retry delay).
    Timer { until: DateTime<Utc> },
    /// A decision on an approval; past `expires_at` the node fails.
    Approval {
        approval_id: TaskId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_at: Option<DateTime<Utc>>,
    },
    /// A form's submission; past `expires_at` the node fails.
    Form {
        form_id: TaskId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_at: Option<DateTime<Utc>>,
    },
}

impl Wait {
    /// The request a person answers, and when it expires, for an approval or a form.
    #[must_use]
    pub fn task(&self) -> Option<(TaskId, Option<DateTime<Utc>>)> {
        match self {
            Self::Approval { approval_id: id, expires_at } | Self::Form { form_id: id, expires_at } => {
                Some((*id, *expires_at))
            }
            _ => None,
        }
    }
}

impl RunEvent {
    /// The kind, which is also the SSE event name (`node_completed`).
    #[must_use]
    pub fn kind(&self) -> EventKind {
        match self {
            Self::ExecutionStarted => EventKind::ExecutionStarted,
            Self::ExecutionResumed { .. } => EventKind::ExecutionResumed,
            Self::ExecutionPaused { .. } => EventKind::ExecutionPaused,
            Self::NodeStarted { .. } => EventKind::NodeStarted,
            Self::NodeCompleted { .. } => EventKind::NodeCompleted,
            Self::NodeFailed { .. } => EventKind::NodeFailed,
            Self::NodeRetrying { .. } => EventKind::NodeRetrying,
            Self::NodeSkipped { .. } => EventKind::NodeSkipped,
            Self::NodeCancelled { .. } => EventKind::NodeCancelled,
            Self::NodeWaiting { .. } => EventKind::NodeWaiting,
            Self::Usage { .. } => EventKind::Usage,
            Self::ChildStarted { .. } => EventKind::ChildStarted,
            Self::ChildFinished { .. } => EventKind::ChildFinished,
            Self::LoopProgress { .. } => EventKind::LoopProgress,
            Self::ApprovalRequested { .. } => EventKind::ApprovalRequested,
            Self::ApprovalDecided { .. } => EventKind::ApprovalDecided,
            Self::FormRequested { .. } => EventKind::FormRequested,
            Self::FormSubmitted { .. } => EventKind::FormSubmitted,
            Self::PauseRequested { .. } => EventKind::PauseRequested,
            Self::ResumeRequested { .. } => EventKind::ResumeRequested,
            Self::ExecutionCompleted { .. } => EventKind::ExecutionCompleted,
            Self::ExecutionFailed { .. } => EventKind::ExecutionFailed,
            Self::ExecutionCancelled { .. } => EventKind::ExecutionCancelled,
        }
    }

    /// The node the event is about, if any.
    #[must_use]
    pub fn node_id(&self) -> Option<&NodeId> {
        match self {
            Self::NodeStarted { node_id, .. }
            | Self::NodeCompleted { node_id, .. }
            | Self::NodeFailed { node_id, .. }
            | Self::NodeRetrying { node_id, .. }
            | Self::NodeSkipped { node_id, .. }
            | Self::NodeCancelled { node_id, .. }
            | Self::NodeWaiting { node_id, .. }
            | Self::Usage { node_id, .. }
            | Self::ChildStarted { node_id, .. }
            | Self::ChildFinished { node_id, .. }
            | Self::LoopProgress { node_id, .. }
            | Self::ApprovalRequested { node_id, .. }
            | Self::ApprovalDecided { node_id, .. }
            | Self::FormRequested { node_id, .. }
            | Self::FormSubmitted { node_id, .. } => Some(node_id),
            _ => None,
        }
    }

    /// The node whose attempt this event ends (it completed, failed, will be retried, was skipped
    /// or cancelled, or waits), so that its partial output is no longer live.
    #[must_use]
    pub fn ends_attempt_of(&self) -> Option<&NodeId> {
        match self {
            Self::NodeCompleted { node_id, .. }
            | Self::NodeFailed { node_id, .. }
            | Self::NodeRetrying { node_id, .. }
            | Self::NodeSkipped { node_id, .. }
            | Self::NodeCancelled { node_id, .. }
            | Self::NodeWaiting { node_id, .. } => Some(node_id),
            _ => None,
        }
    }

    /// An event of `kind` with placeholder fields (node `n`), for tests and documentation.
    #[must_use]
    pub fn example(kind: EventKind) -> Self {
        let node_id = NodeId::from("n");
        let child_execution_id = ExecutionId(uuid::Uuid::nil());
        match kind {
            EventKind::ExecutionStarted => Self::ExecutionStarted,
            EventKind::ExecutionResumed => Self::ExecutionResumed { reason: "resumed".into() },
            EventKind::ExecutionPaused => Self::ExecutionPaused { reason: "waiting".into(), waiting: vec![node_id] },
            EventKind::NodeStarted => Self::NodeStarted { node_id, attempt: 1 },
            EventKind::NodeCompleted => Self::NodeCompleted {
                node_id,
                attempt: 1,
                output: Arc::new(Value::Object(serde_json::Map::new())),
                taken: Vec::new(),
                duration_ms: Some(0),
                reused_from: None,
            },
            EventKind::NodeFailed => {
                Self::NodeFailed { node_id, attempt: 1, error: "failed".into(), duration_ms: Some(0), routed_to: None }
            }
            EventKind::NodeRetrying => Self::NodeRetrying { node_id, attempt: 2, error: "failed".into(), delay_ms: 1 },
            EventKind::NodeSkipped => {
                Self::NodeSkipped { node_id, reason: "skipped".into(), attempt: None, duration_ms: None }
            }
            EventKind::NodeCancelled => Self::NodeCancelled { node_id, reason: "cancelled".into() },
            EventKind::NodeWaiting => Self::NodeWaiting {
                node_id,
                attempt: 1,
                waiting_for: Wait::Children { running: vec![child_execution_id] },
            },
            EventKind::Usage => Self::Usage { node_id, usage: Usage::default(), execution_usage: Usage::default() },
            EventKind::ChildStarted => Self::ChildStarted { node_id, child_execution_id, item: None },
            EventKind::ChildFinished => Self::ChildFinished {
                node_id,
                child_execution_id,
                item: None,
                state: ExecutionState::Completed,
                output: None,
                error: None,
            },
            EventKind::LoopProgress => Self::LoopProgress { node_id, completed: 1, failed: 0, total: 2 },
            EventKind::ApprovalRequested => Self::ApprovalRequested {
                node_id,
                approval_id: TaskId(uuid::Uuid::nil()),
                message: "Approve?".into(),
                expires_at: None,
            },
            EventKind::ApprovalDecided => Self::ApprovalDecided {
                node_id,
                approval_id: TaskId(uuid::Uuid::nil()),
                state: TaskState::Approved,
                decisions: Vec::new(),
            },
            EventKind::FormRequested => Self::FormRequested {
                node_id,
                form_id: TaskId(uuid::Uuid::nil()),
                title: "Details".into(),
                expires_at: None,
            },
            EventKind::FormSubmitted => Self::FormSubmitted {
                node_id,
                form_id: TaskId(uuid::Uuid::nil()),
                by: "anonymous".into(),
                values: Arc::new(Value::Object(serde_json::Map::new())),
            },
            EventKind::PauseRequested => Self::PauseRequested { by: "anonymous".into() },
            EventKind::ResumeRequested => Self::ResumeRequested { by: "anonymous".into() },
            EventKind::ExecutionCompleted => Self::ExecutionCompleted { output: None },
            EventKind::ExecutionFailed => Self::ExecutionFailed { error: "failed".into() },
            EventKind::ExecutionCancelled => Self::ExecutionCancelled { reason: "cancelled".into() },
        }
    }

    /// The stored form: compact, tagged JSON.
    #[must_use]
    pub fn to_json(&self) -> String {
        // Serializing these plain data types cannot fail (no map with non-string keys).
        serde_json::to_string(self).unwrap_or_else(|e| format!(r#"{{"type":"unserializable","error":"{e}"}}"#))
    }

    /// Reads a stored event: the typed form, or the SSE text earlier versions stored (see
    /// [`super::legacy`]), given the row's `kind` and `node_id` columns.
    ///
    /// # Errors
    /// When the data is neither.
    pub fn from_stored(kind: &str, node_id: Option<&str>, data: &str) -> Result<Self, String> {
        let value: Value = serde_json::from_str(data).map_err(|e| format!("event data is not JSON: {e}"))?;
        if value.get("type").is_some_and(Value::is_string) {
            return serde_json::from_value(value).map_err(|e| format!("event data is not a run event: {e}"));
        }
        super::legacy::upcast(kind, node_id, value)
    }
}
