//! The JSON of events as clients see it in the SSE `data:` field, and the sink that publishes a
//! runner's partial output.

use crate::domain::execution::{ExecutionState, OutputDelta};
use crate::domain::ids::{ExecutionId, NodeId, WorkflowId};
use crate::domain::usage::Usage;
use crate::ports::{EventBus, OutputSink};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Node-specific fields of an event; absent ones are left out of the JSON.
#[derive(Default)]
pub(super) struct Extra<'a> {
    pub attempt: Option<u32>,
    pub output: Option<&'a Value>,
    pub error: Option<&'a str>,
    pub duration_ms: Option<i64>,
    pub delay_ms: Option<u64>,
    pub reason: Option<&'a str>,
    pub usage: Option<Usage>,
    pub execution_usage: Option<Usage>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_usage: Option<Usage>,
    pub timestamp: DateTime<Utc>,
}

/// Publishes one node attempt's partial output on the bus, live only.
pub(super) struct DeltaSink {
    pub bus: Arc<dyn EventBus>,
    pub execution_id: ExecutionId,
    pub workflow_id: WorkflowId,
    pub node_id: NodeId,
    pub attempt: u32,
    pub last_seq: Arc<AtomicU64>,
    pub count: AtomicU64,
}

impl std::fmt::Debug for DeltaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeltaSink").field("execution_id", &self.execution_id).field("node_id", &self.node_id).finish()
    }
}

impl OutputSink for DeltaSink {
    fn delta(&self, text: &str) {
        let index = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let data = serde_json::json!({
            "execution_id": self.execution_id,
            "workflow_id": self.workflow_id,
            "node_id": self.node_id,
            "attempt": self.attempt,
            "index": index,
            "delta": text,
        });
        self.bus.publish_delta(Arc::new(OutputDelta {
            execution_id: self.execution_id,
            node_id: self.node_id.clone(),
            after_seq: self.last_seq.load(Ordering::Relaxed),
            index,
            data: data.to_string().into(),
        }));
    }
}
