//! Anthropic Messages (`POST {base}/v1/messages`), streamed (`message_start`,
//! `content_block_start/delta/stop`, `message_delta`, `message_stop`) or not.

use super::call::Call;
use super::conversation::Turn;
use super::reply::{Reply, Tokens};
use super::transport::{self, events};
use crate::ports::{OutputSink, RunnerError};
use futures::StreamExt;
use serde_json::{Map, Value, json};
use std::time::Duration;

const VERSION: &str = "2023-06-01";
/// Anthropic requires `max_tokens`; used when the node sets none.
pub(crate) const DEFAULT_MAX_TOKENS: u32 = 1024;

pub(crate) fn body(call: &Call<'_>, stream: bool) -> Value {
    let messages: Vec<Value> = call
        .turns
        .iter()
        .map(|turn| match turn {
            Turn::User { text, images } => json!({"role": "user", "content": user(text, images)}),
            Turn::Assistant { text, tool_calls } => {
                let mut blocks = Vec::new();
                if !text.is_empty() {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                blocks.extend(tool_calls.iter().map(|c| {
                    let input = serde_json::from_str::<Value>(&c.arguments)
                        .ok()
                        .filter(Value::is_object)
                        .unwrap_or_else(|| json!({}));
                    json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input})
                }));
                json!({"role": "assistant", "content": blocks})
            }
            Turn::ToolResults(results) => {
                let blocks: Vec<Value> = results
                    .iter()
                    .map(|r| json!({"type": "tool_result", "tool_use_id": r.call_id, "content": r.content, "is_error": r.is_error}))
                    .collect();
                json!({"role": "user", "content": blocks})
            }
        })
        .collect();
    let mut body = Map::new();
    body.insert("model".into(), json!(call.model));
    body.insert("max_tokens".into(), json!(call.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)));
    body.insert("messages".into(), Value::Array(messages));
    if let Some(system) = call.system {
        body.insert("system".into(), json!(system));
    }
    call.finish_body(
        &mut body,
        stream,
        |tool| json!({"name": tool.name, "description": tool.description, "input_schema": tool.parameters}),
    );
    Value::Object(body)
}

/// A user message's content: the text, or image blocks then the text.
fn user(text: &str, images: &[Value]) -> Value {
    if images.is_empty() {
        return json!(text);
    }
    let mut parts: Vec<Value> = images.iter().map(image).collect();
    parts.push(json!({"type": "text", "text": text}));
    Value::Array(parts)
}

/// An image given as a URL becomes a URL source; anything else is passed as written.
fn image(image: &Value) -> Value {
    match image {
        Value::String(url) => json!({"type": "image", "source": {"type": "url", "url": url}}),
        other => other.clone(),
    }
}

pub(crate) async fn complete(
    call: &Call<'_>,
    sink: &dyn OutputSink,
    stream: bool,
    idle: Duration,
) -> Result<Reply, RunnerError> {
    let provider = call.provider;
    let mut request = call
        .client
        .post(format!("{}/v1/messages", call.base_url))
        .header("anthropic-version", VERSION)
        .json(&body(call, stream));
    if let Some(key) = call.api_key {
        request = request.header("x-api-key", key);
    }
    let response = transport::send(request, provider).await?;
    if !stream {
        return whole(&transport::json_body(response, provider).await?, provider);
    }
    let mut reply = Reply::default();
    let mut stopped = false;
    let mut stream = std::pin::pin!(events(response, idle, provider.to_owned()));
    while let Some(event) = stream.next().await {
        let event = event?;
        let data = transport::chunk(&event.data, provider)?;
        let kind = data.get("type").and_then(Value::as_str).unwrap_or(event.event.as_str()).to_owned();
        match kind.as_str() {
            "message_start" => {
                let message = data.get("message").unwrap_or(&Value::Null);
                reply.model = message.get("model").and_then(Value::as_str).map(str::to_owned);
                reply.usage = Some(tokens(message.get("usage").unwrap_or(&Value::Null), Tokens::default()));
            }
            "content_block_start" => start_block(&mut reply, &data),
            "content_block_delta" => block_delta(&mut reply, &data, sink),
            "message_delta" => {
                if let Some(reason) = data.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    reply.finish_reason = Some(reason.to_owned());
                }
                if let Some(usage) = data.get("usage") {
                    reply.usage = Some(tokens(usage, reply.usage.unwrap_or_default()));
                }
            }
            "message_stop" => {
                stopped = true;
                break;
            }
            "error" => return Err(stream_error(&data, provider)),
            _ => {}
        }
    }
    if !stopped {
        return Err(RunnerError::retryable(format!("{provider} stream ended before message_stop")));
    }
    reply.ensure_answered(provider)?;
    Ok(reply)
}

fn start_block(reply: &mut Reply, data: &Value) {
    let block = data.get("content_block").unwrap_or(&Value::Null);
    if block.get("type").and_then(Value::as_str) == Some("tool_use") {
        let index = reply.tool_calls.len();
        let slot = reply.tool_call(index);
        slot.id = block.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        slot.name = block.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
    }
}

fn block_delta(reply: &mut Reply, data: &Value, sink: &dyn OutputSink) {
    let delta = data.get("delta").unwrap_or(&Value::Null);
    match delta.get("type").and_then(Value::as_str) {
        Some("text_delta") => {
            if let Some(text) = delta.get("text").and_then(Value::as_str) {
                reply.text.push_str(text);
                sink.delta(text);
            }
        }
        Some("input_json_delta") => {
            if let (Some(last), Some(part)) =
                (reply.tool_calls.last_mut(), delta.get("partial_json").and_then(Value::as_str))
            {
                last.arguments.push_str(part);
            }
        }
        _ => {}
    }
}

/// `overloaded_error` and `api_error` pass; the others (invalid request, auth) do not.
fn stream_error(data: &Value, provider: &str) -> RunnerError {
    let kind = data.pointer("/error/type").and_then(Value::as_str).unwrap_or("error");
    let message = data.pointer("/error/message").and_then(Value::as_str).unwrap_or("no details");
    let text = format!("{provider} stream error {kind}: {message}");
    if matches!(kind, "overloaded_error" | "api_error" | "rate_limit_error") {
        RunnerError::retryable(text)
    } else {
        RunnerError::Permanent(text)
    }
}

/// Usage fields present in `usage` override those of `earlier` (message_delta carries only some).
fn tokens(usage: &Value, earlier: Tokens) -> Tokens {
    let n = |k: &str| usage.get(k).map(|v| transport::token_count(Some(v)));
    let cached =
        n("cache_read_input_tokens").unwrap_or(0).saturating_add(n("cache_creation_input_tokens").unwrap_or(0));
    Tokens {
        input: n("input_tokens").map_or(earlier.input, |i| i.saturating_add(cached)),
        output: n("output_tokens").unwrap_or(earlier.output),
    }
}

fn whole(value: &Value, provider: &str) -> Result<Reply, RunnerError> {
    let content = value
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| RunnerError::Permanent(format!("{provider} returned no content")))?;
    let mut reply = Reply {
        finish_reason: value.get("stop_reason").and_then(Value::as_str).map(str::to_owned),
        usage: value.get("usage").map(|u| tokens(u, Tokens::default())),
        model: value.get("model").and_then(Value::as_str).map(str::to_owned),
        ..Reply::default()
    };
    for block in content {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => reply.text.push_str(block.get("text").and_then(Value::as_str).unwrap_or_default()),
            Some("tool_use") => {
                let index = reply.tool_calls.len();
                let slot = reply.tool_call(index);
                slot.id = block.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
                slot.name = block.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
                slot.arguments = block.get("input").map(Value::to_string).unwrap_or_default();
            }
            _ => {}
        }
    }
    reply.ensure_answered(provider)?;
    Ok(reply)
}
