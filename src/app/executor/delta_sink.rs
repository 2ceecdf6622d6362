//! The sink that publishes a run's partial output (streamed model tokens), live only. One per
//! run: each node attempt speaks through it with its node and attempt ([`AttemptSink`]).
//!
//! [`AttemptSink`]: crate::ports::AttemptSink

use crate::domain::execution::{DeltaKind, OutputDelta};
use crate::domain::ids::{ExecutionId, WorkflowId};
use crate::domain::valid::ValidWorkflow;
use crate::ports::{EventBus, ExecutionOutputs};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Publishes one execution's partial output on the bus, live only.
pub(super) struct DeltaSink {
    pub bus: Arc<dyn EventBus>,
    pub execution_id: ExecutionId,
    pub workflow_id: WorkflowId,
    pub workflow: ValidWorkflow,
    /// The last stored event's sequence number (the run sets it after each write).
    pub last_seq: AtomicU64,
    /// Per node that streamed: its latest attempt and how many deltas that attempt sent. Empty
    /// (and unallocated) for runs whose nodes stream nothing.
    pub counts: Mutex<HashMap<usize, (u32, u64), foldhash::fast::RandomState>>,
}

impl std::fmt::Debug for DeltaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeltaSink").field("execution_id", &self.execution_id).finish_non_exhaustive()
    }
}

impl ExecutionOutputs for DeltaSink {
    fn delta(&self, node_index: usize, attempt: u32, text: &str) {
        self.publish(node_index, attempt, DeltaKind::Text, "delta", serde_json::Value::from(text));
    }

    fn tool_call(&self, node_index: usize, attempt: u32, call: &serde_json::Value) {
        self.publish(node_index, attempt, DeltaKind::ToolCall, "tool_call", call.clone());
    }
}

impl DeltaSink {
    /// Publishes one live frame of a node attempt: `payload` under `field`, beside the frame's
    /// execution, node, attempt and index (the attempt's live frames counted from 1).
    fn publish(&self, node_index: usize, attempt: u32, kind: DeltaKind, field: &str, payload: serde_json::Value) {
        let index = {
            let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
            let count = counts.entry(node_index).or_insert((attempt, 0));
            if count.0 != attempt {
                *count = (attempt, 0);
            }
            count.1 += 1;
            count.1
        };
        let node_id = self.workflow.node(node_index).id.clone();
        let mut data = serde_json::json!({
            "execution_id": self.execution_id,
            "workflow_id": self.workflow_id,
            "node_id": node_id,
            "attempt": attempt,
            "index": index,
        });
        data[field] = payload;
        self.bus.publish_delta(Arc::new(OutputDelta {
            execution_id: self.execution_id,
            node_id,
            after_seq: self.last_seq.load(Ordering::Relaxed),
            n: 0,
            index,
            data: data.to_string().into(),
            kind,
        }));
    }
}
