//! Identity use cases: accounts (register, sign in, profile), API keys, workspaces and their
//! members, and the first start's admin key. Sign-in and key creation and revocation happen in
//! one place each (`AccountService::login`, `ApiKeyService::create`/`revoke`), where an audit
//! log can record them.

mod accounts;
mod api_keys;
mod bootstrap;
mod problems;
mod workspaces;

pub use accounts::{AccountService, Profile, Registering, Session};
pub use api_keys::{ApiKeyService, NewKey};
pub use bootstrap::{FirstKey, first_admin_key};
pub use workspaces::{MemberRef, WorkspaceService};

use crate::domain::identity::Registration;
use crate::ports::{Clock, IdentityStore, PasswordHasher, TokenIssuer};
use std::sync::Arc;

/// The identity use cases, built from the same ports.
#[derive(Clone)]
pub struct IdentityServices {
    pub accounts: Arc<AccountService>,
    pub api_keys: Arc<ApiKeyService>,
    pub workspaces: Arc<WorkspaceService>,
}

impl IdentityServices {
    #[must_use]
    pub fn new(
        store: Arc<dyn IdentityStore>,
        passwords: Arc<dyn PasswordHasher>,
        tokens: Arc<dyn TokenIssuer>,
        clock: Arc<dyn Clock>,
        registration: Registration,
    ) -> Self {
        Self {
            accounts: Arc::new(AccountService::new(store.clone(), passwords, tokens, clock.clone(), registration)),
            api_keys: Arc::new(ApiKeyService::new(store.clone(), clock.clone())),
            workspaces: Arc::new(WorkspaceService::new(store, clock, registration)),
        }
    }
}
