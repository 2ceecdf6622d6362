//! Use cases: workflow and execution services, the executor, recovery, idempotent starts, and
//! their assembly from the ports.

pub mod audit;
pub mod cascade;
pub mod collections;
pub mod error;
pub mod event_stream;
pub mod executions;
pub mod executor;
pub mod files;
pub mod human_tasks;
pub mod idempotency;
pub mod identity;
pub mod live_executions;
pub mod mcp;
mod mcp_check;
pub mod notifier;
pub mod parallel;
pub mod pause;
pub mod recovery;
pub mod runner_registry;
pub mod secrets;
pub mod services;
pub mod workflow_tools;
pub mod workflows;
