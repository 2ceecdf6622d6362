//! Workspaces and their members: a user's workspaces, creating one (its creator becomes its
//! Admin), and, for its Admins, adding a user by email or id with a role, changing a role and
//! removing a member. The last Admin can be neither removed nor demoted.

use super::problems::FieldProblems;
use crate::app::error::ServiceError;
use crate::domain::access::{Role, Scope};
use crate::domain::identity::names::{MAX_WORKSPACE_NAME, display_name};
use crate::domain::identity::{Email, Member, Membership, Registration, Workspace};
use crate::domain::ids::{UserId, WorkspaceId};
use crate::ports::{Clock, IdentityStore, MemberChange, StoreError};
use std::sync::Arc;

/// Who is to be a member: an existing user, by id or by email.
#[derive(Clone, Debug)]
pub enum MemberRef {
    Id(UserId),
    Email(String),
}

pub struct WorkspaceService {
    store: Arc<dyn IdentityStore>,
    clock: Arc<dyn Clock>,
    registration: Registration,
}

impl WorkspaceService {
    #[must_use]
    pub fn new(store: Arc<dyn IdentityStore>, clock: Arc<dyn Clock>, registration: Registration) -> Self {
        Self { store, clock, registration }
    }

    /// The user's workspaces, the first joined first.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn of_user(&self, user: UserId) -> Result<Vec<Membership>, ServiceError> {
        Ok(self.store.memberships(user).await?)
    }

    /// One workspace (whose access the caller has been checked for).
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn get(&self, id: WorkspaceId) -> Result<Workspace, ServiceError> {
        Ok(self.store.workspace(id).await?)
    }

    /// Creates a workspace with `user` as its Admin. Under closed registration only users who
    /// are an Admin somewhere may.
    ///
    /// # Errors
    /// `Forbidden` under closed registration; `Validation` for a bad name.
    #[tracing::instrument(skip_all, fields(user = %user))]
    pub async fn create(&self, user: UserId, name: &str) -> Result<Membership, ServiceError> {
        if self.registration == Registration::Closed {
            let admin_somewhere = self.store.memberships(user).await?.iter().any(|m| m.role == Role::Admin);
            if !admin_somewhere {
                return Err(ServiceError::Forbidden(
                    "registration is closed (OXIFY_REGISTRATION=closed): only Admins create workspaces".into(),
                ));
            }
        }
        let mut problems = FieldProblems::default();
        let name = problems.check("name", display_name(name, "workspace name", MAX_WORKSPACE_NAME));
        problems.into_result()?;
        let workspace =
            Workspace { id: WorkspaceId::generate(), name: name.unwrap_or_default(), created_at: self.clock.now() };
        self.store.create_workspace(&workspace, Some(user)).await?;
        tracing::info!(workspace = %workspace.id, "workspace created");
        Ok(Membership { since: workspace.created_at, workspace, role: Role::Admin })
    }

    /// The workspace's members, the earliest first.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn members(&self, scope: Scope) -> Result<Vec<Member>, ServiceError> {
        Ok(self.store.members(scope.workspace()).await?)
    }

    /// Adds an existing user with `role`, or changes their role; returns the member and what
    /// changed.
    ///
    /// # Errors
    /// `Validation` for a malformed email; `NotFound` when no user has the id or email;
    /// `Conflict` when this would demote the last Admin.
    #[tracing::instrument(skip_all, fields(workspace = %scope.workspace(), role = %role))]
    pub async fn set_member(
        &self,
        scope: Scope,
        who: MemberRef,
        role: Role,
    ) -> Result<(Member, MemberChange), ServiceError> {
        let user = match who {
            MemberRef::Id(id) => self.store.user(id).await.map_err(|e| no_user(e, "with this id"))?,
            MemberRef::Email(text) => {
                let mut problems = FieldProblems::default();
                let email = problems.check("email", Email::parse(&text));
                problems.into_result()?;
                let found = match email {
                    Some(email) => self.store.user_by_email(&email).await?,
                    None => None,
                };
                found.map(|f| f.user).ok_or_else(|| ServiceError::NotFound("no user has this email".into()))?
            }
        };
        let now = self.clock.now();
        let change = self.store.set_member(scope.workspace(), user.id, role, now).await.map_err(last_admin)?;
        tracing::info!(user = %user.id, ?change, "membership set");
        let since = match change {
            MemberChange::Added => now,
            MemberChange::Changed { .. } => self
                .store
                .members(scope.workspace())
                .await?
                .into_iter()
                .find(|m| m.user.id == user.id)
                .map_or(now, |m| m.since),
        };
        Ok((Member { user, role, since }, change))
    }

    /// Removes a member and returns the role they had.
    ///
    /// # Errors
    /// `NotFound` when the user is not a member; `Conflict` for the last Admin.
    #[tracing::instrument(skip_all, fields(workspace = %scope.workspace(), user = %user))]
    pub async fn remove_member(&self, scope: Scope, user: UserId) -> Result<Role, ServiceError> {
        let role = self.store.remove_member(scope.workspace(), user).await.map_err(|e| match e {
            StoreError::NotFound { .. } => {
                ServiceError::NotFound(format!("user {user} is not a member of this workspace"))
            }
            other => last_admin(other),
        })?;
        tracing::info!(%role, "member removed");
        Ok(role)
    }
}

fn no_user(e: StoreError, how: &str) -> ServiceError {
    match e {
        StoreError::NotFound { .. } => ServiceError::NotFound(format!("no user {how}")),
        other => other.into(),
    }
}

/// The store's conflict is the last-Admin rule: said as such.
fn last_admin(e: StoreError) -> ServiceError {
    match e {
        StoreError::Conflict(m) => ServiceError::Conflict(m),
        other => other.into(),
    }
}
