//! Shared test set-up: the real router and server with in-memory storage, a scripted runner for
//! Code nodes (the real code runner comes later), request helpers and workflow builders.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use oxify_api::adapters::http::{self, AppState, HttpSettings};
use oxify_api::app::executor::ExecutorLimits;
use oxify_api::app::runner_registry::RunnerRegistry;
use oxify_api::app::services::Services;
use oxify_api::domain::template;
use oxify_api::domain::workflow::{NodeKind, NodeKindTag};
use oxify_api::ports::{NodeInput, NodeOutput, NodeRunner, RunnerError};
use oxify_api::startup::config::Config;
use oxify_api::startup::server::Server;
use oxify_api::startup::wiring;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Runs Code nodes by a tiny script in `code`: `sleep <ms>`, `fail <message>`, `flaky <message>`
/// (a retryable failure), or `echo <template>` (renders the template).
pub struct ScriptRunner;

#[async_trait::async_trait]
impl NodeRunner for ScriptRunner {
    async fn run(&self, input: NodeInput, cancel: CancellationToken) -> Result<NodeOutput, RunnerError> {
        self.script(input, cancel).await.map(NodeOutput::of)
    }
}

impl ScriptRunner {
    async fn script(&self, input: NodeInput, cancel: CancellationToken) -> Result<Value, RunnerError> {
        let NodeKind::Code(config) = &input.node().kind else { return Err(RunnerError::Permanent("not code".into())) };
        let (verb, arg) = config.code.split_once(' ').unwrap_or((config.code.as_str(), ""));
        match verb {
            "sleep" => {
                let ms: u64 = arg.parse().unwrap_or(0);
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(ms)) => Ok(json!({"slept_ms": ms})),
                    () = cancel.cancelled() => Err(RunnerError::Permanent("cancelled".into())),
                }
            }
            "fail" => Err(RunnerError::Permanent(arg.into())),
            "flaky" => Err(RunnerError::retryable(arg)),
            "echo" => template::render(arg, &input.data).map(Value::String).map_err(RunnerError::Permanent),
            other => Err(RunnerError::Permanent(format!("unknown script verb {other}"))),
        }
    }
}

/// In-memory services with their maintenance running (it wakes parked runs), as the server runs
/// them. Needs a tokio runtime.
pub fn services() -> Services {
    let runners = RunnerRegistry::new().with(NodeKindTag::Code, Arc::new(ScriptRunner)).with_mcp(mcp());
    let services =
        Services::assemble(wiring::in_memory(runners), ExecutorLimits::default(), std::time::Duration::from_secs(30));
    let maintained = services.clone();
    tokio::spawn(async move { maintained.recover_and_maintain(CancellationToken::new()).await });
    services
}

/// The MCP adapter, letting the MCP test server run as a stdio server.
pub fn mcp() -> Arc<oxify_api::adapters::mcp::McpHub> {
    use oxify_api::adapters::mcp::{McpHub, McpSettings};
    use oxify_api::adapters::outgoing::{AddressGuard, AllowList};
    let settings = McpSettings { stdio_allow: vec![super::mcp_server::binary()], ..McpSettings::default() };
    let guard = Arc::new(AddressGuard::new(AllowList::parse("127.0.0.1").expect("an allow list")));
    Arc::new(McpHub::new(settings, guard).expect("the MCP adapter"))
}

pub fn router_with(services: &Services, settings: HttpSettings) -> Router {
    router_authenticating(services, settings, Arc::new(oxify_api::adapters::auth::OpenAccess::default()))
}

/// The real router, letting requests in through `auth`.
pub fn router_authenticating(
    services: &Services,
    settings: HttpSettings,
    auth: Arc<dyn oxify_api::ports::Authenticator>,
) -> Router {
    http::router(AppState {
        auth,
        workflows: services.workflows.clone(),
        executions: services.executions.clone(),
        event_streams: services.event_streams.clone(),
        idempotency: services.idempotency.clone(),
        identity: oxify_api::startup::access::local_identity(services.identities.clone()),
        secrets: services.secrets.clone(),
        mcp: services.mcp.clone(),
        audit: services.audit.clone(),
        collections: services.collections.clone(),
        files: services.files.clone(),
        human_tasks: services.human_tasks.clone(),
        settings: Arc::new(settings),
        streams_closing: CancellationToken::new(),
    })
}

/// The real router over fresh in-memory services.
pub fn app() -> Router {
    router_with(&services(), HttpSettings::default())
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

/// Sends one request through the router (no socket).
pub async fn send(app: &Router, method: Method, uri: &str, body: Option<Value>) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    let body = match body {
        Some(v) => {
            req = req.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    send_request(app, req.body(body).unwrap()).await
}

pub async fn send_request(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply { status, headers, body, text }
}

pub async fn get(app: &Router, uri: &str) -> Reply {
    send(app, Method::GET, uri, None).await
}

pub async fn post(app: &Router, uri: &str, body: Value) -> Reply {
    send(app, Method::POST, uri, Some(body)).await
}

pub fn node(id: &str, kind: Value) -> Value {
    json!({"id": id, "name": id.to_uppercase(), "kind": kind})
}

pub fn start(id: &str) -> Value {
    node(id, json!({"type": "Start"}))
}

pub fn end(id: &str) -> Value {
    node(id, json!({"type": "End"}))
}

pub fn code(id: &str, script: &str) -> Value {
    node(id, json!({"type": "Code", "config": {"runtime": "rhai", "code": script, "output": "out"}}))
}

pub fn edge(from: &str, to: &str) -> Value {
    json!({"from": from, "to": to})
}

pub fn workflow(nodes: Value, edges: Value) -> Value {
    json!({"workflow": {"metadata": {"name": "test"}, "nodes": nodes, "edges": edges}})
}

/// Start -> work (a script) -> End.
pub fn chain(script: &str) -> Value {
    workflow(
        json!([start("start"), code("work", script), end("end")]),
        json!([edge("start", "work"), edge("work", "end")]),
    )
}

/// Stores a workflow and returns its id.
pub async fn create(app: &Router, body: Value) -> String {
    let reply = post(app, "/api/v1/workflows", body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body["id"].as_str().unwrap().to_owned()
}

/// Starts an execution and returns its id.
pub async fn execute(app: &Router, workflow_id: &str, variables: Value) -> String {
    let reply = post(app, &format!("/api/v1/workflows/{workflow_id}/execute"), json!({"variables": variables})).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    reply.body["execution_id"].as_str().unwrap().to_owned()
}

/// Polls an execution until it is in a final state.
pub async fn finished(app: &Router, execution_id: &str) -> Value {
    for _ in 0..500 {
        let reply = get(app, &format!("/api/v1/executions/{execution_id}")).await;
        if matches!(reply.body["state"].as_str(), Some("Completed" | "Failed" | "Cancelled")) {
            return reply.body;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("execution {execution_id} did not finish");
}

/// Polls until the node has the given status.
pub async fn wait_for_node(app: &Router, execution_id: &str, node_id: &str, status: &str) {
    for _ in 0..500 {
        let body = get(app, &format!("/api/v1/executions/{execution_id}")).await.body;
        let found = body["node_results"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["node_id"] == node_id && r["status"] == status);
        if found {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("node {node_id} never became {status}");
}

/// The node result of `node_id` in an execution body.
pub fn result<'a>(execution: &'a Value, node_id: &str) -> &'a Value {
    execution["node_results"].as_array().unwrap().iter().find(|r| r["node_id"] == node_id).unwrap_or(&Value::Null)
}

/// A real server on 127.0.0.1 with a free port.
pub async fn spawn_server(configure: impl FnOnce(&mut Config)) -> Server {
    let mut config = Config::defaults();
    config.host = "127.0.0.1".into();
    config.port = 0;
    // These tests are about everything but access: anonymous access, and no request limits.
    config.access.allow_anonymous = true;
    config.access.rate_limit_per_min = 0;
    configure(&mut config);
    Server::start(&config, services()).await.unwrap()
}
