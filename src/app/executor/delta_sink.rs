//! The sink that publishes a runner's partial output (streamed model tokens), live only.

use crate::domain::execution::OutputDelta;
use crate::domain::ids::{ExecutionId, NodeId, WorkflowId};
use crate::ports::{EventBus, OutputSink};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

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
            n: 0,
            index,
            data: data.to_string().into(),
        }));
    }
}
