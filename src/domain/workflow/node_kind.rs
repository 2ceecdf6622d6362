//! The node kinds of the seed's `oxify-model` 0.1.0 and their configs, field for field:
//! adjacently tagged as `{"type": "LLM", "config": {...}}`, PascalCase variants, snake_case fields.

use crate::domain::ids::NodeId;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// What a node does. Unit kinds serialize as `{"type": "Start"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", content = "config")]
pub enum NodeKind {
    Start,
    End,
    #[serde(rename = "LLM")]
    Llm(LlmConfig),
    Retriever(VectorConfig),
    Code(ScriptConfig),
    IfElse(Condition),
    Tool(McpConfig),
    Loop(LoopConfig),
    TryCatch(TryCatchConfig),
    SubWorkflow(SubWorkflowConfig),
    Switch(SwitchConfig),
    Parallel(ParallelConfig),
    Approval(ApprovalConfig),
    Form(FormConfig),
    Vision(VisionConfig),
}

/// Config of an `LLM` node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LlmConfig {
    /// `openai`, `anthropic`, `ollama`, `local`, ...
    pub provider: String,
    pub model: String,
    pub system_prompt: Option<String>,
    /// A template, e.g. `Answer briefly: {{ user_query }}`.
    pub prompt_template: String,
    pub temperature: Option<f64>,
    #[serde(default, deserialize_with = "crate::domain::whole::opt_u32")]
    pub max_tokens: Option<u32>,
    /// Tools the model may call, run by the server in a tool-calling loop: `{"type": "mcp",
    /// "server", "tool"?}`, `{"type": "http", "name", "description", "server_id", "tool_name",
    /// "parameters" (JSON Schema), "headers"?}`, `{"type": "workflow", "workflow_id", "name"?,
    /// "description"?}`, or the shorthands `"mcp:SERVER"`, `"mcp:SERVER/TOOL"`,
    /// `"workflow:ID"`. Anything else is a tool in the provider's own format, sent as written;
    /// the model's calls to it end the loop and are returned in the output's `tool_calls`.
    #[serde(default)]
    pub tools: Vec<Value>,
    #[serde(default)]
    pub images: Vec<Value>,
    #[serde(default)]
    pub extra_params: Value,
    /// Rounds of tool calls allowed before the model must answer (default 10, at most 100):
    /// past it the node fails.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::domain::whole::opt_u32")]
    pub max_tool_rounds: Option<u32>,
}

/// Config of a `Retriever` node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VectorConfig {
    pub db_type: String,
    pub collection: String,
    /// A template.
    pub query: String,
    #[serde(deserialize_with = "crate::domain::whole::usize")]
    #[schema(value_type = u64)]
    pub top_k: usize,
    pub score_threshold: Option<f64>,
}

/// Config of a `Code` node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScriptConfig {
    pub runtime: String,
    pub code: String,
    #[serde(default)]
    pub inputs: Vec<String>,
    pub output: String,
}

/// Config of an `IfElse` node: a boolean expression and the two successors it routes between.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Condition {
    /// A CEL expression, e.g. `score > 0.5 && user_query != ""`.
    pub expression: String,
    pub true_branch: NodeId,
    pub false_branch: NodeId,
}

/// Config of a `Tool` node: an MCP tool, or (the seed's fallback) a plain HTTP call when
/// `server_id` is an http(s) base URL and `tool_name` is `"METHOD /path"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct McpConfig {
    /// An http(s) base URL (`https://api.example.com/v1`) for an HTTP tool.
    pub server_id: String,
    /// `"GET /items/{id}"` for an HTTP tool: the method and the path below `server_id`, where
    /// `{name}` takes the parameter of that name.
    pub tool_name: String,
    /// The arguments: query parameters for GET, HEAD, DELETE and OPTIONS, the JSON body
    /// otherwise. Strings in it are templates; one that is only `{{ path }}` is replaced by the
    /// value at that path, whatever its JSON type.
    #[serde(default)]
    pub parameters: Value,
    /// Request headers of an HTTP tool, name to value; values are templates. Beyond the seed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

/// Config of a `Loop` node. Each iteration renders `body_expression` (the seed's behaviour), or,
/// with `body_workflow`, runs that stored workflow as a child execution with the item as input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LoopConfig {
    pub loop_type: LoopType,
    #[serde(default = "default_max_iterations", deserialize_with = "crate::domain::whole::u32")]
    pub max_iterations: u32,
    /// The id of a stored workflow run once per iteration (a child execution whose variables
    /// are the item and index variables). Beyond the seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_workflow: Option<String>,
    /// The version of `body_workflow` to run; the latest when absent.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::domain::whole::opt_u32")]
    pub body_workflow_version: Option<u32>,
    /// What a failed iteration of `body_workflow` does (default `fail_fast`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_item_failure: Option<ItemFailure>,
    /// Whether each child also gets the parent's variables (the item's win on a clash).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inherit_context: bool,
}

/// What a failed iteration of a Loop's `body_workflow` does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemFailure {
    /// The Loop fails at the first failed item; items still running are cancelled.
    #[default]
    FailFast,
    /// Failed items are left out of the results; the Loop succeeds.
    Skip,
    /// Every item's outcome is in the results (`{"error": ...}` for a failed one); the Loop
    /// succeeds.
    Collect,
}

fn default_max_iterations() -> u32 {
    1000
}

/// The loop variants, internally tagged with `"variant"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "variant")]
pub enum LoopType {
    ForEach {
        collection_path: String,
        item_variable: String,
        index_variable: Option<String>,
        body_expression: String,
        #[serde(default)]
        parallel: bool,
        #[serde(default, deserialize_with = "crate::domain::whole::opt_u32")]
        max_concurrency: Option<u32>,
    },
    While {
        condition: String,
        body_expression: String,
        counter_variable: Option<String>,
    },
    Repeat {
        count: String,
        body_expression: String,
        index_variable: Option<String>,
    },
}

/// Config of a `TryCatch` node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TryCatchConfig {
    pub try_expression: String,
    pub catch_expression: Option<String>,
    pub finally_expression: Option<String>,
    #[serde(default)]
    pub rethrow: bool,
    #[serde(default = "default_error_variable")]
    pub error_variable: String,
}

fn default_error_variable() -> String {
    "error".into()
}

/// Config of a `SubWorkflow` node: runs a stored workflow as a child execution and waits for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SubWorkflowConfig {
    /// The id (a UUID) of the stored workflow to run. (The seed read a file on the server here;
    /// that is refused.)
    pub workflow_path: String,
    /// The version of that workflow to run; the latest when absent. Beyond the seed.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::domain::whole::opt_u32")]
    pub version: Option<u32>,
    #[serde(default)]
    pub input_mappings: BTreeMap<String, String>,
    pub output_variable: Option<String>,
    #[serde(default)]
    pub inherit_context: bool,
}

/// Config of a `Switch` node: the value to switch on, and which successor each value routes to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SwitchConfig {
    /// A CEL expression (`status`), or a template when it contains `{{` (`{{ status }}`).
    pub switch_on: String,
    pub cases: Vec<SwitchCase>,
    /// Node id routed to when no case matches.
    pub default_case: Option<String>,
}

/// One case of a `Switch`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SwitchCase {
    /// Compared with the switched-on value as text; `regex:<pattern>` matches a regular expression.
    pub match_value: String,
    /// The id of the successor node this case routes to.
    pub action: String,
}

/// Config of a `Parallel` node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ParallelConfig {
    pub strategy: ParallelStrategy,
    pub tasks: Vec<ParallelTask>,
    #[serde(default, deserialize_with = "crate::domain::whole::opt_u32")]
    pub max_concurrency: Option<u32>,
    #[serde(default, deserialize_with = "crate::domain::whole::opt_u64")]
    pub timeout_ms: Option<u64>,
}

/// How a `Parallel` node combines its tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum ParallelStrategy {
    WaitAll,
    Race,
    AllSettled,
}

/// One task of a `Parallel` node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ParallelTask {
    pub id: String,
    /// A template.
    pub expression: String,
    pub description: Option<String>,
}

/// Config of an `Approval` node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApprovalConfig {
    pub message: String,
    pub description: Option<String>,
    #[serde(default)]
    pub approvers: Vec<String>,
    #[serde(default, deserialize_with = "crate::domain::whole::opt_u64")]
    pub timeout_seconds: Option<u64>,
    #[serde(default)]
    pub context_data: Value,
    /// Approvals needed before the run continues (n of the approvers); absent: 1. A single
    /// rejection rejects. Not in the seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<u32>,
    /// Whether the person who started the run may approve it (by default they may not). Not in
    /// the seed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_initiator: bool,
    /// A URL told (signed JSON POST) when the approval is requested. Not in the seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_url: Option<String>,
    /// The workspace secret whose value signs the notification (default `NOTIFY_SIGNING_KEY`).
    /// Not in the seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_secret: Option<String>,
}

/// Config of a `Form` node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FormConfig {
    pub title: String,
    pub description: Option<String>,
    pub fields: Vec<FormField>,
    #[serde(default, deserialize_with = "crate::domain::whole::opt_u64")]
    pub timeout_seconds: Option<u64>,
    #[serde(default)]
    pub allowed_submitters: Vec<String>,
    /// A URL told (signed JSON POST) when the form is requested. Not in the seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_url: Option<String>,
    /// The workspace secret whose value signs the notification (default `NOTIFY_SIGNING_KEY`).
    /// Not in the seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_secret: Option<String>,
}

/// One field of a `Form` node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FormField {
    pub id: String,
    pub label: String,
    pub field_type: FormFieldType,
    #[serde(default)]
    pub required: bool,
    pub default_value: Option<Value>,
    pub validation: Option<Value>,
    #[serde(default)]
    pub options: Vec<Value>,
}

/// The input types of a form field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum FormFieldType {
    Text,
    Number,
    Email,
    Password,
    TextArea,
    Select,
    MultiSelect,
    Radio,
    Checkbox,
    Date,
    DateTime,
}

/// Config of a `Vision` node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VisionConfig {
    pub provider: String,
    pub model_path: Option<String>,
    #[serde(default = "default_output_format")]
    pub output_format: String,
    #[serde(default)]
    pub use_gpu: bool,
    pub language: Option<String>,
    pub image_input: String,
    #[serde(default)]
    pub options: Value,
}

fn default_output_format() -> String {
    "markdown".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_kinds_serialize_without_config_and_accept_null_config() {
        assert_eq!(serde_json::to_value(NodeKind::Start).unwrap(), serde_json::json!({"type": "Start"}));
        let end: NodeKind = serde_json::from_value(serde_json::json!({"type": "End", "config": null})).unwrap();
        assert_eq!(end, NodeKind::End);
    }

    #[test]
    fn kind_names_are_case_sensitive() {
        let err = serde_json::from_value::<NodeKind>(serde_json::json!({"type": "Llm", "config": {}}));
        assert!(err.unwrap_err().to_string().contains("unknown variant `Llm`"));
    }

    #[test]
    fn every_kind_of_the_seed_catalog_round_trips() {
        let catalog: Vec<Value> =
            serde_json::from_str(include_str!("../../../tests/fixtures/node-kinds-catalog.json")).unwrap();
        assert_eq!(catalog.len(), 17);
        for node in catalog {
            let kind: NodeKind = serde_json::from_value(node["kind"].clone()).unwrap();
            assert_eq!(serde_json::to_value(&kind).unwrap(), node["kind"], "{}", kind.name());
        }
    }
}
