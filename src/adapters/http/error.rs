//! The one error body of the API, `{"error": "<Kind>", "message": "...", "details": [...]}`, and the
//! mapping from service errors to HTTP statuses.

use crate::app::error::ServiceError;
use crate::domain::validation::Problem;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Body of every non-2xx response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// `ValidationError`, `BadRequest`, `Unauthorized`, `Forbidden`, `RateLimited`, `NotFound`, `MethodNotAllowed`, `ConflictError`,
    /// `InvalidState`, `PreconditionFailed`, `IdempotencyKeyReused`, `PayloadTooLarge`,
    /// `UnsupportedMediaType`, `InternalError`, `ServiceUnavailable`.
    pub error: String,
    pub message: String,
    /// Every problem found, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<Problem>>,
}

/// An error on its way to becoming a response.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
    pub details: Option<Vec<Problem>>,
    /// Headers the response carries besides the body (`WWW-Authenticate`, `Retry-After`).
    pub headers: Vec<(axum::http::HeaderName, axum::http::HeaderValue)>,
}

impl ApiError {
    #[must_use]
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self { status, kind, message: message.into(), details: None, headers: Vec::new() }
    }

    #[must_use]
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    #[must_use]
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    /// 401 `Unauthorized`, with the `WWW-Authenticate` challenge RFC 6750 asks for.
    #[must_use]
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", message)
            .with_header(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"))
    }

    /// 403 `Forbidden`.
    #[must_use]
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden", message)
    }

    /// The same error with one more response header.
    #[must_use]
    pub fn with_header(mut self, name: axum::http::HeaderName, value: axum::http::HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    #[must_use]
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "internal error; the server log has the details")
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Validation(v) => Self {
                status: StatusCode::BAD_REQUEST,
                kind: "ValidationError",
                message: v.to_string(),
                details: Some(v.problems),
                headers: Vec::new(),
            },
            ServiceError::BadRequest(m) => Self::bad_request(m),
            ServiceError::NotFound(m) => Self::not_found(m),
            ServiceError::Unauthorized(m) => Self::unauthorized(m),
            ServiceError::Forbidden(m) => Self::forbidden(m),
            ServiceError::Conflict(m) => Self::new(StatusCode::CONFLICT, "ConflictError", m),
            ServiceError::InvalidState(m) => Self::new(StatusCode::CONFLICT, "InvalidState", m),
            ServiceError::PreconditionFailed(m) => Self::new(StatusCode::PRECONDITION_FAILED, "PreconditionFailed", m),
            ServiceError::IdempotencyKeyReused(m) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "IdempotencyKeyReused", m)
            }
            ServiceError::Unavailable(m) => Self::new(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", m),
            ServiceError::TooBusy { message, retry_after_secs } => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, "RateLimited", message)
                    .with_header(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(retry_after_secs))
            }
            ServiceError::Internal(m) => {
                // The cause goes to the log, inside the request's span; the client learns nothing internal.
                tracing::error!(error = %m, "internal error");
                Self::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: self.kind.to_owned(), message: self.message, details: self.details };
        let mut response = (self.status, Json(body)).into_response();
        response.headers_mut().extend(self.headers);
        response
    }
}
