//! Secret routes: a workspace's secrets by name. Values go in and are never shown again; only
//! names, descriptions and times come back.

use super::AppState;
use super::caller::{Admin, Caller, Writer};
use super::dto::MessageResponse;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath};
use crate::ports::SecretInfo;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A secret to set. `value` is sealed at once and never returned.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretRequest {
    /// Letters, digits and `_`, starting with a letter or `_` (at most 64); nodes refer to it as
    /// `{{ secrets.NAME }}`. A secret named like a provider key variable (`OPENAI_API_KEY`,
    /// `ANTHROPIC_API_KEY`, `OLLAMA_API_KEY`) replaces the server's key for this workspace.
    #[schema(pattern = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", example = "CRM_TOKEN")]
    pub name: String,
    /// 8 bytes to 64 KiB (shorter values could not be told apart from ordinary text when they
    /// are redacted from what nodes produce).
    #[schema(min_length = 8, max_length = 65536, example = "s3cr3t-token-value")]
    pub value: String,
    pub description: Option<String>,
}

/// What is shown of a secret: never its value.
#[derive(Serialize, ToSchema)]
pub struct SecretBody {
    pub name: String,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<SecretInfo> for SecretBody {
    fn from(s: SecretInfo) -> Self {
        Self { name: s.name, description: s.description, created_at: s.created_at, updated_at: s.updated_at }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SecretList {
    pub secrets: Vec<SecretBody>,
    pub total: u64,
}

/// Sets a secret of the caller's workspace, replacing one of the same name. Admins only.
#[utoipa::path(
    post, path = "/api/v1/secrets", tag = "secrets", request_body = SecretRequest,
    responses(
        (status = 201, description = "Created", body = SecretBody),
        (status = 200, description = "Replaced an existing secret of this name", body = SecretBody),
        (status = 400, description = "Bad name or value", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
pub async fn put_secret(
    State(state): State<AppState>,
    Admin(scope): Admin,
    caller: Caller,
    ApiJson(request): ApiJson<SecretRequest>,
) -> Result<(StatusCode, Json<SecretBody>), ApiError> {
    if request.value.len() < 8 {
        return Err(ApiError::bad_request(
            "a secret's value has at least 8 bytes: shorter ones cannot be redacted safely from node output",
        ));
    }
    let (info, created) = state.secrets.put(scope, &request.name, &request.value, request.description).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    state.audit.record(&caller.0, "secret.set", Some(info.name.clone()), serde_json::json!({"created": created})).await;
    Ok((status, Json(info.into())))
}

/// The workspace's secrets, by name (never their values). Needs the Write role.
#[utoipa::path(
    get, path = "/api/v1/secrets", tag = "secrets",
    responses((status = 200, body = SecretList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn list_secrets(State(state): State<AppState>, Writer(scope): Writer) -> Result<Json<SecretList>, ApiError> {
    let secrets: Vec<SecretBody> = state.secrets.list(scope).await?.into_iter().map(Into::into).collect();
    Ok(Json(SecretList { total: secrets.len() as u64, secrets }))
}

/// One secret's name, description and times. Needs the Write role.
#[utoipa::path(
    get, path = "/api/v1/secrets/{name}", tag = "secrets", params(("name" = String, Path)),
    responses(
        (status = 200, body = SecretBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn get_secret(
    State(state): State<AppState>,
    Writer(scope): Writer,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<SecretBody>, ApiError> {
    Ok(Json(state.secrets.info(scope, &name).await?.into()))
}

/// Deletes a secret; nodes that refer to it fail from then on. Admins only.
#[utoipa::path(
    delete, path = "/api/v1/secrets/{name}", tag = "secrets", params(("name" = String, Path)),
    responses(
        (status = 200, body = MessageResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn delete_secret(
    State(state): State<AppState>,
    Admin(scope): Admin,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<MessageResponse>, ApiError> {
    state.secrets.delete(scope, &name).await?;
    state.audit.record(&caller.0, "secret.deleted", Some(name), serde_json::json!({})).await;
    Ok(Json(MessageResponse { message: "Secret deleted successfully".into() }))
}
