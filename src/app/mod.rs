//! Use cases and wiring: workflow and execution services, the executor, configuration, server.

pub mod cascade;
pub mod config;
mod config_check;
pub mod error;
pub mod executions;
pub mod executor;
pub mod idempotency;
pub mod log_writer;
pub mod open_files;
pub mod parallel;
pub mod recovery;
pub mod runners;
pub mod running;
pub mod server;
pub mod telemetry;
pub mod watch;
pub mod wiring;
pub mod workflows;
