//! Approval and Form nodes: the node asks people (a request row beside the run, and an event),
//! then waits parked; an answer (a signal another process wrote) completes or fails it, and its
//! `timeout_seconds` expire it on the run's durable timer. Only the process that holds the run's
//! lease expires it, and the request's row moves out of `Pending` once, so an expiry fires once.

use super::Run;
use crate::domain::execution::NodeStatus;
use crate::domain::human::{self, HumanTask, TaskKind, TaskState};
use crate::domain::ids::TaskId;
use crate::domain::run::{Answer, RunEvent, Wait};
use crate::domain::template;
use crate::domain::workflow::NodeKind;
use crate::ports::StoreError;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// Whether the node asks people (Approval, Form).
pub(super) fn is_human(kind: &NodeKind) -> bool {
    matches!(kind, NodeKind::Approval(_) | NodeKind::Form(_))
}

/// Renders every string in `value` as a template.
fn render_value(value: &Value, data: &crate::domain::data::DataContext) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) if template::is_template(s) => Value::String(template::render(s, data)?),
        Value::Array(items) => Value::Array(items.iter().map(|v| render_value(v, data)).collect::<Result<_, _>>()?),
        Value::Object(map) => Value::Object(
            map.iter().map(|(k, v)| Ok((k.clone(), render_value(v, data)?))).collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

impl Run<'_> {
    /// The request node `idx` makes, with id `id`, expiring at `expires_at`.
    fn request_of(&self, idx: usize, id: TaskId, expires_at: Option<DateTime<Utc>>) -> Result<HumanTask, String> {
        let wf = self.rs.workflow();
        let node = wf.node(idx);
        let data = self.rs.data();
        let now = self.ex.clock.now();
        let notify = match &node.kind {
            NodeKind::Approval(c) => c.notify_url.as_deref().map(|u| (u, c.notify_secret.as_deref())),
            NodeKind::Form(c) => c.notify_url.as_deref().map(|u| (u, c.notify_secret.as_deref())),
            _ => None,
        }
        .map(|(url, secret)| human::notify::Delivery::new(url, secret, now));
        let (kind, request, approvers, quorum, allow_initiator) = match &node.kind {
            NodeKind::Approval(c) => {
                let message = template::render(&c.message, data).map_err(|e| format!("message: {e}"))?;
                let description = match &c.description {
                    Some(d) => Some(template::render(d, data).map_err(|e| format!("description: {e}"))?),
                    None => None,
                };
                let context = render_value(&c.context_data, data).map_err(|e| format!("context_data: {e}"))?;
                let request = json!({"message": message, "description": description, "context": context});
                (TaskKind::Approval, request, c.approvers.clone(), c.quorum.unwrap_or(1).max(1), c.allow_initiator)
            }
            NodeKind::Form(c) => {
                let request = json!({
                    "title": c.title,
                    "description": c.description,
                    "fields": c.fields,
                    "json_schema": human::form::json_schema(&c.title, &c.fields),
                });
                (TaskKind::Form, request, c.allowed_submitters.clone(), 1, true)
            }
            _ => return Err("this node asks nobody".into()),
        };
        Ok(HumanTask {
            id,
            workspace_id: self.scope.workspace(),
            kind,
            state: TaskState::Pending,
            execution_id: self.id,
            workflow_id: self.sink.workflow_id,
            node_id: node.id.clone(),
            request,
            approvers,
            quorum,
            allow_initiator,
            started_by: self.started_by.clone(),
            decisions: Vec::new(),
            response: None,
            created_at: now,
            expires_at,
            decided_at: None,
            revision: 0,
            sealed: None,
            notify,
        })
    }

    /// An Approval or Form node starts: it records its request and waits.
    pub(super) fn start_human(&mut self, idx: usize, attempt: u32) {
        if self.ex.tasks.is_none() {
            return self.fail(idx, attempt, "this server keeps no approvals or forms".into());
        }
        let timeout = match &self.rs.workflow().node(idx).kind {
            NodeKind::Approval(c) => c.timeout_seconds,
            NodeKind::Form(c) => c.timeout_seconds,
            _ => None,
        };
        let now = self.ex.clock.now();
        // Saved workflows wait at most a year; older versions are capped at a century, so the
        // instant stays representable.
        let expires_at = timeout.map(|s| now + chrono::Duration::seconds(s.min(100 * 365 * 24 * 3600) as i64));
        let id = TaskId::generate();
        let task = match self.request_of(idx, id, expires_at) {
            Ok(task) => task,
            Err(e) => return self.fail(idx, attempt, e),
        };
        let node_id = self.node_id(idx);
        let (requested, waiting_for) = match task.kind {
            TaskKind::Approval => (
                RunEvent::ApprovalRequested {
                    node_id: node_id.clone(),
                    approval_id: id,
                    message: task.request["message"].as_str().unwrap_or_default().to_owned(),
                    expires_at,
                },
                Wait::Approval { approval_id: id, expires_at },
            ),
            TaskKind::Form => (
                RunEvent::FormRequested {
                    node_id: node_id.clone(),
                    form_id: id,
                    title: task.request["title"].as_str().unwrap_or_default().to_owned(),
                    expires_at,
                },
                Wait::Form { form_id: id, expires_at },
            ),
        };
        self.emit(requested);
        self.emit(RunEvent::NodeWaiting { node_id, attempt, waiting_for });
        self.new_tasks.push(task);
    }

    /// Stores the requests recorded in the last committed step.
    pub(super) async fn create_tasks(&mut self) {
        let Some(store) = self.ex.tasks.clone() else { return };
        for task in std::mem::take(&mut self.new_tasks) {
            if let Err(e) = store.create_task(&task).await {
                tracing::error!(error = %e, request = %task.id, "storing a request to people failed");
                if let Some(idx) = self.rs.workflow().index_of(&task.node_id) {
                    let attempt = self.rs.node(idx).attempts.max(1);
                    self.fail(idx, attempt, format!("the request could not be stored: {e}"));
                }
            }
        }
    }

    /// A waiting Approval or Form node that has its answer completes or fails.
    pub(super) fn advance_human(&mut self, idx: usize) {
        if self.rs.status(idx) != NodeStatus::Waiting {
            return;
        }
        let attempt = self.rs.node(idx).attempts.max(1);
        match self.rs.node(idx).answer.clone() {
            None => {}
            Some(Answer::Submitted { values }) => self.succeed(idx, attempt, values.as_ref().clone(), Vec::new()),
            Some(Answer::Decided { approval_id, state, decisions }) => match state {
                TaskState::Approved => {
                    let comment = decisions.iter().rev().find_map(|d| d.comment.clone());
                    let output = json!({"approved": true, "approval_id": approval_id, "decisions": decisions, "comment": comment});
                    self.succeed(idx, attempt, output, Vec::new());
                }
                TaskState::Rejected => self.fail(idx, attempt, human::approval::rejection(&decisions)),
                TaskState::Expired => {
                    let seconds = self.timeout_of(idx);
                    self.fail(idx, attempt, human::approval::expiry(TaskKind::Approval, seconds));
                }
                other => self.fail(idx, attempt, format!("the approval ended {other} without a decision")),
            },
        }
    }

    fn timeout_of(&self, idx: usize) -> u64 {
        match &self.rs.workflow().node(idx).kind {
            NodeKind::Approval(c) => c.timeout_seconds.unwrap_or(0),
            NodeKind::Form(c) => c.timeout_seconds.unwrap_or(0),
            _ => 0,
        }
    }

    /// When the nearest request expires, if any.
    pub(super) fn next_deadline(&self) -> Option<DateTime<Utc>> {
        if self.humans == 0 {
            return None;
        }
        self.rs.deadlines().into_iter().map(|(_, _, at)| at).min()
    }

    /// Expires the requests whose time is up: the row moves to `Expired` (only if nobody answered
    /// first) and the node fails. One answered meanwhile is taken in from its row instead.
    pub(super) async fn expire_due(&mut self) {
        if self.humans == 0 {
            return;
        }
        let Some(store) = self.ex.tasks.clone() else { return };
        let now = self.ex.clock.now();
        for (idx, id, at) in self.rs.deadlines() {
            if at > now {
                continue;
            }
            let attempt = self.rs.node(idx).attempts.max(1);
            match store.close_tasks(self.scope, self.id, Some(id), TaskState::Expired, now).await {
                Ok(1..) => self.expired(idx, id, attempt),
                Ok(0) => match store.task(self.scope, id).await {
                    Ok(task) => self.take_answer(idx, &task),
                    Err(e) => {
                        tracing::warn!(error = %e, request = %id, "reading an expired request failed");
                        self.expired(idx, id, attempt);
                    }
                },
                Err(e) => tracing::warn!(error = %e, request = %id, "expiring a request failed; trying again"),
            }
        }
    }

    fn expired(&mut self, idx: usize, id: TaskId, attempt: u32) {
        let node_id = self.node_id(idx);
        let kind = if matches!(self.rs.workflow().node(idx).kind, NodeKind::Form(_)) {
            TaskKind::Form
        } else {
            TaskKind::Approval
        };
        if kind == TaskKind::Approval {
            self.emit(RunEvent::ApprovalDecided {
                node_id,
                approval_id: id,
                state: TaskState::Expired,
                decisions: Vec::new(),
            });
        }
        let seconds = self.timeout_of(idx);
        self.fail(idx, attempt, human::approval::expiry(kind, seconds));
    }

    /// Takes in an answer its row holds but the log does not (the signal was lost to a crash).
    fn take_answer(&mut self, idx: usize, task: &HumanTask) {
        let node_id = self.node_id(idx);
        let attempt = self.rs.node(idx).attempts.max(1);
        match (task.kind, task.state) {
            (TaskKind::Approval, TaskState::Approved | TaskState::Rejected | TaskState::Expired) => {
                self.emit(RunEvent::ApprovalDecided {
                    node_id,
                    approval_id: task.id,
                    state: task.state,
                    decisions: task.decisions.clone(),
                });
            }
            (TaskKind::Form, TaskState::Submitted) => {
                let by = task.decisions.last().map(|d| d.by.clone()).unwrap_or_default();
                let values = std::sync::Arc::new(task.response.clone().unwrap_or(Value::Null));
                self.emit(RunEvent::FormSubmitted { node_id, form_id: task.id, by, values });
            }
            (_, TaskState::Pending) => return,
            (kind, state) => {
                let what = if kind == TaskKind::Form { "form" } else { "approval" };
                return self.fail(idx, attempt, format!("the {what} ended {state} without an answer"));
            }
        }
        self.advance_human(idx);
    }

    /// After a resume: requests lost before they were stored are stored now, answers their rows
    /// hold but the log lacks are taken in, and waiting nodes with an answer go on.
    pub(super) async fn reconcile_tasks(&mut self) {
        if self.humans == 0 {
            return;
        }
        let Some(store) = self.ex.tasks.clone() else { return };
        for (idx, id) in self.rs.human_waits() {
            if self.rs.node(idx).answer.is_some() {
                self.dirty.push(idx);
                continue;
            }
            match store.task(self.scope, id).await {
                Ok(task) => self.take_answer(idx, &task),
                Err(StoreError::NotFound { .. }) => {
                    let expires_at = self.rs.node(idx).waiting_for.as_ref().and_then(Wait::task).and_then(|(_, at)| at);
                    match self.request_of(idx, id, expires_at) {
                        Ok(task) => self.new_tasks.push(task),
                        Err(e) => tracing::error!(error = %e, request = %id, "cannot recreate a lost request"),
                    }
                }
                Err(e) => tracing::warn!(error = %e, request = %id, "cannot check a request"),
            }
        }
    }

    /// The run ends: its requests still pending are cancelled.
    pub(super) async fn cancel_tasks(&mut self) {
        if self.humans == 0 {
            return;
        }
        let Some(store) = self.ex.tasks.clone() else { return };
        let now = self.ex.clock.now();
        if let Err(e) = store.close_tasks(self.scope, self.id, None, TaskState::Cancelled, now).await {
            tracing::warn!(error = %e, "cancelling the execution's pending requests failed");
        }
    }
}
