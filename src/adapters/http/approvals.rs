//! Approval routes (the seed's): list and read approvals, approve or reject one.

use super::AppState;
use super::caller::{Caller, Writer};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiPath, ApiQuery, OptionalJson};
use super::human_dto::{ApprovalBody, ApprovalList, DecisionRequest, TaskListParams};
use crate::domain::human::TaskKind;
use crate::domain::ids::{ExecutionId, TaskId};
use crate::ports::TaskFilter;
use axum::Json;
use axum::extract::State;
use serde_json::json;

/// Approvals of the caller's workspace, newest first.
#[utoipa::path(
    get, path = "/api/v1/approvals", tag = "approvals", params(TaskListParams),
    responses((status = 200, body = ApprovalList), (status = 400, body = ErrorBody))
)]
pub async fn list_approvals(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<TaskListParams>,
) -> Result<Json<ApprovalList>, ApiError> {
    let filter = TaskFilter {
        kind: Some(TaskKind::Approval),
        state: params.state,
        workflow_id: params.workflow_id,
        execution_id: params.execution_id,
    };
    let page = state.human_tasks.list(&caller.0, filter, params.page().to_request()?).await?;
    Ok(Json(page.into()))
}

/// The approvals of one execution, newest first.
#[utoipa::path(
    get, path = "/api/v1/executions/{id}/approvals", tag = "approvals",
    params(("id" = String, Path, format = Uuid), TaskListParams),
    responses((status = 200, body = ApprovalList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn list_execution_approvals(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ExecutionId>,
    ApiQuery(params): ApiQuery<TaskListParams>,
) -> Result<Json<ApprovalList>, ApiError> {
    state.executions.get(caller.scope(), id).await?;
    let filter = TaskFilter {
        kind: Some(TaskKind::Approval),
        state: params.state,
        workflow_id: params.workflow_id,
        execution_id: Some(id),
    };
    let page = state.human_tasks.list(&caller.0, filter, params.page().to_request()?).await?;
    Ok(Json(page.into()))
}

/// One approval.
#[utoipa::path(
    get, path = "/api/v1/approvals/{id}", tag = "approvals", params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = ApprovalBody), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn get_approval(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<TaskId>,
) -> Result<Json<ApprovalBody>, ApiError> {
    Ok(Json(state.human_tasks.get(&caller.0, TaskKind::Approval, id).await?.into()))
}

/// Approves: once the approval has its quorum of approvals, the waiting run continues with the
/// decisions as the node's output. Needs the `Write` role and to be among the approvers; who
/// started the run may not approve it unless the node sets `allow_initiator`.
#[utoipa::path(
    post, path = "/api/v1/approvals/{id}/approve", tag = "approvals", params(("id" = String, Path, format = Uuid)),
    request_body(content = Option<DecisionRequest>),
    responses(
        (status = 200, body = ApprovalBody), (status = 400, body = ErrorBody),
        (status = 403, description = "Not among the approvers, or the run's initiator", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Already decided, expired or cancelled, or decided by this caller", body = ErrorBody),
    )
)]
pub async fn approve(
    state: State<AppState>,
    writer: Writer,
    caller: Caller,
    id: ApiPath<TaskId>,
    body: OptionalJson<DecisionRequest>,
) -> Result<Json<ApprovalBody>, ApiError> {
    decide(state, writer, caller, id, body, true).await
}

/// Rejects: the waiting node fails with the comment (its error route, if any, catches it).
#[utoipa::path(
    post, path = "/api/v1/approvals/{id}/reject", tag = "approvals", params(("id" = String, Path, format = Uuid)),
    request_body(content = Option<DecisionRequest>),
    responses(
        (status = 200, body = ApprovalBody), (status = 400, body = ErrorBody),
        (status = 403, description = "Not among the approvers, or the run's initiator", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Already decided, expired or cancelled, or decided by this caller", body = ErrorBody),
    )
)]
pub async fn reject(
    state: State<AppState>,
    writer: Writer,
    caller: Caller,
    id: ApiPath<TaskId>,
    body: OptionalJson<DecisionRequest>,
) -> Result<Json<ApprovalBody>, ApiError> {
    decide(state, writer, caller, id, body, false).await
}

async fn decide(
    State(state): State<AppState>,
    _writer: Writer,
    caller: Caller,
    ApiPath(id): ApiPath<TaskId>,
    OptionalJson(body): OptionalJson<DecisionRequest>,
    approved: bool,
) -> Result<Json<ApprovalBody>, ApiError> {
    let task = state.human_tasks.decide(&caller.0, id, approved, body.comment).await?;
    let action = if approved { "approval.approved" } else { "approval.rejected" };
    state.audit.record(&caller.0, action, Some(id.to_string()), json!({"execution_id": task.execution_id})).await;
    Ok(Json(task.into()))
}
