//! Workspaces: every call is confined to its scope, and a row of another workspace is as if it
//! did not exist (except that an id stays taken by the workspace that used it).

use super::{ANY, Stores, WS, at, change, event, execution, lease, page, workflow_with};
use oxify_api::domain::access::Scope;
use oxify_api::domain::execution::{EventKind, ExecutionState, ExecutionUpdate, Signal};
use oxify_api::domain::ids::{ExecutionId, NodeId, WorkflowId, WorkspaceId};
use oxify_api::domain::run::RunEvent;
use oxify_api::ports::{ExecutionFilter, StoreError};

/// Another workspace than [`WS`].
fn other() -> Scope {
    Scope::new(WorkspaceId::generate())
}

fn missing<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    assert!(matches!(result, Err(StoreError::NotFound { .. })), "{what}: {result:?}");
}

pub async fn workflows_of_another_workspace_do_not_exist(s: Stores) {
    let b = other();
    let id = WorkflowId::generate();
    s.workflows.create(WS, &workflow_with(id, at(0), "1.0.0")).await.unwrap();
    missing(s.workflows.get(b, id).await, "get");
    missing(s.workflows.get_version(b, id, 1).await, "get_version");
    missing(s.workflows.list_versions(b, id).await, "list_versions");
    missing(s.workflows.update(b, &workflow_with(id, at(0), "2.0.0"), ANY).await, "update");
    missing(s.workflows.delete(b, id, ANY).await, "delete");
    let listed = s.workflows.list(b, page(10)).await.unwrap();
    assert!(listed.items.is_empty() && listed.total == 0, "{listed:?}");
    // The id stays taken, live or deleted: another workspace cannot take over its versions.
    assert!(matches!(s.workflows.create(b, &workflow_with(id, at(1), "x")).await, Err(StoreError::Conflict(_))));
    s.workflows.delete(WS, id, ANY).await.unwrap();
    assert!(matches!(s.workflows.create(b, &workflow_with(id, at(1), "x")).await, Err(StoreError::Conflict(_))));
    missing(s.workflows.get_version(b, id, 1).await, "get_version after delete");
    // Nothing the other workspace tried changed the owner's workflow.
    assert_eq!(s.workflows.list_versions(WS, id).await.unwrap().len(), 1);
    assert_eq!(s.workflows.create(WS, &workflow_with(id, at(2), "1.1.0")).await.unwrap(), 2);
    // Each workspace lists and counts its own.
    let mine = WorkflowId::generate();
    s.workflows.create(b, &workflow_with(mine, at(3), "b")).await.unwrap();
    let listed = s.workflows.list(b, page(10)).await.unwrap();
    assert_eq!((listed.total, listed.items.len()), (1, 1));
    assert_eq!(listed.items[0].metadata.id, mine);
    let theirs = s.workflows.list(WS, page(10)).await.unwrap();
    assert!(theirs.items.iter().all(|w| w.metadata.id != mine) && theirs.total == 1, "{theirs:?}");
}

pub async fn executions_of_another_workspace_do_not_exist(s: Stores) {
    let b = other();
    let wf = WorkflowId::generate();
    s.workflows.create(WS, &workflow_with(wf, at(0), "1.0.0")).await.unwrap();
    let e = execution(wf, at(1));
    let me = lease("me");
    let first = ExecutionUpdate {
        state: Some(change(ExecutionState::Running, 1)),
        events: vec![event(EventKind::ExecutionStarted, ExecutionState::Running, 0)],
        ..ExecutionUpdate::default()
    };
    s.executions.create_with(&e, &me, &first).await.unwrap();
    missing(s.executions.get(b, e.id).await, "get");
    missing(s.executions.node_results(b, e.id).await, "node_results");
    missing(s.executions.events_after(b, e.id, 0, 10).await, "events_after");
    let cancel = ExecutionUpdate { state: Some(change(ExecutionState::Cancelled, 2)), ..ExecutionUpdate::default() };
    missing(s.executions.apply(b, e.id, None, &cancel).await, "apply");
    missing(s.executions.apply(b, e.id, Some(&me), &cancel).await, "apply with the owner's lease");
    for filter in [
        ExecutionFilter::default(),
        ExecutionFilter { workflow_id: Some(wf), ..ExecutionFilter::default() },
        ExecutionFilter { state: Some(ExecutionState::Running), ..ExecutionFilter::default() },
        ExecutionFilter { parent: Some(e.id), ..ExecutionFilter::default() },
    ] {
        let listed = s.executions.list(b, filter, page(10)).await.unwrap();
        assert!(listed.items.is_empty() && listed.total == 0, "{filter:?}: {listed:?}");
    }
    let got = s.executions.get(WS, e.id).await.unwrap();
    assert_eq!((got.state, got.workspace_id), (ExecutionState::Running, WorkspaceId::DEFAULT));
    assert_eq!(s.executions.events_after(WS, e.id, 0, 10).await.unwrap().len(), 1, "nothing was appended");
    let listed = s.executions.list(WS, ExecutionFilter::default(), page(10)).await.unwrap();
    assert_eq!((listed.total, listed.items.len()), (1, 1));
}

pub async fn a_signal_never_crosses_workspaces(s: Stores) {
    let b = other();
    let wf = WorkflowId::generate();
    s.workflows.create(WS, &workflow_with(wf, at(0), "1.0.0")).await.unwrap();
    let parent = execution(wf, at(1));
    s.executions.create_with(&parent, &lease("p"), &ExecutionUpdate::default()).await.unwrap();
    let wf_b = WorkflowId::generate();
    s.workflows.create(b, &workflow_with(wf_b, at(0), "1.0.0")).await.unwrap();
    let mut child = execution(wf_b, at(2));
    child.workspace_id = b.workspace();
    let me = lease("c");
    s.executions.create_with(&child, &me, &ExecutionUpdate::default()).await.unwrap();
    let finished = RunEvent::ChildFinished {
        node_id: NodeId::from("sub"),
        child_execution_id: child.id,
        item: None,
        state: ExecutionState::Completed,
        output: None,
        error: None,
    };
    let update = ExecutionUpdate {
        signal: Some(Signal { execution_id: parent.id, event: finished, at: at(3) }),
        ..ExecutionUpdate::default()
    };
    missing(s.executions.apply(b, child.id, Some(&me), &update).await, "a signal to another workspace's execution");
    assert!(s.executions.events_after(WS, parent.id, 0, 10).await.unwrap().is_empty());
    missing(s.executions.get(b, ExecutionId::generate()).await, "an id nobody used");
}
