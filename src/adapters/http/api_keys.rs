//! API key routes under `/api/v1/api-keys`, for the Admins of the workspace the caller acts in:
//! create (the key is in the answer once, never again), list (by prefix and name), revoke.

use super::AppState;
use super::caller::{Admin, Caller};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath};
use crate::domain::access::Role;
use crate::domain::identity::ApiKeyRecord;
use crate::domain::ids::{ApiKeyId, WorkspaceId};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A key to create.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateApiKey {
    /// What the key is for; 1 to 100 characters.
    pub name: String,
    /// What the key may do in the workspace; at most the creator's role.
    pub role: Role,
    /// From then on the key is refused; must be in the future. Without it, the key never expires.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A key as lists show it: never the key itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyBody {
    pub id: ApiKeyId,
    /// The key's first characters after `oxk_`: a key reads `oxk_<prefix>_<secret>`.
    pub prefix: String,
    pub name: String,
    pub role: Role,
    pub workspace_id: WorkspaceId,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Set once revoked; the key is refused from then on.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyRecord> for ApiKeyBody {
    fn from(k: ApiKeyRecord) -> Self {
        Self {
            id: k.id,
            prefix: k.prefix,
            name: k.name,
            role: k.role,
            workspace_id: k.workspace,
            created_at: k.created_at,
            expires_at: k.expires_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A key just created, with the key itself: shown this once, stored only as a hash.
#[derive(Serialize, ToSchema)]
pub struct ApiKeyCreated {
    /// The whole key, `oxk_<prefix>_<secret>`: send it as `Authorization: Bearer <key>`. It cannot
    /// be shown again.
    pub key: String,
    pub id: ApiKeyId,
    pub prefix: String,
    pub name: String,
    pub role: Role,
    pub workspace_id: WorkspaceId,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The workspace's keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    /// Newest first, revoked and expired ones included.
    pub api_keys: Vec<ApiKeyBody>,
    pub total: usize,
}

/// Creates an API key of the workspace the caller acts in.
#[utoipa::path(
    post, path = "/api/v1/api-keys", tag = "api-keys", request_body(content = CreateApiKey, example = json!({"name": "ci", "role": "Write", "expires_at": "2030-01-01T00:00:00Z"})),
    responses(
        (status = 201, description = "Created; the key is in this answer only", body = ApiKeyCreated),
        (status = 400, description = "`ValidationError`: an empty name, a role above the caller's, an expiry in the past", body = ErrorBody),
    )
)]
pub async fn create_api_key(
    State(state): State<AppState>,
    Admin(scope): Admin,
    caller: Caller,
    ApiJson(request): ApiJson<CreateApiKey>,
) -> Result<(StatusCode, Json<ApiKeyCreated>), ApiError> {
    let created =
        state.identity.api_keys.create(scope, Role::Admin, &request.name, request.role, request.expires_at).await?;
    let details =
        serde_json::json!({"prefix": created.record.prefix, "name": created.record.name, "role": created.record.role});
    state.audit.record(&caller.0, "api_key.created", Some(created.record.id.to_string()), details).await;
    let k = created.record;
    let body = ApiKeyCreated {
        key: created.secret.expose().to_owned(),
        id: k.id,
        prefix: k.prefix,
        name: k.name,
        role: k.role,
        workspace_id: k.workspace,
        created_at: k.created_at,
        expires_at: k.expires_at,
    };
    Ok((StatusCode::CREATED, Json(body)))
}

/// The API keys of the workspace the caller acts in.
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api-keys", responses((status = 200, body = ApiKeyList)))]
pub async fn list_api_keys(State(state): State<AppState>, Admin(scope): Admin) -> Result<Json<ApiKeyList>, ApiError> {
    let keys: Vec<ApiKeyBody> = state.identity.api_keys.list(scope).await?.into_iter().map(Into::into).collect();
    Ok(Json(ApiKeyList { total: keys.len(), api_keys: keys }))
}

/// Revokes an API key: every request with it is refused from now on (on every process sharing
/// the database). Revoking a revoked key changes nothing.
#[utoipa::path(
    delete, path = "/api/v1/api-keys/{id}", tag = "api-keys",
    params(("id" = String, Path, format = Uuid, description = "The key's id (not the key)")),
    responses(
        (status = 200, description = "Revoked", body = ApiKeyBody),
        (status = 404, description = "`NotFound`: no key with this id in the workspace", body = ErrorBody),
    )
)]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    Admin(scope): Admin,
    caller: Caller,
    ApiPath(id): ApiPath<ApiKeyId>,
) -> Result<Json<ApiKeyBody>, ApiError> {
    let revoked = state.identity.api_keys.revoke(scope, id).await?;
    let details = serde_json::json!({"prefix": revoked.prefix, "name": revoked.name});
    state.audit.record(&caller.0, "api_key.revoked", Some(id.to_string()), details).await;
    Ok(Json(revoked.into()))
}
