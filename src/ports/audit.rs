//! The audit log: who did what, and when, per workspace.

use super::paging::{Page, PageRequest};
use super::store_error::StoreError;
use crate::domain::access::{Principal, Scope, Subject};
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

/// One thing someone did.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    /// Time-ordered (UUIDv7).
    pub id: Uuid,
    pub at: DateTime<Utc>,
    /// `user:<id>`, `api_key:<id>`, `anonymous` or `system`.
    pub actor: String,
    /// What was done, `<resource>.<verb>`: `workflow.created`, `execution.cancelled`,
    /// `secret.set`, `api_key.revoked`, `auth.signed_in`, ...
    pub action: String,
    /// What it was done to (an id or a name), if anything.
    pub target: Option<String>,
    /// More about it (never a secret's value).
    pub details: Value,
}

impl AuditEntry {
    #[must_use]
    pub fn new(by: &Principal, action: &str, target: Option<String>, details: Value, at: DateTime<Utc>) -> Self {
        Self { id: Uuid::now_v7(), at, actor: actor(by.subject), action: action.to_owned(), target, details }
    }
}

/// How an audit entry names who acted.
#[must_use]
pub fn actor(subject: Subject) -> String {
    match subject {
        Subject::User(id) => format!("user:{id}"),
        Subject::ApiKey(id) => format!("api_key:{id}"),
        Subject::Anonymous => "anonymous".into(),
        Subject::System => "system".into(),
    }
}

/// Audit entries, append only.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait AuditLog: Send + Sync {
    /// # Errors
    /// Storage failures.
    async fn record(&self, scope: Scope, entry: &AuditEntry) -> Result<(), StoreError>;

    /// The workspace's entries, newest first, optionally of one action.
    ///
    /// # Errors
    /// Storage failures.
    async fn entries(
        &self,
        scope: Scope,
        action: Option<String>,
        page: PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError>;
}
