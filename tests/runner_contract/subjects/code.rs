//! The Code runner, as the server wires it (Rhai here; the JavaScript engine shares the runner
//! and is held to the same cases in `tests/tools/code.rs`). It calls nothing upstream.

use crate::subject::Subject;
use oxify_api::app::runner_registry::RunnerRegistry;
use oxify_api::domain::workflow::NodeKindTag;
use oxify_api::startup::config::Config;
use oxify_api::startup::wiring::runners_with_env;
use serde_json::{Value, json};

pub struct CodeSubject {
    runners: RunnerRegistry,
}

fn code(runtime: &str, source: &str, inputs: &[&str]) -> Value {
    json!({"type": "Code", "config": {"runtime": runtime, "code": source, "inputs": inputs, "output": "answer"}})
}

impl Subject for CodeSubject {
    const KIND: NodeKindTag = NodeKindTag::Code;
    const CALLS_A_MODEL: bool = false;

    async fn new() -> Self {
        Self { runners: runners_with_env(&Config::defaults(), |_| None).expect("the runners") }
    }

    fn registry(&self) -> RunnerRegistry {
        self.runners.clone()
    }

    fn succeeding(&self) -> Value {
        code("rhai", r#"#{ answer: `${question}: 42` }"#, &["question"])
    }

    fn slow(&self) -> Value {
        code("javascript", "let i = 0; while (true) { i++ }", &[])
    }

    fn bad_input(&self) -> Value {
        code("rhai", "no_such_variable", &["no_such_variable"])
    }

    fn upstream_outage(&self) -> Option<Value> {
        None
    }
}
