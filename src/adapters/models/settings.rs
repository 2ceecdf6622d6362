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
    /// `OLLAMA_HOST`, `OLLAMA_API_KEY` (and `ollama_url`, which wins over `OLLAMA_HOST`) through
    /// `env`.
    ///
    /// # Errors
    /// One line naming the variable that is not a URL, or a key that an HTTP header cannot carry.
    pub fn from_env(env: impl Fn(&str) -> Option<String>, ollama_url: Option<&str>) -> Result<Self, String> {
        let var = |name: &str| env(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let url = |name: &'static str, default: &str| {
            var(name).map_or_else(|| Ok(default.to_owned()), |v| http_url(&v, name))
        };
        let key = |name: &'static str| {
            let value = var(name);
            match &value {
                Some(k) if reqwest::header::HeaderValue::from_str(k).is_err() || k.contains(' ') => Err(format!(
                    "{name}: the key contains spaces or characters an HTTP header cannot carry; expected the key exactly as the provider issued it"
                )),
                _ => Ok(value),
            }
        };
        let openai_url = url("OPENAI_BASE_URL", OPENAI_URL)?;
        let anthropic_url = url("ANTHROPIC_BASE_URL", ANTHROPIC_URL)?;
        let ollama = match (ollama_url, var("OLLAMA_HOST")) {
            (Some(url), _) => http_url(url, "OXIFY_OLLAMA_URL (--ollama-url)")?,
            (None, Some(host)) => http_url(&ollama_base(&host), "OLLAMA_HOST").map_err(|_| {
                format!(
                    "OLLAMA_HOST: '{host}' is not an address; expected host:port or a URL such as http://gpu-box:11434"
                )
            })?,
            (None, None) => OLLAMA_URL.to_owned(),
        };
        let local = Endpoint {
            protocol: Protocol::OpenAi,
            base_url: ollama,
            api_key: key("OLLAMA_API_KEY")?,
            key_required: false,
            key_variable: "OLLAMA_API_KEY",
        };
        let endpoints = HashMap::from([
            (
                "openai".to_owned(),
                Endpoint {
                    protocol: Protocol::OpenAi,
                    key_required: same_origin(&openai_url, OPENAI_URL),
                    base_url: openai_url,
                    api_key: key("OPENAI_API_KEY")?,
                    key_variable: "OPENAI_API_KEY",
                },
            ),
            (
                "anthropic".to_owned(),
                Endpoint {
                    protocol: Protocol::Anthropic,
                    key_required: same_origin(&anthropic_url, ANTHROPIC_URL),
                    base_url: anthropic_url,
                    api_key: key("ANTHROPIC_API_KEY")?,
                    key_variable: "ANTHROPIC_API_KEY",
                },
            ),
            ("ollama".to_owned(), local.clone()),
            ("local".to_owned(), local),
        ]);
        Ok(Self { endpoints, limits: HashMap::new(), prices: HashMap::new(), default_concurrency: 16 })
    }

    /// Every key configured, for redacting them from text that comes back from upstream.
    #[must_use]
    pub fn secrets(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.endpoints.values().filter_map(|e| e.api_key.clone()).collect();
        keys.sort();
        keys.dedup();
        keys
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
    format!("{}/v1", with_scheme.trim_end_matches('/'))
}

/// An `http` or `https` URL with a host, without its trailing slash.
///
/// # Errors
/// A line naming `setting` and the expected form.
pub fn http_url(text: &str, setting: &str) -> Result<String, String> {
    let trimmed = text.trim();
    let bad =
        |problem: &str| format!("{setting}: '{trimmed}' {problem}; expected a URL such as http://localhost:11434/v1");
    let url = reqwest::Url::parse(trimmed).map_err(|_| bad("is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("is not an http or https URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("has a query or fragment"));
    }
    Ok(trimmed.trim_end_matches('/').to_owned())
}

/// Whether two URLs share scheme, host and port.
#[must_use]
pub fn same_origin(a: &str, b: &str) -> bool {
    match (reqwest::Url::parse(a), reqwest::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

/// [`parse_limits`] of the `OXIFY_LLM_LIMITS` setting, its error naming the setting and the form.
///
/// # Errors
/// One line naming the setting, the part that does not parse and the expected form.
pub fn limits_setting(text: &str) -> Result<HashMap<String, Limits>, String> {
    parse_limits(text).map_err(|e| {
        format!(
            "OXIFY_LLM_LIMITS (--llm-limits): {e}; expected <provider>[/<model>]=<name>:<n>,... separated by ';', such as openai=concurrency:8,rpm:500,tpm:200000;openai/gpt-4o=rpm:60"
        )
    })
}

/// [`parse_prices`] of the `OXIFY_LLM_PRICES` setting, its error naming the setting and the form.
///
/// # Errors
/// One line naming the setting, the part that does not parse and the expected form.
pub fn prices_setting(text: &str) -> Result<HashMap<String, Price>, String> {
    parse_prices(text).map_err(|e| {
        format!(
            "OXIFY_LLM_PRICES (--llm-prices): {e}; expected <model>=<input>/<output> separated by ';', such as gpt-4o-mini=0.15/0.60;anthropic/claude-sonnet-4=3/15"
        )
    })
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
        let s = LlmSettings::from_env(env(&[]), None).unwrap();
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
        )
        .unwrap();
        let openai = s.endpoint("openai").unwrap();
        assert_eq!(openai.base_url, "http://127.0.0.1:9/v1");
        assert!(!openai.key_required, "a self-hosted OpenAI-compatible server may need no key");
        assert_eq!(s.endpoint("ollama").unwrap().base_url, "http://10.0.0.5:11434/v1");
        let s = LlmSettings::from_env(env(&[("OLLAMA_HOST", "x:1")]), Some("http://gpu-box:8000/v1")).unwrap();
        assert_eq!(s.endpoint("local").unwrap().base_url, "http://gpu-box:8000/v1");
    }

    #[test]
    fn keys_never_show_in_debug_output() {
        let s = LlmSettings::from_env(env(&[("OPENAI_API_KEY", "sk-secret-123")]), None).unwrap();
        assert!(!format!("{s:?}").contains("sk-secret"));
    }

    #[test]
    fn malformed_urls_and_keys_name_their_variable() {
        for (pairs, variable) in [
            (&[("OPENAI_BASE_URL", "api.openai.com/v1")][..], "OPENAI_BASE_URL: "),
            (&[("ANTHROPIC_BASE_URL", "ftp://x")][..], "ANTHROPIC_BASE_URL: "),
            (&[("OLLAMA_HOST", "not a host")][..], "OLLAMA_HOST: "),
            (&[("OPENAI_API_KEY", "sk-a b")][..], "OPENAI_API_KEY: "),
            (&[("ANTHROPIC_API_KEY", "sk-\u{7}")][..], "ANTHROPIC_API_KEY: "),
        ] {
            let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            let err = LlmSettings::from_env(|k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()), None)
                .unwrap_err();
            assert!(err.starts_with(variable), "{err}");
            assert!(!err.contains("sk-"), "a key never shows in the message: {err}");
        }
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
