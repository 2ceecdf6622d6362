//! Retrieval for Retriever nodes: a workspace's collection searched with a query text, embedded
//! by the collection's model on the execution's budget.

use crate::domain::access::Scope;
use crate::domain::budget::Budget;
use crate::domain::usage::Usage;
use crate::ports::RunnerError;
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use tokio_util::sync::CancellationToken;

/// One search for a node.
pub struct RetrievalRequest<'a> {
    pub scope: Scope,
    pub collection: &'a str,
    /// The node's `db_type`: it must be the collection's store.
    pub db_type: crate::domain::vectors::VectorBackend,
    pub query: &'a str,
    pub top_k: usize,
    /// Least cosine similarity kept (-1 to 1).
    pub score_threshold: Option<f32>,
    pub budget: &'a Arc<Mutex<Budget>>,
    /// The attempt's revealed workspace secrets (a workspace's own provider key).
    pub secrets: &'a Map<String, Value>,
}

/// A chunk found, with its similarity.
#[derive(Clone, Debug, PartialEq)]
pub struct Retrieved {
    pub document_id: String,
    pub chunk_index: u32,
    pub text: String,
    pub metadata: Map<String, Value>,
    /// Cosine similarity, -1 to 1.
    pub score: f32,
}

/// Searches collections for nodes.
#[async_trait::async_trait]
pub trait Retrieval: Send + Sync {
    /// The best chunks first.
    ///
    /// # Errors
    /// Permanent for an unknown collection or a bad query; embedding failures as they are.
    async fn retrieve(
        &self,
        request: RetrievalRequest<'_>,
        cancel: &CancellationToken,
    ) -> Result<(Vec<Retrieved>, Option<Usage>), RunnerError>;
}

/// The collections, known only once the use cases are assembled (after the runners): the
/// composition root fills the slot. Until then calls fail permanently.
#[derive(Default)]
pub struct RetrievalSlot(OnceLock<Weak<dyn Retrieval>>);

impl std::fmt::Debug for RetrievalSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() { "RetrievalSlot(filled)" } else { "RetrievalSlot(empty)" })
    }
}

impl RetrievalSlot {
    /// Fills the slot (once; later calls are ignored), held weakly.
    pub fn fill(&self, retrieval: &Arc<dyn Retrieval>) {
        let _ = self.0.set(Arc::downgrade(retrieval));
    }
}

#[async_trait::async_trait]
impl Retrieval for RetrievalSlot {
    async fn retrieve(
        &self,
        request: RetrievalRequest<'_>,
        cancel: &CancellationToken,
    ) -> Result<(Vec<Retrieved>, Option<Usage>), RunnerError> {
        let Some(inner) = self.0.get().and_then(Weak::upgrade) else {
            return Err(RunnerError::Permanent("collections cannot be searched here".into()));
        };
        inner.retrieve(request, cancel).await
    }
}
