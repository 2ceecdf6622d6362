//! Requests to people: list and read approvals and forms, decide an approval, submit a form. An
//! answer that settles a request is written to its row (checked against the row's revision) and
//! then signalled to the run that waits on it, which wakes on whichever process claims it.

use super::error::ServiceError;
use super::executions::ExecutionService;
use crate::domain::access::{Principal, Subject};
use crate::domain::human::{self, Decider, Decision, HumanTask, Refusal, TaskKind, TaskState, Verdict};
use crate::domain::ids::TaskId;
use crate::domain::run::RunEvent;
use crate::domain::validation::ValidationError;
use crate::domain::workflow::FormField;
use crate::ports::{Clock, HumanTaskStore, IdentityStore, Page, PageRequest, SecretCipher, StoreError, TaskFilter};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Attempts at an answer when others answer the same request at once.
const ANSWER_TRIES: usize = 5;

pub struct HumanTaskService {
    tasks: Arc<dyn HumanTaskStore>,
    executions: Arc<ExecutionService>,
    identities: Arc<dyn IdentityStore>,
    cipher: Arc<dyn SecretCipher>,
    clock: Arc<dyn Clock>,
}

impl HumanTaskService {
    #[must_use]
    pub fn new(
        tasks: Arc<dyn HumanTaskStore>,
        executions: Arc<ExecutionService>,
        identities: Arc<dyn IdentityStore>,
        cipher: Arc<dyn SecretCipher>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { tasks, executions, identities, cipher, clock }
    }

    /// Requests of `kind` in the caller's workspace, newest first.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn list(
        &self,
        who: &Principal,
        filter: TaskFilter,
        page: PageRequest,
    ) -> Result<Page<HumanTask>, ServiceError> {
        Ok(self.tasks.tasks(who.scope(), filter, page).await?)
    }

    /// One request of `kind`.
    ///
    /// # Errors
    /// `NotFound` (also for a request of another kind or workspace).
    pub async fn get(&self, who: &Principal, kind: TaskKind, id: TaskId) -> Result<HumanTask, ServiceError> {
        let task = self.tasks.task(who.scope(), id).await?;
        if task.kind != kind {
            return Err(not_found(kind, id));
        }
        Ok(task)
    }

    /// Records `who`'s decision on approval `id`; once it settles the approval (quorum reached,
    /// or a rejection) the waiting run continues or its node fails.
    ///
    /// # Errors
    /// `NotFound`; `Forbidden` when `who` may not decide; `Conflict` when the approval is decided,
    /// expired or cancelled, or `who` decided it already.
    pub async fn decide(
        &self,
        who: &Principal,
        id: TaskId,
        approved: bool,
        comment: Option<String>,
    ) -> Result<HumanTask, ServiceError> {
        let decider = self.decider(who).await?;
        for _ in 0..ANSWER_TRIES {
            let mut task = self.get(who, TaskKind::Approval, id).await?;
            let now = self.clock.now();
            self.check_open(&task, now)?;
            let expected = task.revision;
            let verdict =
                human::approval::decide(&mut task, &decider, approved, comment.clone(), now).map_err(refused)?;
            match self.tasks.update_task(who.scope(), &task, expected).await {
                Ok(()) => {}
                Err(StoreError::VersionMismatch { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
            if let Verdict::Final(state) = verdict {
                let event = RunEvent::ApprovalDecided {
                    node_id: task.node_id.clone(),
                    approval_id: task.id,
                    state,
                    decisions: task.decisions.clone(),
                };
                self.executions.signal(who.scope(), task.execution_id, event).await?;
            }
            return Ok(task);
        }
        Err(ServiceError::Conflict("the approval keeps changing under this decision; try again".into()))
    }

    /// Submits form `id`: every field is checked; the accepted values (passwords sealed, shown
    /// redacted) become the node's output.
    ///
    /// # Errors
    /// `NotFound`; `Forbidden` when `who` may not submit; `Validation` listing every problem with
    /// its path (`values.<field id>`); `Conflict` when the form is submitted, expired or cancelled.
    pub async fn submit(
        &self,
        who: &Principal,
        id: TaskId,
        values: &Map<String, Value>,
    ) -> Result<HumanTask, ServiceError> {
        let decider = self.decider(who).await?;
        let mut task = self.get(who, TaskKind::Form, id).await?;
        let now = self.clock.now();
        self.check_open(&task, now)?;
        task.may_answer(&decider).map_err(refused)?;
        let fields: Vec<FormField> = serde_json::from_value(task.request["fields"].clone())
            .map_err(|e| ServiceError::Internal(format!("the stored form's fields do not read: {e}")))?;
        let accepted = human::form::check(&fields, values).map_err(|problems| ValidationError { problems })?;
        let passwords = human::form::passwords(&fields, &accepted);
        let shown = Value::Object(human::form::redacted(&fields, &accepted));
        let expected = task.revision;
        if !passwords.is_empty() {
            let clear: Map<String, Value> = passwords.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            let clear = Value::Object(clear).to_string();
            task.sealed = Some(self.cipher.seal(&seal_context(&task), clear.as_bytes()));
        }
        (task.state, task.response, task.decided_at, task.revision) =
            (TaskState::Submitted, Some(shown.clone()), Some(now), expected + 1);
        task.decisions.push(Decision { by: decider.actor.clone(), approved: true, comment: None, at: now });
        match self.tasks.update_task(who.scope(), &task, expected).await {
            Ok(()) => {}
            Err(StoreError::VersionMismatch { .. }) => {
                return Err(ServiceError::Conflict("this form was answered meanwhile".into()));
            }
            Err(e) => return Err(e.into()),
        }
        let event = RunEvent::FormSubmitted {
            node_id: task.node_id.clone(),
            form_id: task.id,
            by: decider.actor,
            values: Arc::new(shown),
        };
        self.executions.signal(who.scope(), task.execution_id, event).await?;
        Ok(task)
    }

    /// A request past its time takes no answer, even before its run expired it.
    fn check_open(&self, task: &HumanTask, now: chrono::DateTime<chrono::Utc>) -> Result<(), ServiceError> {
        let noun = if task.kind == TaskKind::Form { "form" } else { "approval" };
        if task.state.is_final() {
            return Err(ServiceError::Conflict(format!("this {noun} is {} already", task.state)));
        }
        if task.expires_at.is_some_and(|at| at <= now) {
            return Err(ServiceError::Conflict(format!("this {noun} is Expired already")));
        }
        Ok(())
    }

    async fn decider(&self, who: &Principal) -> Result<Decider, ServiceError> {
        let (user, email) = match who.subject {
            Subject::User(id) => match self.identities.user(id).await {
                Ok(u) => (Some(id), u.email.map(|e| e.to_string().to_lowercase())),
                Err(StoreError::NotFound { .. }) => (Some(id), None),
                Err(e) => return Err(e.into()),
            },
            _ => (None, None),
        };
        Ok(Decider {
            actor: crate::ports::actor(who.subject),
            user,
            email,
            role: who.role,
            identified: matches!(who.subject, Subject::User(_) | Subject::ApiKey(_)),
        })
    }
}

/// What a form's sealed values are bound to: its workspace and id.
fn seal_context(task: &HumanTask) -> Vec<u8> {
    format!("form:{}:{}", task.workspace_id, task.id).into_bytes()
}

fn not_found(kind: TaskKind, id: TaskId) -> ServiceError {
    ServiceError::NotFound(format!("{} {id} not found", kind.as_str()))
}

fn refused(r: Refusal) -> ServiceError {
    match r {
        Refusal::NotAllowed(m) => ServiceError::Forbidden(m),
        Refusal::Conflict(m) => ServiceError::Conflict(m),
    }
}
