//! The authenticator of a server with identities: an API key acts in its own workspace with its
//! role; a user (signed in with one of our JWTs, or with an OpenID Connect issuer's token) acts in
//! the workspace asked for with `X-Oxify-Workspace`, or else in their first, with their role
//! there; without credentials, a request is refused unless anonymous access is configured (then
//! it acts as an Admin of the default workspace). Credentials that are sent are always checked.
//!
//! Nothing is cached: a revoked key, a removed member or a changed role takes effect with the
//! next request, on every process sharing the database.

use super::jwt::{ISSUER, LocalTokens, unverified_issuer};
use super::oidc::{OidcClaims, OidcError, OidcVerifier};
use crate::domain::access::{Principal, Role, Subject};
use crate::domain::identity::names::{MAX_USER_NAME, display_name};
use crate::domain::identity::{
    ApiKeyRecord, ApiKeySecret, Email, KeyRefusal, Registration, User, Workspace, personal_workspace_name,
};
use crate::domain::ids::{UserId, WorkspaceId};
use crate::ports::{
    AuthError, Authenticator, Clock, Credentials, ExternalIdentity, IdentityStore, NewUser, StoreError,
};
use std::sync::Arc;

/// Checks API keys, our JWTs and (when configured) an OpenID Connect issuer's tokens against
/// the identity store.
pub struct IdentityAuthenticator {
    store: Arc<dyn IdentityStore>,
    tokens: Arc<LocalTokens>,
    oidc: Option<Arc<OidcVerifier>>,
    clock: Arc<dyn Clock>,
    allow_anonymous: bool,
    registration: Registration,
}

/// The same refusal for an unknown key and a wrong secret, so that guessing learns nothing.
const UNKNOWN_KEY: &str = "this API key is not valid";

impl IdentityAuthenticator {
    #[must_use]
    pub fn new(store: Arc<dyn IdentityStore>, tokens: Arc<LocalTokens>, clock: Arc<dyn Clock>) -> Self {
        Self { store, tokens, oidc: None, clock, allow_anonymous: false, registration: Registration::Open }
    }

    /// Also accepts the tokens of an OpenID Connect issuer.
    #[must_use]
    pub fn with_oidc(mut self, verifier: Arc<OidcVerifier>) -> Self {
        self.oidc = Some(verifier);
        self
    }

    /// Lets requests without credentials in as an Admin of the default workspace.
    #[must_use]
    pub fn allowing_anonymous(mut self, allow: bool) -> Self {
        self.allow_anonymous = allow;
        self
    }

    /// Who single sign-on users seen for the first time are (open: with a workspace of their own).
    #[must_use]
    pub fn with_registration(mut self, registration: Registration) -> Self {
        self.registration = registration;
        self
    }

    /// The record of a valid, usable API key.
    async fn api_key(&self, token: &str) -> Result<ApiKeyRecord, AuthError> {
        let secret = ApiKeySecret::parse(token).map_err(|_| AuthError::Invalid(UNKNOWN_KEY.into()))?;
        let record = self.store.api_key_by_prefix(secret.prefix()).await?;
        let record =
            record.filter(|r| r.hash.matches(&secret.hash())).ok_or_else(|| AuthError::Invalid(UNKNOWN_KEY.into()))?;
        match record.usable_at(self.clock.now()) {
            Ok(()) => Ok(record),
            Err(KeyRefusal::Revoked) => Err(AuthError::Invalid("this API key has been revoked".into())),
            Err(KeyRefusal::Expired) => Err(AuthError::Invalid("this API key has expired".into())),
        }
    }

    /// The user a JWT (ours or the issuer's) names.
    async fn user(&self, token: &str) -> Result<UserId, AuthError> {
        let issuer = unverified_issuer(token);
        if let Some(oidc) = &self.oidc
            && issuer.as_deref() == Some(oidc.issuer())
        {
            let claims = oidc.verify(token).await.map_err(|e| match e {
                OidcError::Refused(m) => AuthError::Invalid(m),
                OidcError::Unavailable(m) => AuthError::Store(StoreError::Unavailable(m)),
            })?;
            return self.single_sign_on_user(oidc.issuer(), claims).await;
        }
        if issuer.is_some_and(|iss| iss != ISSUER) {
            return Err(AuthError::Invalid("the token comes from an issuer this server does not accept".into()));
        }
        let user = self.tokens.verify(token).map_err(AuthError::Invalid)?;
        match self.store.user(user).await {
            Ok(_) => Ok(user),
            Err(StoreError::NotFound { .. }) => {
                Err(AuthError::Invalid("the account of this token no longer exists".into()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The user linked to an issuer's subject, created on first sight: linked to the account of
    /// the same email when the issuer verified that address, else a new account (with the email
    /// when no account has it; under open registration, with a workspace of their own).
    async fn single_sign_on_user(&self, issuer: &str, claims: OidcClaims) -> Result<UserId, AuthError> {
        let identity = ExternalIdentity { issuer: issuer.to_owned(), subject: claims.subject.clone() };
        if let Some(user) = self.store.user_by_external(&identity).await? {
            return Ok(user.id);
        }
        let email = claims.email.as_deref().and_then(|e| Email::parse(e).ok());
        let holder = match &email {
            Some(email) => self.store.user_by_email(email).await?,
            None => None,
        };
        if let Some(holder) = &holder
            && claims.email_verified
        {
            return match self.store.link_external(&identity, holder.user.id).await {
                Ok(()) => Ok(holder.user.id),
                Err(StoreError::Conflict(_)) => self.linked(&identity).await,
                Err(e) => Err(e.into()),
            };
        }
        let user = User {
            id: UserId::generate(),
            // An address another account holds, unverified by the issuer, is not taken over.
            email: email.filter(|_| holder.is_none()),
            name: claims.name.as_deref().and_then(|n| display_name(n, "name", MAX_USER_NAME).ok()),
            created_at: self.clock.now(),
        };
        let own = (self.registration == Registration::Open).then(|| Workspace {
            id: WorkspaceId::generate(),
            name: personal_workspace_name(&user),
            created_at: user.created_at,
        });
        let new = NewUser { user, password_hash: None };
        match self.store.create_user(&new, own.as_ref(), Some(&identity)).await {
            Ok(()) => {
                tracing::info!(user = %new.user.id, issuer, "single sign-on user created");
                Ok(new.user.id)
            }
            // Another request of the same user created them first.
            Err(StoreError::Conflict(_)) => self.linked(&identity).await,
            Err(e) => Err(e.into()),
        }
    }

    async fn linked(&self, identity: &ExternalIdentity) -> Result<UserId, AuthError> {
        match self.store.user_by_external(identity).await? {
            Some(user) => Ok(user.id),
            None => Err(AuthError::Invalid(
                "this single sign-on account cannot be linked: its email belongs to another account".into(),
            )),
        }
    }

    /// A user's role in the workspace asked for, or in their first one.
    async fn user_principal(&self, user: UserId, asked: Option<WorkspaceId>) -> Result<Principal, AuthError> {
        let subject = Subject::User(user);
        if let Some(workspace) = asked {
            return match self.store.role_of(user, workspace).await? {
                Some(role) => Ok(Principal { subject, workspace, role }),
                None => Err(no_such_workspace()),
            };
        }
        let first = self.store.memberships(user).await?.into_iter().next().ok_or_else(|| {
            AuthError::NoAccess(
                "this account belongs to no workspace yet: an Admin can add it, or it can create one with POST /api/v1/workspaces"
                    .into(),
            )
        })?;
        Ok(Principal { subject, workspace: first.workspace.id, role: first.role })
    }
}

/// Neutral: the same whether the workspace does not exist or the caller is not a member.
fn no_such_workspace() -> AuthError {
    AuthError::NoAccess("no such workspace for these credentials".into())
}

#[async_trait::async_trait]
impl Authenticator for IdentityAuthenticator {
    async fn authenticate<'a>(&self, credentials: Credentials<'a>) -> Result<Principal, AuthError> {
        let Some(token) = credentials.bearer else {
            if !self.allow_anonymous {
                return Err(AuthError::Missing);
            }
            if credentials.workspace.is_some_and(|w| w != WorkspaceId::DEFAULT) {
                return Err(AuthError::NoAccess("anonymous access reaches the default workspace only".into()));
            }
            return Ok(Principal { subject: Subject::Anonymous, workspace: WorkspaceId::DEFAULT, role: Role::Admin });
        };
        if ApiKeySecret::looks_like_key(token) {
            let key = self.api_key(token).await?;
            if credentials.workspace.is_some_and(|w| w != key.workspace) {
                return Err(AuthError::NoAccess(
                    "an API key acts in its own workspace only; leave out X-Oxify-Workspace or name that one".into(),
                ));
            }
            return Ok(Principal { subject: Subject::ApiKey(key.id), workspace: key.workspace, role: key.role });
        }
        let user = self.user(token).await?;
        self.user_principal(user, credentials.workspace).await
    }

    async fn identify<'a>(&self, bearer: Option<&'a str>) -> Result<Subject, AuthError> {
        match bearer {
            None if self.allow_anonymous => Ok(Subject::Anonymous),
            None => Err(AuthError::Missing),
            Some(token) if ApiKeySecret::looks_like_key(token) => Ok(Subject::ApiKey(self.api_key(token).await?.id)),
            Some(token) => Ok(Subject::User(self.user(token).await?)),
        }
    }
}
