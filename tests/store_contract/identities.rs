//! Identities: workspaces (the default one among them), users unique by email, single sign-on
//! identities, memberships with the last-Admin rule (also under concurrency), API keys by prefix
//! and their revocation, the first start's key, and settings shared by processes.

use super::Stores;
use super::backends::reopen;
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use oxify_api::domain::access::Role;
use oxify_api::domain::identity::{ApiKeyRecord, ApiKeySecret, Email, User, Workspace};
use oxify_api::domain::ids::{ApiKeyId, UserId, WorkspaceId};
use oxify_api::ports::{ExternalIdentity, MemberChange, NewUser, StoreError};

/// Now, to the microsecond every backend keeps.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn workspace(name: &str) -> Workspace {
    Workspace { id: WorkspaceId::generate(), name: name.into(), created_at: now() }
}

fn new_user(email: &str) -> NewUser {
    NewUser {
        user: User {
            id: UserId::generate(),
            email: Some(Email::parse(email).unwrap()),
            name: Some(format!("name of {email}")),
            created_at: now(),
        },
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
    }
}

async fn user_in(s: &Stores, email: &str) -> UserId {
    let u = new_user(email);
    s.identities.create_user(&u, None, None).await.unwrap();
    u.user.id
}

fn key(workspace: WorkspaceId, role: Role, created: DateTime<Utc>) -> (ApiKeySecret, ApiKeyRecord) {
    let mut random = [0u8; oxify_api::domain::identity::api_key::RANDOM_BYTES];
    for b in &mut random {
        *b = fastrand::u8(..);
    }
    let secret = ApiKeySecret::from_random(&random);
    let record = ApiKeyRecord {
        id: ApiKeyId::generate(),
        workspace,
        prefix: secret.prefix().to_owned(),
        hash: secret.hash(),
        name: format!("{role} key"),
        role,
        created_at: created,
        expires_at: Some(created + TimeDelta::days(30)),
        revoked_at: None,
    };
    (secret, record)
}

pub async fn the_default_workspace_exists_and_workspaces_round_trip(s: Stores) {
    let default = s.identities.workspace(WorkspaceId::DEFAULT).await.unwrap();
    assert_eq!((default.id, default.name.as_str()), (WorkspaceId::DEFAULT, "default"));
    let w = workspace("Research — ü");
    s.identities.create_workspace(&w, None).await.unwrap();
    assert_eq!(s.identities.workspace(w.id).await.unwrap(), w);
    assert!(matches!(s.identities.create_workspace(&w, None).await, Err(StoreError::Conflict(_))));
    let missing = s.identities.workspace(WorkspaceId::generate()).await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })), "{missing:?}");
    let nobody = s.identities.create_workspace(&workspace("orphan"), Some(UserId::generate())).await;
    assert!(matches!(nobody, Err(StoreError::NotFound { .. })), "{nobody:?}");
    let s = reopen(s).await;
    assert_eq!(s.identities.workspace(w.id).await.unwrap(), w, "workspaces outlive a restart");
}

pub async fn users_are_unique_by_email_and_found_by_it(s: Stores) {
    let ada = new_user("ada@example.com");
    s.identities.create_user(&ada, None, None).await.unwrap();
    assert_eq!(s.identities.user(ada.user.id).await.unwrap(), ada.user);
    let found = s.identities.user_by_email(ada.user.email.as_ref().unwrap()).await.unwrap().unwrap();
    assert_eq!((found.user, found.password_hash), (ada.user.clone(), ada.password_hash.clone()));
    assert_eq!(s.identities.user_by_email(&Email::parse("bob@example.com").unwrap()).await.unwrap(), None);
    let twin = new_user("ada@example.com");
    let refused = s.identities.create_user(&twin, Some(&workspace("twin's")), None).await;
    assert!(matches!(&refused, Err(StoreError::Conflict(m)) if m.contains("email")), "{refused:?}");
    assert!(matches!(s.identities.user(twin.user.id).await, Err(StoreError::NotFound { .. })));
    assert!(s.identities.memberships(twin.user.id).await.unwrap().is_empty(), "a refused user leaves nothing");
    let mut no_email = new_user("x@example.com");
    no_email.user.email = None;
    no_email.password_hash = None;
    s.identities.create_user(&no_email, None, None).await.unwrap();
    let mut another = new_user("y@example.com");
    another.user.email = None;
    s.identities.create_user(&another, None, None).await.unwrap();
    assert_eq!(s.identities.user(another.user.id).await.unwrap().email, None, "many users may lack an email");
}

pub async fn a_user_created_with_a_workspace_is_its_admin(s: Stores) {
    let ada = new_user("ada@example.com");
    let own = workspace("Ada's");
    s.identities.create_user(&ada, Some(&own), None).await.unwrap();
    let mine = s.identities.memberships(ada.user.id).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!((mine[0].workspace.clone(), mine[0].role), (own.clone(), Role::Admin));
    assert_eq!(s.identities.role_of(ada.user.id, own.id).await.unwrap(), Some(Role::Admin));
    assert_eq!(s.identities.role_of(ada.user.id, WorkspaceId::DEFAULT).await.unwrap(), None);
    let members = s.identities.members(own.id).await.unwrap();
    assert_eq!(members.iter().map(|m| (m.user.id, m.role)).collect::<Vec<_>>(), [(ada.user.id, Role::Admin)]);
    let second = workspace("second");
    s.identities.create_workspace(&second, Some(ada.user.id)).await.unwrap();
    assert_eq!(s.identities.role_of(ada.user.id, second.id).await.unwrap(), Some(Role::Admin));
}

pub async fn external_identities_link_to_one_user(s: Stores) {
    let sso = ExternalIdentity { issuer: "https://idp.example".into(), subject: "user-1".into() };
    let ada = new_user("ada@example.com");
    s.identities.create_user(&ada, None, Some(&sso)).await.unwrap();
    assert_eq!(s.identities.user_by_external(&sso).await.unwrap(), Some(ada.user.clone()));
    let other_issuer = ExternalIdentity { issuer: "https://other.example".into(), subject: "user-1".into() };
    assert_eq!(s.identities.user_by_external(&other_issuer).await.unwrap(), None, "a subject belongs to its issuer");
    let bob = user_in(&s, "bob@example.com").await;
    assert!(matches!(s.identities.link_external(&sso, bob).await, Err(StoreError::Conflict(_))));
    s.identities.link_external(&other_issuer, bob).await.unwrap();
    assert_eq!(s.identities.user_by_external(&other_issuer).await.unwrap().map(|u| u.id), Some(bob));
    let missing = s
        .identities
        .link_external(&ExternalIdentity { issuer: "i".into(), subject: "s".into() }, UserId::generate())
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })), "{missing:?}");
    let taken = s.identities.create_user(&new_user("carol@example.com"), None, Some(&sso)).await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
}

pub async fn memberships_list_first_joined_first_and_roles_change(s: Stores) {
    let t = now();
    let later = |seconds: i64| t + TimeDelta::seconds(seconds);
    let ada = user_in(&s, "ada@example.com").await;
    let (a, b) = (workspace("a"), workspace("b"));
    s.identities.create_workspace(&a, None).await.unwrap();
    s.identities.create_workspace(&b, None).await.unwrap();
    assert_eq!(s.identities.set_member(b.id, ada, Role::Read, later(1)).await.unwrap(), MemberChange::Added);
    assert_eq!(s.identities.set_member(a.id, ada, Role::Write, later(2)).await.unwrap(), MemberChange::Added);
    let order =
        |m: &[oxify_api::domain::identity::Membership]| m.iter().map(|m| (m.workspace.id, m.role)).collect::<Vec<_>>();
    assert_eq!(order(&s.identities.memberships(ada).await.unwrap()), [(b.id, Role::Read), (a.id, Role::Write)]);
    let changed = s.identities.set_member(b.id, ada, Role::Admin, later(3)).await.unwrap();
    assert_eq!(changed, MemberChange::Changed { previous: Role::Read });
    let mine = s.identities.memberships(ada).await.unwrap();
    assert_eq!(order(&mine), [(b.id, Role::Admin), (a.id, Role::Write)], "a role change keeps the join time");
    assert_eq!(mine[0].since, later(1));
    assert!(matches!(
        s.identities.set_member(WorkspaceId::generate(), ada, Role::Read, now()).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.identities.set_member(a.id, UserId::generate(), Role::Read, now()).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(s.identities.members(WorkspaceId::generate()).await, Err(StoreError::NotFound { .. })));
    assert_eq!(s.identities.remove_member(a.id, ada).await.unwrap(), Role::Write);
    assert_eq!(s.identities.role_of(ada, a.id).await.unwrap(), None);
    assert!(matches!(s.identities.remove_member(a.id, ada).await, Err(StoreError::NotFound { .. })));
}

pub async fn the_last_admin_cannot_be_removed_or_demoted(s: Stores) {
    let ada = new_user("ada@example.com");
    let own = workspace("Ada's");
    s.identities.create_user(&ada, Some(&own), None).await.unwrap();
    let ada = ada.user.id;
    let bob = user_in(&s, "bob@example.com").await;
    s.identities.set_member(own.id, bob, Role::Write, now()).await.unwrap();
    let demoted = s.identities.set_member(own.id, ada, Role::Write, now()).await;
    assert!(matches!(&demoted, Err(StoreError::Conflict(m)) if m.contains("last Admin")), "{demoted:?}");
    let removed = s.identities.remove_member(own.id, ada).await;
    assert!(matches!(&removed, Err(StoreError::Conflict(m)) if m.contains("last Admin")), "{removed:?}");
    assert_eq!(s.identities.role_of(ada, own.id).await.unwrap(), Some(Role::Admin), "nothing changed");
    assert_eq!(
        s.identities.set_member(own.id, ada, Role::Admin, now()).await.unwrap(),
        MemberChange::Changed { previous: Role::Admin }
    );
    s.identities.set_member(own.id, bob, Role::Admin, now()).await.unwrap();
    s.identities.set_member(own.id, ada, Role::Read, now()).await.unwrap();
    assert!(matches!(s.identities.remove_member(own.id, bob).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.identities.remove_member(own.id, ada).await.unwrap(), Role::Read);
}

pub async fn concurrent_demotions_of_the_last_two_admins_leave_one(s: Stores) {
    let w = workspace("pair");
    s.identities.create_workspace(&w, None).await.unwrap();
    let (ada, bob) = (user_in(&s, "ada@example.com").await, user_in(&s, "bob@example.com").await);
    for round in 0..5 {
        s.identities.set_member(w.id, ada, Role::Admin, now()).await.unwrap();
        s.identities.set_member(w.id, bob, Role::Admin, now()).await.unwrap();
        let (one, two) = (s.identities.clone(), s.identities.clone());
        let (a, b) = tokio::join!(
            tokio::spawn(async move { one.set_member(w.id, ada, Role::Read, now()).await }),
            tokio::spawn(async move {
                if round % 2 == 0 {
                    two.remove_member(w.id, bob).await.map(drop)
                } else {
                    two.set_member(w.id, bob, Role::Write, now()).await.map(drop)
                }
            }),
        );
        let outcomes = [a.unwrap().map(drop), b.unwrap()];
        assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "round {round}: {outcomes:?}");
        let admins = s.identities.members(w.id).await.unwrap().iter().filter(|m| m.role == Role::Admin).count();
        assert_eq!(admins, 1, "round {round}");
        if s.identities.role_of(bob, w.id).await.unwrap().is_none() {
            s.identities.set_member(w.id, bob, Role::Read, now()).await.unwrap();
        }
    }
}

pub async fn api_keys_are_found_by_prefix_listed_newest_first_and_revoked_once(s: Stores) {
    let t = now();
    let at = |seconds: i64| t + TimeDelta::seconds(seconds);
    let w = workspace("keys");
    s.identities.create_workspace(&w, None).await.unwrap();
    let (first_secret, first) = key(w.id, Role::Read, at(-10));
    let (_, second) = key(w.id, Role::Admin, at(-5));
    s.identities.create_api_key(&first).await.unwrap();
    s.identities.create_api_key(&second).await.unwrap();
    let found = s.identities.api_key_by_prefix(first_secret.prefix()).await.unwrap().unwrap();
    assert_eq!(found, first);
    assert!(found.hash.matches(&first_secret.hash()));
    assert_eq!(s.identities.api_key_by_prefix("zzzzzzzzzz").await.unwrap(), None);
    let listed = s.identities.api_keys(w.id).await.unwrap();
    assert_eq!(listed.iter().map(|k| k.id).collect::<Vec<_>>(), [second.id, first.id]);
    assert!(s.identities.api_keys(WorkspaceId::DEFAULT).await.unwrap().is_empty());
    let mut twin = key(w.id, Role::Read, now()).1;
    twin.prefix.clone_from(&first.prefix);
    assert!(matches!(s.identities.create_api_key(&twin).await, Err(StoreError::Conflict(_))), "prefixes are unique");
    let (_, stray) = key(WorkspaceId::generate(), Role::Read, now());
    assert!(matches!(s.identities.create_api_key(&stray).await, Err(StoreError::NotFound { .. })));
    let revoked = s.identities.revoke_api_key(w.id, first.id, at(1)).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(at(1)));
    let again = s.identities.revoke_api_key(w.id, first.id, at(50)).await.unwrap();
    assert_eq!(again.revoked_at, Some(at(1)), "a second revocation keeps the first time");
    let s = reopen(s).await;
    assert_eq!(s.identities.api_key_by_prefix(&first.prefix).await.unwrap().unwrap().revoked_at, Some(at(1)));
}

pub async fn api_keys_of_another_workspace_cannot_be_revoked(s: Stores) {
    let (a, b) = (workspace("a"), workspace("b"));
    s.identities.create_workspace(&a, None).await.unwrap();
    s.identities.create_workspace(&b, None).await.unwrap();
    let (_, in_a) = key(a.id, Role::Admin, now());
    s.identities.create_api_key(&in_a).await.unwrap();
    let refused = s.identities.revoke_api_key(b.id, in_a.id, now()).await;
    assert!(matches!(refused, Err(StoreError::NotFound { .. })), "{refused:?}");
    assert_eq!(s.identities.api_key_by_prefix(&in_a.prefix).await.unwrap().unwrap().revoked_at, None);
    assert!(matches!(
        s.identities.revoke_api_key(a.id, ApiKeyId::generate(), now()).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn only_the_first_start_stores_a_first_key(s: Stores) {
    let (_, first) = key(WorkspaceId::DEFAULT, Role::Admin, now());
    assert!(s.identities.create_first_api_key(&first).await.unwrap());
    let (_, second) = key(WorkspaceId::DEFAULT, Role::Admin, now());
    assert!(!s.identities.create_first_api_key(&second).await.unwrap(), "a key exists");
    s.identities.revoke_api_key(WorkspaceId::DEFAULT, first.id, now()).await.unwrap();
    assert!(!s.identities.create_first_api_key(&second).await.unwrap(), "a revoked key counts");
    assert_eq!(s.identities.api_key_by_prefix(&second.prefix).await.unwrap(), None);
    let s = reopen(s).await;
    assert!(!s.identities.create_first_api_key(&second).await.unwrap());
}

pub async fn concurrent_first_keys_store_exactly_one(s: Stores) {
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let store = s.identities.clone();
        let (_, k) = key(WorkspaceId::DEFAULT, Role::Admin, now());
        tasks.push(tokio::spawn(async move { store.create_first_api_key(&k).await.unwrap() }));
    }
    let mut stored = 0;
    for t in tasks {
        stored += usize::from(t.await.unwrap());
    }
    assert_eq!(stored, 1);
    assert_eq!(s.identities.api_keys(WorkspaceId::DEFAULT).await.unwrap().len(), 1);
}

pub async fn a_user_is_enough_to_need_no_first_key(s: Stores) {
    user_in(&s, "someone@example.com").await;
    let (_, k) = key(WorkspaceId::DEFAULT, Role::Admin, now());
    assert!(!s.identities.create_first_api_key(&k).await.unwrap());
    assert!(s.identities.api_keys(WorkspaceId::DEFAULT).await.unwrap().is_empty());
}

pub async fn a_setting_keeps_its_first_value_across_restarts(s: Stores) {
    let mut tasks = Vec::new();
    for i in 0..6 {
        let store = s.identities.clone();
        tasks.push(tokio::spawn(
            async move { store.setting_or_insert("jwt_secret", &format!("value {i}")).await.unwrap() },
        ));
    }
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "everyone agrees on one value: {seen:?}");
    let s = reopen(s).await;
    assert_eq!(s.identities.setting_or_insert("jwt_secret", "another").await.unwrap(), seen[0]);
    assert_eq!(s.identities.setting_or_insert("other", "x").await.unwrap(), "x");
}
