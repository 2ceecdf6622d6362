//! Executions: their state machines, records and events.

mod events;
mod record;
mod state;

pub use events::*;
pub use record::*;
pub use state::*;
