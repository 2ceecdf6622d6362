//! Authenticators: who a request acts as.

pub mod open_access;

pub use open_access::OpenAccess;
