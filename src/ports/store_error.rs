//! Why a storage call failed, for every storage port alike.

/// Why a storage call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },
    #[error("{0}")]
    Conflict(String),
    /// The storage is out of reach for now; the same call may succeed later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage failure: {0}")]
    Internal(String),
    /// Another process took over the execution (its lease expired): stop working on it.
    #[error("lease lost: {0}")]
    LeaseLost(String),
    /// A conditional write found the entity at a version it did not expect, and changed nothing.
    #[error("{entity} {id} is at version {current}, which the write did not expect")]
    VersionMismatch { entity: &'static str, id: String, current: u32 },
    /// A write conditional on the end of an execution's log found events appended meanwhile
    /// (a signal arrived), and changed nothing.
    #[error("the event log moved on to event {last_seq}")]
    Stale { last_seq: u64 },
}

impl StoreError {
    #[must_use]
    pub fn not_found(entity: &'static str, id: impl ToString) -> Self {
        Self::NotFound { entity, id: id.to_string() }
    }

    #[must_use]
    pub fn version_mismatch(entity: &'static str, id: impl ToString, current: u32) -> Self {
        Self::VersionMismatch { entity, id: id.to_string(), current }
    }

    /// Whether retrying the same call later may succeed.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}
