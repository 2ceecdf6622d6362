//! Form routes: list and read forms (with their JSON Schema), submit one.

use super::AppState;
use super::caller::{Caller, Writer};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::human_dto::{FormBody, FormList, SubmitRequest, TaskListParams};
use crate::domain::human::TaskKind;
use crate::domain::ids::{ExecutionId, TaskId};
use crate::ports::TaskFilter;
use axum::Json;
use axum::extract::State;
use serde_json::json;

/// Forms of the caller's workspace, newest first.
#[utoipa::path(
    get, path = "/api/v1/forms", tag = "forms", params(TaskListParams),
    responses((status = 200, body = FormList), (status = 400, body = ErrorBody))
)]
pub async fn list_forms(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<TaskListParams>,
) -> Result<Json<FormList>, ApiError> {
    let filter = TaskFilter {
        kind: Some(TaskKind::Form),
        state: params.state,
        workflow_id: params.workflow_id,
        execution_id: params.execution_id,
    };
    let page = state.human_tasks.list(&caller.0, filter, params.page().to_request()?).await?;
    Ok(Json(page.into()))
}

/// The forms of one execution, newest first.
#[utoipa::path(
    get, path = "/api/v1/executions/{id}/forms", tag = "forms",
    params(("id" = String, Path, format = Uuid), TaskListParams),
    responses((status = 200, body = FormList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn list_execution_forms(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ExecutionId>,
    ApiQuery(params): ApiQuery<TaskListParams>,
) -> Result<Json<FormList>, ApiError> {
    state.executions.get(caller.scope(), id).await?;
    let filter = TaskFilter {
        kind: Some(TaskKind::Form),
        state: params.state,
        workflow_id: params.workflow_id,
        execution_id: Some(id),
    };
    let page = state.human_tasks.list(&caller.0, filter, params.page().to_request()?).await?;
    Ok(Json(page.into()))
}

/// One form: its fields and their JSON Schema; once submitted, its values (passwords redacted).
#[utoipa::path(
    get, path = "/api/v1/forms/{id}", tag = "forms", params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = FormBody), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn get_form(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<TaskId>,
) -> Result<Json<FormBody>, ApiError> {
    Ok(Json(state.human_tasks.get(&caller.0, TaskKind::Form, id).await?.into()))
}

/// Submits a form: every field is checked (type, required, options, `validation` pattern, email
/// and date formats); the accepted values become the waiting node's output, `Password` values
/// sealed and shown only as `"[redacted]"`.
#[utoipa::path(
    post, path = "/api/v1/forms/{id}/submit", tag = "forms", params(("id" = String, Path, format = Uuid)),
    request_body = SubmitRequest,
    responses(
        (status = 200, body = FormBody),
        (status = 400, description = "`ValidationError` listing every problem with its path (`values.<field id>`)", body = ErrorBody),
        (status = 403, description = "Not among the allowed submitters", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Already submitted, expired or cancelled", body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
pub async fn submit_form(
    State(state): State<AppState>,
    _writer: Writer,
    caller: Caller,
    ApiPath(id): ApiPath<TaskId>,
    ApiJson(body): ApiJson<SubmitRequest>,
) -> Result<Json<FormBody>, ApiError> {
    let task = state.human_tasks.submit(&caller.0, id, &body.values).await?;
    state
        .audit
        .record(&caller.0, "form.submitted", Some(id.to_string()), json!({"execution_id": task.execution_id}))
        .await;
    Ok(Json(task.into()))
}
