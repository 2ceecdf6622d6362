//! Secret use cases: set, list, describe and delete a workspace's secrets, and reveal them to
//! the node attempts that refer to them. Values are sealed before they reach the store and are
//! never returned by the API.

use super::error::ServiceError;
use crate::domain::access::Scope;
use crate::domain::secrets::{MAX_VALUE_BYTES, name_problem};
use crate::ports::{Clock, RevealError, SealedSecret, SecretCipher, SecretInfo, SecretSource, SecretStore, StoreError};
use std::sync::Arc;

/// Sets, reads (metadata only) and reveals secrets.
pub struct SecretService {
    store: Arc<dyn SecretStore>,
    cipher: Arc<dyn SecretCipher>,
    clock: Arc<dyn Clock>,
}

/// What binds a sealed value to its place: the workspace and the name.
fn context(scope: Scope, name: &str) -> Vec<u8> {
    format!("oxify-secret/v1/{}/{name}", scope.workspace()).into_bytes()
}

impl SecretService {
    #[must_use]
    pub fn new(store: Arc<dyn SecretStore>, cipher: Arc<dyn SecretCipher>, clock: Arc<dyn Clock>) -> Self {
        Self { store, cipher, clock }
    }

    /// Sets a secret (replacing one of the same name). Returns its description and whether it is
    /// new.
    ///
    /// # Errors
    /// `BadRequest` for a bad name, an empty or oversized value; storage failures.
    pub async fn put(
        &self,
        scope: Scope,
        name: &str,
        value: &str,
        description: Option<String>,
    ) -> Result<(SecretInfo, bool), ServiceError> {
        if let Some(problem) = name_problem(name) {
            return Err(ServiceError::BadRequest(problem));
        }
        if value.is_empty() {
            return Err(ServiceError::BadRequest("a secret's value cannot be empty".into()));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(ServiceError::BadRequest(format!("a secret's value has at most {MAX_VALUE_BYTES} bytes")));
        }
        let now = self.clock.now();
        let sealed = SealedSecret {
            name: name.to_owned(),
            description,
            sealed: self.cipher.seal(&context(scope, name), value.as_bytes()),
            created_at: now,
            updated_at: now,
        };
        let created = self.store.put_secret(scope, &sealed).await?;
        let info = self.info(scope, name).await?;
        Ok((info, created))
    }

    /// # Errors
    /// Storage failures.
    pub async fn list(&self, scope: Scope) -> Result<Vec<SecretInfo>, ServiceError> {
        Ok(self.store.secrets(scope).await?)
    }

    /// # Errors
    /// `NotFound`.
    pub async fn info(&self, scope: Scope, name: &str) -> Result<SecretInfo, ServiceError> {
        match self.store.secret(scope, name).await? {
            Some(secret) => Ok((&secret).into()),
            None => Err(StoreError::not_found("secret", name).into()),
        }
    }

    /// # Errors
    /// `NotFound`.
    pub async fn delete(&self, scope: Scope, name: &str) -> Result<(), ServiceError> {
        Ok(self.store.delete_secret(scope, name).await?)
    }

    async fn open(&self, scope: Scope, name: &str) -> Result<Option<String>, RevealError> {
        let Some(secret) = self.store.secret(scope, name).await? else { return Ok(None) };
        let clear = self
            .cipher
            .open(&context(scope, name), &secret.sealed)
            .map_err(|e| RevealError::Unreadable(name.to_owned(), e))?;
        String::from_utf8(clear).map(Some).map_err(|_| RevealError::Unreadable(name.to_owned(), "not UTF-8".into()))
    }
}

#[async_trait::async_trait]
impl SecretSource for SecretService {
    async fn reveal(
        &self,
        scope: Scope,
        names: &[String],
        optional: &[&str],
    ) -> Result<Vec<(String, String)>, RevealError> {
        let mut revealed = Vec::with_capacity(names.len() + optional.len());
        for name in names {
            let value = self.open(scope, name).await?.ok_or_else(|| RevealError::Missing(name.clone()))?;
            revealed.push((name.clone(), value));
        }
        for name in optional.iter().filter(|n| !names.iter().any(|m| m == *n)) {
            if let Some(value) = self.open(scope, name).await? {
                revealed.push(((*name).to_owned(), value));
            }
        }
        Ok(revealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{MockClock, MockSecretStore};

    struct Reversed;

    impl SecretCipher for Reversed {
        fn seal(&self, context: &[u8], plaintext: &[u8]) -> Vec<u8> {
            context.iter().chain(plaintext.iter().rev()).copied().collect()
        }

        fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, String> {
            let rest = sealed.strip_prefix(context).ok_or("wrong context")?;
            Ok(rest.iter().rev().copied().collect())
        }
    }

    fn service(store: MockSecretStore) -> SecretService {
        let mut clock = MockClock::new();
        clock.expect_now().returning(chrono::Utc::now);
        SecretService::new(Arc::new(store), Arc::new(Reversed), Arc::new(clock))
    }

    #[tokio::test]
    async fn values_are_sealed_before_they_reach_the_store() {
        let mut store = MockSecretStore::new();
        store
            .expect_put_secret()
            .withf(|_, s| s.name == "TOKEN" && !s.sealed.windows(6).any(|w| w == b"abcdef"))
            .times(1)
            .returning(|_, _| Ok(true));
        store.expect_secret().returning(|_, name| {
            let now = chrono::Utc::now();
            Ok(Some(SealedSecret {
                name: name.into(),
                description: None,
                sealed: vec![],
                created_at: now,
                updated_at: now,
            }))
        });
        let (info, created) = service(store).put(Scope::DEFAULT, "TOKEN", "abcdef", None).await.unwrap();
        assert!(created);
        assert_eq!(info.name, "TOKEN");
    }

    #[tokio::test]
    async fn bad_names_and_values_never_reach_the_store() {
        let mut store = MockSecretStore::new();
        store.expect_put_secret().times(0);
        let service = service(store);
        for (name, value) in [("1BAD", "v"), ("a-b", "v"), ("OK", ""), ("OK", &"x".repeat(MAX_VALUE_BYTES + 1))] {
            assert!(matches!(service.put(Scope::DEFAULT, name, value, None).await, Err(ServiceError::BadRequest(_))));
        }
    }

    #[tokio::test]
    async fn a_missing_required_secret_is_named_and_missing_optional_ones_are_skipped() {
        let mut store = MockSecretStore::new();
        store.expect_secret().returning(|scope, name| {
            let now = chrono::Utc::now();
            Ok((name == "HAVE").then(|| SealedSecret {
                name: name.into(),
                description: None,
                sealed: Reversed.seal(&context(scope, name), b"value-1"),
                created_at: now,
                updated_at: now,
            }))
        });
        let service = service(store);
        let got = service.reveal(Scope::DEFAULT, &["HAVE".into()], &["OPTIONAL"]).await.unwrap();
        assert_eq!(got, vec![("HAVE".to_owned(), "value-1".to_owned())]);
        let err = service.reveal(Scope::DEFAULT, &["NOPE".into()], &[]).await.unwrap_err();
        assert!(matches!(err, RevealError::Missing(n) if n == "NOPE"));
    }
}
