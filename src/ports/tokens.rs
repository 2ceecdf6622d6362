//! Issuing the server's own access tokens to signed-in users.

use crate::domain::ids::UserId;
use chrono::{DateTime, Utc};

/// An access token and how long it is valid.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The bearer token (a JWT).
    pub token: String,
    /// Seconds from issue to expiry.
    pub expires_in: u64,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken").field("expires_in", &self.expires_in).finish_non_exhaustive()
    }
}

/// Issues access tokens.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TokenIssuer: Send + Sync {
    /// A token naming `user`, issued at `now`.
    ///
    /// # Errors
    /// Signing failed (a message for the log).
    fn issue(&self, user: UserId, now: DateTime<Utc>) -> Result<IssuedToken, String>;
}
