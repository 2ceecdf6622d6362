//! Idempotent execute requests (`Idempotency-Key`): the first request with a key runs, and every
//! retry within the key's lifetime gets the first answer instead of a second run.

mod first_write;
mod in_flight;
mod service;

pub use first_write::KeyedFirstWrites;
pub use service::{DEFAULT_TTL, IdempotencyService, KeyedRequest, KeyedStart};
