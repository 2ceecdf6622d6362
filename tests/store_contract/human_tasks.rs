//! Requests to people (approvals, forms): created once, read and listed per workspace, answered
//! with a revision check, closed (expired, cancelled) only while pending.

use super::{Stores, WS, at};
use oxify_api::domain::access::Scope;
use oxify_api::domain::human::{Decision, Delivery, DeliveryAttempt, DeliveryState, HumanTask, TaskKind, TaskState};
use oxify_api::domain::ids::{ExecutionId, NodeId, TaskId, WorkflowId, WorkspaceId};
use oxify_api::ports::{PageRequest, StoreError, TaskFilter};
use serde_json::json;

fn request(scope: Scope, kind: TaskKind, execution: ExecutionId, when: i64) -> HumanTask {
    HumanTask {
        id: TaskId::generate(),
        workspace_id: scope.workspace(),
        kind,
        state: TaskState::Pending,
        execution_id: execution,
        workflow_id: WorkflowId::generate(),
        node_id: NodeId::from("approve_\u{e9}"),
        request: json!({"message": "Deploy \u{1F680}?", "context": {"env": "prod"}}),
        approvers: vec!["Admin".into(), "ada@example.com".into()],
        quorum: 2,
        allow_initiator: false,
        started_by: Some("user:1".into()),
        decisions: Vec::new(),
        response: None,
        created_at: at(when),
        expires_at: Some(at(when + 60)),
        decided_at: None,
        revision: 0,
        sealed: None,
        notify: None,
    }
}

pub async fn requests_round_trip_and_are_created_once(s: Stores) {
    let t = request(WS, TaskKind::Approval, ExecutionId::generate(), 1);
    assert!(s.tasks.create_task(&t).await.unwrap());
    let mut again = t.clone();
    again.state = TaskState::Approved;
    assert!(!s.tasks.create_task(&again).await.unwrap(), "the second create changes nothing");
    assert_eq!(s.tasks.task(WS, t.id).await.unwrap(), t);
    let other = Scope::new(WorkspaceId::generate());
    assert!(matches!(s.tasks.task(other, t.id).await, Err(StoreError::NotFound { .. })));
    assert!(matches!(s.tasks.task(WS, TaskId::generate()).await, Err(StoreError::NotFound { .. })));
}

pub async fn request_answers_compare_and_set_their_revision(s: Stores) {
    let mut t = request(WS, TaskKind::Form, ExecutionId::generate(), 1);
    s.tasks.create_task(&t).await.unwrap();
    t.decisions.push(Decision { by: "user:2".into(), approved: true, comment: Some("ok".into()), at: at(2) });
    (t.state, t.response, t.sealed, t.decided_at, t.revision) =
        (TaskState::Submitted, Some(json!({"pw": "[redacted]"})), Some(vec![0, 1, 255]), Some(at(2)), 1);
    let other = Scope::new(WorkspaceId::generate());
    assert!(matches!(s.tasks.update_task(other, &t, 0).await, Err(StoreError::NotFound { .. })));
    assert!(matches!(s.tasks.update_task(WS, &t, 5).await, Err(StoreError::VersionMismatch { current: 0, .. })));
    s.tasks.update_task(WS, &t, 0).await.unwrap();
    assert_eq!(s.tasks.task(WS, t.id).await.unwrap(), t);
    // A final request takes no more answers, whatever revision is named.
    assert!(matches!(s.tasks.update_task(WS, &t, 1).await, Err(StoreError::VersionMismatch { current: 1, .. })));
}

pub async fn closing_requests_moves_only_pending_ones_once(s: Stores) {
    let execution = ExecutionId::generate();
    let a = request(WS, TaskKind::Approval, execution, 1);
    let b = request(WS, TaskKind::Form, execution, 2);
    let elsewhere = request(WS, TaskKind::Approval, ExecutionId::generate(), 3);
    for t in [&a, &b, &elsewhere] {
        s.tasks.create_task(t).await.unwrap();
    }
    let other = Scope::new(WorkspaceId::generate());
    assert_eq!(s.tasks.close_tasks(other, execution, None, TaskState::Cancelled, at(4)).await.unwrap(), 0);
    assert_eq!(s.tasks.close_tasks(WS, execution, Some(a.id), TaskState::Expired, at(5)).await.unwrap(), 1);
    assert_eq!(s.tasks.close_tasks(WS, execution, Some(a.id), TaskState::Expired, at(6)).await.unwrap(), 0, "once");
    assert_eq!(s.tasks.close_tasks(WS, execution, None, TaskState::Cancelled, at(7)).await.unwrap(), 1);
    let (a, b) = (s.tasks.task(WS, a.id).await.unwrap(), s.tasks.task(WS, b.id).await.unwrap());
    assert_eq!((a.state, a.decided_at), (TaskState::Expired, Some(at(5))));
    assert_eq!((b.state, b.decided_at), (TaskState::Cancelled, Some(at(7))));
    assert_eq!(s.tasks.task(WS, elsewhere.id).await.unwrap().state, TaskState::Pending);
}

pub async fn requests_list_filtered_newest_first_per_workspace(s: Stores) {
    let execution = ExecutionId::generate();
    let mut made = Vec::new();
    for i in 0..5 {
        let kind = if i == 4 { TaskKind::Form } else { TaskKind::Approval };
        let t = request(WS, kind, execution, i);
        s.tasks.create_task(&t).await.unwrap();
        made.push(t);
    }
    s.tasks.create_task(&request(Scope::new(WorkspaceId::generate()), TaskKind::Approval, execution, 9)).await.unwrap();
    s.tasks.close_tasks(WS, execution, Some(made[0].id), TaskState::Expired, at(10)).await.unwrap();
    let approvals = TaskFilter { kind: Some(TaskKind::Approval), ..TaskFilter::default() };
    let first = s.tasks.tasks(WS, approvals, PageRequest { limit: 2, after: None }).await.unwrap();
    assert_eq!(first.total, 4);
    assert_eq!(first.items.iter().map(|t| t.id).collect::<Vec<_>>(), vec![made[3].id, made[2].id]);
    let rest = s.tasks.tasks(WS, approvals, PageRequest { limit: 2, after: first.next }).await.unwrap();
    assert_eq!(rest.items.iter().map(|t| t.id).collect::<Vec<_>>(), vec![made[1].id, made[0].id]);
    assert!(rest.next.is_none());
    let pending = TaskFilter { state: Some(TaskState::Pending), execution_id: Some(execution), ..approvals };
    assert_eq!(s.tasks.tasks(WS, pending, PageRequest { limit: 10, after: None }).await.unwrap().total, 3);
    let by_workflow = TaskFilter { workflow_id: Some(made[4].workflow_id), ..TaskFilter::default() };
    let found = s.tasks.tasks(WS, by_workflow, PageRequest { limit: 10, after: None }).await.unwrap();
    assert_eq!(found.items.iter().map(|t| t.kind).collect::<Vec<_>>(), vec![TaskKind::Form]);
    let count = s.tasks.tasks(WS, TaskFilter::default(), PageRequest { limit: 0, after: None }).await.unwrap();
    assert_eq!((count.total, count.items.len()), (5, 0));
}

pub async fn due_notifications_are_claimed_once_and_their_log_is_kept(s: Stores) {
    let claim = chrono::Duration::seconds(60);
    let mut t = request(WS, TaskKind::Approval, ExecutionId::generate(), 1);
    t.notify = Some(Delivery::new("https://hooks.example.com/\u{e9}", Some("HOOK"), at(10)));
    s.tasks.create_task(&t).await.unwrap();
    s.tasks.create_task(&request(WS, TaskKind::Form, ExecutionId::generate(), 2)).await.unwrap();
    assert_eq!(s.tasks.task(WS, t.id).await.unwrap(), t, "the notification round-trips");
    assert!(s.tasks.due_notifications(at(9), claim, 10).await.unwrap().is_empty(), "not due yet");
    let due = s.tasks.due_notifications(at(10), claim, 10).await.unwrap();
    assert_eq!(due.iter().map(|d| d.id).collect::<Vec<_>>(), vec![t.id], "due, and only requests that notify");
    assert!(s.tasks.due_notifications(at(11), claim, 10).await.unwrap().is_empty(), "claimed: nobody else gets it");
    assert_eq!(s.tasks.due_notifications(at(70), claim, 10).await.unwrap().len(), 1, "the claim ran out");
    let mut delivery = t.notify.clone().unwrap();
    delivery.record(DeliveryAttempt { at: at(71), status: Some(500), error: Some("500".into()), duration_ms: 3 });
    let other = Scope::new(WorkspaceId::generate());
    assert!(matches!(s.tasks.record_notification(other, t.id, &delivery).await, Err(StoreError::NotFound { .. })));
    s.tasks.record_notification(WS, t.id, &delivery).await.unwrap();
    assert!(s.tasks.due_notifications(at(71), claim, 10).await.unwrap().is_empty(), "recorded: due after its backoff");
    let due = s.tasks.due_notifications(at(72), claim, 10).await.unwrap();
    assert_eq!(due[0].notify.as_ref(), Some(&delivery), "the claim hands out the log as recorded");
    delivery.record(DeliveryAttempt { at: at(72), status: Some(204), error: None, duration_ms: 2 });
    s.tasks.record_notification(WS, t.id, &delivery).await.unwrap();
    assert!(s.tasks.due_notifications(at(10_000), claim, 10).await.unwrap().is_empty(), "delivered: never again");
    let stored = s.tasks.task(WS, t.id).await.unwrap().notify.unwrap();
    assert_eq!((stored.state, stored.attempts.len()), (DeliveryState::Delivered, 2));
}
