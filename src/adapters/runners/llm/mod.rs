//! The LLM node: renders its prompts and asks the model through the model gateway
//! (`adapters::models`); when the node lists tools, runs the model's tool-calling loop with MCP
//! tools, HTTP tools and other workflows.

mod runner;
mod tool_loop;
mod tool_spec;
mod toolbox;

pub use runner::{LlmRunner, default_retry};
pub use toolbox::ToolDeps;
