//! The Retriever runner: renders the node's `query` template and searches a collection of the
//! execution's workspace on the embedded vector store, embedding the query with the
//! collection's model through the model gateway (on the execution's budget).

use crate::domain::template;
use crate::domain::vectors::MAX_TOP_K;
use crate::domain::workflow::{Node, NodeKind};
use crate::ports::{
    ConfigProblem, NodeInput, NodeOutput, NodeRunner, Retrieval, RetrievalRequest, RetrievalSlot, RunnerError,
};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// `db_type` values this server searches: its own (embedded) vector store.
pub const SUPPORTED: &[&str] = &["embedded", "default"];

/// Seed values this server does not talk to.
const REFUSED: &[&str] = &["qdrant", "pinecone", "weaviate", "milvus", "chroma", "pgvector"];

/// Secrets a workspace may set to embed with its own provider account.
const WORKSPACE_KEYS: &[&str] = &["OPENAI_API_KEY", "OLLAMA_API_KEY"];

/// Runs `Retriever` nodes.
pub struct RetrieverRunner {
    collections: Arc<RetrievalSlot>,
}

impl RetrieverRunner {
    #[must_use]
    pub fn new(collections: Arc<RetrievalSlot>) -> Self {
        Self { collections }
    }
}

/// Why this server cannot search `db_type`.
fn db_type_problem(db_type: &str) -> Option<String> {
    let wanted = db_type.trim().to_ascii_lowercase();
    if SUPPORTED.contains(&wanted.as_str()) {
        return None;
    }
    let what = if REFUSED.contains(&wanted.as_str()) { "is not supported by this server" } else { "is unknown" };
    Some(format!(
        "db_type '{db_type}' {what}: this server supports 'embedded' (its own vector store; collections are made with POST /api/v1/vectors/collections)"
    ))
}

#[async_trait::async_trait]
impl NodeRunner for RetrieverRunner {
    async fn run(&self, input: NodeInput, cancel: CancellationToken) -> Result<NodeOutput, RunnerError> {
        let node = input.node();
        let NodeKind::Retriever(config) = &node.kind else {
            return Err(RunnerError::Permanent(format!("node {} is not a Retriever node", node.id)));
        };
        if let Some(problem) = db_type_problem(&config.db_type) {
            return Err(RunnerError::Permanent(problem));
        }
        let query =
            template::render(&config.query, &input.data).map_err(|e| RunnerError::Permanent(format!("query: {e}")))?;
        #[allow(clippy::cast_possible_truncation)]
        let request = RetrievalRequest {
            scope: input.scope,
            collection: config.collection.trim(),
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
            db_type_problem(&config.db_type).map(|p| ConfigProblem::at("db_type", p)).into_iter().collect();
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

    #[test]
    fn external_databases_are_refused_naming_what_is_supported() {
        assert!(db_type_problem("embedded").is_none());
        assert!(db_type_problem("Embedded ").is_none());
        let problem = db_type_problem("qdrant").unwrap();
        assert!(problem.contains("not supported") && problem.contains("'embedded'"), "{problem}");
        assert!(db_type_problem("mystery").unwrap().contains("unknown"));
    }
}
