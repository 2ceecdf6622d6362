//! The execution and node state machines: enums with a transition function that refuses illegal moves.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;

/// An illegal state change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot go from {from} to {to}")]
pub struct TransitionError {
    pub from: String,
    pub to: String,
}

/// Where an execution is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum ExecutionState {
    Pending,
    Running,
    /// Reserved for human input.
    Paused,
    Completed,
    Failed,
    Cancelled,
}

impl ExecutionState {
    pub const ALL: [Self; 6] =
        [Self::Pending, Self::Running, Self::Paused, Self::Completed, Self::Failed, Self::Cancelled];

    #[must_use]
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Running => "Running",
            Self::Paused => "Paused",
            Self::Completed => "Completed",
            Self::Failed => "Failed",
            Self::Cancelled => "Cancelled",
        }
    }

    /// `Pending -> Running -> (Paused) -> Completed | Failed | Cancelled`; a pending execution
    /// may also be cancelled or fail before it starts.
    ///
    /// # Errors
    /// When the move is not one of those.
    pub fn transition(self, to: Self) -> Result<Self, TransitionError> {
        use ExecutionState::{Cancelled, Completed, Failed, Paused, Pending, Running};
        let legal = matches!(
            (self, to),
            (Pending, Running | Failed | Cancelled)
                | (Running, Paused | Completed | Failed | Cancelled)
                | (Paused, Running | Failed | Cancelled)
        );
        if legal { Ok(to) } else { Err(TransitionError { from: self.to_string(), to: to.to_string() }) }
    }
}

impl fmt::Display for ExecutionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExecutionState {
    type Err = String;
    /// Case-insensitive, so `?state=running` works.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|st| st.as_str().eq_ignore_ascii_case(s)).ok_or_else(|| {
            format!("unknown state '{s}': expected one of Pending, Running, Paused, Completed, Failed, Cancelled")
        })
    }
}

/// Where a node is in its life within one execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum NodeStatus {
    Pending,
    Ready,
    Running,
    /// Waiting for something outside the run: child executions, a timer.
    Waiting,
    Succeeded,
    Failed,
    Skipped,
    Cancelled,
}

impl NodeStatus {
    #[must_use]
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Skipped | Self::Cancelled)
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Ready => "Ready",
            Self::Running => "Running",
            Self::Waiting => "Waiting",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
            Self::Skipped => "Skipped",
            Self::Cancelled => "Cancelled",
        }
    }

    /// `Pending -> Ready -> Running -> Succeeded | Failed | Skipped`, plus: a node not yet run
    /// may be skipped or cancelled, a running one cancelled, and one that was running when its
    /// process died goes back to `Ready` for a new attempt. A running node may wait (`Waiting`)
    /// for child executions or a timer, and ends from there.
    ///
    /// # Errors
    /// When the move is not one of those.
    pub fn transition(self, to: Self) -> Result<Self, TransitionError> {
        use NodeStatus::{Cancelled, Failed, Pending, Ready, Running, Skipped, Succeeded, Waiting};
        let legal = matches!(
            (self, to),
            (Pending, Ready | Skipped | Cancelled)
                | (Ready, Running | Skipped | Cancelled)
                | (Running, Succeeded | Failed | Skipped | Cancelled | Ready | Waiting)
                | (Waiting, Running | Succeeded | Failed | Cancelled)
        );
        if legal { Ok(to) } else { Err(TransitionError { from: self.to_string(), to: to.to_string() }) }
    }
}

impl fmt::Display for NodeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NodeStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use NodeStatus::*;
        [Pending, Ready, Running, Waiting, Succeeded, Failed, Skipped, Cancelled]
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown node status '{s}'"))
    }
}

#[cfg(test)]
mod tests {
    use super::ExecutionState::*;
    use super::NodeStatus;
    use super::*;

    #[test]
    fn execution_follows_pending_running_terminal() {
        assert_eq!(Pending.transition(Running), Ok(Running));
        assert_eq!(Running.transition(Completed), Ok(Completed));
        assert_eq!(Running.transition(Failed), Ok(Failed));
        assert_eq!(Running.transition(Cancelled), Ok(Cancelled));
        assert_eq!(Running.transition(Paused), Ok(Paused));
        assert_eq!(Paused.transition(Running), Ok(Running));
        assert_eq!(Pending.transition(Cancelled), Ok(Cancelled));
    }

    #[test]
    fn terminal_executions_never_move_again() {
        for from in [Completed, Failed, Cancelled] {
            for to in ExecutionState::ALL {
                assert!(from.transition(to).is_err(), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn pending_cannot_complete_without_running() {
        let err = Pending.transition(Completed).unwrap_err();
        assert_eq!(err.to_string(), "cannot go from Pending to Completed");
        assert!(Running.transition(Pending).is_err());
        assert!(Running.transition(Running).is_err());
    }

    #[test]
    fn state_parses_case_insensitively() {
        assert_eq!("running".parse::<ExecutionState>(), Ok(Running));
        assert!("done".parse::<ExecutionState>().is_err());
    }

    #[test]
    fn node_runs_through_ready_and_running() {
        let s = NodeStatus::Pending.transition(NodeStatus::Ready).unwrap();
        let s = s.transition(NodeStatus::Running).unwrap();
        assert_eq!(s.transition(NodeStatus::Succeeded), Ok(NodeStatus::Succeeded));
        assert!(NodeStatus::Pending.transition(NodeStatus::Running).is_err());
        assert!(NodeStatus::Pending.transition(NodeStatus::Succeeded).is_err());
    }

    #[test]
    fn finished_nodes_never_move_again() {
        use NodeStatus::*;
        for from in [Succeeded, Failed, Skipped, Cancelled] {
            for to in [Pending, Ready, Running, Succeeded, Failed, Skipped, Cancelled] {
                assert!(from.transition(to).is_err(), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn interrupted_node_goes_back_to_ready() {
        assert_eq!(NodeStatus::Running.transition(NodeStatus::Ready), Ok(NodeStatus::Ready));
    }
}
