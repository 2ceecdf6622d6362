//! Event delivery adapters.

mod broadcast;

pub use broadcast::BroadcastEventBus;
