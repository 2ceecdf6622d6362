//! LLM nodes end to end: the real server and the real LLM runner, pointed by base URL at a fake
//! provider on 127.0.0.1 that speaks the providers' wire protocols.

mod cases;
mod faults;
mod late;
mod mcp_tools;
mod picture;
mod provider;
mod rag;
mod rag_stores;
mod rerun;
mod secrets;
mod tool_loop;
mod upstream;
mod vision;

use eventsource_stream::{Event, Eventsource};
use futures::StreamExt;
use oxify_api::app::executor::ExecutorLimits;
use oxify_api::app::services::Services;
use oxify_api::startup::config::Config;
use oxify_api::startup::server::Server;
use oxify_api::startup::wiring::{self, runners_with_env};
use provider::Provider;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

pub const OPENAI_KEY: &str = "sk-test-0123456789-secret";
pub const ANTHROPIC_KEY: &str = "sk-ant-test-9876543210-secret";
pub const OLLAMA_KEY: &str = "ollama-test-5555555555-secret";

pub struct Harness {
    pub server: Server,
    pub provider: Provider,
    /// Where the fake provider listens (`http://127.0.0.1:<port>`).
    pub provider_url: String,
    pub http: reqwest::Client,
    pub base: String,
}

/// A server whose providers all point at one fake provider.
pub async fn harness(configure: impl FnOnce(&mut Config)) -> Harness {
    harness_with(&[], configure).await
}

/// [`harness`] with more environment variables for the providers.
pub async fn harness_with(extra: &[(&'static str, &str)], configure: impl FnOnce(&mut Config)) -> Harness {
    let (provider, provider_url) = Provider::start().await;
    let mut env: HashMap<&str, String> = HashMap::from([
        ("OPENAI_BASE_URL", format!("{provider_url}/v1")),
        ("OPENAI_API_KEY", OPENAI_KEY.to_owned()),
        ("ANTHROPIC_BASE_URL", provider_url.clone()),
        ("ANTHROPIC_API_KEY", ANTHROPIC_KEY.to_owned()),
        ("OLLAMA_HOST", provider_url.clone()),
    ]);
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    harness_from_env(provider, provider_url, env, configure).await
}

/// A server whose provider settings are exactly `env`, pointed at `provider`.
pub async fn harness_from_env(
    provider: Provider,
    provider_url: String,
    env: HashMap<&'static str, String>,
    configure: impl FnOnce(&mut Config),
) -> Harness {
    let mut config = Config::defaults();
    config.host = "127.0.0.1".into();
    config.port = 0;
    config.database_url = "memory://".into();
    config.access.allow_anonymous = true;
    config.access.rate_limit_per_min = 0;
    configure(&mut config);
    let runners = runners_with_env(&config, |k| env.get(k).cloned()).unwrap();
    let limits = ExecutorLimits {
        max_concurrent_nodes: config.max_concurrent_nodes as usize,
        default_node_timeout: config.node_timeout(),
        ..ExecutorLimits::default()
    };
    let mut ports = wiring::in_memory(runners);
    // The vector databases the configuration names, as the server's start wires them.
    ports.vector_indexes = wiring::vector_indexes(&config).unwrap();
    let services = Services::assemble(ports, limits, Duration::from_secs(30));
    let server = Server::start(&config, services).await.unwrap();
    let base = format!("http://{}", server.addr());
    Harness { server, provider, provider_url, http: reqwest::Client::new(), base }
}

pub fn llm(id: &str, provider: &str, prompt: &str, extra: Value) -> Value {
    let mut config = json!({"provider": provider, "model": "test-model", "prompt_template": prompt, "max_tokens": 64});
    if let Value::Object(map) = extra {
        config.as_object_mut().unwrap().extend(map);
    }
    json!({"id": id, "name": id.to_uppercase(), "kind": {"type": "LLM", "config": config}})
}

/// Start -> the given nodes in a chain -> End.
pub fn chain(nodes: Vec<Value>) -> Value {
    let mut all = vec![json!({"id": "start", "name": "Start", "kind": {"type": "Start"}})];
    let mut edges = Vec::new();
    let mut previous = "start".to_owned();
    for node in nodes {
        let id = node["id"].as_str().unwrap().to_owned();
        edges.push(json!({"from": previous, "to": id}));
        all.push(node);
        previous = id;
    }
    all.push(json!({"id": "end", "name": "End", "kind": {"type": "End"}}));
    edges.push(json!({"from": previous, "to": "end"}));
    json!({"workflow": {"metadata": {"name": "llm test"}, "nodes": all, "edges": edges}})
}

impl Harness {
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let reply = self.http.post(format!("{}{path}", self.base)).json(&body).send().await.unwrap();
        let status = reply.status().as_u16();
        (status, reply.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> Value {
        self.http.get(format!("{}{path}", self.base)).send().await.unwrap().json().await.unwrap()
    }

    /// Stores the workflow and starts it; returns the execution id.
    pub async fn start(&self, workflow: Value, request: Value) -> String {
        let (status, created) = self.post("/api/v1/workflows", workflow).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap();
        let (status, run) = self.post(&format!("/api/v1/workflows/{id}/execute"), request).await;
        assert_eq!(status, 202, "{run}");
        run["execution_id"].as_str().unwrap().to_owned()
    }

    pub async fn finished(&self, execution: &str) -> Value {
        for _ in 0..1000 {
            let run = self.get(&format!("/api/v1/executions/{execution}")).await;
            if matches!(run["state"].as_str(), Some("Completed" | "Failed" | "Cancelled")) {
                return run;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("execution {execution} did not finish");
    }

    /// Every SSE event of an execution, until the stream closes.
    pub async fn events(&self, execution: &str) -> Vec<Event> {
        let reply = self.http.get(format!("{}/api/v1/executions/{execution}/stream", self.base)).send().await.unwrap();
        let stream = reply.bytes_stream().eventsource().map(Result::unwrap);
        tokio::time::timeout(Duration::from_secs(30), stream.collect()).await.expect("stream closes")
    }
}

pub fn node<'a>(run: &'a Value, id: &str) -> &'a Value {
    run["node_results"].as_array().unwrap().iter().find(|r| r["node_id"] == id).unwrap_or(&Value::Null)
}
