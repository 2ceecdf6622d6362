//! MCP servers a workspace registered: how to reach one (streamable HTTP or a stdio command) and
//! what it has done (calls and errors). Header values may name workspace secrets as
//! `{{ secrets.NAME }}`; their values are revealed only to connect, never stored here or shown.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Longest server name.
pub const MAX_NAME_LEN: usize = 64;

/// How the server is reached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "transport", rename_all = "snake_case")]
pub enum McpTransport {
    /// Streamable HTTP (MCP specification 2025-06-18, "Transports") at `url`.
    StreamableHttp {
        /// The server's endpoint, `http(s)://host[:port]/path`.
        url: String,
        /// Sent with every request; values may hold `{{ secrets.NAME }}`, replaced by the
        /// workspace secret when connecting.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: BTreeMap<String, String>,
    },
    /// A child process speaking MCP on stdin and stdout. `command` must be on the server's
    /// allow list (`OXIFY_MCP_STDIO_ALLOW`).
    Stdio {
        command: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        args: Vec<String>,
        /// Environment variables of the child (added to a cleared environment, except `PATH`).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        env: BTreeMap<String, String>,
    },
}

impl McpTransport {
    /// `streamable_http` or `stdio`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::StreamableHttp { .. } => "streamable_http",
            Self::Stdio { .. } => "stdio",
        }
    }

    /// The workspace secrets the headers name, sorted, without repeats.
    #[must_use]
    pub fn secret_references(&self) -> Vec<String> {
        match self {
            Self::StreamableHttp { headers, .. } => {
                let values: Vec<serde_json::Value> = headers.values().cloned().map(serde_json::Value::String).collect();
                crate::domain::secrets::references(&serde_json::Value::Array(values))
            }
            Self::Stdio { .. } => Vec::new(),
        }
    }
}

/// What a server has done since it was registered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct McpServerStats {
    /// Tool calls made (through a workflow node or the invoke route), failed ones included.
    pub calls: u64,
    /// Calls that failed: unreachable server, bad arguments, or a tool error.
    pub errors: u64,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A registered server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct McpServer {
    /// Unique in its workspace; what a Tool node's `server_id` names.
    pub name: String,
    pub transport: McpTransport,
    pub created_at: DateTime<Utc>,
    pub stats: McpServerStats,
}

/// Why `name` is not a server name, or `None` when it is: letters, digits, `-`, `_` and `.`,
/// starting with a letter, at most [`MAX_NAME_LEN`] characters, and not an http(s) URL (those
/// are HTTP tools).
#[must_use]
pub fn name_problem(name: &str) -> Option<String> {
    let first_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if name.len() > MAX_NAME_LEN {
        Some(format!("an MCP server name has at most {MAX_NAME_LEN} characters"))
    } else if !first_ok || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        Some(format!(
            "'{name}' is not an MCP server name: use letters, digits, '-', '_' and '.', starting with a letter"
        ))
    } else {
        None
    }
}

/// Whether a Tool node's `server_id` names a server (rather than an HTTP tool's base URL).
#[must_use]
pub fn is_server_name(server_id: &str) -> bool {
    !(server_id.starts_with("http://") || server_id.starts_with("https://"))
}

/// Every problem of `transport` as registered (not counting the stdio allow list, which is the
/// server's configuration): a URL that is not http(s), bad header names, empty commands.
#[must_use]
pub fn transport_problems(transport: &McpTransport) -> Vec<String> {
    let mut problems = Vec::new();
    match transport {
        McpTransport::StreamableHttp { url, headers } => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                problems.push(format!("url: '{url}' is not an http(s) URL"));
            }
            for name in headers.keys() {
                let token = !name.is_empty()
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
                if !token {
                    problems.push(format!("headers.{name}: not a valid header name"));
                }
            }
        }
        McpTransport::Stdio { command, env, .. } => {
            if command.trim().is_empty() {
                problems.push("command: must not be empty".to_owned());
            }
            for name in env.keys() {
                if name.is_empty() || name.contains('=') || name.contains('\0') {
                    problems.push(format!("env.{name}: not a valid variable name"));
                }
            }
        }
    }
    problems
}

/// Every way `arguments` fail a tool's `input_schema`, each as (JSON path below the arguments,
/// what is wrong), in the validator's order. Empty when they fit, or when the schema itself does
/// not compile (the server's mistake, left to the server to report).
#[must_use]
pub fn argument_problems(input_schema: &serde_json::Value, arguments: &serde_json::Value) -> Vec<(String, String)> {
    if !arguments.is_object() {
        return vec![(String::new(), "the arguments must be a JSON object".to_owned())];
    }
    let Ok(validator) = jsonschema::options().build(input_schema) else { return Vec::new() };
    validator
        .iter_errors(arguments)
        .map(|e| {
            let path = e.instance_path().as_str().trim_start_matches('/').replace('/', ".");
            let text: String = e.masked().to_string().chars().take(500).collect();
            (path, text)
        })
        .collect()
}

/// [`argument_problems`] as one line: `path: problem; path: problem`.
#[must_use]
pub fn describe_problems(problems: &[(String, String)]) -> String {
    let each =
        problems.iter().map(|(path, text)| if path.is_empty() { text.clone() } else { format!("{path}: {text}") });
    each.collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_argument_problem_is_listed() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
            "required": ["a", "b"]
        });
        assert!(argument_problems(&schema, &serde_json::json!({"a": 1, "b": 2})).is_empty());
        let problems = argument_problems(&schema, &serde_json::json!({"a": "x"}));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().any(|(path, _)| path == "a"));
        assert!(describe_problems(&problems).contains("a: "));
        assert_eq!(argument_problems(&schema, &serde_json::json!([1])).len(), 1);
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(name_problem("calc-1.v2_x"), None);
        assert!(name_problem("1calc").is_some());
        assert!(name_problem("http://x").is_some());
        assert!(name_problem(&"a".repeat(65)).is_some());
        assert!(is_server_name("calc") && !is_server_name("https://api.example.com"));
    }

    #[test]
    fn transports_read_and_write_as_tagged_objects() {
        let http: McpTransport = serde_json::from_value(serde_json::json!({
            "transport": "streamable_http", "url": "http://127.0.0.1:1/mcp",
            "headers": {"Authorization": "Bearer {{ secrets.TOKEN }}"}
        }))
        .unwrap();
        assert_eq!(http.kind(), "streamable_http");
        assert_eq!(http.secret_references(), vec!["TOKEN".to_owned()]);
        let stdio: McpTransport =
            serde_json::from_value(serde_json::json!({"transport": "stdio", "command": "srv"})).unwrap();
        assert_eq!(serde_json::to_value(&stdio).unwrap(), serde_json::json!({"transport": "stdio", "command": "srv"}));
        assert!(transport_problems(&stdio).is_empty());
        let bad = McpTransport::StreamableHttp { url: "ftp://x".into(), headers: [("a b".into(), "v".into())].into() };
        assert_eq!(transport_problems(&bad).len(), 2);
    }
}
