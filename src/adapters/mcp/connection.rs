//! One live MCP client session: a child process on stdio or a streamable HTTP session, started
//! with the initialize handshake, with the tools the server listed then.

use super::McpSettings;
use crate::adapters::outgoing::{AddressGuard, GuardedResolver, same_origin_guarded};
use crate::domain::access::Scope;
use crate::domain::mcp::McpTransport;
use crate::ports::{McpToolInfo, SecretSource};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, LazyLock};

/// A connected server.
pub(super) struct Connection {
    /// The transport it was opened with (a re-registration under the same name opens anew).
    pub transport: McpTransport,
    pub client: RunningService<RoleClient, ()>,
    pub tools: Vec<McpToolInfo>,
}

impl Connection {
    pub fn is_alive(&self) -> bool {
        !self.client.is_closed()
    }
}

/// `{{ secrets.NAME }}` in a header value.
static SECRET: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"\{\{\s*secrets\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}").expect("a valid pattern"));

/// The HTTP client of streamable HTTP servers: through the SSRF guard, no idle pooling (as
/// rmcp's own default: a reused connection can stall on delayed ACKs).
pub(super) fn http_client(guard: Arc<AddressGuard>) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .user_agent(concat!("oxify-api/", env!("CARGO_PKG_VERSION")))
        .no_proxy()
        .dns_resolver(GuardedResolver::new(guard.clone()))
        .redirect(same_origin_guarded(guard))
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|e| format!("cannot build the MCP HTTP client: {e}"))
}

/// Starts a session with the server (a new child process for stdio), lists its tools.
pub(super) async fn connect(
    transport: &McpTransport,
    scope: Scope,
    secrets: &dyn SecretSource,
    http: &reqwest::Client,
    settings: &McpSettings,
) -> Result<Connection, String> {
    let client = match transport {
        McpTransport::Stdio { command, args, env } => {
            if !settings.stdio_allow.iter().any(|allowed| allowed == command) {
                return Err(format!("the command '{command}' is not on this server's stdio allow list"));
            }
            let mut cmd = tokio::process::Command::new(command);
            cmd.args(args).env_clear();
            // The child gets its own variables only: never the server's keys and settings.
            if let Some(path) = std::env::var_os("PATH") {
                cmd.env("PATH", path);
            }
            cmd.envs(env);
            let (process, _) = TokioChildProcess::builder(cmd)
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start '{command}': {e}"))?;
            ().serve(process).await.map_err(|e| format!("the initialize handshake failed: {e}"))?
        }
        McpTransport::StreamableHttp { url, headers } => {
            let headers = reveal_headers(headers, scope, secrets).await?;
            let config = StreamableHttpClientTransportConfig::with_uri(url.as_str()).custom_headers(headers);
            let transport = StreamableHttpClientTransport::with_client(http.clone(), config);
            ().serve(transport).await.map_err(|e| format!("the initialize handshake failed: {e}"))?
        }
    };
    let tools = client.list_all_tools().await.map_err(|e| format!("listing the tools failed: {e}"))?;
    let tools = tools
        .into_iter()
        .map(|t| McpToolInfo {
            name: t.name.into_owned(),
            description: t.description.map(std::borrow::Cow::into_owned),
            input_schema: serde_json::Value::Object((*t.input_schema).clone()),
        })
        .collect();
    Ok(Connection { transport: transport.clone(), client, tools })
}

/// The headers with each `{{ secrets.NAME }}` replaced by the workspace secret's value.
async fn reveal_headers(
    headers: &std::collections::BTreeMap<String, String>,
    scope: Scope,
    secrets: &dyn SecretSource,
) -> Result<HashMap<reqwest::header::HeaderName, reqwest::header::HeaderValue>, String> {
    let names: Vec<String> = {
        let mut names: Vec<String> =
            headers.values().flat_map(|v| SECRET.captures_iter(v).map(|c| c[1].to_owned())).collect();
        names.sort();
        names.dedup();
        names
    };
    let values: HashMap<String, String> = if names.is_empty() {
        HashMap::new()
    } else {
        secrets.reveal(scope, &names, &[]).await.map_err(|e| e.to_string())?.into_iter().collect()
    };
    let mut out = HashMap::with_capacity(headers.len());
    for (name, template) in headers {
        let value =
            SECRET.replace_all(template, |c: &regex::Captures<'_>| values.get(&c[1]).cloned().unwrap_or_default());
        let header = reqwest::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("'{name}' is not a header name"))?;
        let mut value = reqwest::header::HeaderValue::from_str(&value)
            .map_err(|_| format!("the value of header '{name}' is not a valid header value"))?;
        value.set_sensitive(true);
        out.insert(header, value);
    }
    Ok(out)
}
