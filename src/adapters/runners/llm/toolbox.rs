//! The tools of one LLM node attempt, resolved: what the model is told about each (name,
//! description, argument schema) and how the server runs a call to it.

use super::tool_spec::{HttpSpec, ToolSpec};
use crate::adapters::models::ToolCall;
use crate::adapters::models::conversation::{ToolDef, tool_name};
use crate::adapters::runners::tool::HttpTool;
use crate::adapters::runners::tool::arguments::render_headers;
use crate::adapters::runners::tool::request::HttpRequest;
use crate::domain::access::Scope;
use crate::domain::data::DataContext;
use crate::domain::ids::{ExecutionId, WorkflowId};
use crate::ports::{McpError, McpTools, RunnerError, WorkflowTools};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What the tool loop may call: HTTP always, MCP servers and workflows when the server has them.
#[derive(Clone)]
pub struct ToolDeps {
    pub http: HttpTool,
    pub mcp: Option<Arc<dyn McpTools>>,
    pub workflows: Arc<dyn WorkflowTools>,
}

/// How the server runs a call to one tool.
enum Runs {
    Mcp { server: String, tool: String },
    Http(HttpSpec),
    Workflow(WorkflowId),
}

/// One attempt's tools.
#[derive(Default)]
pub(super) struct Toolbox {
    pub defs: Vec<ToolDef>,
    /// Tools in the provider's own format, sent as written and never run here.
    pub raw: Vec<Value>,
    runs: HashMap<String, Runs>,
}

/// Where a call runs: the attempt's workspace, execution, data (for header templates).
pub(super) struct CallContext<'a> {
    pub scope: Scope,
    pub execution_id: ExecutionId,
    pub data: &'a DataContext,
    pub cancel: &'a CancellationToken,
}

fn mcp_failure(e: McpError) -> RunnerError {
    if e.is_retryable() { RunnerError::retryable(e.to_string()) } else { RunnerError::Permanent(e.to_string()) }
}

impl Toolbox {
    /// Looks up what the specs name (an MCP server's tools, a workflow's inputs).
    ///
    /// # Errors
    /// An MCP server that is unreachable (retryable), or not registered, a tool it lacks, a
    /// workflow the workspace does not have, two tools with one name (permanent).
    pub(super) async fn resolve(specs: &[ToolSpec], deps: &ToolDeps, scope: Scope) -> Result<Self, RunnerError> {
        let mut toolbox = Self::default();
        for spec in specs {
            match spec {
                ToolSpec::Raw(value) => toolbox.raw.push(value.clone()),
                ToolSpec::Http(http) => toolbox.add(
                    ToolDef {
                        name: http.name.clone(),
                        description: http.description.clone(),
                        parameters: http.parameters.clone(),
                    },
                    Runs::Http(http.clone()),
                )?,
                ToolSpec::Mcp { server, tool } => {
                    let mcp = deps
                        .mcp
                        .as_ref()
                        .ok_or_else(|| RunnerError::Permanent("MCP tools are not available on this server".into()))?;
                    let offered = mcp.tools(scope, server).await.map_err(mcp_failure)?;
                    let chosen: Vec<_> =
                        offered.into_iter().filter(|t| tool.as_ref().is_none_or(|n| *n == t.name)).collect();
                    if let (Some(name), true) = (tool, chosen.is_empty()) {
                        return Err(mcp_failure(McpError::UnknownTool { server: server.clone(), tool: name.clone() }));
                    }
                    for info in chosen {
                        let name = tool_name(&info.name);
                        // The same tool name on two servers: the later one is told apart by its server.
                        let name = if toolbox.runs.contains_key(&name) {
                            tool_name(&format!("{server}_{name}"))
                        } else {
                            name
                        };
                        let def = ToolDef {
                            name,
                            description: info
                                .description
                                .unwrap_or_else(|| format!("{} on MCP server {server}", info.name)),
                            parameters: info.input_schema,
                        };
                        toolbox.add(def, Runs::Mcp { server: server.clone(), tool: info.name })?;
                    }
                }
                ToolSpec::Workflow { workflow, name, description } => {
                    let info = deps.workflows.describe(scope, *workflow).await.map_err(RunnerError::Permanent)?;
                    let def = ToolDef {
                        name: name.clone().unwrap_or_else(|| ToolSpec::workflow_name(&info.name)),
                        description: description.clone().unwrap_or(info.description),
                        parameters: info.input_schema,
                    };
                    toolbox.add(def, Runs::Workflow(*workflow))?;
                }
            }
        }
        Ok(toolbox)
    }

    fn add(&mut self, def: ToolDef, runs: Runs) -> Result<(), RunnerError> {
        if self.runs.contains_key(&def.name) {
            return Err(RunnerError::Permanent(format!("two tools are named '{}'; give one another name", def.name)));
        }
        self.runs.insert(def.name.clone(), runs);
        self.defs.push(def);
        Ok(())
    }

    /// Whether the server runs calls to `name` (else the tool is the client's, or unknown).
    pub(super) fn runs(&self, name: &str) -> bool {
        self.runs.contains_key(name)
    }

    /// Runs one call. The error is a sentence for the model.
    pub(super) async fn call(&self, call: &ToolCall, deps: &ToolDeps, at: &CallContext<'_>) -> Result<Value, String> {
        let runs = self.runs.get(&call.name).ok_or_else(|| format!("there is no tool named '{}'", call.name))?;
        let arguments: Value = if call.arguments.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(&call.arguments).map_err(|e| format!("the arguments are not valid JSON: {e}"))?
        };
        let work = async {
            match runs {
                Runs::Mcp { server, tool } => {
                    let mcp = deps.mcp.as_ref().ok_or("MCP tools are not available on this server")?;
                    mcp.call(at.scope, server, tool, arguments).await.map_err(|e| e.to_string())
                }
                Runs::Http(spec) => {
                    let headers = render_headers(&spec.headers, at.data)?;
                    let request = HttpRequest::build(&spec.target, arguments, &headers)?;
                    let answer = deps.http.call(request).await.map_err(|e| e.to_string())?;
                    Ok(json!({"status": answer["status"], "body": answer["body"]}))
                }
                Runs::Workflow(workflow) => {
                    let variables = match arguments {
                        Value::Object(map) => map,
                        Value::Null => Map::new(),
                        other => return Err(format!("a workflow's arguments are an object, got {other}")),
                    };
                    deps.workflows.call(at.scope, at.execution_id, *workflow, variables, at.cancel.child_token()).await
                }
            }
        };
        tokio::select! {
            result = work => result,
            () = at.cancel.cancelled() => Err("cancelled".into()),
        }
    }
}
