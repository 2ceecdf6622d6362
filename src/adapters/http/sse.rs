//! `GET /api/v1/executions/{id}/stream`: an execution's events as Server-Sent Events.
//!
//! Each stored event is one frame whose `id:` is its sequence number, and each piece of partial
//! output of a running node (`node_output_delta`, never stored) has the id `seq.n`: the n-th
//! delta after event `seq`. A client cut anywhere resumes exactly after the last frame it read,
//! partial output included while its node still runs. By default the frame is named
//! (`event: node_completed`) and its data is the event's JSON, which carries every field of the
//! seed's frame too (`execution_id`, `workflow_id`, `state`, `node_results_count`, `timestamp`).
//! `?format=seed` asks for the seed README's frames instead: unnamed (`onmessage` in a browser),
//! with exactly the seed's fields, one per event, ids alike.

use super::AppState;
use super::caller::Caller;
use super::error::{ApiError, ErrorBody};
use super::event_json;
use super::extract::{ApiPath, ApiQuery};
use crate::app::event_stream::{Frame, Watch};
use crate::domain::execution::{ExecutionEvent, StreamPosition};
use crate::domain::ids::{ExecutionId, WorkflowId};
use crate::domain::valid::ValidWorkflow;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{BoxStream, StreamExt};
use serde::Deserialize;
use std::convert::Infallible;
use tokio_util::sync::CancellationToken;
use utoipa::IntoParams;

/// The grammar of a stream position: a stored event's id (`12`) or a live delta's (`12.3`).
pub const EVENT_ID_PATTERN: &str = r"^[0-9]{1,19}(\.[0-9]{1,19})?$";

/// Which frames a stream sends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StreamFormat {
    /// Named frames (`event: node_completed`), data = the event's JSON (a superset of the seed's).
    #[default]
    Events,
    /// The seed's unnamed frames, data = `{"execution_id","workflow_id","state","node_results_count","timestamp"}`.
    Seed,
}

/// Where to resume and which frames to send; the `Last-Event-ID` header wins over the query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// Send only what follows this id (for clients that cannot set `Last-Event-ID`): an event id
    /// (`12`) or a delta id (`12.3`), exactly as the stream sent it.
    #[param(pattern = r"^[0-9]{1,19}(\.[0-9]{1,19})?$", example = "12")]
    pub last_event_id: Option<String>,
    /// `events` (default): named frames; `seed`: the seed's unnamed frames.
    pub format: Option<StreamFormat>,
}

/// Follows an execution: its history first, then live events, ending after the terminal event.
#[utoipa::path(
    get, path = "/api/v1/executions/{id}/stream", tag = "executions",
    params(("id" = String, Path, format = Uuid), StreamParams,
           ("Last-Event-ID" = Option<String>, Header, pattern = r"^[0-9]{1,19}(\.[0-9]{1,19})?$",
            description = "Resume after this id, exactly as the stream sent it (`12`, or `12.3` for a delta)")),
    responses(
        (status = 200, content_type = "text/event-stream", body = String, description = "Server-Sent Events: one frame per stored event, `event: <name>` (see the `RunEvent` schema's `type`), `id: <position in the log>`, `data: <EventData JSON>`; with `?format=seed` unnamed frames with the seed's fields only. Ends after the terminal event (`execution_completed`, `execution_failed`, `execution_cancelled`) or a `stream_interrupted` frame."),
        (status = 204, description = "The execution finished and every event was already received"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
    )
)]
pub async fn stream_execution(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ExecutionId>,
    ApiQuery(params): ApiQuery<StreamParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let after = match (headers.get("last-event-id"), params.last_event_id.as_deref()) {
        (Some(header), _) => position(header.to_str().unwrap_or("\u{FFFD}"), "Last-Event-ID")?,
        (None, Some(query)) => position(query, "last_event_id")?,
        (None, None) => StreamPosition::default(),
    };
    let format = params.format.unwrap_or_default();
    let (execution, events) = match state.event_streams.watch(caller.scope(), id, after).await? {
        // 204 tells a browser's EventSource not to reconnect.
        Watch::AllSeen => return Ok(StatusCode::NO_CONTENT.into_response()),
        Watch::Events(execution, events) => (execution, events),
    };
    let workflow_id = execution.workflow_id;
    // Node names and kinds come from the version the execution runs (cached by the store).
    let workflow =
        state.workflows.version(caller.scope(), workflow_id, execution.workflow_version).await.ok().map(|v| v.workflow);
    let events = match format {
        // The seed had no partial output: its clients resume from event ids only.
        StreamFormat::Seed => events.filter(|f| std::future::ready(!matches!(f, Frame::Delta(_)))).boxed(),
        StreamFormat::Events => events,
    };
    let frames = until_closing(events, state.streams_closing.clone(), after).filter_map(move |frame| {
        let sse = match (frame, format) {
            (Frame::Event(event), StreamFormat::Events) => Some(named(&event, workflow_id, workflow.as_ref())),
            (Frame::Event(event), StreamFormat::Seed) => Some(seed(&event, workflow_id)),
            (Frame::Delta(delta), StreamFormat::Events) => {
                let id = delta.position().to_string();
                Some(Event::default().event(delta.kind.event_name()).id(id).data(&*delta.data))
            }
            (Frame::Delta(_), StreamFormat::Seed) => None,
            (Frame::Interrupted { reason, last }, _) => Some(interrupted(&reason, last)),
        };
        std::future::ready(sse.map(Ok::<_, Infallible>))
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
    after: StreamPosition,
) -> BoxStream<'static, Frame> {
    async_stream::stream! {
        let mut last = after;
        loop {
            tokio::select! {
                frame = events.next() => match frame {
                    Some(frame) => {
                        match &frame {
                            Frame::Event(e) => last = StreamPosition::event(e.seq),
                            Frame::Delta(d) => last = d.position(),
                            Frame::Interrupted { .. } => {}
                        }
                        yield frame;
                    }
                    None => return,
                },
                () = closing.cancelled() => {
                    let reason = "the server is shutting down".to_owned();
                    yield Frame::Interrupted { reason, last };
                    return;
                }
            }
        }
    }
    .boxed()
}

/// The frame ending a stream before its terminal event: no `id:` (it is not in the log), so a
/// client's `Last-Event-ID` stays on the last frame it received, from which it resumes.
fn interrupted(reason: &str, last: StreamPosition) -> Event {
    let data = serde_json::json!({"reason": reason, "last_event_id": last.to_string(), "resumable": true});
    Event::default().event("stream_interrupted").data(data.to_string())
}

/// The place in the stream an id names: `12` for stored event 12, `12.3` for the third delta
/// (partial output) sent after it. The header and the query parameter take the same forms
/// ([`EVENT_ID_PATTERN`]).
fn position(id: &str, name: &str) -> Result<StreamPosition, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "{name} must be an id this stream sent: an event id such as 12, or a delta id such as 12.3"
        ))
    };
    let (stored, delta) = id.split_once('.').map_or((id, None), |(s, d)| (s, Some(d)));
    let digits = |s: &str| !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(stored) || delta.is_some_and(|d| !digits(d)) {
        return Err(bad());
    }
    let seq = stored.parse().map_err(|_| bad())?;
    let delta = delta.map_or(Ok(0), str::parse).map_err(|_| bad())?;
    Ok(StreamPosition { seq, delta })
}

fn named(event: &ExecutionEvent, workflow_id: WorkflowId, workflow: Option<&ValidWorkflow>) -> Event {
    let data = event_json::render(event, workflow_id, workflow);
    Event::default().event(event.kind().as_str()).id(event.seq.to_string()).data(&*data)
}

fn seed(event: &ExecutionEvent, workflow_id: WorkflowId) -> Event {
    let data = serde_json::json!({
        "execution_id": event.execution_id,
        "workflow_id": workflow_id,
        "state": event.state,
        "node_results_count": event.node_results_count,
        "timestamp": event.at,
    });
    Event::default().id(event.seq.to_string()).data(data.to_string())
}

#[cfg(test)]
mod tests {
    use super::{EVENT_ID_PATTERN, StreamPosition, position};

    #[test]
    fn positions_take_the_same_forms_as_header_and_query() {
        assert_eq!(position("0", "h").unwrap(), StreamPosition::event(0));
        assert_eq!(position("12", "h").unwrap(), StreamPosition::event(12));
        assert_eq!(position("12.3", "h").unwrap(), StreamPosition { seq: 12, delta: 3 });
        assert_eq!(position("12.3", "h").unwrap().to_string(), "12.3");
        let pattern = regex::Regex::new(EVENT_ID_PATTERN).unwrap();
        for bad in ["", " 12", "12.", ".3", "-1", "1e3", "12.3.4", "abc", "99999999999999999999", "\u{FFFD}"] {
            assert!(position(bad, "last_event_id").is_err(), "{bad:?}");
            assert!(!pattern.is_match(bad), "the documented pattern agrees: {bad:?}");
        }
        for good in ["0", "12", "12.3", "1234567890123456789.1"] {
            assert!(position(good, "last_event_id").is_ok() && pattern.is_match(good), "{good}");
        }
    }
}
