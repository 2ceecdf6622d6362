//! Who a request comes from, for the routes about identities: the caller themselves (a user who
//! belongs to no workspace yet may ask about themselves), and the caller in the workspace named
//! by the path (a workspace they are not a member of answers 404, as if it did not exist). Each
//! is an extractor, so that a caller without the right is refused before the body is read.

use super::AppState;
use super::caller::bearer_token;
use super::error::ApiError;
use crate::app::error::ServiceError;
use crate::domain::access::{Principal, Role, Subject};
use crate::domain::ids::{UserId, WorkspaceId};
use crate::ports::{AuthError, Credentials};
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

/// The subject a request's credentials name, whatever workspace.
#[derive(Clone, Copy, Debug)]
pub struct Identified(pub Subject);

/// The token of the request's `Authorization: Bearer` header, if it has one.
///
/// # Errors
/// 401 for a malformed header.
pub fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    headers.get(header::AUTHORIZATION).map(|value| bearer_token(value.to_str().ok())).transpose()
}

/// An authenticator's refusal in the error format: 401 (with the `WWW-Authenticate` challenge)
/// for missing or bad credentials, 403 for no access, 503 or 500 for a failing store.
#[must_use]
pub fn refusal(e: AuthError) -> ApiError {
    match e {
        AuthError::Missing | AuthError::Invalid(_) => ApiError::unauthorized(e.to_string()),
        AuthError::NoAccess(m) => ApiError::forbidden(m),
        AuthError::Store(e) => ServiceError::from(e).into(),
    }
}

impl FromRequestParts<AppState> for Identified {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers)?;
        state.auth.identify(token).await.map(Self).map_err(refusal)
    }
}

/// A signed-in user (not an API key, not an anonymous caller): for what only a person does.
#[derive(Clone, Copy, Debug)]
pub struct SignedIn(pub UserId);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match Identified::from_request_parts(parts, state).await?.0 {
            Subject::User(user) => Ok(Self(user)),
            _ => Err(ApiError::forbidden(
                "only a signed-in user may do this (an API key acts in its one workspace; sign in with POST /api/v1/auth/login)",
            )),
        }
    }
}

/// The caller as a member of the workspace the path's `{id}` names, whatever their role.
#[derive(Clone, Copy, Debug)]
pub struct Member(pub Principal);

/// The caller as an Admin of the workspace the path's `{id}` names.
#[derive(Clone, Copy, Debug)]
pub struct WorkspaceAdmin(pub Principal);

impl FromRequestParts<AppState> for Member {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("invalid path parameter: {}", e.body_text())))?;
        let id = params.iter().find(|(name, _)| *name == "id").map(|(_, value)| value).unwrap_or_default();
        let workspace = id.parse::<WorkspaceId>().map_err(|_| {
            ApiError::bad_request(format!("invalid path parameter: '{id}' is not a workspace id (a UUID)"))
        })?;
        in_workspace(state, &parts.headers, workspace).await.map(Self)
    }
}

impl FromRequestParts<AppState> for WorkspaceAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Member(principal) = Member::from_request_parts(parts, state).await?;
        principal
            .require(Role::Admin)
            .map(|_| Self(principal))
            .map_err(|denied| ApiError::forbidden(denied.to_string()))
    }
}

/// The caller as a member of `workspace`; 404 when they are not one (or it does not exist), so
/// that other workspaces cannot be told apart from missing ones.
///
/// # Errors
/// 401 for missing or bad credentials, 404 for a workspace out of reach.
pub async fn in_workspace(
    state: &AppState,
    headers: &HeaderMap,
    workspace: WorkspaceId,
) -> Result<Principal, ApiError> {
    let bearer = bearer(headers)?;
    let missing = || ApiError::not_found(format!("workspace {workspace} not found"));
    let principal =
        state.auth.authenticate(Credentials { bearer, workspace: Some(workspace) }).await.map_err(|e| match e {
            AuthError::NoAccess(_) => missing(),
            other => refusal(other),
        })?;
    // Whatever the authenticator: a principal of another workspace never reaches this one.
    if principal.workspace == workspace { Ok(principal) } else { Err(missing()) }
}

/// The caller's principal when the request carries credentials (a workspace asked for with
/// `X-Oxify-Workspace` taken into account), `None` without any.
///
/// # Errors
/// As [`in_workspace`], when credentials are sent but refused.
pub async fn optional_principal(state: &AppState, headers: &HeaderMap) -> Result<Option<Principal>, ApiError> {
    let Some(bearer) = bearer(headers)? else { return Ok(None) };
    let workspace = match headers.get(super::caller::WORKSPACE_HEADER) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<WorkspaceId>().ok())
                .ok_or_else(|| ApiError::bad_request("X-Oxify-Workspace must be a workspace id (a UUID)"))?,
        ),
    };
    state.auth.authenticate(Credentials { bearer: Some(bearer), workspace }).await.map(Some).map_err(refusal)
}
