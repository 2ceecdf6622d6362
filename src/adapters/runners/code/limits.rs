//! How far a script may go: its deadline, memory, operations, call depth and source size, and
//! the stop signal a running script polls (its deadline passed, or its caller gave up).

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// The limits of every script run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeLimits {
    /// Deadline of a run whose node has no `timeout_config` (the seed allowed 5 s).
    pub default_timeout: Duration,
    /// Memory a run may use, in bytes: the whole heap of a JavaScript run; for Rhai, which keeps
    /// no heap account, the size of any one value (a string's bytes, an array's or a map's items
    /// counted through their nesting; see [`CodeLimits::rhai_string_bytes`] and the others).
    pub memory_bytes: usize,
    /// Rhai operations at most (the seed allowed a million; each is an expression or statement
    /// step, some 20 to 100 ns).
    pub rhai_max_operations: u64,
    /// JavaScript steps at most (function calls and loop iterations, some 5 ns each), counted
    /// in units of [`JS_OPERATIONS_PER_POLL`] (QuickJS's interrupt polls).
    pub js_max_operations: u64,
    /// Nested calls at most (Rhai); JavaScript is bounded by [`CodeLimits::js_stack_bytes`].
    pub max_call_depth: usize,
    /// Native stack a JavaScript run may use, in bytes.
    pub js_stack_bytes: usize,
    /// Longest source accepted, in bytes.
    pub max_code_bytes: usize,
}

/// QuickJS calls its interrupt handler about once per this many operations (function calls and
/// loop iterations); the operation limit of JavaScript is counted in these steps.
pub const JS_OPERATIONS_PER_POLL: u64 = 10_000;

impl Default for CodeLimits {
    fn default() -> Self {
        Self {
            default_timeout: Duration::from_secs(5),
            memory_bytes: 64 * 1024 * 1024,
            // Both about a second of work on this machine, well inside the default deadline.
            rhai_max_operations: 50_000_000,
            js_max_operations: 200_000_000,
            max_call_depth: 64,
            js_stack_bytes: 1024 * 1024,
            max_code_bytes: 256 * 1024,
        }
    }
}

impl CodeLimits {
    /// Longest Rhai string, in bytes: a quarter of the memory cap.
    #[must_use]
    pub fn rhai_string_bytes(&self) -> usize {
        (self.memory_bytes / 4).max(1)
    }

    /// Most items of a Rhai array, nested arrays counted in (a value is 16 bytes or more).
    #[must_use]
    pub fn rhai_array_items(&self) -> usize {
        (self.memory_bytes / 64).max(1)
    }

    /// Most entries of a Rhai map, nested maps counted in (an entry is 64 bytes or more).
    #[must_use]
    pub fn rhai_map_entries(&self) -> usize {
        (self.memory_bytes / 256).max(1)
    }
}

/// Why a run was told to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// Its deadline passed.
    Deadline,
    /// Its caller gave up: the node was cancelled, timed out in the executor, or dropped.
    Abandoned,
}

const RUNNING: u8 = 0;
const DEADLINE: u8 = 1;
const ABANDONED: u8 = 2;

/// What a running script polls to know it must stop; shared by the engine's thread and the
/// async side that waits for it.
#[derive(Clone, Debug)]
pub struct Stop {
    deadline: Instant,
    state: Arc<AtomicU8>,
}

impl Stop {
    /// A run that must end `timeout` from now.
    #[must_use]
    pub fn after(timeout: Duration) -> Self {
        let now = Instant::now();
        Self { deadline: now.checked_add(timeout).unwrap_or(now + Duration::from_secs(86_400)), state: Arc::default() }
    }

    /// Tells the run its deadline passed (a timer of the caller's, so an engine that reads only
    /// the flag, between two clock reads, stops at once).
    pub fn expire(&self) {
        let _ = self.state.compare_exchange(RUNNING, DEADLINE, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Whether the run was told to stop, without reading the clock: one atomic load.
    #[must_use]
    pub fn flagged(&self) -> bool {
        self.state.load(Ordering::Acquire) != RUNNING
    }

    /// Tells the run to stop because its caller gave up.
    pub fn abandon(&self) {
        let _ = self.state.compare_exchange(RUNNING, ABANDONED, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Whether the run must stop now: one atomic load, plus a clock read (the engines call this
    /// every few thousand operations, not on each).
    #[must_use]
    pub fn reached(&self) -> bool {
        if self.state.load(Ordering::Acquire) != RUNNING {
            return true;
        }
        if Instant::now() >= self.deadline {
            let _ = self.state.compare_exchange(RUNNING, DEADLINE, Ordering::AcqRel, Ordering::Acquire);
            return true;
        }
        false
    }

    /// Why the run was stopped, if it was.
    #[must_use]
    pub fn reason(&self) -> Option<StopReason> {
        match self.state.load(Ordering::Acquire) {
            DEADLINE => Some(StopReason::Deadline),
            ABANDONED => Some(StopReason::Abandoned),
            _ => None,
        }
    }

    /// A guard that abandons the run when dropped: when the future waiting for a script is
    /// dropped (the executor's timeout, a cancelled run), the script stops too instead of
    /// running on in its thread.
    #[must_use]
    pub fn abandon_on_drop(&self) -> AbandonOnDrop {
        AbandonOnDrop(self.clone())
    }
}

/// Abandons its run when dropped (see [`Stop::abandon_on_drop`]).
pub struct AbandonOnDrop(Stop);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        self.0.abandon();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_records_the_first_reason_only() {
        let stop = Stop::after(Duration::from_secs(60));
        assert!(!stop.reached());
        assert_eq!(stop.reason(), None);
        drop(stop.abandon_on_drop());
        assert!(stop.reached());
        assert_eq!(stop.reason(), Some(StopReason::Abandoned));
        let past = Stop::after(Duration::ZERO);
        assert!(past.reached());
        past.abandon();
        assert_eq!(past.reason(), Some(StopReason::Deadline), "the deadline came first");
    }
}
