//! A run as typed history: the events that happen to it, the state they fold into, and the
//! decisions taken from that state (what follows a failure, what a workflow outputs).

pub mod composite;
mod event;
#[cfg(test)]
mod human_tests;
mod legacy;
mod output;
pub mod policy;
pub mod rerun;
mod state;

pub use event::{RunEvent, Wait};
pub use output::workflow_output;
pub use state::{Answer, ChildResult, Children, NodeRun, RunState};
