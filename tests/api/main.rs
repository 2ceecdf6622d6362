//! HTTP tests against the real router, and end-to-end tests against a real server and binary.

mod around;
mod audit;
mod binary;
mod clients;
mod composite;
mod conditional;
mod connections;
mod errors;
mod executions;
mod human;
mod human_more;
mod idempotency;
mod idempotent_restart;
mod inputs;
mod keyed_start;
#[path = "../common/mcp_server.rs"]
mod mcp_server;
mod order;
mod secrets;
mod startup;
mod stream;
mod support;
mod tenancy;
mod text;
mod vectors;
mod workflows;
