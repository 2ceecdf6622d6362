//! Node runners: one module per effectful node kind.

pub mod llm;
