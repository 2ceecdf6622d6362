//! The cases every runner must pass, each generic over the [`Subject`] it runs against.

use crate::subject::{Direct, Subject};
use crate::through_executor::{self, PanicsMidCall, UsageShaped, fake_usage};
use oxify_api::domain::execution::{EventKind, ExecutionState, NodeStatus};
use oxify_api::domain::usage::Usage;
use oxify_api::ports::RunnerError;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How soon a call must return once its cancel token fired.
pub const CANCEL_BOUND: Duration = Duration::from_millis(500);

/// How long the slow call runs before it is cancelled: long enough to be under way.
const UNDER_WAY: Duration = Duration::from_millis(200);

pub async fn returns_soon_after_its_cancel_fires<S: Subject>() {
    let subject = S::new().await;
    let cancel = CancellationToken::new();
    let call = tokio::spawn(Direct::new(&subject, subject.slow()).run(cancel.clone()));
    tokio::time::sleep(UNDER_WAY).await;
    assert!(!call.is_finished(), "{}: the slow call ended before it could be cancelled mid-call", S::KIND);
    cancel.cancel();
    let result = tokio::time::timeout(CANCEL_BOUND, call)
        .await
        .unwrap_or_else(|_| panic!("{}: still running {CANCEL_BOUND:?} after its cancel fired", S::KIND))
        .expect("the call does not panic");
    assert!(result.is_err(), "{}: a cancelled call reports no output, got {result:?}", S::KIND);
}

pub async fn a_panic_fails_the_attempt_and_the_run_cleanly<S: Subject>() {
    let subject = S::new().await;
    let runners = subject.registry().with(S::KIND, Arc::new(PanicsMidCall(subject.runner())));
    let ran = through_executor::run(runners, subject.succeeding()).await;
    assert_eq!(ran.execution.state, ExecutionState::Failed, "{}", S::KIND);
    assert_eq!(ran.node.status, NodeStatus::Failed);
    let error = ran.node.error.unwrap_or_default();
    assert!(error.contains("runner panicked: runner contract: a panic mid-call"), "{error}");
    assert_eq!(ran.node.attempts, 1, "a panic is not worth retrying");
    assert_eq!(ran.events.last(), Some(&EventKind::ExecutionFailed), "watchers get their terminal event");
    assert_eq!(ran.live, 0, "nothing of the run is left running");
}

pub async fn errors_are_classified_permanent_or_retryable<S: Subject>() {
    let subject = S::new().await;
    let bad = Direct::new(&subject, subject.bad_input()).run(CancellationToken::new()).await;
    assert!(matches!(bad, Err(RunnerError::Permanent(_))), "{}: bad input is permanent, got {bad:?}", S::KIND);
    if let Some(outage) = subject.upstream_outage() {
        let failed = Direct::new(&subject, outage).run(CancellationToken::new()).await;
        assert!(
            matches!(failed, Err(RunnerError::Retryable { .. })),
            "{}: an upstream outage is worth retrying, got {failed:?}",
            S::KIND
        );
    }
}

pub async fn usage_is_billed_only_from_the_node_output<S: Subject>() {
    let subject = S::new().await;
    let direct = Direct::new(&subject, subject.succeeding()).run(CancellationToken::new()).await;
    let reported = direct.unwrap_or_else(|e| panic!("{}: the succeeding node fails: {e}", S::KIND)).usage;
    assert_eq!(reported.is_some(), S::CALLS_A_MODEL, "{}: only a model call reports usage", S::KIND);
    // Through the executor, with a made-up `usage` key in the output: what is billed is what
    // the runner reported, never what the output says.
    let runners = subject.registry().with(S::KIND, Arc::new(UsageShaped(subject.runner())));
    let ran = through_executor::run(runners, subject.succeeding()).await;
    assert_eq!(ran.execution.state, ExecutionState::Completed, "{}: {:?}", S::KIND, ran.execution.error);
    let output = ran.node.output.expect("an output");
    assert_eq!(output["usage"], fake_usage(), "the executor saw an output with a usage key");
    assert_eq!(ran.node.usage.map(tokens), reported.map(tokens), "{}: billed as reported", S::KIND);
    let usage_events = ran.events.iter().filter(|k| **k == EventKind::Usage).count();
    assert_eq!(usage_events, usize::from(S::CALLS_A_MODEL), "{}: a usage event per model call", S::KIND);
}

fn tokens(usage: Usage) -> (u64, u64, u64) {
    (usage.input_tokens, usage.output_tokens, usage.total_tokens)
}
