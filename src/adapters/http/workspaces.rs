//! Workspace routes under `/api/v1/workspaces`: the caller's workspaces, creating one, and its
//! members (listed by any member; added, changed and removed by its Admins). A workspace the
//! caller is not a member of answers 404, as if it did not exist.

use super::AppState;
use super::accounts::{WorkspaceBody, acting};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath};
use super::identified::{Identified, Member, SignedIn, WorkspaceAdmin};
use crate::app::identity::MemberRef;
use crate::domain::access::{Principal, Role, Subject};
use crate::domain::identity::Member as StoredMember;
use crate::domain::ids::{UserId, WorkspaceId};
use crate::ports::MemberChange;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

/// The caller's workspaces.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceList {
    /// The first joined first (a user without `X-Oxify-Workspace` acts in the first).
    pub workspaces: Vec<WorkspaceBody>,
    pub total: usize,
}

/// A workspace to create.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateWorkspace {
    /// 1 to 100 characters.
    pub name: String,
}

/// A member of a workspace.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberBody {
    pub user_id: UserId,
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: Role,
    /// When they joined.
    pub since: DateTime<Utc>,
}

impl From<StoredMember> for MemberBody {
    fn from(m: StoredMember) -> Self {
        Self {
            user_id: m.user.id,
            email: m.user.email.map(|e| e.as_str().to_owned()),
            name: m.user.name,
            role: m.role,
            since: m.since,
        }
    }
}

/// A workspace's members.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberList {
    /// The earliest first.
    pub members: Vec<MemberBody>,
    pub total: usize,
}

/// A user to add with a role, or whose role to change: by `user_id` or by `email` (one of them).
#[derive(Debug, Deserialize, ToSchema)]
pub struct SetMember {
    #[serde(default)]
    pub user_id: Option<UserId>,
    #[serde(default)]
    pub email: Option<String>,
    pub role: Role,
}

/// A member removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberRemoved {
    pub message: String,
    pub user_id: UserId,
    /// The role they had.
    pub role: Role,
}

/// The workspaces the caller can act in, with their role in each: all of a user's; the one of
/// an API key (or, with anonymous access, the default one).
#[utoipa::path(get, path = "/api/v1/workspaces", tag = "workspaces", responses((status = 200, body = WorkspaceList)))]
pub async fn list_workspaces(
    State(state): State<AppState>,
    headers: HeaderMap,
    Identified(who): Identified,
) -> Result<Json<WorkspaceList>, ApiError> {
    let workspaces: Vec<WorkspaceBody> = match who {
        Subject::User(user) => state.identity.workspaces.of_user(user).await?.into_iter().map(Into::into).collect(),
        _ => vec![acting(&state, &headers).await?.1.into()],
    };
    Ok(Json(WorkspaceList { total: workspaces.len(), workspaces }))
}

/// Creates a workspace; the signed-in user who creates it is its Admin. (Under closed
/// registration, only users who are an Admin somewhere may.)
#[utoipa::path(
    post, path = "/api/v1/workspaces", tag = "workspaces", request_body(content = CreateWorkspace, example = json!({"name": "Research"})),
    responses(
        (status = 201, description = "Created", body = WorkspaceBody),
        (status = 400, description = "`ValidationError`: an empty or long name", body = ErrorBody),
        (status = 403, description = "`Forbidden`: not a signed-in user, or registration is closed and the user is no Admin", body = ErrorBody),
    )
)]
pub async fn create_workspace(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    ApiJson(request): ApiJson<CreateWorkspace>,
) -> Result<(StatusCode, Json<WorkspaceBody>), ApiError> {
    let created = state.identity.workspaces.create(user, &request.name).await?;
    let as_admin = Principal { subject: Subject::User(user), workspace: created.workspace.id, role: Role::Admin };
    let details = json!({"name": created.workspace.name});
    state.audit.record(&as_admin, "workspace.created", Some(created.workspace.id.to_string()), details).await;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// The workspace's members, for any of them.
#[utoipa::path(
    get, path = "/api/v1/workspaces/{id}/members", tag = "workspaces",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = MemberList),
        (status = 400, description = "`BadRequest`: the id is not a workspace id", body = ErrorBody),
        (status = 404, description = "`NotFound`: no such workspace, or the caller is not a member", body = ErrorBody),
    )
)]
pub async fn list_members(
    State(state): State<AppState>,
    Member(caller): Member,
    ApiPath(_id): ApiPath<WorkspaceId>,
) -> Result<Json<MemberList>, ApiError> {
    let members: Vec<MemberBody> =
        state.identity.workspaces.members(caller.scope()).await?.into_iter().map(Into::into).collect();
    Ok(Json(MemberList { total: members.len(), members }))
}

/// Adds an existing user (by `user_id` or `email`) with a role, or changes a member's role; for
/// the workspace's Admins. The last Admin cannot be demoted.
#[utoipa::path(
    post, path = "/api/v1/workspaces/{id}/members", tag = "workspaces", request_body(content = SetMember, example = json!({"email": "bob@example.com", "role": "Write"})),
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 201, description = "Added", body = MemberBody),
        (status = 200, description = "The member's role changed", body = MemberBody),
        (status = 400, description = "`ValidationError`: neither or both of `user_id` and `email`, or a malformed email", body = ErrorBody),
        (status = 403, description = "`Forbidden`: the caller is no Admin of the workspace", body = ErrorBody),
        (status = 404, description = "`NotFound`: no such workspace for the caller, or no such user", body = ErrorBody),
        (status = 409, description = "`ConflictError`: this would demote the workspace's last Admin", body = ErrorBody),
    )
)]
pub async fn set_member(
    State(state): State<AppState>,
    WorkspaceAdmin(caller): WorkspaceAdmin,
    ApiPath(_id): ApiPath<WorkspaceId>,
    ApiJson(request): ApiJson<SetMember>,
) -> Result<(StatusCode, Json<MemberBody>), ApiError> {
    let who = match (request.user_id, request.email) {
        (Some(user), None) => MemberRef::Id(user),
        (None, Some(email)) => MemberRef::Email(email),
        _ => return Err(ApiError::bad_request("name the user by exactly one of user_id and email")),
    };
    let (member, change) = state.identity.workspaces.set_member(caller.scope(), who, request.role).await?;
    let details = match change {
        MemberChange::Added => json!({"role": member.role}),
        MemberChange::Changed { previous } => json!({"role": member.role, "previous": previous}),
    };
    state.audit.record(&caller, "member.set", Some(member.user.id.to_string()), details).await;
    let status = if change == MemberChange::Added { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(member.into())))
}

/// Removes a member; for the workspace's Admins. The last Admin cannot be removed.
#[utoipa::path(
    delete, path = "/api/v1/workspaces/{id}/members/{user_id}", tag = "workspaces",
    params(("id" = String, Path, format = Uuid), ("user_id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "Removed", body = MemberRemoved),
        (status = 403, description = "`Forbidden`: the caller is no Admin of the workspace", body = ErrorBody),
        (status = 404, description = "`NotFound`: no such workspace for the caller, or the user is not a member", body = ErrorBody),
        (status = 409, description = "`ConflictError`: the user is the workspace's last Admin", body = ErrorBody),
    )
)]
pub async fn remove_member(
    State(state): State<AppState>,
    WorkspaceAdmin(caller): WorkspaceAdmin,
    ApiPath((_id, user)): ApiPath<(WorkspaceId, UserId)>,
) -> Result<Json<MemberRemoved>, ApiError> {
    let role = state.identity.workspaces.remove_member(caller.scope(), user).await?;
    state.audit.record(&caller, "member.removed", Some(user.to_string()), json!({"role": role})).await;
    Ok(Json(MemberRemoved { message: "Member removed".into(), user_id: user, role }))
}
