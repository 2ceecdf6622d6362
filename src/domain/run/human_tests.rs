//! The run's state around requests to people and pauses by hand: a node waiting on an approval
//! or a form, its deadline, the answer it takes in (also across a fold of the log, as a resumed
//! run sees it), and the hold a pause request puts on the run.

use super::{Answer, RunEvent, RunState, Wait};
use crate::domain::execution::{ExecutionState, NodeStatus};
use crate::domain::human::{Decision, TaskState};
use crate::domain::ids::{NodeId, TaskId};
use crate::domain::validation::tests::{edge, node, workflow};
use chrono::{DateTime, Utc};
use serde_json::{Map, json};
use std::sync::Arc;

fn at(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
}

/// Start -> a (Approval) -> e (End), started, with `a` waiting on approval `id` expiring at `expires`.
fn waiting(id: TaskId, expires: Option<DateTime<Utc>>) -> (RunState, Vec<RunEvent>) {
    let wf = crate::domain::validation::validate(workflow(
        json!([
            node("s", json!({"type": "Start"})),
            node("a", json!({"type": "Approval", "config": {"message": "ok?"}})),
            node("e", json!({"type": "End"}))
        ]),
        json!([edge("s", "a"), edge("a", "e")]),
    ))
    .unwrap();
    let a = NodeId::from("a");
    let log = vec![
        RunEvent::ExecutionStarted,
        RunEvent::NodeStarted { node_id: NodeId::from("s"), attempt: 1 },
        RunEvent::NodeCompleted {
            node_id: NodeId::from("s"),
            attempt: 1,
            output: Arc::new(json!({})),
            taken: Vec::new(),
            duration_ms: None,
            reused_from: None,
        },
        RunEvent::NodeStarted { node_id: a.clone(), attempt: 1 },
        RunEvent::ApprovalRequested { node_id: a.clone(), approval_id: id, message: "ok?".into(), expires_at: expires },
        RunEvent::NodeWaiting {
            node_id: a,
            attempt: 1,
            waiting_for: Wait::Approval { approval_id: id, expires_at: expires },
        },
    ];
    let rs = RunState::fold(wf, Arc::new(Map::new()), log.iter().map(|e| (e, at(0)))).unwrap();
    (rs, log)
}

#[test]
fn a_node_waiting_on_an_approval_has_its_request_and_deadline() {
    let id = TaskId::generate();
    let (rs, _) = waiting(id, Some(at(60)));
    assert_eq!(rs.status(1), NodeStatus::Waiting);
    assert_eq!(rs.human_waits(), vec![(1, id)]);
    assert_eq!(rs.deadlines(), vec![(1, id, at(60))]);
    let (rs, _) = waiting(id, None);
    assert!(rs.deadlines().is_empty(), "no timeout_seconds, no deadline");
}

#[test]
fn a_decision_is_the_nodes_answer_and_ends_its_deadline() {
    let id = TaskId::generate();
    let (mut rs, mut log) = waiting(id, Some(at(60)));
    let decisions = vec![Decision { by: "user:1".into(), approved: true, comment: None, at: at(5) }];
    let decided = RunEvent::ApprovalDecided {
        node_id: NodeId::from("a"),
        approval_id: id,
        state: TaskState::Approved,
        decisions,
    };
    rs.apply(&decided, at(5)).unwrap();
    assert!(matches!(rs.node(1).answer, Some(Answer::Decided { state: TaskState::Approved, .. })));
    assert!(rs.deadlines().is_empty(), "an answered request no longer expires");
    // A run resumed elsewhere folds the same log to the same answer.
    log.push(decided);
    let (fresh, _) = waiting(id, Some(at(60)));
    let folded =
        RunState::fold(fresh.workflow().clone(), Arc::new(Map::new()), log.iter().map(|e| (e, at(0)))).unwrap();
    assert_eq!(folded.node(1).answer, rs.node(1).answer);
}

#[test]
fn a_submission_carries_the_values_the_node_outputs() {
    let id = TaskId::generate();
    let (mut rs, _) = waiting(id, None);
    let values = Arc::new(json!({"name": "Ada", "pw": "[redacted]"}));
    let submitted = RunEvent::FormSubmitted { node_id: NodeId::from("a"), form_id: id, by: "anonymous".into(), values };
    rs.apply(&submitted, at(1)).unwrap();
    let Some(Answer::Submitted { values }) = &rs.node(1).answer else { panic!("{:?}", rs.node(1).answer) };
    assert_eq!(values["pw"], "[redacted]");
}

#[test]
fn an_expiry_failing_the_node_fails_the_run_unless_routed() {
    let id = TaskId::generate();
    let (mut rs, _) = waiting(id, None);
    let decided = RunEvent::ApprovalDecided {
        node_id: NodeId::from("a"),
        approval_id: id,
        state: TaskState::Expired,
        decisions: vec![],
    };
    rs.apply(&decided, at(1)).unwrap();
    let failed = RunEvent::NodeFailed {
        node_id: NodeId::from("a"),
        attempt: 1,
        error: "approval timed out".into(),
        duration_ms: None,
        routed_to: None,
    };
    rs.apply(&failed, at(1)).unwrap();
    assert_eq!(rs.failure().map(|f| f.contains("timed out")), Some(true), "an expiry fails the run unless routed");
}

#[test]
fn a_pause_request_holds_the_run_until_a_resume_request() {
    let (mut rs, _) = waiting(TaskId::generate(), None);
    assert!(!rs.held());
    rs.apply(&RunEvent::PauseRequested { by: "user:1".into() }, at(1)).unwrap();
    assert!(rs.held());
    assert_eq!(rs.state(), ExecutionState::Running, "the request itself parks nothing");
    rs.apply(&RunEvent::ExecutionPaused { reason: "paused".into(), waiting: vec![] }, at(2)).unwrap();
    assert_eq!(rs.state(), ExecutionState::Paused);
    rs.apply(&RunEvent::ResumeRequested { by: "user:1".into() }, at(3)).unwrap();
    assert!(!rs.held());
    rs.apply(&RunEvent::ExecutionResumed { reason: "woken".into() }, at(4)).unwrap();
    assert_eq!(rs.state(), ExecutionState::Running);
}

#[test]
fn a_pause_request_after_the_end_holds_nothing() {
    let (mut rs, _) = waiting(TaskId::generate(), None);
    rs.apply(&RunEvent::ExecutionCancelled { reason: "cancelled".into() }, at(1)).unwrap();
    rs.apply(&RunEvent::PauseRequested { by: "user:1".into() }, at(2)).unwrap();
    assert!(!rs.held());
}
