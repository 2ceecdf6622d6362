//! What the suite needs to know of a runner (a [`Subject`]), and calling one directly, outside
//! the executor, the way the executor calls it.

use oxify_api::app::runner_registry::RunnerRegistry;
use oxify_api::domain::budget::{Budget, BudgetLimits};
use oxify_api::domain::data::{DataContext, NodeOutputs};
use oxify_api::domain::ids::{ExecutionId, NodeId, WorkflowId};
use oxify_api::domain::usage::Usage;
use oxify_api::domain::validation::validate;
use oxify_api::domain::workflow::{NodeKindTag, WorkflowDraft};
use oxify_api::ports::{AttemptSink, NodeInput, NodeOutput, NodeRunner, RunnerError};
use serde_json::{Map, Value, json};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// A runner under contract, and the node configs (`{"type": ..., "config": ...}`) that drive it.
/// Each config method also arranges what the node meets upstream, for the next call only.
pub trait Subject: Sized {
    /// The kind the runner serves.
    const KIND: NodeKindTag;
    /// Whether it calls a model, and so reports usage.
    const CALLS_A_MODEL: bool;

    async fn new() -> Self;

    /// The runners as the server registers them (the production wiring).
    fn registry(&self) -> RunnerRegistry;

    /// A node that succeeds, reading the variable `question`.
    fn succeeding(&self) -> Value;

    /// A node whose attempt takes seconds (slow work, or an upstream that answers late).
    fn slow(&self) -> Value;

    /// A node the runner must refuse as bad input: it reads a variable that does not exist.
    fn bad_input(&self) -> Value;

    /// A node whose upstream fails in a way that may pass (a 503); `None` for a runner that
    /// calls nothing.
    fn upstream_outage(&self) -> Option<Value>;

    /// The runner of [`Subject::KIND`].
    fn runner(&self) -> Arc<dyn NodeRunner> {
        self.registry().get(Self::KIND).unwrap_or_else(|| panic!("this build registers no runner for {}", Self::KIND))
    }
}

/// The node every case runs.
pub const NODE: &str = "subject";

/// The variables every case runs with.
pub fn variables() -> Map<String, Value> {
    let Value::Object(variables) = json!({"question": "what is six times seven"}) else { unreachable!() };
    variables
}

/// Start -> the subject's node -> End.
pub fn workflow(kind: Value) -> WorkflowDraft {
    serde_json::from_value(json!({
        "metadata": {"name": "runner contract"},
        "nodes": [
            {"id": "start", "name": "Start", "kind": {"type": "Start"}},
            {"id": NODE, "name": "Subject", "kind": kind},
            {"id": "end", "name": "End", "kind": {"type": "End"}}
        ],
        "edges": [{"from": "start", "to": NODE}, {"from": NODE, "to": "end"}]
    }))
    .expect("a workflow")
}

/// One attempt of the subject's node, as the executor would make it: the node's workflow, the
/// variables, no upstream outputs, an unlimited budget.
pub struct Direct {
    runner: Arc<dyn NodeRunner>,
    input: NodeInput,
}

impl Direct {
    pub fn new<S: Subject>(subject: &S, kind: Value) -> Self {
        let now = chrono::Utc::now();
        let workflow = validate(workflow(kind).complete(WorkflowId::generate(), now, now)).expect("a valid workflow");
        let node_index = workflow.index_of(&NodeId::new(NODE)).expect("the subject's node");
        let outputs = Arc::new(NodeOutputs::new(workflow.graph().index.clone()));
        let input = NodeInput {
            scope: oxify_api::domain::access::Scope::DEFAULT,
            execution_id: ExecutionId::generate(),
            workflow,
            node_index,
            attempt: 1,
            data: DataContext { variables: Arc::new(variables()), outputs, secrets: Arc::default() },
            sink: AttemptSink::discarding(),
            budget: Arc::new(Mutex::new(Budget::new(BudgetLimits::default(), Usage::default()))),
        };
        Self { runner: subject.runner(), input }
    }

    pub async fn run(self, cancel: CancellationToken) -> Result<NodeOutput, RunnerError> {
        self.runner.run(self.input, cancel).await
    }
}
