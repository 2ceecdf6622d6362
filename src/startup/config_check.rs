//! Start-up checks of the configuration: every setting is validated, or normalised where one
//! form is as good as another, before anything starts, and a bad one stops the server with one
//! line naming the setting and the form it expects (a setting that looks fine but makes every
//! request fail later, such as a CORS origin with a trailing slash, would be much harder to find).

use super::config::Config;
use crate::adapters::models::settings::{http_url, limits_setting, prices_setting};
use crate::adapters::outgoing::AllowList;
use std::net::IpAddr;
use tracing_subscriber::EnvFilter;

/// What a log filter looks like, for error messages.
const FILTER_FORM: &str =
    "a level (error, warn, info, debug, trace) or directives such as oxify_api=debug,tower_http=info";

impl Config {
    /// The configuration with every setting checked and normalised; `RUST_LOG` is read from the
    /// process environment.
    ///
    /// # Errors
    /// One line naming the first bad setting and the form it expects.
    pub fn checked(self) -> Result<Self, String> {
        self.checked_with_env(|name| std::env::var(name).ok())
    }

    /// [`Config::checked`], reading environment variables through `env`.
    ///
    /// # Errors
    /// One line naming the first bad setting and the form it expects.
    pub fn checked_with_env(mut self, env: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        self.host = host(&self.host)?;
        log_filter(&self.log_level, "OXIFY_LOG_LEVEL (--log-level)")?;
        if let Some(rust_log) = env("RUST_LOG").filter(|v| !v.trim().is_empty()) {
            log_filter(&rust_log, "RUST_LOG")?;
        }
        self.cors_origins = cors_origins(&self.cors_origins)?;
        if let Some(url) = &self.ollama_url {
            self.ollama_url = Some(http_url(url, "OXIFY_OLLAMA_URL (--ollama-url)")?);
        }
        if let Some(url) = &self.chroma_url {
            self.chroma_url = Some(http_url(url, "OXIFY_CHROMA_URL (--chroma-url)")?);
        }
        if self.idle_timeout_secs <= self.sse_keepalive_secs {
            return Err(format!(
                "OXIFY_IDLE_TIMEOUT_SECS (--idle-timeout-secs): {} s would close quiet event streams, which send a keep-alive every {} s (OXIFY_SSE_KEEPALIVE_SECS); expected more seconds than that",
                self.idle_timeout_secs, self.sse_keepalive_secs
            ));
        }
        limits_setting(&self.llm_limits)?;
        prices_setting(&self.llm_prices)?;
        self.access = self.access.checked()?;
        http_allow(&self.http_allow)?;
        Ok(self)
    }

    /// The log filter in force: `RUST_LOG` when set, else `OXIFY_LOG_LEVEL`.
    #[must_use]
    pub fn log_filter(&self, rust_log: Option<&str>) -> EnvFilter {
        rust_log
            .filter(|v| !v.trim().is_empty())
            .and_then(|f| EnvFilter::try_new(f).ok())
            .or_else(|| EnvFilter::try_new(&self.log_level).ok())
            .unwrap_or_else(|| EnvFilter::new("info"))
    }
}

/// `OXIFY_HTTP_ALLOW`, read as the runners read it.
///
/// # Errors
/// The first entry that is not a host name, an IP address or a CIDR range, named.
pub fn http_allow(text: &str) -> Result<AllowList, String> {
    AllowList::parse(text).map_err(|e| format!("OXIFY_HTTP_ALLOW (--http-allow): {e}"))
}

fn log_filter(text: &str, setting: &str) -> Result<(), String> {
    EnvFilter::try_new(text)
        .map(drop)
        .map_err(|e| format!("{setting}: '{text}' is not a log filter ({e}); expected {FILTER_FORM}"))
}

/// An IP address or a host name; `[::1]` becomes `::1`.
fn host(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    let bare = trimmed.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(trimmed);
    let is_name = !bare.is_empty()
        && bare.len() <= 253
        && bare.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
        });
    if bare.parse::<IpAddr>().is_ok() || is_name {
        Ok(bare.to_owned())
    } else {
        Err(format!(
            "OXIFY_HOST (--host): '{text}' is not an address to listen on; expected an IP address such as 0.0.0.0, 127.0.0.1 or ::, or a host name"
        ))
    }
}

/// `*`, or origins as a browser sends them: `scheme://host[:port]`, normalised (a trailing slash
/// dropped, the default port left out, lower case).
fn cors_origins(list: &[String]) -> Result<Vec<String>, String> {
    let setting = "OXIFY_CORS_ORIGINS (--cors-origins)";
    let expected = "expected origins such as https://app.example.com or http://127.0.0.1:8088, comma separated, or *";
    let given: Vec<&str> = list.iter().map(|o| o.trim()).filter(|o| !o.is_empty()).collect();
    if given.contains(&"*") {
        return if given.len() == 1 {
            Ok(vec!["*".into()])
        } else {
            Err(format!("{setting}: * allows every origin and cannot be combined with others; {expected}"))
        };
    }
    given
        .into_iter()
        .map(|text| origin(text).map_err(|problem| format!("{setting}: '{text}' {problem}; {expected}")))
        .collect()
}

fn origin(text: &str) -> Result<String, &'static str> {
    if !text.contains("://") {
        return Err("has no scheme");
    }
    let url = reqwest::Url::parse(text).map_err(|_| "is not a URL")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("is not an http or https origin");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("has a user name or password, which an origin never has");
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err("has a path, query or fragment, which an origin never has");
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn check(args: &[&str]) -> Result<Config, String> {
        let mut all = vec!["oxify-api"];
        all.extend_from_slice(args);
        Config::parse_from(all).checked_with_env(|_| None)
    }

    #[test]
    fn cors_origins_are_normalised_to_what_browsers_send() {
        let c = check(&["--cors-origins", "http://127.0.0.1:8088/, HTTPS://App.Example.com:443"]).unwrap();
        assert_eq!(c.cors_origins(), vec!["http://127.0.0.1:8088", "https://app.example.com"]);
        assert_eq!(check(&["--cors-origins", "*"]).unwrap().cors_origins(), vec!["*"]);
        assert!(check(&[]).unwrap().cors_origins().is_empty());
    }

    #[test]
    fn malformed_cors_origins_name_the_setting_and_the_form() {
        for (bad, problem) in [
            ("not a url", "has no scheme"),
            ("127.0.0.1:8088", "has no scheme"),
            ("localhost:8088", "has no scheme"),
            ("http://a.example/app", "has a path"),
            ("ftp://a.example", "not an http or https origin"),
            ("http://u:p@a.example", "user name or password"),
            ("*,http://a.example", "cannot be combined"),
        ] {
            let err = check(&["--cors-origins", bad]).unwrap_err();
            assert!(err.starts_with("OXIFY_CORS_ORIGINS (--cors-origins): "), "{err}");
            assert!(err.contains(problem), "{bad}: {err}");
            assert!(err.contains("expected"), "{err}");
        }
    }

    #[test]
    fn hosts_log_filters_urls_limits_and_prices_are_checked() {
        assert_eq!(check(&["--host", "[::1]"]).unwrap().host, "::1");
        assert_eq!(check(&["--host", "localhost"]).unwrap().host, "localhost");
        assert!(check(&["--host", "not a host"]).unwrap_err().starts_with("OXIFY_HOST (--host): "));
        assert!(check(&["--log-level", "oxify_api=loud"]).unwrap_err().starts_with("OXIFY_LOG_LEVEL (--log-level): "));
        let rust_log = Config::defaults().checked_with_env(|k| (k == "RUST_LOG").then(|| "=x=".to_owned()));
        assert!(rust_log.unwrap_err().starts_with("RUST_LOG: "));
        assert_eq!(check(&["--ollama-url", "http://gpu:8000/v1/"]).unwrap().ollama_url.unwrap(), "http://gpu:8000/v1");
        assert!(check(&["--ollama-url", "gpu:8000"]).unwrap_err().starts_with("OXIFY_OLLAMA_URL (--ollama-url): "));
        assert!(check(&["--llm-limits", "openai=fast"]).unwrap_err().starts_with("OXIFY_LLM_LIMITS (--llm-limits): "));
        assert!(check(&["--llm-prices", "gpt=cheap"]).unwrap_err().starts_with("OXIFY_LLM_PRICES (--llm-prices): "));
        let quiet = check(&["--idle-timeout-secs", "10", "--sse-keepalive-secs", "15"]).unwrap_err();
        assert!(quiet.starts_with("OXIFY_IDLE_TIMEOUT_SECS (--idle-timeout-secs): "), "{quiet}");
    }

    #[test]
    fn the_http_allow_list_is_checked_and_its_default_opens_nothing() {
        assert!(check(&[]).unwrap().http_allow.is_empty());
        assert!(check(&["--http-allow", "10.0.0.0/8, api.internal, ::1"]).is_ok());
        let err = check(&["--http-allow", "10.0.0.0/33"]).unwrap_err();
        assert!(
            err.starts_with("OXIFY_HTTP_ALLOW (--http-allow): '10.0.0.0/33' is not a CIDR range; expected "),
            "{err}"
        );
        let err = check(&["--http-allow", "http://api.internal"]).unwrap_err();
        assert!(err.contains("has a scheme or port"), "{err}");
    }
}
