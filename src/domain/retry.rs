//! Backoff between attempts of a failing node, from its `retry_config`.

use crate::domain::workflow::RetryConfig;
use std::time::Duration;

/// How long to wait before attempt `next_attempt` (2 for the first retry), or `None` when the
/// retries are spent. Without a `retry_config` a node is attempted once.
#[must_use]
pub fn delay_before(config: Option<&RetryConfig>, next_attempt: u32) -> Option<Duration> {
    let config = config?;
    let retry = next_attempt.checked_sub(1)?;
    if retry == 0 || retry > config.max_retries {
        return None;
    }
    let exponent = i32::try_from(retry - 1).unwrap_or(i32::MAX);
    let millis = (config.initial_delay_ms as f64) * config.backoff_multiplier.powi(exponent);
    let capped = millis.min(config.max_delay_ms as f64).max(0.0);
    Some(Duration::from_millis(capped as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> RetryConfig {
        RetryConfig { max_retries: 3, initial_delay_ms: 100, backoff_multiplier: 2.0, max_delay_ms: 300 }
    }

    #[test]
    fn delays_grow_by_the_multiplier_up_to_the_cap() {
        let c = config();
        assert_eq!(delay_before(Some(&c), 2), Some(Duration::from_millis(100)));
        assert_eq!(delay_before(Some(&c), 3), Some(Duration::from_millis(200)));
        assert_eq!(delay_before(Some(&c), 4), Some(Duration::from_millis(300)));
    }

    #[test]
    fn retries_stop_after_max_retries() {
        assert_eq!(delay_before(Some(&config()), 5), None);
    }

    #[test]
    fn without_config_there_is_no_retry() {
        assert_eq!(delay_before(None, 2), None);
    }
}
