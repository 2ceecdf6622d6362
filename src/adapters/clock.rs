//! The system clock.

use crate::ports::Clock;
use chrono::{DateTime, SubsecRound, Utc};

/// Wall-clock time.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// Truncated to microseconds, the precision every storage backend keeps, so a timestamp
    /// reads back equal to what was written (list cursors rely on it).
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}
