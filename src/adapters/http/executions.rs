//! Execution routes: start, read, list, cancel.

use super::AppState;
use super::caller::{Caller, Writer};
use super::dto::{
    CancelResponse, ExecuteRequest, ExecuteResponse, ExecutionList, ExecutionResponse, RerunRequest, RerunResponse,
};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, OptionalJson};
use super::idempotency::{IdempotencyKeyHeader, KEY_DESCRIPTION, execute_once, location};
use super::pagination::{PageParams, encode};
use crate::domain::budget::BudgetLimits;
use crate::domain::execution::{Execution, ExecutionState};
use crate::domain::ids::{ExecutionId, WorkflowId};
use crate::ports::{ExecutionFilter, Page};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

/// Filters of an execution list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExecutionListParams {
    /// Only executions in this state.
    pub state: Option<ExecutionState>,
    /// Only executions of this workflow.
    pub workflow_id: Option<WorkflowId>,
    /// Only the children of this execution (a SubWorkflow's, a Loop's items).
    pub parent_execution_id: Option<ExecutionId>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[0-9]{1,16}_[0-9a-f]{32}$")]
    pub cursor: Option<String>,
}

impl ExecutionListParams {
    fn filter(&self, workflow_id: Option<WorkflowId>) -> ExecutionFilter {
        ExecutionFilter {
            workflow_id: workflow_id.or(self.workflow_id),
            state: self.state,
            parent: self.parent_execution_id,
        }
    }

    fn page(&self) -> PageParams {
        PageParams { limit: self.limit, cursor: self.cursor.clone() }
    }
}

fn list_body(page: Page<Execution>) -> ExecutionList {
    ExecutionList {
        executions: page.items.into_iter().map(Into::into).collect(),
        total: page.total,
        next_cursor: page.next.as_ref().map(encode),
    }
}

/// Starts a run of the workflow's latest version and returns at once. With an `Idempotency-Key`,
/// a retry of the same request gets the first answer instead of a second run.
#[utoipa::path(
    post, path = "/api/v1/workflows/{id}/execute", tag = "executions", request_body(content = Option<ExecuteRequest>),
    params(
        ("id" = String, Path, format = Uuid),
        ("Idempotency-Key" = Option<String>, Header, description = KEY_DESCRIPTION),
    ),
    responses(
        (status = 202, description = "Started; follow it at /api/v1/executions/{execution_id}/stream", body = ExecuteResponse,
            headers(("Location" = String, description = "The execution's URL"))),
        (status = 200, description = "A retry with the same `Idempotency-Key` and request: the first answer's body; nothing was started",
            body = ExecuteResponse, headers(
                ("Idempotent-Replayed" = String, description = "`true`: this is a stored answer"),
                ("Location" = String, description = "The execution's URL"),
            )),
        (status = 400, description = "Bad id, variables or limits, or a malformed `Idempotency-Key`", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`ConflictError`: a request with this `Idempotency-Key` is still being processed; retry shortly", body = ErrorBody),
        (status = 415, body = ErrorBody),
        (status = 422, description = "`ValidationError`: the body has the wrong shape; `IdempotencyKeyReused`: the key was used with another workflow or body", body = ErrorBody),
    )
)]
pub async fn execute_workflow(
    State(state): State<AppState>,
    Writer(scope): Writer,
    caller: Caller,
    ApiPath(id): ApiPath<WorkflowId>,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    OptionalJson(request): OptionalJson<ExecuteRequest>,
) -> Result<Response, ApiError> {
    let budget = BudgetLimits { max_tokens: request.max_tokens, max_cost_usd: request.max_cost_usd };
    let started_by = Some(crate::ports::actor(caller.0.subject));
    if let Some(key) = key {
        let response = execute_once(&state, scope, id, key, request.variables, budget, started_by).await?;
        if response.status() == StatusCode::ACCEPTED {
            state
                .audit
                .record(&caller.0, "execution.started", None, json!({"workflow_id": id, "idempotent": true}))
                .await;
        }
        return Ok(response);
    }
    let execution = state.executions.start(scope, id, request.variables, budget, started_by).await?;
    let details = json!({"workflow_id": id, "workflow_version": execution.workflow_version});
    state.audit.record(&caller.0, "execution.started", Some(execution.id.to_string()), details).await;
    Ok((StatusCode::ACCEPTED, location(execution.id), Json(ExecuteResponse::started(&execution))).into_response())
}

/// An execution with every node result.
#[utoipa::path(
    get, path = "/api/v1/executions/{id}", tag = "executions", params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = ExecutionResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn get_execution(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ExecutionId>,
) -> Result<Json<ExecutionResponse>, ApiError> {
    let (execution, results) = state.executions.get(caller.scope(), id).await?;
    Ok(Json(ExecutionResponse::new(execution, results)))
}

/// Executions, newest first, optionally of one workflow and in one state.
#[utoipa::path(
    get, path = "/api/v1/executions", tag = "executions", params(ExecutionListParams),
    responses((status = 200, body = ExecutionList), (status = 400, body = ErrorBody))
)]
pub async fn list_executions(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ExecutionListParams>,
) -> Result<Json<ExecutionList>, ApiError> {
    let page = state.executions.list(caller.scope(), params.filter(None), params.page().to_request()?).await?;
    Ok(Json(list_body(page)))
}

/// Executions of one workflow (also after the workflow was deleted), newest first.
#[utoipa::path(
    get, path = "/api/v1/workflows/{id}/executions", tag = "executions",
    params(("id" = String, Path, format = Uuid), ExecutionListParams),
    responses((status = 200, body = ExecutionList), (status = 400, body = ErrorBody))
)]
pub async fn list_workflow_executions(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<WorkflowId>,
    ApiQuery(params): ApiQuery<ExecutionListParams>,
) -> Result<Json<ExecutionList>, ApiError> {
    let page = state.executions.list(caller.scope(), params.filter(Some(id)), params.page().to_request()?).await?;
    Ok(Json(list_body(page)))
}

/// Cancels a pending or running execution, stopping its running nodes.
#[utoipa::path(
    post, path = "/api/v1/executions/{id}/cancel", tag = "executions", params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = CancelResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Already finished", body = ErrorBody),
    )
)]
pub async fn cancel_execution(
    State(state): State<AppState>,
    Writer(scope): Writer,
    caller: Caller,
    ApiPath(id): ApiPath<ExecutionId>,
) -> Result<Json<CancelResponse>, ApiError> {
    let execution = state.executions.cancel(scope, id).await?;
    state.audit.record(&caller.0, "execution.cancelled", Some(id.to_string()), json!({})).await;
    Ok(Json(CancelResponse {
        message: "Execution cancelled successfully".into(),
        execution_id: execution.id,
        state: execution.state,
    }))
}

/// Reruns a finished execution from one node: a new execution (linked by `rerun_of`) reuses the
/// recorded outputs of every node that node does not lead to, and runs the rest.
#[utoipa::path(
    post, path = "/api/v1/executions/{id}/rerun", tag = "executions", request_body = RerunRequest,
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 202, description = "The rerun started", body = RerunResponse),
        (status = 400, description = "Unknown node, bad variables", body = ErrorBody),
        (status = 404, description = "No such execution", body = ErrorBody),
        (status = 409, description = "The execution still runs", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Body of the wrong shape", body = ErrorBody),
    )
)]
pub async fn rerun_execution(
    State(state): State<AppState>,
    Writer(scope): Writer,
    caller: Caller,
    ApiPath(id): ApiPath<ExecutionId>,
    ApiJson(request): ApiJson<RerunRequest>,
) -> Result<(StatusCode, axum::http::HeaderMap, Json<RerunResponse>), ApiError> {
    let budget = (request.max_tokens.is_some() || request.max_cost_usd.is_some())
        .then_some(BudgetLimits { max_tokens: request.max_tokens, max_cost_usd: request.max_cost_usd });
    let execution = state.executions.rerun(scope, id, &request.from_node, request.variables, budget).await?;
    let details = json!({"rerun_of": id, "from_node": request.from_node});
    state.audit.record(&caller.0, "execution.rerun", Some(execution.id.to_string()), details).await;
    let headers = location(execution.id);
    let body = RerunResponse {
        execution_id: execution.id,
        message: "Workflow execution started".into(),
        workflow_version: execution.workflow_version,
        rerun_of: id,
    };
    Ok((StatusCode::ACCEPTED, headers, Json(body)))
}
