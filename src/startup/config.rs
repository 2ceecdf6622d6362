//! Configuration: every setting is a command-line flag and an `OXIFY_*` environment variable.

use crate::adapters::mcp::McpSettings;
use crate::adapters::runners::code::CodeLimits;
use crate::adapters::runners::tool::HttpToolLimits;
use clap::{Parser, ValueEnum};
use std::fmt;
use std::time::Duration;

/// How long the HTTP server waits for slow or idle clients, and how many it holds at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// To receive a request's headers, from connecting or from the previous response.
    pub header_timeout: Duration,
    /// To receive a whole request body.
    pub body_timeout: Duration,
    /// Between two requests on a kept-alive connection.
    pub idle_timeout: Duration,
    /// Open connections at most; `None`: derived from the open-files limit.
    pub max_connections: Option<usize>,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Config::defaults().connection_limits()
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Variables read besides the `OXIFY_*` settings above, listed at the end of `--help`.
const OTHER_VARIABLES: &str = "\
Other environment variables read:
  OPENAI_API_KEY       key sent to the openai provider (never logged, stored or returned)
  OPENAI_BASE_URL      base URL of the openai provider [default: https://api.openai.com/v1]
  ANTHROPIC_API_KEY    key sent to the anthropic provider (never logged, stored or returned)
  ANTHROPIC_BASE_URL   base URL of the anthropic provider [default: https://api.anthropic.com]
  OLLAMA_HOST          host:port or URL of Ollama, for the ollama and local providers
                       [default: http://localhost:11434]; OXIFY_OLLAMA_URL wins when set
  OLLAMA_API_KEY       key sent to the ollama and local providers, if set
  RUST_LOG             log filter; wins over OXIFY_LOG_LEVEL when set
  NO_COLOR             when set, log lines carry no colour codes even on a terminal";

/// oxify-api: define LLM workflows as DAGs, store them, run them, watch them run live.
#[derive(Clone, Parser)]
#[command(name = "oxify-api", version, about, long_about = None, after_help = OTHER_VARIABLES)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "OXIFY_HOST", default_value = "0.0.0.0")]
    pub host: String,

    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "OXIFY_PORT", default_value_t = 3000)]
    pub port: u16,

    /// Log filter: a level (`info`, `debug`) or directives (`oxify_api=debug,tower_http=info`).
    #[arg(long, env = "OXIFY_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Log output format.
    #[arg(long, env = "OXIFY_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Where data lives: `sqlite://path/to/file.db` (created on first start),
    /// `postgres://user:password@host/db`, or `memory://` (nothing kept after exit).
    #[arg(long, env = "OXIFY_DATABASE_URL", default_value = "sqlite://oxify.db", hide_env_values = true)]
    pub database_url: String,

    /// Connections to Postgres (readers of SQLite).
    #[arg(long, env = "OXIFY_DATABASE_MAX_CONNECTIONS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub database_max_connections: u32,

    /// Seconds a process may go silent before another takes over its executions.
    #[arg(long, env = "OXIFY_LEASE_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub lease_secs: u64,

    /// Runner nodes of one execution that may run at the same time.
    #[arg(long, env = "OXIFY_MAX_CONCURRENT_NODES", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent_nodes: u32,

    /// How many levels deep child executions (SubWorkflow nodes, Loop bodies that are workflows) may
    /// nest; a child that would go deeper fails its parent node with a clear message.
    #[arg(long, env = "OXIFY_MAX_SUBWORKFLOW_DEPTH", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_subworkflow_depth: u32,

    /// Executions a workspace may have pending or running at once, started by requests (0: no
    /// limit); past it, execute and rerun answer 429 `RateLimited` with `Retry-After`.
    #[arg(long, env = "OXIFY_MAX_RUNNING_PER_WORKSPACE", default_value_t = 1000)]
    pub max_running_per_workspace: u64,

    /// Deadline in seconds for each attempt of a node without its own `timeout_config` (0: none).
    #[arg(long, env = "OXIFY_NODE_TIMEOUT_SECS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(0..=MAX_SECS))]
    pub node_timeout_secs: u64,

    /// Origins allowed to call the API from a browser, comma separated, or `*` for any
    /// (empty: same origin only).
    #[arg(long, env = "OXIFY_CORS_ORIGINS", value_delimiter = ',', default_value = "")]
    pub cors_origins: Vec<String>,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "OXIFY_MAX_BODY_BYTES", default_value_t = 2 * 1024 * 1024, value_parser = body_bytes)]
    pub max_body_bytes: usize,

    /// Seconds between keep-alive comments on event streams.
    #[arg(long, env = "OXIFY_SSE_KEEPALIVE_SECS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub sse_keepalive_secs: u64,

    /// Base URL of the OpenAI-compatible server behind the `ollama` and `local` providers
    /// (default: `OLLAMA_HOST` + `/v1`, else http://localhost:11434/v1).
    #[arg(long, env = "OXIFY_OLLAMA_URL")]
    pub ollama_url: Option<String>,

    /// Postgres server holding `pgvector` collections (it needs the pgvector extension).
    /// Default: the server's own database when that is Postgres; else pgvector is off.
    #[arg(long, env = "OXIFY_PGVECTOR_URL", hide_env_values = true)]
    pub pgvector_url: Option<String>,

    /// Base URL of the Chroma server holding `chroma` collections (its v2 HTTP API), e.g.
    /// http://127.0.0.1:8000. Unset: chroma is off.
    #[arg(long, env = "OXIFY_CHROMA_URL", hide_env_values = true)]
    pub chroma_url: Option<String>,

    /// LLM rate limits: `openai=concurrency:8,rpm:500,tpm:200000;openai/gpt-4o=rpm:60`.
    #[arg(long, env = "OXIFY_LLM_LIMITS", default_value = "")]
    pub llm_limits: String,

    /// Concurrent LLM requests per provider without a configured `concurrency`.
    #[arg(long, env = "OXIFY_LLM_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
    pub llm_concurrency: u32,

    /// LLM prices in USD per million input/output tokens: `gpt-4o-mini=0.15/0.60;claude-sonnet-4=3/15`.
    #[arg(long, env = "OXIFY_LLM_PRICES", default_value = "")]
    pub llm_prices: String,

    /// The Tesseract OCR command Vision nodes run (`apt-get install tesseract-ocr tesseract-ocr-eng`).
    #[arg(long, env = "OXIFY_TESSERACT", default_value = "tesseract")]
    pub tesseract: String,

    /// Largest file `POST /api/v1/files` accepts, in bytes.
    #[arg(long, env = "OXIFY_MAX_UPLOAD_BYTES", default_value_t = 20 * 1024 * 1024, value_parser = body_bytes)]
    pub max_upload_bytes: usize,

    /// Seconds an `Idempotency-Key` answers for the request it was first used with; after that
    /// it is free again.
    #[arg(long, env = "OXIFY_IDEMPOTENCY_TTL_SECS", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..))]
    pub idempotency_ttl_secs: u64,

    /// On SIGTERM/SIGINT, seconds to let running executions finish before interrupting them.
    #[arg(long, env = "OXIFY_SHUTDOWN_GRACE_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=MAX_SECS))]
    pub shutdown_grace_secs: u64,

    /// Seconds a client has to send a request's headers, from connecting or from its previous
    /// response; a connection that takes longer is closed.
    #[arg(long, env = "OXIFY_HEADER_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout_secs: u64,

    /// Seconds a client has to send a whole request body; slower bodies get 408 RequestTimeout.
    #[arg(long, env = "OXIFY_BODY_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout_secs: u64,

    /// Seconds a kept-alive connection may stay idle between requests before it is closed.
    #[arg(long, env = "OXIFY_IDLE_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idle_timeout_secs: u64,

    /// Open connections at most (default: what the open-files limit leaves room for, at most
    /// 10000). At the cap, a new connection replaces the longest-idle one; when none is idle it
    /// gets 503 ServiceUnavailable.
    #[arg(long, env = "OXIFY_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,

    /// Hosts and ranges that workflows may reach although they are not public (an HTTP tool's
    /// server, an LLM node's own `base_url`): host names (`api.internal`, `*.corp.example`), IP
    /// addresses or CIDR ranges (`10.0.0.0/8`), comma separated. Everything else that is not a
    /// public address (loopback, private, link-local, metadata, ...) is refused.
    #[arg(long, env = "OXIFY_HTTP_ALLOW", default_value = "")]
    pub http_allow: String,

    /// Seconds an HTTP tool call may take in all (connecting, redirects, reading the answer).
    #[arg(long, env = "OXIFY_HTTP_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub http_timeout_secs: u64,

    /// Largest answer an HTTP tool reads, in bytes; a larger one fails the node.
    #[arg(long, env = "OXIFY_HTTP_MAX_RESPONSE_BYTES", default_value_t = 10 * 1024 * 1024, value_parser = body_bytes)]
    pub http_max_response_bytes: usize,

    /// Commands an MCP server registered with the `stdio` transport may run, comma separated:
    /// each an absolute path or a bare program name, matched exactly against the registered
    /// `command`. Empty (the default): no stdio server can be registered.
    #[arg(long, env = "OXIFY_MCP_STDIO_ALLOW", default_value = "")]
    pub mcp_stdio_allow: String,

    /// Seconds connecting to an MCP server (starting it, the initialize handshake) may take.
    #[arg(long, env = "OXIFY_MCP_CONNECT_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub mcp_connect_timeout_secs: u64,

    /// Seconds one MCP tool call (or tool listing) may take.
    #[arg(long, env = "OXIFY_MCP_CALL_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub mcp_call_timeout_secs: u64,

    /// Deadline in milliseconds of a Code node's script when the node has no `timeout_config`.
    #[arg(long, env = "OXIFY_CODE_TIMEOUT_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=MAX_SECS * 1000))]
    pub code_timeout_ms: u64,

    /// Memory a Code node's script may use, in MiB (a JavaScript heap; the largest Rhai value).
    #[arg(long, env = "OXIFY_CODE_MEMORY_MB", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=16_384))]
    pub code_memory_mb: u32,

    /// Open-files limit (RLIMIT_NOFILE) to raise the process's soft limit to at start (default:
    /// the hard limit; 0 leaves it as it is). Each connection holds one open file.
    #[arg(long, env = "OXIFY_OPEN_FILES")]
    pub open_files: Option<u64>,

    /// Key that seals workspace secrets at rest: 32 bytes in base64 (`openssl rand -base64 32`).
    /// Unset: the key in `OXIFY_SECRETS_KEY_FILE`, created on first start.
    #[arg(long, env = "OXIFY_SECRETS_KEY", hide_env_values = true)]
    pub secrets_key: Option<String>,

    /// File holding the secrets key when `OXIFY_SECRETS_KEY` is unset; created (mode 0600) on
    /// first start (default: beside a SQLite database, `<database>.secrets.key`; else
    /// `oxify-secrets.key`). Back it up with the database: stored secrets cannot be read
    /// without it.
    #[arg(long, env = "OXIFY_SECRETS_KEY_FILE")]
    pub secrets_key_file: Option<std::path::PathBuf>,

    /// Users, tokens, single sign-on, the first start's key, anonymous access and request limits.
    #[command(flatten)]
    pub access: super::access_config::AccessConfig,
}

/// Longest duration setting, in seconds (a week).
const MAX_SECS: u64 = 7 * 24 * 3600;

/// A body limit of at least one byte.
fn body_bytes(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("'{text}' is not a number of bytes of at least 1")),
    }
}

impl Config {
    /// Defaults, as if started with no flags and no environment.
    #[must_use]
    pub fn defaults() -> Self {
        Self::parse_from(["oxify-api"])
    }

    /// Where the secrets key file is: as configured, else beside a SQLite database, else
    /// `oxify-secrets.key` in the working directory.
    #[must_use]
    pub fn secrets_key_path(&self) -> std::path::PathBuf {
        if let Some(path) = &self.secrets_key_file {
            return path.clone();
        }
        let url = self.database_url.trim();
        match url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            Some(rest) => format!("{}.secrets.key", rest.split('?').next().unwrap_or_default()).into(),
            None => "oxify-secrets.key".into(),
        }
    }

    #[must_use]
    pub fn node_timeout(&self) -> Option<Duration> {
        (self.node_timeout_secs > 0).then(|| Duration::from_secs(self.node_timeout_secs))
    }

    /// Origins with blanks removed (normalised by [`Config::checked`]).
    #[must_use]
    pub fn cors_origins(&self) -> Vec<String> {
        self.cors_origins.iter().map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()).collect()
    }

    /// The limits of Code nodes' scripts.
    #[must_use]
    pub fn code_limits(&self) -> CodeLimits {
        CodeLimits {
            default_timeout: Duration::from_millis(self.code_timeout_ms),
            memory_bytes: (self.code_memory_mb as usize).saturating_mul(1024 * 1024),
            ..CodeLimits::default()
        }
    }

    /// The limits of HTTP tool calls.
    #[must_use]
    pub fn http_tool_limits(&self) -> HttpToolLimits {
        HttpToolLimits {
            timeout: Duration::from_secs(self.http_timeout_secs),
            max_response_bytes: self.http_max_response_bytes,
        }
    }

    /// How MCP servers are reached: the stdio allow list and the timeouts.
    #[must_use]
    pub fn mcp_settings(&self) -> McpSettings {
        McpSettings {
            stdio_allow: self
                .mcp_stdio_allow
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect(),
            connect_timeout: Duration::from_secs(self.mcp_connect_timeout_secs),
            call_timeout: Duration::from_secs(self.mcp_call_timeout_secs),
        }
    }

    /// The HTTP server's timeouts and connection cap.
    #[must_use]
    pub fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            header_timeout: Duration::from_secs(self.header_timeout_secs),
            body_timeout: Duration::from_secs(self.body_timeout_secs),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
            max_connections: self.max_connections.map(|n| n as usize),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("log_level", &self.log_level)
            .field("log_format", &self.log_format)
            .field("database_url", &redact_url(&self.database_url))
            .field("database_max_connections", &self.database_max_connections)
            .field("lease_secs", &self.lease_secs)
            .field("max_concurrent_nodes", &self.max_concurrent_nodes)
            .field("max_subworkflow_depth", &self.max_subworkflow_depth)
            .field("node_timeout_secs", &self.node_timeout_secs)
            .field("secrets_key", &self.secrets_key.as_ref().map(|_| "***"))
            .field("secrets_key_file", &self.secrets_key_file)
            .field("cors_origins", &self.cors_origins)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("sse_keepalive_secs", &self.sse_keepalive_secs)
            .field("ollama_url", &self.ollama_url.as_deref().map(redact_url))
            .field("pgvector_url", &self.pgvector_url.as_deref().map(redact_url))
            .field("chroma_url", &self.chroma_url.as_deref().map(redact_url))
            .field("llm_limits", &self.llm_limits)
            .field("llm_concurrency", &self.llm_concurrency)
            .field("llm_prices", &self.llm_prices)
            .field("tesseract", &self.tesseract)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("idempotency_ttl_secs", &self.idempotency_ttl_secs)
            .field("shutdown_grace_secs", &self.shutdown_grace_secs)
            .field("header_timeout_secs", &self.header_timeout_secs)
            .field("body_timeout_secs", &self.body_timeout_secs)
            .field("idle_timeout_secs", &self.idle_timeout_secs)
            .field("max_connections", &self.max_connections)
            .field("open_files", &self.open_files)
            .field("access", &self.access)
            .field("http_allow", &self.http_allow)
            .field("http_timeout_secs", &self.http_timeout_secs)
            .field("http_max_response_bytes", &self.http_max_response_bytes)
            .field("code_timeout_ms", &self.code_timeout_ms)
            .field("code_memory_mb", &self.code_memory_mb)
            .field("mcp_stdio_allow", &self.mcp_stdio_allow)
            .field("mcp_connect_timeout_secs", &self.mcp_connect_timeout_secs)
            .field("mcp_call_timeout_secs", &self.mcp_call_timeout_secs)
            .finish()
    }
}

/// A URL with its password replaced by `***`.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_once('/').map_or((rest, None), |(a, p)| (a, Some(p)));
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
    let hidden = if userinfo.contains(':') { format!("{user}:***") } else { user.to_owned() };
    match path {
        Some(p) => format!("{scheme}://{hidden}@{host}/{p}"),
        None => format!("{scheme}://{hidden}@{host}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show_in_debug_output() {
        assert_eq!(redact_url("postgres://app:s3cret@db:5432/oxify"), "postgres://app:***@db:5432/oxify");
        assert_eq!(redact_url("postgres://app@db/oxify"), "postgres://app@db/oxify");
        assert_eq!(redact_url("sqlite://oxify.db"), "sqlite://oxify.db");
        let mut c = Config::defaults();
        c.database_url = "postgres://u:hunter2@h/d".into();
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn flags_override_defaults() {
        let c = Config::parse_from([
            "oxify-api",
            "--port",
            "8080",
            "--cors-origins",
            "https://a.example, https://b.example",
        ]);
        assert_eq!(c.port, 8080);
        assert_eq!(c.cors_origins(), vec!["https://a.example", "https://b.example"]);
        assert_eq!(Config::defaults().cors_origins(), Vec::<String>::new());
    }
}
