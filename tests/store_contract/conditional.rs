//! Conditional workflow writes (compare-and-set on the version, for `If-Match`), alone and racing.

use super::{ANY, Stores, WS, at, workflow_with};
use oxify_api::domain::ids::WorkflowId;
use oxify_api::ports::{ExpectedVersion, StoreError};

fn one_of(versions: &[u32]) -> ExpectedVersion {
    ExpectedVersion::OneOf(versions.to_vec())
}

fn is_mismatch_at(outcome: &Result<impl std::fmt::Debug, StoreError>, version: u32) -> bool {
    matches!(outcome, Err(StoreError::VersionMismatch { current, .. }) if *current == version)
}

/// The number of stored versions and the latest one's label: what a refused write must not change.
async fn state(s: &Stores, id: WorkflowId) -> (usize, Option<(u32, String)>) {
    let versions = s.workflows.list_versions(WS, id).await.unwrap().len();
    let latest =
        s.workflows.get(WS, id).await.ok().map(|v| (v.version, v.workflow.workflow().metadata.version.clone()));
    (versions, latest)
}

pub async fn conditional_updates_and_deletes_compare_and_set(s: Stores) {
    let id = WorkflowId::generate();
    s.workflows.create(WS, &workflow_with(id, at(0), "v1")).await.unwrap();
    assert_eq!(s.workflows.update(WS, &workflow_with(id, at(0), "v2"), &one_of(&[1])).await.unwrap(), 2);

    let stale = s.workflows.update(WS, &workflow_with(id, at(0), "lost"), &one_of(&[1])).await;
    assert!(is_mismatch_at(&stale, 2), "{stale:?}");
    assert!(is_mismatch_at(&s.workflows.update(WS, &workflow_with(id, at(0), "lost"), &one_of(&[])).await, 2));
    assert_eq!(state(&s, id).await, (2, Some((2, "v2".into()))), "a refused update stores nothing");

    assert_eq!(s.workflows.update(WS, &workflow_with(id, at(0), "v3"), &one_of(&[7, 2])).await.unwrap(), 3, "a list");
    assert_eq!(s.workflows.update(WS, &workflow_with(id, at(0), "v4"), ANY).await.unwrap(), 4, "unconditional");

    assert!(is_mismatch_at(&s.workflows.delete(WS, id, &one_of(&[3])).await, 4));
    assert_eq!(state(&s, id).await, (4, Some((4, "v4".into()))), "a refused delete changes nothing");
    assert_eq!(s.workflows.list(WS, super::page(10)).await.unwrap().total, 1);
    s.workflows.delete(WS, id, &one_of(&[4])).await.unwrap();
    assert_eq!(state(&s, id).await, (4, None));
}

pub async fn a_missing_workflow_is_not_found_whatever_the_condition(s: Stores) {
    let never = WorkflowId::generate();
    for expected in [ANY.clone(), one_of(&[1]), one_of(&[])] {
        let update = s.workflows.update(WS, &workflow_with(never, at(0), "x"), &expected).await;
        assert!(matches!(update, Err(StoreError::NotFound { .. })), "{update:?}");
        let delete = s.workflows.delete(WS, never, &expected).await;
        assert!(matches!(delete, Err(StoreError::NotFound { .. })), "{delete:?}");
    }
    let id = WorkflowId::generate();
    s.workflows.create(WS, &workflow_with(id, at(0), "v1")).await.unwrap();
    s.workflows.delete(WS, id, ANY).await.unwrap();
    let gone = s.workflows.update(WS, &workflow_with(id, at(0), "x"), &one_of(&[1])).await;
    assert!(matches!(gone, Err(StoreError::NotFound { .. })), "a deleted workflow is not found: {gone:?}");
}

pub async fn concurrent_conditional_updates_have_exactly_one_winner(s: Stores) {
    let id = WorkflowId::generate();
    s.workflows.create(WS, &workflow_with(id, at(0), "v1")).await.unwrap();
    let mut writers = Vec::new();
    for k in 0..8 {
        let store = s.workflows.clone();
        let wf = workflow_with(id, at(0), &format!("writer {k}"));
        writers.push(tokio::spawn(async move { store.update(WS, &wf, &one_of(&[1])).await }));
    }
    let mut outcomes = Vec::new();
    for w in writers {
        outcomes.push(w.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| matches!(o, Ok(2))).count(), 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| is_mismatch_at(o, 2)).count(), 7, "{outcomes:?}");
    let (versions, latest) = state(&s, id).await;
    assert_eq!(versions, 2);
    assert_eq!(latest.map(|(v, _)| v), Some(2));
}

pub async fn a_conditional_delete_racing_an_update_has_one_winner(s: Stores) {
    for round in 0..5 {
        let id = WorkflowId::generate();
        s.workflows.create(WS, &workflow_with(id, at(round), "v1")).await.unwrap();
        let (updates, deletes) = (s.workflows.clone(), s.workflows.clone());
        let wf = workflow_with(id, at(round), "v2");
        let update = tokio::spawn(async move { updates.update(WS, &wf, &one_of(&[1])).await });
        let delete = tokio::spawn(async move { deletes.delete(WS, id, &one_of(&[1])).await });
        let (update, delete) = (update.await.unwrap(), delete.await.unwrap());
        match (&update, &delete) {
            (Ok(2), Err(StoreError::VersionMismatch { current: 2, .. })) => {
                assert_eq!(state(&s, id).await, (2, Some((2, "v2".into()))));
            }
            (Err(StoreError::NotFound { .. }), Ok(())) => assert_eq!(state(&s, id).await, (1, None)),
            other => panic!("not exactly one winner: {other:?}"),
        }
    }
}

pub async fn concurrent_updates_leave_the_latest_version_readable(s: Stores) {
    let id = WorkflowId::generate();
    s.workflows.create(WS, &workflow_with(id, at(0), "v1")).await.unwrap();
    let mut writers = Vec::new();
    for k in 0..10 {
        let store = s.workflows.clone();
        let wf = workflow_with(id, at(0), &format!("writer {k}"));
        writers.push(tokio::spawn(async move { store.update(WS, &wf, ANY).await.unwrap() }));
    }
    let mut versions = Vec::new();
    for w in writers {
        versions.push(w.await.unwrap());
    }
    versions.sort_unstable();
    assert_eq!(versions, (2..=11).collect::<Vec<u32>>(), "each update got its own version");
    assert_eq!(s.workflows.get(WS, id).await.unwrap().version, 11, "a cached latest version follows commit order");
}

pub async fn racing_deletes_and_creates_leave_reads_agreeing_with_the_list(s: Stores) {
    let id = WorkflowId::generate();
    s.workflows.create(WS, &workflow_with(id, at(0), "v1")).await.unwrap();
    for _ in 0..20 {
        let (deletes, creates) = (s.workflows.clone(), s.workflows.clone());
        let wf = workflow_with(id, at(0), "again");
        let delete = tokio::spawn(async move { deletes.delete(WS, id, ANY).await });
        let create = tokio::spawn(async move { creates.create(WS, &wf).await });
        // Either may lose (already deleted, still live): only the end state matters.
        let _ = (delete.await.unwrap(), create.await.unwrap());
        let listed = s
            .workflows
            .list(WS, super::page(10))
            .await
            .unwrap()
            .items
            .iter()
            .find(|w| w.metadata.id == id)
            .map(|w| w.version);
        let got = s.workflows.get(WS, id).await.ok().map(|v| v.version);
        assert_eq!(got, listed, "get and list disagree on whether (and at which version) the workflow lives");
    }
}
