//! The LLM runner: renders a node's prompts and asks the model through the gateway; when the
//! node lists tools, runs the model's tool-calling loop (see [`super::tool_loop`]).

use super::tool_loop::{Conversation, LoopSettings};
use super::tool_spec::{self, ToolSpec};
use super::toolbox::{ToolDeps, Toolbox};
use crate::adapters::models::ModelGateway;
use crate::domain::template;
use crate::domain::workflow::{Node, NodeKind, RetryConfig};
use crate::ports::redact::RedactingSink;
use crate::ports::{ConfigProblem, NodeInput, NodeOutput, NodeRunner, RunnerError};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Gap between two streamed chunks after which a stream counts as stalled, unless the node's
/// `timeout_config.idle_timeout_ms` says otherwise.
const DEFAULT_IDLE: Duration = Duration::from_secs(60);

/// The seed's retry defaults, for LLM nodes without a `retry_config`.
#[must_use]
pub fn default_retry() -> RetryConfig {
    RetryConfig { max_retries: 3, initial_delay_ms: 1000, backoff_multiplier: 2.0, max_delay_ms: 30_000 }
}

/// Runs `LLM` nodes.
pub struct LlmRunner {
    gateway: Arc<ModelGateway>,
    tools: ToolDeps,
}

/// Secrets a workspace may set to use its own provider accounts: the names of the server's
/// variables for the keys.
const WORKSPACE_KEYS: &[&str] = &["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OLLAMA_API_KEY"];

impl LlmRunner {
    /// A runner that calls models through `gateway` and tools through `tools`.
    #[must_use]
    pub fn new(gateway: Arc<ModelGateway>, tools: ToolDeps) -> Self {
        Self { gateway, tools }
    }
}

/// A node's `extra_params`, split into what the runner handles and what it sends as is.
struct ExtraParams {
    passthrough: Map<String, Value>,
    base_url: Option<String>,
    stream: bool,
}

/// Splits `extra_params` into what is sent as is, a per-node base URL, and the stream switch;
/// a problem names the field at fault.
fn extra_params(value: &Value) -> Result<ExtraParams, ConfigProblem> {
    let mut extra = match value {
        Value::Null => Map::new(),
        Value::Object(map) => map.clone(),
        _ => return Err(ConfigProblem::at("extra_params", "extra_params must be an object")),
    };
    let base_url = match extra.remove("base_url") {
        None | Some(Value::Null) => None,
        Some(Value::String(url)) if reqwest::Url::parse(&url).is_ok() => Some(url.trim_end_matches('/').to_owned()),
        Some(other) => {
            return Err(ConfigProblem::at(
                "extra_params.base_url",
                format!("extra_params.base_url must be a URL, got {other}"),
            ));
        }
    };
    let stream = match extra.remove("stream") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => b,
        Some(other) => {
            return Err(ConfigProblem::at(
                "extra_params.stream",
                format!("extra_params.stream must be true or false, got {other}"),
            ));
        }
    };
    Ok(ExtraParams { passthrough: extra, base_url, stream })
}

#[async_trait::async_trait]
impl NodeRunner for LlmRunner {
    /// Upstream text (answers, streamed deltas, tool results, error messages) comes back with
    /// every configured key redacted.
    async fn run(&self, input: NodeInput, cancel: CancellationToken) -> Result<NodeOutput, RunnerError> {
        let redactor = self.gateway.redactor().clone();
        let sink = RedactingSink::new(&*input.sink, redactor.clone());
        let result = self.call(&input, &sink, cancel).await;
        sink.finish();
        result
            .map(|output| NodeOutput { value: redactor.value(output.value), usage: output.usage })
            .map_err(|e| redactor.error(e))
    }

    fn workspace_secrets(&self) -> &'static [&'static str] {
        WORKSPACE_KEYS
    }

    fn check(&self, node: &Node) -> Vec<ConfigProblem> {
        let NodeKind::Llm(config) = &node.kind else { return Vec::new() };
        let mut problems: Vec<ConfigProblem> = tool_spec::parse_each(&config.tools)
            .into_iter()
            .enumerate()
            .filter_map(|(i, spec)| match spec {
                Ok(spec) => self.check_http_tool(i, &spec),
                Err(problem) => Some(problem),
            })
            .collect();
        problems.extend(tool_spec::rounds(config.max_tool_rounds).err());
        let base_url = match extra_params(&config.extra_params) {
            Ok(params) => params.base_url,
            Err(problem) => {
                problems.push(problem);
                return problems;
            }
        };
        problems.extend(self.gateway.problem(&config.provider, base_url.as_deref()).map(
            |(field, problem)| match field {
                Some(field) => ConfigProblem::at(field, problem),
                None => ConfigProblem::whole(problem),
            },
        ));
        problems
    }
}

impl LlmRunner {
    /// An HTTP tool whose base URL is an IP literal the guard refuses (a name is judged as it
    /// resolves, when called).
    fn check_http_tool(&self, i: usize, spec: &ToolSpec) -> Option<ConfigProblem> {
        let ToolSpec::Http(http) = spec else { return None };
        let url = reqwest::Url::parse(&http.target.base).ok()?;
        let refused = self.tools.http.guard().check_url(&url).err()?;
        Some(ConfigProblem::at(format!("tools[{i}].server_id"), format!("tools[{i}].server_id: {refused}")))
    }

    /// One attempt: render the prompts, resolve the tools, run the conversation.
    async fn call(
        &self,
        input: &NodeInput,
        sink: &dyn crate::ports::OutputSink,
        cancel: CancellationToken,
    ) -> Result<NodeOutput, RunnerError> {
        let node = input.node();
        let NodeKind::Llm(config) = &node.kind else {
            return Err(RunnerError::Permanent(format!("node {} is not an LLM node", node.id)));
        };
        let ExtraParams { passthrough, base_url, stream } =
            extra_params(&config.extra_params).map_err(|p| RunnerError::Permanent(p.problem))?;
        let render = |field: &str, text: &str| {
            template::render(text, &input.data).map_err(|e| RunnerError::Permanent(format!("{field}: {e}")))
        };
        let prompt = render("prompt_template", &config.prompt_template)?;
        let system = config.system_prompt.as_deref().map(|s| render("system_prompt", s)).transpose()?;
        let specs = tool_spec::parse_all(&config.tools).map_err(|problems| {
            RunnerError::Permanent(problems.into_iter().map(|p| p.problem).collect::<Vec<_>>().join("; "))
        })?;
        let max_rounds = tool_spec::rounds(config.max_tool_rounds).map_err(|p| RunnerError::Permanent(p.problem))?;
        let toolbox = Toolbox::resolve(&specs, &self.tools, input.scope).await?;
        let idle =
            node.timeout_config.as_ref().and_then(|t| t.idle_timeout_ms).map_or(DEFAULT_IDLE, Duration::from_millis);
        let settings = LoopSettings {
            config,
            base_url: base_url.as_deref(),
            system: system.as_deref(),
            extra: &passthrough,
            stream,
            idle,
            max_rounds,
        };
        Conversation::new(&self.gateway, &self.tools, &toolbox, input, sink, &cancel).run(settings, prompt).await
    }
}
