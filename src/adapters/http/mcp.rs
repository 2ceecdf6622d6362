//! MCP routes: the servers a workspace registered (streamable HTTP, or stdio commands this server
//! allows), their tools with input schemas, tool calls, and the calls and errors counted.
//! Registering and unregistering need the Admin role, invoking a tool Write, reading Read.
//! Header and environment values are never shown: a value that only names secrets
//! (`Bearer {{ secrets.TOKEN }}`) is shown as written, any other as `***`.

use super::AppState;
use super::caller::{Admin, Caller, Writer};
use super::dto::MessageResponse;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiQuery, OptionalJson};
use crate::app::mcp::Invoked;
use crate::domain::mcp::{McpServer, McpServerStats, McpTransport};
use crate::ports::McpToolInfo;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

/// A server to register: a name and how to reach it, `transport` telling which fields apply.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"name": "calc", "transport": "streamable_http", "url": "https://mcp.example.com/mcp",
    "headers": {"Authorization": "Bearer {{ secrets.CALC_TOKEN }}"}}))]
pub struct RegisterRequest {
    /// Letters, digits, `-`, `_` and `.`, starting with a letter (at most 64), unique in the
    /// workspace: what a Tool node's `server_id` names.
    #[schema(pattern = r"^[A-Za-z][A-Za-z0-9._-]{0,63}$", example = "calc")]
    pub name: String,
    #[serde(flatten)]
    pub transport: McpTransport,
}

/// A registered server as shown.
#[derive(Serialize, ToSchema)]
pub struct ServerBody {
    pub name: String,
    /// `streamable_http` or `stdio`.
    pub transport: String,
    /// Streamable HTTP: the endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Streamable HTTP: header names, values masked unless they only name secrets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// Stdio: the command run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Stdio: variable names, values masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    pub created_at: DateTime<Utc>,
    pub stats: McpServerStats,
}

/// A value that is nothing but secret references and text around them stays; any other is
/// masked (it may be a credential typed in clear).
fn masked(value: &str) -> String {
    if value.contains("{{") && value.contains("secrets.") { value.to_owned() } else { "***".to_owned() }
}

impl From<McpServer> for ServerBody {
    fn from(s: McpServer) -> Self {
        let mut body = Self {
            name: s.name,
            transport: s.transport.kind().to_owned(),
            url: None,
            headers: None,
            command: None,
            args: None,
            env: None,
            created_at: s.created_at,
            stats: s.stats,
        };
        match s.transport {
            McpTransport::StreamableHttp { url, headers } => {
                body.url = Some(url);
                body.headers = Some(headers.into_iter().map(|(k, v)| (k, masked(&v))).collect());
            }
            McpTransport::Stdio { command, args, env } => {
                body.command = Some(command);
                body.args = Some(args);
                body.env = Some(env.into_keys().map(|k| (k, "***".to_owned())).collect());
            }
        }
        body
    }
}

#[derive(Serialize, ToSchema)]
pub struct ServerList {
    pub servers: Vec<ServerBody>,
    pub total: u64,
}

/// Registers an MCP server in the caller's workspace. Admins only. A stdio command must be on
/// the server's allow list (`OXIFY_MCP_STDIO_ALLOW`, else 403); a URL must pass the address
/// guard (`OXIFY_HTTP_ALLOW` opens private hosts). The server is not contacted now.
#[utoipa::path(
    post, path = "/api/v1/mcp/servers/register", tag = "mcp", request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered", body = ServerBody),
        (status = 400, description = "A bad name, URL, header or command (every problem listed), or a refused address", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not an admin, or a stdio command this server does not allow", body = ErrorBody),
        (status = 409, description = "The workspace has a server of this name", body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
pub async fn register_server(
    State(state): State<AppState>,
    Admin(scope): Admin,
    caller: Caller,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<ServerBody>), ApiError> {
    let server = state.mcp.register(scope, &request.name, request.transport).await?;
    let details = serde_json::json!({"transport": server.transport.kind()});
    state.audit.record(&caller.0, "mcp_server.registered", Some(server.name.clone()), details).await;
    Ok((StatusCode::CREATED, Json(server.into())))
}

/// The workspace's MCP servers, by name, with their stats.
#[utoipa::path(
    get, path = "/api/v1/mcp/servers", tag = "mcp",
    responses((status = 200, body = ServerList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn list_servers(State(state): State<AppState>, caller: Caller) -> Result<Json<ServerList>, ApiError> {
    let servers: Vec<ServerBody> = state.mcp.list(caller.scope()).await?.into_iter().map(Into::into).collect();
    Ok(Json(ServerList { total: servers.len() as u64, servers }))
}

/// Which server to unregister: `?name=` or a JSON body `{"name": ...}`.
#[derive(Default, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct ServerName {
    /// The server's name.
    pub name: Option<String>,
}

/// Unregisters a server: Tool nodes naming it fail from then on. Admins only.
#[utoipa::path(
    delete, path = "/api/v1/mcp/servers/unregister", tag = "mcp", params(ServerName),
    request_body(content = Option<ServerName>, description = "The name, when not in the query"),
    responses(
        (status = 200, body = MessageResponse), (status = 400, description = "No name given", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    )
)]
pub async fn unregister_server(
    State(state): State<AppState>,
    Admin(scope): Admin,
    caller: Caller,
    ApiQuery(query): ApiQuery<ServerName>,
    OptionalJson(body): OptionalJson<ServerName>,
) -> Result<Json<MessageResponse>, ApiError> {
    let name = query
        .name
        .or(body.name)
        .ok_or_else(|| ApiError::bad_request("name the server to unregister: ?name=... or {\"name\": ...}"))?;
    state.mcp.unregister(scope, &name).await?;
    state.audit.record(&caller.0, "mcp_server.unregistered", Some(name), serde_json::json!({})).await;
    Ok(Json(MessageResponse { message: "MCP server unregistered successfully".into() }))
}

/// Whose tools to list.
#[derive(Deserialize, ToSchema)]
pub struct ToolsRequest {
    /// The server's name (`server_id` is accepted too, as in a Tool node).
    #[serde(alias = "server_id")]
    pub server: String,
}

/// One tool.
#[derive(Serialize, ToSchema)]
pub struct ToolBody {
    pub name: String,
    pub description: Option<String>,
    /// A JSON Schema object: what the tool's arguments must be.
    #[schema(value_type = Object)]
    pub input_schema: Value,
}

impl From<McpToolInfo> for ToolBody {
    fn from(t: McpToolInfo) -> Self {
        Self { name: t.name, description: t.description, input_schema: t.input_schema }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ToolList {
    pub server: String,
    pub tools: Vec<ToolBody>,
}

/// The tools of a registered server, with their input schemas (asks the server).
#[utoipa::path(
    post, path = "/api/v1/mcp/tools", tag = "mcp", request_body = ToolsRequest,
    responses(
        (status = 200, body = ToolList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No such server in the workspace", body = ErrorBody),
        (status = 503, description = "The server cannot be reached", body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
pub async fn list_tools(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<ToolsRequest>,
) -> Result<Json<ToolList>, ApiError> {
    let tools = state.mcp.server_tools(caller.scope(), &request.server).await?;
    Ok(Json(ToolList { server: request.server, tools: tools.into_iter().map(Into::into).collect() }))
}

/// A tool call.
#[derive(Deserialize, ToSchema)]
pub struct InvokeRequest {
    /// The server's name (`server_id` is accepted too).
    #[serde(alias = "server_id")]
    pub server: String,
    /// The tool's name (`tool_name` is accepted too).
    #[serde(alias = "tool_name")]
    pub tool: String,
    /// A JSON object fitting the tool's input schema (`parameters` is accepted too); `{}` when
    /// absent.
    #[serde(default, alias = "parameters")]
    #[schema(value_type = Object)]
    pub arguments: Option<Value>,
}

/// What the tool answered.
#[derive(Serialize, ToSchema)]
pub struct InvokeResponse {
    pub server: String,
    pub tool: String,
    /// Whether the tool reported an error (then `error` says what, and `result` is absent).
    pub is_error: bool,
    /// The tool's structured content, or `{"content": [...]}` (its content blocks).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Calls a tool of a registered server. The arguments are checked against the tool's input
/// schema first; every problem is listed in a 400. Needs the Write role.
#[utoipa::path(
    post, path = "/api/v1/mcp/tools/invoke", tag = "mcp", request_body = InvokeRequest,
    responses(
        (status = 200, description = "The tool ran (it may have reported an error: `is_error`)", body = InvokeResponse),
        (status = 400, description = "Arguments that do not fit the tool's input schema", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No such server in the workspace, or no such tool", body = ErrorBody),
        (status = 503, description = "The server cannot be reached", body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
pub async fn invoke_tool(
    State(state): State<AppState>,
    Writer(scope): Writer,
    ApiJson(request): ApiJson<InvokeRequest>,
) -> Result<Json<InvokeResponse>, ApiError> {
    let arguments = request.arguments.unwrap_or_else(|| Value::Object(serde_json::Map::new()));
    let invoked = state.mcp.invoke(scope, &request.server, &request.tool, arguments).await?;
    let (is_error, result, error) = match invoked {
        Invoked::Result(value) => (false, Some(value), None),
        Invoked::ToolError(message) => (true, None, Some(message)),
    };
    Ok(Json(InvokeResponse { server: request.server, tool: request.tool, is_error, result, error }))
}

/// One server's counts.
#[derive(Serialize, ToSchema)]
pub struct ServerStats {
    pub name: String,
    pub transport: String,
    pub calls: u64,
    pub errors: u64,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Tool calls and errors of the workspace's servers since each was registered.
#[derive(Serialize, ToSchema)]
pub struct StatsResponse {
    pub servers: Vec<ServerStats>,
    pub total_servers: u64,
    pub total_calls: u64,
    pub total_errors: u64,
}

/// Calls and errors counted per server (through Tool nodes and the invoke route alike).
#[utoipa::path(
    get, path = "/api/v1/mcp/stats", tag = "mcp",
    responses((status = 200, body = StatsResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn stats(State(state): State<AppState>, caller: Caller) -> Result<Json<StatsResponse>, ApiError> {
    let servers: Vec<ServerStats> = state
        .mcp
        .list(caller.scope())
        .await?
        .into_iter()
        .map(|s| ServerStats {
            transport: s.transport.kind().to_owned(),
            name: s.name,
            calls: s.stats.calls,
            errors: s.stats.errors,
            last_used_at: s.stats.last_used_at,
        })
        .collect();
    Ok(Json(StatsResponse {
        total_servers: servers.len() as u64,
        total_calls: servers.iter().map(|s| s.calls).sum(),
        total_errors: servers.iter().map(|s| s.errors).sum(),
        servers,
    }))
}
