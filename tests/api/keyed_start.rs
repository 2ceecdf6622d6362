//! The keyed start over the in-memory store, below HTTP: retries, failures that leave the key unused, expiry
//! and the purge, and a key taken by another process between the lookup and the write.

use chrono::{DateTime, TimeDelta, Utc};
use futures::FutureExt;
use oxify_api::adapters::store::InMemoryStore;
use oxify_api::app::error::ServiceError;
use oxify_api::app::executor::ExecutorLimits;
use oxify_api::app::idempotency::{KeyedRequest, KeyedStart};
use oxify_api::app::runner_registry::RunnerRegistry;
use oxify_api::app::services::Services;
use oxify_api::domain::access::Scope;
use oxify_api::domain::budget::BudgetLimits;
use oxify_api::domain::execution::{Execution, ExecutionEvent, ExecutionUpdate};
use oxify_api::domain::idempotency::{IdempotencyKey, KeyScope};
use oxify_api::domain::ids::WorkflowId;
use oxify_api::domain::workflow::WorkflowDraft;
use oxify_api::ports::{
    Clock, ExecutionFilter, ExecutionRecords, IdempotencyRecord, IdempotencyStore, Lease, PageRequest, StoreError,
};
use oxify_api::startup::wiring;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TTL: Duration = Duration::from_secs(3600);

/// A clock the test moves.
struct ManualClock(Mutex<DateTime<Utc>>);

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

impl ManualClock {
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += TimeDelta::from_std(by).unwrap();
    }
}

/// The in-memory store's keys, with scripted failures: the first `fail_writes` keyed writes are
/// refused as unavailable, and the first `blind_reads` lookups see nothing.
struct Scripted {
    inner: Arc<InMemoryStore>,
    fail_writes: AtomicUsize,
    blind_reads: AtomicUsize,
}

fn take_one(counter: &AtomicUsize) -> bool {
    counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
}

#[async_trait::async_trait]
impl IdempotencyStore for Scripted {
    async fn create_with_key(
        &self,
        record: &IdempotencyRecord,
        execution: &Execution,
        lease: &Lease,
        first: &ExecutionUpdate,
    ) -> Result<Vec<Arc<ExecutionEvent>>, StoreError> {
        if take_one(&self.fail_writes) {
            return Err(StoreError::Unavailable("disk is full".into()));
        }
        self.inner.create_with_key(record, execution, lease, first).await
    }

    async fn find_key(
        &self,
        scope: &KeyScope,
        key: &IdempotencyKey,
        now: DateTime<Utc>,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        if take_one(&self.blind_reads) {
            return Ok(None);
        }
        self.inner.find_key(scope, key, now).await
    }

    async fn purge_expired_keys(&self, now: DateTime<Utc>, limit: u32) -> Result<u64, StoreError> {
        self.inner.purge_expired_keys(now, limit).await
    }
}

struct Harness {
    services: Services,
    store: Arc<InMemoryStore>,
    keys: Arc<Scripted>,
    clock: Arc<ManualClock>,
    workflow: WorkflowId,
}

async fn harness() -> Harness {
    let store = Arc::new(InMemoryStore::new());
    let keys =
        Arc::new(Scripted { inner: store.clone(), fail_writes: AtomicUsize::new(0), blind_reads: AtomicUsize::new(0) });
    let clock = Arc::new(ManualClock(Mutex::new(chrono::Utc::now())));
    let mut ports = wiring::in_memory(RunnerRegistry::new());
    (ports.workflows, ports.executions, ports.idempotency) = (store.clone(), store.clone(), keys.clone());
    ports.clock = clock.clone();
    let services =
        Services::assemble(ports, ExecutorLimits::default(), Duration::from_secs(30)).with_idempotency_ttl(TTL);
    let draft: WorkflowDraft = serde_json::from_value(json!({
        "metadata": {"name": "keyed"},
        "nodes": [{"id": "s", "name": "S", "kind": {"type": "Start"}}, {"id": "e", "name": "E", "kind": {"type": "End"}}],
        "edges": [{"from": "s", "to": "e"}]
    }))
    .unwrap();
    let workflow = services.workflows.create(Scope::DEFAULT, draft).await.unwrap().workflow.id();
    Harness { services, store, keys, clock, workflow }
}

impl Harness {
    fn request(&self, key: &str, variables: Value) -> KeyedRequest {
        let Value::Object(variables) = variables else { panic!("variables are an object") };
        KeyedRequest {
            scope: Scope::DEFAULT,
            key: IdempotencyKey::parse(key.as_bytes()).unwrap(),
            workflow_id: self.workflow,
            variables,
            budget: BudgetLimits::default(),
            started_by: None,
        }
    }

    async fn start(&self, key: &str, variables: Value) -> Result<KeyedStart, ServiceError> {
        self.services.idempotency.start(self.request(key, variables), |e| Ok(format!(r#"{{"id":"{}"}}"#, e.id))).await
    }

    async fn executions(&self) -> u64 {
        let page = PageRequest { limit: 10, after: None };
        self.store.list(Scope::DEFAULT, ExecutionFilter::default(), page).await.unwrap().total
    }
}

#[tokio::test]
async fn a_retry_gets_the_first_answer_and_starts_nothing() {
    let h = harness().await;
    let first = h.start("k1", json!({"n": 3})).await.unwrap();
    assert!(!first.replayed);
    assert_eq!(first.response, format!(r#"{{"id":"{}"}}"#, first.execution_id));
    let again = h.start("k1", json!({"n": 3.0})).await.unwrap();
    assert_eq!((again.execution_id, &again.response, again.replayed), (first.execution_id, &first.response, true));
    assert_eq!(h.executions().await, 1);
}

#[tokio::test]
async fn another_request_with_the_key_is_refused_and_starts_nothing() {
    let h = harness().await;
    h.start("k1", json!({"n": 3})).await.unwrap();
    let err = h.start("k1", json!({"n": 4})).await.unwrap_err();
    assert!(
        matches!(&err, ServiceError::IdempotencyKeyReused(m) if m.contains("different body") && m.contains("'k1'")),
        "{err:?}"
    );
    assert_eq!(h.executions().await, 1);
}

#[tokio::test]
async fn a_request_whose_first_write_failed_leaves_its_key_unused() {
    let h = harness().await;
    h.keys.fail_writes.store(1, Ordering::SeqCst);
    let err = h.start("k1", json!({})).await.unwrap_err();
    assert!(matches!(err, ServiceError::Unavailable(_)), "{err:?}");
    assert_eq!(h.executions().await, 0, "nothing was stored");
    let retried = h.start("k1", json!({})).await.unwrap();
    assert!(!retried.replayed, "the retry runs: the key was not consumed");
    assert_eq!(h.executions().await, 1);
}

#[tokio::test]
async fn an_expired_key_is_as_if_unused_and_is_purged() {
    let h = harness().await;
    let first = h.start("k1", json!({"n": 1})).await.unwrap();
    h.clock.advance(TTL - Duration::from_secs(1));
    assert!(h.start("k1", json!({"n": 1})).await.unwrap().replayed, "alive until its last second");
    assert_eq!(h.services.idempotency.purge().await, 0, "nothing expired yet");
    h.clock.advance(Duration::from_secs(1));
    assert_eq!(h.services.idempotency.purge().await, 1);
    let second = h.start("k1", json!({"n": 2})).await.unwrap();
    assert!(!second.replayed);
    assert_ne!(second.execution_id, first.execution_id);
    assert!(h.start("k1", json!({"n": 1})).await.is_err(), "the key now names the new request");
    h.clock.advance(TTL);
    // Expired but not purged yet: still as if unused.
    assert!(!h.start("k1", json!({"n": 1})).await.unwrap().replayed);
    assert_eq!(h.executions().await, 3);
}

#[tokio::test]
async fn a_key_another_process_stored_meanwhile_answers_with_that_request() {
    let h = harness().await;
    // The other process's request: stored, but this process's lookup comes too early to see it.
    let theirs = h.start("shared", json!({"q": "x"})).await.unwrap();
    h.keys.blind_reads.store(1, Ordering::SeqCst);
    let ours = h.start("shared", json!({"q": "x"})).await.unwrap();
    assert_eq!((ours.execution_id, ours.replayed), (theirs.execution_id, true));
    h.keys.blind_reads.store(1, Ordering::SeqCst);
    let other = h.start("shared", json!({"q": "y"})).await.unwrap_err();
    assert!(matches!(other, ServiceError::IdempotencyKeyReused(_)), "{other:?}");
    assert_eq!(h.executions().await, 1, "the refused writes stored nothing");
}

#[tokio::test]
async fn concurrent_requests_with_one_key_start_one_execution() {
    let h = Arc::new(harness().await);
    let mut requests = Vec::new();
    for _ in 0..8 {
        let h = h.clone();
        requests.push(tokio::spawn(async move { h.start("race", json!({"n": 1})).await.unwrap() }));
    }
    let mut answers = Vec::new();
    for r in requests {
        answers.push(r.await.unwrap());
    }
    assert_eq!(answers.iter().filter(|a| !a.replayed).count(), 1);
    assert!(answers.iter().all(|a| a.execution_id == answers[0].execution_id && a.response == answers[0].response));
    assert_eq!(h.executions().await, 1);
}

#[tokio::test]
async fn a_request_its_client_gave_up_still_stores_its_key_with_its_execution() {
    let h = harness().await;
    // Polled once, which is as far as launching the execution, then dropped as a disconnected
    // client's request is.
    assert!(h.start("gone", json!({})).now_or_never().is_none());
    for _ in 0..200 {
        if h.executions().await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let retry = h.start("gone", json!({})).await.unwrap();
    assert!(retry.replayed, "the retry finds the key stored with the first execution");
    assert_eq!(h.executions().await, 1);
}
