//! The identity statements and rows on Postgres: workspaces, users, single sign-on identities
//! and memberships (API keys and settings are in `api_key_sql.rs`). Writes that check before they
//! write (the last Admin) run in a transaction that first locks what the check reads, so that
//! processes sharing the database cannot both pass the check.

use super::codec::{self, col};
use super::errors::store_error;
use crate::domain::access::Role;
use crate::domain::identity::{Email, Member, Membership, User, UserWithPassword, Workspace};
use crate::domain::ids::{UserId, WorkspaceId};
use crate::ports::{ExternalIdentity, MemberChange, NewUser, StoreError};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool};

macro_rules! user_columns {
    () => {
        "u.id AS user_id, u.email, u.name AS user_name, u.created_at AS user_created_at"
    };
}

pub(super) fn role(text: &str) -> Result<Role, StoreError> {
    Role::parse(text).ok_or_else(|| codec::corrupt(format!("role '{text}'")))
}

fn workspace_row(row: &PgRow) -> Result<Workspace, StoreError> {
    Ok(Workspace { id: WorkspaceId(col(row, "id")?), name: col(row, "name")?, created_at: col(row, "created_at")? })
}

fn user_row(row: &PgRow) -> Result<User, StoreError> {
    Ok(User {
        id: UserId(col(row, "user_id")?),
        email: col::<Option<String>>(row, "email")?.map(Email::from_stored),
        name: col(row, "user_name")?,
        created_at: col(row, "user_created_at")?,
    })
}

async fn user_exists(c: &mut PgConnection, id: UserId) -> Result<(), StoreError> {
    let found: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)")
        .bind(id.0)
        .fetch_one(c)
        .await
        .map_err(store_error)?;
    if found { Ok(()) } else { Err(StoreError::not_found("user", id)) }
}

/// Locks the workspace's row for the rest of the transaction (serialising the membership writes
/// that count its Admins), or says it does not exist.
pub(super) async fn lock_workspace(c: &mut PgConnection, id: WorkspaceId) -> Result<(), StoreError> {
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM workspaces WHERE id = $1 FOR UPDATE")
        .bind(id.0)
        .fetch_optional(c)
        .await
        .map_err(store_error)?;
    found.map(drop).ok_or_else(|| StoreError::not_found("workspace", id))
}

async fn insert_workspace(c: &mut PgConnection, w: &Workspace) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(w.id.0)
        .bind(&w.name)
        .bind(w.created_at)
        .execute(c)
        .await
        .map(drop)
        .map_err(store_error)
}

async fn insert_member(
    c: &mut PgConnection,
    w: WorkspaceId,
    u: UserId,
    r: Role,
    since: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO memberships (workspace_id, user_id, role, since) VALUES ($1, $2, $3, $4)")
        .bind(w.0)
        .bind(u.0)
        .bind(r.as_str())
        .bind(since)
        .execute(c)
        .await
        .map(drop)
        .map_err(store_error)
}

async fn insert_external(c: &mut PgConnection, x: &ExternalIdentity, user: UserId) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO external_identities (issuer, subject, user_id) VALUES ($1, $2, $3)")
        .bind(&x.issuer)
        .bind(&x.subject)
        .bind(user.0)
        .execute(c)
        .await
        .map(drop)
        .map_err(store_error)
}

pub(super) async fn create_workspace(
    c: &mut PgConnection,
    w: &Workspace,
    admin: Option<UserId>,
) -> Result<(), StoreError> {
    if let Some(user) = admin {
        user_exists(c, user).await?;
    }
    insert_workspace(c, w).await?;
    if let Some(user) = admin {
        insert_member(c, w.id, user, Role::Admin, w.created_at).await?;
    }
    Ok(())
}

pub(super) async fn workspace(pool: &PgPool, id: WorkspaceId) -> Result<Workspace, StoreError> {
    let row = sqlx::query("SELECT id, name, created_at FROM workspaces WHERE id = $1")
        .bind(id.0)
        .fetch_optional(pool)
        .await
        .map_err(store_error)?;
    row.as_ref().map(workspace_row).transpose()?.ok_or_else(|| StoreError::not_found("workspace", id))
}

pub(super) async fn create_user(
    c: &mut PgConnection,
    new: &NewUser,
    own: Option<&Workspace>,
    external: Option<&ExternalIdentity>,
) -> Result<(), StoreError> {
    let u = &new.user;
    let inserted =
        sqlx::query("INSERT INTO users (id, email, name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(u.id.0)
            .bind(u.email.as_ref().map(Email::as_str))
            .bind(&u.name)
            .bind(&new.password_hash)
            .bind(u.created_at)
            .execute(&mut *c)
            .await
            .map_err(store_error);
    match inserted {
        Err(StoreError::Conflict(m)) if m.contains("email") => {
            return Err(StoreError::Conflict("a user with this email exists".into()));
        }
        other => other?,
    };
    if let Some(w) = own {
        insert_workspace(c, w).await?;
        insert_member(c, w.id, u.id, Role::Admin, u.created_at).await?;
    }
    if let Some(x) = external {
        insert_external(c, x, u.id).await?;
    }
    Ok(())
}

pub(super) async fn user(pool: &PgPool, id: UserId) -> Result<User, StoreError> {
    let row = sqlx::query(concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = $1"))
        .bind(id.0)
        .fetch_optional(pool)
        .await
        .map_err(store_error)?;
    row.as_ref().map(user_row).transpose()?.ok_or_else(|| StoreError::not_found("user", id))
}

pub(super) async fn user_by_email(pool: &PgPool, email: &str) -> Result<Option<UserWithPassword>, StoreError> {
    let row = sqlx::query(concat!("SELECT ", user_columns!(), ", u.password_hash FROM users u WHERE u.email = $1"))
        .bind(email)
        .fetch_optional(pool)
        .await
        .map_err(store_error)?;
    row.as_ref()
        .map(|r| Ok(UserWithPassword { user: user_row(r)?, password_hash: col(r, "password_hash")? }))
        .transpose()
}

pub(super) async fn user_by_external(pool: &PgPool, x: &ExternalIdentity) -> Result<Option<User>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        user_columns!(),
        " FROM external_identities x JOIN users u ON u.id = x.user_id WHERE x.issuer = $1 AND x.subject = $2"
    ))
    .bind(&x.issuer)
    .bind(&x.subject)
    .fetch_optional(pool)
    .await
    .map_err(store_error)?;
    row.as_ref().map(user_row).transpose()
}

pub(super) async fn link_external(c: &mut PgConnection, x: &ExternalIdentity, user: UserId) -> Result<(), StoreError> {
    user_exists(c, user).await?;
    insert_external(c, x, user).await
}

pub(super) async fn memberships(pool: &PgPool, user: UserId) -> Result<Vec<Membership>, StoreError> {
    let rows = sqlx::query(
        "SELECT w.id, w.name, w.created_at, m.role, m.since FROM memberships m \
         JOIN workspaces w ON w.id = m.workspace_id WHERE m.user_id = $1 ORDER BY m.since, m.workspace_id",
    )
    .bind(user.0)
    .fetch_all(pool)
    .await
    .map_err(store_error)?;
    rows.iter()
        .map(|row| {
            Ok(Membership {
                workspace: workspace_row(row)?,
                role: role(&col::<String>(row, "role")?)?,
                since: col(row, "since")?,
            })
        })
        .collect()
}

pub(super) async fn role_of(
    c: impl sqlx::PgExecutor<'_>,
    user: UserId,
    w: WorkspaceId,
) -> Result<Option<Role>, StoreError> {
    let held: Option<String> =
        sqlx::query_scalar("SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2")
            .bind(w.0)
            .bind(user.0)
            .fetch_optional(c)
            .await
            .map_err(store_error)?;
    held.as_deref().map(role).transpose()
}

pub(super) async fn members(pool: &PgPool, w: WorkspaceId) -> Result<Vec<Member>, StoreError> {
    workspace(pool, w).await?;
    let rows = sqlx::query(concat!(
        "SELECT ",
        user_columns!(),
        ", m.role, m.since FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.workspace_id = $1 ORDER BY m.since, m.user_id"
    ))
    .bind(w.0)
    .fetch_all(pool)
    .await
    .map_err(store_error)?;
    rows.iter()
        .map(|row| {
            Ok(Member { user: user_row(row)?, role: role(&col::<String>(row, "role")?)?, since: col(row, "since")? })
        })
        .collect()
}

async fn admins(c: &mut PgConnection, w: WorkspaceId) -> Result<i64, StoreError> {
    sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND role = 'Admin'")
        .bind(w.0)
        .fetch_one(c)
        .await
        .map_err(store_error)
}

fn last_admin(w: WorkspaceId) -> StoreError {
    StoreError::Conflict(format!(
        "the last Admin of workspace {w} cannot be removed or demoted; make another member Admin first"
    ))
}

pub(super) async fn set_member(
    c: &mut PgConnection,
    w: WorkspaceId,
    user: UserId,
    new: Role,
    now: DateTime<Utc>,
) -> Result<MemberChange, StoreError> {
    lock_workspace(c, w).await?;
    user_exists(c, user).await?;
    let Some(previous) = role_of(&mut *c, user, w).await? else {
        insert_member(c, w, user, new, now).await?;
        return Ok(MemberChange::Added);
    };
    if previous == Role::Admin && new != Role::Admin && admins(c, w).await? <= 1 {
        return Err(last_admin(w));
    }
    sqlx::query("UPDATE memberships SET role = $3 WHERE workspace_id = $1 AND user_id = $2")
        .bind(w.0)
        .bind(user.0)
        .bind(new.as_str())
        .execute(c)
        .await
        .map_err(store_error)?;
    Ok(MemberChange::Changed { previous })
}

pub(super) async fn remove_member(c: &mut PgConnection, w: WorkspaceId, user: UserId) -> Result<Role, StoreError> {
    lock_workspace(c, w).await.map_err(|_| StoreError::not_found("member", user))?;
    let held = role_of(&mut *c, user, w).await?.ok_or_else(|| StoreError::not_found("member", user))?;
    if held == Role::Admin && admins(c, w).await? <= 1 {
        return Err(last_admin(w));
    }
    sqlx::query("DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2")
        .bind(w.0)
        .bind(user.0)
        .execute(c)
        .await
        .map_err(store_error)?;
    Ok(held)
}
