//! [`IdentityStore`] on Postgres: reads on the pool, writes of several statements in one
//! transaction each.

use super::api_key_sql as keys;
use super::identity_sql as sql;
use super::{PostgresStore, finish};
use crate::domain::access::Role;
use crate::domain::identity::{ApiKeyRecord, Email, Member, Membership, User, UserWithPassword, Workspace};
use crate::domain::ids::{ApiKeyId, UserId, WorkspaceId};
use crate::ports::{ExternalIdentity, IdentityStore, MemberChange, NewUser, StoreError};
use chrono::{DateTime, Utc};

#[async_trait::async_trait]
impl IdentityStore for PostgresStore {
    async fn create_workspace(&self, workspace: &Workspace, admin: Option<UserId>) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let done = sql::create_workspace(&mut tx, workspace, admin).await;
        finish(tx, done).await
    }

    async fn workspace(&self, id: WorkspaceId) -> Result<Workspace, StoreError> {
        sql::workspace(&self.pool, id).await
    }

    async fn create_user<'a>(
        &self,
        user: &NewUser,
        own: Option<&'a Workspace>,
        external: Option<&'a ExternalIdentity>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let done = sql::create_user(&mut tx, user, own, external).await;
        finish(tx, done).await
    }

    async fn user(&self, id: UserId) -> Result<User, StoreError> {
        sql::user(&self.pool, id).await
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<UserWithPassword>, StoreError> {
        sql::user_by_email(&self.pool, email.as_str()).await
    }

    async fn user_by_external(&self, identity: &ExternalIdentity) -> Result<Option<User>, StoreError> {
        sql::user_by_external(&self.pool, identity).await
    }

    async fn link_external(&self, identity: &ExternalIdentity, user: UserId) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let done = sql::link_external(&mut tx, identity, user).await;
        finish(tx, done).await
    }

    async fn memberships(&self, user: UserId) -> Result<Vec<Membership>, StoreError> {
        sql::memberships(&self.pool, user).await
    }

    async fn role_of(&self, user: UserId, workspace: WorkspaceId) -> Result<Option<Role>, StoreError> {
        sql::role_of(&self.pool, user, workspace).await
    }

    async fn members(&self, workspace: WorkspaceId) -> Result<Vec<Member>, StoreError> {
        sql::members(&self.pool, workspace).await
    }

    async fn set_member(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<MemberChange, StoreError> {
        let mut tx = self.begin().await?;
        let done = sql::set_member(&mut tx, workspace, user, role, now).await;
        finish(tx, done).await
    }

    async fn remove_member(&self, workspace: WorkspaceId, user: UserId) -> Result<Role, StoreError> {
        let mut tx = self.begin().await?;
        let done = sql::remove_member(&mut tx, workspace, user).await;
        finish(tx, done).await
    }

    async fn create_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let done = keys::create_api_key(&mut tx, key).await;
        finish(tx, done).await
    }

    async fn create_first_api_key(&self, key: &ApiKeyRecord) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let done = keys::create_first_api_key(&mut tx, key).await;
        finish(tx, done).await
    }

    async fn api_key_by_prefix(&self, prefix: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        keys::api_key_by_prefix(&self.pool, prefix).await
    }

    async fn api_keys(&self, workspace: WorkspaceId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        keys::api_keys(&self.pool, workspace).await
    }

    async fn revoke_api_key(
        &self,
        workspace: WorkspaceId,
        id: ApiKeyId,
        now: DateTime<Utc>,
    ) -> Result<ApiKeyRecord, StoreError> {
        keys::revoke_api_key(&self.pool, workspace, id, now).await
    }

    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError> {
        keys::setting_or_insert(&self.pool, name, value).await
    }
}
