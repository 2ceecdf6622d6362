//! Sealed secrets in memory.

use super::InMemoryStore;
use crate::domain::access::Scope;
use crate::ports::{SealedSecret, SecretInfo, SecretStore, StoreError};

#[async_trait::async_trait]
impl SecretStore for InMemoryStore {
    async fn put_secret(&self, scope: Scope, secret: &SealedSecret) -> Result<bool, StoreError> {
        let mut inner = self.write();
        let slot = (scope.workspace(), secret.name.clone());
        let mut stored = secret.clone();
        let old = inner.secrets.get(&slot).map(|s| s.created_at);
        if let Some(created_at) = old {
            stored.created_at = created_at;
        }
        inner.secrets.insert(slot, stored);
        Ok(old.is_none())
    }

    async fn secret(&self, scope: Scope, name: &str) -> Result<Option<SealedSecret>, StoreError> {
        Ok(self.read().secrets.get(&(scope.workspace(), name.to_owned())).cloned())
    }

    async fn secrets(&self, scope: Scope) -> Result<Vec<SecretInfo>, StoreError> {
        let inner = self.read();
        let mut found: Vec<SecretInfo> =
            inner.secrets.iter().filter(|((ws, _), _)| *ws == scope.workspace()).map(|(_, s)| s.into()).collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    async fn delete_secret(&self, scope: Scope, name: &str) -> Result<(), StoreError> {
        match self.write().secrets.remove(&(scope.workspace(), name.to_owned())) {
            Some(_) => Ok(()),
            None => Err(StoreError::not_found("secret", name)),
        }
    }
}
