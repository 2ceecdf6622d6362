//! The Vision runner with a multimodal model, pointed at the fake provider of the LLM tests
//! (OpenAI protocol); the image is a data URL written in the node's template.

use crate::provider::{Provider, Reply, openai};
use crate::subject::Subject;
use oxify_api::app::runner_registry::RunnerRegistry;
use oxify_api::domain::workflow::NodeKindTag;
use oxify_api::startup::config::Config;
use oxify_api::startup::wiring::runners_with_env;
use serde_json::{Value, json};
use std::time::Duration;

pub struct VisionSubject {
    provider: Provider,
    runners: RunnerRegistry,
}

/// A 1x1 grey PNG.
const PIXEL: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==";

fn vision(prompt: &str) -> Value {
    json!({"type": "Vision", "config": {
        "provider": "openai", "image_input": format!("{{{{ 'data:image/png;base64,{PIXEL}' }}}}"),
        "output_format": "text", "options": {"model": "contract-model", "prompt": prompt, "max_tokens": 16}}})
}

impl Subject for VisionSubject {
    const KIND: NodeKindTag = NodeKindTag::Vision;
    const CALLS_A_MODEL: bool = true;

    async fn new() -> Self {
        let (provider, url) = Provider::start().await;
        let env = |name: &str| match name {
            "OPENAI_BASE_URL" => Some(format!("{url}/v1")),
            "OPENAI_API_KEY" => Some("sk-contract-0123456789".to_owned()),
            _ => None,
        };
        let runners = runners_with_env(&Config::defaults(), env).expect("the runners");
        Self { provider, runners }
    }

    fn registry(&self) -> RunnerRegistry {
        self.runners.clone()
    }

    fn succeeding(&self) -> Value {
        self.provider.script([openai("A grey pixel.")]);
        vision("{{ question }}")
    }

    fn slow(&self) -> Value {
        self.provider.script([Reply::Slow(Duration::from_secs(30), Box::new(openai("Too late.")))]);
        vision("{{ question }}")
    }

    fn bad_input(&self) -> Value {
        vision("{{ no_such_variable }}")
    }

    fn upstream_outage(&self) -> Option<Value> {
        self.provider.script([Reply::Status { code: 503, retry_after: None, message: "overloaded".into() }]);
        Some(vision("{{ question }}"))
    }
}
