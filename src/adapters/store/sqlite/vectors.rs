//! Vector collections in SQLite.

use super::SqliteStore;
use super::codec::{micros, time};
use super::errors::store_error;
use crate::adapters::store::vector_codec::{backend_of, metadata_of, metadata_text, vector_bytes, vector_of};
use crate::domain::access::Scope;
use crate::domain::vectors::{Chunk, Collection, EmbeddingModel, VectorBackend};
use crate::ports::{StoreError, VectorStore};
use rusqlite::{Connection, OptionalExtension, Row, params};

const COLUMNS: &str = "name, description, dimension, embedding_provider, embedding_model, chunk_size, chunk_overlap, created_at, revision, store";

fn collection_of(r: &Row<'_>) -> rusqlite::Result<(Collection, i64, String)> {
    let provider: Option<String> = r.get(3)?;
    let model: Option<String> = r.get(4)?;
    let c = Collection {
        name: r.get(0)?,
        description: r.get(1)?,
        dimension: usize::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
        embedding: provider.zip(model).map(|(provider, model)| EmbeddingModel { provider, model }),
        chunk_size: usize::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
        chunk_overlap: usize::try_from(r.get::<_, i64>(6)?).unwrap_or(0),
        created_at: chrono::DateTime::UNIX_EPOCH,
        revision: u64::try_from(r.get::<_, i64>(8)?).unwrap_or(0),
        store: VectorBackend::Embedded,
    };
    Ok((c, r.get(7)?, r.get(9)?))
}

/// Counts one more write to the collection's chunks; its new revision, `None` when the
/// workspace has no such collection.
fn bump(c: &Connection, ws: &str, name: &str) -> Result<Option<u64>, StoreError> {
    c.prepare_cached(
        "UPDATE vector_collections SET revision = revision + 1 WHERE workspace_id = ?1 AND name = ?2 RETURNING revision",
    )
    .and_then(|mut st| st.query_row(params![ws, name], |r| r.get::<_, i64>(0)).optional())
    .map(|found| found.map(|n| u64::try_from(n).unwrap_or(0)))
    .map_err(store_error)
}

fn exists(c: &Connection, ws: &str, name: &str) -> Result<bool, StoreError> {
    c.prepare_cached("SELECT 1 FROM vector_collections WHERE workspace_id = ?1 AND name = ?2")
        .and_then(|mut st| st.query_row(params![ws, name], |_| Ok(())).optional())
        .map(|found| found.is_some())
        .map_err(store_error)
}

#[async_trait::async_trait]
impl VectorStore for SqliteStore {
    async fn create_collection(&self, scope: Scope, collection: &Collection) -> Result<(), StoreError> {
        let (ws, c) = (scope.workspace().to_string(), collection.clone());
        self.writer
            .write(move |conn| {
                if exists(conn, &ws, &c.name)? {
                    return Err(StoreError::Conflict(format!("collection '{}' already exists", c.name)));
                }
                let (provider, model) = c.embedding.map(|e| (e.provider, e.model)).unzip();
                conn.prepare_cached(&format!(
                    "INSERT INTO vector_collections (workspace_id, {COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, ?10)"
                ))
                .and_then(|mut st| {
                    st.execute(params![
                        ws,
                        c.name,
                        c.description,
                        c.dimension as i64,
                        provider,
                        model,
                        c.chunk_size as i64,
                        c.chunk_overlap as i64,
                        micros(c.created_at),
                        c.store.as_str()
                    ])
                })
                .map_err(store_error)?;
                Ok(())
            })
            .await
    }

    async fn collection(&self, scope: Scope, name: &str) -> Result<Option<Collection>, StoreError> {
        let (ws, name) = (scope.workspace().to_string(), name.to_owned());
        self.readers
            .read(move |c| {
                let row = c
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM vector_collections WHERE workspace_id = ?1 AND name = ?2"
                    ))
                    .and_then(|mut st| st.query_row(params![ws, name], collection_of).optional())
                    .map_err(store_error)?;
                row.map(|(mut c, at, store)| {
                    c.created_at = time(at)?;
                    c.store = backend_of(&store)?;
                    Ok(c)
                })
                .transpose()
            })
            .await
    }

    async fn collections(&self, scope: Scope) -> Result<Vec<Collection>, StoreError> {
        let ws = scope.workspace().to_string();
        self.readers
            .read(move |c| {
                let mut st = c
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM vector_collections WHERE workspace_id = ?1 ORDER BY name"
                    ))
                    .map_err(store_error)?;
                let rows = st.query_map([ws], collection_of).map_err(store_error)?;
                rows.map(|row| {
                    let (mut c, at, store) = row.map_err(store_error)?;
                    c.created_at = time(at)?;
                    c.store = backend_of(&store)?;
                    Ok(c)
                })
                .collect()
            })
            .await
    }

    async fn delete_collection(&self, scope: Scope, name: &str) -> Result<(), StoreError> {
        let (ws, name) = (scope.workspace().to_string(), name.to_owned());
        self.writer
            .write(move |c| {
                let deleted = c
                    .prepare_cached("DELETE FROM vector_collections WHERE workspace_id = ?1 AND name = ?2")
                    .and_then(|mut st| st.execute(params![ws, name]))
                    .map_err(store_error)?;
                if deleted == 0 {
                    return Err(StoreError::not_found("collection", &name));
                }
                c.prepare_cached("DELETE FROM vector_chunks WHERE workspace_id = ?1 AND collection = ?2")
                    .and_then(|mut st| st.execute(params![ws, name]))
                    .map_err(store_error)?;
                Ok(())
            })
            .await
    }

    async fn put_documents(&self, scope: Scope, collection: &str, chunks: &[Chunk]) -> Result<u64, StoreError> {
        let (ws, name, chunks) = (scope.workspace().to_string(), collection.to_owned(), chunks.to_vec());
        self.writer
            .write(move |c| {
                let Some(revision) = bump(c, &ws, &name)? else {
                    return Err(StoreError::not_found("collection", &name));
                };
                let mut documents: Vec<&str> = chunks.iter().map(|k| k.document_id.as_str()).collect();
                documents.dedup();
                let mut delete = c
                    .prepare_cached(
                        "DELETE FROM vector_chunks WHERE workspace_id = ?1 AND collection = ?2 AND document_id = ?3",
                    )
                    .map_err(store_error)?;
                for document in documents {
                    delete.execute(params![ws, name, document]).map_err(store_error)?;
                }
                let mut insert = c
                    .prepare_cached(
                        "INSERT OR REPLACE INTO vector_chunks (workspace_id, collection, document_id, chunk_index, \
                         text, metadata, vector) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )
                    .map_err(store_error)?;
                for k in &chunks {
                    insert
                        .execute(params![
                            ws,
                            name,
                            k.document_id,
                            k.index,
                            k.text,
                            metadata_text(&k.metadata),
                            vector_bytes(&k.vector)
                        ])
                        .map_err(store_error)?;
                }
                Ok(revision)
            })
            .await
    }

    async fn delete_document(&self, scope: Scope, collection: &str, document_id: &str) -> Result<u64, StoreError> {
        let (ws, name, doc) = (scope.workspace().to_string(), collection.to_owned(), document_id.to_owned());
        self.writer
            .write(move |c| {
                let deleted = c
                    .prepare_cached(
                        "DELETE FROM vector_chunks WHERE workspace_id = ?1 AND collection = ?2 AND document_id = ?3",
                    )
                    .and_then(|mut st| st.execute(params![ws, name, doc]))
                    .map_err(store_error)?;
                if deleted == 0 {
                    return Err(StoreError::not_found("document", &doc));
                }
                bump(c, &ws, &name)?.ok_or_else(|| StoreError::not_found("collection", &name))
            })
            .await
    }

    async fn chunks(&self, scope: Scope, collection: &str) -> Result<Vec<Chunk>, StoreError> {
        let (ws, name) = (scope.workspace().to_string(), collection.to_owned());
        self.readers
            .read(move |c| {
                if !exists(c, &ws, &name)? {
                    return Err(StoreError::not_found("collection", &name));
                }
                let mut st = c
                    .prepare_cached(
                        "SELECT document_id, chunk_index, text, metadata, vector FROM vector_chunks \
                         WHERE workspace_id = ?1 AND collection = ?2 ORDER BY document_id, chunk_index",
                    )
                    .map_err(store_error)?;
                let rows = st
                    .query_map(params![ws, name], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, String>(3)?, r.get::<_, Vec<u8>>(4)?))
                    })
                    .map_err(store_error)?;
                rows.map(|row| {
                    let (document_id, index, text, metadata, vector) = row.map_err(store_error)?;
                    Ok(Chunk {
                        document_id,
                        index,
                        text,
                        metadata: metadata_of(&metadata)?,
                        vector: vector_of(&vector)?,
                    })
                })
                .collect()
            })
            .await
    }
}
