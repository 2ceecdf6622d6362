//! The Retriever runner: renders the node's `query` template and searches a collection of the
//! execution's workspace on its store (`db_type`: embedded, pgvector or chroma, which must be the
//! collection's), embedding the query with the collection's model through the model gateway
//! (on the execution's budget).

use crate::domain::template;
use crate::domain::vectors::{MAX_TOP_K, VectorBackend};
use crate::domain::workflow::{Node, NodeKind};
use crate::ports::{
    ConfigProblem, NodeInput, NodeOutput, NodeRunner, Retrieval, RetrievalRequest, RetrievalSlot, RunnerError,
};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Seed values this server never talks to.
const REFUSED: &[&str] = &["qdrant", "pinecone", "weaviate", "milvus"];

/// Secrets a workspace may set to embed with its own provider account.
const WORKSPACE_KEYS: &[&str] = &["OPENAI_API_KEY", "OLLAMA_API_KEY"];

/// Runs `Retriever` nodes.
pub struct RetrieverRunner {
    collections: Arc<RetrievalSlot>,
    /// The stores configured here (the embedded one always).
    backends: Vec<VectorBackend>,
}

impl RetrieverRunner {
    /// A runner searching the embedded store only.
    #[must_use]
    pub fn new(collections: Arc<RetrievalSlot>) -> Self {
        Self { collections, backends: vec![VectorBackend::Embedded] }
    }

    /// Also searches these configured external stores.
    #[must_use]
    pub fn with_backends(mut self, backends: &[VectorBackend]) -> Self {
        for b in backends {
            if !self.backends.contains(b) {
                self.backends.push(*b);
            }
        }
        self
    }

    /// The store `db_type` names, or why this server cannot search it.
    fn backend(&self, db_type: &str) -> Result<VectorBackend, String> {
        let names: Vec<String> = self.backends.iter().map(|b| format!("'{}'", b.as_str())).collect();
        let supported = format!(
            "this server supports {} (collections are made on one with POST /api/v1/vectors/collections)",
            names.join(", ")
        );
        match VectorBackend::parse(db_type) {
            Some(b) if self.backends.contains(&b) => Ok(b),
            Some(b) => Err(format!("db_type '{}' is not configured on this server: {supported}", b.as_str())),
            None if REFUSED.contains(&db_type.trim().to_ascii_lowercase().as_str()) => {
                Err(format!("db_type '{db_type}' is not supported by this server: {supported}"))
            }
            None => Err(format!("db_type '{db_type}' is unknown: {supported}")),
        }
    }
}

#[async_trait::async_trait]
impl NodeRunner for RetrieverRunner {
    async fn run(&self, input: NodeInput, cancel: CancellationToken) -> Result<NodeOutput, RunnerError> {
        let node = input.node();
        let NodeKind::Retriever(config) = &node.kind else {
            return Err(RunnerError::Permanent(format!("node {} is not a Retriever node", node.id)));
        };
        let db_type = self.backend(&config.db_type).map_err(RunnerError::Permanent)?;
        let query =
            template::render(&config.query, &input.data).map_err(|e| RunnerError::Permanent(format!("query: {e}")))?;
        #[allow(clippy::cast_possible_truncation)]
        let request = RetrievalRequest {
            scope: input.scope,
            collection: config.collection.trim(),
            db_type,
            query: &query,
            top_k: config.top_k,
            score_threshold: config.score_threshold.map(|t| t as f32),
            budget: &input.budget,
            secrets: &input.data.secrets,
        };
        let (found, usage) = self.collections.retrieve(request, &cancel).await?;
        let results: Vec<Value> = found
            .iter()
            .map(|r| {
                json!({
                    "id": format!("{}#{}", r.document_id, r.chunk_index),
                    "document_id": r.document_id,
                    "chunk_index": r.chunk_index,
                    "text": r.text,
                    "score": r.score,
                    "metadata": r.metadata,
                })
            })
            .collect();
        let context = found.iter().map(|r| r.text.as_str()).collect::<Vec<_>>().join("\n\n");
        let value = json!({
            "collection": config.collection.trim(),
            "query": query,
            "count": results.len(),
            "results": results,
            "context": context,
        });
        Ok(NodeOutput { value, usage })
    }

    fn check(&self, node: &Node) -> Vec<ConfigProblem> {
        let NodeKind::Retriever(config) = &node.kind else { return Vec::new() };
        let mut problems: Vec<ConfigProblem> =
            self.backend(&config.db_type).err().map(|p| ConfigProblem::at("db_type", p)).into_iter().collect();
        if config.score_threshold.is_some_and(|t| !(-1.0..=1.0).contains(&t)) {
            problems.push(ConfigProblem::at(
                "score_threshold",
                "score_threshold must be between -1 and 1 (cosine similarity)",
            ));
        }
        if config.top_k > MAX_TOP_K {
            problems.push(ConfigProblem::at("top_k", format!("top_k must be at most {}", MAX_TOP_K)));
        }
        problems
    }

    fn workspace_secrets(&self) -> &'static [&'static str] {
        WORKSPACE_KEYS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner(backends: &[VectorBackend]) -> RetrieverRunner {
        RetrieverRunner::new(Arc::default()).with_backends(backends)
    }

    #[test]
    fn unsupported_databases_are_refused_naming_what_is_supported() {
        let embedded = runner(&[]);
        assert_eq!(embedded.backend("Embedded "), Ok(VectorBackend::Embedded));
        let problem = embedded.backend("qdrant").unwrap_err();
        assert!(problem.contains("not supported") && problem.contains("'embedded'"), "{problem}");
        assert!(embedded.backend("mystery").unwrap_err().contains("unknown"));
        let problem = embedded.backend("pgvector").unwrap_err();
        assert!(problem.contains("not configured") && !problem.contains("'chroma'"), "{problem}");
    }

    #[test]
    fn configured_databases_are_accepted() {
        let both = runner(&[VectorBackend::Pgvector, VectorBackend::Chroma]);
        assert_eq!(both.backend("pgvector"), Ok(VectorBackend::Pgvector));
        assert_eq!(both.backend("CHROMA"), Ok(VectorBackend::Chroma));
        assert!(both.backend("milvus").unwrap_err().contains("'embedded', 'pgvector', 'chroma'"));
    }
}
