//! Runs that wait (BENCHMARKS.md, "Parked runs"): memory per parked execution, from the live heap
//! bytes the benchmark's allocator counts, and the latency from a signal (a child finished, a
//! timer came due, a cancel) to what follows it, per backend, through the services and their
//! maintenance loop as the server runs them.

use crate::alloc::live_bytes;
use crate::report::{Report, Row};
use crate::stack::{Stack, chain_of, node, script};
use crate::stats::Sample;
use oxify_api::app::runner_registry::RunnerRegistry;
use oxify_api::domain::access::Scope;
use oxify_api::domain::execution::ExecutionState;
use oxify_api::domain::ids::ExecutionId;
use oxify_api::domain::workflow::{NodeKind, NodeKindTag};
use oxify_api::ports::{NodeInput, NodeOutput, NodeRunner, RunnerError};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

/// What the scripted runner saw: which execution, what happened, when.
struct Note {
    execution: ExecutionId,
    what: &'static str,
    at: Instant,
}

/// Runs Code nodes by their `code`: `gate` (waits for a permit, or its cancellation), `mark`
/// (returns at once), `later <ms>` (a first attempt that asks to be retried after `ms`, then
/// success). Each reports what it did.
struct Script {
    notes: mpsc::UnboundedSender<Note>,
    gate: Arc<Semaphore>,
}

#[async_trait::async_trait]
impl NodeRunner for Script {
    async fn run(&self, input: NodeInput, cancel: CancellationToken) -> Result<NodeOutput, RunnerError> {
        let NodeKind::Code(config) = &input.node().kind else { return Err(RunnerError::Permanent("not code".into())) };
        let note = |what| {
            let _ = self.notes.send(Note { execution: input.execution_id, what, at: Instant::now() });
        };
        let (verb, arg) = config.code.split_once(' ').unwrap_or((config.code.as_str(), ""));
        match verb {
            "gate" => {
                note("entered");
                tokio::select! {
                    permit = self.gate.acquire() => permit.expect("the gate stays open").forget(),
                    () = cancel.cancelled() => return Err(RunnerError::Permanent("cancelled".into())),
                }
            }
            "mark" => note("mark"),
            "later" if input.attempt == 1 => {
                note("failed");
                let retry_after = Some(Duration::from_millis(arg.parse().unwrap_or(0)));
                return Err(RunnerError::Retryable { message: "later".into(), retry_after });
            }
            "later" => note("retried"),
            other => return Err(RunnerError::Permanent(format!("unknown script {other}"))),
        }
        Ok(NodeOutput::of(Value::Null))
    }
}

/// The services over `url` with the scripted runner, and where its notes arrive.
async fn stack(url: &str) -> (Stack, mpsc::UnboundedReceiver<Note>, Arc<Semaphore>) {
    let (notes, received) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(0));
    let runner = Arc::new(Script { notes, gate: gate.clone() });
    let stack = Stack::open(url, RunnerRegistry::new().with(NodeKindTag::Code, runner)).await;
    (stack, received, gate)
}

/// A node that fails once and asks to be retried after `ms` (retries parked from 5 s up).
fn later(id: &str, ms: u64) -> Value {
    let mut n = script(id, &format!("later {ms}"));
    n["retry_config"] = json!({"max_retries": 1, "initial_delay_ms": 1, "backoff_multiplier": 1.0, "max_delay_ms": 1});
    n
}

/// The next note of `what` (others are dropped), within a minute.
async fn next(notes: &mut mpsc::UnboundedReceiver<Note>, what: &str) -> Note {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let note = tokio::time::timeout(left, notes.recv()).await.expect("a note in time").expect("the runner lives");
        if note.what == what {
            return note;
        }
    }
}

pub struct Backend {
    pub name: &'static str,
    pub url: String,
    /// The SQLite file, to measure what parked runs take on disk.
    pub file: Option<std::path::PathBuf>,
}

/// Bytes of an SQLite database once its write-ahead log is folded in.
pub fn sqlite_bytes(path: &std::path::Path) -> u64 {
    let conn = rusqlite::Connection::open(path).expect("open the database");
    let _: (i64, i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("checkpoint");
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Memory per execution parked on a timer (a retry due in ten minutes): heap bytes kept after
/// `k` executions parked, over `k`.
async fn parked_memory(report: &mut Report, backend: &Backend, k: usize) {
    let (stack, mut notes, _gate) = stack(&backend.url).await;
    let wf = stack.create(chain_of(vec![later("wait", 600_000)])).await;
    // Warm up pools and caches, so that what is measured is per execution.
    for _ in 0..50 {
        stack.start(wf).await;
    }
    stack.settle().await;
    while notes.try_recv().is_ok() {}
    let disk_before = backend.file.as_deref().map(sqlite_bytes);
    let before = live_bytes();
    let mut last = None;
    for _ in 0..k {
        last = Some(stack.start(wf).await);
    }
    stack.settle().await;
    while notes.try_recv().is_ok() {}
    let per = live_bytes().saturating_sub(before) as f64 / k as f64;
    let last = last.expect("one execution");
    assert_eq!(stack.state(last).await, ExecutionState::Paused, "a run waiting on its timer is parked");
    let (what, target) = match (disk_before, backend.file.as_deref()) {
        (Some(before), Some(file)) => {
            let disk = sqlite_bytes(file).saturating_sub(before) as f64 / k as f64;
            (format!("the row is on disk: {:.1} KB per execution", disk / 1024.0), "< 10 KB")
        }
        _ if backend.name == "memory" => ("its row included: the store is this heap".to_owned(), "< 10 KB"),
        _ => ("the row is in the database".to_owned(), "< 10 KB"),
    };
    report.add(
        Row::new(
            "Parked",
            format!("{}: memory per parked execution ({k} waiting on a timer; {what})", backend.name),
            Sample(vec![per / 1024.0]),
            "KB",
            false,
        )
        .target(target),
    );
}

/// A child ends: from its last node finishing to the parent's next node starting (the child's
/// last write, the parent woken, claimed, its log folded, the next step stored).
async fn child_signal(stack: &Stack, notes: &mut mpsc::UnboundedReceiver<Note>, gate: &Semaphore, n: usize) -> Sample {
    let child = stack.create(chain_of(vec![script("gate", "gate")])).await;
    let sub = json!({"type": "SubWorkflow", "config": {"workflow_path": child.to_string(), "input_mappings": {}}});
    let parent = stack.create(chain_of(vec![node("sub", sub), script("next", "mark")])).await;
    let mut ms = Vec::with_capacity(n);
    for _ in 0..n {
        let id = stack.start(parent).await;
        next(notes, "entered").await;
        stack.wait_parked(id).await;
        let released = Instant::now();
        gate.add_permits(1);
        let mark = next(notes, "mark").await;
        ms.push((mark.at - released).as_secs_f64() * 1e3);
        stack.wait_for(id, ExecutionState::Completed).await;
    }
    Sample(ms)
}

/// A retry timer comes due: from the time it was due to the retry starting (the parked run found
/// by the maintenance loop, claimed, folded, the attempt stored and started).
async fn timer_signal(stack: &Stack, notes: &mut mpsc::UnboundedReceiver<Note>, n: usize) -> Sample {
    const DELAY: Duration = Duration::from_secs(5);
    let wf = stack.create(chain_of(vec![later("wait", DELAY.as_millis() as u64)])).await;
    let mut failed = HashMap::new();
    for _ in 0..n {
        stack.start(wf).await;
        let note = next(notes, "failed").await;
        failed.insert(note.execution, note.at);
        // Spread the due times over the maintenance loop's period.
        tokio::time::sleep(Duration::from_millis(313)).await;
    }
    let mut ms = Vec::with_capacity(n);
    while ms.len() < n {
        let note = next(notes, "retried").await;
        if let Some(at) = failed.get(&note.execution) {
            ms.push((note.at - (*at + DELAY)).as_secs_f64() * 1e3);
        }
    }
    stack.settle().await;
    Sample(ms)
}

/// A parked parent is cancelled while its child runs: the cancel request's duration (the parent
/// ended in the store with its terminal event, its child told to stop).
async fn cancel_signal(stack: &Stack, notes: &mut mpsc::UnboundedReceiver<Note>, n: usize) -> Sample {
    let child = stack.create(chain_of(vec![script("gate", "gate")])).await;
    let sub = json!({"type": "SubWorkflow", "config": {"workflow_path": child.to_string(), "input_mappings": {}}});
    let parent = stack.create(chain_of(vec![node("sub", sub), script("next", "mark")])).await;
    let mut ms = Vec::with_capacity(n);
    for _ in 0..n {
        let id = stack.start(parent).await;
        next(notes, "entered").await;
        stack.wait_parked(id).await;
        let asked = Instant::now();
        stack.services.executions.cancel(Scope::DEFAULT, id).await.expect("cancel");
        ms.push(asked.elapsed().as_secs_f64() * 1e3);
        stack.settle().await;
    }
    Sample(ms)
}

pub async fn run(report: &mut Report, backends: &[Backend], quick: bool) {
    let (parked, samples) = if quick { (500, 5) } else { (5_000, 20) };
    for backend in backends {
        parked_memory(report, backend, parked).await;
    }
    for backend in backends {
        let (stack, mut notes, gate) = stack(&backend.url).await;
        let name = backend.name;
        let child = child_signal(&stack, &mut notes, &gate, samples).await;
        report.add(Row::new(
            "Parked",
            format!("{name}: a child finished -> its parent's next node starts"),
            child,
            "ms",
            false,
        ));
        let timer = timer_signal(&stack, &mut notes, samples.min(10)).await;
        report.add(Row::new(
            "Parked",
            format!("{name}: a retry timer came due -> the retry starts"),
            timer,
            "ms",
            false,
        ));
        let cancel = cancel_signal(&stack, &mut notes, samples).await;
        report.add(Row::new(
            "Parked",
            format!("{name}: cancel a parked execution with a running child -> stored"),
            cancel,
            "ms",
            false,
        ));
    }
}
