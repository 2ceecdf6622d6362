//! The pure core: workflow model and validation, the scheduler, the execution state machine,
//! templates and expressions. No I/O, no async runtime.

pub mod access;
pub mod budget;
pub mod control;
pub mod data;
pub mod execution;
pub mod expr;
pub mod files;
pub mod graph;
pub mod human;
pub mod idempotency;
pub mod identity;
pub mod ids;
pub mod inputs;
pub mod mcp;
pub mod number;
pub mod retry;
pub mod run;
pub mod scheduler;
pub mod secrets;
pub mod template;
pub mod usage;
pub mod valid;
pub mod validation;
pub mod vectors;
pub mod whole;
pub mod workflow;
