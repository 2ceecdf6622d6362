//! The Tool node. An HTTP tool (the seed's fallback: `server_id` an http(s) base URL, `tool_name`
//! `"METHOD /path"`) makes a real HTTP call through the SSRF guard; its parts (target, request,
//! call) are public so that an LLM's tool loop can call HTTP tools with a model's arguments.

pub mod arguments;
pub mod http_target;
pub mod http_tool;
pub mod request;
mod runner;

pub use http_tool::{HttpTool, HttpToolLimits};
pub use runner::ToolRunner;
