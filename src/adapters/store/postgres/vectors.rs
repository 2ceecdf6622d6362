//! Vector collections in Postgres (plain tables: vectors are searched in process).

use super::PostgresStore;
use super::codec::col;
use super::errors::store_error;
use crate::adapters::store::vector_codec::{backend_of, metadata_of, metadata_text, vector_bytes, vector_of};
use crate::domain::access::Scope;
use crate::domain::vectors::{Chunk, Collection, EmbeddingModel};
use crate::ports::{StoreError, VectorStore};
use sqlx::postgres::PgRow;

const COLUMNS: &str = "name, description, dimension, embedding_provider, embedding_model, chunk_size, chunk_overlap, created_at, revision, store";

fn collection_of(r: &PgRow) -> Result<Collection, StoreError> {
    let provider: Option<String> = col(r, "embedding_provider")?;
    let model: Option<String> = col(r, "embedding_model")?;
    Ok(Collection {
        name: col(r, "name")?,
        description: col(r, "description")?,
        dimension: usize::try_from(col::<i32>(r, "dimension")?).unwrap_or(0),
        embedding: provider.zip(model).map(|(provider, model)| EmbeddingModel { provider, model }),
        chunk_size: usize::try_from(col::<i32>(r, "chunk_size")?).unwrap_or(0),
        chunk_overlap: usize::try_from(col::<i32>(r, "chunk_overlap")?).unwrap_or(0),
        created_at: col(r, "created_at")?,
        revision: u64::try_from(col::<i64>(r, "revision")?).unwrap_or(0),
        store: backend_of(&col::<String>(r, "store")?)?,
    })
}

/// Counts one more write to the collection's chunks, locking its row until `tx` ends; its new
/// revision, `None` when the workspace has no such collection.
async fn bump(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    scope: Scope,
    name: &str,
) -> Result<Option<u64>, StoreError> {
    let row: Option<(i64,)> = sqlx::query_as(
        "UPDATE vector_collections SET revision = revision + 1 WHERE workspace_id = $1 AND name = $2 RETURNING revision",
    )
    .bind(scope.workspace().0)
    .bind(name)
    .fetch_optional(&mut **tx)
    .await
    .map_err(store_error)?;
    Ok(row.map(|(n,)| u64::try_from(n).unwrap_or(0)))
}

fn int(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[async_trait::async_trait]
impl VectorStore for PostgresStore {
    async fn create_collection(&self, scope: Scope, c: &Collection) -> Result<(), StoreError> {
        let (provider, model) = c.embedding.as_ref().map(|e| (e.provider.as_str(), e.model.as_str())).unzip();
        let done = sqlx::query(
            "INSERT INTO vector_collections (workspace_id, name, description, dimension, embedding_provider, \
             embedding_model, chunk_size, chunk_overlap, created_at, revision, store) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10) \
             ON CONFLICT (workspace_id, name) DO NOTHING",
        )
        .bind(scope.workspace().0)
        .bind(&c.name)
        .bind(&c.description)
        .bind(int(c.dimension))
        .bind(provider)
        .bind(model)
        .bind(int(c.chunk_size))
        .bind(int(c.chunk_overlap))
        .bind(c.created_at)
        .bind(c.store.as_str())
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!("collection '{}' already exists", c.name)));
        }
        Ok(())
    }

    async fn collection(&self, scope: Scope, name: &str) -> Result<Option<Collection>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM vector_collections WHERE workspace_id = $1 AND name = $2"
        )))
        .bind(scope.workspace().0)
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.as_ref().map(collection_of).transpose()
    }

    async fn collections(&self, scope: Scope) -> Result<Vec<Collection>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM vector_collections WHERE workspace_id = $1 ORDER BY name"
        )))
        .bind(scope.workspace().0)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(collection_of).collect()
    }

    async fn delete_collection(&self, scope: Scope, name: &str) -> Result<(), StoreError> {
        // The chunks go with it (ON DELETE CASCADE).
        let done = sqlx::query("DELETE FROM vector_collections WHERE workspace_id = $1 AND name = $2")
            .bind(scope.workspace().0)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        if done.rows_affected() == 0 { Err(StoreError::not_found("collection", name)) } else { Ok(()) }
    }

    async fn put_documents(&self, scope: Scope, collection: &str, chunks: &[Chunk]) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        // Locks the collection row until commit: writes to one collection take turns (so
        // revisions count them exactly), and a concurrent delete of it waits.
        let Some(revision) = bump(&mut tx, scope, collection).await? else {
            return Err(StoreError::not_found("collection", collection));
        };
        let mut documents: Vec<&str> = chunks.iter().map(|k| k.document_id.as_str()).collect();
        documents.dedup();
        sqlx::query("DELETE FROM vector_chunks WHERE workspace_id = $1 AND collection = $2 AND document_id = ANY($3)")
            .bind(scope.workspace().0)
            .bind(collection)
            .bind(&documents)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        for k in chunks {
            sqlx::query(
                "INSERT INTO vector_chunks (workspace_id, collection, document_id, chunk_index, text, metadata, vector) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (workspace_id, collection, document_id, chunk_index) \
                 DO UPDATE SET text = excluded.text, metadata = excluded.metadata, vector = excluded.vector",
            )
            .bind(scope.workspace().0)
            .bind(collection)
            .bind(&k.document_id)
            .bind(i32::try_from(k.index).unwrap_or(i32::MAX))
            .bind(&k.text)
            .bind(metadata_text(&k.metadata))
            .bind(vector_bytes(&k.vector))
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        }
        tx.commit().await.map_err(store_error)?;
        Ok(revision)
    }

    async fn delete_document(&self, scope: Scope, collection: &str, document_id: &str) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let Some(revision) = bump(&mut tx, scope, collection).await? else {
            return Err(StoreError::not_found("collection", collection));
        };
        let done =
            sqlx::query("DELETE FROM vector_chunks WHERE workspace_id = $1 AND collection = $2 AND document_id = $3")
                .bind(scope.workspace().0)
                .bind(collection)
                .bind(document_id)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
        if done.rows_affected() == 0 {
            // Rolled back with the revision it counted.
            return Err(StoreError::not_found("document", document_id));
        }
        tx.commit().await.map_err(store_error)?;
        Ok(revision)
    }

    async fn chunks(&self, scope: Scope, collection: &str) -> Result<Vec<Chunk>, StoreError> {
        if self.collection(scope, collection).await?.is_none() {
            return Err(StoreError::not_found("collection", collection));
        }
        let rows = sqlx::query(
            "SELECT document_id, chunk_index, text, metadata, vector FROM vector_chunks \
             WHERE workspace_id = $1 AND collection = $2 ORDER BY document_id, chunk_index",
        )
        .bind(scope.workspace().0)
        .bind(collection)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter()
            .map(|r| {
                Ok(Chunk {
                    document_id: col(r, "document_id")?,
                    index: u32::try_from(col::<i32>(r, "chunk_index")?).unwrap_or(0),
                    text: col(r, "text")?,
                    metadata: metadata_of(&col::<String>(r, "metadata")?)?,
                    vector: vector_of(&col::<Vec<u8>>(r, "vector")?)?,
                })
            })
            .collect()
    }
}
