//! The `Caller` extractor: authenticates a request through the configured [`Authenticator`] and
//! gives handlers the principal, whose role they check before touching anything.

use super::AppState;
use super::error::ApiError;
use crate::domain::access::{Principal, Role, Scope};
use crate::domain::ids::WorkspaceId;
use crate::ports::{AuthError, Credentials};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

/// The header that picks the workspace a user acts in (API keys have their own).
pub const WORKSPACE_HEADER: &str = "x-oxify-workspace";

/// The authenticated principal of a request.
#[derive(Clone, Copy, Debug)]
pub struct Caller(pub Principal);

impl Caller {
    /// The caller's workspace scope, when its role is at least `needed`.
    ///
    /// # Errors
    /// 403 `Forbidden` when the role is lower.
    pub fn require(&self, needed: Role) -> Result<Scope, ApiError> {
        self.0.require(needed).map_err(|denied| ApiError::forbidden(denied.to_string()))
    }

    /// The caller's scope for reading (every role may read).
    #[must_use]
    pub fn scope(&self) -> Scope {
        self.0.scope()
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(Self(*principal));
        }
        let bearer = match parts.headers.get(header::AUTHORIZATION) {
            None => None,
            Some(value) => Some(bearer_token(value.to_str().ok())?),
        };
        let workspace = match parts.headers.get(WORKSPACE_HEADER) {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .ok()
                    .and_then(|v| v.trim().parse::<WorkspaceId>().ok())
                    .ok_or_else(|| ApiError::bad_request("X-Oxify-Workspace must be a workspace id (a UUID)"))?,
            ),
        };
        let principal = state.auth.authenticate(Credentials { bearer, workspace }).await.map_err(|e| match e {
            AuthError::Missing | AuthError::Invalid(_) => ApiError::unauthorized(e.to_string()),
            AuthError::NoAccess(m) => ApiError::forbidden(m),
            AuthError::Store(e) => crate::app::error::ServiceError::from(e).into(),
        })?;
        parts.extensions.insert(principal);
        Ok(Self(principal))
    }
}

/// A caller with at least the `Write` role: its workspace's scope. Checked before the body is
/// read, so a caller without the role learns nothing from validation errors.
#[derive(Clone, Copy, Debug)]
pub struct Writer(pub Scope);

/// A caller with the `Admin` role: its workspace's scope.
#[derive(Clone, Copy, Debug)]
pub struct Admin(pub Scope);

impl FromRequestParts<AppState> for Writer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Caller::from_request_parts(parts, state).await?.require(Role::Write).map(Self)
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Caller::from_request_parts(parts, state).await?.require(Role::Admin).map(Self)
    }
}

/// The token of an `Authorization: Bearer <token>` header (RFC 6750: the scheme is
/// case-insensitive, the token is one non-empty word).
pub(super) fn bearer_token(value: Option<&str>) -> Result<&str, ApiError> {
    let malformed = || ApiError::unauthorized("the Authorization header must be 'Bearer <token or API key>'");
    let value = value.ok_or_else(malformed)?.trim();
    let (scheme, token) = value.split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(char::is_whitespace) {
        return Err(malformed());
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn bearer_tokens_are_read_as_rfc_6750_says() {
        assert_eq!(bearer_token(Some("Bearer abc.def")).unwrap(), "abc.def");
        assert_eq!(bearer_token(Some("bearer  abc")).unwrap(), "abc");
        for bad in [None, Some(""), Some("Bearer"), Some("Bearer "), Some("Basic abc"), Some("Bearer a b")] {
            let e = bearer_token(bad).unwrap_err();
            assert_eq!(e.status, axum::http::StatusCode::UNAUTHORIZED, "{bad:?}");
        }
    }
}
