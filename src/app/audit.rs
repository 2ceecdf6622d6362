//! The audit trail: records who did what, and reads it back for admins.

use super::error::ServiceError;
use crate::domain::access::{Principal, Scope};
use crate::ports::{AuditEntry, AuditLog, Clock, Page, PageRequest};
use serde_json::Value;
use std::sync::Arc;

/// Writes and reads the audit log.
pub struct AuditTrail {
    log: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
}

impl AuditTrail {
    #[must_use]
    pub fn new(log: Arc<dyn AuditLog>, clock: Arc<dyn Clock>) -> Self {
        Self { log, clock }
    }

    /// Records that `by` did `action` (to `target`) in its workspace. The action has already
    /// happened: a failure to record it is logged loudly, not turned into a failed request.
    pub async fn record(&self, by: &Principal, action: &str, target: Option<String>, details: Value) {
        let entry = AuditEntry::new(by, action, target, details, self.clock.now());
        if let Err(e) = self.log.record(by.scope(), &entry).await {
            tracing::error!(error = %e, action, actor = %entry.actor, "recording an audit entry failed");
        }
    }

    /// The workspace's entries, newest first.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn entries(
        &self,
        scope: Scope,
        action: Option<String>,
        page: PageRequest,
    ) -> Result<Page<AuditEntry>, ServiceError> {
        Ok(self.log.entries(scope, action, page).await?)
    }
}
