//! Approvals: deciding, the quorum (n approvals of the listed approvers; one rejection ends it),
//! and what an approved node outputs.

use super::task::{Decider, Decision, HumanTask, Refusal, TaskKind, TaskState, Verdict};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// Records `who`'s decision on approval `task`. An approval needs `quorum` approvals from
/// distinct people; a single rejection rejects it.
///
/// # Errors
/// [`Refusal::NotAllowed`] when `who` may not decide; [`Refusal::Conflict`] when the approval is
/// final already, is a form, or `who` decided it before.
pub fn decide(
    task: &mut HumanTask,
    who: &Decider,
    approved: bool,
    comment: Option<String>,
    at: DateTime<Utc>,
) -> Result<Verdict, Refusal> {
    if task.kind != TaskKind::Approval {
        return Err(Refusal::Conflict("this is a form: submit it instead".into()));
    }
    task.may_answer(who)?;
    if task.decisions.iter().any(|d| d.by == who.actor) {
        return Err(Refusal::Conflict(format!("{} decided this approval already", who.actor)));
    }
    task.decisions.push(Decision { by: who.actor.clone(), approved, comment, at });
    task.revision += 1;
    let have = u32::try_from(task.decisions.iter().filter(|d| d.approved).count()).unwrap_or(u32::MAX);
    let need = task.quorum.max(1);
    let state = if !approved {
        TaskState::Rejected
    } else if have >= need {
        TaskState::Approved
    } else {
        return Ok(Verdict::Recorded { have, need });
    };
    task.state = state;
    task.decided_at = Some(at);
    Ok(Verdict::Final(state))
}

/// The output of an approved node: `{"approved": true, "approval_id", "decisions": [...],
/// "comment"}` (`comment`: the last approver's, if any).
#[must_use]
pub fn output(task: &HumanTask) -> Value {
    json!({
        "approved": true,
        "approval_id": task.id,
        "decisions": task.decisions,
        "comment": task.decisions.iter().rev().find_map(|d| d.comment.clone()),
    })
}

/// The error of a rejected node: who rejected and why.
#[must_use]
pub fn rejection(decisions: &[Decision]) -> String {
    match decisions.iter().find(|d| !d.approved) {
        Some(d) => match &d.comment {
            Some(c) => format!("approval rejected by {}: {c}", d.by),
            None => format!("approval rejected by {}", d.by),
        },
        None => "approval rejected".into(),
    }
}

/// The error of a node whose request expired.
#[must_use]
pub fn expiry(kind: TaskKind, timeout_seconds: u64) -> String {
    match kind {
        TaskKind::Approval => format!("approval timed out: no decision within {timeout_seconds} s (timeout_seconds)"),
        TaskKind::Form => format!("form timed out: not submitted within {timeout_seconds} s (timeout_seconds)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::Role;
    use crate::domain::ids::{ExecutionId, NodeId, TaskId, UserId, WorkflowId, WorkspaceId};

    pub(crate) fn task(approvers: &[&str], quorum: u32) -> HumanTask {
        HumanTask {
            id: TaskId::generate(),
            workspace_id: WorkspaceId::DEFAULT,
            kind: TaskKind::Approval,
            state: TaskState::Pending,
            execution_id: ExecutionId::generate(),
            workflow_id: WorkflowId::generate(),
            node_id: NodeId::from("a"),
            request: json!({"message": "ok?"}),
            approvers: approvers.iter().map(|s| (*s).to_owned()).collect(),
            quorum,
            allow_initiator: false,
            started_by: Some("user:00000000-0000-0000-0000-000000000009".into()),
            decisions: Vec::new(),
            response: None,
            created_at: Utc::now(),
            expires_at: None,
            decided_at: None,
            revision: 0,
            sealed: None,
            notify: None,
        }
    }

    fn user(n: u128, role: Role) -> Decider {
        let id = UserId(uuid::Uuid::from_u128(n));
        Decider {
            actor: format!("user:{id}"),
            user: Some(id),
            email: Some(format!("u{n}@example.com")),
            role,
            identified: true,
        }
    }

    #[test]
    fn one_approval_approves_by_default() {
        let mut t = task(&[], 0);
        assert_eq!(
            decide(&mut t, &user(1, Role::Write), true, None, Utc::now()),
            Ok(Verdict::Final(TaskState::Approved))
        );
        assert_eq!(t.state, TaskState::Approved);
        assert_eq!(output(&t)["approved"], true);
    }

    #[test]
    fn a_quorum_needs_distinct_approvers_and_one_rejection_ends_it() {
        let mut t = task(&[], 2);
        assert_eq!(
            decide(&mut t, &user(1, Role::Write), true, None, Utc::now()),
            Ok(Verdict::Recorded { have: 1, need: 2 })
        );
        assert!(matches!(decide(&mut t, &user(1, Role::Write), true, None, Utc::now()), Err(Refusal::Conflict(_))));
        assert_eq!(
            decide(&mut t, &user(2, Role::Write), true, Some("fine".into()), Utc::now()),
            Ok(Verdict::Final(TaskState::Approved))
        );
        assert_eq!(output(&t)["comment"], "fine");
        let mut t = task(&[], 3);
        decide(&mut t, &user(1, Role::Write), true, None, Utc::now()).unwrap();
        assert_eq!(
            decide(&mut t, &user(2, Role::Write), false, Some("no".into()), Utc::now()),
            Ok(Verdict::Final(TaskState::Rejected))
        );
        assert!(rejection(&t.decisions).ends_with(": no"), "{}", rejection(&t.decisions));
    }

    #[test]
    fn a_final_approval_takes_no_more_decisions() {
        for state in [TaskState::Approved, TaskState::Rejected, TaskState::Expired, TaskState::Cancelled] {
            let mut t = task(&[], 1);
            t.state = state;
            assert!(matches!(decide(&mut t, &user(1, Role::Admin), true, None, Utc::now()), Err(Refusal::Conflict(_))));
        }
    }

    #[test]
    fn approvers_name_users_emails_and_roles() {
        let t = task(&["admin"], 1);
        assert!(t.may_answer(&user(1, Role::Admin)).is_ok());
        assert!(matches!(t.may_answer(&user(1, Role::Write)), Err(Refusal::NotAllowed(_))));
        let t = task(&["u2@example.com", "00000000-0000-0000-0000-000000000003"], 1);
        assert!(t.may_answer(&user(2, Role::Write)).is_ok());
        assert!(t.may_answer(&user(3, Role::Write)).is_ok());
        assert!(matches!(t.may_answer(&user(4, Role::Admin)), Err(Refusal::NotAllowed(_))));
        let t = task(&["user:00000000-0000-0000-0000-000000000005"], 1);
        assert!(t.may_answer(&user(5, Role::Write)).is_ok());
    }

    #[test]
    fn readers_never_decide_and_the_initiator_only_when_allowed() {
        let t = task(&["Read"], 1);
        assert!(matches!(t.may_answer(&user(1, Role::Read)), Err(Refusal::NotAllowed(_))));
        let mut t = task(&[], 1);
        assert!(matches!(t.may_answer(&user(9, Role::Admin)), Err(Refusal::NotAllowed(m)) if m.contains("started")));
        t.allow_initiator = true;
        assert!(t.may_answer(&user(9, Role::Admin)).is_ok());
        // Anonymous access is nobody in particular: the initiator rule does not apply.
        let mut anon = user(9, Role::Admin);
        (anon.actor, anon.identified) = ("anonymous".into(), false);
        t.allow_initiator = false;
        t.started_by = Some("anonymous".into());
        assert!(t.may_answer(&anon).is_ok());
    }

    #[test]
    fn expiry_and_rejection_messages_say_what_happened() {
        assert!(expiry(TaskKind::Approval, 60).contains("60 s"));
        assert_eq!(rejection(&[]), "approval rejected");
    }
}
