//! One attempt of one runner node, in its own task: optional backoff first, then the runner under
//! a deadline. A panicking runner becomes a failed attempt, not a lost task.

use crate::ports::{NodeInput, NodeOutput, NodeRunner, RunnerError};
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
}

impl Attempt {
    pub(super) async fn run(self) -> Done {
        let (idx, attempt) = (self.input.node_index, self.input.attempt);
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        let call = AssertUnwindSafe(self.runner.run(self.input, self.cancel)).catch_unwind();
        let outcome = match self.timeout {
            Some(limit) => match tokio::time::timeout(limit, call).await {
                Ok(result) => from_call(result),
                Err(_) => Outcome::TimedOut(limit),
            },
            None => from_call(call.await),
        };
        Done { idx, attempt, outcome }
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
