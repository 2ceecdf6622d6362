//! A request to people and the answers it collected.

use crate::domain::access::Role;
use crate::domain::ids::{ExecutionId, NodeId, TaskId, UserId, WorkflowId, WorkspaceId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// What a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum TaskKind {
    Approval,
    Form,
}

impl TaskKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approval => "Approval",
            Self::Form => "Form",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Approval, Self::Form].into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a request stands. Only `Pending` takes answers; every other state is final.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum TaskState {
    /// Waiting for answers.
    Pending,
    /// An approval reached its quorum of approvals: the run continues.
    Approved,
    /// An approver rejected: the node fails.
    Rejected,
    /// A form was submitted: the run continues with its values.
    Submitted,
    /// Its `timeout_seconds` passed first: the node fails.
    Expired,
    /// The run ended (cancelled, failed elsewhere) before an answer.
    Cancelled,
}

impl TaskState {
    pub const ALL: [Self; 6] =
        [Self::Pending, Self::Approved, Self::Rejected, Self::Submitted, Self::Expired, Self::Cancelled];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Approved => "Approved",
            Self::Rejected => "Rejected",
            Self::Submitted => "Submitted",
            Self::Expired => "Expired",
            Self::Cancelled => "Cancelled",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    #[must_use]
    pub fn is_final(self) -> bool {
        self != Self::Pending
    }
}

impl std::fmt::Display for TaskState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One person's answer to an approval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Decision {
    /// Who decided: `user:<id>`, `api_key:<id>` or `anonymous` (as the audit log names them).
    pub by: String,
    pub approved: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub at: DateTime<Utc>,
}

/// Who is answering, as the request checks it against its approvers or submitters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decider {
    /// As in [`Decision::by`].
    pub actor: String,
    pub user: Option<UserId>,
    /// The user's email, normalised (lower case), if known.
    pub email: Option<String>,
    pub role: Role,
    /// Whether the caller is a known person or program (not anonymous access): only then does
    /// the rule "who started the run does not approve it" apply.
    pub identified: bool,
}

/// A request to people: one per waiting Approval or Form node.
#[derive(Clone, Debug, PartialEq)]
pub struct HumanTask {
    pub id: TaskId,
    pub workspace_id: WorkspaceId,
    pub kind: TaskKind,
    pub state: TaskState,
    pub execution_id: ExecutionId,
    pub workflow_id: WorkflowId,
    pub node_id: NodeId,
    /// What is shown to people: for an approval `{message, description, context}` (rendered), for
    /// a form `{title, description, fields}`.
    pub request: Value,
    /// Who may answer: user ids (`user:<id>` or the bare id), emails, role names (`Read`,
    /// `Write`, `Admin`, any case) or API keys (`api_key:<id>`). Empty: anyone with `Write`.
    pub approvers: Vec<String>,
    /// Approvals needed (an approval's quorum; 1 for a form).
    pub quorum: u32,
    /// Whether the person who started the run may answer it.
    pub allow_initiator: bool,
    /// Who started the run, as in [`Decision::by`].
    pub started_by: Option<String>,
    pub decisions: Vec<Decision>,
    /// A submitted form's values as shown (passwords redacted).
    pub response: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
    /// Answers recorded so far; each write checks it (optimistic concurrency).
    pub revision: u32,
    /// A submitted form's `Password` values, sealed by the secrets cipher (never shown).
    pub sealed: Option<Vec<u8>>,
    /// The node's notification (`notify_url`) and its delivery log.
    pub notify: Option<super::notify::Delivery>,
}

impl HumanTask {
    /// Whether the request matches a list filter's fields.
    #[must_use]
    pub fn matches(
        &self,
        kind: Option<TaskKind>,
        state: Option<TaskState>,
        workflow: Option<WorkflowId>,
        execution: Option<ExecutionId>,
    ) -> bool {
        kind.is_none_or(|k| k == self.kind)
            && state.is_none_or(|s| s == self.state)
            && workflow.is_none_or(|w| w == self.workflow_id)
            && execution.is_none_or(|e| e == self.execution_id)
    }
}

/// What an answer did to a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Recorded; more approvals are needed (`have` of `need`).
    Recorded { have: u32, need: u32 },
    /// The request reached a final state.
    Final(TaskState),
}

/// Why an answer is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The caller is not among those who may answer (a 403).
    #[error("{0}")]
    NotAllowed(String),
    /// The request takes no more answers from this caller, or none at all (a 409).
    #[error("{0}")]
    Conflict(String),
}

impl HumanTask {
    /// Whether `who` may answer: listed among the approvers (or anyone with `Write` when none are
    /// listed), and not the person who started the run unless the node allows it.
    ///
    /// # Errors
    /// [`Refusal::NotAllowed`] naming the rule; [`Refusal::Conflict`] when the request is final.
    pub fn may_answer(&self, who: &Decider) -> Result<(), Refusal> {
        if self.state.is_final() {
            return Err(Refusal::Conflict(format!("this {} is {} already", self.noun(), self.state)));
        }
        if who.role < Role::Write {
            return Err(Refusal::NotAllowed(format!("answering this {} needs the Write role", self.noun())));
        }
        if !self.allow_initiator && who.identified && self.started_by.as_deref() == Some(who.actor.as_str()) {
            return Err(Refusal::NotAllowed(format!(
                "who started the execution may not answer its {} (set allow_initiator on the node to allow it)",
                self.noun()
            )));
        }
        if !self.approvers.is_empty() && !self.approvers.iter().any(|a| names(a, who)) {
            return Err(Refusal::NotAllowed(format!(
                "only {} may answer this {}",
                self.approvers.join(", "),
                self.noun()
            )));
        }
        Ok(())
    }

    fn noun(&self) -> &'static str {
        match self.kind {
            TaskKind::Approval => "approval",
            TaskKind::Form => "form",
        }
    }
}

/// Whether approver entry `entry` names `who`.
fn names(entry: &str, who: &Decider) -> bool {
    let entry = entry.trim();
    if let Some(role) = ["Read", "Write", "Admin"].into_iter().find(|r| r.eq_ignore_ascii_case(entry)) {
        return Role::parse(role).is_some_and(|r| who.role >= r);
    }
    if entry.eq_ignore_ascii_case(&who.actor) {
        return true;
    }
    if let (Some(user), Ok(id)) = (who.user, entry.parse::<uuid::Uuid>()) {
        return user.0 == id;
    }
    entry.contains('@') && who.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(entry))
}
