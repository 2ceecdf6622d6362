//! Vector collections in memory.

use super::InMemoryStore;
use crate::domain::access::Scope;
use crate::domain::ids::WorkspaceId;
use crate::domain::vectors::{Chunk, Collection};
use crate::ports::{StoreError, VectorStore};
use std::collections::{BTreeMap, HashMap};

/// Collections by workspace and name.
pub(super) type Collections = HashMap<(WorkspaceId, String), Stored>;

pub(super) struct Stored {
    collection: Collection,
    /// By document id and index.
    chunks: BTreeMap<(String, u32), Chunk>,
}

fn key(scope: Scope, name: &str) -> (WorkspaceId, String) {
    (scope.workspace(), name.to_owned())
}

#[async_trait::async_trait]
impl VectorStore for InMemoryStore {
    async fn create_collection(&self, scope: Scope, collection: &Collection) -> Result<(), StoreError> {
        let mut inner = self.write();
        let slot = key(scope, &collection.name);
        if inner.vectors.contains_key(&slot) {
            return Err(StoreError::Conflict(format!("collection '{}' already exists", collection.name)));
        }
        inner.vectors.insert(slot, Stored { collection: collection.clone(), chunks: BTreeMap::new() });
        Ok(())
    }

    async fn collection(&self, scope: Scope, name: &str) -> Result<Option<Collection>, StoreError> {
        Ok(self.read().vectors.get(&key(scope, name)).map(|s| s.collection.clone()))
    }

    async fn collections(&self, scope: Scope) -> Result<Vec<Collection>, StoreError> {
        let inner = self.read();
        let mut all: Vec<Collection> = inner
            .vectors
            .iter()
            .filter(|((ws, _), _)| *ws == scope.workspace())
            .map(|(_, s)| s.collection.clone())
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    async fn delete_collection(&self, scope: Scope, name: &str) -> Result<(), StoreError> {
        match self.write().vectors.remove(&key(scope, name)) {
            Some(_) => Ok(()),
            None => Err(StoreError::not_found("collection", name)),
        }
    }

    async fn put_documents(&self, scope: Scope, collection: &str, chunks: &[Chunk]) -> Result<u64, StoreError> {
        let mut inner = self.write();
        let stored = inner
            .vectors
            .get_mut(&key(scope, collection))
            .ok_or_else(|| StoreError::not_found("collection", collection))?;
        let documents: std::collections::HashSet<&str> = chunks.iter().map(|c| c.document_id.as_str()).collect();
        stored.chunks.retain(|(doc, _), _| !documents.contains(doc.as_str()));
        for chunk in chunks {
            stored.chunks.insert((chunk.document_id.clone(), chunk.index), chunk.clone());
        }
        stored.collection.revision += 1;
        Ok(stored.collection.revision)
    }

    async fn delete_document(&self, scope: Scope, collection: &str, document_id: &str) -> Result<u64, StoreError> {
        let mut inner = self.write();
        let stored = inner
            .vectors
            .get_mut(&key(scope, collection))
            .ok_or_else(|| StoreError::not_found("collection", collection))?;
        let before = stored.chunks.len();
        stored.chunks.retain(|(doc, _), _| doc != document_id);
        if stored.chunks.len() == before {
            return Err(StoreError::not_found("document", document_id));
        }
        stored.collection.revision += 1;
        Ok(stored.collection.revision)
    }

    async fn chunks(&self, scope: Scope, collection: &str) -> Result<Vec<Chunk>, StoreError> {
        let inner = self.read();
        let stored = inner
            .vectors
            .get(&key(scope, collection))
            .ok_or_else(|| StoreError::not_found("collection", collection))?;
        Ok(stored.chunks.values().cloned().collect())
    }
}
