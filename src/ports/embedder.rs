//! Text embeddings: texts in, one vector each out, for collections and Retriever nodes.

use crate::domain::budget::Budget;
use crate::domain::usage::Usage;
use crate::ports::RunnerError;
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// One embedding request.
pub struct EmbedRequest<'a> {
    /// As a collection names it: `openai`, `ollama`, `local`.
    pub provider: &'a str,
    pub model: &'a str,
    /// Workspace secrets: a workspace key named like the server's variable (`OPENAI_API_KEY`)
    /// replaces the server's key.
    pub secrets: &'a Map<String, Value>,
    /// The texts, in order; sent in batches.
    pub inputs: &'a [String],
    /// Inside an execution, its budget (reserved before, charged after); `None` outside one.
    pub budget: Option<&'a Arc<Mutex<Budget>>>,
    /// How many times a 429 or 5xx is retried here (waiting as `Retry-After` says): for calls
    /// made outside the executor, whose node retries do not apply.
    pub retries: u32,
}

/// What an embedding request gave.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Embedded {
    /// One vector per input, in the inputs' order.
    pub vectors: Vec<Vec<f32>>,
    /// Tokens as the provider reported them (summed over batches), priced when configured.
    pub usage: Option<Usage>,
}

/// Embeds texts with a provider's model.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait Embedder: Send + Sync {
    /// # Errors
    /// Unknown provider, missing key, exceeded budget, cancellation (permanent); the provider's
    /// failures as retryable or permanent; an answer with the wrong number of vectors.
    async fn embed<'a>(&self, request: EmbedRequest<'a>, cancel: &CancellationToken) -> Result<Embedded, RunnerError>;

    /// Why `provider` cannot be used as configured (unknown, or a key the server lacks).
    fn problem(&self, provider: &str) -> Option<String>;
}
