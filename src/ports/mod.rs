//! The traits the app needs from the outside world, and their error types.

mod audit;
mod authenticator;
mod clock;
mod events;
mod execution_store;
mod human_tasks;
mod idempotency;
mod identity_store;
mod mcp;
mod paging;
mod passwords;
pub mod redact;
mod runner;
mod secret_store;
mod store_error;
mod tokens;
mod workflow_store;
mod workflow_tools;

pub use audit::*;
pub use authenticator::*;
pub use clock::*;
pub use events::*;
pub use execution_store::*;
pub use human_tasks::*;
pub use idempotency::*;
pub use identity_store::*;
pub use mcp::*;
pub use paging::*;
pub use passwords::*;
pub use runner::*;
pub use secret_store::*;
pub use store_error::*;
pub use tokens::*;
pub use workflow_store::*;
pub use workflow_tools::*;
