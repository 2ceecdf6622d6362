//! Pausing and resuming an execution by hand.

use super::AppState;
use super::caller::{Caller, Writer};
use super::dto::CancelResponse;
use super::error::{ApiError, ErrorBody};
use super::extract::ApiPath;
use crate::domain::ids::ExecutionId;
use axum::Json;
use axum::extract::State;
use serde_json::json;

/// Pauses an execution: no node starts until it is resumed; the nodes running finish, then the
/// run parks (`execution_paused` on its stream) and holds no task or lease. Pending approvals and
/// forms stay open and still expire. `state` is the execution's state when asked.
#[utoipa::path(
    post, path = "/api/v1/executions/{id}/pause", tag = "executions", params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "Pause requested", body = CancelResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "Already finished", body = ErrorBody),
    )
)]
pub async fn pause_execution(
    State(state): State<AppState>,
    Writer(scope): Writer,
    caller: Caller,
    ApiPath(id): ApiPath<ExecutionId>,
) -> Result<Json<CancelResponse>, ApiError> {
    let by = crate::ports::actor(caller.0.subject);
    let execution = state.executions.pause(scope, id, by).await?;
    state.audit.record(&caller.0, "execution.paused", Some(id.to_string()), json!({})).await;
    Ok(Json(CancelResponse {
        message: "Execution pause requested".into(),
        execution_id: execution.id,
        state: execution.state,
    }))
}

/// Resumes an execution paused by hand: its ready nodes start again on whichever process claims
/// it (`resume_requested`, then `execution_resumed` on the same stream). Harmless on a run that
/// is not paused by hand.
#[utoipa::path(
    post, path = "/api/v1/executions/{id}/resume", tag = "executions", params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "Resume requested", body = CancelResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "Already finished", body = ErrorBody),
    )
)]
pub async fn resume_execution(
    State(state): State<AppState>,
    Writer(scope): Writer,
    caller: Caller,
    ApiPath(id): ApiPath<ExecutionId>,
) -> Result<Json<CancelResponse>, ApiError> {
    let by = crate::ports::actor(caller.0.subject);
    let execution = state.executions.resume(scope, id, by).await?;
    state.audit.record(&caller.0, "execution.resumed", Some(id.to_string()), json!({})).await;
    Ok(Json(CancelResponse {
        message: "Execution resume requested".into(),
        execution_id: execution.id,
        state: execution.state,
    }))
}
