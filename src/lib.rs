//! oxify-api: define LLM workflows as DAGs, store them, run them, and watch them run live.

pub mod adapters;
pub mod app;
pub mod domain;
pub mod ports;
pub mod startup;
