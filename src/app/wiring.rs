//! Picks the adapters from the configuration and assembles the services.

use super::config::{Config, redact_url};
use super::executions::ExecutionService;
use super::executor::{Executor, ExecutorLimits};
use super::idempotency::{DEFAULT_TTL, IdempotencyService, KeyedFirstWrites};
use super::recovery::Recovery;
use super::runners::RunnerRegistry;
use super::running::RunningExecutions;
use super::workflows::WorkflowService;
use crate::adapters::clock::SystemClock;
use crate::adapters::events::BroadcastEventBus;
use crate::adapters::runners::llm::settings::{LlmSettings, limits_setting, prices_setting};
use crate::adapters::runners::llm::{self, LlmRunner};
use crate::adapters::store::{InMemoryStore, PostgresStore, SqliteStore};
use crate::ports::{Clock, EventBus, ExecutionStore, IdempotencyStore, Lease, WorkflowStore};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("unsupported database URL {0}: expected sqlite://, postgres:// or memory://")]
    UnsupportedDatabase(String),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot open database {url}: {reason}")]
    Database { url: String, reason: String },
    #[error("cannot listen on {address}: {source}")]
    Bind { address: String, source: std::io::Error },
    #[error("server error: {0}")]
    Serve(#[from] std::io::Error),
}

/// The adapters the services are built from.
pub struct Adapters {
    pub workflows: Arc<dyn WorkflowStore>,
    pub executions: Arc<dyn ExecutionStore>,
    /// Idempotency keys, kept by the same store as the executions (a key is written with its
    /// execution, atomically).
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub bus: Arc<dyn EventBus>,
    pub runners: RunnerRegistry,
    pub clock: Arc<dyn Clock>,
    /// Whether the data outlives the process (so executions can be resumed).
    pub durable: bool,
    /// Whether only this process can open the store (so every unfinished execution is ours).
    pub exclusive: bool,
}

impl Adapters {
    /// In-memory storage, the in-process bus, the system clock and the given runners.
    #[must_use]
    pub fn in_memory(runners: RunnerRegistry) -> Self {
        let store = Arc::new(InMemoryStore::new());
        Self::with_store(store, runners, false, true)
    }

    fn with_store<S>(store: Arc<S>, runners: RunnerRegistry, durable: bool, exclusive: bool) -> Self
    where
        S: WorkflowStore + ExecutionStore + IdempotencyStore + 'static,
    {
        let bus = Arc::new(BroadcastEventBus::default());
        Self {
            workflows: store.clone(),
            executions: store.clone(),
            idempotency: store,
            bus,
            runners,
            clock: Arc::new(SystemClock),
            durable,
            exclusive,
        }
    }

    /// The store the URL names: `sqlite://...`, `postgres://...` or `memory://`.
    ///
    /// # Errors
    /// An unknown scheme, or a database that cannot be opened.
    pub async fn open(url: &str, max_connections: u32, runners: RunnerRegistry) -> Result<Self, StartupError> {
        let url = url.trim();
        let failed = |reason: String| StartupError::Database { url: redact_url(url), reason };
        match url.split_once(':').map(|(scheme, _)| scheme) {
            Some("memory") => Ok(Self::in_memory(runners)),
            Some("sqlite") => {
                let store = Arc::new(SqliteStore::open(url, max_connections).await.map_err(failed)?);
                Ok(Self::with_store(store, runners, true, true))
            }
            Some("postgres" | "postgresql") => {
                let store = Arc::new(PostgresStore::open(url, max_connections).await.map_err(failed)?);
                Ok(Self::with_store(store, runners, true, false))
            }
            _ => Err(StartupError::UnsupportedDatabase(redact_url(url))),
        }
    }
}

/// The use cases, ready to serve.
#[derive(Clone)]
pub struct Services {
    pub workflows: Arc<WorkflowService>,
    pub executions: Arc<ExecutionService>,
    pub idempotency: Arc<IdempotencyService>,
    pub running: Arc<RunningExecutions>,
    recovery: Arc<Recovery>,
    exclusive: bool,
}

impl Services {
    #[must_use]
    pub fn assemble(adapters: Adapters, limits: ExecutorLimits, lease_ttl: Duration) -> Self {
        let running = Arc::new(RunningExecutions::default());
        let lease = Lease { owner: uuid::Uuid::new_v4().to_string(), ttl: lease_ttl };
        let limits = ExecutorLimits { resumable: adapters.durable, ..limits };
        let workflows = Arc::new(WorkflowService::new(
            adapters.workflows.clone(),
            adapters.clock.clone(),
            adapters.runners.clone(),
        ));
        // The executor writes through the store that adds an idempotency key to the first write
        // of the execution it started.
        let first_writes = Arc::new(KeyedFirstWrites::new(adapters.executions.clone(), adapters.idempotency.clone()));
        let executor = Executor::new(
            first_writes.clone(),
            adapters.bus.clone(),
            adapters.runners,
            adapters.clock.clone(),
            limits,
            lease,
        )
        .with_children(adapters.workflows.clone(), running.clone(), Arc::default())
        .into_arc();
        let recovery = Arc::new(Recovery {
            workflows: adapters.workflows.clone(),
            executions: adapters.executions.clone(),
            executor: executor.clone(),
            running: running.clone(),
            bus: adapters.bus.clone(),
            clock: adapters.clock.clone(),
        });
        let executions = Arc::new(ExecutionService::new(
            adapters.workflows,
            adapters.executions,
            adapters.bus,
            executor,
            running.clone(),
            adapters.clock.clone(),
        ));
        let idempotency = Arc::new(IdempotencyService::new(
            executions.clone(),
            adapters.idempotency,
            first_writes,
            adapters.clock,
            DEFAULT_TTL,
        ));
        Self { workflows, executions, idempotency, running, recovery, exclusive: adapters.exclusive }
    }

    /// Keeps idempotency keys for `ttl` instead of [`DEFAULT_TTL`].
    #[must_use]
    pub fn with_idempotency_ttl(mut self, ttl: Duration) -> Self {
        self.idempotency = Arc::new(self.idempotency.with_ttl(ttl));
        self
    }

    /// Resumes the executions a previous process left unfinished, then keeps leases renewed,
    /// looks for orphans and purges expired idempotency keys until `stop` fires.
    pub async fn recover_and_maintain(&self, stop: CancellationToken) {
        match self.recovery.recover(self.exclusive).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(resumed = n, "resumed unfinished executions"),
            Err(e) => tracing::error!(error = %e, "resuming unfinished executions failed; retrying in the background"),
        }
        self.recovery.clone().spawn_maintenance(stop.clone());
        self.idempotency.clone().spawn_purge(stop);
    }
}

/// The runners this build has, configured from `config` and the process environment.
///
/// # Errors
/// Unparsable limits or prices, a provider URL or key that is not one.
pub fn runners(config: &Config) -> Result<RunnerRegistry, StartupError> {
    runners_with_env(config, |name| std::env::var(name).ok())
}

/// The runners, reading provider URLs and keys through `env` instead of the process environment.
///
/// # Errors
/// Unparsable limits or prices, a provider URL or key that is not one.
pub fn runners_with_env(config: &Config, env: impl Fn(&str) -> Option<String>) -> Result<RunnerRegistry, StartupError> {
    let mut settings = LlmSettings::from_env(env, config.ollama_url.as_deref()).map_err(StartupError::Config)?;
    settings.limits = limits_setting(&config.llm_limits).map_err(StartupError::Config)?;
    settings.prices = prices_setting(&config.llm_prices).map_err(StartupError::Config)?;
    settings.default_concurrency = config.llm_concurrency;
    let llm = LlmRunner::new(settings).map_err(StartupError::Config)?;
    Ok(RunnerRegistry::new().with("LLM", Arc::new(llm)).with_default_retry("LLM", llm::default_retry()))
}

/// Builds the services the configuration asks for.
///
/// # Errors
/// An unsupported or unreachable database.
pub async fn build(config: &Config) -> Result<Services, StartupError> {
    let adapters = Adapters::open(&config.database_url, config.database_max_connections, runners(config)?).await?;
    let limits = ExecutorLimits {
        max_concurrent_nodes: config.max_concurrent_nodes as usize,
        default_node_timeout: config.node_timeout(),
        ..ExecutorLimits::default()
    };
    Ok(Services::assemble(adapters, limits, Duration::from_secs(config.lease_secs))
        .with_idempotency_ttl(Duration::from_secs(config.idempotency_ttl_secs)))
}
