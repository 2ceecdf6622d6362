//! Idempotent requests (the `Idempotency-Key` header): what a key may be, the namespace it lives
//! in, and the fingerprint that tells a retry of a request from a different request.

mod fingerprint;
mod key;

pub use fingerprint::*;
pub use key::*;
