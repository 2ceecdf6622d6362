//! Memory per execution, from the live heap bytes counted by the benchmark's allocator:
//! executions kept in the in-memory store after they finished, and executions in flight at once.

use crate::alloc::live_bytes;
use crate::engine::{self, Engine};
use crate::report::{Report, Row};
use crate::stats::Sample;
use oxify_api::ports::{NodeInput, NodeOutput, NodeRunner, RunnerError};
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Waits until released: keeps executions in flight.
struct Gate(Arc<Notify>);

#[async_trait::async_trait]
impl NodeRunner for Gate {
    async fn run(&self, _input: NodeInput, _cancel: CancellationToken) -> Result<NodeOutput, RunnerError> {
        self.0.notified().await;
        Ok(NodeOutput::of(Value::Null))
    }
}

pub async fn run(report: &mut Report, retained: usize) {
    let wf = engine::chain(1);
    let ours = Engine::new(0, 16);
    ours.register(&wf).await;
    for _ in 0..100 {
        ours.run(&wf).await;
    }
    let before = live_bytes();
    for _ in 0..retained {
        ours.run(&wf).await;
    }
    let per = (live_bytes().saturating_sub(before)) as f64 / retained as f64;
    report.add(
        Row::new(
            "Engine",
            format!("memory per retained 3-node execution ({retained} kept, events and results included)"),
            Sample(vec![per / 1024.0]),
            "KB",
            false,
        )
        .target("< 20 KB"),
    );

    let gate = Arc::new(Notify::new());
    let waiting = Arc::new(Engine::with_runner(Arc::new(Gate(gate.clone()))));
    waiting.register(&wf).await;
    let k = retained / 4;
    let before = live_bytes();
    let mut runs = Vec::with_capacity(k);
    for _ in 0..k {
        let (w, wf) = (waiting.clone(), wf.clone());
        runs.push(tokio::spawn(async move { w.run(&wf).await }));
    }
    while waiting.running() < k {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let per = (live_bytes().saturating_sub(before)) as f64 / k as f64;
    report.add(Row::new(
        "Engine",
        format!("memory per execution in flight ({k} at once)"),
        Sample(vec![per / 1024.0]),
        "KB",
        false,
    ));
    gate.notify_waiters();
    loop {
        gate.notify_waiters();
        if runs.iter().all(|r| r.is_finished()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}
