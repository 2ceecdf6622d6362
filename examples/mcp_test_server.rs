//! A tiny MCP server the MCP tests start: `add` (`a + b`), `fail` (always answers a tool error),
//! `echo` (answers its arguments), `pid` (the server's process id, to tell a restart) and
//! `sleep` (answers after `ms` milliseconds).
//!
//! `mcp_test_server stdio` serves on stdin and stdout; `mcp_test_server http 127.0.0.1:PORT`
//! serves streamable HTTP at `/mcp`.

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, JsonObject, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Clone)]
struct Tools;

fn schema(value: Value) -> Arc<JsonObject> {
    Arc::new(value.as_object().cloned().unwrap_or_default())
}

fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            "add",
            "Adds two numbers",
            schema(json!({
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"],
                "additionalProperties": false
            })),
        ),
        Tool::new("fail", "Always fails", schema(json!({"type": "object", "properties": {}}))),
        Tool::new("echo", "Answers its arguments", schema(json!({"type": "object"}))),
        Tool::new("pid", "The server's process id", schema(json!({"type": "object"}))),
        Tool::new(
            "sleep",
            "Answers after `ms` milliseconds",
            schema(
                json!({"type": "object", "properties": {"ms": {"type": "integer", "minimum": 0}}, "required": ["ms"]}),
            ),
        ),
    ]
}

impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = Value::Object(request.arguments.unwrap_or_default());
        let result = match request.name.as_ref() {
            "add" => {
                let (a, b) = (args["a"].as_f64().unwrap_or(0.0), args["b"].as_f64().unwrap_or(0.0));
                CallToolResult::structured(json!({"sum": a + b}))
            }
            "fail" => CallToolResult::error(vec![ContentBlock::text("the tool failed on purpose")]),
            "echo" => CallToolResult::success(vec![ContentBlock::text(args.to_string())]),
            "pid" => CallToolResult::structured(json!({"pid": std::process::id()})),
            "sleep" => {
                let ms = args["ms"].as_u64().unwrap_or(0);
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                CallToolResult::structured(json!({"slept_ms": ms}))
            }
            other => return Err(ErrorData::invalid_params(format!("unknown tool {other}"), None)),
        };
        Ok(CallToolResponse::Complete(result))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("http") => {
            let address = args.get(2).map_or("127.0.0.1:0", String::as_str);
            let service = StreamableHttpService::new(
                || Ok(Tools),
                Arc::new(LocalSessionManager::default()),
                StreamableHttpServerConfig::default(),
            );
            let router = axum::Router::new().nest_service("/mcp", service);
            let listener = tokio::net::TcpListener::bind(address).await?;
            println!("listening on {}", listener.local_addr()?);
            axum::serve(listener, router).await?;
        }
        _ => {
            Tools.serve(rmcp::transport::stdio()).await?.waiting().await?;
        }
    }
    Ok(())
}
