//! The Code node: Rhai (the seed's `rhai` and `rust` runtimes) and JavaScript (QuickJS) scripts,
//! sandboxed: no file, network, process or clock access, a deadline, a memory cap, operation and
//! call-depth limits, and a stop on cancellation.

mod js_allocator;
mod js_engine;
mod language;
mod limits;
mod rhai_engine;
mod runner;
mod script;

pub use language::{Language, RUNTIMES};
pub use limits::CodeLimits;
pub use runner::CodeRunner;

#[cfg(test)]
mod tests;
