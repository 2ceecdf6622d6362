//! Picks the adapters from the configuration and assembles the services.

use super::config::{Config, redact_url};
use super::executions::ExecutionService;
use super::executor::{Executor, ExecutorLimits};
use super::runners::RunnerRegistry;
use super::running::RunningExecutions;
use super::workflows::WorkflowService;
use crate::adapters::clock::SystemClock;
use crate::adapters::events::BroadcastEventBus;
use crate::adapters::store::InMemoryStore;
use crate::ports::{Clock, EventBus, ExecutionStore, WorkflowStore};
use std::sync::Arc;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("unsupported database URL {0}: expected memory://")]
    UnsupportedDatabase(String),
    #[error("cannot listen on {address}: {source}")]
    Bind { address: String, source: std::io::Error },
    #[error("server error: {0}")]
    Serve(#[from] std::io::Error),
}

/// The adapters the services are built from.
pub struct Adapters {
    pub workflows: Arc<dyn WorkflowStore>,
    pub executions: Arc<dyn ExecutionStore>,
    pub bus: Arc<dyn EventBus>,
    pub runners: RunnerRegistry,
    pub clock: Arc<dyn Clock>,
}

impl Adapters {
    /// In-memory storage, the in-process bus, the system clock and the given runners.
    #[must_use]
    pub fn in_memory(runners: RunnerRegistry) -> Self {
        let store = Arc::new(InMemoryStore::new());
        Self {
            workflows: store.clone(),
            executions: store,
            bus: Arc::new(BroadcastEventBus::default()),
            runners,
            clock: Arc::new(SystemClock),
        }
    }
}

/// The use cases, ready to serve.
#[derive(Clone)]
pub struct Services {
    pub workflows: Arc<WorkflowService>,
    pub executions: Arc<ExecutionService>,
    pub running: Arc<RunningExecutions>,
}

impl Services {
    #[must_use]
    pub fn assemble(adapters: Adapters, limits: ExecutorLimits) -> Self {
        let running = Arc::new(RunningExecutions::default());
        let executor = Arc::new(Executor::new(
            adapters.executions.clone(),
            adapters.bus.clone(),
            adapters.runners,
            adapters.clock.clone(),
            limits,
        ));
        Self {
            workflows: Arc::new(WorkflowService::new(adapters.workflows.clone(), adapters.clock.clone())),
            executions: Arc::new(ExecutionService::new(
                adapters.workflows,
                adapters.executions,
                adapters.bus,
                executor,
                running.clone(),
                adapters.clock,
            )),
            running,
        }
    }
}

/// The runners this build has.
#[must_use]
pub fn runners(_config: &Config) -> RunnerRegistry {
    RunnerRegistry::new()
}

/// Builds the services the configuration asks for.
///
/// # Errors
/// An unsupported database URL.
pub fn build(config: &Config) -> Result<Services, StartupError> {
    let url = config.database_url.trim();
    let adapters = match url.split_once("://").map(|(scheme, _)| scheme) {
        Some("memory") => Adapters::in_memory(runners(config)),
        _ => return Err(StartupError::UnsupportedDatabase(redact_url(url))),
    };
    let limits = ExecutorLimits {
        max_concurrent_nodes: config.max_concurrent_nodes as usize,
        default_node_timeout: config.node_timeout(),
        ..ExecutorLimits::default()
    };
    Ok(Services::assemble(adapters, limits))
}
