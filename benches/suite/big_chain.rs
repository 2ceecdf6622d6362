//! The 2 MB chain of issue 10: one run of a workflow of 13,250 nodes in a chain (Parallel nodes,
//! which the server evaluates in place, so no provider is needed), whose document is about 2 MB.
//! Measured: the heap it takes while it runs and what it leaves behind, and the SQLite bytes
//! its workflow version and its run take, each as a multiple of the document's size.

use crate::alloc::{live_bytes, peak_bytes, track_peak};
use crate::parked::sqlite_bytes;
use crate::report::{Report, Row};
use crate::stack::Stack;
use crate::stats::Sample;
use oxify_api::app::runner_registry::RunnerRegistry;
use oxify_api::domain::execution::ExecutionState;
use serde_json::{Value, json};

/// Start, 13,248 Parallel nodes (one constant task each), End.
pub fn document(nodes: usize) -> Value {
    let mut list = vec![json!({"id": "s", "name": "s", "kind": {"type": "Start"}})];
    let mut edges = Vec::with_capacity(nodes);
    let mut prev = "s".to_owned();
    for i in 0..nodes - 2 {
        let id = format!("n{i}");
        let kind =
            json!({"type": "Parallel", "config": {"strategy": "WaitAll", "tasks": [{"id": "t", "expression": "v"}]}});
        list.push(json!({"id": id, "name": id, "kind": kind}));
        edges.push(json!({"from": prev, "to": id}));
        prev = id;
    }
    list.push(json!({"id": "e", "name": "e", "kind": {"type": "End"}}));
    edges.push(json!({"from": prev, "to": "e"}));
    json!({"metadata": {"name": "2 MB chain"}, "nodes": list, "edges": edges})
}

const MB: f64 = 1024.0 * 1024.0;

fn row(case: String, bytes: f64, doc: f64, target: &str) -> Row {
    let case = format!("{case}: {:.1} MB", bytes / MB);
    Row::new("2 MB chain", case, Sample(vec![bytes / doc]), "x the document", false).target(target)
}

/// Heap bytes one node's output takes as the run holds it (a `serde_json` value, whose every
/// object is a B-tree node of eleven slots).
fn output_bytes() -> f64 {
    let text = r#"{"results":{"t":{"status":"fulfilled","value":"v"}},"strategy":"WaitAll"}"#;
    let before = live_bytes();
    let value: Value = serde_json::from_str(text).expect("JSON");
    let bytes = live_bytes().saturating_sub(before) as f64;
    drop(value);
    bytes
}

pub async fn run(report: &mut Report, dir: &std::path::Path) {
    const NODES: usize = 13_250;
    let draft = document(NODES);
    let doc = serde_json::to_vec(&draft).expect("JSON").len() as f64;
    let outputs = output_bytes() * (NODES - 2) as f64;
    report.note(format!(
        "2 MB chain: {NODES} nodes, a document of {:.2} MB; their outputs, which a run holds for the templates of \
         later nodes, take {:.1} MB of heap ({:.0} bytes each)",
        doc / MB,
        outputs / MB,
        outputs / (NODES - 2) as f64
    ));
    let file = dir.join("big-chain.db");
    for (name, url) in [("memory", "memory://".to_owned()), ("sqlite", format!("sqlite://{}", file.display()))] {
        let sqlite = name == "sqlite";
        let stack = Stack::open(&url, RunnerRegistry::new()).await;
        let empty = if sqlite { sqlite_bytes(&file) } else { 0 };
        let wf = stack.create(draft.clone()).await;
        let stored = if sqlite { sqlite_bytes(&file) } else { 0 };
        let before = live_bytes();
        track_peak();
        let id = stack.start(wf).await;
        while stack.services.running.contains(id) {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        let peak = peak_bytes().saturating_sub(before) as f64;
        assert_eq!(stack.state(id).await, ExecutionState::Completed);
        let kept = live_bytes().saturating_sub(before) as f64;
        report.add(row(format!("{name}: heap while one run goes (peak)"), peak, doc, "a small multiple"));
        if sqlite {
            report.add(row("sqlite: the workflow version on disk".into(), (stored - empty) as f64, doc, "~1x"));
            let run = sqlite_bytes(&file).saturating_sub(stored) as f64;
            report.add(row("sqlite: one run on disk (events and node results)".into(), run, doc, "a small multiple"));
        } else {
            report.add(row(
                "memory: heap kept after the run (its record in the store)".into(),
                kept,
                doc,
                "a small multiple",
            ));
        }
    }
}
