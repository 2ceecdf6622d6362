//! Turning a request's credentials into the principal it acts as.

use super::store_error::StoreError;
use crate::domain::access::{Principal, Subject};
use crate::domain::ids::WorkspaceId;

/// What a request presents.
#[derive(Clone, Copy, Debug, Default)]
pub struct Credentials<'a> {
    /// The token of `Authorization: Bearer <token>` (a JWT or an API key), if any.
    pub bearer: Option<&'a str>,
    /// The workspace asked for with the `X-Oxify-Workspace` header, if any. An API key acts in
    /// its own workspace (a different one asked for is refused); a user acts in this one, or in
    /// their first when none is asked for.
    pub workspace: Option<WorkspaceId>,
}

/// Why a request is not let in.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No credentials, and anonymous access is not allowed (401).
    #[error("this needs credentials: send Authorization: Bearer <token or API key>")]
    Missing,
    /// Credentials that are malformed, expired, revoked, tampered with or unknown (401). The
    /// message says which without echoing the credential.
    #[error("{0}")]
    Invalid(String),
    /// Valid credentials without access to the workspace asked for (403).
    #[error("{0}")]
    NoAccess(String),
    /// The store behind the authenticator failed (503 or 500).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Authenticates requests. Implementations: open access (anonymous allowed, one workspace) and
/// identities (users with JWTs, API keys, OpenID Connect tokens).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait Authenticator: Send + Sync {
    /// The principal `credentials` stand for.
    ///
    /// # Errors
    /// [`AuthError`] as documented on its variants.
    async fn authenticate<'a>(&self, credentials: Credentials<'a>) -> Result<Principal, AuthError>;

    /// Who `bearer` (or its absence) names, whatever workspace they may act in: for requests
    /// about the caller themselves (their profile, their workspaces), which a user who belongs
    /// to no workspace yet may make too.
    ///
    /// # Errors
    /// [`AuthError::Missing`] and [`AuthError::Invalid`] as for [`Authenticator::authenticate`].
    async fn identify<'a>(&self, bearer: Option<&'a str>) -> Result<Subject, AuthError> {
        self.authenticate(Credentials { bearer, workspace: None }).await.map(|p| p.subject)
    }
}
