//! The engine in process: our executor (in-memory store, event bus, scheduler, events) against
//! the honest floor ([`Floor`]): a coordinator with one task per node and JSON outputs, keeping
//! no records.

use oxify_api::adapters::clock::SystemClock;
use oxify_api::adapters::events::BroadcastEventBus;
use oxify_api::adapters::store::InMemoryStore;
use oxify_api::app::executor::{Executor, ExecutorLimits};
use oxify_api::app::live_executions::StopSignal;
use oxify_api::app::runner_registry::RunnerRegistry;
use oxify_api::domain::access::Scope;
use oxify_api::domain::execution::{Execution, ExecutionUpdate};
use oxify_api::domain::ids::WorkflowId;
use oxify_api::domain::valid::ValidWorkflow;
use oxify_api::domain::validation::validate;
use oxify_api::domain::workflow::{NodeKind, NodeKindTag, WorkflowDraft};
use oxify_api::ports::{ExecutionLog, Lease, NodeInput, NodeOutput, NodeRunner, RunnerError, WorkflowStore};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Returns at once. With a `payload` size, the first node of a chain produces a string of that
/// many bytes and every later node passes its predecessor's string along as its own output.
pub struct Noop {
    pub payload: usize,
}

#[async_trait::async_trait]
impl NodeRunner for Noop {
    async fn run(&self, input: NodeInput, _cancel: CancellationToken) -> Result<NodeOutput, RunnerError> {
        if self.payload == 0 {
            return Ok(NodeOutput::of(Value::Null));
        }
        let preds: Vec<&str> = input
            .workflow
            .workflow()
            .edges
            .iter()
            .filter(|e| e.to == input.node().id)
            .map(|e| e.from.as_str())
            .collect();
        match preds.first().and_then(|p| input.data.outputs.get(p)) {
            Some(out) if out.is_string() => Ok(NodeOutput::of(out.as_ref().clone())),
            _ => Ok(NodeOutput::of(Value::String("x".repeat(self.payload)))),
        }
    }
}

fn node(id: &str, kind: &str) -> Value {
    match kind {
        "Start" | "End" => json!({"id": id, "name": id, "kind": {"type": kind}}),
        _ => {
            json!({"id": id, "name": id, "kind": {"type": "Code", "config": {"runtime": "noop", "code": "-", "output": "o"}}})
        }
    }
}

fn build(nodes: Vec<Value>, edges: Vec<(String, String)>) -> ValidWorkflow {
    let edges: Vec<Value> = edges.into_iter().map(|(f, t)| json!({"from": f, "to": t})).collect();
    let draft: WorkflowDraft =
        serde_json::from_value(json!({"metadata": {"name": "bench"}, "nodes": nodes, "edges": edges})).unwrap();
    let now = chrono::Utc::now();
    validate(draft.complete(WorkflowId::generate(), now, now)).unwrap()
}

/// Start -> n no-op nodes in a chain -> End.
pub fn chain(n: usize) -> ValidWorkflow {
    let mut nodes = vec![node("s", "Start")];
    let mut edges = Vec::new();
    let mut prev = "s".to_owned();
    for i in 0..n {
        let id = format!("n{i}");
        nodes.push(node(&id, "Code"));
        edges.push((prev, id.clone()));
        prev = id;
    }
    nodes.push(node("e", "End"));
    edges.push((prev, "e".into()));
    build(nodes, edges)
}

/// Start -> n parallel no-op nodes -> End.
pub fn fan(n: usize) -> ValidWorkflow {
    let mut nodes = vec![node("s", "Start"), node("e", "End")];
    let mut edges = Vec::new();
    for i in 0..n {
        let id = format!("n{i}");
        nodes.push(node(&id, "Code"));
        edges.push(("s".into(), id.clone()));
        edges.push((id, "e".into()));
    }
    build(nodes, edges)
}

/// Node (r, c) depends on (r-1, c) and (r, c-1); (0, 0) follows Start.
pub fn lattice_json(rows: usize, cols: usize) -> WorkflowDraft {
    let mut nodes = vec![node("s", "Start")];
    let mut edges = vec![json!({"from": "s", "to": "l0_0"})];
    for r in 0..rows {
        for c in 0..cols {
            let id = format!("l{r}_{c}");
            nodes.push(node(&id, "Code"));
            if r > 0 {
                edges.push(json!({"from": format!("l{}_{c}", r - 1), "to": id}));
            }
            if c > 0 {
                edges.push(json!({"from": format!("l{r}_{}", c - 1), "to": id}));
            }
        }
    }
    serde_json::from_value(json!({"metadata": {"name": "lattice"}, "nodes": nodes, "edges": edges})).unwrap()
}

pub fn lattice(rows: usize, cols: usize) -> ValidWorkflow {
    let now = chrono::Utc::now();
    validate(lattice_json(rows, cols).complete(WorkflowId::generate(), now, now)).unwrap()
}

/// Our engine: an executor over an in-memory store.
pub struct Engine {
    store: Arc<InMemoryStore>,
    executor: Executor,
    running: std::sync::atomic::AtomicUsize,
}

impl Engine {
    pub fn new(payload: usize, max_concurrent: usize) -> Self {
        Self::build(Arc::new(Noop { payload }), max_concurrent)
    }

    pub fn with_runner(runner: Arc<dyn NodeRunner>) -> Self {
        Self::build(runner, 16)
    }

    /// Executions started and not finished.
    pub fn running(&self) -> usize {
        self.running.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn build(runner: Arc<dyn NodeRunner>, max_concurrent: usize) -> Self {
        let store = Arc::new(InMemoryStore::new());
        let runners = RunnerRegistry::new().with(NodeKindTag::Code, runner);
        let limits = ExecutorLimits {
            max_concurrent_nodes: max_concurrent,
            default_node_timeout: None,
            ..ExecutorLimits::default()
        };
        let lease = Lease { owner: "bench".into(), ttl: Duration::from_secs(3600) };
        let executor = Executor::new(
            store.clone(),
            Arc::new(BroadcastEventBus::default()),
            runners,
            Arc::new(SystemClock),
            limits,
            lease,
        );
        Self { store, executor, running: std::sync::atomic::AtomicUsize::new(0) }
    }

    pub async fn register(&self, wf: &ValidWorkflow) {
        let _ = WorkflowStore::create(self.store.as_ref(), Scope::DEFAULT, wf).await;
    }

    /// Runs one execution to its end.
    pub async fn run(&self, wf: &ValidWorkflow) {
        let execution = Execution::new(Scope::DEFAULT, wf.id(), 1, Map::new(), chrono::Utc::now());
        let lease = self.executor.lease().clone();
        ExecutionLog::create_with(self.store.as_ref(), &execution, &lease, &ExecutionUpdate::default()).await.unwrap();
        self.running.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.executor.run(execution, wf.clone(), StopSignal::default()).await;
        self.running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The floor: the fastest honest executor we could write for the same graphs, on the same
/// runtime flavour as the server (multi-threaded tokio, driven from a worker task as each
/// execution is). A coordinator counts each node's unfinished predecessors and spawns one task
/// per ready node, handing it its predecessors' JSON outputs (shared, not copied); the task
/// returns its own JSON output, which the coordinator keeps for the node's successors.
///
/// What it leaves out is everything the engine adds around that: no record of the run (no
/// event log, no node results, no store), nothing published to subscribers, no templates,
/// conditions or routes, no retries, timeouts, cancellation or concurrency limit, no lease.
pub struct Floor {
    successors: Vec<Vec<usize>>,
    predecessors: Vec<Vec<usize>>,
    in_degree: Vec<u32>,
}

impl Floor {
    pub fn new(wf: &ValidWorkflow) -> Self {
        let graph = wf.graph();
        let mut predecessors = vec![Vec::new(); graph.in_degree.len()];
        for (from, successors) in graph.successors.iter().enumerate() {
            for &to in successors {
                predecessors[to].push(from);
            }
        }
        Self { successors: graph.successors.clone(), predecessors, in_degree: graph.in_degree.clone() }
    }

    pub async fn run(&self) {
        let n = self.in_degree.len();
        let mut remaining = self.in_degree.clone();
        let mut outputs: Vec<Option<Arc<Value>>> = vec![None; n];
        let mut tasks = JoinSet::new();
        let spawn = |tasks: &mut JoinSet<(usize, Arc<Value>)>, i: usize, outputs: &[Option<Arc<Value>>]| {
            let inputs: Vec<Arc<Value>> = self.predecessors[i].iter().filter_map(|&p| outputs[p].clone()).collect();
            tasks.spawn(async move {
                let output = inputs.first().map_or(Value::Null, |first| Value::clone(first));
                (i, Arc::new(output))
            });
        };
        for (i, _) in remaining.iter().enumerate().filter(|&(_, &r)| r == 0) {
            spawn(&mut tasks, i, &outputs);
        }
        while let Some(Ok((i, output))) = tasks.join_next().await {
            outputs[i] = Some(output);
            for &s in &self.successors[i] {
                remaining[s] -= 1;
                if remaining[s] == 0 {
                    spawn(&mut tasks, s, &outputs);
                }
            }
        }
    }
}

/// Runs `work` on a runtime worker, as the server runs each execution; returns the seconds it
/// took there (the hop onto the worker and back is not counted).
pub async fn on_worker<F, Fut>(work: F) -> f64
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let start = std::time::Instant::now();
        work().await;
        start.elapsed().as_secs_f64()
    })
    .await
    .expect("the benchmark task")
}

/// Node kinds count, to report per-node costs.
pub fn nodes(wf: &ValidWorkflow) -> usize {
    wf.workflow().nodes.iter().filter(|n| !matches!(n.kind, NodeKind::Start | NodeKind::End)).count()
}
