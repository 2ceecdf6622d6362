//! Idempotency keys: stored with the execution they started in one atomic write, found until they
//! expire, refused while live (also to racing writers), replaced once expired, purged, and kept
//! across a restart.

use super::backends::reopen;
use super::{Stores, WS, at, change, event, execution, lease, page, stored_workflow};
use chrono::{DateTime, TimeDelta, Utc};
use oxify_api::domain::execution::{EventKind, Execution, ExecutionState, ExecutionUpdate};
use oxify_api::domain::idempotency::{Fingerprint, IdempotencyKey, KeyScope};
use oxify_api::domain::ids::WorkflowId;
use oxify_api::ports::{ExecutionFilter, IdempotencyRecord, StoreError};
use serde_json::Map;

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::parse(text.as_bytes()).unwrap()
}

/// The record of `key` for a request that started `e` at `created`, alive for `ttl` seconds.
fn record(key_text: &str, e: &Execution, created: DateTime<Utc>, ttl: i64) -> IdempotencyRecord {
    IdempotencyRecord {
        scope: KeyScope::of(oxify_api::domain::ids::WorkspaceId::DEFAULT),
        key: key(key_text),
        fingerprint: Fingerprint::of_execute(e.workflow_id, &Map::new(), &Default::default()),
        workflow_id: e.workflow_id,
        execution_id: e.id,
        response: format!(
            r#"{{"execution_id":"{}","message":"Workflow execution started","workflow_version":1}}"#,
            e.id
        ),
        created_at: created,
        expires_at: created + TimeDelta::seconds(ttl),
    }
}

fn first_step() -> ExecutionUpdate {
    ExecutionUpdate {
        state: Some(change(ExecutionState::Running, 2)),
        events: vec![event(EventKind::ExecutionStarted, ExecutionState::Running, 0)],
        ..ExecutionUpdate::default()
    }
}

async fn find(s: &Stores, key_text: &str, now: DateTime<Utc>) -> Option<IdempotencyRecord> {
    s.idempotency
        .find_key(&KeyScope::of(oxify_api::domain::ids::WorkspaceId::DEFAULT), &key(key_text), now)
        .await
        .unwrap()
}

async fn executions_of(s: &Stores, workflow_id: WorkflowId) -> u64 {
    let filter = ExecutionFilter { workflow_id: Some(workflow_id), state: None, parent: None };
    s.executions.list(WS, filter, page(100)).await.unwrap().total
}

pub async fn a_key_is_stored_with_its_execution_and_found_until_it_expires(s: Stores) {
    let wf = stored_workflow(&s).await;
    let e = execution(wf, at(1));
    let r = record("8e03978e-40d5-43e8-bc93-6894a57f9324", &e, at(10), 100);
    let events = s.idempotency.create_with_key(&r, &e, &lease("me"), &first_step()).await.unwrap();
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1]);
    assert_eq!(s.executions.get(WS, e.id).await.unwrap().state, ExecutionState::Running, "the first step is stored");
    assert_eq!(find(&s, &r.key.to_string(), at(10)).await, Some(r.clone()));
    assert_eq!(find(&s, &r.key.to_string(), at(109)).await, Some(r.clone()));
    assert_eq!(find(&s, &r.key.to_string(), at(110)).await, None, "expired at expires_at");
    assert_eq!(find(&s, "8E03978E-40D5-43E8-BC93-6894A57F9324", at(10)).await, None, "keys compare exactly");
    let elsewhere = KeyScope::from_stored("workspace-2".into());
    assert_eq!(s.idempotency.find_key(&elsewhere, &r.key, at(10)).await.unwrap(), None, "keys live in their scope");
    let s = reopen(s).await;
    assert_eq!(find(&s, &r.key.to_string(), at(50)).await, Some(r), "a key outlives a restart");
}

pub async fn a_live_key_refuses_a_second_execution_and_stores_nothing(s: Stores) {
    let wf = stored_workflow(&s).await;
    let (e1, e2) = (execution(wf, at(1)), execution(wf, at(2)));
    let r1 = record("k", &e1, at(10), 100);
    s.idempotency.create_with_key(&r1, &e1, &lease("me"), &first_step()).await.unwrap();
    let refused = s.idempotency.create_with_key(&record("k", &e2, at(20), 100), &e2, &lease("me"), &first_step()).await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
    assert!(
        matches!(s.executions.get(WS, e2.id).await, Err(StoreError::NotFound { .. })),
        "no execution without its key"
    );
    assert_eq!(executions_of(&s, wf).await, 1, "nor in the counts");
    assert_eq!(find(&s, "k", at(20)).await, Some(r1.clone()), "the first request's key is unchanged");

    let elsewhere =
        IdempotencyRecord { scope: KeyScope::from_stored("workspace-2".into()), ..record("k", &e2, at(20), 100) };
    s.idempotency.create_with_key(&elsewhere, &e2, &lease("me"), &first_step()).await.unwrap();
    assert_eq!(s.idempotency.find_key(&elsewhere.scope, &elsewhere.key, at(20)).await.unwrap(), Some(elsewhere));

    let taken =
        s.idempotency.create_with_key(&record("other", &e1, at(20), 100), &e1, &lease("me"), &first_step()).await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "the execution id is taken: {taken:?}");
    assert_eq!(find(&s, "other", at(20)).await, None, "and its key was not stored either");
    assert_eq!(find(&s, "k", at(20)).await, Some(r1));
}

pub async fn concurrent_creates_with_one_key_have_exactly_one_winner(s: Stores) {
    let wf = stored_workflow(&s).await;
    let mut writers = Vec::new();
    for i in 0..8 {
        let store = s.idempotency.clone();
        let e = execution(wf, at(i));
        let r = record("contended", &e, at(10), 100);
        writers.push(tokio::spawn(async move {
            let outcome = store.create_with_key(&r, &e, &lease("me"), &first_step()).await;
            (e.id, outcome)
        }));
    }
    let mut winners = Vec::new();
    for w in writers {
        match w.await.unwrap() {
            (id, Ok(_)) => winners.push(id),
            (_, Err(StoreError::Conflict(_))) => {}
            (_, Err(e)) => panic!("neither stored nor a conflict: {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(executions_of(&s, wf).await, 1, "the losers stored no execution");
    assert_eq!(find(&s, "contended", at(10)).await.map(|r| r.execution_id), Some(winners[0]));
}

pub async fn an_expired_key_is_taken_by_the_next_request(s: Stores) {
    let wf = stored_workflow(&s).await;
    let (e1, e2) = (execution(wf, at(1)), execution(wf, at(2)));
    s.idempotency.create_with_key(&record("k", &e1, at(0), 10), &e1, &lease("me"), &first_step()).await.unwrap();
    let early = s.idempotency.create_with_key(&record("k", &e2, at(9), 10), &e2, &lease("me"), &first_step()).await;
    assert!(matches!(early, Err(StoreError::Conflict(_))), "one second before expiry: {early:?}");
    let r2 = record("k", &e2, at(10), 10);
    s.idempotency.create_with_key(&r2, &e2, &lease("me"), &first_step()).await.unwrap();
    assert_eq!(find(&s, "k", at(11)).await, Some(r2), "the key now names the new request");
    assert_eq!(executions_of(&s, wf).await, 2, "the old execution stays");
}

pub async fn purging_deletes_expired_keys_oldest_first_and_keeps_their_executions(s: Stores) {
    let wf = stored_workflow(&s).await;
    let mut started = Vec::new();
    for (i, name) in ["k1", "k2", "k3", "k4", "k5"].into_iter().enumerate() {
        let e = execution(wf, at(i as i64));
        let expires_in = 10 * (i as i64 + 1);
        s.idempotency
            .create_with_key(&record(name, &e, at(0), expires_in), &e, &lease("me"), &first_step())
            .await
            .unwrap();
        started.push(e.id);
    }
    assert_eq!(s.idempotency.purge_expired_keys(at(5), 10).await.unwrap(), 0, "nothing expired yet");
    assert_eq!(s.idempotency.purge_expired_keys(at(20), 10).await.unwrap(), 2, "expired at or before now");
    // Read "as of" time 0, when every key was alive: only a purged key is gone.
    assert_eq!(find(&s, "k1", at(0)).await, None);
    assert_eq!(find(&s, "k2", at(0)).await, None);
    assert!(find(&s, "k3", at(0)).await.is_some());
    assert_eq!(s.idempotency.purge_expired_keys(at(100), 1).await.unwrap(), 1, "at most the limit");
    assert_eq!(find(&s, "k3", at(0)).await, None, "the oldest expired first");
    assert!(find(&s, "k4", at(0)).await.is_some());
    assert_eq!(s.idempotency.purge_expired_keys(at(100), 10).await.unwrap(), 2);
    assert_eq!(s.idempotency.purge_expired_keys(at(100), 10).await.unwrap(), 0);
    for id in started {
        s.executions.get(WS, id).await.unwrap();
    }
}
