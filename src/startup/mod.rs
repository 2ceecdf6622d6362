//! Start-up: the configuration and its checks, logging, the composition root that picks the
//! adapters behind the ports, and the server's start and stop. The only layer that knows both
//! the app and the adapters.

pub mod access;
pub mod access_config;
pub mod config;
mod config_check;
pub mod error;
pub mod first_start;
pub mod log_writer;
pub mod open_files;
pub mod server;
pub mod telemetry;
pub mod wiring;
