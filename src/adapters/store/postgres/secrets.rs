//! Sealed secrets in Postgres.

use super::PostgresStore;
use super::codec::col;
use super::errors::store_error;
use crate::domain::access::Scope;
use crate::ports::{SealedSecret, SecretInfo, SecretStore, StoreError};

#[async_trait::async_trait]
impl SecretStore for PostgresStore {
    async fn put_secret(&self, scope: Scope, secret: &SealedSecret) -> Result<bool, StoreError> {
        // `xmax = 0` only on a row this statement inserted: how Postgres tells insert from update.
        let inserted: bool = sqlx::query_scalar(
            "INSERT INTO secrets AS s (workspace_id, name, description, sealed, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, name) DO UPDATE SET \
             description = excluded.description, sealed = excluded.sealed, updated_at = excluded.updated_at \
             RETURNING (xmax = 0)",
        )
        .bind(scope.workspace().0)
        .bind(&secret.name)
        .bind(&secret.description)
        .bind(&secret.sealed)
        .bind(secret.created_at)
        .bind(secret.updated_at)
        .fetch_one(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(inserted)
    }

    async fn secret(&self, scope: Scope, name: &str) -> Result<Option<SealedSecret>, StoreError> {
        let row = sqlx::query(
            "SELECT name, description, sealed, created_at, updated_at FROM secrets WHERE workspace_id = $1 AND name = $2",
        )
        .bind(scope.workspace().0)
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.map(|r| {
            Ok(SealedSecret {
                name: col(&r, "name")?,
                description: col(&r, "description")?,
                sealed: col(&r, "sealed")?,
                created_at: col(&r, "created_at")?,
                updated_at: col(&r, "updated_at")?,
            })
        })
        .transpose()
    }

    async fn secrets(&self, scope: Scope) -> Result<Vec<SecretInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, description, created_at, updated_at FROM secrets WHERE workspace_id = $1 ORDER BY name",
        )
        .bind(scope.workspace().0)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter()
            .map(|r| {
                Ok(SecretInfo {
                    name: col(r, "name")?,
                    description: col(r, "description")?,
                    created_at: col(r, "created_at")?,
                    updated_at: col(r, "updated_at")?,
                })
            })
            .collect()
    }

    async fn delete_secret(&self, scope: Scope, name: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM secrets WHERE workspace_id = $1 AND name = $2")
            .bind(scope.workspace().0)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        if done.rows_affected() == 0 { Err(StoreError::not_found("secret", name)) } else { Ok(()) }
    }
}
