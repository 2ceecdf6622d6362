//! The traits the app needs from the outside world, and their error types.

mod clock;
mod events;
mod runner;
mod store;

pub use clock::*;
pub use events::*;
pub use runner::*;
pub use store::*;
