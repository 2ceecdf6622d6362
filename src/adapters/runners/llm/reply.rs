//! A model's answer as it accumulates from a stream (or arrives whole), and the node output made
//! of it: text, tool calls, finish reason, token usage and cost.

use super::settings::Price;
use crate::domain::usage::Usage;
use crate::ports::RunnerError;
use serde_json::{Value, json};

/// A tool call, its arguments accumulated as JSON text.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// Tokens a call used, as the provider reported them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Tokens {
    pub input: u64,
    pub output: u64,
}

/// Tool calls accepted in one answer.
pub(super) const MAX_TOOL_CALLS: usize = 128;

#[derive(Debug, Default)]
pub(super) struct Reply {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: Option<String>,
    pub usage: Option<Tokens>,
    pub model: Option<String>,
}

impl Reply {
    /// The tool call at the position a provider's stream gives, created when first seen; a
    /// position past [`MAX_TOOL_CALLS`] fails the call instead of allocating that many.
    pub fn tool_call_at(&mut self, index: u64, provider: &str) -> Result<&mut ToolCall, RunnerError> {
        match usize::try_from(index) {
            Ok(i) if i < MAX_TOOL_CALLS => Ok(self.tool_call(i)),
            _ => Err(RunnerError::Permanent(format!(
                "{provider} sent tool call number {index}; at most {MAX_TOOL_CALLS} are accepted"
            ))),
        }
    }

    /// The tool call at stream position `index`, created when first seen.
    pub fn tool_call(&mut self, index: usize) -> &mut ToolCall {
        if self.tool_calls.len() <= index {
            self.tool_calls.resize_with(index + 1, ToolCall::default);
        }
        &mut self.tool_calls[index]
    }

    /// Fails when the model produced nothing at all.
    pub fn ensure_answered(&self, provider: &str) -> Result<(), RunnerError> {
        if self.text.is_empty() && self.tool_calls.is_empty() && self.finish_reason.is_none() {
            return Err(RunnerError::Permanent(format!(
                "{provider} returned no answer (no text, no tool call, no finish reason)"
            )));
        }
        Ok(())
    }

    /// The node's output.
    /// The node's output, and the call's usage when the provider reported it (the output shows
    /// it too, under `usage`, as the seed's LLM output did).
    pub fn into_output(
        self,
        provider: &str,
        requested_model: &str,
        prompt: &str,
        price: Option<Price>,
    ) -> (Value, Option<Usage>) {
        let usage = self.usage.map(|t| Usage {
            input_tokens: t.input,
            output_tokens: t.output,
            total_tokens: t.input.saturating_add(t.output),
            cost_usd: price.map(|p| (t.input as f64 * p.input + t.output as f64 * p.output) / 1_000_000.0),
        });
        let tool_calls: Vec<Value> = self
            .tool_calls
            .into_iter()
            .map(|c| {
                let arguments = serde_json::from_str(&c.arguments).unwrap_or(Value::String(c.arguments));
                json!({"id": c.id, "name": c.name, "arguments": arguments})
            })
            .collect();
        let output = json!({
            "response": self.text,
            "provider": provider,
            "model": self.model.unwrap_or_else(|| requested_model.to_owned()),
            "prompt": prompt,
            "finish_reason": self.finish_reason,
            "tool_calls": tool_calls,
            "usage": usage,
        });
        (output, usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_carries_usage_and_cost_and_parsed_tool_arguments() {
        let mut reply =
            Reply { text: "hi".into(), usage: Some(Tokens { input: 1000, output: 500 }), ..Reply::default() };
        let call = reply.tool_call(1);
        call.name = "search".into();
        call.arguments = r#"{"q":"x"}"#.into();
        let (out, usage) = reply.into_output("openai", "gpt-4o-mini", "p", Some(Price { input: 0.15, output: 0.60 }));
        assert_eq!(usage.map(|u| u.total_tokens), Some(1500), "usage is reported beside the output");
        assert_eq!(out["usage"]["total_tokens"], 1500);
        assert!((out["usage"]["cost_usd"].as_f64().unwrap() - 0.00045).abs() < 1e-12);
        assert_eq!(out["tool_calls"][1]["arguments"]["q"], "x");
        assert_eq!(out["model"], "gpt-4o-mini");
    }

    #[test]
    fn no_price_means_no_cost_and_an_empty_reply_is_an_error() {
        let reply = Reply { usage: Some(Tokens { input: 1, output: 1 }), ..Reply::default() };
        assert!(reply.ensure_answered("openai").is_err());
        assert_eq!(reply.into_output("x", "m", "p", None).0["usage"]["cost_usd"], Value::Null);
    }
}
