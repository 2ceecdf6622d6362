//! [`IdentityStore`] on SQLite: each write is one job of the writer thread (so a check and the
//! write it guards, such as "not the last Admin", are one atomic step), each read runs on a read
//! connection.

use super::SqliteStore;
use super::api_key_sql as keys;
use super::codec::micros;
use super::identity_sql as sql;
use crate::domain::access::Role;
use crate::domain::identity::{ApiKeyRecord, Email, Member, Membership, User, UserWithPassword, Workspace};
use crate::domain::ids::{ApiKeyId, UserId, WorkspaceId};
use crate::ports::{ExternalIdentity, IdentityStore, MemberChange, NewUser, StoreError};
use chrono::{DateTime, Utc};

#[async_trait::async_trait]
impl IdentityStore for SqliteStore {
    async fn create_workspace(&self, workspace: &Workspace, admin: Option<UserId>) -> Result<(), StoreError> {
        let w = workspace.clone();
        self.writer.write(move |c| sql::create_workspace(c, &w, admin)).await
    }

    async fn workspace(&self, id: WorkspaceId) -> Result<Workspace, StoreError> {
        self.readers.read(move |c| sql::workspace(c, id)).await
    }

    async fn create_user<'a>(
        &self,
        user: &NewUser,
        own: Option<&'a Workspace>,
        external: Option<&'a ExternalIdentity>,
    ) -> Result<(), StoreError> {
        let (user, own, external) = (user.clone(), own.cloned(), external.cloned());
        self.writer.write(move |c| sql::create_user(c, &user, own.as_ref(), external.as_ref())).await
    }

    async fn user(&self, id: UserId) -> Result<User, StoreError> {
        self.readers.read(move |c| sql::user(c, id)).await
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<UserWithPassword>, StoreError> {
        let email = email.as_str().to_owned();
        self.readers.read(move |c| sql::user_by_email(c, &email)).await
    }

    async fn user_by_external(&self, identity: &ExternalIdentity) -> Result<Option<User>, StoreError> {
        let identity = identity.clone();
        self.readers.read(move |c| sql::user_by_external(c, &identity)).await
    }

    async fn link_external(&self, identity: &ExternalIdentity, user: UserId) -> Result<(), StoreError> {
        let identity = identity.clone();
        self.writer.write(move |c| sql::link_external(c, &identity, user)).await
    }

    async fn memberships(&self, user: UserId) -> Result<Vec<Membership>, StoreError> {
        self.readers.read(move |c| sql::memberships(c, user)).await
    }

    async fn role_of(&self, user: UserId, workspace: WorkspaceId) -> Result<Option<Role>, StoreError> {
        self.readers.read(move |c| sql::role_of(c, user, workspace)).await
    }

    async fn members(&self, workspace: WorkspaceId) -> Result<Vec<Member>, StoreError> {
        self.readers.read(move |c| sql::members(c, workspace)).await
    }

    async fn set_member(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<MemberChange, StoreError> {
        self.writer.write(move |c| sql::set_member(c, workspace, user, role, micros(now))).await
    }

    async fn remove_member(&self, workspace: WorkspaceId, user: UserId) -> Result<Role, StoreError> {
        self.writer.write(move |c| sql::remove_member(c, workspace, user)).await
    }

    async fn create_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let key = key.clone();
        self.writer.write(move |c| keys::create_api_key(c, &key)).await
    }

    async fn create_first_api_key(&self, key: &ApiKeyRecord) -> Result<bool, StoreError> {
        let key = key.clone();
        self.writer.write(move |c| keys::create_first_api_key(c, &key)).await
    }

    async fn api_key_by_prefix(&self, prefix: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let prefix = prefix.to_owned();
        self.readers.read(move |c| keys::api_key_by_prefix(c, &prefix)).await
    }

    async fn api_keys(&self, workspace: WorkspaceId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.readers.read(move |c| keys::api_keys(c, workspace)).await
    }

    async fn revoke_api_key(
        &self,
        workspace: WorkspaceId,
        id: ApiKeyId,
        now: DateTime<Utc>,
    ) -> Result<ApiKeyRecord, StoreError> {
        self.writer.write(move |c| keys::revoke_api_key(c, workspace, id, micros(now))).await
    }

    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError> {
        let (name, value) = (name.to_owned(), value.to_owned());
        self.writer.write(move |c| keys::setting_or_insert(c, &name, &value)).await
    }
}
