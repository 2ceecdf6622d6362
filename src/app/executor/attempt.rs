//! One attempt of one runner node, in its own task: optional backoff first, then the runner under
//! a deadline. A panicking runner becomes a failed attempt, not a lost task.

use crate::domain::access::Scope;
use crate::ports::redact::{RedactingSink, Redactor};
use crate::ports::{AttemptSink, NodeInput, NodeOutput, NodeRunner, RevealError, RunnerError, SecretSource};
use futures::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub(super) enum Outcome {
    Output(NodeOutput),
    Error(RunnerError),
    TimedOut(Duration),
}

pub(super) struct Done {
    pub idx: usize,
    pub attempt: u32,
    pub outcome: Outcome,
}

pub(super) struct Attempt {
    pub runner: Arc<dyn NodeRunner>,
    pub input: NodeInput,
    pub cancel: CancellationToken,
    pub delay: Option<Duration>,
    pub timeout: Option<Duration>,
    /// The workspace secrets the attempt needs, when it needs any.
    pub secrets: Option<Reveal>,
}

/// What to reveal for an attempt: the secrets its node refers to (all required) and those its
/// runner may use when the workspace has them (its own provider keys).
pub(super) struct Reveal {
    pub source: Arc<dyn SecretSource>,
    pub scope: Scope,
    pub names: Arc<[String]>,
    pub optional: &'static [&'static str],
}

impl Attempt {
    pub(super) async fn run(mut self) -> Done {
        let (idx, attempt) = (self.input.node_index, self.input.attempt);
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        // Secrets are revealed for this attempt only; whatever it produces is redacted of them
        // before anything (stream, result, event, log) sees it.
        let mut redacting = None;
        if let Some(reveal) = self.secrets.take() {
            let values = match reveal.source.reveal(reveal.scope, &reveal.names, reveal.optional).await {
                Ok(values) => values,
                Err(e) => return Done { idx, attempt, outcome: Outcome::Error(reveal_failed(e)) },
            };
            let redactor = Redactor::new(values.iter().map(|(_, v)| v.clone()));
            let sink = Arc::new(RedactingSink::new(self.input.sink.clone(), redactor.clone()));
            self.input.sink = AttemptSink::wrapping(sink.clone());
            self.input.data.secrets =
                Arc::new(values.into_iter().map(|(name, value)| (name, serde_json::Value::String(value))).collect());
            redacting = Some((redactor, sink));
        }
        let call = AssertUnwindSafe(self.runner.run(self.input, self.cancel)).catch_unwind();
        let outcome = match self.timeout {
            Some(limit) => match tokio::time::timeout(limit, call).await {
                Ok(result) => from_call(result),
                Err(_) => Outcome::TimedOut(limit),
            },
            None => from_call(call.await),
        };
        let outcome = match redacting {
            None => outcome,
            Some((redactor, sink)) => {
                sink.finish();
                match outcome {
                    Outcome::Output(out) => Outcome::Output(NodeOutput { value: redactor.value(out.value), ..out }),
                    Outcome::Error(e) => Outcome::Error(redactor.error(e)),
                    timed_out => timed_out,
                }
            }
        };
        Done { idx, attempt, outcome }
    }
}

fn reveal_failed(e: RevealError) -> RunnerError {
    match e {
        RevealError::Store(e) if e.is_transient() => RunnerError::retryable(format!("reading secrets failed: {e}")),
        other => RunnerError::Permanent(other.to_string()),
    }
}

fn from_call(result: Result<Result<NodeOutput, RunnerError>, Box<dyn std::any::Any + Send>>) -> Outcome {
    match result {
        Ok(Ok(value)) => Outcome::Output(value),
        Ok(Err(e)) => Outcome::Error(e),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Outcome::Error(RunnerError::Permanent(format!("runner panicked: {message}")))
        }
    }
}
