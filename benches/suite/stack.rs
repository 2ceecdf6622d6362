//! The server without its HTTP layer, in process: the services over one backend, with the
//! maintenance loop that wakes parked runs. For what needs more than the executor alone
//! (children, parking, signals) and must not share its heap with another process's.

use oxify_api::app::executor::ExecutorLimits;
use oxify_api::app::runner_registry::RunnerRegistry;
use oxify_api::app::services::Services;
use oxify_api::domain::access::Scope;
use oxify_api::domain::budget::BudgetLimits;
use oxify_api::domain::execution::ExecutionState;
use oxify_api::domain::ids::{ExecutionId, WorkflowId};
use oxify_api::domain::workflow::WorkflowDraft;
use oxify_api::startup::wiring;
use serde_json::{Map, Value};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub struct Stack {
    pub services: Services,
    stop: CancellationToken,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Stack {
    /// The services over the store `url` names (`memory://`, `sqlite://...`, `postgres://...`).
    pub async fn open(url: &str, runners: RunnerRegistry) -> Self {
        let ports = wiring::open(url, 8, runners).await.expect("open the store");
        let services = Services::assemble(ports, ExecutorLimits::default(), Duration::from_secs(30));
        let stop = CancellationToken::new();
        services.recover_and_maintain(stop.clone()).await;
        Self { services, stop }
    }

    /// Saves a workflow draft (`{"metadata": ..., "nodes": ..., "edges": ...}`).
    pub async fn create(&self, draft: Value) -> WorkflowId {
        let draft: WorkflowDraft = serde_json::from_value(draft).expect("a workflow draft");
        self.services.workflows.create(Scope::DEFAULT, draft).await.expect("create the workflow").workflow.id()
    }

    /// Starts an execution of the workflow's latest version; returns once it is stored.
    pub async fn start(&self, workflow: WorkflowId) -> ExecutionId {
        self.services
            .executions
            .start(Scope::DEFAULT, workflow, Map::new(), BudgetLimits::default(), None)
            .await
            .expect("start")
            .id
    }

    pub async fn state(&self, id: ExecutionId) -> ExecutionState {
        self.services.executions.get(Scope::DEFAULT, id).await.expect("read the execution").0.state
    }

    /// Waits (polling every millisecond, for at most a minute) until the execution is in `state`.
    pub async fn wait_for(&self, id: ExecutionId, state: ExecutionState) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let now = self.state(id).await;
            if now == state {
                return;
            }
            assert!(Instant::now() < deadline && !(now.is_terminal() && now != state), "{id} is {now}, not {state}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Waits until the execution is parked and its task here has ended (a run stores itself
    /// parked a moment before its task ends; a cancel in between is answered "try again").
    pub async fn wait_parked(&self, id: ExecutionId) {
        self.wait_for(id, ExecutionState::Paused).await;
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.services.running.contains(id) {
            assert!(Instant::now() < deadline, "{id} parked but its task still runs");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Waits until no execution runs in this process (every one ended or parked).
    pub async fn settle(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !self.services.running.is_empty() {
            assert!(Instant::now() < deadline, "executions still running after two minutes");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// A node of a workflow draft.
pub fn node(id: &str, kind: Value) -> Value {
    serde_json::json!({"id": id, "name": id, "kind": kind})
}

/// A Code node run by the benchmark's scripted runner.
pub fn script(id: &str, code: &str) -> Value {
    node(id, serde_json::json!({"type": "Code", "config": {"runtime": "bench", "code": code, "output": "o"}}))
}

/// Start -> `middle`, in a chain -> End.
pub fn chain_of(middle: Vec<Value>) -> Value {
    let mut ids = vec!["s".to_owned()];
    ids.extend(middle.iter().map(|n| n["id"].as_str().expect("an id").to_owned()));
    ids.push("e".into());
    let mut nodes = vec![node("s", serde_json::json!({"type": "Start"}))];
    nodes.extend(middle);
    nodes.push(node("e", serde_json::json!({"type": "End"})));
    let edges: Vec<Value> = ids.windows(2).map(|w| serde_json::json!({"from": w[0], "to": w[1]})).collect();
    serde_json::json!({"metadata": {"name": "bench"}, "nodes": nodes, "edges": edges})
}
