//! The LLM runner, pointed at the fake provider of the LLM tests (OpenAI protocol).

use crate::provider::{Provider, Reply, openai};
use crate::subject::Subject;
use oxify_api::app::runner_registry::RunnerRegistry;
use oxify_api::domain::workflow::NodeKindTag;
use oxify_api::startup::config::Config;
use oxify_api::startup::wiring::runners_with_env;
use serde_json::{Value, json};
use std::time::Duration;

pub struct LlmSubject {
    provider: Provider,
    runners: RunnerRegistry,
}

fn llm(prompt: &str) -> Value {
    json!({"type": "LLM", "config": {"provider": "openai", "model": "contract-model", "prompt_template": prompt, "max_tokens": 16}})
}

impl Subject for LlmSubject {
    const KIND: NodeKindTag = NodeKindTag::Llm;
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
        self.provider.script([openai("Six times seven is forty-two.")]);
        llm("Answer: {{ question }}")
    }

    fn slow(&self) -> Value {
        self.provider.script([Reply::Slow(Duration::from_secs(30), Box::new(openai("Too late.")))]);
        llm("Answer: {{ question }}")
    }

    fn bad_input(&self) -> Value {
        llm("Answer: {{ no_such_variable }}")
    }

    fn upstream_outage(&self) -> Option<Value> {
        self.provider.script([Reply::Status { code: 503, retry_after: None, message: "overloaded".into() }]);
        Some(llm("Answer: {{ question }}"))
    }
}
