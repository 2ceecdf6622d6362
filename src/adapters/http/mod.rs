//! The HTTP adapter: axum routes, the error format, SSE, the OpenAPI document and Swagger UI.

pub mod accounts;
pub mod api_keys;
pub mod approvals;
pub mod audit;
pub mod caller;
pub mod client_address;
pub mod cross_site;
pub mod dto;
pub mod error;
pub mod event_json;
pub mod executions;
pub mod extract;
pub mod files;
pub mod forms;
pub mod health;
pub mod human_dto;
pub mod idempotency;
pub mod identified;
pub mod layers;
pub mod mcp;
pub mod openapi;
pub mod pagination;
pub mod pause;
pub mod preconditions;
pub mod rate_limit;
pub mod secrets;
pub mod serve;
pub mod sse;
#[cfg(test)]
mod tests;
pub mod vectors;
pub mod workflows;
pub mod workspaces;

use crate::app::event_stream::EventStreamService;
use crate::app::executions::ExecutionService;
use crate::app::idempotency::IdempotencyService;
use crate::app::identity::IdentityServices;
use crate::app::workflows::WorkflowService;
use axum::Router;
use axum::http::{Method, Uri};
use error::ApiError;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

/// Settings of the HTTP layer.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    pub max_body_bytes: usize,
    /// Largest file `POST /api/v1/files` accepts.
    pub max_upload_bytes: usize,
    pub sse_keepalive: Duration,
    pub cors_origins: Vec<String>,
    /// Requests a minute per principal (0: no limit; the server's default is set by its
    /// configuration, `OXIFY_RATE_LIMIT_PER_MIN`).
    pub rate_limit_per_min: u32,
    /// Sign-in and registration attempts a minute per client address (0: no limit).
    pub auth_rate_limit_per_min: u32,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for HttpSettings {
    /// No request limits: those are the server configuration's to set.
    fn default() -> Self {
        Self {
            max_body_bytes: 2 * 1024 * 1024,
            max_upload_bytes: 20 * 1024 * 1024,
            sse_keepalive: Duration::from_secs(15),
            cors_origins: Vec::new(),
            rate_limit_per_min: 0,
            auth_rate_limit_per_min: 0,
            trusted_proxies: Vec::new(),
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Who each request acts as.
    pub auth: Arc<dyn crate::ports::Authenticator>,
    pub workflows: Arc<WorkflowService>,
    pub executions: Arc<ExecutionService>,
    /// Event streams of executions (SSE, with replay).
    pub event_streams: Arc<EventStreamService>,
    /// Execute requests with an `Idempotency-Key`.
    pub idempotency: Arc<IdempotencyService>,
    /// Accounts, API keys, workspaces and members.
    pub identity: IdentityServices,
    /// Workspace secrets.
    pub secrets: Arc<crate::app::secrets::SecretService>,
    /// Registered MCP servers.
    pub mcp: Arc<crate::app::mcp::McpService>,
    /// Who did what.
    pub audit: Arc<crate::app::audit::AuditTrail>,
    /// Vector collections.
    pub collections: Arc<crate::app::collections::CollectionService>,
    /// Uploaded files.
    pub files: Arc<crate::app::files::FileService>,
    /// Approvals and forms.
    pub human_tasks: Arc<crate::app::human_tasks::HumanTaskService>,
    pub settings: Arc<HttpSettings>,
    /// Fired at shutdown, once executions have stopped, to end the open event streams.
    pub streams_closing: CancellationToken,
}

/// `routes` with room for a file of `max_upload_bytes` and its form around it (the server-wide
/// body limit is for JSON).
fn upload(
    routes: utoipa_axum::router::UtoipaMethodRouter<AppState>,
    max_upload_bytes: usize,
) -> utoipa_axum::router::UtoipaMethodRouter<AppState> {
    let (schemas, paths, method_router) = routes;
    (
        schemas,
        paths,
        method_router.layer(axum::extract::DefaultBodyLimit::max(max_upload_bytes.saturating_add(64 * 1024))),
    )
}

/// The whole API: routes, OpenAPI document, Swagger UI, fallbacks and middleware.
pub fn router(state: AppState) -> Router {
    let (api, openapi) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(health::health))
        .routes(routes!(workflows::create_workflow, workflows::list_workflows))
        .routes(routes!(workflows::get_workflow, workflows::update_workflow, workflows::delete_workflow))
        .routes(routes!(workflows::list_versions))
        .routes(routes!(workflows::get_version))
        .routes(routes!(executions::execute_workflow))
        .routes(routes!(executions::list_workflow_executions))
        .routes(routes!(executions::list_executions))
        .routes(routes!(executions::get_execution))
        .routes(routes!(executions::cancel_execution))
        .routes(routes!(executions::rerun_execution))
        .routes(routes!(sse::stream_execution))
        .routes(routes!(accounts::register))
        .routes(routes!(accounts::login))
        .routes(routes!(accounts::me))
        .routes(routes!(api_keys::create_api_key, api_keys::list_api_keys))
        .routes(routes!(api_keys::revoke_api_key))
        .routes(routes!(workspaces::list_workspaces, workspaces::create_workspace))
        .routes(routes!(workspaces::list_members, workspaces::set_member))
        .routes(routes!(workspaces::remove_member))
        .routes(routes!(secrets::put_secret, secrets::list_secrets))
        .routes(routes!(secrets::get_secret, secrets::delete_secret))
        .routes(routes!(audit::list_audit))
        .routes(routes!(mcp::list_servers))
        .routes(routes!(mcp::register_server))
        .routes(routes!(mcp::unregister_server))
        .routes(routes!(mcp::list_tools))
        .routes(routes!(mcp::invoke_tool))
        .routes(routes!(mcp::stats))
        .routes(routes!(vectors::create_collection, vectors::list_collections))
        .routes(routes!(vectors::get_collection, vectors::delete_collection))
        .routes(routes!(vectors::upsert_vectors))
        .routes(routes!(vectors::delete_vector))
        .routes(routes!(vectors::search_collection))
        .routes(upload(routes!(files::upload_file, files::list_files), state.settings.max_upload_bytes))
        .routes(routes!(files::get_file, files::delete_file))
        .routes(routes!(files::file_content))
        .routes(routes!(pause::pause_execution))
        .routes(routes!(pause::resume_execution))
        .routes(routes!(approvals::list_approvals))
        .routes(routes!(approvals::get_approval))
        .routes(routes!(approvals::approve))
        .routes(routes!(approvals::reject))
        .routes(routes!(approvals::list_execution_approvals))
        .routes(routes!(forms::list_forms))
        .routes(routes!(forms::get_form))
        .routes(routes!(forms::submit_form))
        .routes(routes!(forms::list_execution_forms))
        .split_for_parts();
    let settings = state.settings.clone();
    let limits = Arc::new(rate_limit::Limits::new(
        settings.rate_limit_per_min,
        settings.auth_rate_limit_per_min,
        settings.trusted_proxies.clone(),
    ));
    let origins = Arc::new(cross_site::AllowedOrigins::new(&settings.cors_origins));
    let router = api
        .with_state(state.clone())
        .route("/", axum::routing::get(root))
        .merge(
            SwaggerUi::new("/swagger-ui")
                .external_url_unchecked("/api-docs/openapi.json", document(openapi))
                // "Authorize" once: the token survives a page reload.
                .config(utoipa_swagger_ui::Config::default().persist_authorization(true)),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // The last layer runs first: a cross-site write is refused before anything else happens.
        .layer(axum::middleware::from_fn_with_state((state, limits), rate_limit::limit))
        .layer(axum::middleware::from_fn_with_state(origins, cross_site::refuse_cross_site));
    layers::apply(router, &settings.cors_origins, settings.max_body_bytes)
}

/// The OpenAPI document as served, finished by hand where the annotations fall short.
fn document(generated: utoipa::openapi::OpenApi) -> serde_json::Value {
    let value = serde_json::to_value(&generated).unwrap_or_default();
    openapi::finish(value)
}

/// `GET /`: sends a browser to the API documentation (until a dashboard lives here), and tells
/// anyone else where it is.
async fn root() -> impl axum::response::IntoResponse {
    let body = serde_json::json!({
        "message": "oxify-api: the API documentation is at /swagger-ui/, the OpenAPI document at /api-docs/openapi.json",
        "documentation": "/swagger-ui/",
        "openapi": "/api-docs/openapi.json",
    });
    (axum::http::StatusCode::SEE_OTHER, [(axum::http::header::LOCATION, "/swagger-ui/")], axum::Json(body))
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}
