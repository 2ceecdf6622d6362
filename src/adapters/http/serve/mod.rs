//! Serving HTTP on a socket so that slow or idle clients cannot lock others out: timeouts for
//! headers, bodies and idleness, and a cap on connections that makes room by closing idle ones.

mod accept;
mod body_deadline;
mod connections;
mod tracked_io;

pub use accept::{ServeLimits, serve};
pub use body_deadline::BodyTimeout;
