//! A model's answer as it accumulates from a stream (or arrives whole): text, tool calls,
//! finish reason and token usage.

use super::settings::Price;
use crate::domain::usage::Usage;
use crate::ports::RunnerError;

/// A tool call, its arguments accumulated as JSON text.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// Tokens a call used, as the provider reported them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
}

/// Tool calls accepted in one answer.
pub const MAX_TOOL_CALLS: usize = 128;

#[derive(Debug, Default)]
pub struct Reply {
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
}

impl Tokens {
    /// The usage these tokens make, priced when a price is known (USD per million tokens).
    #[must_use]
    pub fn usage(self, price: Option<Price>) -> Usage {
        Usage {
            input_tokens: self.input,
            output_tokens: self.output,
            total_tokens: self.input.saturating_add(self.output),
            cost_usd: price.map(|p| (self.input as f64 * p.input + self.output as f64 * p.output) / 1_000_000.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_priced_per_million_tokens() {
        let usage = Tokens { input: 1000, output: 500 }.usage(Some(Price { input: 0.15, output: 0.60 }));
        assert_eq!(usage.total_tokens, 1500);
        assert!((usage.cost_usd.unwrap() - 0.00045).abs() < 1e-12);
        assert_eq!(Tokens { input: 1, output: 1 }.usage(None).cost_usd, None);
    }

    #[test]
    fn an_empty_reply_is_an_error_and_tool_calls_are_bounded() {
        let mut reply = Reply::default();
        assert!(reply.ensure_answered("openai").is_err());
        assert!(reply.tool_call_at(MAX_TOOL_CALLS as u64, "openai").is_err());
        reply.tool_call_at(1, "openai").unwrap().name = "search".into();
        assert_eq!(reply.tool_calls.len(), 2);
        assert!(reply.ensure_answered("openai").is_ok());
    }
}
