//! The runners under contract, one file each.

#[path = "subjects/llm.rs"]
pub mod llm;
#[path = "subjects/parallel.rs"]
pub mod parallel;
