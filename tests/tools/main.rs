//! Code and HTTP Tool nodes: the real runners as the server wires them, called directly and
//! through the real server, against a fake HTTP API on 127.0.0.1 (opened to workflows through
//! `OXIFY_HTTP_ALLOW` where a test needs it, refused where a test shows the SSRF guard).

mod code;
mod end_to_end;
mod http_tool;
mod llm_guard;
mod mcp;
mod secrets;
mod ssrf;
mod upstream;

use oxify_api::app::executor::ExecutorLimits;
use oxify_api::app::services::Services;
use oxify_api::domain::budget::{Budget, BudgetLimits};
use oxify_api::domain::data::{DataContext, NodeOutputs};
use oxify_api::domain::ids::{ExecutionId, NodeId, WorkflowId};
use oxify_api::domain::usage::Usage;
use oxify_api::domain::validation::validate;
use oxify_api::domain::workflow::WorkflowDraft;
use oxify_api::ports::{AttemptSink, NodeInput, NodeOutput, NodeRunner, RunnerError};
use oxify_api::startup::config::Config;
use oxify_api::startup::server::Server;
use oxify_api::startup::wiring::{self, runners_with_env};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The settings every test starts from: loopback, memory storage, nothing opened.
pub fn config() -> Config {
    let mut config = Config::defaults();
    config.host = "127.0.0.1".into();
    config.port = 0;
    config.database_url = "memory://".into();
    config.access.allow_anonymous = true;
    config
}

pub struct Harness {
    pub server: Server,
    pub http: reqwest::Client,
    pub base: String,
}

/// The real server with the runners the configuration gives.
pub async fn harness(config: Config) -> Harness {
    let runners = runners_with_env(&config, |_| None).expect("the runners");
    let limits = ExecutorLimits {
        max_concurrent_nodes: config.max_concurrent_nodes as usize,
        default_node_timeout: config.node_timeout(),
        ..ExecutorLimits::default()
    };
    let services = Services::assemble(wiring::in_memory(runners), limits, Duration::from_secs(30));
    let server = Server::start(&config, services).await.expect("the server starts");
    let base = format!("http://{}", server.addr());
    Harness { server, http: reqwest::Client::new(), base }
}

impl Harness {
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let reply =
            self.http.post(format!("{}{path}", self.base)).json(&body).send().await.expect("the server answers");
        let status = reply.status().as_u16();
        (status, reply.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> Value {
        self.http.get(format!("{}{path}", self.base)).send().await.expect("answers").json().await.expect("JSON")
    }

    /// Stores the workflow and starts it with these variables; returns the execution id.
    pub async fn start(&self, workflow: Value, variables: Value) -> String {
        let (status, created) = self.post("/api/v1/workflows", workflow).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().expect("an id");
        let (status, run) =
            self.post(&format!("/api/v1/workflows/{id}/execute"), json!({"variables": variables})).await;
        assert_eq!(status, 202, "{run}");
        run["execution_id"].as_str().expect("an execution id").to_owned()
    }

    /// The execution once it ended.
    pub async fn finished(&self, execution: &str) -> Value {
        for _ in 0..3000 {
            let run = self.get(&format!("/api/v1/executions/{execution}")).await;
            if matches!(run["state"].as_str(), Some("Completed" | "Failed" | "Cancelled")) {
                return run;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("execution {execution} did not finish");
    }
}

/// A node's result in an execution body.
pub fn node<'a>(run: &'a Value, id: &str) -> &'a Value {
    run["node_results"].as_array().expect("results").iter().find(|r| r["node_id"] == id).unwrap_or(&Value::Null)
}

/// `{"workflow": ...}` with Start -> the nodes in a chain -> End.
pub fn chain(nodes: Vec<Value>) -> Value {
    let mut all = vec![json!({"id": "start", "name": "Start", "kind": {"type": "Start"}})];
    let mut edges = Vec::new();
    let mut previous = "start".to_owned();
    for node in nodes {
        let id = node["id"].as_str().expect("an id").to_owned();
        edges.push(json!({"from": previous, "to": id}));
        all.push(node);
        previous = id;
    }
    all.push(json!({"id": "end", "name": "End", "kind": {"type": "End"}}));
    edges.push(json!({"from": previous, "to": "end"}));
    json!({"workflow": {"metadata": {"name": "tools test"}, "nodes": all, "edges": edges}})
}

pub fn code(id: &str, runtime: &str, source: &str, inputs: &[&str]) -> Value {
    json!({"id": id, "name": id, "kind": {"type": "Code", "config": {"runtime": runtime, "code": source, "inputs": inputs, "output": "out"}}})
}

pub fn tool(id: &str, server: &str, tool_name: &str, parameters: Value) -> Value {
    json!({"id": id, "name": id, "kind": {"type": "Tool", "config": {"server_id": server, "tool_name": tool_name, "parameters": parameters}}})
}

/// One attempt of `node` (a whole node, `{"id", "name", "kind", ...}`) by the runner the
/// configuration wires for its kind, outside the executor, over `variables`.
pub async fn attempt(config: &Config, node: Value, variables: Value) -> Result<NodeOutput, RunnerError> {
    attempt_with(config.clone(), node, variables, CancellationToken::new()).await
}

pub async fn attempt_with(
    config: Config,
    node: Value,
    variables: Value,
    cancel: CancellationToken,
) -> Result<NodeOutput, RunnerError> {
    let (runner, input) = prepared(&config, node, variables);
    runner.run(input, cancel).await
}

/// The runner the configuration wires for `node`'s kind, and the input of one attempt of it
/// over `variables`, ready to run (so a test can time the run alone).
pub fn prepared(config: &Config, node: Value, variables: Value) -> (Arc<dyn NodeRunner>, NodeInput) {
    let runners = runners_with_env(config, |_| None).expect("the runners");
    let id = node["id"].as_str().expect("an id").to_owned();
    let draft: WorkflowDraft = serde_json::from_value(chain(vec![node])["workflow"].clone()).expect("a workflow");
    let now = chrono::Utc::now();
    let workflow = validate(draft.complete(WorkflowId::generate(), now, now)).expect("valid");
    let node_index = workflow.index_of(&NodeId::new(&id)).expect("the node");
    let runner = runners.get(workflow.node(node_index).kind.tag()).expect("a runner for the kind");
    let Value::Object(variables) = variables else { panic!("variables are an object") };
    let input = NodeInput {
        scope: oxify_api::domain::access::Scope::DEFAULT,
        execution_id: ExecutionId::generate(),
        workflow: workflow.clone(),
        node_index,
        attempt: 1,
        data: DataContext {
            variables: Arc::new(variables),
            outputs: Arc::new(NodeOutputs::new(workflow.graph().index.clone())),
            secrets: Arc::default(),
        },
        sink: AttemptSink::discarding(),
        budget: Arc::new(Mutex::new(Budget::new(BudgetLimits::default(), Usage::default()))),
    };
    (runner, input)
}
