//! The Retriever runner over a collection embedded by the fake provider of the LLM tests
//! (OpenAI `/v1/embeddings`), the collection made through the collections use case of services
//! assembled on the same runners (which is how the runner finds the collections).

use crate::provider::{Provider, Reply};
use crate::subject::Subject;
use oxify_api::app::collections::{Document, NewCollection};
use oxify_api::app::executor::ExecutorLimits;
use oxify_api::app::runner_registry::RunnerRegistry;
use oxify_api::app::services::Services;
use oxify_api::domain::access::Scope;
use oxify_api::domain::vectors::EmbeddingModel;
use oxify_api::domain::workflow::NodeKindTag;
use oxify_api::startup::config::Config;
use oxify_api::startup::wiring::{self, runners_with_env};
use serde_json::{Map, Value, json};
use std::time::Duration;

pub struct RetrieverSubject {
    provider: Provider,
    runners: RunnerRegistry,
    /// Keeps the collections the runners search alive.
    _services: Services,
}

fn retriever(query: &str) -> Value {
    json!({"type": "Retriever", "config": {"db_type": "embedded", "collection": "facts", "query": query, "top_k": 2}})
}

impl Subject for RetrieverSubject {
    const KIND: NodeKindTag = NodeKindTag::Retriever;
    const CALLS_A_MODEL: bool = true;

    async fn new() -> Self {
        let (provider, url) = Provider::start().await;
        let env = |name: &str| match name {
            "OPENAI_BASE_URL" => Some(format!("{url}/v1")),
            "OPENAI_API_KEY" => Some("sk-contract-0123456789".to_owned()),
            _ => None,
        };
        let runners = runners_with_env(&Config::defaults(), env).expect("the runners");
        let services =
            Services::assemble(wiring::in_memory(runners.clone()), ExecutorLimits::default(), Duration::from_secs(30));
        let embedding = Some(EmbeddingModel { provider: "openai".into(), model: "contract-embedder".into() });
        let new = NewCollection { name: "facts".into(), embedding, ..NewCollection::default() };
        services.collections.create(Scope::DEFAULT, new).await.expect("the collection");
        let fact = Document {
            id: "six".into(),
            text: Some("Six times seven is forty-two.".into()),
            vector: None,
            metadata: Map::new(),
        };
        services.collections.upsert(Scope::DEFAULT, "facts", vec![fact]).await.expect("the document");
        Self { provider, runners, _services: services }
    }

    fn registry(&self) -> RunnerRegistry {
        self.runners.clone()
    }

    fn succeeding(&self) -> Value {
        retriever("{{ question }}")
    }

    fn slow(&self) -> Value {
        self.provider.script_embeddings([Reply::Slow(
            Duration::from_secs(30),
            Box::new(Reply::Status { code: 500, retry_after: None, message: "late".into() }),
        )]);
        retriever("{{ question }}")
    }

    fn bad_input(&self) -> Value {
        retriever("{{ no_such_variable }}")
    }

    fn upstream_outage(&self) -> Option<Value> {
        self.provider.script_embeddings([Reply::Status { code: 503, retry_after: None, message: "overloaded".into() }]);
        Some(retriever("{{ question }}"))
    }
}
