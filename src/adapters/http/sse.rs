//! `GET /api/v1/executions/{id}/stream`: an execution's events as Server-Sent Events.
//!
//! Each stored event becomes two frames with the same `id:` (its sequence number): a named
//! event (`event: node_completed`, data = the event's JSON) and the seed's unnamed frame
//! (`data: {"execution_id","workflow_id","state","node_results_count","timestamp"}`).

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiPath, ApiQuery};
use crate::app::watch::{Frame, Watch};
use crate::domain::execution::ExecutionEvent;
use crate::domain::ids::{ExecutionId, WorkflowId};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, BoxStream, StreamExt};
use serde::Deserialize;
use std::convert::Infallible;
use tokio_util::sync::CancellationToken;
use utoipa::IntoParams;

/// Where to resume; the `Last-Event-ID` header wins over the query parameter.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// Send only events after this id (for clients that cannot set `Last-Event-ID`).
    pub last_event_id: Option<u64>,
}

/// Follows an execution: its history first, then live events, ending after the terminal event.
#[utoipa::path(
    get, path = "/api/v1/executions/{id}/stream", tag = "executions",
    params(("id" = String, Path, format = Uuid), StreamParams,
           ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this event id")),
    responses(
        (status = 200, description = "Event stream", content_type = "text/event-stream", body = String),
        (status = 204, description = "The execution finished and every event was already received"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
    )
)]
pub async fn stream_execution(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ExecutionId>,
    ApiQuery(params): ApiQuery<StreamParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let after = match headers.get("last-event-id") {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(stored_seq)
            .ok_or_else(|| ApiError::bad_request("Last-Event-ID must be an event id from this stream"))?,
        None => params.last_event_id.unwrap_or(0),
    };
    let (execution, events) = match state.executions.watch(id, after).await? {
        // 204 tells a browser's EventSource not to reconnect.
        Watch::AllSeen => return Ok(StatusCode::NO_CONTENT.into_response()),
        Watch::Events(execution, events) => (execution, events),
    };
    let workflow_id = execution.workflow_id;
    let frames = until_closing(events, state.streams_closing.clone(), after).flat_map(move |frame| {
        let sse: Vec<Event> = match frame {
            Frame::Event(event) => frames(&event, workflow_id).into(),
            Frame::Delta(delta) => {
                let id = format!("{}.{}", delta.after_seq, delta.index);
                vec![Event::default().event("node_output_delta").id(id).data(&*delta.data)]
            }
            Frame::Interrupted { reason, last_seq } => vec![interrupted(&reason, last_seq)],
        };
        stream::iter(sse.into_iter().map(Ok::<_, Infallible>))
    });
    let keep_alive = KeepAlive::new().interval(state.settings.sse_keepalive);
    let mut response = Sse::new(frames).keep_alive(keep_alive).into_response();
    let h = response.headers_mut();
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    h.insert("cache-control", HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// The watch, until the server starts closing streams at shutdown: then one last
/// `stream_interrupted` frame tells the client to reconnect (elsewhere, or after the restart).
fn until_closing(
    mut events: BoxStream<'static, Frame>,
    closing: CancellationToken,
    after: u64,
) -> BoxStream<'static, Frame> {
    async_stream::stream! {
        let mut last_seq = after;
        loop {
            tokio::select! {
                frame = events.next() => match frame {
                    Some(frame) => {
                        if let Frame::Event(e) = &frame {
                            last_seq = e.seq;
                        }
                        yield frame;
                    }
                    None => return,
                },
                () = closing.cancelled() => {
                    let reason = "the server is shutting down".to_owned();
                    yield Frame::Interrupted { reason, last_seq };
                    return;
                }
            }
        }
    }
    .boxed()
}

/// The frame ending a stream before its terminal event: no `id:` (it is not in the log), so a
/// client's `Last-Event-ID` stays on the last event it received, from which it resumes.
fn interrupted(reason: &str, last_seq: u64) -> Event {
    let data = serde_json::json!({"reason": reason, "last_event_id": last_seq.to_string(), "resumable": true});
    Event::default().event("stream_interrupted").data(data.to_string())
}

/// The stored event an id refers to: `12` for a stored event, `12.3` for partial output sent
/// after event 12 (never stored, so a reconnect resumes after event 12).
fn stored_seq(id: &str) -> Option<u64> {
    id.trim().split('.').next()?.parse().ok()
}

fn frames(event: &ExecutionEvent, workflow_id: WorkflowId) -> [Event; 2] {
    let id = event.seq.to_string();
    let named = Event::default().event(event.kind.as_str()).id(id.clone()).data(&*event.data);
    let seed = serde_json::json!({
        "execution_id": event.execution_id,
        "workflow_id": workflow_id,
        "state": event.state,
        "node_results_count": event.node_results_count,
        "timestamp": event.at,
    });
    [named, Event::default().id(id).data(seed.to_string())]
}
