//! A conversation with a model in neither provider's format: the turns of a tool-calling loop
//! and the tools offered, which each protocol module writes in its own wire shape.

use super::reply::ToolCall;
use serde_json::Value;

/// A tool the model may call.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolDef {
    /// What the model calls it: `^[a-zA-Z0-9_-]{1,64}$`, as both providers require.
    pub name: String,
    pub description: String,
    /// The arguments' JSON Schema (an object schema).
    pub parameters: Value,
}

/// What a tool call gave, sent back to the model.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolResult {
    /// The id the model gave the call.
    pub call_id: String,
    /// The result as text (JSON for structured results), or the error message.
    pub content: String,
    pub is_error: bool,
}

/// One turn of a conversation.
#[derive(Clone, Debug, PartialEq)]
pub enum Turn {
    /// The user's prompt, with images (URLs or provider-format parts).
    User { text: String, images: Vec<Value> },
    /// A model's answer: its text and the tools it asked for.
    Assistant { text: String, tool_calls: Vec<ToolCall> },
    /// The results of the tool calls of the assistant turn before.
    ToolResults(Vec<ToolResult>),
}

/// Whether `name` is a tool name both providers accept.
#[must_use]
pub fn valid_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `text` as a tool name both providers accept: other characters become `_`, cut at 64.
#[must_use]
pub fn tool_name(text: &str) -> String {
    let name: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' })
        .take(64)
        .collect();
    if name.is_empty() { "tool".into() } else { name }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_acceptable() {
        assert!(valid_tool_name("get_weather-2"));
        assert!(!valid_tool_name("get weather"));
        assert!(!valid_tool_name(""));
        assert!(!valid_tool_name(&"a".repeat(65)));
        assert_eq!(tool_name("files/read file"), "files_read_file");
        assert_eq!(tool_name(""), "tool");
        assert!(valid_tool_name(&tool_name(&"é".repeat(100))));
    }
}
