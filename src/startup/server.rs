//! Starting and stopping the HTTP server, with a graceful shutdown: stop accepting, let running
//! executions finish (up to the grace period, then interrupt them), close the event streams.

use super::config::Config;
use super::error::StartupError;
use super::log_writer::print_line;
use super::open_files;
use super::telemetry;
use super::wiring;
use crate::adapters::http::serve::{self, ServeLimits};
use crate::adapters::http::{self, AppState, HttpSettings};
use crate::app::services::Services;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A server running in the background.
pub struct Server {
    addr: SocketAddr,
    trigger: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Binds the configured address and starts serving.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn start(config: &Config, services: Services) -> Result<Self, StartupError> {
        let address = format!("{}:{}", config.host, config.port);
        let listener = TcpListener::bind(&address)
            .await
            .map_err(|source| StartupError::Bind { address: address.clone(), source })?;
        let addr = listener.local_addr().map_err(|source| StartupError::Bind { address, source })?;
        if config.access.allow_anonymous && !addr.ip().is_loopback() {
            tracing::warn!(
                address = %addr,
                "OXIFY_ALLOW_ANONYMOUS is on while listening beyond this machine: anyone who reaches {addr} can do anything; listen on 127.0.0.1 (OXIFY_HOST) or turn anonymous access off"
            );
        }
        let access = super::access::build(&config.access, services.identities.clone()).await?;
        let streams_closing = CancellationToken::new();
        let settings = HttpSettings {
            max_body_bytes: config.max_body_bytes,
            max_upload_bytes: config.max_upload_bytes,
            sse_keepalive: Duration::from_secs(config.sse_keepalive_secs),
            cors_origins: config.cors_origins(),
            rate_limit_per_min: config.access.rate_limit_per_min,
            auth_rate_limit_per_min: config.access.auth_rate_limit_per_min,
            trusted_proxies: crate::adapters::http::client_address::trusted_proxies(&config.access.trusted_proxies)
                .map_err(StartupError::Config)?,
        };
        let state = AppState {
            auth: access.auth,
            identity: access.identity,
            workflows: services.workflows.clone(),
            executions: services.executions.clone(),
            event_streams: services.event_streams.clone(),
            idempotency: services.idempotency.clone(),
            secrets: services.secrets.clone(),
            mcp: services.mcp.clone(),
            audit: services.audit.clone(),
            collections: services.collections.clone(),
            files: services.files.clone(),
            human_tasks: services.human_tasks.clone(),
            settings: Arc::new(settings),
            streams_closing: streams_closing.clone(),
        };
        let app = http::router(state);
        let connections = config.connection_limits();
        let max_connections = connections.max_connections.unwrap_or_else(|| {
            open_files::current()
                .map_or(1024, |files| open_files::default_max_connections(files, config.database_max_connections))
        });
        let limits = ServeLimits {
            header_timeout: connections.header_timeout,
            body_timeout: connections.body_timeout,
            idle_timeout: connections.idle_timeout,
            max_connections,
        };
        tracing::debug!(?limits, "connection limits");
        let trigger = CancellationToken::new();
        let grace = Duration::from_secs(config.shutdown_grace_secs);
        let maintenance = CancellationToken::new();
        services.recover_and_maintain(maintenance.clone()).await;
        let (running, stop, graceful) = (services.running.clone(), trigger.clone(), trigger.clone());
        let task = tokio::spawn(async move {
            let drain = tokio::spawn(async move {
                stop.cancelled().await;
                running.shutdown(grace).await;
                // Leases stay renewed until the last execution has stopped or been handed over.
                maintenance.cancel();
                streams_closing.cancel();
            });
            let served = serve::serve(listener, app, limits, graceful).await;
            // Executions may still be finishing after the last connection closed.
            let _ = drain.await;
            served
        });
        Ok(Self { addr, trigger, task })
    }

    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A token that starts the graceful shutdown when cancelled.
    #[must_use]
    pub fn shutdown_trigger(&self) -> CancellationToken {
        self.trigger.clone()
    }

    /// Waits until the server has shut down.
    ///
    /// # Errors
    /// An I/O error of the listener.
    pub async fn wait(self) -> Result<(), StartupError> {
        match self.task.await {
            Ok(result) => result.map_err(StartupError::Serve),
            Err(e) => Err(StartupError::Serve(std::io::Error::other(e))),
        }
    }

    /// Shuts down gracefully and waits until done.
    ///
    /// # Errors
    /// An I/O error of the listener.
    pub async fn stop(self) -> Result<(), StartupError> {
        self.trigger.cancel();
        self.wait().await
    }
}

/// Runs the server until SIGTERM or SIGINT, then shuts down gracefully.
///
/// # Errors
/// When the configuration is unusable or the address cannot be bound.
pub async fn run(config: Config) -> Result<(), StartupError> {
    let config = config.checked().map_err(StartupError::Config)?;
    telemetry::init(&config);
    tracing::info!(config = ?config, "starting");
    match open_files::raise(config.open_files) {
        Ok(files) if files.now > files.before => {
            tracing::info!(from = files.before, to = files.now, "open-files limit raised");
        }
        Ok(files) => tracing::info!(limit = files.now, hard = files.hard, "open-files limit"),
        Err(e) => tracing::warn!(error = %e, "cannot read the open-files limit"),
    }
    let services = wiring::build(&config).await?;
    super::first_start::admin_key_on_first_start(&config, services.identities.as_ref()).await?;
    let server = Server::start(&config, services).await?;
    print_line(&format!("oxify-api listening on http://{}", server.addr()));
    tracing::info!(address = %server.addr(), "listening");
    let trigger = server.shutdown_trigger();
    tokio::spawn(async move {
        shutdown_signal().await;
        // Stop first: nothing that follows (logging included) may keep the server from stopping.
        trigger.cancel();
        tracing::info!("shutdown requested: finishing running executions");
    });
    server.wait().await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
