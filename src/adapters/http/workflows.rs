//! Workflow routes: CRUD under `/api/v1/workflows`.

use super::AppState;
use super::dto::{
    MessageResponse, VersionList, WorkflowCreated, WorkflowList, WorkflowRequest, WorkflowResponse, WorkflowUpdated,
};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::pagination::{PageParams, encode};
use crate::domain::ids::WorkflowId;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};

/// Validates and stores a new workflow.
#[utoipa::path(
    post, path = "/api/v1/workflows", tag = "workflows", request_body = WorkflowRequest,
    responses(
        (status = 201, description = "Stored", body = WorkflowCreated),
        (status = 400, description = "Invalid workflow: every problem in `details`", body = ErrorBody),
        (status = 409, description = "A workflow with this id exists", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "Body has the wrong shape", body = ErrorBody),
    )
)]
pub async fn create_workflow(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<WorkflowRequest>,
) -> Result<(StatusCode, HeaderMap, Json<WorkflowCreated>), ApiError> {
    let stored = state.workflows.create(request.workflow).await?;
    let id = stored.workflow.id();
    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/workflows/{id}")) {
        headers.insert(header::LOCATION, location);
    }
    let body =
        WorkflowCreated { id, message: "Workflow created successfully".into(), workflow_version: stored.version };
    Ok((StatusCode::CREATED, headers, Json(body)))
}

/// Lists workflows, newest first.
#[utoipa::path(
    get, path = "/api/v1/workflows", tag = "workflows", params(PageParams),
    responses((status = 200, body = WorkflowList), (status = 400, body = ErrorBody))
)]
pub async fn list_workflows(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<WorkflowList>, ApiError> {
    let page = state.workflows.list(params.to_request()?).await?;
    Ok(Json(WorkflowList {
        workflows: page.items.into_iter().map(Into::into).collect(),
        total: page.total,
        next_cursor: page.next.as_ref().map(encode),
    }))
}

/// The latest version of a workflow.
#[utoipa::path(
    get, path = "/api/v1/workflows/{id}", tag = "workflows", params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = WorkflowResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn get_workflow(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkflowId>,
) -> Result<Json<WorkflowResponse>, ApiError> {
    Ok(Json(state.workflows.get(id).await?.into()))
}

/// Stores a new version of a workflow.
#[utoipa::path(
    put, path = "/api/v1/workflows/{id}", tag = "workflows", request_body = WorkflowRequest,
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = WorkflowUpdated), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
pub async fn update_workflow(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkflowId>,
    ApiJson(request): ApiJson<WorkflowRequest>,
) -> Result<Json<WorkflowUpdated>, ApiError> {
    let stored = state.workflows.update(id, request.workflow).await?;
    Ok(Json(WorkflowUpdated { message: "Workflow updated successfully".into(), workflow_version: stored.version }))
}

/// Deletes a workflow. Its past executions stay readable.
#[utoipa::path(
    delete, path = "/api/v1/workflows/{id}", tag = "workflows", params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = MessageResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn delete_workflow(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkflowId>,
) -> Result<Json<MessageResponse>, ApiError> {
    state.workflows.delete(id).await?;
    Ok(Json(MessageResponse { message: "Workflow deleted successfully".into() }))
}

/// Every stored version of a workflow, oldest first. Each update stores a new one; executions
/// record the version they ran.
#[utoipa::path(
    get, path = "/api/v1/workflows/{id}/versions", tag = "workflows", params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = VersionList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn list_versions(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkflowId>,
) -> Result<Json<VersionList>, ApiError> {
    let versions = state.workflows.versions(id).await?;
    Ok(Json(VersionList { total: versions.len() as u64, versions: versions.into_iter().map(Into::into).collect() }))
}

/// One stored version of a workflow, as it was saved (also after later updates or a delete).
#[utoipa::path(
    get, path = "/api/v1/workflows/{id}/versions/{version}", tag = "workflows",
    params(("id" = String, Path, format = Uuid), ("version" = u32, Path, description = "1 for the first save")),
    responses((status = 200, body = WorkflowResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn get_version(
    State(state): State<AppState>,
    ApiPath((id, version)): ApiPath<(WorkflowId, u32)>,
) -> Result<Json<WorkflowResponse>, ApiError> {
    Ok(Json(state.workflows.version(id, version).await?.into()))
}
