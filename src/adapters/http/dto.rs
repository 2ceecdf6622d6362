//! Request and response bodies, in the seed's shapes plus what the seed lacked (ids on node
//! results, versions, paging).

use crate::domain::budget::BudgetLimits;
use crate::domain::execution::{Execution, ExecutionState, NodeResult, NodeStatus};
use crate::domain::ids::{ExecutionId, NodeId, WorkflowId};
use crate::domain::usage::Usage;
use crate::domain::workflow::{Workflow, WorkflowDraft, WorkflowMetadata};
use crate::ports::{VersionInfo, VersionedWorkflow, WorkflowSummary};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// `{"workflow": {...}}`, as the seed takes it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct WorkflowRequest {
    pub workflow: WorkflowDraft,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowCreated {
    pub id: WorkflowId,
    pub message: String,
    pub workflow_version: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowUpdated {
    pub message: String,
    pub workflow_version: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowResponse {
    pub workflow: Workflow,
    /// Stored version number: 1 at creation, +1 per update.
    pub workflow_version: u32,
}

impl From<VersionedWorkflow> for WorkflowResponse {
    fn from(v: VersionedWorkflow) -> Self {
        Self { workflow: v.workflow.workflow().clone(), workflow_version: v.version }
    }
}

/// A workflow in a list: its metadata and size, not its whole definition.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowListItem {
    pub metadata: WorkflowMetadata,
    pub workflow_version: u32,
    pub node_count: usize,
    pub edge_count: usize,
}

impl From<WorkflowSummary> for WorkflowListItem {
    fn from(s: WorkflowSummary) -> Self {
        Self { metadata: s.metadata, workflow_version: s.version, node_count: s.node_count, edge_count: s.edge_count }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowList {
    pub workflows: Vec<WorkflowListItem>,
    /// Workflows in all pages.
    pub total: u64,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// One stored version of a workflow.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionItem {
    pub workflow_version: u32,
    pub saved_at: DateTime<Utc>,
    pub name: String,
    /// The author's `metadata.version` label.
    pub version: String,
    pub change_description: Option<String>,
}

impl From<VersionInfo> for VersionItem {
    fn from(v: VersionInfo) -> Self {
        Self {
            workflow_version: v.version,
            saved_at: v.saved_at,
            name: v.name,
            version: v.label,
            change_description: v.change_description,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionList {
    pub versions: Vec<VersionItem>,
    pub total: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageResponse {
    pub message: String,
}

/// Input of a run. The body may be omitted altogether; a field it does not know is refused (a
/// misspelt `variables` would otherwise start a run without its input).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteRequest {
    /// Visible to templates and expressions by name (`{{ user_query }}`).
    #[serde(default)]
    pub variables: Map<String, Value>,
    /// Most tokens all model calls of this run may use; the call that would pass it is not made
    /// and the run fails.
    #[schema(minimum = 1)]
    #[serde(default, deserialize_with = "crate::domain::whole::opt_u64")]
    pub max_tokens: Option<u64>,
    /// Most dollars all model calls of this run may cost (needs `OXIFY_LLM_PRICES` for the models).
    #[schema(exclusive_minimum = 0)]
    pub max_cost_usd: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExecuteResponse {
    pub execution_id: ExecutionId,
    pub message: String,
    pub workflow_version: u32,
}

impl ExecuteResponse {
    /// The answer to a request that started `execution`.
    #[must_use]
    pub fn started(execution: &Execution) -> Self {
        Self {
            execution_id: execution.id,
            message: "Workflow execution started".into(),
            workflow_version: execution.workflow_version,
        }
    }
}

/// A rerun: from which node, and what changes.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RerunRequest {
    /// The node to run again; it and everything it leads to run, the rest keeps its outputs.
    #[schema(value_type = String, example = "answer")]
    pub from_node: NodeId,
    /// Variables to change; the others stay as they were.
    #[serde(default)]
    pub variables: Map<String, Value>,
    /// Spending limits for the rerun; the old execution's when absent.
    pub max_tokens: Option<u64>,
    pub max_cost_usd: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RerunResponse {
    pub execution_id: ExecutionId,
    pub message: String,
    pub workflow_version: u32,
    /// The execution rerun.
    pub rerun_of: ExecutionId,
}

/// One node's latest result.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeResultBody {
    pub node_id: NodeId,
    #[schema(value_type = String)]
    pub node_name: std::sync::Arc<str>,
    #[schema(value_type = String)]
    pub kind: std::borrow::Cow<'static, str>,
    pub status: NodeStatus,
    #[schema(value_type = Option<Object>)]
    pub output: Option<std::sync::Arc<Value>>,
    pub error: Option<String>,
    /// Attempts started (retries + 1).
    pub attempts: u32,
    /// Retries, as the seed counts them.
    pub retry_count: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    /// Tokens and cost, for nodes that call a model.
    pub usage: Option<Usage>,
}

impl From<NodeResult> for NodeResultBody {
    fn from(r: NodeResult) -> Self {
        let duration_ms = r.started_at.zip(r.completed_at).map(|(s, c)| (c - s).num_milliseconds());
        let usage = r.usage;
        Self {
            node_id: r.node_id,
            node_name: r.node_name,
            kind: r.kind,
            status: r.status,
            output: r.output,
            error: r.error,
            attempts: r.attempts,
            retry_count: r.attempts.saturating_sub(1),
            started_at: r.started_at,
            completed_at: r.completed_at,
            duration_ms,
            usage,
        }
    }
}

/// An execution with every node result.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExecutionResponse {
    pub execution_id: ExecutionId,
    pub workflow_id: WorkflowId,
    /// The workflow version this execution ran.
    pub workflow_version: u32,
    pub state: ExecutionState,
    /// Why it failed or was cancelled.
    pub error: Option<String>,
    pub variables: Map<String, Value>,
    /// Spending limits set by the execute request, if any.
    #[serde(skip_serializing_if = "BudgetLimits::is_unlimited")]
    pub budget: BudgetLimits,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Tokens and cost of every model call, summed; absent when no node called a model.
    pub usage: Option<Usage>,
    /// What the workflow produced, once completed: the outputs of the nodes that feed its End
    /// nodes, by node id (of its sinks when it has no End node).
    #[schema(value_type = Option<Object>)]
    pub output: Option<Value>,
    /// For a child execution (a SubWorkflow's, a Loop item's): the execution it runs for.
    pub parent_execution_id: Option<ExecutionId>,
    /// ... and the node of that execution.
    #[schema(value_type = Option<String>)]
    pub parent_node_id: Option<NodeId>,
    /// How deep in a chain of child executions (0: started by a client).
    pub depth: u32,
    /// The execution this one reruns (`POST /api/v1/executions/{id}/rerun`).
    pub rerun_of: Option<ExecutionId>,
    pub node_results: Vec<NodeResultBody>,
}

impl ExecutionResponse {
    #[must_use]
    pub fn new(e: Execution, results: Vec<NodeResult>) -> Self {
        let usage = results.iter().filter_map(|r| r.usage).reduce(Usage::plus);
        Self {
            output: e.output.map(|o| o.as_ref().clone()),
            parent_execution_id: e.parent.as_ref().map(|p| p.execution_id),
            parent_node_id: e.parent.map(|p| p.node_id),
            depth: e.depth,
            rerun_of: e.rerun_of,
            execution_id: e.id,
            workflow_id: e.workflow_id,
            workflow_version: e.workflow_version,
            state: e.state,
            error: e.error,
            variables: e.variables.as_ref().clone(),
            budget: e.budget,
            created_at: e.created_at,
            started_at: e.started_at,
            completed_at: e.completed_at,
            usage,
            node_results: results.into_iter().map(Into::into).collect(),
        }
    }
}

/// An execution in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExecutionSummary {
    pub execution_id: ExecutionId,
    pub workflow_id: WorkflowId,
    pub workflow_version: u32,
    pub state: ExecutionState,
    pub error: Option<String>,
    /// For a child execution: the execution it runs for.
    pub parent_execution_id: Option<ExecutionId>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<Execution> for ExecutionSummary {
    fn from(e: Execution) -> Self {
        Self {
            execution_id: e.id,
            workflow_id: e.workflow_id,
            workflow_version: e.workflow_version,
            state: e.state,
            error: e.error,
            parent_execution_id: e.parent.map(|p| p.execution_id),
            created_at: e.created_at,
            started_at: e.started_at,
            completed_at: e.completed_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExecutionList {
    pub executions: Vec<ExecutionSummary>,
    pub total: u64,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CancelResponse {
    pub message: String,
    pub execution_id: ExecutionId,
    pub state: ExecutionState,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    pub status: String,
    pub version: String,
}
