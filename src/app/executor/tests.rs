//! Executor tests against mockall mocks of the store, the bus and the clock, and runners that
//! fail, retry, hang or count.

use super::*;
use crate::domain::execution::{EventKind, ExecutionState, ExecutionUpdate, NodeStatus};
use crate::domain::ids::WorkflowId;
use crate::domain::validation::tests::{edge, node, workflow};
use crate::domain::validation::validate;
use crate::domain::workflow::NodeKindTag;
use crate::ports::{
    MockClock, MockEventBus, MockExecutionStore, MockNodeRunner, NodeInput, NodeOutput, NodeRunner, RunnerError,
    StoreError,
};
use serde_json::{Map, Value, json};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Default)]
struct Recorded {
    updates: Arc<Mutex<Vec<ExecutionUpdate>>>,
    published: Arc<Mutex<Vec<EventKind>>>,
}

impl Recorded {
    fn final_state(&self) -> (ExecutionState, Option<String>) {
        let updates = self.updates.lock().unwrap();
        let change = updates.iter().rev().find_map(|u| u.state.clone()).expect("a state change");
        (change.state, change.error)
    }

    fn last_result(&self, node: &str) -> crate::domain::execution::NodeResult {
        let updates = self.updates.lock().unwrap();
        updates
            .iter()
            .rev()
            .flat_map(|u| u.node_results.iter().rev())
            .find(|r| r.node_id.as_str() == node)
            .cloned()
            .expect("a result")
    }

    fn published(&self) -> Vec<EventKind> {
        self.published.lock().unwrap().clone()
    }

    fn count(&self, kind: EventKind) -> usize {
        self.published().iter().filter(|k| **k == kind).count()
    }
}

/// A store that records every write and fails the first `failures` of them with `error`.
fn store(rec: &Recorded, failures: usize, error: StoreError) -> MockExecutionStore {
    let mut store = MockExecutionStore::new();
    let (updates, seq, calls) = (rec.updates.clone(), Arc::new(AtomicU64::new(0)), Arc::new(AtomicUsize::new(0)));
    store.expect_apply().returning(move |_, id, _lease, update| {
        if calls.fetch_add(1, Ordering::SeqCst) < failures {
            return Err(error.clone());
        }
        updates.lock().unwrap().push(update.clone());
        Ok(update
            .events
            .iter()
            .cloned()
            .map(|e| Arc::new(e.stored(id, seq.fetch_add(1, Ordering::SeqCst) + 1)))
            .collect())
    });
    store
}

/// A store that records every write and never fails.
fn healthy_store(rec: &Recorded) -> MockExecutionStore {
    store(rec, 0, StoreError::Internal(String::new()))
}

fn bus(rec: &Recorded) -> MockEventBus {
    let mut bus = MockEventBus::new();
    let published = rec.published.clone();
    bus.expect_publish().returning({
        let published = published.clone();
        move |e| published.lock().unwrap().push(e.kind())
    });
    bus.expect_publish_all().returning(move |events| published.lock().unwrap().extend(events.iter().map(|e| e.kind())));
    bus.expect_discard_deltas().return_const(());
    bus
}

fn lease() -> Lease {
    Lease { owner: "me".into(), ttl: Duration::from_secs(30) }
}

fn clock() -> MockClock {
    let mut clock = MockClock::new();
    clock.expect_now().returning(chrono::Utc::now);
    clock
}

fn code(id: &str) -> Value {
    node(id, json!({"type": "Code", "config": {"runtime": "rhai", "code": "1", "output": "x"}}))
}

/// Start -> work -> End, where `work` is a Code node with the given extra settings.
fn chain(work: Value) -> crate::domain::valid::ValidWorkflow {
    let nodes = json!([node("start", json!({"type": "Start"})), work, node("end", json!({"type": "End"}))]);
    validate(workflow(nodes, json!([edge("start", "work"), edge("work", "end")]))).unwrap()
}

fn executor(
    rec: &Recorded,
    store: MockExecutionStore,
    runner: Arc<dyn NodeRunner>,
    limits: ExecutorLimits,
) -> Executor {
    let runners = RunnerRegistry::new().with(NodeKindTag::Code, runner);
    Executor::new(Arc::new(store), Arc::new(bus(rec)), runners, Arc::new(clock()), limits, lease())
}

async fn run(executor: &Executor, wf: crate::domain::valid::ValidWorkflow, stop: StopSignal) {
    let execution = Execution::new(
        crate::domain::access::Scope::DEFAULT,
        WorkflowId::generate(),
        1,
        Map::new(),
        chrono::Utc::now(),
    );
    executor.run(execution, wf, stop).await;
}

fn mock_runner(results: Vec<Result<Value, RunnerError>>) -> MockNodeRunner {
    let mut runner = MockNodeRunner::new();
    let queue = Mutex::new(results.into_iter());
    let n = queue.lock().unwrap().len();
    runner.expect_workspace_secrets().return_const(&[][..]);
    runner.expect_run().times(n).returning(move |_, _| queue.lock().unwrap().next().unwrap().map(NodeOutput::of));
    runner
}

fn fast_retries(mut work: Value, max_retries: u32) -> Value {
    work["retry_config"] =
        json!({"max_retries": max_retries, "initial_delay_ms": 1, "backoff_multiplier": 2.0, "max_delay_ms": 5});
    work
}

#[tokio::test]
async fn failing_runner_fails_the_node_and_the_execution() {
    let rec = Recorded::default();
    let runner = mock_runner(vec![Err(RunnerError::Permanent("boom".into()))]);
    let ex = executor(&rec, healthy_store(&rec), Arc::new(runner), ExecutorLimits::default());
    run(&ex, chain(code("work")), StopSignal::default()).await;
    let (state, error) = rec.final_state();
    assert_eq!(state, ExecutionState::Failed);
    assert_eq!(error.as_deref(), Some("node 'WORK' (work) failed: boom"));
    assert_eq!(rec.last_result("work").status, NodeStatus::Failed);
    assert_eq!(rec.published().last(), Some(&EventKind::ExecutionFailed));
    assert_eq!(rec.count(EventKind::NodeStarted), 2, "End never starts");
}

#[tokio::test]
async fn retryable_failures_are_retried_then_succeed() {
    let rec = Recorded::default();
    let runner = mock_runner(vec![
        Err(RunnerError::retryable("503")),
        Err(RunnerError::retryable("503")),
        Ok(json!({"answer": 42})),
    ]);
    let ex = executor(&rec, healthy_store(&rec), Arc::new(runner), ExecutorLimits::default());
    run(&ex, chain(fast_retries(code("work"), 3)), StopSignal::default()).await;
    assert_eq!(rec.final_state().0, ExecutionState::Completed);
    let work = rec.last_result("work");
    assert_eq!((work.status, work.attempts), (NodeStatus::Succeeded, 3));
    assert_eq!(work.output.as_deref(), Some(&json!({"answer": 42})));
    assert_eq!(rec.count(EventKind::NodeRetrying), 2);
}

#[tokio::test]
async fn retries_stop_after_max_retries() {
    let rec = Recorded::default();
    let runner = mock_runner(vec![Err(RunnerError::retryable("503")), Err(RunnerError::retryable("503"))]);
    let ex = executor(&rec, healthy_store(&rec), Arc::new(runner), ExecutorLimits::default());
    run(&ex, chain(fast_retries(code("work"), 1)), StopSignal::default()).await;
    let (state, error) = rec.final_state();
    assert_eq!(state, ExecutionState::Failed);
    assert!(error.unwrap().ends_with("503 (after 2 attempts)"));
}

#[tokio::test]
async fn permanent_errors_are_not_retried() {
    let rec = Recorded::default();
    let runner = mock_runner(vec![Err(RunnerError::Permanent("400 bad request".into()))]);
    let ex = executor(&rec, healthy_store(&rec), Arc::new(runner), ExecutorLimits::default());
    run(&ex, chain(fast_retries(code("work"), 3)), StopSignal::default()).await;
    assert_eq!(rec.final_state().0, ExecutionState::Failed);
    assert_eq!(rec.last_result("work").attempts, 1);
}

#[tokio::test]
async fn transient_store_failures_are_retried_and_nothing_is_lost() {
    let rec = Recorded::default();
    let runner = mock_runner(vec![Ok(json!("done"))]);
    let failing = store(&rec, 3, StoreError::Unavailable("database is restarting".into()));
    let ex = executor(&rec, failing, Arc::new(runner), ExecutorLimits::default());
    run(&ex, chain(code("work")), StopSignal::default()).await;
    assert_eq!(rec.final_state().0, ExecutionState::Completed);
    assert_eq!(rec.last_result("work").status, NodeStatus::Succeeded);
    let kinds = rec.published();
    assert_eq!(kinds.first(), Some(&EventKind::ExecutionStarted));
    assert_eq!(kinds.last(), Some(&EventKind::ExecutionCompleted));
}

#[tokio::test]
async fn permanent_store_failure_abandons_the_run_and_publishes_nothing() {
    let rec = Recorded::default();
    let runner = MockNodeRunner::new();
    let broken = store(&rec, usize::MAX, StoreError::Internal("disk I/O error".into()));
    let ex = executor(&rec, broken, Arc::new(runner), ExecutorLimits::default());
    run(&ex, chain(code("work")), StopSignal::default()).await;
    assert!(rec.updates.lock().unwrap().is_empty());
    assert!(rec.published().is_empty(), "nothing is published that was not stored");
}

#[tokio::test]
async fn a_write_the_store_refuses_fails_the_execution_instead_of_looping() {
    let rec = Recorded::default();
    let refusing = store(&rec, 1, StoreError::Internal("invalid byte sequence".into()));
    let ex = executor(&rec, refusing, Arc::new(MockNodeRunner::new()), ExecutorLimits::default());
    run(&ex, chain(code("work")), StopSignal::default()).await;
    let (state, error) = rec.final_state();
    assert_eq!(state, ExecutionState::Failed);
    assert_eq!(
        error.as_deref(),
        Some("execution progress could not be stored: storage failure: invalid byte sequence")
    );
    assert_eq!(rec.published(), vec![EventKind::ExecutionFailed]);
}

#[tokio::test]
async fn a_lost_lease_stops_the_run_without_writing_more() {
    let rec = Recorded::default();
    let taken = store(&rec, usize::MAX, StoreError::LeaseLost("owned by another process".into()));
    let ex = executor(&rec, taken, Arc::new(MockNodeRunner::new()), ExecutorLimits::default());
    run(&ex, chain(code("work")), StopSignal::default()).await;
    assert!(rec.updates.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_kind_without_runner_fails_with_node_kind_unavailable() {
    let rec = Recorded::default();
    let ex = Executor::new(
        Arc::new(healthy_store(&rec)),
        Arc::new(bus(&rec)),
        RunnerRegistry::new(),
        Arc::new(clock()),
        ExecutorLimits::default(),
        lease(),
    );
    run(&ex, chain(code("work")), StopSignal::default()).await;
    let (state, error) = rec.final_state();
    assert_eq!(state, ExecutionState::Failed);
    assert!(error.unwrap().contains("NodeKindUnavailable: Code nodes cannot run"));
}

/// Sleeps for a long time; records whether its future was dropped before finishing.
struct Hanging {
    started: Arc<tokio::sync::Notify>,
    dropped: Arc<AtomicBool>,
}

struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl NodeRunner for Hanging {
    async fn run(&self, _input: NodeInput, _cancel: CancellationToken) -> Result<NodeOutput, RunnerError> {
        let _guard = SetOnDrop(self.dropped.clone());
        self.started.notify_one();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(NodeOutput::of(Value::Null))
    }
}

/// Starts Start -> work -> End where `work` hangs, and returns once it hangs: the run's task, its
/// stop signal, and whether the hanging work was dropped.
async fn run_until_a_node_hangs(rec: &Recorded) -> (tokio::task::JoinHandle<()>, StopSignal, Arc<AtomicBool>) {
    let (started, dropped) = (Arc::new(tokio::sync::Notify::new()), Arc::new(AtomicBool::new(false)));
    let runner = Hanging { started: started.clone(), dropped: dropped.clone() };
    let store = healthy_store(rec);
    let ex = Arc::new(executor(rec, store, Arc::new(runner), ExecutorLimits::default()));
    let stop = StopSignal::default();
    let task = tokio::spawn({
        let (ex, stop) = (ex.clone(), stop.clone());
        async move { run(&ex, chain(code("work")), stop).await }
    });
    started.notified().await;
    (task, stop, dropped)
}

#[tokio::test]
async fn cancellation_stops_the_running_node_and_records_it() {
    let rec = Recorded::default();
    let (task, stop, dropped) = run_until_a_node_hangs(&rec).await;
    stop.cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("run ends promptly").unwrap();
    assert!(dropped.load(Ordering::SeqCst), "the runner's in-flight work was dropped");
    assert_eq!(rec.final_state(), (ExecutionState::Cancelled, Some("cancelled by request".into())));
    assert_eq!(rec.last_result("work").status, NodeStatus::Cancelled);
    assert_eq!(rec.count(EventKind::NodeCancelled), 1);
}

#[tokio::test]
async fn timeout_fails_skips_or_uses_the_default() {
    for (action, state, status) in [
        (json!("Fail"), ExecutionState::Failed, NodeStatus::Failed),
        (json!("Skip"), ExecutionState::Completed, NodeStatus::Skipped),
        (json!({"UseDefault": "n/a"}), ExecutionState::Completed, NodeStatus::Succeeded),
    ] {
        let rec = Recorded::default();
        let runner = Hanging { started: Arc::default(), dropped: Arc::default() };
        let mut work = code("work");
        work["timeout_config"] = json!({"execution_timeout_ms": 20, "timeout_action": action});
        let ex = executor(&rec, healthy_store(&rec), Arc::new(runner), ExecutorLimits::default());
        run(&ex, chain(work), StopSignal::default()).await;
        assert_eq!(rec.final_state().0, state, "{action}");
        assert_eq!(rec.last_result("work").status, status, "{action}");
        if status == NodeStatus::Skipped {
            assert_eq!(rec.last_result("end").status, NodeStatus::Skipped, "end only follows work");
        }
        if status == NodeStatus::Succeeded {
            assert_eq!(rec.last_result("work").output.as_deref(), Some(&json!("n/a")));
        }
    }
}

/// Counts how many attempts run at once, and checks that each node's predecessors were stored.
struct Counting {
    now: AtomicUsize,
    max: AtomicUsize,
    rec: Recorded,
}

#[async_trait::async_trait]
impl NodeRunner for Counting {
    async fn run(&self, input: NodeInput, _cancel: CancellationToken) -> Result<NodeOutput, RunnerError> {
        let stored_start =
            self.rec.updates.lock().unwrap().iter().any(|u| {
                u.node_results.iter().any(|r| r.node_id.as_str() == "start" && r.status == NodeStatus::Succeeded)
            });
        assert!(stored_start, "a node starts only after its predecessor's result is stored");
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        Ok(NodeOutput::of(json!(input.node().id.as_str())))
    }
}

#[tokio::test]
async fn fan_out_runs_concurrently_within_the_limit() {
    let rec = Recorded::default();
    let mut nodes = vec![node("start", json!({"type": "Start"})), node("end", json!({"type": "End"}))];
    let mut edges = Vec::new();
    for i in 0..10 {
        let id = format!("w{i}");
        nodes.push(code(&id));
        edges.extend([edge("start", &id), edge(&id, "end")]);
    }
    let wf = validate(workflow(Value::Array(nodes), Value::Array(edges))).unwrap();
    let runner = Arc::new(Counting { now: AtomicUsize::new(0), max: AtomicUsize::new(0), rec: rec.clone() });
    let limits = ExecutorLimits { max_concurrent_nodes: 3, ..ExecutorLimits::default() };
    let ex = executor(&rec, healthy_store(&rec), runner.clone(), limits);
    run(&ex, wf, StopSignal::default()).await;
    assert_eq!(rec.final_state().0, ExecutionState::Completed);
    assert_eq!(runner.max.load(Ordering::SeqCst), 3, "three at a time, never more");
    assert_eq!(rec.count(EventKind::NodeCompleted), 12);
}

struct Panicking;

#[async_trait::async_trait]
impl NodeRunner for Panicking {
    async fn run(&self, _input: NodeInput, _cancel: CancellationToken) -> Result<NodeOutput, RunnerError> {
        panic!("index out of bounds")
    }
}

#[tokio::test]
async fn a_panicking_runner_fails_its_node_instead_of_hanging() {
    let rec = Recorded::default();
    let ex = executor(&rec, healthy_store(&rec), Arc::new(Panicking), ExecutorLimits::default());
    run(&ex, chain(code("work")), StopSignal::default()).await;
    let (state, error) = rec.final_state();
    assert_eq!(state, ExecutionState::Failed);
    assert!(error.unwrap().contains("runner panicked: index out of bounds"));
}

#[tokio::test]
async fn cancelled_before_start_records_cancelled_without_running_anything() {
    let rec = Recorded::default();
    let ex = executor(&rec, healthy_store(&rec), Arc::new(MockNodeRunner::new()), ExecutorLimits::default());
    let stop = StopSignal::default();
    stop.cancel.cancel();
    run(&ex, chain(code("work")), stop).await;
    assert_eq!(rec.final_state().0, ExecutionState::Cancelled);
    assert_eq!(rec.published(), vec![EventKind::ExecutionCancelled]);
}

#[tokio::test]
async fn shutdown_interrupts_a_running_execution_as_failed() {
    let rec = Recorded::default();
    let (task, stop, _) = run_until_a_node_hangs(&rec).await;
    stop.shutdown.cancel();
    task.await.unwrap();
    let (state, error) = rec.final_state();
    assert_eq!(state, ExecutionState::Failed);
    assert!(error.unwrap().starts_with("interrupted"));
}

#[tokio::test]
async fn a_new_execution_is_stored_with_its_first_step_and_the_caller_hears_when() {
    let rec = Recorded::default();
    let mut store = MockExecutionStore::new();
    let updates = rec.updates.clone();
    store.expect_create_with().times(1).returning(move |e, _lease, first| {
        updates.lock().unwrap().push(first.clone());
        Ok(first.events.iter().cloned().zip(1..).map(|(ev, seq)| Arc::new(ev.stored(e.id, seq))).collect())
    });
    store.expect_apply().times(0);
    let ex = executor(&rec, store, Arc::new(MockNodeRunner::new()), ExecutorLimits::default());
    let wf = validate(workflow(
        json!([node("s", json!({"type": "Start"})), node("e", json!({"type": "End"}))]),
        json!([edge("s", "e")]),
    ))
    .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    ex.start(
        Execution::new(
            crate::domain::access::Scope::DEFAULT,
            WorkflowId::generate(),
            1,
            Map::new(),
            chrono::Utc::now(),
        ),
        wf,
        StopSignal::default(),
        tx,
    )
    .await;
    assert_eq!(rx.await.unwrap(), Ok(()));
    assert_eq!(rec.final_state().0, ExecutionState::Completed, "a trivial run is one write");
}

#[tokio::test]
async fn a_new_execution_whose_first_write_fails_reports_it_and_stores_nothing_more() {
    let rec = Recorded::default();
    let mut store = MockExecutionStore::new();
    store.expect_create_with().times(1).returning(|_, _, _| Err(StoreError::Unavailable("connection refused".into())));
    store.expect_apply().times(0);
    let ex = executor(&rec, store, Arc::new(MockNodeRunner::new()), ExecutorLimits::default());
    let (tx, rx) = tokio::sync::oneshot::channel();
    ex.start(
        Execution::new(
            crate::domain::access::Scope::DEFAULT,
            WorkflowId::generate(),
            1,
            Map::new(),
            chrono::Utc::now(),
        ),
        chain(code("work")),
        StopSignal::default(),
        tx,
    )
    .await;
    assert_eq!(rx.await.unwrap(), Err(StoreError::Unavailable("connection refused".into())));
    assert!(rec.published().is_empty());
}
