//! The built-in Parallel runner (Parallel nodes that set `max_concurrency` or `timeout_ms`; the
//! others are evaluated inline). It calls nothing, so it meets no upstream outage.

use crate::subject::Subject;
use oxify_api::app::runner_registry::RunnerRegistry;
use oxify_api::domain::workflow::NodeKindTag;
use oxify_api::startup::config::Config;
use oxify_api::startup::wiring::runners_with_env;
use serde_json::{Value, json};

pub struct ParallelSubject {
    runners: RunnerRegistry,
}

/// A task template that keeps a thread busy for a while, within the templates' fuel limit.
const BUSY: &str = "{% for i in range(40000) %}{% endfor %}done";

fn parallel(tasks: &[(&str, &str)]) -> Value {
    let tasks: Vec<Value> = tasks.iter().map(|(id, expression)| json!({"id": id, "expression": expression})).collect();
    json!({"type": "Parallel", "config": {"strategy": "WaitAll", "max_concurrency": 1, "tasks": tasks}})
}

impl Subject for ParallelSubject {
    const KIND: NodeKindTag = NodeKindTag::Parallel;
    const CALLS_A_MODEL: bool = false;

    async fn new() -> Self {
        Self { runners: runners_with_env(&Config::defaults(), |_| None).expect("the runners") }
    }

    fn registry(&self) -> RunnerRegistry {
        self.runners.clone()
    }

    fn succeeding(&self) -> Value {
        parallel(&[("question", "Q: {{ question }}"), ("usage", "none")])
    }

    fn slow(&self) -> Value {
        let ids: Vec<String> = (0..200).map(|i| format!("busy{i}")).collect();
        parallel(&ids.iter().map(|id| (id.as_str(), BUSY)).collect::<Vec<_>>())
    }

    fn bad_input(&self) -> Value {
        parallel(&[("broken", "{{ no_such_variable }}")])
    }

    fn upstream_outage(&self) -> Option<Value> {
        None
    }
}
