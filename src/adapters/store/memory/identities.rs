//! Identities in memory, behind a lock of their own (never held across an await): nothing here
//! is written together with workflows or executions.

use super::InMemoryStore;
use crate::domain::access::Role;
use crate::domain::identity::{ApiKeyRecord, Email, Member, Membership, User, UserWithPassword, Workspace};
use crate::domain::ids::{ApiKeyId, UserId, WorkspaceId};
use crate::ports::{ExternalIdentity, IdentityStore, MemberChange, NewUser, StoreError};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::{PoisonError, RwLock};

/// Everything identity, seeded with the default workspace as the migrations seed it.
pub(super) struct Identities {
    state: RwLock<State>,
}

#[derive(Default)]
struct State {
    workspaces: HashMap<WorkspaceId, Workspace>,
    users: HashMap<UserId, UserWithPassword>,
    by_email: HashMap<Email, UserId>,
    external: HashMap<ExternalIdentity, UserId>,
    /// Role and the time the user joined, by (workspace, user).
    memberships: BTreeMap<(WorkspaceId, UserId), (Role, DateTime<Utc>)>,
    keys: HashMap<ApiKeyId, ApiKeyRecord>,
    by_prefix: HashMap<String, ApiKeyId>,
    settings: HashMap<String, String>,
}

impl Default for Identities {
    fn default() -> Self {
        let mut state = State::default();
        let default = Workspace { id: WorkspaceId::DEFAULT, name: "default".into(), created_at: Utc::now() };
        state.workspaces.insert(default.id, default);
        Self { state: RwLock::new(state) }
    }
}

impl Identities {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn admins(&self, workspace: WorkspaceId) -> usize {
        self.memberships
            .range((workspace, UserId(uuid::Uuid::nil()))..)
            .take_while(|((w, _), _)| *w == workspace)
            .filter(|(_, (role, _))| *role == Role::Admin)
            .count()
    }

    fn workspace(&self, id: WorkspaceId) -> Result<&Workspace, StoreError> {
        self.workspaces.get(&id).ok_or_else(|| StoreError::not_found("workspace", id))
    }

    fn user(&self, id: UserId) -> Result<&User, StoreError> {
        self.users.get(&id).map(|u| &u.user).ok_or_else(|| StoreError::not_found("user", id))
    }
}

fn last_admin(workspace: WorkspaceId) -> StoreError {
    StoreError::Conflict(format!(
        "the last Admin of workspace {workspace} cannot be removed or demoted; make another member Admin first"
    ))
}

#[async_trait::async_trait]
impl IdentityStore for InMemoryStore {
    async fn create_workspace(&self, workspace: &Workspace, admin: Option<UserId>) -> Result<(), StoreError> {
        let mut s = self.identities.write();
        if s.workspaces.contains_key(&workspace.id) {
            return Err(StoreError::Conflict(format!("workspace {} exists", workspace.id)));
        }
        if let Some(user) = admin {
            s.user(user)?;
            s.memberships.insert((workspace.id, user), (Role::Admin, workspace.created_at));
        }
        s.workspaces.insert(workspace.id, workspace.clone());
        Ok(())
    }

    async fn workspace(&self, id: WorkspaceId) -> Result<Workspace, StoreError> {
        self.identities.read().workspace(id).cloned()
    }

    async fn create_user<'a>(
        &self,
        new: &NewUser,
        own: Option<&'a Workspace>,
        external: Option<&'a ExternalIdentity>,
    ) -> Result<(), StoreError> {
        let mut s = self.identities.write();
        let user = &new.user;
        if s.users.contains_key(&user.id) {
            return Err(StoreError::Conflict(format!("user {} exists", user.id)));
        }
        if user.email.as_ref().is_some_and(|e| s.by_email.contains_key(e)) {
            return Err(StoreError::Conflict("a user with this email exists".into()));
        }
        if own.is_some_and(|w| s.workspaces.contains_key(&w.id)) {
            return Err(StoreError::Conflict("the workspace id is taken".into()));
        }
        if external.is_some_and(|x| s.external.contains_key(x)) {
            return Err(StoreError::Conflict("this single sign-on identity is linked to another user".into()));
        }
        if let Some(email) = &user.email {
            s.by_email.insert(email.clone(), user.id);
        }
        if let Some(w) = own {
            s.workspaces.insert(w.id, w.clone());
            s.memberships.insert((w.id, user.id), (Role::Admin, user.created_at));
        }
        if let Some(x) = external {
            s.external.insert(x.clone(), user.id);
        }
        s.users.insert(user.id, UserWithPassword { user: user.clone(), password_hash: new.password_hash.clone() });
        Ok(())
    }

    async fn user(&self, id: UserId) -> Result<User, StoreError> {
        self.identities.read().user(id).cloned()
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<UserWithPassword>, StoreError> {
        let s = self.identities.read();
        Ok(s.by_email.get(email).and_then(|id| s.users.get(id)).cloned())
    }

    async fn user_by_external(&self, identity: &ExternalIdentity) -> Result<Option<User>, StoreError> {
        let s = self.identities.read();
        Ok(s.external.get(identity).and_then(|id| s.users.get(id)).map(|u| u.user.clone()))
    }

    async fn link_external(&self, identity: &ExternalIdentity, user: UserId) -> Result<(), StoreError> {
        let mut s = self.identities.write();
        s.user(user)?;
        if s.external.contains_key(identity) {
            return Err(StoreError::Conflict("this single sign-on identity is linked to another user".into()));
        }
        s.external.insert(identity.clone(), user);
        Ok(())
    }

    async fn memberships(&self, user: UserId) -> Result<Vec<Membership>, StoreError> {
        let s = self.identities.read();
        let mut found: Vec<Membership> = s
            .memberships
            .iter()
            .filter(|((_, u), _)| *u == user)
            .filter_map(|((w, _), (role, since))| {
                s.workspaces.get(w).map(|ws| Membership { workspace: ws.clone(), role: *role, since: *since })
            })
            .collect();
        found.sort_by_key(|m| (m.since, m.workspace.id));
        Ok(found)
    }

    async fn role_of(&self, user: UserId, workspace: WorkspaceId) -> Result<Option<Role>, StoreError> {
        Ok(self.identities.read().memberships.get(&(workspace, user)).map(|(role, _)| *role))
    }

    async fn members(&self, workspace: WorkspaceId) -> Result<Vec<Member>, StoreError> {
        let s = self.identities.read();
        s.workspace(workspace)?;
        let mut found: Vec<Member> = s
            .memberships
            .iter()
            .filter(|((w, _), _)| *w == workspace)
            .filter_map(|((_, u), (role, since))| {
                s.users.get(u).map(|user| Member { user: user.user.clone(), role: *role, since: *since })
            })
            .collect();
        found.sort_by_key(|m| (m.since, m.user.id));
        Ok(found)
    }

    async fn set_member(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<MemberChange, StoreError> {
        let mut s = self.identities.write();
        s.workspace(workspace)?;
        s.user(user)?;
        let admins = s.admins(workspace);
        match s.memberships.get_mut(&(workspace, user)) {
            Some((held, _)) => {
                let previous = *held;
                if previous == Role::Admin && role != Role::Admin && admins <= 1 {
                    return Err(last_admin(workspace));
                }
                *held = role;
                Ok(MemberChange::Changed { previous })
            }
            None => {
                s.memberships.insert((workspace, user), (role, now));
                Ok(MemberChange::Added)
            }
        }
    }

    async fn remove_member(&self, workspace: WorkspaceId, user: UserId) -> Result<Role, StoreError> {
        let mut s = self.identities.write();
        let admins = s.admins(workspace);
        let Some((role, _)) = s.memberships.get(&(workspace, user)).copied() else {
            return Err(StoreError::not_found("member", user));
        };
        if role == Role::Admin && admins <= 1 {
            return Err(last_admin(workspace));
        }
        s.memberships.remove(&(workspace, user));
        Ok(role)
    }

    async fn create_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let mut s = self.identities.write();
        insert_key(&mut s, key)
    }

    async fn create_first_api_key(&self, key: &ApiKeyRecord) -> Result<bool, StoreError> {
        let mut s = self.identities.write();
        if !s.users.is_empty() || !s.keys.is_empty() {
            return Ok(false);
        }
        insert_key(&mut s, key).map(|()| true)
    }

    async fn api_key_by_prefix(&self, prefix: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let s = self.identities.read();
        Ok(s.by_prefix.get(prefix).and_then(|id| s.keys.get(id)).cloned())
    }

    async fn api_keys(&self, workspace: WorkspaceId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let s = self.identities.read();
        let mut found: Vec<ApiKeyRecord> = s.keys.values().filter(|k| k.workspace == workspace).cloned().collect();
        found.sort_by_key(|k| std::cmp::Reverse((k.created_at, k.id)));
        Ok(found)
    }

    async fn revoke_api_key(
        &self,
        workspace: WorkspaceId,
        id: ApiKeyId,
        now: DateTime<Utc>,
    ) -> Result<ApiKeyRecord, StoreError> {
        let mut s = self.identities.write();
        let key = s
            .keys
            .get_mut(&id)
            .filter(|k| k.workspace == workspace)
            .ok_or_else(|| StoreError::not_found("API key", id))?;
        key.revoked_at.get_or_insert(now);
        Ok(key.clone())
    }

    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError> {
        Ok(self.identities.write().settings.entry(name.to_owned()).or_insert_with(|| value.to_owned()).clone())
    }
}

fn insert_key(s: &mut State, key: &ApiKeyRecord) -> Result<(), StoreError> {
    s.workspace(key.workspace)?;
    if s.keys.contains_key(&key.id) || s.by_prefix.contains_key(&key.prefix) {
        return Err(StoreError::Conflict("an API key with this id or prefix exists".into()));
    }
    s.by_prefix.insert(key.prefix.clone(), key.id);
    s.keys.insert(key.id, key.clone());
    Ok(())
}
