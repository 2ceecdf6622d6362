//! API keys of a workspace: created by its Admins with a role no higher than their own and an
//! optional expiry, shown in full once, listed by prefix and name, revoked with immediate effect
//! (the authenticator reads the key's record on every request).

use super::problems::FieldProblems;
use crate::app::error::ServiceError;
use crate::domain::access::{Role, Scope};
use crate::domain::identity::api_key::RANDOM_BYTES;
use crate::domain::identity::names::{MAX_KEY_NAME, display_name};
use crate::domain::identity::{ApiKeyRecord, ApiKeySecret};
use crate::domain::ids::{ApiKeyId, WorkspaceId};
use crate::ports::{Clock, IdentityStore, StoreError};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// A key just created: its record and the key itself, to show once.
#[derive(Debug)]
pub struct NewKey {
    pub record: ApiKeyRecord,
    pub secret: ApiKeySecret,
}

pub struct ApiKeyService {
    store: Arc<dyn IdentityStore>,
    clock: Arc<dyn Clock>,
}

/// A fresh key from the operating system's random numbers.
///
/// # Errors
/// `Internal` when there are none.
pub(super) fn generate_key() -> Result<ApiKeySecret, ServiceError> {
    let mut random = [0u8; RANDOM_BYTES];
    getrandom::fill(&mut random).map_err(|e| ServiceError::Internal(format!("no random numbers: {e}")))?;
    Ok(ApiKeySecret::from_random(&random))
}

/// A record for `secret`.
pub(super) fn record_for(
    secret: &ApiKeySecret,
    workspace: WorkspaceId,
    name: String,
    role: Role,
    now: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
) -> ApiKeyRecord {
    ApiKeyRecord {
        id: ApiKeyId::generate(),
        workspace,
        prefix: secret.prefix().to_owned(),
        hash: secret.hash(),
        name,
        role,
        created_at: now,
        expires_at,
        revoked_at: None,
    }
}

impl ApiKeyService {
    #[must_use]
    pub fn new(store: Arc<dyn IdentityStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Creates a key of the workspace `scope` names (the caller, with role `by`, has been checked
    /// to be its Admin).
    ///
    /// # Errors
    /// `Validation` for an empty or long name, a role above `by`, or an expiry not in the future.
    #[tracing::instrument(skip_all, fields(workspace = %scope.workspace()))]
    pub async fn create(
        &self,
        scope: Scope,
        by: Role,
        name: &str,
        role: Role,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<NewKey, ServiceError> {
        let now = self.clock.now();
        let mut problems = FieldProblems::default();
        let name = problems.check("name", display_name(name, "name", MAX_KEY_NAME));
        if role > by {
            problems.note("role", format!("a key cannot have a higher role ({role}) than its creator ({by})"));
        }
        if expires_at.is_some_and(|at| at <= now) {
            problems.note("expires_at", "the expiry must be in the future".into());
        }
        problems.into_result()?;
        let name = name.unwrap_or_default();
        // A prefix is 50 random bits: a clash is all but impossible, but costs only a retry.
        for _ in 0..3 {
            let secret = generate_key()?;
            let record = record_for(&secret, scope.workspace(), name.clone(), role, now, expires_at);
            match self.store.create_api_key(&record).await {
                Ok(()) => {
                    tracing::info!(key = %record.id, prefix = %record.prefix, role = %role, "API key created");
                    return Ok(NewKey { record, secret });
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Internal("three API key prefixes in a row were taken".into()))
    }

    /// The workspace's keys, newest first (revoked and expired ones too).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn list(&self, scope: Scope) -> Result<Vec<ApiKeyRecord>, ServiceError> {
        Ok(self.store.api_keys(scope.workspace()).await?)
    }

    /// Revokes a key of the workspace; from the next request on it is refused.
    ///
    /// # Errors
    /// `NotFound` when the workspace has no key with this id.
    #[tracing::instrument(skip_all, fields(workspace = %scope.workspace(), key = %id))]
    pub async fn revoke(&self, scope: Scope, id: ApiKeyId) -> Result<ApiKeyRecord, ServiceError> {
        let revoked =
            self.store.revoke_api_key(scope.workspace(), id, self.clock.now()).await.map_err(|e| match e {
                StoreError::NotFound { .. } => ServiceError::NotFound(format!("API key {id} not found")),
                other => other.into(),
            })?;
        tracing::info!(prefix = %revoked.prefix, "API key revoked");
        Ok(revoked)
    }
}
