//! API keys and server settings on Postgres. The first start's key is stored under an advisory
//! lock, so that of processes starting together on one database exactly one stores its key.

use super::codec::{self, col};
use super::errors::store_error;
use super::identity_sql::{lock_workspace, role};
use crate::domain::identity::{ApiKeyRecord, KeyHash};
use crate::domain::ids::{ApiKeyId, WorkspaceId};
use crate::ports::StoreError;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool};

/// The advisory lock the first start's key is stored under (an arbitrary constant of ours).
const FIRST_KEY_LOCK: i64 = 0x6f78_6b5f_6669_7273;

macro_rules! key_columns {
    () => {
        "id, workspace_id, prefix, hash, name, role, created_at, expires_at, revoked_at"
    };
}

fn key_row(row: &PgRow) -> Result<ApiKeyRecord, StoreError> {
    let hash: Vec<u8> = col(row, "hash")?;
    Ok(ApiKeyRecord {
        id: ApiKeyId(col(row, "id")?),
        workspace: WorkspaceId(col(row, "workspace_id")?),
        prefix: col(row, "prefix")?,
        hash: KeyHash(hash.try_into().map_err(|_| codec::corrupt("an API key hash is not 32 bytes"))?),
        name: col(row, "name")?,
        role: role(&col::<String>(row, "role")?)?,
        created_at: col(row, "created_at")?,
        expires_at: col(row, "expires_at")?,
        revoked_at: col(row, "revoked_at")?,
    })
}

pub(super) async fn create_api_key(c: &mut PgConnection, k: &ApiKeyRecord) -> Result<(), StoreError> {
    lock_workspace(c, k.workspace).await?;
    sqlx::query(
        "INSERT INTO api_keys (id, workspace_id, prefix, hash, name, role, created_at, expires_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(k.id.0)
    .bind(k.workspace.0)
    .bind(&k.prefix)
    .bind(k.hash.0.as_slice())
    .bind(&k.name)
    .bind(k.role.as_str())
    .bind(k.created_at)
    .bind(k.expires_at)
    .bind(k.revoked_at)
    .execute(c)
    .await
    .map(drop)
    .map_err(store_error)
}

pub(super) async fn create_first_api_key(c: &mut PgConnection, k: &ApiKeyRecord) -> Result<bool, StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(FIRST_KEY_LOCK).execute(&mut *c).await.map_err(store_error)?;
    let taken: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM api_keys)")
        .fetch_one(&mut *c)
        .await
        .map_err(store_error)?;
    if taken {
        return Ok(false);
    }
    create_api_key(c, k).await.map(|()| true)
}

pub(super) async fn api_key_by_prefix(pool: &PgPool, prefix: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
    let row = sqlx::query(concat!("SELECT ", key_columns!(), " FROM api_keys WHERE prefix = $1"))
        .bind(prefix)
        .fetch_optional(pool)
        .await
        .map_err(store_error)?;
    row.as_ref().map(key_row).transpose()
}

pub(super) async fn api_keys(pool: &PgPool, w: WorkspaceId) -> Result<Vec<ApiKeyRecord>, StoreError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        key_columns!(),
        " FROM api_keys WHERE workspace_id = $1 ORDER BY created_at DESC, id DESC"
    ))
    .bind(w.0)
    .fetch_all(pool)
    .await
    .map_err(store_error)?;
    rows.iter().map(key_row).collect()
}

pub(super) async fn revoke_api_key(
    pool: &PgPool,
    w: WorkspaceId,
    id: ApiKeyId,
    now: DateTime<Utc>,
) -> Result<ApiKeyRecord, StoreError> {
    let row = sqlx::query(concat!(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3) WHERE workspace_id = $1 AND id = $2 RETURNING ",
        key_columns!()
    ))
    .bind(w.0)
    .bind(id.0)
    .bind(now)
    .fetch_optional(pool)
    .await
    .map_err(store_error)?;
    row.as_ref().map(key_row).transpose()?.ok_or_else(|| StoreError::not_found("API key", id))
}

pub(super) async fn setting_or_insert(pool: &PgPool, name: &str, value: &str) -> Result<String, StoreError> {
    // The insert waits for a concurrent one of the same name to commit; the select that follows
    // (a new snapshot) then sees whichever value won.
    sqlx::query("INSERT INTO server_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(value)
        .execute(pool)
        .await
        .map_err(store_error)?;
    sqlx::query_scalar("SELECT value FROM server_settings WHERE name = $1")
        .bind(name)
        .fetch_one(pool)
        .await
        .map_err(store_error)
}
