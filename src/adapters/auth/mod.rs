//! Authenticators and what they check credentials with: who a request acts as.

pub mod identities;
pub mod jwt;
pub mod oidc;
pub mod open_access;
pub mod passwords;

pub use identities::IdentityAuthenticator;
pub use jwt::LocalTokens;
pub use open_access::OpenAccess;
pub use passwords::Argon2Passwords;
