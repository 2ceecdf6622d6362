//! Sealed secrets in SQLite.

use super::SqliteStore;
use super::codec::{micros, time};
use super::errors::store_error;
use crate::domain::access::Scope;
use crate::ports::{SealedSecret, SecretInfo, SecretStore, StoreError};
use rusqlite::{OptionalExtension, params};

#[async_trait::async_trait]
impl SecretStore for SqliteStore {
    async fn put_secret(&self, scope: Scope, secret: &SealedSecret) -> Result<bool, StoreError> {
        let (ws, s) = (scope.workspace().to_string(), secret.clone());
        self.writer
            .write(move |c| {
                let existed: Option<i64> = c
                    .prepare_cached("SELECT 1 FROM secrets WHERE workspace_id = ?1 AND name = ?2")
                    .and_then(|mut st| st.query_row(params![ws, s.name], |r| r.get(0)).optional())
                    .map_err(store_error)?;
                c.prepare_cached(
                    "INSERT INTO secrets (workspace_id, name, description, sealed, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (workspace_id, name) DO UPDATE SET \
                     description = excluded.description, sealed = excluded.sealed, updated_at = excluded.updated_at",
                )
                .and_then(|mut st| {
                    st.execute(params![ws, s.name, s.description, s.sealed, micros(s.created_at), micros(s.updated_at)])
                })
                .map_err(store_error)?;
                Ok(existed.is_none())
            })
            .await
    }

    async fn secret(&self, scope: Scope, name: &str) -> Result<Option<SealedSecret>, StoreError> {
        let (ws, name) = (scope.workspace().to_string(), name.to_owned());
        self.readers
            .read(move |c| {
                let row: Option<(String, Option<String>, Vec<u8>, i64, i64)> = c
                    .prepare_cached(
                        "SELECT name, description, sealed, created_at, updated_at FROM secrets \
                         WHERE workspace_id = ?1 AND name = ?2",
                    )
                    .and_then(|mut st| {
                        st.query_row(params![ws, name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
                            .optional()
                    })
                    .map_err(store_error)?;
                row.map(|(name, description, sealed, created, updated)| {
                    Ok(SealedSecret {
                        name,
                        description,
                        sealed,
                        created_at: time(created)?,
                        updated_at: time(updated)?,
                    })
                })
                .transpose()
            })
            .await
    }

    async fn secrets(&self, scope: Scope) -> Result<Vec<SecretInfo>, StoreError> {
        let ws = scope.workspace().to_string();
        self.readers
            .read(move |c| {
                let mut st = c
                    .prepare_cached(
                        "SELECT name, description, created_at, updated_at FROM secrets WHERE workspace_id = ?1 \
                         ORDER BY name",
                    )
                    .map_err(store_error)?;
                let rows = st
                    .query_map([ws], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?)))
                    .map_err(store_error)?;
                rows.map(|row| {
                    let (name, description, created, updated) = row.map_err(store_error)?;
                    Ok(SecretInfo { name, description, created_at: time(created)?, updated_at: time(updated)? })
                })
                .collect()
            })
            .await
    }

    async fn delete_secret(&self, scope: Scope, name: &str) -> Result<(), StoreError> {
        let (ws, name) = (scope.workspace().to_string(), name.to_owned());
        self.writer
            .write(move |c| {
                let deleted = c
                    .prepare_cached("DELETE FROM secrets WHERE workspace_id = ?1 AND name = ?2")
                    .and_then(|mut st| st.execute(params![ws, name]))
                    .map_err(store_error)?;
                if deleted == 0 { Err(StoreError::not_found("secret", &name)) } else { Ok(()) }
            })
            .await
    }
}
