//! What follows a failed attempt, decided in one place: another attempt (after the backoff, or
//! longer when the other side asked with `Retry-After`, with jitter), or the end of the node as
//! its `timeout_config.timeout_action` and `on_error` say.

use crate::domain::retry;
use crate::domain::workflow::{Node, RetryConfig, TimeoutAction};
use std::time::Duration;

/// Longest `Retry-After` honoured; a server asking for more is treated as asking for this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// How an attempt failed.
#[derive(Clone, Debug, PartialEq)]
pub enum Failure {
    /// The runner reported an error; `retryable` for passing conditions (network, 429, 5xx).
    Error { message: String, retryable: bool, retry_after: Option<Duration> },
    /// The attempt ran past its deadline.
    TimedOut(Duration),
}

/// What to do after a failed attempt.
#[derive(Clone, Debug, PartialEq)]
pub enum Next {
    /// Run attempt `attempt` after `delay`.
    Retry { attempt: u32, delay: Duration, error: String },
    /// The node failed for good.
    Fail(String),
    /// The node is skipped (a timeout with `Skip`).
    Skip(String),
    /// The node succeeds with this text (a timeout with `UseDefault`).
    UseDefault(String),
}

/// Decides what follows failed attempt `attempt` of `node`. `default_retry` is the policy of the
/// node's kind when the node has no `retry_config`; `jitter` in `[0, 1)` spreads retries of nodes
/// that failed together ("equal jitter": half the backoff plus that share of the other half).
#[must_use]
pub fn after_failure(
    node: &Node,
    default_retry: Option<&RetryConfig>,
    attempt: u32,
    failure: &Failure,
    jitter: f64,
) -> Next {
    let policy = node.retry_config.as_ref().or(default_retry);
    let backoff = retry::delay_before(policy, attempt + 1).map(|d| {
        let half = d / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    });
    match failure {
        Failure::Error { message, retryable: true, retry_after } => match backoff {
            Some(delay) => {
                let asked = retry_after.unwrap_or_default().min(MAX_RETRY_AFTER);
                Next::Retry { attempt: attempt + 1, delay: delay.max(asked), error: message.clone() }
            }
            None => Next::Fail(with_attempts(message, attempt)),
        },
        Failure::Error { message, .. } => Next::Fail(with_attempts(message, attempt)),
        Failure::TimedOut(limit) => {
            let message = format!("timed out after {} ms", limit.as_millis());
            if let Some(delay) = backoff {
                return Next::Retry { attempt: attempt + 1, delay, error: message };
            }
            match node.timeout_config.as_ref().map(|t| t.timeout_action.clone()).unwrap_or_default() {
                TimeoutAction::Fail => Next::Fail(message),
                TimeoutAction::Skip => Next::Skip(message),
                TimeoutAction::UseDefault(text) => Next::UseDefault(text),
            }
        }
    }
}

fn with_attempts(message: &str, attempt: u32) -> String {
    if attempt > 1 { format!("{message} (after {attempt} attempts)") } else { message.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::workflow::TimeoutConfig;
    use serde_json::json;

    fn node(retry: Option<RetryConfig>, action: Option<TimeoutAction>) -> Node {
        let mut node: Node = serde_json::from_value(json!({"id": "n", "name": "N", "kind": {"type": "End"}})).unwrap();
        node.retry_config = retry;
        node.timeout_config =
            action.map(|a| TimeoutConfig { execution_timeout_ms: 10, idle_timeout_ms: None, timeout_action: a });
        node
    }

    fn policy() -> RetryConfig {
        RetryConfig { max_retries: 2, initial_delay_ms: 100, backoff_multiplier: 2.0, max_delay_ms: 1000 }
    }

    fn error(retryable: bool, retry_after: Option<Duration>) -> Failure {
        Failure::Error { message: "boom".into(), retryable, retry_after }
    }

    #[test]
    fn retryable_errors_retry_with_jittered_backoff_until_the_retries_are_spent() {
        let n = node(Some(policy()), None);
        let Next::Retry { attempt, delay, .. } = after_failure(&n, None, 1, &error(true, None), 0.0) else { panic!() };
        assert_eq!((attempt, delay), (2, Duration::from_millis(50)));
        let Next::Retry { delay, .. } = after_failure(&n, None, 2, &error(true, None), 0.999_999) else { panic!() };
        assert!(delay > Duration::from_millis(199) && delay <= Duration::from_millis(200), "{delay:?}");
        assert_eq!(after_failure(&n, None, 3, &error(true, None), 0.5), Next::Fail("boom (after 3 attempts)".into()));
    }

    #[test]
    fn retry_after_is_honoured_up_to_a_cap() {
        let n = node(Some(policy()), None);
        let Next::Retry { delay, .. } = after_failure(&n, None, 1, &error(true, Some(Duration::from_secs(7))), 0.0)
        else {
            panic!()
        };
        assert_eq!(delay, Duration::from_secs(7));
        let huge = error(true, Some(Duration::from_secs(1_000_000)));
        let Next::Retry { delay, .. } = after_failure(&n, None, 1, &huge, 0.0) else { panic!() };
        assert_eq!(delay, MAX_RETRY_AFTER);
    }

    #[test]
    fn permanent_errors_fail_at_once() {
        let n = node(Some(policy()), None);
        assert_eq!(after_failure(&n, None, 1, &error(false, None), 0.0), Next::Fail("boom".into()));
    }

    #[test]
    fn the_kinds_default_policy_applies_without_a_retry_config() {
        let n = node(None, None);
        assert!(matches!(after_failure(&n, Some(&policy()), 1, &error(true, None), 0.0), Next::Retry { .. }));
        assert!(matches!(after_failure(&n, None, 1, &error(true, None), 0.0), Next::Fail(_)));
    }

    #[test]
    fn a_timeout_retries_then_follows_its_action() {
        let limit = Failure::TimedOut(Duration::from_millis(10));
        let n = node(None, Some(TimeoutAction::Skip));
        assert_eq!(after_failure(&n, None, 1, &limit, 0.0), Next::Skip("timed out after 10 ms".into()));
        let n = node(None, Some(TimeoutAction::UseDefault("n/a".into())));
        assert_eq!(after_failure(&n, None, 1, &limit, 0.0), Next::UseDefault("n/a".into()));
        let n = node(None, None);
        assert_eq!(after_failure(&n, None, 1, &limit, 0.0), Next::Fail("timed out after 10 ms".into()));
        let n = node(Some(policy()), Some(TimeoutAction::Skip));
        assert!(matches!(after_failure(&n, None, 1, &limit, 0.0), Next::Retry { attempt: 2, .. }));
    }
}
