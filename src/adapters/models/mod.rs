//! Models behind one gateway ([`ModelGateway`]): the providers' real wire protocols (OpenAI
//! Chat Completions and every compatible server, Anthropic Messages), streamed by default with
//! each text delta published as it arrives, the rate governor, prices and budgets. Every node
//! kind that calls a model goes through it.

mod anthropic;
mod call;
pub mod conversation;
mod gateway;
mod governor;
mod openai;
mod reply;
mod reservation;
pub mod settings;
mod transport;

pub use gateway::{ChatAnswer, ChatRequest, DEFAULT_MAX_TOKENS, ModelGateway};
pub use reply::{MAX_TOOL_CALLS, Reply, Tokens, ToolCall};
