//! What a tool call answered, as the port tells it: the structured content or the content
//! blocks, or which [`McpError`] it was.

use crate::ports::McpError;
use rmcp::ServiceError;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use serde_json::{Value, json};

/// The `tools/call` request.
pub(super) fn request(tool: &str, arguments: &Value) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new(tool.to_owned());
    params.arguments = arguments.as_object().cloned();
    params
}

/// The tool's structured content when it gave one, else its content blocks; a result marked
/// `isError` is a [`McpError::ToolFailed`] with its text.
pub(super) fn value(tool: &str, result: CallToolResult) -> Result<Value, McpError> {
    let content = serde_json::to_value(&result.content).unwrap_or(Value::Null);
    if result.is_error == Some(true) {
        let text: Vec<String> = result.content.iter().filter_map(|c| c.as_text().map(|t| t.text.clone())).collect();
        let message = if text.is_empty() { content.to_string() } else { text.join("\n") };
        return Err(McpError::ToolFailed { tool: tool.to_owned(), message });
    }
    Ok(match result.structured_content {
        Some(structured) => structured,
        None => json!({ "content": content }),
    })
}

/// Whether the failure means the session is gone (a process that died, a server that
/// restarted), so that a new connection may succeed where this one failed.
pub(super) fn is_dead_connection(e: &ServiceError) -> bool {
    matches!(e, ServiceError::TransportClosed | ServiceError::TransportSend(_) | ServiceError::Cancelled { .. })
}

pub(super) fn failure(server: &str, tool: &str, e: ServiceError) -> McpError {
    match e {
        ServiceError::McpError(data) => {
            McpError::ToolFailed { tool: tool.to_owned(), message: data.message.into_owned() }
        }
        other => McpError::Unavailable { server: server.to_owned(), reason: other.to_string(), retry_after: None },
    }
}
