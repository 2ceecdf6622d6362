//! The composition root: picks the adapter behind each port from the configuration and hands
//! them to the app's [`Services::assemble`].

use super::config::{Config, redact_url};
use super::config_check::http_allow;
use super::error::StartupError;
use crate::adapters::chroma::ChromaIndex;
use crate::adapters::clock::SystemClock;
use crate::adapters::events::BroadcastEventBus;
use crate::adapters::mcp::McpHub;
use crate::adapters::models::ModelGateway;
use crate::adapters::models::settings::{LlmSettings, limits_setting, prices_setting};
use crate::adapters::outgoing::AddressGuard;
use crate::adapters::runners::code::CodeRunner;
use crate::adapters::runners::llm::{self, LlmRunner, ToolDeps};
use crate::adapters::runners::retriever::RetrieverRunner;
use crate::adapters::runners::tool::{HttpTool, ToolRunner};
use crate::adapters::runners::vision::{Tesseract, VisionRunner};
use crate::adapters::secrets::XChaCha;
use crate::adapters::store::{InMemoryStore, PgvectorIndex, PostgresStore, SqliteStore};
use crate::app::executor::ExecutorLimits;
use crate::app::runner_registry::RunnerRegistry;
use crate::app::services::{Ports, Services};
use crate::domain::vectors::VectorBackend;
use crate::domain::workflow::NodeKindTag;
use crate::ports::{
    AuditLog, ExecutionStore, FileStore, IdempotencyStore, IdentityStore, McpServerStore, McpTools, SecretStore,
    VectorStore, WorkflowStore,
};
use std::sync::Arc;
use std::time::Duration;

/// In-memory storage, the in-process bus, the system clock and the given runners.
#[must_use]
pub fn in_memory(runners: RunnerRegistry) -> Ports {
    with_store(Arc::new(InMemoryStore::new()), runners, false, true)
}

/// The store the URL names (`sqlite://...`, `postgres://...` or `memory://`), the in-process
/// bus, the system clock and the given runners.
///
/// # Errors
/// An unknown scheme, or a database that cannot be opened.
pub async fn open(url: &str, max_connections: u32, runners: RunnerRegistry) -> Result<Ports, StartupError> {
    let url = url.trim();
    let failed = |reason: String| StartupError::Database { url: redact_url(url), reason };
    match url.split_once(':').map(|(scheme, _)| scheme) {
        Some("memory") => Ok(in_memory(runners)),
        Some("sqlite") => {
            let store = Arc::new(SqliteStore::open(url, max_connections).await.map_err(failed)?);
            Ok(with_store(store, runners, true, true))
        }
        Some("postgres" | "postgresql") => {
            let store = Arc::new(PostgresStore::open(url, max_connections).await.map_err(failed)?);
            Ok(with_store(store, runners, true, false))
        }
        _ => Err(StartupError::UnsupportedDatabase(redact_url(url))),
    }
}

fn with_store<S>(store: Arc<S>, runners: RunnerRegistry, durable: bool, exclusive: bool) -> Ports
where
    S: WorkflowStore
        + ExecutionStore
        + IdempotencyStore
        + IdentityStore
        + SecretStore
        + McpServerStore
        + AuditLog
        + VectorStore
        + FileStore
        + AuditLog
        + crate::ports::HumanTaskStore
        + 'static,
{
    Ports {
        workflows: store.clone(),
        executions: store.clone(),
        idempotency: store.clone(),
        identities: store.clone(),
        secrets: store.clone(),
        mcp_servers: store.clone(),
        vectors: store.clone(),
        files: store.clone(),
        vector_indexes: Vec::new(),
        tasks: store.clone(),
        audit: store,
        // Public addresses only; `build` opens what OXIFY_HTTP_ALLOW opens.
        webhooks: webhooks(AddressGuard::default()),
        // Replaced by the configured key for storage that outlives the process (see `build`).
        cipher: Arc::new(XChaCha::ephemeral()),
        bus: Arc::new(BroadcastEventBus::default()),
        runners,
        clock: Arc::new(SystemClock),
        durable,
        exclusive,
    }
}

/// The sender of approval and form notifications, reaching what `guard` permits.
#[must_use]
pub fn webhooks(guard: AddressGuard) -> Arc<dyn crate::ports::WebhookSender> {
    match crate::adapters::outgoing::HttpWebhookSender::new(Arc::new(guard)) {
        Ok(sender) => Arc::new(sender),
        // Only without a TLS backend, which this build always has.
        Err(e) => panic!("{e}"),
    }
}

/// The runners this build has, configured from `config` and the process environment.
///
/// # Errors
/// Unparsable limits, prices or allow list, a provider URL or key that is not one.
pub fn runners(config: &Config) -> Result<RunnerRegistry, StartupError> {
    runners_with_env(config, |name| std::env::var(name).ok())
}

/// The runners, reading provider URLs and keys through `env` instead of the process environment.
///
/// # Errors
/// Unparsable limits, prices or allow list, a provider URL or key that is not one.
pub fn runners_with_env(config: &Config, env: impl Fn(&str) -> Option<String>) -> Result<RunnerRegistry, StartupError> {
    let mut settings = LlmSettings::from_env(env, config.ollama_url.as_deref()).map_err(StartupError::Config)?;
    settings.limits = limits_setting(&config.llm_limits).map_err(StartupError::Config)?;
    settings.prices = prices_setting(&config.llm_prices).map_err(StartupError::Config)?;
    settings.default_concurrency = config.llm_concurrency;
    // What a workflow author may make the server reach: one guard for every such address.
    let guard = Arc::new(AddressGuard::new(http_allow(&config.http_allow).map_err(StartupError::Config)?));
    // The registered MCP servers, one pool for the Tool runner and the LLM tool loop alike
    // (attached to storage in `Services::assemble`).
    let mcp = Arc::new(McpHub::new(config.mcp_settings(), guard.clone()).map_err(StartupError::Config)?);
    let gateway = Arc::new(ModelGateway::new(settings, guard.clone()).map_err(StartupError::Config)?);
    let http = HttpTool::new(guard, config.http_tool_limits()).map_err(StartupError::Config)?;
    let tool = ToolRunner::new(http.clone()).with_mcp(mcp.clone() as Arc<dyn McpTools>);
    let registry = RunnerRegistry::new();
    let tools = ToolDeps {
        http: http.clone(),
        mcp: Some(mcp.clone() as Arc<dyn McpTools>),
        workflows: registry.workflow_tools(),
    };
    let llm = LlmRunner::new(gateway.clone(), tools).with_files(registry.files());
    let retriever = RetrieverRunner::new(registry.retrieval()).with_backends(&vector_backends(config));
    let tesseract = Tesseract::probe(&config.tesseract);
    let vision = VisionRunner::new(http.clone(), tesseract, gateway.clone(), registry.files());
    Ok(registry
        .with_embedder(gateway)
        .with(NodeKindTag::Retriever, Arc::new(retriever))
        .with(NodeKindTag::Vision, Arc::new(vision))
        .with(NodeKindTag::Llm, Arc::new(llm))
        .with_default_retry(NodeKindTag::Llm, llm::default_retry())
        .with(NodeKindTag::Code, Arc::new(CodeRunner::new(config.code_limits())))
        .with(NodeKindTag::Tool, Arc::new(tool))
        .with_mcp(mcp))
}

/// The executor's limits from the configuration.
fn limits(config: &Config) -> ExecutorLimits {
    ExecutorLimits {
        max_concurrent_nodes: config.max_concurrent_nodes as usize,
        default_node_timeout: config.node_timeout(),
        max_depth: config.max_subworkflow_depth,
        max_in_flight_per_workspace: config.max_running_per_workspace,
        ..ExecutorLimits::default()
    }
}

/// Where pgvector collections live: `OXIFY_PGVECTOR_URL`, else the server's own Postgres.
fn pgvector_url(config: &Config) -> Option<&str> {
    let own = config.database_url.trim();
    config
        .pgvector_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .or_else(|| (own.starts_with("postgres:") || own.starts_with("postgresql:")).then_some(own))
}

/// The vector stores this configuration offers (the embedded one always).
#[must_use]
pub fn vector_backends(config: &Config) -> Vec<VectorBackend> {
    let mut backends = vec![VectorBackend::Embedded];
    if pgvector_url(config).is_some() {
        backends.push(VectorBackend::Pgvector);
    }
    if config.chroma_url.is_some() {
        backends.push(VectorBackend::Chroma);
    }
    backends
}

/// The external vector databases the configuration names (connected on first use).
///
/// # Errors
/// A pgvector or Chroma URL that cannot be used.
pub fn vector_indexes(config: &Config) -> Result<Vec<Arc<dyn crate::ports::VectorIndex>>, StartupError> {
    let mut indexes: Vec<Arc<dyn crate::ports::VectorIndex>> = Vec::new();
    if let Some(url) = pgvector_url(config) {
        let failed = |reason| StartupError::Database { url: redact_url(url), reason };
        indexes.push(Arc::new(PgvectorIndex::connect_lazy(url, config.database_max_connections).map_err(failed)?));
    }
    if let Some(url) = &config.chroma_url {
        indexes.push(Arc::new(ChromaIndex::new(url).map_err(StartupError::Config)?));
    }
    Ok(indexes)
}

/// Builds the services the configuration asks for.
///
/// # Errors
/// An unsupported or unreachable database.
pub async fn build(config: &Config) -> Result<Services, StartupError> {
    let mut ports = open(&config.database_url, config.database_max_connections, runners(config)?).await?;
    ports.vector_indexes = vector_indexes(config)?;
    ports.webhooks = webhooks(AddressGuard::new(http_allow(&config.http_allow).map_err(StartupError::Config)?));
    if ports.durable {
        let key = match &config.secrets_key {
            Some(text) => crate::adapters::secrets::key_file::decode(text),
            None => {
                if !ports.exclusive {
                    tracing::warn!(
                        "OXIFY_SECRETS_KEY is unset on a shared database: this process keeps its key in {}; every \
                         process must use the same key (set OXIFY_SECRETS_KEY on all of them)",
                        config.secrets_key_path().display()
                    );
                }
                crate::adapters::secrets::key_file::load_or_create(&config.secrets_key_path())
            }
        };
        ports.cipher = Arc::new(XChaCha::new(&key.map_err(StartupError::Config)?));
    }
    Ok(Services::assemble(ports, limits(config), Duration::from_secs(config.lease_secs))
        .with_idempotency_ttl(Duration::from_secs(config.idempotency_ttl_secs)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn the_subworkflow_depth_limit_comes_from_the_configuration() {
        assert_eq!(limits(&Config::defaults()).max_depth, 8);
        let config = Config::parse_from(["oxify-api", "--max-subworkflow-depth", "3", "--max-concurrent-nodes", "4"]);
        let limits = limits(&config);
        assert_eq!((limits.max_depth, limits.max_concurrent_nodes), (3, 4));
        assert!(Config::try_parse_from(["oxify-api", "--max-subworkflow-depth", "0"]).is_err());
    }
}
