//! `GET /health`.

use super::dto::HealthResponse;
use axum::Json;

/// Liveness.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = HealthResponse)))]
pub async fn health() -> Json<HealthResponse> {
    Json(HealthResponse { status: "healthy".into(), version: env!("CARGO_PKG_VERSION").into() })
}
