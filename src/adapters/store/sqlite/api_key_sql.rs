//! API keys and server settings on SQLite. The writer runs one job at a time, so the first
//! start's check (no users, no keys) and its insert are one atomic step.

use super::codec::{self, col, micros};
use super::errors::store_error;
use super::identity_sql::{execute, exists, role, rows, workspace_exists};
use crate::domain::identity::{ApiKeyRecord, KeyHash};
use crate::domain::ids::{ApiKeyId, WorkspaceId};
use crate::ports::StoreError;
use rusqlite::{Connection, Row, params};

fn key_row(row: &Row<'_>) -> Result<ApiKeyRecord, StoreError> {
    let hash: Vec<u8> = col(row, "hash")?;
    Ok(ApiKeyRecord {
        id: ApiKeyId(codec::parse(&col::<String>(row, "id")?, "API key id")?),
        workspace: WorkspaceId(codec::parse(&col::<String>(row, "workspace_id")?, "workspace id")?),
        prefix: col(row, "prefix")?,
        hash: KeyHash(hash.try_into().map_err(|_| codec::corrupt("an API key hash is not 32 bytes"))?),
        name: col(row, "name")?,
        role: role(&col::<String>(row, "role")?)?,
        created_at: codec::time(col(row, "created_at")?)?,
        expires_at: col::<Option<i64>>(row, "expires_at")?.map(codec::time).transpose()?,
        revoked_at: col::<Option<i64>>(row, "revoked_at")?.map(codec::time).transpose()?,
    })
}

pub(super) fn create_api_key(c: &Connection, k: &ApiKeyRecord) -> Result<(), StoreError> {
    workspace_exists(c, k.workspace)?;
    execute(
        c,
        "INSERT INTO api_keys (id, workspace_id, prefix, hash, name, role, created_at, expires_at, revoked_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            k.id.to_string(),
            k.workspace.to_string(),
            k.prefix,
            k.hash.0.as_slice(),
            k.name,
            k.role.as_str(),
            micros(k.created_at),
            k.expires_at.map(micros),
            k.revoked_at.map(micros),
        ],
    )
    .map(drop)
}

pub(super) fn create_first_api_key(c: &Connection, k: &ApiKeyRecord) -> Result<bool, StoreError> {
    if exists(c, "SELECT EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM api_keys)", [])? {
        return Ok(false);
    }
    create_api_key(c, k).map(|()| true)
}

const KEY_COLUMNS: &str = "id, workspace_id, prefix, hash, name, role, created_at, expires_at, revoked_at";

pub(super) fn api_key_by_prefix(c: &Connection, prefix: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE prefix = ?1");
    Ok(rows(c, &sql, [prefix], key_row)?.into_iter().next())
}

pub(super) fn api_keys(c: &Connection, w: WorkspaceId) -> Result<Vec<ApiKeyRecord>, StoreError> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE workspace_id = ?1 ORDER BY created_at DESC, id DESC");
    rows(c, &sql, [w.to_string()], key_row)
}

pub(super) fn revoke_api_key(
    c: &Connection,
    w: WorkspaceId,
    id: ApiKeyId,
    now: i64,
) -> Result<ApiKeyRecord, StoreError> {
    execute(
        c,
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?3) WHERE workspace_id = ?1 AND id = ?2",
        params![w.to_string(), id.to_string(), now],
    )?;
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE workspace_id = ?1 AND id = ?2");
    rows(c, &sql, params![w.to_string(), id.to_string()], key_row)?
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::not_found("API key", id))
}

pub(super) fn setting_or_insert(c: &Connection, name: &str, value: &str) -> Result<String, StoreError> {
    execute(
        c,
        "INSERT INTO server_settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
        params![name, value],
    )?;
    c.prepare_cached("SELECT value FROM server_settings WHERE name = ?1")
        .and_then(|mut s| s.query_row([name], |r| r.get(0)))
        .map_err(store_error)
}
