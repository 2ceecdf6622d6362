//! Executions: their state machines, records and events.

mod record;
mod state;

pub use record::*;
pub use state::*;
