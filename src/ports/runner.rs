//! Node runners: the effectful node kinds (LLM calls, code, tools) behind one small trait.

use crate::domain::access::Scope;
use crate::domain::budget::Budget;
use crate::domain::data::DataContext;
use crate::domain::ids::ExecutionId;
use crate::domain::usage::Usage;
use crate::domain::valid::ValidWorkflow;
use crate::domain::workflow::Node;
use serde_json::Value;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Where a runner sends partial output as it arrives (streamed LLM tokens). Partial output is
/// delivered live and not stored; the node's final output is.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait OutputSink: Send + Sync + Debug {
    fn delta(&self, text: &str);

    /// A tool call the node made and what it gave (an LLM node's tool loop): a JSON object with
    /// `round`, `id`, `name`, `arguments`, `result` or `error`, and `duration_ms`. Live only,
    /// like deltas; the node's output keeps the whole list.
    fn tool_call(&self, _call: &Value) {}
}

/// Where one execution's partial output goes, told which node attempt it comes from. The
/// executor keeps one per run, so that an attempt's sink ([`AttemptSink`]) costs no allocation.
pub trait ExecutionOutputs: Send + Sync + Debug {
    fn delta(&self, node_index: usize, attempt: u32, text: &str);

    /// See [`OutputSink::tool_call`].
    fn tool_call(&self, _node_index: usize, _attempt: u32, _call: &Value) {}
}

/// The sink of one node attempt: its execution's outputs told which attempt speaks, or a sink
/// wrapped around that one (one that redacts what passes, say).
#[derive(Clone, Debug)]
pub struct AttemptSink(Sink);

#[derive(Clone, Debug)]
enum Sink {
    Run { outputs: Arc<dyn ExecutionOutputs>, node_index: usize, attempt: u32 },
    Wrapped(Arc<dyn OutputSink>),
}

impl AttemptSink {
    #[must_use]
    pub fn new(outputs: Arc<dyn ExecutionOutputs>, node_index: usize, attempt: u32) -> Self {
        Self(Sink::Run { outputs, node_index, attempt })
    }

    /// The attempt's partial output goes through `sink` instead.
    #[must_use]
    pub fn wrapping(sink: Arc<dyn OutputSink>) -> Self {
        Self(Sink::Wrapped(sink))
    }

    /// A sink that throws partial output away (for runners called outside an execution).
    #[must_use]
    pub fn discarding() -> Self {
        Self::new(Arc::new(Discard), 0, 1)
    }
}

impl OutputSink for AttemptSink {
    fn delta(&self, text: &str) {
        match &self.0 {
            Sink::Run { outputs, node_index, attempt } => outputs.delta(*node_index, *attempt, text),
            Sink::Wrapped(sink) => sink.delta(text),
        }
    }

    fn tool_call(&self, call: &Value) {
        match &self.0 {
            Sink::Run { outputs, node_index, attempt } => outputs.tool_call(*node_index, *attempt, call),
            Sink::Wrapped(sink) => sink.tool_call(call),
        }
    }
}

/// So that an attempt's sink can be wrapped like any other sink (see `RedactingSink`).
impl std::ops::Deref for AttemptSink {
    type Target = dyn OutputSink;

    fn deref(&self) -> &Self::Target {
        self
    }
}

#[derive(Debug)]
struct Discard;

impl ExecutionOutputs for Discard {
    fn delta(&self, _node_index: usize, _attempt: u32, _text: &str) {}
}

/// Everything a runner gets for one attempt of one node.
#[derive(Clone, Debug)]
pub struct NodeInput {
    pub execution_id: ExecutionId,
    /// The execution's workspace: whatever the runner looks up (MCP servers, workflows called as
    /// tools, collections) is looked up in it.
    pub scope: Scope,
    pub workflow: ValidWorkflow,
    pub node_index: usize,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub data: DataContext,
    pub sink: AttemptSink,
    /// The execution's spending on model calls, shared by its nodes.
    pub budget: Arc<Mutex<Budget>>,
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
    /// A failure that may pass (network error, rate limit, 5xx): the node's retries apply,
    /// waiting at least `retry_after` when the other side said so.
    #[error("{message}")]
    Retryable { message: String, retry_after: Option<Duration> },
    /// A failure that will repeat (bad input, 4xx, missing variable): no retry.
    #[error("{0}")]
    Permanent(String),
}

impl RunnerError {
    #[must_use]
    pub fn retryable(message: impl Into<String>) -> Self {
        Self::Retryable { message: message.into(), retry_after: None }
    }

    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable { .. })
    }

    /// The wait the other side asked for, if any.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Retryable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// What an attempt produced: the node's output, and what it spent on model calls. Usage is
/// reported here and nowhere else, so an output that happens to hold a `usage` key (an API's
/// answer, a script's result) is never billed.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeOutput {
    pub value: Value,
    pub usage: Option<Usage>,
}

impl NodeOutput {
    /// An output that spent nothing.
    #[must_use]
    pub fn of(value: Value) -> Self {
        Self { value, usage: None }
    }
}

/// Runs one attempt of a node. Must return soon after `cancel` fires, abandoning in-flight work.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait NodeRunner: Send + Sync {
    /// # Errors
    /// [`RunnerError::Retryable`] for failures worth another attempt, else [`RunnerError::Permanent`].
    async fn run(&self, input: NodeInput, cancel: CancellationToken) -> Result<NodeOutput, RunnerError>;

    /// Why this server cannot run the node as configured (an unknown provider, a missing key, a
    /// script that does not compile), checked when a workflow is saved; empty when it can.
    fn check(&self, _node: &Node) -> Vec<ConfigProblem> {
        Vec::new()
    }

    /// Workspace secrets this runner uses when the workspace has them (a provider key that
    /// replaces the server's), besides those the node's configuration names. They reach the
    /// runner in `input.data.secrets`, and are redacted from what it produces.
    fn workspace_secrets(&self) -> &'static [&'static str] {
        &[]
    }
}

/// One reason a runner cannot run a node as configured, found when the workflow is saved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The field of the node's config at fault, as a path below `kind.config` (`code`,
    /// `extra_params.base_url`, `headers.Authorization`); `None` for the config as a whole.
    pub field: Option<String>,
    pub problem: String,
}

impl ConfigProblem {
    /// A problem with the config as a whole.
    #[must_use]
    pub fn whole(problem: impl Into<String>) -> Self {
        Self { field: None, problem: problem.into() }
    }

    /// A problem with one field of the config.
    #[must_use]
    pub fn at(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self { field: Some(field.into()), problem: problem.into() }
    }
}
