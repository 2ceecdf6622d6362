//! Accounts: registering a user (a password hashed with Argon2id; under open registration, with
//! a workspace of their own), signing in with an email and a password for a token, and the
//! signed-in user's profile.

use super::problems::FieldProblems;
use crate::app::error::ServiceError;
use crate::domain::access::{Principal, Role};
use crate::domain::identity::names::{MAX_USER_NAME, display_name};
use crate::domain::identity::password::password_problem;
use crate::domain::identity::{Email, Membership, Registration, User, Workspace, personal_workspace_name};
use crate::domain::ids::{UserId, WorkspaceId};
use crate::ports::{Clock, IdentityStore, IssuedToken, NewUser, PasswordHasher, StoreError, TokenIssuer};
use std::sync::Arc;

/// What a sign-up sends (as given; checked here).
pub struct Registering {
    pub email: String,
    pub password: String,
    pub name: Option<String>,
}

/// A signed-in user: their token, who they are and their roles (in any workspace, highest first).
#[derive(Debug)]
pub struct Session {
    pub token: IssuedToken,
    pub user: User,
    pub roles: Vec<Role>,
}

/// A user and their workspaces, the first joined first.
#[derive(Debug)]
pub struct Profile {
    pub user: User,
    pub memberships: Vec<Membership>,
}

impl Profile {
    /// The distinct roles the user holds, highest first.
    #[must_use]
    pub fn roles(&self) -> Vec<Role> {
        roles_of(&self.memberships)
    }
}

fn roles_of(memberships: &[Membership]) -> Vec<Role> {
    let mut roles: Vec<Role> = memberships.iter().map(|m| m.role).collect();
    roles.sort_unstable_by(|a, b| b.cmp(a));
    roles.dedup();
    roles
}

/// The one answer to a failed sign-in, whether the account exists or not.
const WRONG_CREDENTIALS: &str = "the email or the password is wrong";

pub struct AccountService {
    store: Arc<dyn IdentityStore>,
    passwords: Arc<dyn PasswordHasher>,
    tokens: Arc<dyn TokenIssuer>,
    clock: Arc<dyn Clock>,
    registration: Registration,
}

impl AccountService {
    #[must_use]
    pub fn new(
        store: Arc<dyn IdentityStore>,
        passwords: Arc<dyn PasswordHasher>,
        tokens: Arc<dyn TokenIssuer>,
        clock: Arc<dyn Clock>,
        registration: Registration,
    ) -> Self {
        Self { store, passwords, tokens, clock, registration }
    }

    /// Creates an account and signs it in. Under open registration anyone may, and the user gets
    /// a workspace of their own as its Admin; under closed registration only an Admin (`by`) may,
    /// and the user belongs to no workspace until an Admin adds them.
    ///
    /// # Errors
    /// `Forbidden` under closed registration without an Admin; `Validation` naming every bad
    /// field; `Conflict` when the email has an account.
    #[tracing::instrument(skip_all)]
    pub async fn register(&self, form: Registering, by: Option<&Principal>) -> Result<Session, ServiceError> {
        if self.registration == Registration::Closed && by.is_none_or(|p| p.role < Role::Admin) {
            return Err(ServiceError::Forbidden(
                "registration is closed (OXIFY_REGISTRATION=closed): only an Admin can register users".into(),
            ));
        }
        let mut problems = FieldProblems::default();
        let email = problems.check("email", Email::parse(&form.email));
        if let Some(email) = &email
            && let Some(problem) = password_problem(&form.password, email)
        {
            problems.note("password", problem);
        }
        let name = match form.name.as_deref() {
            Some(n) => problems.check("name", display_name(n, "name", MAX_USER_NAME)),
            None => None,
        };
        problems.into_result()?;
        let Some(email) = email else { return Err(ServiceError::Internal("an email passed no check".into())) };
        let password_hash = self.passwords.hash(form.password).await.map_err(ServiceError::Internal)?;
        let user = User { id: UserId::generate(), email: Some(email), name, created_at: self.clock.now() };
        let own = (self.registration == Registration::Open).then(|| Workspace {
            id: WorkspaceId::generate(),
            name: personal_workspace_name(&user),
            created_at: user.created_at,
        });
        let new = NewUser { user, password_hash: Some(password_hash) };
        match self.store.create_user(&new, own.as_ref(), None).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(ServiceError::Conflict("an account with this email exists; sign in instead".into()));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(user = %new.user.id, "user registered");
        let roles = if own.is_some() { vec![Role::Admin] } else { Vec::new() };
        let token = self.tokens.issue(new.user.id, self.clock.now()).map_err(ServiceError::Internal)?;
        Ok(Session { token, user: new.user, roles })
    }

    /// Signs in with an email and a password. An unknown email, an account without a password
    /// (single sign-on only) and a wrong password get the same answer after the same work.
    ///
    /// # Errors
    /// `Validation` for a malformed email; `Unauthorized` for wrong credentials.
    #[tracing::instrument(skip_all)]
    pub async fn login(&self, email: &str, password: String) -> Result<Session, ServiceError> {
        let mut problems = FieldProblems::default();
        let email = problems.check("email", Email::parse(email));
        problems.into_result()?;
        let Some(email) = email else { return Err(ServiceError::Internal("an email passed no check".into())) };
        let found = self.store.user_by_email(&email).await?;
        let hash = found.as_ref().and_then(|u| u.password_hash.clone());
        let matches = self.passwords.verify(password, hash).await.map_err(ServiceError::Internal)?;
        let user = match found {
            Some(found) if matches => found.user,
            _ => {
                tracing::info!("sign-in refused");
                return Err(ServiceError::Unauthorized(WRONG_CREDENTIALS.into()));
            }
        };
        tracing::info!(user = %user.id, "signed in");
        let roles = roles_of(&self.store.memberships(user.id).await?);
        let token = self.tokens.issue(user.id, self.clock.now()).map_err(ServiceError::Internal)?;
        Ok(Session { token, user, roles })
    }

    /// The user and their workspaces.
    ///
    /// # Errors
    /// `NotFound` when the account no longer exists.
    pub async fn profile(&self, user: UserId) -> Result<Profile, ServiceError> {
        let found = self.store.user(user).await?;
        let memberships = self.store.memberships(user).await?;
        Ok(Profile { user: found, memberships })
    }
}
