//! The LLM runner: renders a node's prompts, reserves its budget, waits for the rate governor,
//! calls the provider over its wire protocol and returns the answer with its usage.

use super::call::Call;
use super::governor::Governor;
use super::reservation::Reservation;
use super::settings::{Endpoint, LlmSettings, Protocol, same_origin};
use super::{anthropic, openai};
use crate::adapters::outgoing::{self, AddressGuard};
use crate::domain::template;
use crate::domain::workflow::{LlmConfig, Node, NodeKind, RetryConfig};
use crate::ports::redact::{RedactingSink, Redactor};
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
    /// For the providers the operator configured (trusted: `http://localhost:11434` is Ollama's
    /// default home).
    client: reqwest::Client,
    /// For a node's own `base_url`, which a workflow author chose: it reaches only what `guard`
    /// permits, so a workflow cannot make the server POST to an internal service.
    guarded: reqwest::Client,
    guard: Arc<AddressGuard>,
    settings: LlmSettings,
    governor: Governor,
    /// The configured keys, taken out of whatever comes back from a provider.
    redactor: Redactor,
}

/// Secrets a workspace may set to use its own provider accounts: the names of the server's
/// variables for the keys.
const WORKSPACE_KEYS: &[&str] = &["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OLLAMA_API_KEY"];

impl LlmRunner {
    /// A runner for the providers in `settings`; nodes' own base URLs go only where `guard`
    /// permits.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (no TLS backend).
    pub fn new(settings: LlmSettings, guard: Arc<AddressGuard>) -> Result<Self, String> {
        let client = outgoing::client()?;
        let guarded = outgoing::guarded_client(guard.clone(), outgoing::same_origin_guarded(guard.clone()))?;
        Ok(Self {
            governor: Governor::new(&settings),
            redactor: Redactor::new(settings.secrets()),
            client,
            guarded,
            guard,
            settings,
        })
    }

    fn endpoint(&self, config: &LlmConfig) -> Result<(&str, &Endpoint), String> {
        let provider = config.provider.trim();
        let endpoint = self
            .settings
            .endpoint(provider)
            .ok_or_else(|| format!("unknown LLM provider '{provider}': expected openai, anthropic, ollama or local"))?;
        let name = match endpoint.protocol {
            Protocol::Anthropic => "anthropic",
            Protocol::OpenAi if provider.eq_ignore_ascii_case("openai") => "openai",
            Protocol::OpenAi => "ollama",
        };
        Ok((name, endpoint))
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

/// A rough token count for admission and budgets: about four characters per token.
fn estimate_tokens(text: &str) -> u32 {
    u32::try_from(text.len().div_ceil(4)).unwrap_or(u32::MAX)
}

#[async_trait::async_trait]
impl NodeRunner for LlmRunner {
    /// Upstream text (answers, streamed deltas, error messages) comes back with every configured
    /// key redacted.
    async fn run(&self, input: NodeInput, cancel: CancellationToken) -> Result<NodeOutput, RunnerError> {
        let sink = RedactingSink::new(&*input.sink, self.redactor.clone());
        let result = self.call(&input, &sink, cancel).await;
        sink.finish();
        result
            .map(|output| NodeOutput { value: self.redactor.value(output.value), usage: output.usage })
            .map_err(|e| self.redactor.error(e))
    }

    fn workspace_secrets(&self) -> &'static [&'static str] {
        WORKSPACE_KEYS
    }

    fn check(&self, node: &Node) -> Vec<ConfigProblem> {
        let NodeKind::Llm(config) = &node.kind else { return Vec::new() };
        let (provider, endpoint) = match self.endpoint(config) {
            Ok(found) => found,
            Err(problem) => return vec![ConfigProblem::whole(problem)],
        };
        let base_override = match extra_params(&config.extra_params) {
            Ok(params) => params.base_url,
            Err(problem) => return vec![problem],
        };
        if let Some(url) = &base_override {
            // An IP literal is judged now; a name only as it resolves, at run time.
            return self
                .own_base_url(url, &endpoint.base_url)
                .err()
                .map(|refused| ConfigProblem::at("extra_params.base_url", format!("extra_params.base_url: {refused}")))
                .into_iter()
                .collect();
        }
        (endpoint.key_required && endpoint.api_key.is_none())
            .then(|| {
                ConfigProblem::whole(format!(
                    "provider {provider} needs {} on the server, which is not set",
                    endpoint.key_variable
                ))
            })
            .into_iter()
            .collect()
    }
}

impl LlmRunner {
    /// The client for a node's own base URL: the trusted one when it is the provider's
    /// configured origin, else the guarded one, once an IP literal in it passed the guard.
    fn own_base_url(&self, url: &str, configured: &str) -> Result<&reqwest::Client, outgoing::Refused> {
        if same_origin(url, configured) {
            return Ok(&self.client);
        }
        let parsed = reqwest::Url::parse(url)
            .map_err(|_| outgoing::Refused { target: url.to_owned(), reason: "not a URL".into() })?;
        self.guard.check_url(&parsed)?;
        Ok(&self.guarded)
    }

    /// One attempt: render, reserve budget, wait for the governor, call the provider.
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
        let (provider, endpoint) = self.endpoint(config).map_err(RunnerError::Permanent)?;
        let ExtraParams { passthrough: extra, base_url: base_override, stream } =
            extra_params(&config.extra_params).map_err(|p| RunnerError::Permanent(p.problem))?;
        let client = match &base_override {
            Some(url) => self
                .own_base_url(url, &endpoint.base_url)
                .map_err(|refused| RunnerError::Permanent(format!("extra_params.base_url: {refused}")))?,
            None => &self.client,
        };
        let render = |field: &str, text: &str| {
            template::render(text, &input.data).map_err(|e| RunnerError::Permanent(format!("{field}: {e}")))
        };
        let prompt = render("prompt_template", &config.prompt_template)?;
        let system = config.system_prompt.as_deref().map(|s| render("system_prompt", s)).transpose()?;
        // The server's key goes only to the server it belongs to, never to a node's own base URL.
        let key_applies = base_override.as_deref().is_none_or(|url| same_origin(url, &endpoint.base_url));
        // A workspace's own key (a secret named like the server's variable) replaces the server's.
        let workspace_key = input.data.secrets.get(endpoint.key_variable).and_then(|v| v.as_str());
        let api_key = workspace_key.or(endpoint.api_key.as_deref()).filter(|_| key_applies);
        if api_key.is_none() && endpoint.key_required && base_override.is_none() {
            return Err(RunnerError::Permanent(format!(
                "provider {provider} needs {} on the server",
                endpoint.key_variable
            )));
        }
        let estimate = estimate_tokens(&prompt)
            .saturating_add(system.as_deref().map_or(0, estimate_tokens))
            .saturating_add(config.max_tokens.unwrap_or(anthropic::DEFAULT_MAX_TOKENS));
        let idle =
            node.timeout_config.as_ref().and_then(|t| t.idle_timeout_ms).map_or(DEFAULT_IDLE, Duration::from_millis);
        let estimate_cost = self.settings.price(provider, &config.model).map(|p| {
            let output = f64::from(config.max_tokens.unwrap_or(anthropic::DEFAULT_MAX_TOKENS));
            (f64::from(estimate) - output) * p.input / 1e6 + output * p.output / 1e6
        });
        let reservation = Reservation::take(&input.budget, u64::from(estimate), estimate_cost)?;
        let call = Call {
            client,
            provider,
            base_url: base_override.unwrap_or_else(|| endpoint.base_url.clone()),
            api_key,
            config,
            system,
            prompt,
            extra,
        };
        let work = async {
            let _pass = self.governor.admit(provider, &config.model, estimate).await;
            match endpoint.protocol {
                Protocol::OpenAi => openai::complete(&call, sink, stream, idle).await,
                Protocol::Anthropic => anthropic::complete(&call, sink, stream, idle).await,
            }
        };
        let reply = tokio::select! {
            reply = work => reply?,
            () = cancel.cancelled() => return Err(RunnerError::Permanent("cancelled".into())),
        };
        let price = self.settings.price(provider, &config.model);
        let (value, usage) = reply.into_output(provider, &config.model, &call.prompt, price);
        reservation.settle(usage.unwrap_or_default());
        Ok(NodeOutput { value, usage })
    }
}
