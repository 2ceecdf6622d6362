//! Implementations of the ports: storage, event delivery, HTTP, node runners, clock, and the
//! client for calls to other servers.

pub mod auth;
pub mod chroma;
pub mod clock;
pub mod events;
pub mod http;
pub mod mcp;
pub mod models;
pub mod outgoing;
pub mod runners;
pub mod secrets;
pub mod store;
