//! The first start: a server with no users and no API keys gets an Admin key of the default
//! workspace, so that the README's two commands give a server one can use at once. The key is
//! either made here (and shown once by the caller) or given by the operator
//! (`OXIFY_BOOTSTRAP_ADMIN_KEY`, for automation).

use super::api_keys::{generate_key, record_for};
use crate::app::error::ServiceError;
use crate::domain::access::Role;
use crate::domain::identity::ApiKeySecret;
use crate::domain::ids::WorkspaceId;
use crate::ports::{Clock, IdentityStore};

/// The key stored at the first start.
#[derive(Debug)]
pub enum FirstKey {
    /// Made now: to be shown to the operator, once.
    Generated(ApiKeySecret),
    /// The operator's own key, stored (by its hash) as given.
    Given,
}

/// Stores an Admin key of the default workspace when the server has no users and no API keys
/// yet, and says which; `None` when there were some (not the first start). Of processes starting
/// together, one stores its key.
///
/// # Errors
/// Storage failures; no random numbers.
pub async fn first_admin_key(
    store: &dyn IdentityStore,
    clock: &dyn Clock,
    given: Option<&ApiKeySecret>,
) -> Result<Option<FirstKey>, ServiceError> {
    let generated = match given {
        Some(_) => None,
        None => Some(generate_key()?),
    };
    let Some(secret) = given.or(generated.as_ref()) else {
        return Err(ServiceError::Internal("no first key".into()));
    };
    let record = record_for(secret, WorkspaceId::DEFAULT, "first admin key".into(), Role::Admin, clock.now(), None);
    if !store.create_first_api_key(&record).await? {
        return Ok(None);
    }
    tracing::info!(key = %record.id, prefix = %record.prefix, "first admin API key created");
    Ok(Some(generated.map_or(FirstKey::Given, FirstKey::Generated)))
}
