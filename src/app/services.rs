//! The use cases assembled from the ports they run on. Which adapter stands behind each port is
//! chosen outside the app (in `startup`), so this layer never names one.

use super::audit::AuditTrail;
use super::collections::CollectionService;
use super::event_stream::EventStreamService;
use super::executions::ExecutionService;
use super::executor::{Executor, ExecutorLimits};
use super::files::FileService;
use super::idempotency::{DEFAULT_TTL, IdempotencyService, KeyedFirstWrites};
use super::live_executions::LiveExecutions;
use super::mcp::McpService;
use super::recovery::Recovery;
use super::runner_registry::RunnerRegistry;
use super::secrets::SecretService;
use super::workflows::WorkflowService;
use crate::ports::{
    AuditLog, Clock, EventBus, ExecutionStore, FileStore, IdempotencyStore, IdentityStore, Lease, McpServerStore,
    McpTools, SecretCipher, SecretSource, SecretStore, VectorStore, WorkflowStore,
};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What the services are built from: one object behind each port, and what the store can do.
pub struct Ports {
    pub workflows: Arc<dyn WorkflowStore>,
    pub executions: Arc<dyn ExecutionStore>,
    /// Idempotency keys, kept by the same store as the executions (a key is written with its
    /// execution, atomically).
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// Workspaces, users, memberships, API keys and server settings.
    pub identities: Arc<dyn IdentityStore>,
    /// Workspace secrets, sealed by `cipher`.
    pub secrets: Arc<dyn SecretStore>,
    pub cipher: Arc<dyn SecretCipher>,
    /// The MCP servers each workspace registered.
    pub mcp_servers: Arc<dyn McpServerStore>,
    /// Who did what.
    pub audit: Arc<dyn AuditLog>,
    /// Vector collections and their chunks.
    pub vectors: Arc<dyn VectorStore>,
    /// Uploaded files.
    pub files: Arc<dyn FileStore>,
    /// The external vector databases configured (pgvector, Chroma).
    pub vector_indexes: Vec<Arc<dyn crate::ports::VectorIndex>>,
    /// Approvals and forms.
    pub tasks: Arc<dyn crate::ports::HumanTaskStore>,
    /// Where approval and form notifications are posted.
    pub webhooks: Arc<dyn crate::ports::WebhookSender>,
    pub bus: Arc<dyn EventBus>,
    pub runners: RunnerRegistry,
    pub clock: Arc<dyn Clock>,
    /// Whether the data outlives the process (so executions can be resumed).
    pub durable: bool,
    /// Whether only this process can open the store (so every unfinished execution is ours).
    pub exclusive: bool,
}

/// The use cases, ready to serve.
#[derive(Clone)]
pub struct Services {
    pub workflows: Arc<WorkflowService>,
    pub executions: Arc<ExecutionService>,
    pub event_streams: Arc<EventStreamService>,
    pub idempotency: Arc<IdempotencyService>,
    pub secrets: Arc<SecretService>,
    /// Registered MCP servers.
    pub mcp: Arc<McpService>,
    pub audit: Arc<AuditTrail>,
    /// Vector collections: documents, embeddings, search.
    pub collections: Arc<CollectionService>,
    /// Uploaded files.
    pub files: Arc<FileService>,
    pub human_tasks: Arc<super::human_tasks::HumanTaskService>,
    pub running: Arc<LiveExecutions>,
    /// The identity store, for the access use cases the composition root builds beside these.
    pub identities: Arc<dyn IdentityStore>,
    recovery: Arc<Recovery>,
    /// Delivers approval and form notifications.
    pub notifier: Arc<super::notifier::Notifier>,
    exclusive: bool,
}

impl Services {
    #[must_use]
    pub fn assemble(ports: Ports, limits: ExecutorLimits, lease_ttl: Duration) -> Self {
        let running = Arc::new(LiveExecutions::default());
        let runner_slot = ports.runners.workflow_tools();
        let mut collections =
            CollectionService::new(ports.vectors.clone(), ports.runners.embedder(), ports.clock.clone());
        for index in ports.vector_indexes {
            collections = collections.with_index(index);
        }
        let collections = Arc::new(collections);
        let retrieval: Arc<dyn crate::ports::Retrieval> = collections.clone();
        ports.runners.retrieval().fill(&retrieval);
        ports.runners.files().fill(ports.files.clone());
        let files = Arc::new(FileService::new(ports.files.clone(), ports.clock.clone()));
        let identities = ports.identities.clone();
        let lease = Lease { owner: uuid::Uuid::new_v4().to_string(), ttl: lease_ttl };
        let limits = ExecutorLimits { resumable: ports.durable, ..limits };
        let max_in_flight = limits.max_in_flight_per_workspace;
        let secrets = Arc::new(SecretService::new(ports.secrets.clone(), ports.cipher.clone(), ports.clock.clone()));
        // The MCP adapter was built with the runners; it learns now where the servers and the
        // secrets their headers name are.
        let connector = ports.runners.mcp();
        if let Some(connector) = &connector {
            connector.attach(ports.mcp_servers.clone(), secrets.clone() as Arc<dyn SecretSource>);
        }
        let mut workflows = WorkflowService::new(ports.workflows.clone(), ports.clock.clone(), ports.runners.clone())
            .with_secrets(ports.secrets.clone());
        if let Some(connector) = &connector {
            workflows = workflows.with_mcp(connector.clone() as Arc<dyn McpTools>);
        }
        let workflows = Arc::new(workflows);
        let mcp = Arc::new(McpService::new(ports.mcp_servers, connector, ports.clock.clone()));
        // The executor writes through the store that adds an idempotency key to the first write
        // of the execution it started.
        let first_writes = Arc::new(KeyedFirstWrites::new(ports.executions.clone(), ports.idempotency.clone()));
        let audit = Arc::new(AuditTrail::new(ports.audit, ports.clock.clone()));
        let executor =
            Executor::new(first_writes.clone(), ports.bus.clone(), ports.runners, ports.clock.clone(), limits, lease)
                .with_children(ports.workflows.clone(), running.clone(), Arc::default())
                .with_secrets(secrets.clone())
                .with_tasks(ports.tasks.clone())
                .into_arc();
        let recovery = Arc::new(Recovery {
            workflows: ports.workflows.clone(),
            executions: ports.executions.clone(),
            executor: executor.clone(),
            running: running.clone(),
            bus: ports.bus.clone(),
            clock: ports.clock.clone(),
        });
        // The watchers read the log and the records only, never through the keyed first writes.
        let event_streams = Arc::new(EventStreamService::new(
            ports.executions.clone(),
            ports.executions.clone(),
            ports.bus.clone(),
            running.clone(),
        ));
        let executions = Arc::new(
            ExecutionService::new(
                ports.workflows,
                ports.executions,
                ports.bus,
                executor,
                running.clone(),
                ports.clock.clone(),
            )
            .with_max_in_flight(max_in_flight)
            .with_tasks(ports.tasks.clone()),
        );
        let notifier = Arc::new(super::notifier::Notifier::new(
            ports.tasks.clone(),
            ports.webhooks,
            secrets.clone(),
            ports.clock.clone(),
        ));
        let human_tasks = Arc::new(super::human_tasks::HumanTaskService::new(
            ports.tasks,
            executions.clone(),
            identities.clone(),
            ports.cipher,
            ports.clock.clone(),
        ));
        // The runners that call workflows as tools reach them through the registry's slot.
        let workflow_tools: Arc<dyn crate::ports::WorkflowTools> = executions.clone();
        runner_slot.fill(&workflow_tools);
        let idempotency = Arc::new(IdempotencyService::new(
            executions.clone(),
            ports.idempotency,
            first_writes,
            ports.clock,
            DEFAULT_TTL,
        ));
        Self {
            workflows,
            executions,
            event_streams,
            idempotency,
            secrets,
            mcp,
            audit,
            collections,
            files,
            human_tasks,
            running,
            identities,
            recovery,
            notifier,
            exclusive: ports.exclusive,
        }
    }

    /// Keeps idempotency keys for `ttl` instead of [`DEFAULT_TTL`].
    #[must_use]
    pub fn with_idempotency_ttl(mut self, ttl: Duration) -> Self {
        self.idempotency = Arc::new(self.idempotency.with_ttl(ttl));
        self
    }

    /// Resumes the executions a previous process left unfinished, then keeps leases renewed,
    /// looks for orphans, delivers notifications and purges expired idempotency keys until
    /// `stop` fires.
    pub async fn recover_and_maintain(&self, stop: CancellationToken) {
        match self.recovery.recover(self.exclusive).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(resumed = n, "resumed unfinished executions"),
            Err(e) => tracing::error!(error = %e, "resuming unfinished executions failed; retrying in the background"),
        }
        self.recovery.clone().spawn_maintenance(stop.clone());
        self.notifier.clone().spawn(stop.clone());
        self.idempotency.clone().spawn_purge(stop);
    }
}
