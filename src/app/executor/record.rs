//! The JSON of an event as clients see it in the SSE `data:` field.

use crate::domain::execution::ExecutionState;
use crate::domain::ids::{ExecutionId, NodeId, WorkflowId};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// Node-specific fields of an event; absent ones are left out of the JSON.
#[derive(Default)]
pub(super) struct Extra<'a> {
    pub attempt: Option<u32>,
    pub output: Option<&'a Value>,
    pub error: Option<&'a str>,
    pub duration_ms: Option<i64>,
    pub delay_ms: Option<u64>,
    pub reason: Option<&'a str>,
}

#[derive(Serialize)]
pub(super) struct EventData<'a> {
    pub execution_id: ExecutionId,
    pub workflow_id: WorkflowId,
    pub state: ExecutionState,
    pub node_results_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_id: Option<&'a NodeId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    pub timestamp: DateTime<Utc>,
}
