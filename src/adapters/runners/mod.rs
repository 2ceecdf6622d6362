//! Node runners: one module per effectful node kind.

pub mod code;
pub mod llm;
pub mod retriever;
pub mod tool;
pub mod vision;
