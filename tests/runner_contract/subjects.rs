//! The runners under contract, one file each.

#[path = "subjects/code.rs"]
pub mod code;
#[path = "subjects/llm.rs"]
pub mod llm;
#[path = "subjects/mcp_tool.rs"]
pub mod mcp_tool;
#[path = "subjects/parallel.rs"]
pub mod parallel;
#[path = "subjects/retriever.rs"]
pub mod retriever;
#[path = "subjects/tool.rs"]
pub mod tool;
#[path = "subjects/vision.rs"]
pub mod vision;
