//! The system clock.

use crate::ports::Clock;
use chrono::{DateTime, Utc};

/// Wall-clock time.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// Truncated to microseconds, the precision every storage backend keeps, so a timestamp
    /// reads back equal to what was written (list cursors rely on it).
    fn now(&self) -> DateTime<Utc> {
        // Straight from the epoch offset: chrono's `trunc_subsecs` goes through calendar
        // arithmetic, and a run reads the clock several times per node.
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let secs = i64::try_from(since.as_secs()).unwrap_or(i64::MAX);
        DateTime::from_timestamp(secs, since.subsec_micros() * 1_000).unwrap_or_else(Utc::now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::SubsecRound;

    #[test]
    fn now_is_whole_microseconds_of_the_wall_clock() {
        let before = Utc::now().trunc_subsecs(6);
        let now = SystemClock.now();
        let after = Utc::now();
        assert_eq!(now.timestamp_subsec_nanos() % 1_000, 0);
        assert!(before <= now && now <= after, "{before} <= {now} <= {after}");
    }
}
