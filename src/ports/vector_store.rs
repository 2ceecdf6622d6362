//! Vector collections as stored: a workspace's collections by name, and their chunks by document.

use super::store_error::StoreError;
use crate::domain::access::Scope;
use crate::domain::vectors::{Chunk, Collection};

/// Collections and their chunks, per workspace.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait VectorStore: Send + Sync {
    /// # Errors
    /// - MUST return [`StoreError::Conflict`] when the workspace has a collection of this name.
    async fn create_collection(&self, scope: Scope, collection: &Collection) -> Result<(), StoreError>;

    /// # Errors
    /// Storage failures only (`None` when the workspace has no such collection).
    async fn collection(&self, scope: Scope, name: &str) -> Result<Option<Collection>, StoreError>;

    /// The workspace's collections, by name.
    ///
    /// # Errors
    /// Storage failures.
    async fn collections(&self, scope: Scope) -> Result<Vec<Collection>, StoreError>;

    /// Deletes the collection and every chunk in it.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when the workspace has no such collection.
    async fn delete_collection(&self, scope: Scope, name: &str) -> Result<(), StoreError>;

    /// Replaces the chunks of each document named in `chunks` (all of a document's chunks are
    /// given together), atomically: a document upserted again keeps only its new chunks. Returns
    /// the collection's revision after the write (one more than before).
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when the workspace has no such collection.
    async fn put_documents(&self, scope: Scope, collection: &str, chunks: &[Chunk]) -> Result<u64, StoreError>;

    /// Deletes a document's chunks; returns the collection's revision after the delete.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when the collection has no such document (or the
    ///   workspace no such collection).
    async fn delete_document(&self, scope: Scope, collection: &str, document_id: &str) -> Result<u64, StoreError>;

    /// Every chunk of the collection, by document and index (to load a search index).
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when the workspace has no such collection.
    async fn chunks(&self, scope: Scope, collection: &str) -> Result<Vec<Chunk>, StoreError>;
}
