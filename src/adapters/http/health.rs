//! `GET /health`: the server answers and its storage too.

use super::AppState;
use super::dto::HealthResponse;
use super::error::{ApiError, ErrorBody};
use axum::Json;
use axum::extract::State;

/// Healthy when the storage answers; 503 otherwise.
#[utoipa::path(
    get, path = "/health", tag = "health",
    responses((status = 200, body = HealthResponse), (status = 503, description = "Storage unreachable", body = ErrorBody))
)]
pub async fn health(State(state): State<AppState>) -> Result<Json<HealthResponse>, ApiError> {
    state.executions.ping().await?;
    Ok(Json(HealthResponse { status: "healthy".into(), version: env!("CARGO_PKG_VERSION").into() }))
}
