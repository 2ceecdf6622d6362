//! Storage faults as HTTP sees them: 503 in the error format, with the reason.

use super::*;
use crate::adapters::clock::SystemClock;
use crate::adapters::events::BroadcastEventBus;
use crate::app::executor::ExecutorLimits;
use crate::app::runner_registry::RunnerRegistry;
use crate::app::services::{Ports, Services};
use crate::ports::{MockExecutionStore, MockIdempotencyStore, MockWorkflowStore, StoreError};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

fn app_with(workflows: MockWorkflowStore, executions: MockExecutionStore) -> Router {
    let ports = Ports {
        workflows: Arc::new(workflows),
        executions: Arc::new(executions),
        idempotency: Arc::new(MockIdempotencyStore::new()),
        identities: Arc::new(crate::adapters::store::InMemoryStore::new()),
        bus: Arc::new(BroadcastEventBus::default()),
        runners: RunnerRegistry::new(),
        clock: Arc::new(SystemClock),
        secrets: Arc::new(crate::adapters::store::InMemoryStore::new()),
        mcp_servers: Arc::new(crate::adapters::store::InMemoryStore::new()),
        audit: Arc::new(crate::adapters::store::InMemoryStore::new()),
        vectors: Arc::new(crate::adapters::store::InMemoryStore::new()),
        files: Arc::new(crate::adapters::store::InMemoryStore::new()),
        vector_indexes: Vec::new(),
        tasks: Arc::new(crate::adapters::store::InMemoryStore::new()),
        webhooks: crate::startup::wiring::webhooks(crate::adapters::outgoing::AddressGuard::default()),
        cipher: Arc::new(crate::adapters::secrets::XChaCha::ephemeral()),
        durable: true,
        exclusive: true,
    };
    let services = Services::assemble(ports, ExecutorLimits::default(), Duration::from_secs(30));
    router(AppState {
        auth: std::sync::Arc::new(crate::adapters::auth::OpenAccess::default()),
        workflows: services.workflows.clone(),
        executions: services.executions.clone(),
        event_streams: services.event_streams.clone(),
        idempotency: services.idempotency.clone(),
        identity: crate::startup::access::local_identity(services.identities.clone()),
        secrets: services.secrets.clone(),
        mcp: services.mcp.clone(),
        audit: services.audit.clone(),
        collections: services.collections.clone(),
        files: services.files.clone(),
        human_tasks: services.human_tasks.clone(),
        settings: Arc::default(),
        streams_closing: CancellationToken::new(),
    })
}

async fn call(app: Router, uri: &str) -> (StatusCode, serde_json::Value) {
    let response = app.oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn an_unreachable_database_is_a_503_with_the_reason() {
    let down = || StoreError::Unavailable("connection refused".into());
    let mut workflows = MockWorkflowStore::new();
    workflows.expect_list().returning(move |_, _| Err(down()));
    let mut executions = MockExecutionStore::new();
    executions.expect_ping().returning(move || Err(down()));
    executions.expect_get().returning(move |_, _| Err(down()));
    let app = app_with(workflows, executions);
    for uri in ["/health", "/api/v1/workflows", "/api/v1/executions/01a22422-e70a-74e8-8ebb-76620744f7a1"] {
        let (status, body) = call(app.clone(), uri).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}");
        assert_eq!(body["error"], "ServiceUnavailable");
        assert_eq!(body["message"], "storage unavailable: connection refused");
    }
}

#[tokio::test]
async fn a_full_disk_is_reported_not_swallowed() {
    let mut workflows = MockWorkflowStore::new();
    workflows
        .expect_list()
        .returning(|_, _| Err(StoreError::Unavailable("disk is full: database or disk is full".into())));
    let (status, body) = call(app_with(workflows, MockExecutionStore::new()), "/api/v1/workflows").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body["message"].as_str().unwrap().contains("disk is full"));
}

#[tokio::test]
async fn an_internal_storage_failure_is_a_500_that_reveals_nothing() {
    let mut workflows = MockWorkflowStore::new();
    workflows
        .expect_list()
        .returning(|_, _| Err(StoreError::Internal("table workflows has no column secret_x".into())));
    let (status, body) = call(app_with(workflows, MockExecutionStore::new()), "/api/v1/workflows").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!body.to_string().contains("secret_x"));
}
