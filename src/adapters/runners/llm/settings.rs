//! Where each provider lives and how to reach it: base URLs and keys from the environment,
//! rate limits and prices from the configuration. Keys never leave this module except in the
//! request headers of the provider they belong to.

use std::collections::HashMap;
use std::fmt;

pub const OPENAI_URL: &str = "https://api.openai.com/v1";
pub const ANTHROPIC_URL: &str = "https://api.anthropic.com";
pub const OLLAMA_URL: &str = "http://localhost:11434/v1";

/// The wire protocol a provider speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// OpenAI Chat Completions (OpenAI, Ollama, vLLM, llama.cpp, LM Studio, OpenRouter, ...).
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
}

/// One provider's endpoint and key.
#[derive(Clone)]
pub struct Endpoint {
    pub protocol: Protocol,
    pub base_url: String,
    pub api_key: Option<String>,
    /// Whether calls fail without a key (true for the public OpenAI and Anthropic services).
    pub key_required: bool,
    /// The environment variable a missing key should be set in.
    pub key_variable: &'static str,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("protocol", &self.protocol)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Rate limits of a provider or of one of its models.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    pub concurrency: Option<u32>,
    pub requests_per_minute: Option<u32>,
    pub tokens_per_minute: Option<u32>,
}

/// USD per million tokens.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
}

/// Everything the LLM runner is configured with.
#[derive(Clone, Debug, Default)]
pub struct LlmSettings {
    pub endpoints: HashMap<String, Endpoint>,
    /// By provider (`openai`) or provider and model (`openai/gpt-4o`).
    pub limits: HashMap<String, Limits>,
    /// By model (`gpt-4o-mini`) or provider and model (`openai/gpt-4o-mini`).
    pub prices: HashMap<String, Price>,
    /// Concurrent requests per provider when none is configured.
    pub default_concurrency: u32,
}

impl LlmSettings {
    /// Reads `OPENAI_BASE_URL`, `OPENAI_API_KEY`, `ANTHROPIC_BASE_URL`, `ANTHROPIC_API_KEY`,
    /// `OLLAMA_HOST` (and `ollama_url`, which wins), through `env`.
    #[must_use]
    pub fn from_env(env: impl Fn(&str) -> Option<String>, ollama_url: Option<&str>) -> Self {
        let var = |name: &str| env(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let openai_url = var("OPENAI_BASE_URL").unwrap_or_else(|| OPENAI_URL.into());
        let anthropic_url = var("ANTHROPIC_BASE_URL").unwrap_or_else(|| ANTHROPIC_URL.into());
        let ollama = ollama_url
            .map(str::to_owned)
            .or_else(|| var("OLLAMA_HOST").map(|h| ollama_base(&h)))
            .unwrap_or_else(|| OLLAMA_URL.into());
        let local = Endpoint {
            protocol: Protocol::OpenAi,
            base_url: trim(&ollama),
            api_key: var("OLLAMA_API_KEY"),
            key_required: false,
            key_variable: "OLLAMA_API_KEY",
        };
        let endpoints = HashMap::from([
            (
                "openai".to_owned(),
                Endpoint {
                    protocol: Protocol::OpenAi,
                    key_required: same_origin(&openai_url, OPENAI_URL),
                    base_url: trim(&openai_url),
                    api_key: var("OPENAI_API_KEY"),
                    key_variable: "OPENAI_API_KEY",
                },
            ),
            (
                "anthropic".to_owned(),
                Endpoint {
                    protocol: Protocol::Anthropic,
                    key_required: same_origin(&anthropic_url, ANTHROPIC_URL),
                    base_url: trim(&anthropic_url),
                    api_key: var("ANTHROPIC_API_KEY"),
                    key_variable: "ANTHROPIC_API_KEY",
                },
            ),
            ("ollama".to_owned(), local.clone()),
            ("local".to_owned(), local),
        ]);
        Self { endpoints, limits: HashMap::new(), prices: HashMap::new(), default_concurrency: 16 }
    }

    /// The endpoint of a provider name as written in a node (`claude` is `anthropic`).
    #[must_use]
    pub fn endpoint(&self, provider: &str) -> Option<&Endpoint> {
        let name = provider.trim().to_ascii_lowercase();
        let name = if name == "claude" { "anthropic".to_owned() } else { name };
        self.endpoints.get(&name)
    }

    /// The price of a model, looked up as `provider/model`, then `model`.
    #[must_use]
    pub fn price(&self, provider: &str, model: &str) -> Option<Price> {
        self.prices.get(&format!("{provider}/{model}")).or_else(|| self.prices.get(model)).copied()
    }
}

/// `OLLAMA_HOST` is `host:port` or a URL, without the API path.
fn ollama_base(host: &str) -> String {
    let with_scheme = if host.contains("://") { host.to_owned() } else { format!("http://{host}") };
    format!("{}/v1", trim(&with_scheme))
}

fn trim(url: &str) -> String {
    url.trim_end_matches('/').to_owned()
}

/// Whether two URLs share scheme, host and port.
#[must_use]
pub fn same_origin(a: &str, b: &str) -> bool {
    match (reqwest::Url::parse(a), reqwest::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

/// Parses `openai=concurrency:8,rpm:500,tpm:200000;openai/gpt-4o=rpm:60`.
///
/// # Errors
/// A message naming the part that does not parse.
pub fn parse_limits(text: &str) -> Result<HashMap<String, Limits>, String> {
    let mut all = HashMap::new();
    for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let (key, values) =
            entry.split_once('=').ok_or_else(|| format!("limit '{entry}' needs '<provider>=<name>:<n>,...'"))?;
        let mut limits = Limits::default();
        for pair in values.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, n) = pair.split_once(':').ok_or_else(|| format!("limit '{pair}' needs '<name>:<n>'"))?;
            let n: u32 = n
                .trim()
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("limit '{pair}' needs a positive whole number"))?;
            match name.trim() {
                "concurrency" => limits.concurrency = Some(n),
                "rpm" => limits.requests_per_minute = Some(n),
                "tpm" => limits.tokens_per_minute = Some(n),
                other => return Err(format!("unknown limit '{other}': expected concurrency, rpm or tpm")),
            }
        }
        all.insert(key.trim().to_ascii_lowercase(), limits);
    }
    Ok(all)
}

/// Parses `gpt-4o-mini=0.15/0.60;anthropic/claude-sonnet-4=3/15` (USD per million input/output tokens).
///
/// # Errors
/// A message naming the part that does not parse.
pub fn parse_prices(text: &str) -> Result<HashMap<String, Price>, String> {
    let mut all = HashMap::new();
    for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = || format!("price '{entry}' needs '<model>=<input>/<output>' in USD per million tokens");
        let (model, price) = entry.split_once('=').ok_or_else(bad)?;
        let (input, output) = price.split_once('/').ok_or_else(bad)?;
        let number = |s: &str| s.trim().parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0).ok_or_else(bad);
        all.insert(model.trim().to_owned(), Price { input: number(input)?, output: number(output)? });
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn defaults_point_at_the_public_services_and_need_keys_there() {
        let s = LlmSettings::from_env(env(&[]), None);
        let openai = s.endpoint("OpenAI").unwrap();
        assert_eq!(openai.base_url, OPENAI_URL);
        assert!(openai.key_required && openai.api_key.is_none());
        assert_eq!(s.endpoint("claude").unwrap().protocol, Protocol::Anthropic);
        assert_eq!(s.endpoint("ollama").unwrap().base_url, OLLAMA_URL);
        assert!(!s.endpoint("local").unwrap().key_required);
        assert!(s.endpoint("mystery").is_none());
    }

    #[test]
    fn base_urls_and_ollama_host_are_overridable() {
        let s = LlmSettings::from_env(
            env(&[("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/"), ("OLLAMA_HOST", "10.0.0.5:11434")]),
            None,
        );
        let openai = s.endpoint("openai").unwrap();
        assert_eq!(openai.base_url, "http://127.0.0.1:9/v1");
        assert!(!openai.key_required, "a self-hosted OpenAI-compatible server may need no key");
        assert_eq!(s.endpoint("ollama").unwrap().base_url, "http://10.0.0.5:11434/v1");
        let s = LlmSettings::from_env(env(&[("OLLAMA_HOST", "x:1")]), Some("http://gpu-box:8000/v1"));
        assert_eq!(s.endpoint("local").unwrap().base_url, "http://gpu-box:8000/v1");
    }

    #[test]
    fn keys_never_show_in_debug_output() {
        let s = LlmSettings::from_env(env(&[("OPENAI_API_KEY", "sk-secret-123")]), None);
        assert!(!format!("{s:?}").contains("sk-secret"));
    }

    #[test]
    fn limits_and_prices_parse_and_reject_nonsense() {
        let limits = parse_limits("openai=concurrency:8,rpm:500,tpm:200000; openai/gpt-4o=rpm:60").unwrap();
        assert_eq!(
            limits["openai"],
            Limits { concurrency: Some(8), requests_per_minute: Some(500), tokens_per_minute: Some(200_000) }
        );
        assert_eq!(limits["openai/gpt-4o"].requests_per_minute, Some(60));
        assert!(parse_limits("openai=rpm:0").is_err());
        assert!(parse_limits("openai=speed:3").is_err());
        let prices = parse_prices("gpt-4o-mini=0.15/0.60").unwrap();
        assert_eq!(prices["gpt-4o-mini"], Price { input: 0.15, output: 0.60 });
        assert!(parse_prices("gpt=cheap").is_err());
    }
}
