//! Who is calling and what they may do: roles per workspace, the principal a request acts as,
//! and the scope every store call is confined to.
//!
//! The three roles are the seed's permission levels (`../shared/seed/NOTES.md`): `Read` sees,
//! `Write` also changes workflows and runs them, `Admin` also manages members, keys and secrets.

use super::ids::{ApiKeyId, UserId, WorkspaceId};
use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

/// A role in one workspace. Ordered: `Read < Write < Admin`, each allowing what the ones below it
/// allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub enum Role {
    Read,
    Write,
    Admin,
}

impl Role {
    /// The role's name as the API writes it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "Read",
            Self::Write => "Write",
            Self::Admin => "Admin",
        }
    }

    /// Parses the API's name of a role (exact case).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Read" => Some(Self::Read),
            "Write" => Some(Self::Write),
            "Admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who a request comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// A person, signed in with a token (ours or an OpenID Connect issuer's).
    User(UserId),
    /// A program, with an API key.
    ApiKey(ApiKeyId),
    /// Nobody in particular: only when anonymous access is configured.
    Anonymous,
    /// The server itself (recovery, timers, schedules): never a request.
    System,
}

/// The workspace a store call is confined to. Every store port call that reads or changes
/// tenant data takes one, so no query can forget it; a row of another workspace is treated as
/// if it did not exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Scope {
    workspace: WorkspaceId,
}

impl Scope {
    /// The default workspace: data written before workspaces existed, and anonymous access.
    pub const DEFAULT: Self = Self::new(WorkspaceId::DEFAULT);

    #[must_use]
    pub const fn new(workspace: WorkspaceId) -> Self {
        Self { workspace }
    }

    #[must_use]
    pub const fn workspace(self) -> WorkspaceId {
        self.workspace
    }
}

/// An authenticated caller acting in one workspace with one role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Principal {
    pub subject: Subject,
    pub workspace: WorkspaceId,
    pub role: Role,
}

/// The caller's role is below the one the action needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("this needs the {needed} role in the workspace; the caller has {has}")]
pub struct Denied {
    pub needed: Role,
    pub has: Role,
}

impl Principal {
    /// The scope of this caller's workspace, when its role is at least `needed`.
    ///
    /// # Errors
    /// [`Denied`] when the role is lower.
    pub fn require(&self, needed: Role) -> Result<Scope, Denied> {
        if self.role >= needed { Ok(Scope::new(self.workspace)) } else { Err(Denied { needed, has: self.role }) }
    }

    /// The caller's scope, whatever its role (every role may read).
    #[must_use]
    pub fn scope(&self) -> Scope {
        Scope::new(self.workspace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn as_role(role: Role) -> Principal {
        Principal { subject: Subject::Anonymous, workspace: WorkspaceId::DEFAULT, role }
    }

    #[test]
    fn each_role_allows_what_the_roles_below_it_allow() {
        for (has, needed, ok) in [
            (Role::Read, Role::Read, true),
            (Role::Read, Role::Write, false),
            (Role::Write, Role::Write, true),
            (Role::Write, Role::Admin, false),
            (Role::Admin, Role::Read, true),
            (Role::Admin, Role::Admin, true),
        ] {
            assert_eq!(as_role(has).require(needed).is_ok(), ok, "{has} doing what {needed} may");
        }
        assert_eq!(as_role(Role::Read).require(Role::Admin), Err(Denied { needed: Role::Admin, has: Role::Read }));
    }

    #[test]
    fn role_names_round_trip() {
        for role in [Role::Read, Role::Write, Role::Admin] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
        }
        assert_eq!(Role::parse("admin"), None);
    }
}
