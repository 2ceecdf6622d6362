//! Code nodes: the cost of one call of a small script through the real Code runner (a fresh
//! sandbox, the script compiled, the data handed in and the result handed out as JSON, on a
//! blocking thread), per language, 1,000 calls a sample; and the same through the executor as a
//! Start -> Code -> End execution. The floor is the thread hop alone: `spawn_blocking` of
//! nothing, awaited.

use crate::engine::{Engine, on_worker};
use crate::report::{Report, Row};
use crate::stats::Sample;
use oxify_api::adapters::runners::code::{CodeLimits, CodeRunner};
use oxify_api::domain::budget::{Budget, BudgetLimits};
use oxify_api::domain::data::{DataContext, NodeOutputs};
use oxify_api::domain::execution::ExecutionState;
use oxify_api::domain::ids::{ExecutionId, NodeId, WorkflowId};
use oxify_api::domain::usage::Usage;
use oxify_api::domain::valid::ValidWorkflow;
use oxify_api::domain::validation::validate;
use oxify_api::domain::workflow::WorkflowDraft;
use oxify_api::ports::{AttemptSink, NodeInput, NodeRunner};
use serde_json::{Map, Value, json};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// Calls per sample.
const CALLS: usize = 1_000;

/// The scripts measured: read an input and a variable, compute, return an object.
const SCRIPTS: [(&str, &str); 2] = [
    ("rhai", r#"let words = question.split(" "); #{ words: words.len(), answer: n * 7, asked: variables.question }"#),
    (
        "javascript",
        r#"const words = question.split(" "); ({ words: words.length, answer: n * 7, asked: variables.question })"#,
    ),
];

fn workflow(runtime: &str, code: &str) -> ValidWorkflow {
    let draft: WorkflowDraft = serde_json::from_value(json!({
        "metadata": {"name": "code bench"},
        "nodes": [
            {"id": "start", "name": "Start", "kind": {"type": "Start"}},
            {"id": "script", "name": "Script", "kind": {"type": "Code", "config": {
                "runtime": runtime, "code": code, "inputs": ["question", "n"], "output": "answer"}}},
            {"id": "end", "name": "End", "kind": {"type": "End"}}
        ],
        "edges": [{"from": "start", "to": "script"}, {"from": "script", "to": "end"}]
    }))
    .expect("a workflow");
    let now = chrono::Utc::now();
    validate(draft.complete(WorkflowId::generate(), now, now)).expect("valid")
}

fn variables() -> Map<String, Value> {
    let Value::Object(map) = json!({"question": "what is six times seven", "n": 6}) else { unreachable!() };
    map
}

fn input(wf: &ValidWorkflow) -> NodeInput {
    NodeInput {
        scope: oxify_api::domain::access::Scope::DEFAULT,
        execution_id: ExecutionId::generate(),
        workflow: wf.clone(),
        node_index: wf.index_of(&NodeId::new("script")).expect("the node"),
        attempt: 1,
        data: DataContext {
            variables: Arc::new(variables()),
            outputs: Arc::new(NodeOutputs::new(wf.graph().index.clone())),
            secrets: Arc::default(),
        },
        sink: AttemptSink::discarding(),
        budget: Arc::new(Mutex::new(Budget::new(BudgetLimits::default(), Usage::default()))),
    }
}

/// Microseconds per call of `runner` on the node of `wf`, over [`CALLS`] calls in a row.
async fn runner_us(runner: &Arc<CodeRunner>, wf: &ValidWorkflow) -> f64 {
    let (runner, input) = (runner.clone(), input(wf));
    on_worker(move || async move {
        for _ in 0..CALLS {
            let out = runner.run(input.clone(), CancellationToken::new()).await.expect("the script runs");
            assert_eq!(out.value["result"]["answer"], 42);
        }
    })
    .await
        * 1e6
        / CALLS as f64
}

/// Microseconds per Start -> Code -> End execution, over [`CALLS`] executions in a row.
async fn execution_us(engine: &Arc<Engine>, wf: &Arc<ValidWorkflow>) -> f64 {
    let (engine, wf) = (engine.clone(), wf.clone());
    on_worker(move || async move {
        for _ in 0..CALLS {
            engine.run_with(&wf, variables()).await;
        }
    })
    .await
        * 1e6
        / CALLS as f64
}

/// Microseconds per `spawn_blocking` of nothing, awaited: the thread hop every call makes.
async fn hop_us() -> f64 {
    on_worker(|| async {
        for _ in 0..CALLS {
            tokio::task::spawn_blocking(|| ()).await.expect("the hop");
        }
    })
    .await
        * 1e6
        / CALLS as f64
}

pub async fn run(report: &mut Report, rounds: usize) {
    let runner = Arc::new(CodeRunner::new(CodeLimits::default()));
    for (runtime, code) in SCRIPTS {
        let wf = workflow(runtime, code);
        // Warm up: threads of the blocking pool, allocator, instruction caches.
        runner_us(&runner, &wf).await;
        let (mut calls, mut hops) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            calls.push(runner_us(&runner, &wf).await);
            hops.push(hop_us().await);
        }
        report.add(
            Row::new(
                "Code",
                format!("{runtime}: one call of a small script ({CALLS} in a row)"),
                Sample(calls),
                "µs",
                false,
            )
            .against("the thread hop alone (spawn_blocking of nothing)", Sample(hops))
            .target("< 1000 µs per call"),
        );
        let engine = Arc::new(Engine::with_runner(runner.clone()));
        let wf = Arc::new(wf);
        engine.register(&wf).await;
        let first = engine.run_with(&wf, variables()).await;
        let (state, error) = engine.outcome(first).await;
        assert_eq!(state, ExecutionState::Completed, "{runtime}: {error:?}");
        execution_us(&engine, &wf).await;
        let mut executions = Vec::new();
        for _ in 0..rounds {
            executions.push(execution_us(&engine, &wf).await);
        }
        report.add(Row::new(
            "Code",
            format!("{runtime}: Start -> Code -> End execution ({CALLS} in a row, records and events included)"),
            Sample(executions),
            "µs",
            false,
        ));
    }
}
