//! Account routes under `/api/v1/auth`: register, login (both answer the seed's
//! `{"access_token","token_type":"Bearer","expires_in","user":{"id","email","name","roles"}}`) and
//! `me`, the signed-in user with their workspaces.

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;
use super::identified::{Identified, optional_principal, refusal};
use crate::app::identity::{Profile, Registering, Session};
use crate::domain::access::{Principal, Role, Subject};
use crate::domain::identity::{Membership, User};
use crate::domain::ids::{UserId, WorkspaceId};
use crate::ports::Credentials;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

/// A sign-up. (No `Debug`: it holds a password.)
#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// Normalised (trimmed, lower case); one account per address.
    pub email: String,
    /// 8 characters at least, 1024 bytes at most, not the email address.
    #[schema(min_length = 8)]
    pub password: String,
    /// Shown to other members; at most 200 characters.
    #[serde(default)]
    pub name: Option<String>,
}

/// A sign-in. (No `Debug`: it holds a password.)
#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// A user as the seed's auth responses show them.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserBody {
    pub id: UserId,
    pub email: Option<String>,
    pub name: Option<String>,
    /// The roles the user holds in any workspace, highest first.
    pub roles: Vec<Role>,
}

impl UserBody {
    fn of(user: User, roles: Vec<Role>) -> Self {
        Self { id: user.id, email: user.email.map(|e| e.as_str().to_owned()), name: user.name, roles }
    }
}

/// A signed-in session.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthResponse {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires (`OXIFY_JWT_TTL_SECS`).
    pub expires_in: u64,
    pub user: UserBody,
}

impl From<Session> for AuthResponse {
    fn from(s: Session) -> Self {
        Self {
            access_token: s.token.token,
            token_type: "Bearer".into(),
            expires_in: s.token.expires_in,
            user: UserBody::of(s.user, s.roles),
        }
    }
}

/// A workspace and the caller's role in it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceBody {
    pub id: WorkspaceId,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

impl From<Membership> for WorkspaceBody {
    fn from(m: Membership) -> Self {
        Self { id: m.workspace.id, name: m.workspace.name, role: m.role, created_at: m.workspace.created_at }
    }
}

/// What kind of caller a request comes from.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
pub enum CallerKind {
    User,
    ApiKey,
    Anonymous,
}

/// The caller and the workspaces they act in: a signed-in user (with the seed's user fields), an
/// API key, or (with anonymous access) nobody in particular.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub kind: CallerKind,
    /// The user's or the API key's id; `null` for an anonymous caller.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub id: Option<uuid::Uuid>,
    pub email: Option<String>,
    /// The user's name, or the API key's.
    pub name: Option<String>,
    /// The roles held in any workspace, highest first.
    pub roles: Vec<Role>,
    pub created_at: Option<DateTime<Utc>>,
    /// The workspaces the caller acts in, the first joined first: a user's requests without
    /// `X-Oxify-Workspace` act in the first; an API key has its one.
    pub workspaces: Vec<WorkspaceBody>,
}

impl From<Profile> for MeResponse {
    fn from(p: Profile) -> Self {
        let roles = p.roles();
        let user = p.user;
        Self {
            kind: CallerKind::User,
            id: Some(user.id.0),
            email: user.email.map(|e| e.as_str().to_owned()),
            name: user.name,
            roles,
            created_at: Some(user.created_at),
            workspaces: p.memberships.into_iter().map(Into::into).collect(),
        }
    }
}

/// Creates an account and signs it in. Under open registration (the default) anyone may, and
/// the user gets a workspace of their own as its Admin; under closed registration only an Admin
/// (with their credentials on the request) may.
#[utoipa::path(
    post, path = "/api/v1/auth/register", tag = "auth", request_body(content = RegisterRequest, example = json!({"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"})),
    responses(
        (status = 201, description = "Registered and signed in", body = AuthResponse),
        (status = 400, description = "`ValidationError`: every bad field in `details`", body = ErrorBody),
        (status = 403, description = "`Forbidden`: registration is closed and the caller is no Admin", body = ErrorBody),
        (status = 409, description = "`ConflictError`: an account with this email exists", body = ErrorBody),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(form): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<AuthResponse>), ApiError> {
    let by = optional_principal(&state, &headers).await?;
    let form = Registering { email: form.email, password: form.password, name: form.name };
    let session = state.identity.accounts.register(form, by.as_ref()).await?;
    let user = session.user.id;
    if let Some(admin) = &by {
        state.audit.record(admin, "user.registered", Some(user.to_string()), json!({})).await;
    }
    audit_in_every_workspace(&state, user, "auth.registered").await;
    Ok((StatusCode::CREATED, Json(session.into())))
}

/// Signs in with an email and a password. A wrong password and an unknown email get the same
/// answer.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth", request_body(content = LoginRequest, example = json!({"email": "ada@example.com", "password": "correct horse battery"})),
    responses(
        (status = 200, description = "Signed in", body = AuthResponse),
        (status = 400, description = "`ValidationError`: a malformed email", body = ErrorBody),
        (status = 401, description = "`Unauthorized`: the email or the password is wrong", body = ErrorBody),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(form): ApiJson<LoginRequest>,
) -> Result<Json<AuthResponse>, ApiError> {
    let session = state.identity.accounts.login(&form.email, form.password).await?;
    audit_in_every_workspace(&state, session.user.id, "auth.signed_in").await;
    Ok(Json(session.into()))
}

/// Records that `user` did `action` in each of their workspaces (signing in belongs to no one
/// workspace; each workspace's Admins see their members' sign-ins).
async fn audit_in_every_workspace(state: &AppState, user: UserId, action: &str) {
    let memberships = match state.identity.workspaces.of_user(user).await {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, action, "cannot read the workspaces to audit a sign-in in");
            return;
        }
    };
    for m in memberships {
        let as_member = Principal { subject: Subject::User(user), workspace: m.workspace.id, role: m.role };
        state.audit.record(&as_member, action, Some(user.to_string()), json!({})).await;
    }
}

/// Who the caller is and the workspaces they act in, with their role in each.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", responses((status = 200, body = MeResponse)))]
pub async fn me(
    State(state): State<AppState>,
    headers: HeaderMap,
    Identified(who): Identified,
) -> Result<Json<MeResponse>, ApiError> {
    if let Subject::User(user) = who {
        return Ok(Json(state.identity.accounts.profile(user).await?.into()));
    }
    let (principal, workspace) = acting(&state, &headers).await?;
    let key = match principal.subject {
        Subject::ApiKey(id) => state.identity.api_keys.list(principal.scope()).await?.into_iter().find(|k| k.id == id),
        _ => None,
    };
    Ok(Json(MeResponse {
        kind: if matches!(principal.subject, Subject::ApiKey(_)) { CallerKind::ApiKey } else { CallerKind::Anonymous },
        id: match principal.subject {
            Subject::ApiKey(id) => Some(id.0),
            _ => None,
        },
        email: None,
        name: key.as_ref().map(|k| k.name.clone()),
        roles: vec![principal.role],
        created_at: key.map(|k| k.created_at),
        workspaces: vec![workspace.into()],
    }))
}

/// The principal of a caller that is not a user (an API key, or anonymous), and its workspace.
///
/// # Errors
/// 401 for refused credentials; 404 when the workspace is gone.
pub(super) async fn acting(state: &AppState, headers: &HeaderMap) -> Result<(Principal, Membership), ApiError> {
    let bearer = super::identified::bearer(headers)?;
    let principal = state.auth.authenticate(Credentials { bearer, workspace: None }).await.map_err(refusal)?;
    let workspace = state.identity.workspaces.get(principal.workspace).await?;
    Ok((principal, Membership { since: workspace.created_at, workspace, role: principal.role }))
}
