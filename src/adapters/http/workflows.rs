//! Workflow routes: CRUD under `/api/v1/workflows`.

use super::AppState;
use super::caller::{Caller, Writer};
use super::dto::{
    MessageResponse, VersionList, WorkflowCreated, WorkflowList, WorkflowRequest, WorkflowResponse, WorkflowUpdated,
};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::pagination::{PageParams, encode};
use super::preconditions::{IfMatch, IfNoneMatch, etag};
use crate::domain::ids::WorkflowId;
use crate::ports::VersionedWorkflow;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A workflow version as a response: its `ETag`, and its body unless `If-None-Match` says the
/// client has it already (304).
fn representation(stored: VersionedWorkflow, if_none_match: &IfNoneMatch) -> Response {
    let tag = [(header::ETAG, etag(stored.version))];
    if if_none_match.matches(stored.version) {
        return (StatusCode::NOT_MODIFIED, tag).into_response();
    }
    (tag, Json(WorkflowResponse::from(stored))).into_response()
}

/// Validates and stores a new workflow.
#[utoipa::path(
    post, path = "/api/v1/workflows", tag = "workflows", request_body = WorkflowRequest,
    responses(
        (status = 201, description = "Stored", body = WorkflowCreated, headers(
            ("Location" = String, description = "The workflow's URL"),
            ("ETag" = String, description = "The stored version as an entity tag, e.g. `\"1\"`"),
        )),
        (status = 400, description = "Invalid workflow: every problem in `details`", body = ErrorBody),
        (status = 409, description = "A workflow with this id exists", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "Body has the wrong shape", body = ErrorBody),
    )
)]
pub async fn create_workflow(
    State(state): State<AppState>,
    Writer(scope): Writer,
    caller: Caller,
    ApiJson(request): ApiJson<WorkflowRequest>,
) -> Result<(StatusCode, HeaderMap, Json<WorkflowCreated>), ApiError> {
    let stored = state.workflows.create(scope, request.workflow).await?;
    let id = stored.workflow.id();
    state
        .audit
        .record(&caller.0, "workflow.created", Some(id.to_string()), json!({"workflow_version": stored.version}))
        .await;
    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/workflows/{id}")) {
        headers.insert(header::LOCATION, location);
    }
    headers.insert(header::ETAG, etag(stored.version));
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
    caller: Caller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<WorkflowList>, ApiError> {
    let page = state.workflows.list(caller.scope(), params.to_request()?).await?;
    Ok(Json(WorkflowList {
        workflows: page.items.into_iter().map(Into::into).collect(),
        total: page.total,
        next_cursor: page.next.as_ref().map(encode),
    }))
}

/// The latest version of a workflow, with its version as `ETag`.
#[utoipa::path(
    get, path = "/api/v1/workflows/{id}", tag = "workflows",
    params(
        ("id" = String, Path, format = Uuid),
        ("If-None-Match" = Option<String>, Header,
            description = "ETags the client holds (`*` for any); a match answers 304 without a body"),
    ),
    responses(
        (status = 200, body = WorkflowResponse, headers(("ETag" = String, description = "The version as a strong entity tag, e.g. `\"3\"`, for `If-Match`"))),
        (status = 304, description = "The client's copy is current", headers(("ETag" = String, description = "The version as a strong entity tag, e.g. `\"3\"`, for `If-Match`"))),
        (status = 400, description = "Bad id or malformed If-None-Match", body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn get_workflow(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<WorkflowId>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    Ok(representation(state.workflows.get(caller.scope(), id).await?, &if_none_match))
}

/// What `If-Match` does on a write.
const IF_MATCH: &str = "Write only if the workflow is still at one of these versions (ETags from a read, `*` \
    for any); strong comparison, so `W/` tags never match. Without it the write is unconditional";

/// Stores a new version of a workflow; with `If-Match`, only if nobody changed it meanwhile.
#[utoipa::path(
    put, path = "/api/v1/workflows/{id}", tag = "workflows", request_body = WorkflowRequest,
    params(("id" = String, Path, format = Uuid), ("If-Match" = Option<String>, Header, description = IF_MATCH)),
    responses(
        (status = 200, body = WorkflowUpdated, headers(("ETag" = String, description = "The version as a strong entity tag, e.g. `\"3\"`, for `If-Match`"))),
        (status = 400, description = "Invalid workflow, bad id or malformed If-Match", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 412, description = "If-Match names another version: nothing was stored", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
pub async fn update_workflow(
    State(state): State<AppState>,
    Writer(scope): Writer,
    caller: Caller,
    ApiPath(id): ApiPath<WorkflowId>,
    IfMatch(expected): IfMatch,
    ApiJson(request): ApiJson<WorkflowRequest>,
) -> Result<([(header::HeaderName, HeaderValue); 1], Json<WorkflowUpdated>), ApiError> {
    let stored = state.workflows.update(scope, id, request.workflow, &expected).await?;
    state
        .audit
        .record(&caller.0, "workflow.updated", Some(id.to_string()), json!({"workflow_version": stored.version}))
        .await;
    let body = WorkflowUpdated { message: "Workflow updated successfully".into(), workflow_version: stored.version };
    Ok(([(header::ETAG, etag(stored.version))], Json(body)))
}

/// Deletes a workflow; with `If-Match`, only if nobody changed it meanwhile. Its past executions
/// stay readable.
#[utoipa::path(
    delete, path = "/api/v1/workflows/{id}", tag = "workflows",
    params(("id" = String, Path, format = Uuid), ("If-Match" = Option<String>, Header, description = IF_MATCH)),
    responses(
        (status = 200, body = MessageResponse),
        (status = 400, description = "Bad id or malformed If-Match", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 412, description = "If-Match names another version: nothing was deleted", body = ErrorBody),
    )
)]
pub async fn delete_workflow(
    State(state): State<AppState>,
    Writer(scope): Writer,
    caller: Caller,
    ApiPath(id): ApiPath<WorkflowId>,
    IfMatch(expected): IfMatch,
) -> Result<Json<MessageResponse>, ApiError> {
    state.workflows.delete(scope, id, &expected).await?;
    state.audit.record(&caller.0, "workflow.deleted", Some(id.to_string()), json!({})).await;
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
    caller: Caller,
    ApiPath(id): ApiPath<WorkflowId>,
) -> Result<Json<VersionList>, ApiError> {
    let versions = state.workflows.versions(caller.scope(), id).await?;
    Ok(Json(VersionList { total: versions.len() as u64, versions: versions.into_iter().map(Into::into).collect() }))
}

/// One stored version of a workflow, as it was saved (also after later updates or a delete),
/// with that version's `ETag`.
#[utoipa::path(
    get, path = "/api/v1/workflows/{id}/versions/{workflow_version}", tag = "workflows",
    params(
        ("id" = String, Path, format = Uuid),
        ("workflow_version" = u32, Path, description = "The stored version number: 1 for the first save"),
        ("If-None-Match" = Option<String>, Header, description = "ETags the client holds; a match answers 304"),
    ),
    responses(
        (status = 200, body = WorkflowResponse, headers(("ETag" = String, description = "The version as a strong entity tag, e.g. `\"3\"`, for `If-Match`"))),
        (status = 304, description = "The client's copy is current", headers(("ETag" = String, description = "The version as a strong entity tag, e.g. `\"3\"`, for `If-Match`"))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
    )
)]
pub async fn get_version(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, version)): ApiPath<(WorkflowId, u32)>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    Ok(representation(state.workflows.version(caller.scope(), id, version).await?, &if_none_match))
}
