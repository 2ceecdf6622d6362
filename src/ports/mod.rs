//! The traits the app needs from the outside world, and their error types.

mod clock;
mod events;
mod idempotency;
mod runner;
mod store;

pub use clock::*;
pub use events::*;
pub use idempotency::*;
pub use runner::*;
pub use store::*;
