//! One provider call, rendered and ready to send, and the parts of its body both protocols build
//! the same way.

use crate::domain::workflow::LlmConfig;
use serde_json::{Map, Value};

/// One call, ready to send.
pub(super) struct Call<'a> {
    pub client: &'a reqwest::Client,
    pub provider: &'a str,
    pub base_url: String,
    pub api_key: Option<&'a str>,
    pub config: &'a LlmConfig,
    pub system: Option<String>,
    pub prompt: String,
    /// `extra_params` without the keys the runner itself handles.
    pub extra: Map<String, Value>,
}

impl Call<'_> {
    /// What both protocols put at the end of a body the same way: sampling, tools, the node's
    /// `extra_params` (which may override anything before them) and the stream switch.
    pub(super) fn finish_body(&self, body: &mut Map<String, Value>, stream: bool) {
        if let Some(t) = self.config.temperature {
            body.insert("temperature".into(), serde_json::json!(t));
        }
        if !self.config.tools.is_empty() {
            body.insert("tools".into(), Value::Array(self.config.tools.clone()));
        }
        body.extend(self.extra.clone());
        body.insert("stream".into(), Value::Bool(stream));
    }
}
