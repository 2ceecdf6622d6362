//! What the identity store holds: workspaces, users, memberships and API keys.

use super::api_key::KeyHash;
use super::email::Email;
use crate::domain::access::Role;
use crate::domain::ids::{ApiKeyId, UserId, WorkspaceId};
use chrono::{DateTime, Utc};

/// A tenant: every workflow, execution and key belongs to one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// A person who signs in: with a password (registered here) or through an OpenID Connect issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    /// Normalised; `None` for a single sign-on user whose issuer gave no email claim.
    pub email: Option<Email>,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A user with the PHC string of their password's hash (`$argon2id$...`), `None` for users
/// who sign in through single sign-on only.
#[derive(Clone, PartialEq, Eq)]
pub struct UserWithPassword {
    pub user: User,
    pub password_hash: Option<String>,
}

impl std::fmt::Debug for UserWithPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserWithPassword").field("user", &self.user).finish_non_exhaustive()
    }
}

/// One of a user's workspaces and their role in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub workspace: Workspace,
    pub role: Role,
    /// When the user joined: a user's first workspace is the one they joined first.
    pub since: DateTime<Utc>,
}

/// One member of a workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub user: User,
    pub role: Role,
    pub since: DateTime<Utc>,
}

/// An API key's record: everything but the key itself, of which only the hash is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    /// The only workspace the key acts in.
    pub workspace: WorkspaceId,
    /// The key's first characters after `oxk_`, unique, shown in lists.
    pub prefix: String,
    pub hash: KeyHash,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    /// From then on the key is refused; `None`: never.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked; refused from then on.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Why a key with the right secret is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRefusal {
    Revoked,
    Expired,
}

impl ApiKeyRecord {
    /// Whether the key may be used at `now`.
    ///
    /// # Errors
    /// [`KeyRefusal`] when it was revoked or has expired (at `expires_at` exactly, it has).
    pub fn usable_at(&self, now: DateTime<Utc>) -> Result<(), KeyRefusal> {
        if self.revoked_at.is_some_and(|at| at <= now) {
            return Err(KeyRefusal::Revoked);
        }
        if self.expires_at.is_some_and(|at| at <= now) {
            return Err(KeyRefusal::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn a_key_is_refused_once_revoked_or_expired() {
        let now = Utc::now();
        let mut key = ApiKeyRecord {
            id: ApiKeyId::generate(),
            workspace: WorkspaceId::DEFAULT,
            prefix: "abcdefghij".into(),
            hash: KeyHash([0; 32]),
            name: "ci".into(),
            role: Role::Write,
            created_at: now,
            expires_at: Some(now + TimeDelta::seconds(10)),
            revoked_at: None,
        };
        assert_eq!(key.usable_at(now), Ok(()));
        assert_eq!(key.usable_at(now + TimeDelta::seconds(10)), Err(KeyRefusal::Expired));
        key.revoked_at = Some(now);
        assert_eq!(key.usable_at(now), Err(KeyRefusal::Revoked));
    }
}
