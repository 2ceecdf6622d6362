//! Human passwords hashed with Argon2id (the argon2 crate's defaults: 19 MiB, 2 passes, 1 lane,
//! OWASP's recommendation), on the blocking pool, a few at a time: each hash takes tens of
//! milliseconds and 19 MiB, so a burst of logins must not take every thread and gigabytes.

use crate::ports::PasswordHasher;
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;

/// Argon2id hashing and checking.
#[derive(Clone)]
pub struct Argon2Passwords {
    /// Hashes running at once, at most.
    permits: Arc<Semaphore>,
}

impl Default for Argon2Passwords {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Self { permits: Arc::new(Semaphore::new(cores)) }
    }
}

/// A hash of a random password, checked against when an account does not exist so that the
/// answer takes as long as for one that does.
fn stand_in() -> Result<&'static str, String> {
    static STAND_IN: OnceLock<String> = OnceLock::new();
    if let Some(hash) = STAND_IN.get() {
        return Ok(hash);
    }
    let mut random = [0u8; 24];
    getrandom::fill(&mut random).map_err(|e| format!("no random numbers: {e}"))?;
    let hash = Argon2::default().hash_password(&random).map_err(|e| e.to_string())?.to_string();
    Ok(STAND_IN.get_or_init(|| hash))
}

impl Argon2Passwords {
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, String> + Send + 'static,
    ) -> Result<T, String> {
        let _permit = self.permits.acquire().await.map_err(|e| e.to_string())?;
        tokio::task::spawn_blocking(work).await.map_err(|e| format!("password hashing panicked: {e}"))?
    }
}

#[async_trait::async_trait]
impl PasswordHasher for Argon2Passwords {
    async fn hash(&self, password: String) -> Result<String, String> {
        self.blocking(move || {
            Argon2::default()
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| format!("hashing a password failed: {e}"))
        })
        .await
    }

    async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, String> {
        self.blocking(move || {
            let known = hash.is_some();
            let hash = match &hash {
                Some(h) => h.as_str(),
                None => stand_in()?,
            };
            match Argon2::default().verify_password(password.as_bytes(), hash) {
                Ok(()) => Ok(known),
                Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
                Err(e) => Err(format!("checking a password failed: {e}")),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_matches_its_hash_only() {
        let passwords = Argon2Passwords::default();
        let hash = passwords.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("correct horse"));
        assert!(passwords.verify("correct horse".into(), Some(hash.clone())).await.unwrap());
        assert!(!passwords.verify("correct hors".into(), Some(hash.clone())).await.unwrap());
        assert!(!passwords.verify("correct horse".into(), None).await.unwrap(), "no account, no match");
        assert_ne!(passwords.hash("correct horse".into()).await.unwrap(), hash, "salted");
        assert!(passwords.verify("x".into(), Some("not a hash".into())).await.is_err());
    }
}
