//! The traits the app needs from the outside world, and their error types.

mod authenticator;
mod clock;
mod events;
mod execution_store;
mod idempotency;
mod paging;
mod runner;
mod store_error;
mod workflow_store;

pub use authenticator::*;
pub use clock::*;
pub use events::*;
pub use execution_store::*;
pub use idempotency::*;
pub use paging::*;
pub use runner::*;
pub use store_error::*;
pub use workflow_store::*;
