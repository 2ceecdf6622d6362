//! A fake LLM provider on 127.0.0.1 that speaks the real wire protocols byte for byte: OpenAI
//! Chat Completions (streamed as `data:` chunks ending in `[DONE]`, with the final usage chunk,
//! or whole) and Anthropic Messages (`message_start`, `content_block_*`, `message_delta`,
//! `message_stop`). Each request takes the next scripted reply; it records what it received,
//! how many requests were in flight at once, and streams the client abandoned.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub enum Reply {
    /// OpenAI streamed completion: these text pieces, `gap` apart, then usage (input, output).
    OpenAiStream { pieces: Vec<String>, gap: Duration, usage: (u64, u64) },
    /// OpenAI streamed completion whose first `burst` pieces come at once, the rest `pause`
    /// apart: a provider that answers before a client had time to open the stream.
    OpenAiBurst { pieces: Vec<String>, burst: usize, pause: Duration, usage: (u64, u64) },
    /// A whole OpenAI completion.
    OpenAiWhole { text: String, usage: (u64, u64) },
    /// Anthropic streamed message.
    AnthropicStream { pieces: Vec<String>, gap: Duration, usage: (u64, u64) },
    /// An error status with an optional `Retry-After` and a provider-style error body.
    Status { code: u16, retry_after: Option<String>, message: String },
    /// Any body, verbatim.
    Raw { content_type: String, body: String },
    /// A redirect (`code` 301, 302, 307 or 308) to `location`.
    Redirect { code: u16, location: String },
    /// Waits this long before sending the next reply.
    Slow(Duration, Box<Reply>),
    /// OpenAI streamed tool calls `(id, name, arguments JSON)`, the arguments split over chunks.
    OpenAiTools { calls: Vec<(String, String, String)>, usage: (u64, u64) },
    /// Anthropic streamed `tool_use` blocks after an optional text block.
    AnthropicTools { text: String, calls: Vec<(String, String, String)>, usage: (u64, u64) },
}

/// Tool calls `(id, name, arguments)` as the fake provider's replies take them.
pub fn calls(list: &[(&str, &str, Value)]) -> Vec<(String, String, String)> {
    list.iter().map(|(id, name, args)| ((*id).to_owned(), (*name).to_owned(), args.to_string())).collect()
}

pub fn openai(text: &str) -> Reply {
    let pieces = text.split_inclusive(' ').map(str::to_owned).collect();
    Reply::OpenAiStream { pieces, gap: Duration::from_millis(5), usage: (12, 4) }
}

pub fn anthropic(text: &str) -> Reply {
    let pieces = text.split_inclusive(' ').map(str::to_owned).collect();
    Reply::AnthropicStream { pieces, gap: Duration::from_millis(5), usage: (25, 15) }
}

#[derive(Clone, Debug)]
pub struct Request {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
    pub at: Instant,
}

#[derive(Default)]
struct Inner {
    script: Mutex<VecDeque<Reply>>,
    fallback: Mutex<Option<Reply>>,
    requests: Mutex<Vec<Request>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    abandoned: AtomicUsize,
}

#[derive(Clone, Default)]
pub struct Provider(Arc<Inner>);

impl Provider {
    /// Starts the provider; returns it and its base URL (`http://127.0.0.1:<port>`).
    pub async fn start() -> (Self, String) {
        let provider = Self::default();
        let app = Router::new()
            .route("/v1/chat/completions", post(handle))
            .route("/v1/messages", post(handle))
            .with_state(provider.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (provider, base)
    }

    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.0.script.lock().unwrap().extend(replies);
    }

    /// The reply for every request once the script is used up.
    pub fn always(&self, reply: Reply) {
        *self.0.fallback.lock().unwrap() = Some(reply);
    }

    pub fn requests(&self) -> Vec<Request> {
        self.0.requests.lock().unwrap().clone()
    }

    pub fn max_in_flight(&self) -> usize {
        self.0.max_in_flight.load(Ordering::SeqCst)
    }

    pub fn abandoned(&self) -> usize {
        self.0.abandoned.load(Ordering::SeqCst)
    }
}

/// Counts a request in flight until dropped; `finished` tells whether its body was sent whole.
struct InFlight {
    provider: Provider,
    finished: bool,
}

impl InFlight {
    fn new(provider: &Provider) -> Self {
        let n = provider.0.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        provider.0.max_in_flight.fetch_max(n, Ordering::SeqCst);
        Self { provider: provider.clone(), finished: false }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.provider.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        if !self.finished {
            self.provider.0.abandoned.fetch_add(1, Ordering::SeqCst);
        }
    }
}

async fn handle(State(provider): State<Provider>, uri: axum::http::Uri, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let request = Request { path: uri.path().to_owned(), headers, body, at: Instant::now() };
    provider.0.requests.lock().unwrap().push(request.clone());
    let next = provider.0.script.lock().unwrap().pop_front();
    let reply = next.or_else(|| provider.0.fallback.lock().unwrap().clone()).unwrap_or(Reply::Status {
        code: 500,
        retry_after: None,
        message: "no scripted reply".into(),
    });
    let mut guard = InFlight::new(&provider);
    let mut reply = reply;
    while let Reply::Slow(wait, then) = reply {
        tokio::time::sleep(wait).await;
        reply = *then;
    }
    let model = request.body["model"].as_str().unwrap_or("unknown").to_owned();
    match reply {
        Reply::OpenAiStream { pieces, gap, usage } => stream(guard, openai_frames(&model, &pieces, usage), gap),
        Reply::OpenAiBurst { pieces, burst, pause, usage } => {
            let frames = openai_frames(&model, &pieces, usage);
            // The role chunk and `burst` pieces at once, then each later piece after a pause
            // (the closing frames follow the last piece at once).
            let last_piece = pieces.len();
            let delays = (0..frames.len()).map(|i| if i > burst && i <= last_piece { pause } else { Duration::ZERO });
            paced(guard, frames, delays.collect())
        }
        Reply::AnthropicStream { pieces, gap, usage } => stream(guard, anthropic_frames(&model, &pieces, usage), gap),
        Reply::OpenAiWhole { text, usage } => {
            guard.finished = true;
            let body = json!({
                "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": null, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": usage.0, "completion_tokens": usage.1, "total_tokens": usage.0 + usage.1}
            });
            json_response(200, None, body.to_string())
        }
        Reply::Status { code, retry_after, message } => {
            guard.finished = true;
            let body = json!({"error": {"message": message, "type": "error", "code": null}});
            json_response(code, retry_after, body.to_string())
        }
        Reply::Raw { content_type, body } => {
            guard.finished = true;
            Response::builder().header("content-type", content_type).body(Body::from(body)).unwrap()
        }
        Reply::Redirect { code, location } => {
            guard.finished = true;
            Response::builder()
                .status(StatusCode::from_u16(code).unwrap())
                .header("location", location)
                .body(Body::empty())
                .unwrap()
        }
        Reply::OpenAiTools { calls, usage } => {
            stream(guard, openai_tool_frames(&model, &calls, usage), Duration::from_millis(2))
        }
        Reply::AnthropicTools { text, calls, usage } => {
            stream(guard, anthropic_tool_frames(&model, &text, &calls, usage), Duration::from_millis(2))
        }
        Reply::Slow(..) => unreachable!("unwrapped above"),
    }
}

fn json_response(code: u16, retry_after: Option<String>, body: String) -> Response {
    let mut builder =
        Response::builder().status(StatusCode::from_u16(code).unwrap()).header("content-type", "application/json");
    if let Some(r) = retry_after {
        builder = builder.header("retry-after", r);
    }
    builder.body(Body::from(body)).unwrap()
}

/// Sends the frames `gap` apart; the guard notes whether the client stayed to the end.
fn stream(guard: InFlight, frames: Vec<String>, gap: Duration) -> Response {
    let delays = (0..frames.len()).map(|i| if i > 0 { gap } else { Duration::ZERO }).collect();
    paced(guard, frames, delays)
}

/// Sends frame `i` after waiting `delays[i]`.
fn paced(mut guard: InFlight, frames: Vec<String>, delays: Vec<Duration>) -> Response {
    let body = async_stream::stream! {
        let last = frames.len();
        for (i, (frame, delay)) in frames.into_iter().zip(delays).enumerate() {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if i + 1 == last {
                guard.finished = true;
            }
            yield Ok::<_, std::io::Error>(Bytes::from(frame));
        }
        drop(guard);
    };
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(body))
        .unwrap()
}

fn openai_frames(model: &str, pieces: &[String], usage: (u64, u64)) -> Vec<String> {
    let chunk = |delta: Value, finish: Value| {
        let c = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
            "system_fingerprint": "fp_1", "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}], "usage": null});
        format!("data: {c}\n\n")
    };
    let mut frames = vec![chunk(json!({"role": "assistant", "content": "", "refusal": null}), Value::Null)];
    frames.extend(pieces.iter().map(|p| chunk(json!({"content": p}), Value::Null)));
    frames.push(chunk(json!({}), json!("stop")));
    let usage = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
        "system_fingerprint": "fp_1", "choices": [],
        "usage": {"prompt_tokens": usage.0, "completion_tokens": usage.1, "total_tokens": usage.0 + usage.1}});
    frames.push(format!("data: {usage}\n\n"));
    frames.push("data: [DONE]\n\n".into());
    frames
}

fn anthropic_frames(model: &str, pieces: &[String], usage: (u64, u64)) -> Vec<String> {
    let event = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let mut frames = vec![
        event(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
            "content": [], "model": model, "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": usage.0, "output_tokens": 1}}}),
        ),
        event(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        event("ping", json!({"type": "ping"})),
    ];
    frames.extend(pieces.iter().map(|p| {
        event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}),
        )
    }));
    frames.push(event("content_block_stop", json!({"type": "content_block_stop", "index": 0})));
    frames.push(event("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": usage.1}})));
    frames.push(event("message_stop", json!({"type": "message_stop"})));
    frames
}

/// Splits text in two (at a character boundary), as providers split streamed arguments.
fn halves(text: &str) -> (String, String) {
    let mut cut = text.len() / 2;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    (text[..cut].to_owned(), text[cut..].to_owned())
}

fn openai_tool_frames(model: &str, calls: &[(String, String, String)], usage: (u64, u64)) -> Vec<String> {
    let chunk = |delta: Value, finish: Value| {
        let c = json!({"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}], "usage": null});
        format!("data: {c}\n\n")
    };
    let mut frames = vec![chunk(json!({"role": "assistant", "content": null}), Value::Null)];
    for (i, (id, name, arguments)) in calls.iter().enumerate() {
        let (first, second) = halves(arguments);
        frames.push(chunk(
            json!({"tool_calls": [{"index": i, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]}),
            Value::Null,
        ));
        frames.push(chunk(json!({"tool_calls": [{"index": i, "function": {"arguments": first}}]}), Value::Null));
        frames.push(chunk(json!({"tool_calls": [{"index": i, "function": {"arguments": second}}]}), Value::Null));
    }
    frames.push(chunk(json!({}), json!("tool_calls")));
    let usage = json!({"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
        "choices": [], "usage": {"prompt_tokens": usage.0, "completion_tokens": usage.1, "total_tokens": usage.0 + usage.1}});
    frames.push(format!("data: {usage}\n\n"));
    frames.push("data: [DONE]\n\n".into());
    frames
}

fn anthropic_tool_frames(
    model: &str,
    text: &str,
    calls: &[(String, String, String)],
    usage: (u64, u64),
) -> Vec<String> {
    let event = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let mut frames = vec![event(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_2", "type": "message", "role": "assistant",
        "content": [], "model": model, "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": usage.0, "output_tokens": 1}}}),
    )];
    let mut index = 0;
    if !text.is_empty() {
        frames.push(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ));
        frames.push(event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
        ));
        frames.push(event("content_block_stop", json!({"type": "content_block_stop", "index": 0})));
        index = 1;
    }
    for (id, name, arguments) in calls {
        let (first, second) = halves(arguments);
        frames.push(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": index,
            "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}),
        ));
        for part in [first, second] {
            frames.push(event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index,
                "delta": {"type": "input_json_delta", "partial_json": part}}),
            ));
        }
        frames.push(event("content_block_stop", json!({"type": "content_block_stop", "index": index})));
        index += 1;
    }
    frames.push(event("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": usage.1}})));
    frames.push(event("message_stop", json!({"type": "message_stop"})));
    frames
}
