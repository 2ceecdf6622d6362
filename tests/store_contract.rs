//! One storage contract, run against every storage adapter: memory, SQLite and Postgres (a fresh
//! schema per test). The Postgres tests run when `OXIFY_TEST_POSTGRES_URL` was set at build time
//! (an unreachable server then fails them) and show as ignored, with the reason, otherwise.

use chrono::{DateTime, SubsecRound, TimeZone, Utc};
use oxify_api::domain::access::Scope;
use oxify_api::domain::execution::{
    EventKind, Execution, ExecutionState, ExecutionUpdate, NewEvent, NodeResult, NodeStatus, StateChange,
};
use oxify_api::domain::ids::{ExecutionId, NodeId, WorkflowId};
use oxify_api::domain::run::RunEvent;
use oxify_api::domain::valid::ValidWorkflow;
use oxify_api::domain::validation::validate;
use oxify_api::domain::workflow::WorkflowDraft;
use oxify_api::ports::{
    ExecutionFilter, ExecutionStore, ExpectedVersion, IdempotencyStore, Lease, PageRequest, StoreError, WorkflowStore,
};
use serde_json::{Map, json};
use std::sync::Arc;
use std::time::Duration;

#[path = "store_contract/audit.rs"]
mod audit;
#[path = "store_contract/backends.rs"]
mod backends;
#[path = "store_contract/chroma_server.rs"]
mod chroma_server;
#[path = "store_contract/conditional.rs"]
mod conditional;
#[path = "store_contract/files.rs"]
mod files;
#[path = "store_contract/human_tasks.rs"]
mod human_tasks;
#[path = "store_contract/idempotency.rs"]
mod idempotency;
#[path = "store_contract/identities.rs"]
mod identities;
#[path = "store_contract/mcp_servers.rs"]
mod mcp_servers;
#[path = "store_contract/odd_text.rs"]
mod odd_text;
#[path = "store_contract/secrets.rs"]
mod secrets;
#[path = "store_contract/tenancy.rs"]
mod tenancy;
#[path = "store_contract/upgrade.rs"]
mod upgrade;
#[path = "store_contract/vector_backends.rs"]
mod vector_backends;
#[path = "store_contract/vectors.rs"]
mod vectors;

use audit::*;
use conditional::*;
use files::*;
use human_tasks::*;
use idempotency::*;
use identities::*;
use mcp_servers::*;
use odd_text::*;
use secrets::*;
use tenancy::*;
use vector_backends::*;
use vectors::*;

pub struct Stores {
    pub workflows: Arc<dyn WorkflowStore>,
    pub executions: Arc<dyn ExecutionStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub identities: Arc<dyn oxify_api::ports::IdentityStore>,
    pub secrets: Arc<dyn oxify_api::ports::SecretStore>,
    pub mcp_servers: Arc<dyn oxify_api::ports::McpServerStore>,
    pub tasks: Arc<dyn oxify_api::ports::HumanTaskStore>,
    pub audit: Arc<dyn oxify_api::ports::AuditLog>,
    pub vectors: Arc<dyn oxify_api::ports::VectorStore>,
    pub files: Arc<dyn oxify_api::ports::FileStore>,
    pub backend: Backend,
    pub _keep: Box<dyn std::any::Any + Send>,
}

/// Where a store keeps its data, to open it again.
pub enum Backend {
    Memory,
    Sqlite(String),
    Postgres(String),
}

/// The workspace most tests work in.
pub const WS: Scope = Scope::DEFAULT;

/// An unconditional write.
const ANY: &ExpectedVersion = &ExpectedVersion::Any;

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
}

fn workflow_with(id: WorkflowId, created: DateTime<Utc>, label: &str) -> ValidWorkflow {
    let draft: WorkflowDraft = serde_json::from_value(json!({
        "metadata": {"name": format!("wf {label}"), "version": label, "change_description": format!("change {label}")},
        "nodes": [{"id": "s", "name": "S", "kind": {"type": "Start"}}, {"id": "e", "name": "E", "kind": {"type": "End"}}],
        "edges": [{"from": "s", "to": "e"}]
    }))
    .unwrap();
    validate(draft.complete(id, created, created)).unwrap()
}

fn workflow(created: DateTime<Utc>) -> ValidWorkflow {
    workflow_with(WorkflowId::generate(), created, "1.0.0")
}

fn lease(owner: &str) -> Lease {
    Lease { owner: owner.into(), ttl: Duration::from_secs(60) }
}

async fn stored_workflow(s: &Stores) -> WorkflowId {
    let wf = workflow(Utc::now().trunc_subsecs(6));
    s.workflows.create(WS, &wf).await.unwrap();
    wf.id()
}

fn execution(workflow_id: WorkflowId, created: DateTime<Utc>) -> Execution {
    let mut vars = Map::new();
    vars.insert("q".into(), json!("weather in Tokyo"));
    vars.insert("n".into(), json!([1, 2.5, {"deep": true}]));
    Execution::new(WS, workflow_id, 1, vars, created)
}

/// An event of `kind` about node `a`, marked with `n` where the kind has room for it.
fn event(kind: EventKind, state: ExecutionState, n: u32) -> NewEvent {
    let event = match RunEvent::example(kind) {
        RunEvent::NodeStarted { .. } => RunEvent::NodeStarted { node_id: NodeId::from("a"), attempt: n },
        RunEvent::ExecutionFailed { .. } => RunEvent::ExecutionFailed { error: format!("n={n}") },
        other => other,
    };
    NewEvent { event, state, node_results_count: n, at: at(n.into()) }
}

fn result(node: &str, status: NodeStatus, output: Option<serde_json::Value>) -> NodeResult {
    NodeResult {
        node_id: node.into(),
        node_name: node.to_uppercase().into(),
        kind: "Code".into(),
        status,
        output: output.map(Arc::new),
        error: (status == NodeStatus::Failed).then(|| "boom".into()),
        attempts: 2,
        started_at: Some(at(1)),
        completed_at: status.is_terminal().then(|| at(2)),
        usage: None,
    }
}

fn change(state: ExecutionState, when: i64) -> StateChange {
    StateChange {
        error: (state == ExecutionState::Failed).then(|| "it broke".into()),
        started_at: (state == ExecutionState::Running).then(|| at(when)),
        completed_at: state.is_terminal().then(|| at(when)),
        ..StateChange::to(state)
    }
}

fn page(limit: u32) -> PageRequest {
    PageRequest { limit, after: None }
}

async fn workflows_round_trip_and_conflict(s: Stores) {
    let wf = workflow(at(0));
    assert_eq!(s.workflows.create(WS, &wf).await.unwrap(), 1);
    let got = s.workflows.get(WS, wf.id()).await.unwrap();
    assert_eq!(got.version, 1);
    assert_eq!(got.workflow.workflow(), wf.workflow());
    assert!(matches!(s.workflows.create(WS, &wf).await, Err(StoreError::Conflict(_))));
    assert!(matches!(s.workflows.get(WS, WorkflowId::generate()).await, Err(StoreError::NotFound { .. })));
}

async fn updates_add_immutable_versions(s: Stores) {
    let id = WorkflowId::generate();
    s.workflows.create(WS, &workflow_with(id, at(0), "1.0.0")).await.unwrap();
    assert_eq!(s.workflows.update(WS, &workflow_with(id, at(0), "1.1.0"), ANY).await.unwrap(), 2);
    assert_eq!(s.workflows.update(WS, &workflow_with(id, at(0), "2.0.0"), ANY).await.unwrap(), 3);
    let latest = s.workflows.get(WS, id).await.unwrap();
    assert_eq!((latest.version, latest.workflow.workflow().metadata.version.as_str()), (3, "2.0.0"));
    let first = s.workflows.get_version(WS, id, 1).await.unwrap();
    assert_eq!(first.workflow.workflow().metadata.version, "1.0.0");
    let versions = s.workflows.list_versions(WS, id).await.unwrap();
    let labels: Vec<(u32, &str)> = versions.iter().map(|v| (v.version, v.label.as_str())).collect();
    assert_eq!(labels, [(1, "1.0.0"), (2, "1.1.0"), (3, "2.0.0")]);
    assert_eq!(versions[1].change_description.as_deref(), Some("change 1.1.0"));
    assert!(matches!(s.workflows.get_version(WS, id, 4).await, Err(StoreError::NotFound { .. })));
    assert!(matches!(s.workflows.update(WS, &workflow(at(0)), ANY).await, Err(StoreError::NotFound { .. })));
    assert!(matches!(s.workflows.list_versions(WS, WorkflowId::generate()).await, Err(StoreError::NotFound { .. })));
}

async fn deleted_workflows_hide_but_keep_their_versions(s: Stores) {
    let wf = workflow(at(0));
    s.workflows.create(WS, &wf).await.unwrap();
    s.workflows.delete(WS, wf.id(), ANY).await.unwrap();
    assert!(matches!(s.workflows.get(WS, wf.id()).await, Err(StoreError::NotFound { .. })));
    assert!(matches!(s.workflows.delete(WS, wf.id(), ANY).await, Err(StoreError::NotFound { .. })));
    assert!(matches!(s.workflows.update(WS, &wf, ANY).await, Err(StoreError::NotFound { .. })));
    assert_eq!(s.workflows.get_version(WS, wf.id(), 1).await.unwrap().version, 1);
    assert_eq!(s.workflows.list(WS, page(10)).await.unwrap().total, 0);
    assert_eq!(s.workflows.create(WS, &wf).await.unwrap(), 2, "a re-created id continues the version count");
    assert_eq!(s.workflows.list(WS, page(10)).await.unwrap().total, 1);
}

async fn workflow_lists_page_newest_first(s: Stores) {
    let mut ids = Vec::new();
    for i in 0..7 {
        let wf = workflow(at(i));
        s.workflows.create(WS, &wf).await.unwrap();
        ids.push(wf.id());
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut request = page(3);
    loop {
        let p = s.workflows.list(WS, request).await.unwrap();
        assert_eq!(p.total, 7);
        seen.extend(p.items.iter().map(|w| w.metadata.id));
        assert!(p.items.iter().all(|w| w.node_count == 2 && w.edge_count == 1 && w.version == 1));
        match p.next {
            Some(next) => request.after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ids);
}

async fn executions_round_trip(s: Stores) {
    let wf = stored_workflow(&s).await;
    let e = execution(wf, at(5));
    s.executions.create_with(&e, &lease("me"), &ExecutionUpdate::default()).await.unwrap();
    assert_eq!(s.executions.get(WS, e.id).await.unwrap(), e);
    assert!(matches!(
        s.executions.create_with(&e, &lease("me"), &ExecutionUpdate::default()).await,
        Err(StoreError::Conflict(_))
    ));
    let missing = ExecutionId::generate();
    assert!(matches!(s.executions.get(WS, missing).await, Err(StoreError::NotFound { .. })));
    assert!(matches!(s.executions.node_results(WS, missing).await, Err(StoreError::NotFound { .. })));
    assert!(matches!(s.executions.events_after(WS, missing, 0, 10).await, Err(StoreError::NotFound { .. })));
    let update = ExecutionUpdate::default();
    assert!(matches!(s.executions.apply(WS, missing, None, &update).await, Err(StoreError::NotFound { .. })));
    assert!(s.executions.node_results(WS, e.id).await.unwrap().is_empty());
    assert!(s.executions.events_after(WS, e.id, 0, 10).await.unwrap().is_empty());
    s.executions.ping().await.unwrap();
}

async fn apply_records_state_results_and_numbered_events(s: Stores) {
    let wf = stored_workflow(&s).await;
    let e = execution(wf, at(5));
    let me = lease("me");
    s.executions.create_with(&e, &me, &ExecutionUpdate::default()).await.unwrap();
    let first = ExecutionUpdate {
        state: Some(change(ExecutionState::Running, 6)),
        node_results: vec![result("a", NodeStatus::Running, None), result("b", NodeStatus::Running, None)],
        events: vec![
            event(EventKind::ExecutionStarted, ExecutionState::Running, 0),
            event(EventKind::NodeStarted, ExecutionState::Running, 0),
        ],
        ..ExecutionUpdate::default()
    };
    let stored = s.executions.apply(WS, e.id, Some(&me), &first).await.unwrap();
    assert_eq!(stored.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    let output = json!({"text": "héllo", "n": [1, 2], "x": 1.5});
    let second = ExecutionUpdate {
        state: Some(change(ExecutionState::Failed, 9)),
        node_results: vec![
            result("b", NodeStatus::Failed, None),
            result("a", NodeStatus::Succeeded, Some(output.clone())),
        ],
        events: vec![
            event(EventKind::NodeCompleted, ExecutionState::Running, 1),
            event(EventKind::ExecutionFailed, ExecutionState::Failed, 2),
        ],
        ..ExecutionUpdate::default()
    };
    let stored = s.executions.apply(WS, e.id, Some(&me), &second).await.unwrap();
    assert_eq!(stored.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4]);
    let got = s.executions.get(WS, e.id).await.unwrap();
    assert_eq!(got.state, ExecutionState::Failed);
    assert_eq!(got.error.as_deref(), Some("it broke"));
    assert_eq!((got.started_at, got.completed_at), (Some(at(6)), Some(at(9))));
    let results = s.executions.node_results(WS, e.id).await.unwrap();
    assert_eq!(results.iter().map(|r| r.node_id.as_str()).collect::<Vec<_>>(), ["a", "b"], "first-appearance order");
    assert_eq!(results[0], result("a", NodeStatus::Succeeded, Some(output)));
    assert_eq!(results[1].error.as_deref(), Some("boom"));
    let events = s.executions.events_after(WS, e.id, 0, 100).await.unwrap();
    assert_eq!(events.len(), 4);
    assert_eq!(events[3].kind(), EventKind::ExecutionFailed);
    assert_eq!(events[3].event, RunEvent::ExecutionFailed { error: "n=2".into() });
    assert_eq!(events[1].node_id().map(NodeId::as_str), Some("a"));
    assert_eq!(events[3].at, at(2));
    assert_eq!(s.executions.events_after(WS, e.id, 2, 1).await.unwrap().iter().map(|e| e.seq).collect::<Vec<_>>(), [3]);
    assert!(s.executions.events_after(WS, e.id, 4, 10).await.unwrap().is_empty());
}

async fn execution_lists_filter_page_and_count(s: Stores) {
    let (w1, w2) = (stored_workflow(&s).await, stored_workflow(&s).await);
    let me = lease("me");
    let mut all = Vec::new();
    for i in 0..9 {
        let e = execution(if i % 3 == 0 { w2 } else { w1 }, at(i));
        s.executions.create_with(&e, &me, &ExecutionUpdate::default()).await.unwrap();
        if i % 2 == 0 {
            let done =
                ExecutionUpdate { state: Some(change(ExecutionState::Completed, 20)), ..ExecutionUpdate::default() };
            s.executions.apply(WS, e.id, Some(&me), &done).await.unwrap();
        }
        all.push(e.id);
    }
    let count = |workflow_id, state| {
        let executions = s.executions.clone();
        async move { executions.list(WS, ExecutionFilter { workflow_id, state, parent: None }, page(100)).await.unwrap() }
    };
    assert_eq!(count(None, None).await.total, 9);
    assert_eq!(count(Some(w2), None).await.total, 3);
    assert_eq!(count(None, Some(ExecutionState::Completed)).await.total, 5);
    assert_eq!(count(None, Some(ExecutionState::Pending)).await.total, 4);
    let w2_done = count(Some(w2), Some(ExecutionState::Completed)).await;
    assert_eq!(w2_done.total, 2);
    assert_eq!(w2_done.items.iter().map(|e| e.id).collect::<Vec<_>>(), [all[6], all[0]]);
    assert!(w2_done.items.iter().all(|e| e.state == ExecutionState::Completed && e.workflow_id == w2));
    let totals = ExecutionFilter { state: Some(ExecutionState::Pending), ..ExecutionFilter::default() };
    let only_total = s.executions.list(WS, totals, page(0)).await.unwrap();
    assert_eq!((only_total.items.len(), only_total.total, only_total.next), (0, 4, None), "limit 0: the total only");
    let mut seen = Vec::new();
    let mut request = page(4);
    loop {
        let p = s.executions.list(WS, ExecutionFilter::default(), request).await.unwrap();
        seen.extend(p.items.iter().map(|e| e.id));
        if seen.len() == 4 {
            // A newer execution arriving between pages does not disturb the next pages.
            s.executions.create_with(&execution(w1, at(100)), &me, &ExecutionUpdate::default()).await.unwrap();
        }
        match p.next {
            Some(next) => request.after = Some(next),
            None => break,
        }
    }
    all.reverse();
    assert_eq!(seen, all);
    assert_eq!(count(Some(WorkflowId::generate()), None).await.total, 0);
}

async fn leases_fence_writes_and_orphans_can_be_claimed(s: Stores) {
    let wf = stored_workflow(&s).await;
    let (me, other) = (lease("me"), lease("other"));
    let running = execution(wf, at(1));
    let done = execution(wf, at(2));
    s.executions.create_with(&running, &me, &ExecutionUpdate::default()).await.unwrap();
    s.executions.create_with(&done, &me, &ExecutionUpdate::default()).await.unwrap();
    let finish = ExecutionUpdate { state: Some(change(ExecutionState::Completed, 3)), ..ExecutionUpdate::default() };
    s.executions.apply(WS, done.id, Some(&me), &finish).await.unwrap();
    let step = ExecutionUpdate {
        events: vec![event(EventKind::NodeStarted, ExecutionState::Running, 0)],
        ..ExecutionUpdate::default()
    };
    assert!(matches!(s.executions.apply(WS, running.id, Some(&other), &step).await, Err(StoreError::LeaseLost(_))));
    assert!(s.executions.claim(&other, 10, false).await.unwrap().is_empty(), "my lease has not expired");
    assert_eq!(s.executions.renew(&other, &[running.id]).await.unwrap(), Vec::<ExecutionId>::new());
    assert_eq!(
        s.executions.renew(&me, &[running.id, done.id]).await.unwrap(),
        [running.id],
        "a finished execution is released"
    );
    s.executions.release(&me, &[running.id]).await.unwrap();
    let claimed = s.executions.claim(&other, 10, false).await.unwrap();
    assert_eq!(claimed.iter().map(|e| e.id).collect::<Vec<_>>(), [running.id]);
    assert!(matches!(s.executions.apply(WS, running.id, Some(&me), &step).await, Err(StoreError::LeaseLost(_))));
    s.executions.apply(WS, running.id, Some(&other), &step).await.unwrap();
    s.executions.apply(WS, running.id, None, &step).await.unwrap();
    let stolen = s.executions.claim(&me, 10, true).await.unwrap();
    assert_eq!(
        stolen.iter().map(|e| e.id).collect::<Vec<_>>(),
        [running.id],
        "steal takes unexpired ones, never finished ones"
    );
    let short = Lease { owner: "brief".into(), ttl: Duration::from_millis(1) };
    let third = execution(wf, at(3));
    s.executions.create_with(&third, &short, &ExecutionUpdate::default()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let claimed = s.executions.claim(&other, 10, false).await.unwrap();
    assert_eq!(claimed.iter().map(|e| e.id).collect::<Vec<_>>(), [third.id], "an expired lease can be claimed");
}

async fn concurrent_writers_keep_every_event_gapless(s: Stores) {
    let wf = stored_workflow(&s).await;
    let me = lease("me");
    let mut ids = Vec::new();
    for i in 0..12 {
        let e = execution(wf, at(i));
        s.executions.create_with(&e, &me, &ExecutionUpdate::default()).await.unwrap();
        ids.push(e.id);
    }
    let mut tasks = Vec::new();
    for &id in &ids {
        let (store, me) = (s.executions.clone(), me.clone());
        tasks.push(tokio::spawn(async move {
            for k in 0..20u32 {
                let update = ExecutionUpdate {
                    node_results: vec![result(&format!("n{}", k % 5), NodeStatus::Running, None)],
                    events: vec![
                        event(EventKind::NodeStarted, ExecutionState::Running, k),
                        event(EventKind::NodeCompleted, ExecutionState::Running, k),
                    ],
                    ..ExecutionUpdate::default()
                };
                store.apply(WS, id, Some(&me), &update).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for id in ids {
        let events = s.executions.events_after(WS, id, 0, 1000).await.unwrap();
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=40).collect::<Vec<u64>>());
        assert_eq!(s.executions.node_results(WS, id).await.unwrap().len(), 5);
    }
}

async fn budgets_and_awkward_text_round_trip(s: Stores) {
    let wf = stored_workflow(&s).await;
    let mut e = execution(wf, at(1));
    e.budget = oxify_api::domain::budget::BudgetLimits { max_tokens: Some(5000), max_cost_usd: Some(0.25) };
    Arc::make_mut(&mut e.variables).insert("nul".into(), json!("a\u{0}b"));
    s.executions.create_with(&e, &lease("me"), &ExecutionUpdate::default()).await.unwrap();
    let got = s.executions.get(WS, e.id).await.unwrap();
    assert_eq!(got.budget, e.budget);
    assert_eq!(got.variables["nul"], "a\u{0}b", "a NUL is kept");
    let weird = json!({"text": "naïve 日本語 \u{0} \"quoted\" \\u0000", "big": 1e300, "neg": -5});
    let update = ExecutionUpdate {
        node_results: vec![result("a", NodeStatus::Succeeded, Some(weird.clone()))],
        events: vec![NewEvent {
            event: RunEvent::NodeCompleted {
                node_id: NodeId::from("a"),
                attempt: 1,
                output: Arc::new(weird.clone()),
                taken: Vec::new(),
                duration_ms: None,
                reused_from: None,
            },
            ..event(EventKind::NodeCompleted, ExecutionState::Running, 1)
        }],
        ..ExecutionUpdate::default()
    };
    s.executions.apply(WS, e.id, Some(&lease("me")), &update).await.unwrap();
    let output = s.executions.node_results(WS, e.id).await.unwrap()[0].output.clone().unwrap();
    assert_eq!(output["big"], weird["big"]);
    assert_eq!(output["text"], weird["text"]);
    let stored = s.executions.events_after(WS, e.id, 0, 10).await.unwrap();
    let RunEvent::NodeCompleted { output, .. } = &stored[0].event else { panic!("{:?}", stored[0].event) };
    assert_eq!(output.as_ref(), &weird, "event data is kept exactly");
}

async fn concurrent_claims_and_creates_never_overlap(s: Stores) {
    let wf = stored_workflow(&s).await;
    let brief = Lease { owner: "gone".into(), ttl: Duration::from_millis(1) };
    for i in 0..40 {
        s.executions.create_with(&execution(wf, at(i)), &brief, &ExecutionUpdate::default()).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut claimers = Vec::new();
    for k in 0..4 {
        let store = s.executions.clone();
        claimers.push(tokio::spawn(async move { store.claim(&lease(&format!("p{k}")), 15, false).await.unwrap() }));
    }
    let mut claimed = Vec::new();
    for c in claimers {
        claimed.extend(c.await.unwrap().into_iter().map(|e| e.id));
    }
    let unique: std::collections::HashSet<_> = claimed.iter().collect();
    assert_eq!((claimed.len(), unique.len()), (40, 40), "every orphan claimed exactly once");
    let wf = workflow(at(0));
    let mut creators = Vec::new();
    for _ in 0..4 {
        let (store, wf) = (s.workflows.clone(), wf.clone());
        creators.push(tokio::spawn(async move { store.create(WS, &wf).await }));
    }
    let mut outcomes = Vec::new();
    for c in creators {
        outcomes.push(c.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{outcomes:?}");
    assert!(outcomes.iter().filter_map(|o| o.as_ref().err()).all(|e| matches!(e, StoreError::Conflict(_))));
}

async fn a_new_execution_and_its_first_step_are_stored_together(s: Stores) {
    let wf = stored_workflow(&s).await;
    let e = execution(wf, at(1));
    let me = lease("me");
    let first = ExecutionUpdate {
        state: Some(change(ExecutionState::Completed, 2)),
        node_results: vec![result("a", NodeStatus::Succeeded, Some(json!(1)))],
        events: vec![
            event(EventKind::ExecutionStarted, ExecutionState::Running, 0),
            event(EventKind::ExecutionCompleted, ExecutionState::Completed, 1),
        ],
        ..ExecutionUpdate::default()
    };
    let stored = s.executions.create_with(&e, &me, &first).await.unwrap();
    assert_eq!(stored.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    let got = s.executions.get(WS, e.id).await.unwrap();
    assert_eq!((got.state, got.completed_at), (ExecutionState::Completed, Some(at(2))));
    assert_eq!(s.executions.node_results(WS, e.id).await.unwrap().len(), 1);
    let total = s
        .executions
        .list(
            WS,
            ExecutionFilter { workflow_id: Some(wf), state: Some(ExecutionState::Completed), parent: None },
            page(10),
        )
        .await
        .unwrap()
        .total;
    assert_eq!(total, 1);
    let again = s.executions.create_with(&e, &me, &first).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(
        s.executions.events_after(WS, e.id, 0, 10).await.unwrap().len(),
        2,
        "a refused create_with stores nothing"
    );
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test] async fn $name() { super::$name(super::backends::memory()).await }) *
        }
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(super::backends::sqlite().await).await }) *
        }
        mod postgres {
            $(#[tokio::test]
            #[cfg_attr(not(oxify_test_postgres), ignore = "needs OXIFY_TEST_POSTGRES_URL at build time (.ci/run sets it)")]
            async fn $name() { super::$name(super::backends::postgres().await).await }) *
        }
    };
}

contract!(
    workflows_round_trip_and_conflict,
    updates_add_immutable_versions,
    deleted_workflows_hide_but_keep_their_versions,
    workflow_lists_page_newest_first,
    executions_round_trip,
    apply_records_state_results_and_numbered_events,
    execution_lists_filter_page_and_count,
    leases_fence_writes_and_orphans_can_be_claimed,
    concurrent_writers_keep_every_event_gapless,
    budgets_and_awkward_text_round_trip,
    concurrent_claims_and_creates_never_overlap,
    a_new_execution_and_its_first_step_are_stored_together,
    conditional_updates_and_deletes_compare_and_set,
    a_missing_workflow_is_not_found_whatever_the_condition,
    concurrent_conditional_updates_have_exactly_one_winner,
    a_conditional_delete_racing_an_update_has_one_winner,
    concurrent_updates_leave_the_latest_version_readable,
    racing_deletes_and_creates_leave_reads_agreeing_with_the_list,
    nul_is_kept,
    escaped_surrogates_are_kept_as_text,
    noncharacters_are_kept,
    line_and_paragraph_separators_are_kept,
    byte_order_marks_are_kept,
    astral_characters_are_kept,
    the_postgres_escape_character_is_kept,
    controls_quotes_and_replacement_characters_are_kept,
    a_key_is_stored_with_its_execution_and_found_until_it_expires,
    a_live_key_refuses_a_second_execution_and_stores_nothing,
    concurrent_creates_with_one_key_have_exactly_one_winner,
    an_expired_key_is_taken_by_the_next_request,
    purging_deletes_expired_keys_oldest_first_and_keeps_their_executions,
    the_default_workspace_exists_and_workspaces_round_trip,
    users_are_unique_by_email_and_found_by_it,
    a_user_created_with_a_workspace_is_its_admin,
    external_identities_link_to_one_user,
    memberships_list_first_joined_first_and_roles_change,
    the_last_admin_cannot_be_removed_or_demoted,
    concurrent_demotions_of_the_last_two_admins_leave_one,
    api_keys_are_found_by_prefix_listed_newest_first_and_revoked_once,
    api_keys_of_another_workspace_cannot_be_revoked,
    only_the_first_start_stores_a_first_key,
    concurrent_first_keys_store_exactly_one,
    a_user_is_enough_to_need_no_first_key,
    a_setting_keeps_its_first_value_across_restarts,
    workflows_of_another_workspace_do_not_exist,
    executions_of_another_workspace_do_not_exist,
    a_signal_never_crosses_workspaces,
    secrets_are_kept_per_workspace_and_replaced_in_place,
    mcp_servers_are_unique_per_workspace_and_count_their_calls,
    mcp_servers_outlive_a_restart,
    the_audit_log_pages_newest_first_per_workspace,
    collections_are_kept_per_workspace_by_name,
    documents_are_replaced_whole_and_counted_in_revisions,
    chunks_survive_a_restart_exactly,
    collections_search_by_cosine_with_threshold_and_filter,
    a_second_server_sees_the_first_servers_writes,
    concurrent_upserts_of_one_collection_count_every_revision,
    the_collections_contract_holds_on_the_embedded_store,
    files_are_kept_exactly_and_per_workspace,
    requests_round_trip_and_are_created_once,
    request_answers_compare_and_set_their_revision,
    closing_requests_moves_only_pending_ones_once,
    requests_list_filtered_newest_first_per_workspace,
    due_notifications_are_claimed_once_and_their_log_is_kept,
);

/// pgvector collections on the test Postgres, with the catalog in memory and in Postgres.
mod pgvector {
    #[tokio::test]
    #[cfg_attr(not(oxify_test_postgres), ignore = "needs OXIFY_TEST_POSTGRES_URL at build time (.ci/run sets it)")]
    async fn the_collections_contract_holds_with_a_memory_catalog() {
        super::the_collections_contract_holds_on_pgvector(super::memory_catalog()).await;
    }

    #[tokio::test]
    #[cfg_attr(not(oxify_test_postgres), ignore = "needs OXIFY_TEST_POSTGRES_URL at build time (.ci/run sets it)")]
    async fn the_collections_contract_holds_with_a_postgres_catalog() {
        let s = super::backends::postgres().await;
        super::the_collections_contract_holds_on_pgvector(s.vectors.clone()).await;
    }
}

/// Chroma collections on a real Chroma server started for the test.
mod chroma {
    #[tokio::test]
    async fn the_collections_contract_holds_on_chroma() {
        let server = match super::chroma_server::start().await {
            Ok(server) => server,
            Err(reason) => {
                eprintln!("Chroma cases skipped: {reason}");
                return;
            }
        };
        let service = super::chroma_service(&server.url);
        super::collections_contract(&service, oxify_api::domain::vectors::VectorBackend::Chroma).await;
    }

    #[tokio::test]
    async fn a_store_not_configured_is_refused() {
        super::a_store_not_configured_is_refused().await;
    }
}
