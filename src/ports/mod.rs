//! The traits the app needs from the outside world, and their error types.

mod audit;
mod authenticator;
mod clock;
mod events;
mod execution_store;
mod idempotency;
mod paging;
pub mod redact;
mod runner;
mod secret_store;
mod store_error;
mod workflow_store;

pub use audit::*;
pub use authenticator::*;
pub use clock::*;
pub use events::*;
pub use execution_store::*;
pub use idempotency::*;
pub use paging::*;
pub use runner::*;
pub use secret_store::*;
pub use store_error::*;
pub use workflow_store::*;
