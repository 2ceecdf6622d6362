//! Collections on pgvector: each collection's chunks in a table of its own with a `vector(n)`
//! column and an HNSW index for cosine distance (`<=>`), on the server's Postgres or the one
//! `OXIFY_PGVECTOR_URL` names. Metadata filters are applied in SQL (`metadata -> key = value`).

use super::postgres::errors::store_error;
use crate::domain::access::Scope;
use crate::domain::vectors::{Chunk, Collection, VectorBackend};
use crate::ports::{ScoredChunk, StoreError, VectorIndex, VectorQuery};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Row};
use std::fmt::Write as _;
use std::time::Duration;

/// pgvector indexes vectors of at most this many dimensions; longer ones are searched exactly.
const MAX_INDEXED_DIMENSION: usize = 2000;

/// Where pgvector collections live.
pub struct PgvectorIndex {
    pool: PgPool,
}

impl std::fmt::Debug for PgvectorIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgvectorIndex")
    }
}

/// The table of a workspace's collection: `oxify_pgv_` and 40 hex digits of SHA-256 over the
/// workspace id and the name (identifiers cannot be bound, so the name never enters SQL as is).
fn table(scope: Scope, name: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(scope.workspace().0.as_bytes());
    hash.update(name.as_bytes());
    let mut out = String::from("oxify_pgv_");
    for b in hash.finalize().iter().take(20) {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A vector in pgvector's text form, `[1.5,-2,...]`.
fn literal(vector: &[f32]) -> String {
    let mut out = String::with_capacity(vector.len() * 8 + 2);
    out.push('[');
    for (i, f) in vector.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{f}");
    }
    out.push(']');
    out
}

/// A missing table is a collection whose place is gone.
fn missing_as_not_found(e: sqlx::Error, name: &str) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.code().as_deref() == Some("42P01")
    {
        return StoreError::not_found("collection", name);
    }
    store_error(e)
}

impl PgvectorIndex {
    /// A pool on `url`, connecting on first use (the server starts without it).
    ///
    /// # Errors
    /// A URL that is not a Postgres URL.
    pub fn connect_lazy(url: &str, max_connections: u32) -> Result<Self, String> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy(url)
            .map_err(|e| format!("bad pgvector URL: {e}"))?;
        Ok(Self { pool })
    }

    /// Makes sure the `vector` extension is enabled in the database, with an error saying what is
    /// missing when it cannot be.
    async fn extension(&self) -> Result<(), StoreError> {
        let enabled = || sqlx::query("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetch_optional(&self.pool);
        if enabled().await.map_err(store_error)?.is_some() {
            return Ok(());
        }
        let created = sqlx::query("CREATE EXTENSION IF NOT EXISTS vector").execute(&self.pool).await;
        if enabled().await.map_err(store_error)?.is_some() {
            return Ok(()); // made now, here or by a concurrent call
        }
        let available = sqlx::query("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        Err(StoreError::Unavailable(match (available, created) {
            (None, _) => "the Postgres server has no pgvector extension: install it on that server (Debian: \
                          postgresql-15-pgvector, for its major version) to make pgvector collections"
                .into(),
            (Some(_), Err(e)) => format!(
                "the pgvector extension is installed but not enabled in this database, and enabling it failed: {}",
                store_error(e)
            ),
            (Some(_), Ok(_)) => "the pgvector extension could not be enabled".into(),
        }))
    }
}

#[async_trait::async_trait]
impl VectorIndex for PgvectorIndex {
    fn backend(&self) -> VectorBackend {
        VectorBackend::Pgvector
    }

    #[tracing::instrument(skip_all, fields(collection = %collection.name))]
    async fn create(&self, scope: Scope, collection: &Collection) -> Result<(), StoreError> {
        self.extension().await?;
        let t = table(scope, &collection.name);
        let d = collection.dimension;
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        // The table name is ours (hex), the dimension a number: nothing here comes from a caller.
        let statements = [
            format!("DROP TABLE IF EXISTS {t}"),
            format!(
                "CREATE TABLE {t} (document_id TEXT NOT NULL, chunk_index INTEGER NOT NULL, text TEXT NOT NULL, \
                 metadata JSONB NOT NULL, embedding vector({d}) NOT NULL, PRIMARY KEY (document_id, chunk_index))"
            ),
        ];
        for sql in statements {
            sqlx::query(AssertSqlSafe(sql)).execute(&mut *tx).await.map_err(store_error)?;
        }
        if d <= MAX_INDEXED_DIMENSION {
            let sql = format!("CREATE INDEX {t}_hnsw ON {t} USING hnsw (embedding vector_cosine_ops)");
            sqlx::query(AssertSqlSafe(sql)).execute(&mut *tx).await.map_err(store_error)?;
        }
        tx.commit().await.map_err(store_error)
    }

    async fn drop_collection(&self, scope: Scope, collection: &Collection) -> Result<(), StoreError> {
        let sql = format!("DROP TABLE IF EXISTS {}", table(scope, &collection.name));
        sqlx::query(AssertSqlSafe(sql)).execute(&self.pool).await.map_err(store_error)?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(collection = %collection.name, chunks = chunks.len()))]
    async fn put(&self, scope: Scope, collection: &Collection, chunks: &[Chunk]) -> Result<(), StoreError> {
        let t = table(scope, &collection.name);
        let gone = |e| missing_as_not_found(e, &collection.name);
        let mut documents: Vec<&str> = chunks.iter().map(|k| k.document_id.as_str()).collect();
        documents.dedup();
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        sqlx::query(AssertSqlSafe(format!("DELETE FROM {t} WHERE document_id = ANY($1)")))
            .bind(&documents)
            .execute(&mut *tx)
            .await
            .map_err(gone)?;
        let insert = format!(
            "INSERT INTO {t} (document_id, chunk_index, text, metadata, embedding) VALUES ($1, $2, $3, $4, $5::vector)"
        );
        for k in chunks {
            sqlx::query(AssertSqlSafe(insert.as_str()))
                .bind(&k.document_id)
                .bind(i32::try_from(k.index).unwrap_or(i32::MAX))
                .bind(&k.text)
                .bind(Value::Object(k.metadata.clone()))
                .bind(literal(&k.vector))
                .execute(&mut *tx)
                .await
                .map_err(gone)?;
        }
        tx.commit().await.map_err(store_error)
    }

    async fn delete_document(
        &self,
        scope: Scope,
        collection: &Collection,
        document_id: &str,
    ) -> Result<(), StoreError> {
        let sql = format!("DELETE FROM {} WHERE document_id = $1", table(scope, &collection.name));
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(document_id)
            .execute(&self.pool)
            .await
            .map_err(|e| missing_as_not_found(e, &collection.name))?;
        if done.rows_affected() == 0 { Err(StoreError::not_found("document", document_id)) } else { Ok(()) }
    }

    #[tracing::instrument(skip_all, fields(collection = %collection.name, top_k = query.top_k))]
    async fn search<'a>(
        &self,
        scope: Scope,
        collection: &Collection,
        query: VectorQuery<'a>,
    ) -> Result<Vec<ScoredChunk>, StoreError> {
        let t = table(scope, &collection.name);
        // Each filter key and value is bound; `$1` is the query vector, `$2` the limit.
        let mut conditions = String::new();
        for n in 0..query.filter.len() {
            let _ = write!(conditions, " AND metadata -> ${} = ${}::jsonb", 3 + 2 * n, 4 + 2 * n);
        }
        let sql = format!(
            "SELECT document_id, chunk_index, text, metadata, 1 - (embedding <=> $1::vector) AS score FROM {t} \
             WHERE true{conditions} ORDER BY embedding <=> $1::vector LIMIT $2"
        );
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        // The HNSW scan looks at `ef_search` candidates (40 by default): at least `top_k`, and it
        // goes on scanning while filters drop rows (pgvector 0.8; older versions ignore the
        // setting, a placeholder then).
        let ef = query.top_k.clamp(40, 1000);
        for setting in
            [format!("SET LOCAL hnsw.ef_search = {ef}"), "SET LOCAL hnsw.iterative_scan = strict_order".into()]
        {
            sqlx::query(AssertSqlSafe(setting)).execute(&mut *tx).await.map_err(store_error)?;
        }
        let mut select = sqlx::query(AssertSqlSafe(sql))
            .bind(literal(query.vector))
            .bind(i64::try_from(query.top_k).unwrap_or(i64::MAX));
        for (key, value) in query.filter {
            select = select.bind(key.as_str()).bind(value.clone());
        }
        let rows = select.fetch_all(&mut *tx).await.map_err(|e| missing_as_not_found(e, &collection.name))?;
        tx.commit().await.map_err(store_error)?;
        let mut found = Vec::with_capacity(rows.len());
        for r in rows {
            #[allow(clippy::cast_possible_truncation)] // a similarity in [-1, 1]
            let score = r.try_get::<f64, _>("score").map_err(store_error)? as f32;
            // Rows come best first: the first below the threshold ends the list.
            if query.score_threshold.is_some_and(|least| score < least) {
                break;
            }
            let Value::Object(metadata) = r.try_get::<Value, _>("metadata").map_err(store_error)? else {
                return Err(StoreError::Internal("a pgvector chunk's metadata is not a JSON object".into()));
            };
            found.push(ScoredChunk {
                document_id: r.try_get("document_id").map_err(store_error)?,
                index: u32::try_from(r.try_get::<i32, _>("chunk_index").map_err(store_error)?).unwrap_or(0),
                text: r.try_get("text").map_err(store_error)?,
                metadata,
                score,
            });
        }
        Ok(found)
    }

    async fn counts(&self, scope: Scope, collection: &Collection) -> Result<(usize, usize), StoreError> {
        let sql = format!("SELECT count(DISTINCT document_id), count(*) FROM {}", table(scope, &collection.name));
        let (documents, chunks): (i64, i64) = sqlx::query_as(AssertSqlSafe(sql))
            .fetch_one(&self.pool)
            .await
            .map_err(|e| missing_as_not_found(e, &collection.name))?;
        Ok((usize::try_from(documents).unwrap_or(0), usize::try_from(chunks).unwrap_or(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::WorkspaceId;

    #[test]
    fn tables_are_named_by_workspace_and_name_in_hex() {
        let (a, b) = (Scope::new(WorkspaceId::generate()), Scope::new(WorkspaceId::generate()));
        let t = table(a, "docs; DROP TABLE x");
        assert!(t.len() == 50 && t[10..].chars().all(|c| c.is_ascii_hexdigit()), "{t}");
        assert_ne!(t, table(b, "docs; DROP TABLE x"), "another workspace's is another table");
        assert_eq!(t, table(a, "docs; DROP TABLE x"));
    }

    #[test]
    fn vectors_are_written_in_pgvector_text_form() {
        assert_eq!(literal(&[1.0, -0.5, 1e-7]), "[1,-0.5,0.0000001]");
    }
}
