//! The LLM node: renders its prompts, waits for the rate governor, calls the provider over its
//! real wire protocol (streaming by default, each text delta published as it arrives), and
//! returns the answer with token usage and cost.

mod anthropic;
mod call;
mod governor;
mod openai;
mod reply;
mod reservation;
mod runner;
pub mod settings;
mod transport;

pub use runner::{LlmRunner, default_retry};
