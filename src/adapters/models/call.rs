//! One provider call, rendered and ready to send, and the parts of its body both protocols build
//! the same way.

use super::conversation::{ToolDef, Turn};
use serde_json::{Map, Value};

/// One call, ready to send.
pub(crate) struct Call<'a> {
    pub client: &'a reqwest::Client,
    pub provider: &'a str,
    pub base_url: String,
    pub api_key: Option<&'a str>,
    pub model: &'a str,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub system: Option<&'a str>,
    pub turns: &'a [Turn],
    /// Tools the caller runs itself, written in the protocol's shape.
    pub tools: &'a [ToolDef],
    /// Tools already written in the provider's shape, sent as they are.
    pub raw_tools: &'a [Value],
    /// `extra_params` without the keys the runner itself handles.
    pub extra: &'a Map<String, Value>,
}

impl Call<'_> {
    /// What both protocols put at the end of a body the same way: sampling, tools (each written
    /// by `tool`), the node's `extra_params` (which may override anything before them) and the
    /// stream switch.
    pub(crate) fn finish_body(&self, body: &mut Map<String, Value>, stream: bool, tool: impl Fn(&ToolDef) -> Value) {
        if let Some(t) = self.temperature {
            body.insert("temperature".into(), serde_json::json!(t));
        }
        if !self.tools.is_empty() || !self.raw_tools.is_empty() {
            let tools = self.tools.iter().map(tool).chain(self.raw_tools.iter().cloned()).collect();
            body.insert("tools".into(), Value::Array(tools));
        }
        body.extend(self.extra.clone());
        body.insert("stream".into(), Value::Bool(stream));
    }
}
