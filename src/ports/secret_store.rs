//! Workspace secrets: stored sealed (encrypted), opened only to run the node that needs them.

use super::store_error::StoreError;
use crate::domain::access::Scope;
use chrono::{DateTime, Utc};

/// A secret as stored: its value sealed by a [`SecretCipher`], never in clear text.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    pub name: String,
    pub description: Option<String>,
    /// The cipher's nonce and ciphertext (with its authentication tag), as the cipher wrote them.
    pub sealed: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedSecret").field("name", &self.name).field("sealed", &"***").finish_non_exhaustive()
    }
}

/// What may be shown of a secret: everything but its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretInfo {
    pub name: String,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&SealedSecret> for SecretInfo {
    fn from(s: &SealedSecret) -> Self {
        Self {
            name: s.name.clone(),
            description: s.description.clone(),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// Sealed secrets per workspace, by name.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait SecretStore: Send + Sync {
    /// Stores the secret, replacing one of the same name (keeping its `created_at`). Returns
    /// whether it is new.
    ///
    /// # Errors
    /// Storage failures.
    async fn put_secret(&self, scope: Scope, secret: &SealedSecret) -> Result<bool, StoreError>;

    /// # Errors
    /// Storage failures only (`None` when the workspace has no such secret).
    async fn secret(&self, scope: Scope, name: &str) -> Result<Option<SealedSecret>, StoreError>;

    /// The workspace's secrets, by name.
    ///
    /// # Errors
    /// Storage failures.
    async fn secrets(&self, scope: Scope) -> Result<Vec<SecretInfo>, StoreError>;

    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when the workspace has no such secret.
    async fn delete_secret(&self, scope: Scope, name: &str) -> Result<(), StoreError>;
}

/// Authenticated encryption of secret values. `context` (workspace and name) is bound to the
/// sealed bytes, so a value cannot be moved to another workspace or name.
pub trait SecretCipher: Send + Sync {
    fn seal(&self, context: &[u8], plaintext: &[u8]) -> Vec<u8>;

    /// # Errors
    /// A message when the bytes were not sealed by this key for this context (tampered, moved,
    /// or sealed with another key).
    fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, String>;
}

/// Why secrets could not be revealed for a node.
#[derive(Debug, thiserror::Error)]
pub enum RevealError {
    /// The workspace has no secret of this name.
    #[error("secret '{0}' is not set in this workspace")]
    Missing(String),
    #[error("secret '{0}' cannot be opened: {1}")]
    Unreadable(String, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reveals a workspace's secrets to the executor, for one node attempt.
#[async_trait::async_trait]
pub trait SecretSource: Send + Sync {
    /// The values of `names` (all required), then of `optional` ones that exist.
    ///
    /// # Errors
    /// [`RevealError`].
    async fn reveal(
        &self,
        scope: Scope,
        names: &[String],
        optional: &[&str],
    ) -> Result<Vec<(String, String)>, RevealError>;
}
