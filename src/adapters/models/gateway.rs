//! The model gateway: the one way any node kind calls a model. It owns the HTTP clients (a
//! trusted one for the configured providers, a guarded one for addresses a workflow author
//! chose), the provider settings and keys, the rate governor, prices, and the reservation of
//! each call against the execution's budget. Keys never leave it except in the request headers
//! of the provider they belong to, and everything a provider sends back passes its redactor.

use super::call::Call;
use super::conversation::{ToolDef, Turn};
use super::governor::Governor;
use super::reply::Reply;
use super::reservation::Reservation;
use super::settings::{Endpoint, LlmSettings, Protocol, same_origin};
use super::{anthropic, openai};
use crate::adapters::outgoing::{self, AddressGuard};
use crate::domain::budget::Budget;
use crate::domain::usage::Usage;
use crate::ports::redact::Redactor;
use crate::ports::{OutputSink, RunnerError};
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Output tokens assumed for a call that sets no `max_tokens` (Anthropic's required default).
pub const DEFAULT_MAX_TOKENS: u32 = anthropic::DEFAULT_MAX_TOKENS;

/// Calls models for every node kind that needs one.
pub struct ModelGateway {
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

/// One chat call, in neither provider's format.
pub struct ChatRequest<'a> {
    /// As the node names it: `openai`, `anthropic`, `ollama`, `local`.
    pub provider: &'a str,
    pub model: &'a str,
    /// The node's own base URL (`extra_params.base_url`), if it set one.
    pub base_url: Option<&'a str>,
    /// The attempt's revealed workspace secrets: a workspace key named like the server's variable
    /// (`OPENAI_API_KEY`) replaces the server's key.
    pub secrets: &'a Map<String, Value>,
    pub system: Option<&'a str>,
    pub turns: &'a [Turn],
    pub tools: &'a [ToolDef],
    pub raw_tools: &'a [Value],
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    /// Sent as is, over anything the gateway wrote.
    pub extra: &'a Map<String, Value>,
    pub stream: bool,
    /// Longest gap between two streamed chunks.
    pub idle: Duration,
    /// The execution's spending, checked before the call and charged after.
    pub budget: &'a Arc<Mutex<Budget>>,
}

/// What a chat call gave.
#[derive(Debug)]
pub struct ChatAnswer {
    pub reply: Reply,
    /// As the provider reported it, priced when the model's price is configured.
    pub usage: Option<Usage>,
    /// The provider's canonical name (`openai`, `anthropic`, `ollama`).
    pub provider: &'static str,
}

impl ModelGateway {
    /// A gateway for the providers in `settings`; nodes' own base URLs go only where `guard`
    /// permits.
    ///
    /// # Errors
    /// When an HTTP client cannot be built (no TLS backend).
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

    /// Takes the configured keys out of text, JSON and errors.
    #[must_use]
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// The provider's canonical name and endpoint.
    ///
    /// # Errors
    /// An unknown provider, in a sentence that lists the known ones.
    pub fn endpoint(&self, provider: &str) -> Result<(&'static str, &Endpoint), String> {
        let provider = provider.trim();
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

    /// Why a call to `provider` (at the node's own `base_url`, if any) cannot be made as
    /// configured, checked when a workflow is saved: an unknown provider, a base URL the guard
    /// refuses (an IP literal; a name is judged as it resolves), a key the server lacks.
    #[must_use]
    pub fn problem(&self, provider: &str, base_url: Option<&str>) -> Option<(Option<&'static str>, String)> {
        let (name, endpoint) = match self.endpoint(provider) {
            Ok(found) => found,
            Err(problem) => return Some((None, problem)),
        };
        if let Some(url) = base_url {
            return self
                .own_base_url(url, &endpoint.base_url)
                .err()
                .map(|refused| (Some("extra_params.base_url"), format!("extra_params.base_url: {refused}")));
        }
        (endpoint.key_required && endpoint.api_key.is_none())
            .then(|| (None, format!("provider {name} needs {} on the server, which is not set", endpoint.key_variable)))
    }

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

    /// One model call: reserve its budget, wait for the governor, send it over the provider's
    /// protocol (streamed text goes to `sink` as it arrives), charge what it used. Text that
    /// comes back is not yet redacted; errors are.
    ///
    /// # Errors
    /// A permanent error for an unknown provider, a missing key, a refused base URL, an exceeded
    /// budget or cancellation; the provider's failures as the transport classifies them.
    pub async fn chat(
        &self,
        request: ChatRequest<'_>,
        sink: &dyn OutputSink,
        cancel: &CancellationToken,
    ) -> Result<ChatAnswer, RunnerError> {
        self.chat_unredacted(request, sink, cancel).await.map_err(|e| self.redactor.error(e))
    }

    async fn chat_unredacted(
        &self,
        request: ChatRequest<'_>,
        sink: &dyn OutputSink,
        cancel: &CancellationToken,
    ) -> Result<ChatAnswer, RunnerError> {
        let (provider, endpoint) = self.endpoint(request.provider).map_err(RunnerError::Permanent)?;
        let client = match request.base_url {
            Some(url) => self
                .own_base_url(url, &endpoint.base_url)
                .map_err(|refused| RunnerError::Permanent(format!("extra_params.base_url: {refused}")))?,
            None => &self.client,
        };
        // The server's key goes only to the server it belongs to, never to a node's own base URL.
        let key_applies = request.base_url.is_none_or(|url| same_origin(url, &endpoint.base_url));
        let workspace_key = request.secrets.get(endpoint.key_variable).and_then(Value::as_str);
        let api_key = workspace_key.or(endpoint.api_key.as_deref()).filter(|_| key_applies);
        if api_key.is_none() && endpoint.key_required && request.base_url.is_none() {
            return Err(RunnerError::Permanent(format!(
                "provider {provider} needs {} on the server",
                endpoint.key_variable
            )));
        }
        let output_tokens = request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
        let input_tokens = estimate_input(&request);
        let estimate = input_tokens.saturating_add(output_tokens);
        let price = self.settings.price(provider, request.model);
        let estimate_cost =
            price.map(|p| f64::from(input_tokens) * p.input / 1e6 + f64::from(output_tokens) * p.output / 1e6);
        let reservation = Reservation::take(request.budget, u64::from(estimate), estimate_cost)?;
        let call = Call {
            client,
            provider,
            base_url: request.base_url.map_or_else(|| endpoint.base_url.clone(), str::to_owned),
            api_key,
            model: request.model,
            max_tokens: request.max_tokens,
            temperature: request.temperature,
            system: request.system,
            turns: request.turns,
            tools: request.tools,
            raw_tools: request.raw_tools,
            extra: request.extra,
        };
        let work = async {
            let _pass = self.governor.admit(provider, request.model, estimate).await;
            match endpoint.protocol {
                Protocol::OpenAi => openai::complete(&call, sink, request.stream, request.idle).await,
                Protocol::Anthropic => anthropic::complete(&call, sink, request.stream, request.idle).await,
            }
        };
        let reply = tokio::select! {
            reply = work => reply?,
            () = cancel.cancelled() => return Err(RunnerError::Permanent("cancelled".into())),
        };
        let usage = reply.usage.map(|tokens| tokens.usage(price));
        reservation.settle(usage.unwrap_or_default());
        Ok(ChatAnswer { reply, usage, provider })
    }
}

/// A rough token count of what a call sends, for admission and budgets: about four characters
/// per token.
fn estimate_input(request: &ChatRequest<'_>) -> u32 {
    let tokens = |text: &str| text.len().div_ceil(4);
    let turns: usize = request
        .turns
        .iter()
        .map(|turn| match turn {
            Turn::User { text, .. } => tokens(text),
            Turn::Assistant { text, tool_calls } => {
                tokens(text) + tool_calls.iter().map(|c| tokens(&c.name) + tokens(&c.arguments)).sum::<usize>()
            }
            Turn::ToolResults(results) => results.iter().map(|r| tokens(&r.content)).sum(),
        })
        .sum();
    let tools: usize = request.tools.iter().map(|t| tokens(&t.description) + tokens(&t.parameters.to_string())).sum();
    let total = turns + tools + request.system.map_or(0, tokens);
    u32::try_from(total).unwrap_or(u32::MAX)
}
