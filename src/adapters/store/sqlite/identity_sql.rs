//! The identity statements and rows: workspaces, users, single sign-on identities and
//! memberships (API keys and settings are in `api_key_sql.rs`). Writes run on the writer thread
//! (one job is one atomic step), reads on a read connection.

use super::codec::{self, col, micros};
use super::errors::store_error;
use crate::domain::access::Role;
use crate::domain::identity::{Email, Member, Membership, User, UserWithPassword, Workspace};
use crate::domain::ids::{UserId, WorkspaceId};
use crate::ports::{ExternalIdentity, MemberChange, NewUser, StoreError};
use rusqlite::{Connection, OptionalExtension, Row, params};

pub(super) fn role(text: &str) -> Result<Role, StoreError> {
    Role::parse(text).ok_or_else(|| codec::corrupt(format!("role '{text}'")))
}

fn workspace_row(row: &Row<'_>) -> Result<Workspace, StoreError> {
    Ok(Workspace {
        id: WorkspaceId(codec::parse(&col::<String>(row, "id")?, "workspace id")?),
        name: col(row, "name")?,
        created_at: codec::time(col(row, "created_at")?)?,
    })
}

/// A user from columns `user_id, email, user_name, user_created_at`.
fn user_row(row: &Row<'_>) -> Result<User, StoreError> {
    Ok(User {
        id: UserId(codec::parse(&col::<String>(row, "user_id")?, "user id")?),
        email: col::<Option<String>>(row, "email")?.map(Email::from_stored),
        name: col(row, "user_name")?,
        created_at: codec::time(col(row, "user_created_at")?)?,
    })
}

const USER_COLUMNS: &str = "u.id AS user_id, u.email, u.name AS user_name, u.created_at AS user_created_at";

pub(super) fn rows<T>(
    c: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
    mut map: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = c.prepare_cached(sql).map_err(store_error)?;
    let mut found = stmt.query(args).map_err(store_error)?;
    let mut out = Vec::new();
    while let Some(row) = found.next().map_err(store_error)? {
        out.push(map(row)?);
    }
    Ok(out)
}

pub(super) fn exists(c: &Connection, sql: &str, args: impl rusqlite::Params) -> Result<bool, StoreError> {
    c.prepare_cached(sql).and_then(|mut s| s.query_row(args, |r| r.get(0))).map_err(store_error)
}

pub(super) fn execute(c: &Connection, sql: &str, args: impl rusqlite::Params) -> Result<usize, StoreError> {
    c.prepare_cached(sql).and_then(|mut s| s.execute(args)).map_err(store_error)
}

fn insert_workspace(c: &Connection, w: &Workspace) -> Result<(), StoreError> {
    execute(
        c,
        "INSERT INTO workspaces (id, name, created_at) VALUES (?1, ?2, ?3)",
        params![w.id.to_string(), w.name, micros(w.created_at)],
    )
    .map(drop)
}

fn insert_member(c: &Connection, w: WorkspaceId, u: UserId, r: Role, since: i64) -> Result<(), StoreError> {
    execute(
        c,
        "INSERT INTO memberships (workspace_id, user_id, role, since) VALUES (?1, ?2, ?3, ?4)",
        params![w.to_string(), u.to_string(), r.as_str(), since],
    )
    .map(drop)
}

fn user_exists(c: &Connection, id: UserId) -> Result<(), StoreError> {
    if exists(c, "SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1)", [id.to_string()])? {
        Ok(())
    } else {
        Err(StoreError::not_found("user", id))
    }
}

pub(super) fn workspace_exists(c: &Connection, id: WorkspaceId) -> Result<(), StoreError> {
    if exists(c, "SELECT EXISTS (SELECT 1 FROM workspaces WHERE id = ?1)", [id.to_string()])? {
        Ok(())
    } else {
        Err(StoreError::not_found("workspace", id))
    }
}

pub(super) fn create_workspace(c: &Connection, w: &Workspace, admin: Option<UserId>) -> Result<(), StoreError> {
    if let Some(user) = admin {
        user_exists(c, user)?;
    }
    insert_workspace(c, w)?;
    if let Some(user) = admin {
        insert_member(c, w.id, user, Role::Admin, micros(w.created_at))?;
    }
    Ok(())
}

pub(super) fn workspace(c: &Connection, id: WorkspaceId) -> Result<Workspace, StoreError> {
    let found = rows(c, "SELECT id, name, created_at FROM workspaces WHERE id = ?1", [id.to_string()], workspace_row)?;
    found.into_iter().next().ok_or_else(|| StoreError::not_found("workspace", id))
}

fn insert_external(c: &Connection, x: &ExternalIdentity, user: UserId) -> Result<(), StoreError> {
    execute(
        c,
        "INSERT INTO external_identities (issuer, subject, user_id) VALUES (?1, ?2, ?3)",
        params![x.issuer, x.subject, user.to_string()],
    )
    .map(drop)
}

pub(super) fn create_user(
    c: &Connection,
    new: &NewUser,
    own: Option<&Workspace>,
    external: Option<&ExternalIdentity>,
) -> Result<(), StoreError> {
    let u = &new.user;
    let inserted = execute(
        c,
        "INSERT INTO users (id, email, name, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![u.id.to_string(), u.email.as_ref().map(Email::as_str), u.name, new.password_hash, micros(u.created_at)],
    );
    if let Err(StoreError::Conflict(m)) = &inserted
        && m.contains("email")
    {
        return Err(StoreError::Conflict("a user with this email exists".into()));
    }
    inserted?;
    if let Some(w) = own {
        insert_workspace(c, w)?;
        insert_member(c, w.id, u.id, Role::Admin, micros(u.created_at))?;
    }
    if let Some(x) = external {
        insert_external(c, x, u.id)?;
    }
    Ok(())
}

pub(super) fn user(c: &Connection, id: UserId) -> Result<User, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?1");
    rows(c, &sql, [id.to_string()], user_row)?.into_iter().next().ok_or_else(|| StoreError::not_found("user", id))
}

pub(super) fn user_by_email(c: &Connection, email: &str) -> Result<Option<UserWithPassword>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.email = ?1");
    let found = rows(c, &sql, [email], |row| {
        Ok(UserWithPassword { user: user_row(row)?, password_hash: col(row, "password_hash")? })
    })?;
    Ok(found.into_iter().next())
}

pub(super) fn user_by_external(c: &Connection, x: &ExternalIdentity) -> Result<Option<User>, StoreError> {
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM external_identities x JOIN users u ON u.id = x.user_id \
         WHERE x.issuer = ?1 AND x.subject = ?2"
    );
    Ok(rows(c, &sql, params![x.issuer, x.subject], user_row)?.into_iter().next())
}

pub(super) fn link_external(c: &Connection, x: &ExternalIdentity, user: UserId) -> Result<(), StoreError> {
    user_exists(c, user)?;
    insert_external(c, x, user)
}

pub(super) fn memberships(c: &Connection, user: UserId) -> Result<Vec<Membership>, StoreError> {
    let sql = "SELECT w.id, w.name, w.created_at, m.role, m.since FROM memberships m \
               JOIN workspaces w ON w.id = m.workspace_id WHERE m.user_id = ?1 ORDER BY m.since, m.workspace_id";
    rows(c, sql, [user.to_string()], |row| {
        Ok(Membership {
            workspace: workspace_row(row)?,
            role: role(&col::<String>(row, "role")?)?,
            since: codec::time(col(row, "since")?)?,
        })
    })
}

pub(super) fn role_of(c: &Connection, user: UserId, w: WorkspaceId) -> Result<Option<Role>, StoreError> {
    let held: Option<String> = c
        .prepare_cached("SELECT role FROM memberships WHERE workspace_id = ?1 AND user_id = ?2")
        .and_then(|mut s| s.query_row(params![w.to_string(), user.to_string()], |r| r.get(0)).optional())
        .map_err(store_error)?;
    held.as_deref().map(role).transpose()
}

pub(super) fn members(c: &Connection, w: WorkspaceId) -> Result<Vec<Member>, StoreError> {
    workspace_exists(c, w)?;
    let sql = format!(
        "SELECT {USER_COLUMNS}, m.role, m.since FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.workspace_id = ?1 ORDER BY m.since, m.user_id"
    );
    rows(c, &sql, [w.to_string()], |row| {
        Ok(Member {
            user: user_row(row)?,
            role: role(&col::<String>(row, "role")?)?,
            since: codec::time(col(row, "since")?)?,
        })
    })
}

fn admins(c: &Connection, w: WorkspaceId) -> Result<i64, StoreError> {
    c.prepare_cached("SELECT COUNT(*) FROM memberships WHERE workspace_id = ?1 AND role = 'Admin'")
        .and_then(|mut s| s.query_row([w.to_string()], |r| r.get(0)))
        .map_err(store_error)
}

fn last_admin(w: WorkspaceId) -> StoreError {
    StoreError::Conflict(format!(
        "the last Admin of workspace {w} cannot be removed or demoted; make another member Admin first"
    ))
}

pub(super) fn set_member(
    c: &Connection,
    w: WorkspaceId,
    user: UserId,
    new: Role,
    now: i64,
) -> Result<MemberChange, StoreError> {
    workspace_exists(c, w)?;
    user_exists(c, user)?;
    let Some(previous) = role_of(c, user, w)? else {
        insert_member(c, w, user, new, now)?;
        return Ok(MemberChange::Added);
    };
    if previous == Role::Admin && new != Role::Admin && admins(c, w)? <= 1 {
        return Err(last_admin(w));
    }
    execute(
        c,
        "UPDATE memberships SET role = ?3 WHERE workspace_id = ?1 AND user_id = ?2",
        params![w.to_string(), user.to_string(), new.as_str()],
    )?;
    Ok(MemberChange::Changed { previous })
}

pub(super) fn remove_member(c: &Connection, w: WorkspaceId, user: UserId) -> Result<Role, StoreError> {
    let held = role_of(c, user, w)?.ok_or_else(|| StoreError::not_found("member", user))?;
    if held == Role::Admin && admins(c, w)? <= 1 {
        return Err(last_admin(w));
    }
    execute(
        c,
        "DELETE FROM memberships WHERE workspace_id = ?1 AND user_id = ?2",
        params![w.to_string(), user.to_string()],
    )?;
    Ok(held)
}
