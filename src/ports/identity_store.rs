//! Storage port for identities: workspaces, users (and the single sign-on identities linked to
//! them), memberships with their roles, API keys, and the server's own settings (such as the
//! generated JWT signing secret, shared by every process on one database).

use super::store_error::StoreError;
use crate::domain::access::Role;
use crate::domain::identity::{ApiKeyRecord, Email, Member, Membership, User, UserWithPassword, Workspace};
use crate::domain::ids::{ApiKeyId, UserId, WorkspaceId};
use chrono::{DateTime, Utc};

/// A new user, with the PHC string of their password's hash when they have a password.
#[derive(Clone, PartialEq, Eq)]
pub struct NewUser {
    pub user: User,
    pub password_hash: Option<String>,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser").field("user", &self.user).finish_non_exhaustive()
    }
}

/// A user's identity at an OpenID Connect issuer: the token's `iss` and `sub` claims.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExternalIdentity {
    pub issuer: String,
    pub subject: String,
}

/// What a membership write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberChange {
    /// The user was not a member and now is.
    Added,
    /// The user was a member with `previous` and now has the role asked for.
    Changed { previous: Role },
}

/// Workspaces, users, memberships, API keys and server settings.
///
/// Emails are compared as given: callers pass them normalised ([`Email::parse`]).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait IdentityStore: Send + Sync {
    /// Stores a workspace and, when `admin` is given, makes that user its Admin, in one atomic
    /// write.
    ///
    /// # Errors
    /// - MUST return [`StoreError::Conflict`] when the id is taken, and store nothing.
    /// - MUST return [`StoreError::NotFound`] when `admin` names no user, and store nothing.
    async fn create_workspace(&self, workspace: &Workspace, admin: Option<UserId>) -> Result<(), StoreError>;

    /// # Errors
    /// MUST return [`StoreError::NotFound`] when no workspace has this id.
    async fn workspace(&self, id: WorkspaceId) -> Result<Workspace, StoreError>;

    /// Stores a user and, when `own` is given, that workspace with the user as its Admin, in one
    /// atomic write; also links `external` to the user when given.
    ///
    /// # Errors
    /// - MUST return [`StoreError::Conflict`] when the email (or the id, the workspace id or the
    ///   external identity) is taken, and store nothing.
    async fn create_user<'a>(
        &self,
        user: &NewUser,
        own: Option<&'a Workspace>,
        external: Option<&'a ExternalIdentity>,
    ) -> Result<(), StoreError>;

    /// # Errors
    /// MUST return [`StoreError::NotFound`] when no user has this id.
    async fn user(&self, id: UserId) -> Result<User, StoreError>;

    /// The user with this (normalised) email and their password hash, if any.
    ///
    /// # Errors
    /// Storage failures only.
    async fn user_by_email(&self, email: &Email) -> Result<Option<UserWithPassword>, StoreError>;

    /// The user an external identity is linked to, if any.
    ///
    /// # Errors
    /// Storage failures only.
    async fn user_by_external(&self, identity: &ExternalIdentity) -> Result<Option<User>, StoreError>;

    /// Links an external identity to an existing user.
    ///
    /// # Errors
    /// - MUST return [`StoreError::Conflict`] when the identity is linked already.
    /// - MUST return [`StoreError::NotFound`] when no user has this id.
    async fn link_external(&self, identity: &ExternalIdentity, user: UserId) -> Result<(), StoreError>;

    /// The user's workspaces with their role in each, the one they joined first first (ties by
    /// workspace id).
    ///
    /// # Errors
    /// Storage failures only (an unknown user has no workspaces).
    async fn memberships(&self, user: UserId) -> Result<Vec<Membership>, StoreError>;

    /// The user's role in the workspace, `None` when they are not a member.
    ///
    /// # Errors
    /// Storage failures only.
    async fn role_of(&self, user: UserId, workspace: WorkspaceId) -> Result<Option<Role>, StoreError>;

    /// The workspace's members, the earliest first (ties by user id).
    ///
    /// # Errors
    /// MUST return [`StoreError::NotFound`] when no workspace has this id.
    async fn members(&self, workspace: WorkspaceId) -> Result<Vec<Member>, StoreError>;

    /// Makes the user a member with `role`, or changes their role, at `now`.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when the workspace or the user does not exist.
    /// - MUST return [`StoreError::Conflict`] when this would demote the workspace's last Admin,
    ///   and change nothing; the check and the write are one atomic step, so two concurrent
    ///   demotions of the last two Admins cannot both succeed.
    async fn set_member(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<MemberChange, StoreError>;

    /// Removes the user from the workspace and returns the role they had.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when the user is not a member.
    /// - MUST return [`StoreError::Conflict`] when they are its last Admin, and change nothing
    ///   (atomically, as [`IdentityStore::set_member`]).
    async fn remove_member(&self, workspace: WorkspaceId, user: UserId) -> Result<Role, StoreError>;

    /// Stores a new API key.
    ///
    /// # Errors
    /// - MUST return [`StoreError::Conflict`] when the id or the prefix is taken.
    /// - MUST return [`StoreError::NotFound`] when the workspace does not exist.
    async fn create_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;

    /// Stores `key` only when the server has no users and no API keys (revoked ones included),
    /// and says whether it did: the first start's admin key. Of processes starting together on
    /// one database, exactly one stores its key.
    ///
    /// # Errors
    /// Storage failures only.
    async fn create_first_api_key(&self, key: &ApiKeyRecord) -> Result<bool, StoreError>;

    /// The key with this prefix, revoked and expired ones included.
    ///
    /// # Errors
    /// Storage failures only.
    async fn api_key_by_prefix(&self, prefix: &str) -> Result<Option<ApiKeyRecord>, StoreError>;

    /// The workspace's keys, newest first, revoked and expired ones included.
    ///
    /// # Errors
    /// Storage failures only.
    async fn api_keys(&self, workspace: WorkspaceId) -> Result<Vec<ApiKeyRecord>, StoreError>;

    /// Revokes the key at `now` (a key revoked before keeps its first time) and returns it.
    ///
    /// # Errors
    /// MUST return [`StoreError::NotFound`] when the workspace has no key with this id (a key of
    /// another workspace included).
    async fn revoke_api_key(
        &self,
        workspace: WorkspaceId,
        id: ApiKeyId,
        now: DateTime<Utc>,
    ) -> Result<ApiKeyRecord, StoreError>;

    /// The setting's value, storing `value` first when it has none, so that processes sharing a
    /// database agree on the first value stored.
    ///
    /// # Errors
    /// Storage failures only.
    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError>;
}
