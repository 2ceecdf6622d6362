//! Runs waiting on people (BENCHMARKS.md, "Approvals"): memory per run parked on an approval, from
//! the live heap bytes the benchmark's allocator counts (no task, no lease: checked), and the
//! latency from a decision to the run's next node starting, per backend.

use crate::alloc::live_bytes;
use crate::parked::{Backend, sqlite_bytes};
use crate::report::{Report, Row};
use crate::stack::{Stack, chain_of, node, script};
use crate::stats::Sample;
use oxify_api::app::runner_registry::RunnerRegistry;
use oxify_api::domain::access::{Principal, Role, Subject};
use oxify_api::domain::execution::ExecutionState;
use oxify_api::domain::human::TaskKind;
use oxify_api::domain::ids::{ExecutionId, WorkspaceId};
use oxify_api::domain::workflow::{NodeKind, NodeKindTag};
use oxify_api::ports::{NodeInput, NodeOutput, NodeRunner, PageRequest, RunnerError, TaskFilter};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Reports when a Code node after the approval starts.
struct Mark(mpsc::UnboundedSender<(ExecutionId, Instant)>);

#[async_trait::async_trait]
impl NodeRunner for Mark {
    async fn run(&self, input: NodeInput, _cancel: CancellationToken) -> Result<NodeOutput, RunnerError> {
        if !matches!(input.node().kind, NodeKind::Code(_)) {
            return Err(RunnerError::Permanent("not code".into()));
        }
        let _ = self.0.send((input.execution_id, Instant::now()));
        Ok(NodeOutput::of(Value::Null))
    }
}

fn approval() -> Value {
    node("a", json!({"type": "Approval", "config": {"message": "Ship it?", "context_data": {"n": 1}}}))
}

/// Someone allowed to decide (not the runs' initiator: they were started by nobody in particular).
fn approver() -> Principal {
    Principal { subject: Subject::Anonymous, workspace: WorkspaceId::DEFAULT, role: Role::Admin }
}

async fn stack(url: &str) -> (Stack, mpsc::UnboundedReceiver<(ExecutionId, Instant)>) {
    let (marks, received) = mpsc::unbounded_channel();
    let stack = Stack::open(url, RunnerRegistry::new().with(NodeKindTag::Code, Arc::new(Mark(marks)))).await;
    (stack, received)
}

/// The pending approval of execution `id`, once it exists.
async fn approval_of(stack: &Stack, id: ExecutionId) -> oxify_api::domain::ids::TaskId {
    let filter = TaskFilter { kind: Some(TaskKind::Approval), execution_id: Some(id), ..TaskFilter::default() };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let page = stack.services.human_tasks.list(&approver(), filter, PageRequest { limit: 1, after: None }).await;
        if let Some(task) = page.expect("list approvals").items.first() {
            return task.id;
        }
        assert!(Instant::now() < deadline, "no approval for {id}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Heap bytes kept per run waiting on an approval, after `k` of them parked, over `k`.
async fn waiting_memory(report: &mut Report, backend: &Backend, k: usize) {
    let (stack, _marks) = stack(&backend.url).await;
    let wf = stack.create(chain_of(vec![approval(), script("next", "mark")])).await;
    for _ in 0..50 {
        stack.start(wf).await;
    }
    stack.settle().await;
    let disk_before = backend.file.as_deref().map(sqlite_bytes);
    let before = live_bytes();
    let mut last = None;
    for _ in 0..k {
        last = Some(stack.start(wf).await);
    }
    stack.settle().await;
    let per = live_bytes().saturating_sub(before) as f64 / k as f64;
    let last = last.expect("one execution");
    assert_eq!(stack.state(last).await, ExecutionState::Paused, "a run waiting on an approval is parked");
    assert!(stack.services.running.is_empty(), "no task holds a waiting run");
    let what = match (disk_before, backend.file.as_deref()) {
        (Some(before), Some(file)) => {
            let disk = sqlite_bytes(file).saturating_sub(before) as f64 / k as f64;
            format!("rows on disk: {:.1} KB per run", disk / 1024.0)
        }
        _ if backend.name == "memory" => "its rows included: the store is this heap".to_owned(),
        _ => "the rows are in the database".to_owned(),
    };
    report.add(
        Row::new(
            "Approvals",
            format!("{}: memory per run waiting on an approval ({k} waiting, no task or lease; {what})", backend.name),
            Sample(vec![per / 1024.0]),
            "KB",
            false,
        )
        .target("< 10 KB"),
    );
}

/// From an approval's decision (the call made) to the next node starting: the decision stored,
/// the signal written, the parked run woken, claimed, folded, the next step stored and started.
async fn decision_latency(
    stack: &Stack,
    marks: &mut mpsc::UnboundedReceiver<(ExecutionId, Instant)>,
    n: usize,
) -> Sample {
    let wf = stack.create(chain_of(vec![approval(), script("next", "mark")])).await;
    let mut ms = Vec::with_capacity(n);
    for _ in 0..n {
        let id = stack.start(wf).await;
        let approval = approval_of(stack, id).await;
        stack.wait_parked(id).await;
        let decided = Instant::now();
        stack.services.human_tasks.decide(&approver(), approval, true, None).await.expect("approve");
        let (ran, at) =
            tokio::time::timeout(Duration::from_secs(60), marks.recv()).await.expect("in time").expect("open");
        assert_eq!(ran, id);
        ms.push((at - decided).as_secs_f64() * 1e3);
        stack.wait_for(id, ExecutionState::Completed).await;
    }
    Sample(ms)
}

pub async fn run(report: &mut Report, backends: &[Backend], quick: bool) {
    let (waiting, samples) = if quick { (1_000, 5) } else { (10_000, 30) };
    for backend in backends {
        waiting_memory(report, backend, waiting).await;
    }
    for backend in backends {
        let (stack, mut marks) = stack(&backend.url).await;
        let latency = decision_latency(&stack, &mut marks, samples).await;
        report.add(Row::new(
            "Approvals",
            format!("{}: an approval decided -> the next node starts", backend.name),
            latency,
            "ms",
            false,
        ));
    }
}
