//! Implementations of the ports: storage, event delivery, HTTP, node runners, clock.

pub mod clock;
pub mod events;
pub mod http;
pub mod runners;
pub mod store;
