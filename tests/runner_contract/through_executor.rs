//! Running the subject's node through the real executor (the services over the in-memory store),
//! and the runners the cases wrap around the subject's to see what the executor makes of them.

use crate::subject::{NODE, variables, workflow};
use futures::StreamExt;
use oxify_api::app::event_stream::{Frame, Watch};
use oxify_api::app::executor::ExecutorLimits;
use oxify_api::app::runner_registry::RunnerRegistry;
use oxify_api::app::services::Services;
use oxify_api::domain::access::Scope;
use oxify_api::domain::budget::BudgetLimits;
use oxify_api::domain::execution::{EventKind, Execution, NodeResult, StreamPosition};
use oxify_api::domain::workflow::Node;
use oxify_api::ports::{ConfigProblem, NodeInput, NodeOutput, NodeRunner, RunnerError};
use oxify_api::startup::wiring;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Longer than any case's run takes; reaching it means the run hangs.
const RUN_LIMIT: Duration = Duration::from_secs(30);

/// A run that ended.
pub struct Ran {
    pub execution: Execution,
    /// The subject node's result.
    pub node: NodeResult,
    /// Events of the run's log, in order.
    pub events: Vec<EventKind>,
    /// Executions still live in the process once the run ended.
    pub live: usize,
}

/// Runs Start -> `kind` -> End with these runners until the run ends.
pub async fn run(runners: RunnerRegistry, kind: Value) -> Ran {
    let services = Services::assemble(wiring::in_memory(runners), ExecutorLimits::default(), Duration::from_secs(30));
    let workflow = services
        .workflows
        .create(Scope::DEFAULT, workflow(kind))
        .await
        .expect("the workflow is accepted")
        .workflow
        .id();
    let started = services
        .executions
        .start(Scope::DEFAULT, workflow, variables(), BudgetLimits::default(), None)
        .await
        .expect("it starts");
    let (execution, results) = tokio::time::timeout(RUN_LIMIT, async {
        loop {
            let (execution, results) = services.executions.get(Scope::DEFAULT, started.id).await.expect("readable");
            if execution.state.is_terminal() {
                return (execution, results);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the run ends: nothing hangs");
    let node = results.into_iter().find(|r| r.node_id.as_str() == NODE).expect("the subject node ran");
    let Watch::Events(_, frames) =
        services.event_streams.watch(Scope::DEFAULT, execution.id, StreamPosition::default()).await.expect("the log")
    else {
        panic!("a run that ended has events");
    };
    let events = frames
        .filter_map(|frame| async move { if let Frame::Event(e) = frame { Some(e.kind()) } else { None } })
        .collect()
        .await;
    // The task of a run that ended leaves the registry just after its last write.
    for _ in 0..100 {
        if services.running.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ran { execution, node, events, live: services.running.len() }
}

/// The subject's runner, panicking once its call is done: a panic in the middle of a runner's
/// work, since a working runner cannot be made to panic from outside.
pub struct PanicsMidCall(pub Arc<dyn NodeRunner>);

#[async_trait::async_trait]
impl NodeRunner for PanicsMidCall {
    async fn run(&self, input: NodeInput, cancel: CancellationToken) -> Result<NodeOutput, RunnerError> {
        let _ = self.0.run(input, cancel).await;
        panic!("runner contract: a panic mid-call");
    }

    fn check(&self, node: &Node) -> Vec<ConfigProblem> {
        self.0.check(node)
    }
}

/// What [`UsageShaped`] puts in an output: a `usage` key no one must bill.
pub fn fake_usage() -> Value {
    json!({"input_tokens": 999_999, "output_tokens": 999_999, "total_tokens": 1_999_998, "cost_usd": 99.5})
}

/// The subject's runner, its output given a top-level `usage` key (as an API's answer or a
/// script's result may have), its reported usage left as it is.
pub struct UsageShaped(pub Arc<dyn NodeRunner>);

#[async_trait::async_trait]
impl NodeRunner for UsageShaped {
    async fn run(&self, input: NodeInput, cancel: CancellationToken) -> Result<NodeOutput, RunnerError> {
        let mut output = self.0.run(input, cancel).await?;
        match &mut output.value {
            Value::Object(map) => {
                map.insert("usage".into(), fake_usage());
            }
            other => *other = json!({"value": other.take(), "usage": fake_usage()}),
        }
        Ok(output)
    }

    fn check(&self, node: &Node) -> Vec<ConfigProblem> {
        self.0.check(node)
    }
}
