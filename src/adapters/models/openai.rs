//! OpenAI Chat Completions (`POST {base}/chat/completions`), streamed or not: OpenAI itself and
//! every compatible server (Ollama, vLLM, llama.cpp, LM Studio, OpenRouter).

use super::call::Call;
use super::conversation::Turn;
use super::reply::{Reply, Tokens};
use super::transport::{self, events};
use crate::ports::{OutputSink, RunnerError};
use futures::StreamExt;
use serde_json::{Map, Value, json};
use std::time::Duration;

/// The request body: messages, sampling settings, tools, then `extra_params` on top.
pub(crate) fn body(call: &Call<'_>, stream: bool) -> Value {
    let mut messages = Vec::new();
    if let Some(system) = call.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    for turn in call.turns {
        match turn {
            Turn::User { text, images } => messages.push(json!({"role": "user", "content": user(text, images)})),
            Turn::Assistant { text, tool_calls } => {
                let mut message =
                    json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(text) }});
                if !tool_calls.is_empty() {
                    let calls: Vec<Value> = tool_calls
                        .iter()
                        .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
                        .collect();
                    message["tool_calls"] = Value::Array(calls);
                }
                messages.push(message);
            }
            // OpenAI has no error flag on a tool message: the text says it.
            Turn::ToolResults(results) => messages.extend(
                results.iter().map(|r| json!({"role": "tool", "tool_call_id": r.call_id, "content": r.content})),
            ),
        }
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(call.model));
    body.insert("messages".into(), Value::Array(messages));
    if let Some(m) = call.max_tokens {
        body.insert("max_tokens".into(), json!(m));
    }
    call.finish_body(&mut body, stream, |tool| {
        json!({"type": "function", "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters}})
    });
    if stream {
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Value::Object(body)
}

/// A user message's content: the text, or parts when there are images.
fn user(text: &str, images: &[Value]) -> Value {
    if images.is_empty() {
        return json!(text);
    }
    let mut parts = vec![json!({"type": "text", "text": text})];
    parts.extend(images.iter().map(|image| match image {
        Value::String(url) => json!({"type": "image_url", "image_url": {"url": url}}),
        other => other.clone(),
    }));
    Value::Array(parts)
}

pub(crate) async fn complete(
    call: &Call<'_>,
    sink: &dyn OutputSink,
    stream: bool,
    idle: Duration,
) -> Result<Reply, RunnerError> {
    let mut request = call.client.post(format!("{}/chat/completions", call.base_url)).json(&body(call, stream));
    if let Some(key) = call.api_key {
        request = request.bearer_auth(key);
    }
    let provider = call.provider;
    let response = transport::send(request, provider).await?;
    if !stream {
        return whole(&transport::json_body(response, provider).await?, provider);
    }
    let mut reply = Reply::default();
    let mut done = false;
    let mut stream = std::pin::pin!(events(response, idle, provider.to_owned()));
    while let Some(event) = stream.next().await {
        let event = event?;
        if event.data.trim() == "[DONE]" {
            done = true;
            break;
        }
        let chunk = transport::chunk(&event.data, provider)?;
        if let Some(error) = chunk.get("error") {
            let message = transport::provider_message(&json!({ "error": error }).to_string());
            return Err(RunnerError::retryable(format!("{provider} stream error: {message}")));
        }
        apply_chunk(&mut reply, &chunk, sink, provider)?;
    }
    if !done && reply.finish_reason.is_none() {
        return Err(RunnerError::retryable(format!("{provider} stream ended before the answer was complete")));
    }
    reply.ensure_answered(provider)?;
    Ok(reply)
}

fn apply_chunk(reply: &mut Reply, chunk: &Value, sink: &dyn OutputSink, provider: &str) -> Result<(), RunnerError> {
    if let Some(model) = chunk.get("model").and_then(Value::as_str) {
        reply.model = Some(model.to_owned());
    }
    if let Some(usage) = chunk.get("usage").filter(|u| !u.is_null()) {
        reply.usage = Some(tokens(usage));
    }
    let Some(choices) = chunk.get("choices").and_then(Value::as_array) else {
        return Err(RunnerError::Permanent(format!("{provider} sent a stream chunk without choices")));
    };
    for choice in choices {
        let delta = choice.get("delta").unwrap_or(&Value::Null);
        if let Some(text) = delta.get("content").and_then(Value::as_str).filter(|t| !t.is_empty()) {
            reply.text.push_str(text);
            sink.delta(text);
        }
        for call in delta.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
            let index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
            let slot = reply.tool_call_at(index, provider)?;
            if let Some(id) = call.get("id").and_then(Value::as_str) {
                slot.id = id.to_owned();
            }
            let function = call.get("function").unwrap_or(&Value::Null);
            if let Some(name) = function.get("name").and_then(Value::as_str) {
                slot.name.push_str(name);
            }
            if let Some(args) = function.get("arguments").and_then(Value::as_str) {
                slot.arguments.push_str(args);
            }
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            reply.finish_reason = Some(reason.to_owned());
        }
    }
    Ok(())
}

fn tokens(usage: &Value) -> Tokens {
    Tokens {
        input: transport::token_count(usage.get("prompt_tokens")),
        output: transport::token_count(usage.get("completion_tokens")),
    }
}

/// A non-streamed completion.
fn whole(value: &Value, provider: &str) -> Result<Reply, RunnerError> {
    let choice = value
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or_else(|| RunnerError::Permanent(format!("{provider} returned no choices")))?;
    let message = choice.get("message").unwrap_or(&Value::Null);
    let mut reply = Reply {
        text: message.get("content").and_then(Value::as_str).unwrap_or_default().to_owned(),
        finish_reason: choice.get("finish_reason").and_then(Value::as_str).map(str::to_owned),
        usage: value.get("usage").filter(|u| !u.is_null()).map(tokens),
        model: value.get("model").and_then(Value::as_str).map(str::to_owned),
        ..Reply::default()
    };
    for (i, call) in message.get("tool_calls").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let slot = reply.tool_call(i);
        slot.id = call.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        slot.name = call.pointer("/function/name").and_then(Value::as_str).unwrap_or_default().to_owned();
        slot.arguments = call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or_default().to_owned();
    }
    reply.ensure_answered(provider)?;
    Ok(reply)
}
