//! The Tool runner's HTTP tools, as the server wires them with loopback opened
//! (`OXIFY_HTTP_ALLOW=127.0.0.1`), against the fake HTTP API of the tools tests.

use crate::subject::Subject;
use crate::upstream::Upstream;
use oxify_api::app::runner_registry::RunnerRegistry;
use oxify_api::domain::workflow::NodeKindTag;
use oxify_api::startup::config::Config;
use oxify_api::startup::wiring::runners_with_env;
use serde_json::{Value, json};

pub struct ToolSubject {
    api: Upstream,
    runners: RunnerRegistry,
}

impl ToolSubject {
    fn tool(&self, tool_name: &str, parameters: Value) -> Value {
        json!({"type": "Tool", "config": {"server_id": self.api.url, "tool_name": tool_name, "parameters": parameters}})
    }
}

impl Subject for ToolSubject {
    const KIND: NodeKindTag = NodeKindTag::Tool;
    const CALLS_A_MODEL: bool = false;

    async fn new() -> Self {
        let mut config = Config::defaults();
        config.http_allow = "127.0.0.1".into();
        Self { api: Upstream::start().await, runners: runners_with_env(&config, |_| None).expect("the runners") }
    }

    fn registry(&self) -> RunnerRegistry {
        self.runners.clone()
    }

    fn succeeding(&self) -> Value {
        self.tool("GET /echo", json!({"q": "{{ question }}"}))
    }

    fn slow(&self) -> Value {
        self.tool("GET /slow", json!(null))
    }

    fn bad_input(&self) -> Value {
        self.tool("GET /echo", json!({"q": "{{ no_such_variable }}"}))
    }

    fn upstream_outage(&self) -> Option<Value> {
        Some(self.tool("GET /status/503", json!(null)))
    }
}
