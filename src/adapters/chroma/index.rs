//! [`VectorIndex`] on Chroma: a Chroma collection per workspace and collection (cosine space),
//! chunks under `<document id>#<index>`, metadata filters as Chroma `where` clauses.

use super::client::ChromaClient;
use super::naming::{self, DOCUMENT};
use crate::domain::access::Scope;
use crate::domain::vectors::{Chunk, Collection, VectorBackend};
use crate::ports::{ScoredChunk, StoreError, VectorIndex, VectorQuery};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Chunks per upsert call (Chroma caps a batch; its default cap is larger).
const BATCH: usize = 500;

/// Collections on one Chroma server.
pub struct ChromaIndex {
    client: ChromaClient,
}

impl std::fmt::Debug for ChromaIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChromaIndex")
    }
}

#[derive(Deserialize)]
struct Made {
    id: String,
}

#[derive(Deserialize)]
struct Got {
    ids: Vec<String>,
}

/// Per query sent, per result: Chroma's answer columns.
type Columns<T> = Option<Vec<Vec<Option<T>>>>;

#[derive(Deserialize)]
struct Queried {
    ids: Vec<Vec<String>>,
    documents: Columns<String>,
    metadatas: Columns<Map<String, Value>>,
    distances: Columns<f32>,
}

/// The results of the one query sent.
fn first<T>(v: Option<Vec<Vec<T>>>) -> Vec<T> {
    v.and_then(|v| v.into_iter().next()).unwrap_or_default()
}

impl ChromaIndex {
    /// An index on the Chroma server at `base_url` (connected on first use).
    ///
    /// # Errors
    /// A client that cannot be built.
    pub fn new(base_url: &str) -> Result<Self, String> {
        Ok(Self { client: ChromaClient::new(base_url)? })
    }

    /// The Chroma id of the workspace's collection.
    async fn id(&self, scope: Scope, collection: &Collection) -> Result<String, StoreError> {
        let name = naming::collection_name(scope, &collection.name);
        let made: Made = self.client.call(Method::GET, &format!("/{name}"), None, &collection.name).await?;
        Ok(made.id)
    }

    /// The ids of the chunks matching `filter` (a `where` clause).
    async fn ids(&self, id: &str, filter: Value, name: &str) -> Result<Vec<String>, StoreError> {
        let body = json!({"where": filter, "include": []});
        let got: Got = self.client.call(Method::POST, &format!("/{id}/get"), Some(&body), name).await?;
        Ok(got.ids)
    }
}

#[async_trait::async_trait]
impl VectorIndex for ChromaIndex {
    fn backend(&self) -> VectorBackend {
        VectorBackend::Chroma
    }

    #[tracing::instrument(skip_all, fields(collection = %collection.name))]
    async fn create(&self, scope: Scope, collection: &Collection) -> Result<(), StoreError> {
        // Whatever an earlier collection of this name left goes first.
        self.drop_collection(scope, collection).await?;
        let body = json!({
            "name": naming::collection_name(scope, &collection.name),
            "metadata": {"hnsw:space": "cosine"},
            "get_or_create": false,
        });
        let _: Made = self.client.call(Method::POST, "", Some(&body), &collection.name).await?;
        Ok(())
    }

    async fn drop_collection(&self, scope: Scope, collection: &Collection) -> Result<(), StoreError> {
        let name = naming::collection_name(scope, &collection.name);
        match self.client.call::<Value>(Method::DELETE, &format!("/{name}"), None, &collection.name).await {
            Ok(_) | Err(StoreError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    #[tracing::instrument(skip_all, fields(collection = %collection.name, chunks = chunks.len()))]
    async fn put(&self, scope: Scope, collection: &Collection, chunks: &[Chunk]) -> Result<(), StoreError> {
        let id = self.id(scope, collection).await?;
        let mut documents: Vec<&str> = chunks.iter().map(|k| k.document_id.as_str()).collect();
        documents.dedup();
        // A document upserted again keeps only its new chunks: the old ones go first.
        let old = self.ids(&id, json!({DOCUMENT: {"$in": documents}}), &collection.name).await?;
        if !old.is_empty() {
            let body = json!({"ids": old});
            let _: Value =
                self.client.call(Method::POST, &format!("/{id}/delete"), Some(&body), &collection.name).await?;
        }
        for batch in chunks.chunks(BATCH) {
            let body = json!({
                "ids": batch.iter().map(Chunk::id).collect::<Vec<_>>(),
                "embeddings": batch.iter().map(|k| &k.vector).collect::<Vec<_>>(),
                "documents": batch.iter().map(|k| &k.text).collect::<Vec<_>>(),
                "metadatas": batch.iter().map(|k| naming::to_chroma(&k.metadata, &k.document_id, k.index)).collect::<Vec<_>>(),
            });
            let _: Value =
                self.client.call(Method::POST, &format!("/{id}/upsert"), Some(&body), &collection.name).await?;
        }
        Ok(())
    }

    async fn delete_document(
        &self,
        scope: Scope,
        collection: &Collection,
        document_id: &str,
    ) -> Result<(), StoreError> {
        let id = self.id(scope, collection).await?;
        let old = self.ids(&id, json!({DOCUMENT: {"$eq": document_id}}), &collection.name).await?;
        if old.is_empty() {
            return Err(StoreError::not_found("document", document_id));
        }
        let body = json!({"ids": old});
        let _: Value = self.client.call(Method::POST, &format!("/{id}/delete"), Some(&body), &collection.name).await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(collection = %collection.name, top_k = query.top_k))]
    async fn search<'a>(
        &self,
        scope: Scope,
        collection: &Collection,
        query: VectorQuery<'a>,
    ) -> Result<Vec<ScoredChunk>, StoreError> {
        let id = self.id(scope, collection).await?;
        let mut body = json!({
            "query_embeddings": [query.vector],
            "n_results": query.top_k,
            "include": ["documents", "metadatas", "distances"],
        });
        if let Some(clause) = naming::filter(query.filter) {
            body["where"] = clause;
        }
        let found: Queried =
            self.client.call(Method::POST, &format!("/{id}/query"), Some(&body), &collection.name).await?;
        let ids = found.ids.into_iter().next().unwrap_or_default();
        let (texts, metadatas, distances) = (first(found.documents), first(found.metadatas), first(found.distances));
        let mut hits = Vec::with_capacity(ids.len());
        for (i, chunk_id) in ids.iter().enumerate() {
            let stored = metadatas.get(i).cloned().flatten().unwrap_or_default();
            let Some((metadata, document_id, index)) = naming::from_chroma(&stored) else {
                return Err(StoreError::Internal(format!("Chroma chunk {chunk_id} lacks oxify's metadata")));
            };
            // Cosine distance is 1 - cosine similarity; results come nearest first.
            let score = 1.0 - distances.get(i).copied().flatten().unwrap_or(2.0);
            if query.score_threshold.is_some_and(|least| score < least) {
                break;
            }
            let text = texts.get(i).cloned().flatten().unwrap_or_default();
            hits.push(ScoredChunk { document_id, index, text, metadata, score });
        }
        Ok(hits)
    }

    async fn counts(&self, scope: Scope, collection: &Collection) -> Result<(usize, usize), StoreError> {
        let id = self.id(scope, collection).await?;
        let body = json!({"include": []});
        let got: Got = self.client.call(Method::POST, &format!("/{id}/get"), Some(&body), &collection.name).await?;
        // Chunk ids are `<document id>#<index>`; a document id may hold '#' itself.
        let mut documents: Vec<&str> = got.ids.iter().filter_map(|c| c.rsplit_once('#').map(|(d, _)| d)).collect();
        documents.sort_unstable();
        documents.dedup();
        Ok((documents.len(), got.ids.len()))
    }
}
