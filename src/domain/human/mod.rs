//! Requests to people: an Approval node asks for a decision, a Form node for values. A request is
//! a [`HumanTask`] row beside the run that waits on it; who may answer, when a quorum is reached
//! and whether a submission is acceptable are decided here, purely.

pub mod approval;
pub mod form;
pub mod notify;
mod task;

pub use notify::{Delivery, DeliveryAttempt, DeliveryState};
pub use task::{Decider, Decision, HumanTask, Refusal, TaskKind, TaskState, Verdict};
