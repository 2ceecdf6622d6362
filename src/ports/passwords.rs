//! Hashing and checking human passwords (slow on purpose: implementations run off the async
//! runtime).

/// Hashes passwords and checks them against stored hashes.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait PasswordHasher: Send + Sync {
    /// The PHC string of a new salted hash of `password` (`$argon2id$v=19$...`).
    ///
    /// # Errors
    /// The hasher failed (a message for the log; never the password).
    async fn hash(&self, password: String) -> Result<String, String>;

    /// Whether `password` matches `hash`. With no hash (an unknown account) it compares against
    /// a stand-in and answers `false`, taking about as long as a real comparison, so that the
    /// answer's timing does not tell whether an account exists.
    ///
    /// # Errors
    /// The hasher failed, or the stored hash is not a PHC string it knows.
    async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, String>;
}
