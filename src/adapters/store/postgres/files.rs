//! Uploaded files in Postgres.

use super::PostgresStore;
use super::codec::col;
use super::errors::store_error;
use crate::domain::access::Scope;
use crate::domain::files::FileInfo;
use crate::ports::{FileStore, StoreError};
use sqlx::postgres::PgRow;

fn info(r: &PgRow) -> Result<FileInfo, StoreError> {
    Ok(FileInfo {
        id: col(r, "id")?,
        name: col(r, "name")?,
        content_type: col(r, "content_type")?,
        size: u64::try_from(col::<i64>(r, "size")?).unwrap_or(0),
        created_at: col(r, "created_at")?,
    })
}

#[async_trait::async_trait]
impl FileStore for PostgresStore {
    async fn put_file(&self, scope: Scope, f: &FileInfo, bytes: &[u8]) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO files (id, workspace_id, name, content_type, size, bytes, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        )
        .bind(f.id)
        .bind(scope.workspace().0)
        .bind(&f.name)
        .bind(&f.content_type)
        .bind(i64::try_from(f.size).unwrap_or(i64::MAX))
        .bind(bytes)
        .bind(f.created_at)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!("file {} already exists", f.id)));
        }
        Ok(())
    }

    async fn file(&self, scope: Scope, id: uuid::Uuid) -> Result<Option<(FileInfo, Vec<u8>)>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, content_type, size, created_at, bytes FROM files WHERE id = $1 AND workspace_id = $2",
        )
        .bind(id)
        .bind(scope.workspace().0)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.map(|r| Ok((info(&r)?, col::<Vec<u8>>(&r, "bytes")?))).transpose()
    }

    async fn files(&self, scope: Scope) -> Result<Vec<FileInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, content_type, size, created_at FROM files WHERE workspace_id = $1 \
             ORDER BY created_at DESC, id DESC",
        )
        .bind(scope.workspace().0)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(info).collect()
    }

    async fn delete_file(&self, scope: Scope, id: uuid::Uuid) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM files WHERE id = $1 AND workspace_id = $2")
            .bind(id)
            .bind(scope.workspace().0)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        if done.rows_affected() == 0 { Err(StoreError::not_found("file", id)) } else { Ok(()) }
    }
}
