//! `GET /api/v1/audit`: who did what in the workspace, for its admins.

use super::AppState;
use super::caller::Admin;
use super::error::{ApiError, ErrorBody};
use super::extract::ApiQuery;
use super::pagination::{PageParams, encode};
use crate::ports::AuditEntry;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Filters and paging of the audit log.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only entries of this action (`workflow.created`, `execution.cancelled`, `secret.set`, ...).
    #[param(min_length = 1, max_length = 100)]
    pub action: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[0-9]{1,16}_[0-9a-f]{32}$")]
    pub cursor: Option<String>,
}

/// One thing someone did.
#[derive(Serialize, ToSchema)]
pub struct AuditEntryBody {
    #[schema(value_type = String, format = Uuid)]
    pub id: uuid::Uuid,
    pub at: DateTime<Utc>,
    /// `user:<id>`, `api_key:<id>`, `anonymous` or `system`.
    pub actor: String,
    /// `<resource>.<verb>`, e.g. `workflow.created`.
    pub action: String,
    pub target: Option<String>,
    pub details: serde_json::Value,
}

impl From<AuditEntry> for AuditEntryBody {
    fn from(e: AuditEntry) -> Self {
        Self { id: e.id, at: e.at, actor: e.actor, action: e.action, target: e.target, details: e.details }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuditList {
    pub entries: Vec<AuditEntryBody>,
    pub total: u64,
    pub next_cursor: Option<String>,
}

/// The workspace's audit log, newest first. Admins only.
#[utoipa::path(
    get, path = "/api/v1/audit", tag = "audit", params(AuditParams),
    responses(
        (status = 200, body = AuditList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    )
)]
pub async fn list_audit(
    State(state): State<AppState>,
    Admin(scope): Admin,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<Json<AuditList>, ApiError> {
    if params.action.as_deref().is_some_and(|a| a.is_empty() || a.len() > 100) {
        return Err(ApiError::bad_request("action must be 1 to 100 characters"));
    }
    let page = PageParams { limit: params.limit, cursor: params.cursor }.to_request()?;
    let found = state.audit.entries(scope, params.action, page).await?;
    Ok(Json(AuditList {
        entries: found.items.into_iter().map(Into::into).collect(),
        total: found.total,
        next_cursor: found.next.as_ref().map(encode),
    }))
}
