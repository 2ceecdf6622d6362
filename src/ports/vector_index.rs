//! A vector database outside the server's own storage (pgvector, Chroma) holding the chunks of
//! the collections made on it. The collection itself (name, dimension, model) stays in the
//! server's [`super::VectorStore`]; this port holds and searches the chunks.

use super::store_error::StoreError;
use crate::domain::access::Scope;
use crate::domain::vectors::{Chunk, Collection, VectorBackend};
use serde_json::{Map, Value};

/// A chunk found, with its cosine similarity (-1 to 1).
#[derive(Clone, Debug, PartialEq)]
pub struct ScoredChunk {
    pub document_id: String,
    pub index: u32,
    pub text: String,
    pub metadata: Map<String, Value>,
    pub score: f32,
}

/// A similarity search.
#[derive(Clone, Copy, Debug)]
pub struct VectorQuery<'a> {
    /// Exactly the collection's dimension, not all zeros.
    pub vector: &'a [f32],
    pub top_k: usize,
    /// Least cosine similarity kept.
    pub score_threshold: Option<f32>,
    /// Metadata keys with the values they must equal.
    pub filter: &'a Map<String, Value>,
}

/// The chunks of a backend's collections, kept apart per workspace.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait VectorIndex: Send + Sync {
    /// Which backend this is.
    fn backend(&self) -> VectorBackend;

    /// Makes an empty place for `collection`'s chunks (dropping any left from an earlier
    /// collection of that name).
    ///
    /// # Errors
    /// - MUST return [`StoreError::Unavailable`] naming what is missing when the database cannot
    ///   hold vectors (pgvector: the extension is not installed) or cannot be reached.
    async fn create(&self, scope: Scope, collection: &Collection) -> Result<(), StoreError>;

    /// Drops the collection's chunks; nothing to drop is not an error.
    ///
    /// # Errors
    /// The database failing.
    async fn drop_collection(&self, scope: Scope, collection: &Collection) -> Result<(), StoreError>;

    /// Replaces the chunks of each document named in `chunks` (all of a document's chunks are
    /// given together).
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when the collection's place is gone.
    async fn put(&self, scope: Scope, collection: &Collection, chunks: &[Chunk]) -> Result<(), StoreError>;

    /// Deletes a document's chunks.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when the collection has no such document.
    async fn delete_document(&self, scope: Scope, collection: &Collection, document_id: &str)
    -> Result<(), StoreError>;

    /// The best chunks first.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when the collection's place is gone.
    async fn search<'a>(
        &self,
        scope: Scope,
        collection: &Collection,
        query: VectorQuery<'a>,
    ) -> Result<Vec<ScoredChunk>, StoreError>;

    /// Documents and chunks stored.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when the collection's place is gone.
    async fn counts(&self, scope: Scope, collection: &Collection) -> Result<(usize, usize), StoreError>;
}
