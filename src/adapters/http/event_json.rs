//! The JSON of an event as clients see it in the SSE `data:` field, rendered from the typed event
//! and its envelope: the same shape every version of this server has sent (the seed's fields,
//! then the node's), plus the fields of the newer events.

use crate::domain::execution::{ExecutionEvent, ExecutionState};
use crate::domain::human::{Decision, TaskState};
use crate::domain::ids::{ExecutionId, NodeId, TaskId, WorkflowId};
use crate::domain::run::{RunEvent, Wait};
use crate::domain::usage::Usage;
use crate::domain::valid::ValidWorkflow;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use utoipa::ToSchema;

/// The data of one event frame. Every frame carries the seed's fields (`execution_id`,
/// `workflow_id`, `state`, `node_results_count`, `timestamp`); node events add the node's id,
/// name and kind; the rest depends on the event (named in the frame's `event:` field).
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct EventData<'a> {
    #[schema(value_type = String, format = Uuid)]
    pub execution_id: Option<ExecutionId>,
    #[schema(value_type = String, format = Uuid)]
    pub workflow_id: Option<WorkflowId>,
    /// The execution's state once this event happened.
    #[schema(value_type = ExecutionState)]
    pub state: Option<ExecutionState>,
    /// Nodes in a final status once this event happened.
    pub node_results_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub node_id: Option<&'a NodeId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_name: Option<&'a str>,
    /// The node's kind (`LLM`, `IfElse`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub output: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    /// `node_retrying`: the wait before the next attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_usage: Option<Usage>,
    /// `node_completed` of an IfElse or Switch: the branches it took.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    #[schema(value_type = Vec<String>)]
    pub taken: &'a [NodeId],
    /// `node_failed` caught by an error route: where the run goes on.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub routed_to: Option<&'a NodeId>,
    /// `node_completed` reusing an earlier execution's output (a rerun).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub reused_from: Option<ExecutionId>,
    /// `node_waiting`: what the node waits for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<&'a Wait>,
    /// `execution_paused`: the nodes that wait.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    pub waiting: Option<&'a [NodeId]>,
    /// `child_started`, `child_finished`: the child execution.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub child_execution_id: Option<ExecutionId>,
    /// The Loop item a child runs, counted from 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<u32>,
    /// `child_finished`: how the child ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<ExecutionState>)]
    pub child_state: Option<ExecutionState>,
    /// `loop_progress`: items done, failed, and in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u32>,
    /// `approval_requested`, `approval_decided`: the approval (`/api/v1/approvals/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub approval_id: Option<TaskId>,
    /// `form_requested`, `form_submitted`: the form (`/api/v1/forms/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub form_id: Option<TaskId>,
    /// `approval_requested`: the rendered message; `form_requested`: the form's title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'a str>,
    /// `approval_requested`, `form_requested`: when the request expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// `approval_decided`: `Approved`, `Rejected` or `Expired`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<TaskState>)]
    pub decision: Option<TaskState>,
    /// `approval_decided`: each person's decision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decisions: Option<&'a [Decision]>,
    /// `form_submitted`: who submitted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<&'a str>,
    pub timestamp: Option<DateTime<Utc>>,
}

/// The event's frame data, rendered once and shared by every client that receives it.
#[must_use]
pub fn render(event: &ExecutionEvent, workflow_id: WorkflowId, workflow: Option<&ValidWorkflow>) -> Arc<str> {
    event
        .rendered
        .get_or_init(|| {
            let data = data_of(event, workflow_id, workflow);
            serde_json::to_string(&data)
                .unwrap_or_else(|e| format!(r#"{{"error":"unserializable event: {e}"}}"#))
                .into()
        })
        .clone()
}

fn data_of<'a>(event: &'a ExecutionEvent, workflow_id: WorkflowId, wf: Option<&'a ValidWorkflow>) -> EventData<'a> {
    let node = match (event.node_id(), wf) {
        (Some(id), Some(wf)) => wf.index_of(id).map(|i| wf.node(i)),
        _ => None,
    };
    let mut d = EventData {
        execution_id: Some(event.execution_id),
        workflow_id: Some(workflow_id),
        state: Some(event.state),
        node_results_count: event.node_results_count,
        node_id: event.node_id(),
        node_name: node.map(|n| n.name.as_str()),
        kind: node.map(|n| n.kind.name()),
        timestamp: Some(event.at),
        ..EventData::default()
    };
    use RunEvent as E;
    match &event.event {
        E::ExecutionStarted => {}
        E::ExecutionCompleted { output } => d.output = output.as_deref(),
        E::ExecutionResumed { reason } => d.reason = Some(reason),
        E::ExecutionPaused { reason, waiting } => {
            (d.reason, d.waiting) = (Some(reason.as_str()), Some(waiting.as_slice()));
        }
        E::ExecutionFailed { error } | E::ExecutionCancelled { reason: error } => d.error = Some(error),
        E::NodeStarted { attempt, .. } => d.attempt = Some(*attempt),
        E::NodeCompleted { attempt, output, taken, duration_ms, reused_from, .. } => {
            (d.attempt, d.output, d.taken, d.duration_ms, d.reused_from) =
                (Some(*attempt), Some(output.as_ref()), taken, *duration_ms, *reused_from);
        }
        E::NodeFailed { attempt, error, duration_ms, routed_to, .. } => {
            (d.attempt, d.error, d.duration_ms, d.routed_to) =
                (Some(*attempt), Some(error.as_str()), *duration_ms, routed_to.as_ref());
        }
        E::NodeRetrying { attempt, error, delay_ms, .. } => {
            (d.attempt, d.error, d.delay_ms) = (Some(*attempt), Some(error.as_str()), Some(*delay_ms));
        }
        E::NodeSkipped { reason, attempt, duration_ms, .. } => {
            (d.reason, d.attempt, d.duration_ms) = (Some(reason.as_str()), *attempt, *duration_ms);
        }
        E::NodeCancelled { reason, .. } => d.reason = Some(reason),
        E::NodeWaiting { attempt, waiting_for, .. } => (d.attempt, d.waiting_for) = (Some(*attempt), Some(waiting_for)),
        E::Usage { usage, execution_usage, .. } => {
            (d.usage, d.execution_usage) = (Some(*usage), Some(*execution_usage))
        }
        E::ChildStarted { child_execution_id, item, .. } => {
            (d.child_execution_id, d.item) = (Some(*child_execution_id), *item);
        }
        E::ChildFinished { child_execution_id, item, state, output, error, .. } => {
            (d.child_execution_id, d.item, d.child_state) = (Some(*child_execution_id), *item, Some(*state));
            (d.output, d.error) = (output.as_deref(), error.as_deref());
        }
        E::LoopProgress { completed, failed, total, .. } => {
            (d.completed, d.failed, d.total) = (Some(*completed), Some(*failed), Some(*total));
        }
        E::ApprovalRequested { approval_id, message, expires_at, .. } => {
            (d.approval_id, d.message, d.expires_at) = (Some(*approval_id), Some(message.as_str()), *expires_at);
        }
        E::ApprovalDecided { approval_id, state, decisions, .. } => {
            (d.approval_id, d.decision, d.decisions) = (Some(*approval_id), Some(*state), Some(decisions.as_slice()));
        }
        E::FormRequested { form_id, title, expires_at, .. } => {
            (d.form_id, d.message, d.expires_at) = (Some(*form_id), Some(title.as_str()), *expires_at);
        }
        E::PauseRequested { by } | E::ResumeRequested { by } => d.by = Some(by.as_str()),
        E::FormSubmitted { form_id, by, values, .. } => {
            (d.form_id, d.by, d.output) = (Some(*form_id), Some(by.as_str()), Some(values.as_ref()));
        }
    }
    d
}
