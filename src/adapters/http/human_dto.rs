//! Bodies of the approval and form routes.

use super::pagination::{PageParams, encode};
use crate::domain::human::{Decision, Delivery, HumanTask, TaskState};
use crate::domain::ids::{ExecutionId, NodeId, TaskId, WorkflowId};
use crate::ports::Page;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// Filters of an approval or form list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskListParams {
    /// Only requests in this state (`Pending`, `Approved`, `Rejected`, `Submitted`, `Expired`,
    /// `Cancelled`).
    pub state: Option<TaskState>,
    /// Only requests of runs of this workflow.
    pub workflow_id: Option<WorkflowId>,
    /// Only requests of this execution.
    pub execution_id: Option<ExecutionId>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[0-9]{1,16}_[0-9a-f]{32}$")]
    pub cursor: Option<String>,
}

impl TaskListParams {
    pub fn page(&self) -> PageParams {
        PageParams { limit: self.limit, cursor: self.cursor.clone() }
    }
}

/// An approval: what it asks, who may decide, and the decisions so far.
#[derive(Serialize, ToSchema)]
pub struct ApprovalBody {
    #[schema(value_type = String, format = Uuid)]
    pub id: TaskId,
    pub state: TaskState,
    #[schema(value_type = String, format = Uuid)]
    pub execution_id: ExecutionId,
    #[schema(value_type = String, format = Uuid)]
    pub workflow_id: WorkflowId,
    #[schema(value_type = String)]
    pub node_id: NodeId,
    /// The rendered message.
    pub message: String,
    pub description: Option<String>,
    /// The rendered `context_data`.
    #[schema(value_type = Object)]
    pub context: Value,
    /// Users (ids, `user:<id>`, emails), roles (`Admin`...) or API keys (`api_key:<id>`) who may
    /// decide; empty: anyone with the `Write` role.
    pub approvers: Vec<String>,
    /// Approvals needed; one rejection rejects.
    pub quorum: u32,
    pub allow_initiator: bool,
    /// Who started the execution (`user:<id>`, `api_key:<id>`, `anonymous`).
    pub started_by: Option<String>,
    pub decisions: Vec<Decision>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
    /// The node's `notify_url` notification and its delivery log (every attempt), if it has one.
    pub notification: Option<Delivery>,
}

impl From<HumanTask> for ApprovalBody {
    fn from(t: HumanTask) -> Self {
        let text = |k: &str| t.request.get(k).and_then(Value::as_str).map(str::to_owned);
        Self {
            message: text("message").unwrap_or_default(),
            description: text("description"),
            context: t.request.get("context").cloned().unwrap_or(Value::Null),
            id: t.id,
            state: t.state,
            execution_id: t.execution_id,
            workflow_id: t.workflow_id,
            node_id: t.node_id,
            approvers: t.approvers,
            quorum: t.quorum,
            allow_initiator: t.allow_initiator,
            started_by: t.started_by,
            decisions: t.decisions,
            created_at: t.created_at,
            expires_at: t.expires_at,
            decided_at: t.decided_at,
            notification: t.notify,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ApprovalList {
    pub approvals: Vec<ApprovalBody>,
    pub total: u64,
    pub next_cursor: Option<String>,
}

impl From<Page<HumanTask>> for ApprovalList {
    fn from(page: Page<HumanTask>) -> Self {
        Self {
            approvals: page.items.into_iter().map(Into::into).collect(),
            total: page.total,
            next_cursor: page.next.as_ref().map(encode),
        }
    }
}

/// A decision's optional comment.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    pub comment: Option<String>,
}

/// A form: its fields, the same as JSON Schema, and once submitted its values (passwords
/// redacted).
#[derive(Serialize, ToSchema)]
pub struct FormBody {
    #[schema(value_type = String, format = Uuid)]
    pub id: TaskId,
    pub state: TaskState,
    #[schema(value_type = String, format = Uuid)]
    pub execution_id: ExecutionId,
    #[schema(value_type = String, format = Uuid)]
    pub workflow_id: WorkflowId,
    #[schema(value_type = String)]
    pub node_id: NodeId,
    pub title: String,
    pub description: Option<String>,
    /// The node's fields, as configured.
    #[schema(value_type = Vec<Object>)]
    pub fields: Value,
    /// The submission's `values` as a JSON Schema (draft 2020-12).
    #[schema(value_type = Object)]
    pub json_schema: Value,
    /// Who may submit; empty: anyone with the `Write` role.
    pub allowed_submitters: Vec<String>,
    /// The accepted values once submitted, `Password` fields as `"[redacted]"`.
    #[schema(value_type = Option<Object>)]
    pub values: Option<Value>,
    pub submitted_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub submitted_at: Option<DateTime<Utc>>,
    /// The node's `notify_url` notification and its delivery log (every attempt), if it has one.
    pub notification: Option<Delivery>,
}

impl From<HumanTask> for FormBody {
    fn from(t: HumanTask) -> Self {
        let get = |k: &str| t.request.get(k).cloned().unwrap_or(Value::Null);
        Self {
            title: get("title").as_str().unwrap_or_default().to_owned(),
            description: get("description").as_str().map(str::to_owned),
            fields: get("fields"),
            json_schema: get("json_schema"),
            submitted_by: t.decisions.last().map(|d| d.by.clone()),
            id: t.id,
            state: t.state,
            execution_id: t.execution_id,
            workflow_id: t.workflow_id,
            node_id: t.node_id,
            allowed_submitters: t.approvers,
            values: t.response,
            created_at: t.created_at,
            expires_at: t.expires_at,
            submitted_at: t.decided_at,
            notification: t.notify,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct FormList {
    pub forms: Vec<FormBody>,
    pub total: u64,
    pub next_cursor: Option<String>,
}

impl From<Page<HumanTask>> for FormList {
    fn from(page: Page<HumanTask>) -> Self {
        Self {
            forms: page.items.into_iter().map(Into::into).collect(),
            total: page.total,
            next_cursor: page.next.as_ref().map(encode),
        }
    }
}

/// A form's submission: a value per field id.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    #[schema(value_type = Object)]
    pub values: serde_json::Map<String, Value>,
}
