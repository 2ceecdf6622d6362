//! Which runner serves which node kind, with its default retry policy. Kinds without a runner
//! fail with `NodeKindUnavailable`.

use crate::domain::valid::ValidWorkflow;
use crate::domain::validation::Problem;
use crate::domain::workflow::{NodeKindTag, RetryConfig};
use crate::ports::{NodeRunner, WorkflowToolsSlot};
use std::collections::HashMap;
use std::sync::Arc;

/// Looked up for every node started: foldhash is cheaper than SipHash on a small key.
type ByKind<V> = HashMap<NodeKindTag, V, foldhash::fast::RandomState>;

/// Runners by node kind.
#[derive(Clone, Default)]
pub struct RunnerRegistry {
    runners: ByKind<Arc<dyn NodeRunner>>,
    retries: ByKind<RetryConfig>,
    /// Filled by [`super::services::Services::assemble`] for the runners that call workflows.
    workflow_tools: Arc<WorkflowToolsSlot>,
}

impl RunnerRegistry {
    /// The built-in runners: Parallel nodes that set `max_concurrency` or `timeout_ms`.
    #[must_use]
    pub fn new() -> Self {
        Self::default().with(NodeKindTag::Parallel, Arc::new(super::parallel::ParallelRunner))
    }

    /// Serves `kind` with `runner`, replacing any earlier one.
    #[must_use]
    pub fn with(mut self, kind: NodeKindTag, runner: Arc<dyn NodeRunner>) -> Self {
        self.runners.insert(kind, runner);
        self
    }

    /// Retries nodes of `kind` that have no `retry_config` of their own this way.
    #[must_use]
    pub fn with_default_retry(mut self, kind: NodeKindTag, retry: RetryConfig) -> Self {
        self.retries.insert(kind, retry);
        self
    }

    /// The workflows runners may call as tools (an LLM node's tool loop); usable once the use
    /// cases are assembled.
    #[must_use]
    pub fn workflow_tools(&self) -> Arc<WorkflowToolsSlot> {
        self.workflow_tools.clone()
    }

    #[must_use]
    pub fn get(&self, kind: NodeKindTag) -> Option<Arc<dyn NodeRunner>> {
        self.runners.get(&kind).cloned()
    }

    #[must_use]
    pub fn default_retry(&self, kind: NodeKindTag) -> Option<&RetryConfig> {
        self.retries.get(&kind)
    }

    /// What keeps this server from running the workflow's nodes as configured.
    #[must_use]
    pub fn problems(&self, workflow: &ValidWorkflow) -> Vec<Problem> {
        let nodes = workflow.workflow().nodes.iter().enumerate();
        nodes
            .filter_map(|(i, node)| Some((i, node, self.runners.get(&node.kind.tag())?)))
            .flat_map(|(i, node, runner)| {
                runner.check(node).into_iter().map(move |p| Problem {
                    node_id: Some(node.id.clone()),
                    path: match &p.field {
                        Some(field) => format!("workflow.nodes[{i}].kind.config.{field}"),
                        None => format!("workflow.nodes[{i}].kind.config"),
                    },
                    problem: p.problem,
                })
            })
            .collect()
    }
}
