//! The workflow document in the seed's wire format, and the looser draft a newcomer may write by hand.

use super::node_kind::NodeKind;
use crate::domain::ids::{NodeId, WorkflowId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A stored workflow: metadata, nodes and the edges between them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Workflow {
    pub metadata: WorkflowMetadata,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// The variables an execution takes, as a JSON Schema object (see [`WorkflowDraft::input_schema`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub input_schema: Option<serde_json::Value>,
}

/// Descriptive data of a workflow. `version` is the author's free-text label; the server counts
/// stored versions separately (`workflow_version`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkflowMetadata {
    pub id: WorkflowId,
    pub name: String,
    pub description: Option<String>,
    pub version: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub parent_id: Option<WorkflowId>,
    pub change_description: Option<String>,
    pub schedule: Option<WorkflowSchedule>,
}

/// A cron schedule, stored as given (the seed's shape).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkflowSchedule {
    pub cron: String,
    #[serde(default = "default_timezone")]
    pub timezone: String,
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default, deserialize_with = "crate::domain::whole::opt_u32")]
    pub max_concurrent_runs: Option<u32>,
    #[serde(default)]
    pub retry_on_failure: bool,
    /// Stored as given, like the rest of the schedule (schedules do not run yet).
    pub start_date: Option<String>,
    /// Stored as given, like the rest of the schedule (schedules do not run yet).
    pub end_date: Option<String>,
}

fn default_timezone() -> String {
    "UTC".into()
}

fn default_true() -> bool {
    true
}

/// One step of a workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Node {
    pub id: NodeId,
    pub name: String,
    pub kind: NodeKind,
    /// Editor coordinates `[x, y]`.
    #[schema(value_type = Option<Vec<f64>>, min_items = 2, max_items = 2)]
    pub position: Option<(f64, f64)>,
    pub retry_config: Option<RetryConfig>,
    pub timeout_config: Option<TimeoutConfig>,
    /// Where a failure goes once retries are spent; without it a failure fails the execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<ErrorRoute>,
}

/// An error route: when the node fails for good, its edge to `route_to` (a direct successor)
/// is the only one taken and the execution goes on; on success that edge is not taken. The
/// fallback reads the failure as `nodes.<id>.output.error` (`{"node_id", "kind", "message"}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorRoute {
    pub route_to: NodeId,
}

/// A directed dependency: `to` runs after `from`. `label` and `condition` are informational.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Edge {
    pub id: String,
    pub from: NodeId,
    pub to: NodeId,
    pub label: Option<String>,
    pub condition: Option<String>,
}

/// Retries of a failing node: `max_retries` more attempts, waiting
/// `initial_delay_ms * backoff_multiplier^(n-1)` (capped at `max_delay_ms`) before attempt `n+1`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RetryConfig {
    #[serde(deserialize_with = "crate::domain::whole::u32")]
    pub max_retries: u32,
    #[serde(deserialize_with = "crate::domain::whole::u64")]
    pub initial_delay_ms: u64,
    pub backoff_multiplier: f64,
    #[serde(deserialize_with = "crate::domain::whole::u64")]
    pub max_delay_ms: u64,
}

/// A deadline for each attempt of a node, and what happens when it passes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TimeoutConfig {
    #[serde(deserialize_with = "crate::domain::whole::u64")]
    pub execution_timeout_ms: u64,
    #[serde(default, deserialize_with = "crate::domain::whole::opt_u64")]
    pub idle_timeout_ms: Option<u64>,
    #[serde(default)]
    pub timeout_action: TimeoutAction,
}

/// What a timed-out node does once its retries are spent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub enum TimeoutAction {
    /// The node fails (and with it the execution).
    #[default]
    Fail,
    /// The node is skipped, and so are the nodes only it leads to.
    Skip,
    /// The node succeeds with this text as its output.
    UseDefault(String),
}

/// A workflow as a client sends it: ids, timestamps and `version` may be left out.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct WorkflowDraft {
    pub metadata: MetadataDraft,
    pub nodes: Vec<Node>,
    #[serde(default)]
    pub edges: Vec<EdgeDraft>,
    /// The variables an execution takes, as a JSON Schema object: `{"type": "object",
    /// "properties": {"id": {"type": "string", "description": "..."}}, "required": ["id"]}`.
    /// `execute` fills in `default`s and refuses variables that do not fit (400, every problem
    /// with its path); templates and expressions may read only declared variables, and are
    /// type-checked against them when the workflow is saved. Without it, any variables are taken.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub input_schema: Option<serde_json::Value>,
}

/// Metadata as a client sends it.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct MetadataDraft {
    pub id: Option<WorkflowId>,
    pub name: String,
    pub description: Option<String>,
    pub version: Option<String>,
    /// Accepted (any text) for compatibility, and ignored: the server sets it.
    pub created_at: Option<String>,
    /// Accepted (any text) for compatibility, and ignored: the server sets it.
    pub updated_at: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub parent_id: Option<WorkflowId>,
    pub change_description: Option<String>,
    pub schedule: Option<WorkflowSchedule>,
}

/// An edge as a client sends it: `id` may be left out.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct EdgeDraft {
    pub id: Option<String>,
    pub from: NodeId,
    pub to: NodeId,
    pub label: Option<String>,
    pub condition: Option<String>,
}

impl WorkflowDraft {
    /// Completes the draft into a workflow with id `id`, first created at `created_at`, saved `now`.
    #[must_use]
    pub fn complete(self, id: WorkflowId, created_at: DateTime<Utc>, now: DateTime<Utc>) -> Workflow {
        let m = self.metadata;
        Workflow {
            metadata: WorkflowMetadata {
                id,
                name: m.name,
                description: m.description,
                version: m.version.unwrap_or_else(|| "1.0.0".into()),
                created_at,
                updated_at: now,
                tags: m.tags,
                parent_id: m.parent_id,
                change_description: m.change_description,
                schedule: m.schedule,
            },
            nodes: self.nodes,
            edges: self
                .edges
                .into_iter()
                .map(|e| Edge {
                    id: e.id.unwrap_or_else(|| Uuid::new_v4().to_string()),
                    from: e.from,
                    to: e.to,
                    label: e.label,
                    condition: e.condition,
                })
                .collect(),
            input_schema: self.input_schema,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn draft(value: serde_json::Value) -> WorkflowDraft {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn seed_example_parses_and_serializes_back_unchanged() {
        let seed: serde_json::Value =
            serde_json::from_str(include_str!("../../../tests/fixtures/start-llm-end.json")).unwrap();
        let wf: Workflow = serde_json::from_value(seed.clone()).unwrap();
        assert_eq!(serde_json::to_value(&wf).unwrap(), seed);
    }

    #[test]
    fn hand_written_draft_gets_ids_version_and_timestamps() {
        let d = draft(json!({
            "metadata": {"name": "hello"},
            "nodes": [
                {"id": "start", "name": "Start", "kind": {"type": "Start"}},
                {"id": "end", "name": "End", "kind": {"type": "End"}}
            ],
            "edges": [{"from": "start", "to": "end"}]
        }));
        let now = Utc::now();
        let id = WorkflowId::generate();
        let wf = d.complete(id, now, now);
        assert_eq!(wf.metadata.id, id);
        assert_eq!(wf.metadata.version, "1.0.0");
        assert_eq!(wf.metadata.created_at, now);
        assert!(Uuid::parse_str(&wf.edges[0].id).is_ok());
    }

    #[test]
    fn position_must_be_a_pair_not_an_object() {
        let node = json!({"id": "a", "name": "A", "kind": {"type": "Start"}, "position": {"x": 1, "y": 2}});
        assert!(serde_json::from_value::<Node>(node).is_err());
        let node = json!({"id": "a", "name": "A", "kind": {"type": "Start"}, "position": [1.0, 2.0]});
        assert_eq!(serde_json::from_value::<Node>(node).unwrap().position, Some((1.0, 2.0)));
    }

    #[test]
    fn retry_config_fields_are_all_required_like_the_seed() {
        let partial = json!({"max_retries": 3});
        assert!(serde_json::from_value::<RetryConfig>(partial).is_err());
    }

    #[test]
    fn timeout_action_defaults_to_fail_and_use_default_is_externally_tagged() {
        let t: TimeoutConfig = serde_json::from_value(json!({"execution_timeout_ms": 5})).unwrap();
        assert_eq!(t.timeout_action, TimeoutAction::Fail);
        let t: TimeoutConfig =
            serde_json::from_value(json!({"execution_timeout_ms": 5, "timeout_action": {"UseDefault": "n/a"}}))
                .unwrap();
        assert_eq!(t.timeout_action, TimeoutAction::UseDefault("n/a".into()));
    }
}
