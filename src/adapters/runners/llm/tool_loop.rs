//! The model's tool-calling loop: model -> tool calls (run in parallel) -> results -> model,
//! until the model answers without asking for a tool the server runs, or the round limit is
//! reached. Each model call goes through the gateway (budget checked and governor passed before
//! each round); each tool call is a live `node_tool_call` frame; a failing tool's error goes back
//! to the model as the call's result.

use super::toolbox::{CallContext, ToolDeps, Toolbox};
use crate::adapters::models::conversation::{ToolResult, Turn};
use crate::adapters::models::{ChatRequest, ModelGateway, Reply, ToolCall};
use crate::domain::usage::Usage;
use crate::domain::workflow::LlmConfig;
use crate::ports::{NodeInput, NodeOutput, OutputSink, RunnerError};
use serde_json::{Map, Value, json};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Longest tool result sent back to the model, in bytes; the rest is cut with a note.
const MAX_RESULT_BYTES: usize = 64 * 1024;

/// What the loop needs of the node's configuration, rendered.
pub(super) struct LoopSettings<'a> {
    pub config: &'a LlmConfig,
    pub base_url: Option<&'a str>,
    pub system: Option<&'a str>,
    pub extra: &'a Map<String, Value>,
    pub stream: bool,
    pub idle: Duration,
    pub max_rounds: u32,
}

/// One attempt's conversation with the model.
pub(super) struct Conversation<'a> {
    gateway: &'a ModelGateway,
    deps: &'a ToolDeps,
    toolbox: &'a Toolbox,
    input: &'a NodeInput,
    sink: &'a dyn OutputSink,
    cancel: &'a CancellationToken,
}

/// One tool call as the output and the stream show it.
fn record(round: u32, call: &ToolCall, result: &Result<Value, String>, duration: Duration) -> Value {
    let arguments = serde_json::from_str(&call.arguments).unwrap_or_else(|_| Value::String(call.arguments.clone()));
    let mut record = json!({
        "round": round,
        "id": call.id,
        "name": call.name,
        "arguments": arguments,
        "duration_ms": u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
    });
    match result {
        Ok(value) => record["result"] = value.clone(),
        Err(error) => record["error"] = json!(error),
    }
    record
}

/// A result as the text the model reads.
fn result_text(result: &Result<Value, String>) -> (String, bool) {
    let (mut text, is_error) = match result {
        Ok(Value::String(s)) => (s.clone(), false),
        Ok(value) => (value.to_string(), false),
        Err(error) => (format!("error: {error}"), true),
    };
    if text.len() > MAX_RESULT_BYTES {
        let mut cut = MAX_RESULT_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str(" [cut: the result was longer than 64 KiB]");
    }
    (text, is_error)
}

/// Usage summed over rounds (a cost is known only if every round's is, see [`Usage::plus`]).
fn add(total: &mut Option<Usage>, usage: Option<Usage>) {
    if let Some(u) = usage {
        *total = Some(total.map_or(u, |t| t.plus(u)));
    }
}

impl<'a> Conversation<'a> {
    pub(super) fn new(
        gateway: &'a ModelGateway,
        deps: &'a ToolDeps,
        toolbox: &'a Toolbox,
        input: &'a NodeInput,
        sink: &'a dyn OutputSink,
        cancel: &'a CancellationToken,
    ) -> Self {
        Self { gateway, deps, toolbox, input, sink, cancel }
    }

    /// Runs the conversation from `prompt` to the model's answer.
    ///
    /// # Errors
    /// A model call's error; the round limit reached while the model still asks for tools.
    pub(super) async fn run(self, settings: LoopSettings<'_>, prompt: String) -> Result<NodeOutput, RunnerError> {
        let config = settings.config;
        let mut turns = vec![Turn::User { text: prompt.clone(), images: config.images.clone() }];
        let mut usage = None;
        let mut calls_made = Vec::new();
        let mut round = 0;
        loop {
            let request = ChatRequest {
                provider: &config.provider,
                model: &config.model,
                base_url: settings.base_url,
                secrets: &self.input.data.secrets,
                system: settings.system,
                turns: &turns,
                tools: &self.toolbox.defs,
                raw_tools: &self.toolbox.raw,
                max_tokens: config.max_tokens,
                temperature: config.temperature,
                extra: settings.extra,
                stream: settings.stream,
                idle: settings.idle,
                budget: &self.input.budget,
            };
            let answer = self.gateway.chat(request, self.sink, self.cancel).await?;
            add(&mut usage, answer.usage);
            let reply = answer.reply;
            // The loop goes on only while every call asked for is one the server runs.
            let ours = !reply.tool_calls.is_empty() && reply.tool_calls.iter().all(|c| self.runs(c));
            if !ours {
                return Ok(output(reply, answer.provider, config, &prompt, usage, calls_made, round));
            }
            if round >= settings.max_rounds {
                return Err(RunnerError::Permanent(format!(
                    "the model still asked for tools ({}) after {round} rounds of tool calls, the node's limit (max_tool_rounds)",
                    reply.tool_calls.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
                )));
            }
            round += 1;
            let results = self.call_tools(round, &reply.tool_calls, &mut calls_made).await;
            if self.cancel.is_cancelled() {
                return Err(RunnerError::Permanent("cancelled".into()));
            }
            turns.push(Turn::Assistant { text: reply.text, tool_calls: reply.tool_calls });
            turns.push(Turn::ToolResults(results));
        }
    }

    /// Whether the server runs `call`: a tool of the toolbox, or one no tool answers to (the
    /// model gets an error back) when the node lists no tools of the provider's own format.
    fn runs(&self, call: &ToolCall) -> bool {
        self.toolbox.runs(&call.name) || self.toolbox.raw.is_empty()
    }

    /// Runs the calls of one round at once; each is published and recorded as it ends.
    async fn call_tools(&self, round: u32, calls: &[ToolCall], made: &mut Vec<Value>) -> Vec<ToolResult> {
        let at = CallContext {
            scope: self.input.scope,
            execution_id: self.input.execution_id,
            data: &self.input.data,
            cancel: self.cancel,
        };
        let runs = calls.iter().map(|call| {
            let at = &at;
            async move {
                let started = Instant::now();
                let result = self.toolbox.call(call, self.deps, at).await;
                let record = record(round, call, &result, started.elapsed());
                self.sink.tool_call(&record);
                (result, record)
            }
        });
        let done = futures::future::join_all(runs).await;
        calls
            .iter()
            .zip(done)
            .map(|(call, (result, record))| {
                made.push(record);
                let (content, is_error) = result_text(&result);
                ToolResult { call_id: call.id.clone(), content, is_error }
            })
            .collect()
    }
}

/// The node's output: the seed's LLM output (`response`, `provider`, `model`, `prompt`,
/// `finish_reason`, `tool_calls`, `usage`), plus `tool_results` and `tool_rounds` when the server
/// ran tools. `tool_calls` are the final answer's calls the server did not run (tools in the
/// provider's own format).
fn output(
    reply: Reply,
    provider: &str,
    config: &LlmConfig,
    prompt: &str,
    usage: Option<Usage>,
    calls_made: Vec<Value>,
    rounds: u32,
) -> NodeOutput {
    let tool_calls: Vec<Value> = reply
        .tool_calls
        .into_iter()
        .map(|c| {
            let arguments = serde_json::from_str(&c.arguments).unwrap_or(Value::String(c.arguments));
            json!({"id": c.id, "name": c.name, "arguments": arguments})
        })
        .collect();
    let mut value = json!({
        "response": reply.text,
        "provider": provider,
        "model": reply.model.unwrap_or_else(|| config.model.clone()),
        "prompt": prompt,
        "finish_reason": reply.finish_reason,
        "tool_calls": tool_calls,
        "usage": usage,
    });
    if rounds > 0 {
        value["tool_results"] = Value::Array(calls_made);
        value["tool_rounds"] = json!(rounds);
    }
    NodeOutput { value, usage }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_cut_and_errors_marked() {
        let (text, is_error) = result_text(&Ok(Value::String("é".repeat(MAX_RESULT_BYTES))));
        assert!(text.len() < MAX_RESULT_BYTES + 64 && text.ends_with("longer than 64 KiB]"));
        assert!(!is_error);
        assert_eq!(result_text(&Err("boom".into())), ("error: boom".into(), true));
        assert_eq!(result_text(&Ok(json!({"a": 1}))).0, r#"{"a":1}"#);
    }

    #[test]
    fn usage_sums_over_rounds() {
        let mut total = None;
        add(&mut total, Some(Usage { input_tokens: 1, output_tokens: 2, total_tokens: 3, cost_usd: None }));
        add(&mut total, None);
        add(&mut total, Some(Usage { input_tokens: 10, output_tokens: 20, total_tokens: 30, cost_usd: Some(0.5) }));
        let total = total.unwrap();
        assert_eq!((total.input_tokens, total.output_tokens, total.total_tokens), (11, 22, 33));
    }

    #[test]
    fn a_record_keeps_arguments_as_json_and_the_error() {
        let call = ToolCall { id: "c1".into(), name: "add".into(), arguments: r#"{"a":1}"#.into() };
        let r = record(2, &call, &Err("no".into()), Duration::from_millis(7));
        assert_eq!(
            r,
            json!({"round": 2, "id": "c1", "name": "add", "arguments": {"a": 1}, "duration_ms": 7, "error": "no"})
        );
    }
}
