//! The app layer's error: what a use case can fail with, independent of HTTP.

use crate::domain::validation::ValidationError;
use crate::ports::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Validation(#[from] ValidationError),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// Credentials are missing or wrong (a failed sign-in).
    #[error("{0}")]
    Unauthorized(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidState(String),
    /// A conditional request expected another version than the current one; nothing changed.
    #[error("{0}")]
    PreconditionFailed(String),
    /// An idempotency key came back with another request than the one it was first used for.
    #[error("{0}")]
    IdempotencyKeyReused(String),
    #[error("{0}")]
    Unavailable(String),
    /// Too much at once for the caller's share (executions in flight in its workspace); the
    /// client may try again after `retry_after_secs`.
    #[error("{message}")]
    TooBusy { message: String, retry_after_secs: u64 },
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { entity, id } => Self::NotFound(format!("{} {id} not found", capitalize(entity))),
            StoreError::Conflict(m) => Self::Conflict(m),
            StoreError::VersionMismatch { entity, id, current } => Self::PreconditionFailed(format!(
                "{} {id} is now at version {current}, not the version the change expected; read it again and reapply the change",
                capitalize(entity)
            )),
            StoreError::Unavailable(m) => Self::Unavailable(format!("storage unavailable: {m}")),
            StoreError::Internal(m) | StoreError::LeaseLost(m) => Self::Internal(m),
            e @ StoreError::Stale { .. } => Self::Conflict(e.to_string()),
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}
