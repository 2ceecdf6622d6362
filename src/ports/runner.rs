//! Node runners: the effectful node kinds (LLM calls, code, tools) behind one small trait.

use crate::domain::data::DataContext;
use crate::domain::ids::ExecutionId;
use crate::domain::valid::ValidWorkflow;
use crate::domain::workflow::Node;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Everything a runner gets for one attempt of one node.
#[derive(Clone, Debug)]
pub struct NodeInput {
    pub execution_id: ExecutionId,
    pub workflow: ValidWorkflow,
    pub node_index: usize,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub data: DataContext,
}

impl NodeInput {
    #[must_use]
    pub fn node(&self) -> &Node {
        self.workflow.node(self.node_index)
    }
}

/// Why an attempt failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RunnerError {
    /// This build has no runner for the kind.
    #[error("NodeKindUnavailable: {0} nodes cannot run on this server yet (no runner for kind {0})")]
    KindUnavailable(String),
    /// A failure that may pass (network error, rate limit, 5xx): the node's retries apply.
    #[error("{0}")]
    Retryable(String),
    /// A failure that will repeat (bad input, 4xx, missing variable): no retry.
    #[error("{0}")]
    Permanent(String),
}

impl RunnerError {
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable(_))
    }
}

/// Runs one attempt of a node. Must return soon after `cancel` fires, abandoning in-flight work.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait NodeRunner: Send + Sync {
    /// # Errors
    /// [`RunnerError::Retryable`] for failures worth another attempt, else [`RunnerError::Permanent`].
    async fn run(&self, input: NodeInput, cancel: CancellationToken) -> Result<Value, RunnerError>;
}
