//! Uploaded files in SQLite.

use super::SqliteStore;
use super::codec::{micros, time};
use super::errors::store_error;
use crate::domain::access::Scope;
use crate::domain::files::FileInfo;
use crate::ports::{FileStore, StoreError};
use rusqlite::{OptionalExtension, Row, params};

fn info_of(r: &Row<'_>) -> rusqlite::Result<(String, String, String, i64, i64)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn info((id, name, content_type, size, at): (String, String, String, i64, i64)) -> Result<FileInfo, StoreError> {
    Ok(FileInfo {
        id: uuid::Uuid::parse_str(&id).map_err(|e| StoreError::Internal(format!("a stored file id: {e}")))?,
        name,
        content_type,
        size: u64::try_from(size).unwrap_or(0),
        created_at: time(at)?,
    })
}

#[async_trait::async_trait]
impl FileStore for SqliteStore {
    async fn put_file(&self, scope: Scope, f: &FileInfo, bytes: &[u8]) -> Result<(), StoreError> {
        let (ws, f, bytes) = (scope.workspace().to_string(), f.clone(), bytes.to_vec());
        self.writer
            .write(move |c| {
                let inserted = c
                    .prepare_cached(
                        "INSERT INTO files (id, workspace_id, name, content_type, size, bytes, created_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING",
                    )
                    .and_then(|mut st| {
                        st.execute(params![
                            f.id.to_string(),
                            ws,
                            f.name,
                            f.content_type,
                            i64::try_from(f.size).unwrap_or(i64::MAX),
                            bytes,
                            micros(f.created_at)
                        ])
                    })
                    .map_err(store_error)?;
                if inserted == 0 {
                    return Err(StoreError::Conflict(format!("file {} already exists", f.id)));
                }
                Ok(())
            })
            .await
    }

    async fn file(&self, scope: Scope, id: uuid::Uuid) -> Result<Option<(FileInfo, Vec<u8>)>, StoreError> {
        let ws = scope.workspace().to_string();
        self.readers
            .read(move |c| {
                let row = c
                    .prepare_cached(
                        "SELECT id, name, content_type, size, created_at, bytes FROM files \
                         WHERE id = ?1 AND workspace_id = ?2",
                    )
                    .and_then(|mut st| {
                        st.query_row(params![id.to_string(), ws], |r| Ok((info_of(r)?, r.get::<_, Vec<u8>>(5)?)))
                            .optional()
                    })
                    .map_err(store_error)?;
                row.map(|(row, bytes)| Ok((info(row)?, bytes))).transpose()
            })
            .await
    }

    async fn files(&self, scope: Scope) -> Result<Vec<FileInfo>, StoreError> {
        let ws = scope.workspace().to_string();
        self.readers
            .read(move |c| {
                let mut st = c
                    .prepare_cached(
                        "SELECT id, name, content_type, size, created_at FROM files WHERE workspace_id = ?1 \
                         ORDER BY created_at DESC, id DESC",
                    )
                    .map_err(store_error)?;
                let rows = st.query_map([ws], info_of).map_err(store_error)?;
                rows.map(|row| info(row.map_err(store_error)?)).collect()
            })
            .await
    }

    async fn delete_file(&self, scope: Scope, id: uuid::Uuid) -> Result<(), StoreError> {
        let ws = scope.workspace().to_string();
        self.writer
            .write(move |c| {
                let deleted = c
                    .prepare_cached("DELETE FROM files WHERE id = ?1 AND workspace_id = ?2")
                    .and_then(|mut st| st.execute(params![id.to_string(), ws]))
                    .map_err(store_error)?;
                if deleted == 0 { Err(StoreError::not_found("file", id)) } else { Ok(()) }
            })
            .await
    }
}
