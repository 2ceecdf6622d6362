//! The Tool runner calling a registered MCP server: the test server over stdio (`calc`), and a
//! streamable HTTP server that is down (`down`, a closed port on loopback).

use crate::mcp_server::binary;
use crate::subject::Subject;
use oxify_api::adapters::store::InMemoryStore;
use oxify_api::app::runner_registry::RunnerRegistry;
use oxify_api::app::secrets::SecretService;
use oxify_api::domain::access::Scope;
use oxify_api::domain::mcp::{McpServer, McpServerStats, McpTransport};
use oxify_api::domain::workflow::NodeKindTag;
use oxify_api::ports::McpServerStore;
use oxify_api::startup::config::Config;
use oxify_api::startup::wiring::runners_with_env;
use serde_json::{Value, json};
use std::sync::Arc;

pub struct McpToolSubject {
    runners: RunnerRegistry,
}

fn tool(server: &str, tool_name: &str, parameters: Value) -> Value {
    json!({"type": "Tool", "config": {"server_id": server, "tool_name": tool_name, "parameters": parameters}})
}

impl Subject for McpToolSubject {
    const KIND: NodeKindTag = NodeKindTag::Tool;
    const CALLS_A_MODEL: bool = false;

    async fn new() -> Self {
        let mut config = Config::defaults();
        config.http_allow = "127.0.0.1".into();
        config.mcp_stdio_allow = binary();
        config.mcp_connect_timeout_secs = 5;
        let runners = runners_with_env(&config, |_| None).expect("the runners");
        let store = Arc::new(InMemoryStore::new());
        let servers = [
            ("calc", McpTransport::Stdio { command: binary(), args: Vec::new(), env: Default::default() }),
            (
                "down",
                McpTransport::StreamableHttp { url: "http://127.0.0.1:1/mcp".into(), headers: Default::default() },
            ),
        ];
        for (name, transport) in servers {
            let server = McpServer {
                name: name.into(),
                transport,
                created_at: chrono::Utc::now(),
                stats: McpServerStats::default(),
            };
            store.insert_mcp_server(Scope::DEFAULT, &server).await.unwrap();
        }
        let clock = Arc::new(oxify_api::adapters::clock::SystemClock);
        let cipher = Arc::new(oxify_api::adapters::secrets::XChaCha::ephemeral());
        let secrets = Arc::new(SecretService::new(store.clone(), cipher, clock));
        runners.mcp().expect("the MCP adapter").attach(store, secrets);
        Self { runners }
    }

    fn registry(&self) -> RunnerRegistry {
        self.runners.clone()
    }

    fn succeeding(&self) -> Value {
        tool("calc", "echo", json!({"q": "{{ question }}"}))
    }

    fn slow(&self) -> Value {
        tool("calc", "sleep", json!({"ms": 5000}))
    }

    fn bad_input(&self) -> Value {
        tool("calc", "echo", json!({"q": "{{ no_such_variable }}"}))
    }

    fn upstream_outage(&self) -> Option<Value> {
        Some(tool("down", "add", json!({"a": 1, "b": 2})))
    }
}
