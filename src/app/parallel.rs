//! A Parallel node with `max_concurrency` or `timeout_ms` (seed fields): its tasks render as
//! real concurrent work, at most `max_concurrency` at once, all within `timeout_ms`. A task not
//! done by the deadline counts as rejected ("timed out"), so `WaitAll` fails, `AllSettled`
//! records it, and `Race` keeps the first task that succeeded in time.

use crate::domain::control;
use crate::domain::template;
use crate::domain::workflow::{NodeKind, ParallelStrategy};
use crate::ports::{NodeInput, NodeOutput, NodeRunner, RunnerError};
use futures::stream::{FuturesUnordered, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Runs the tasks of Parallel nodes that set limits (other Parallel nodes are evaluated inline).
pub struct ParallelRunner;

#[async_trait::async_trait]
impl NodeRunner for ParallelRunner {
    async fn run(&self, input: NodeInput, cancel: CancellationToken) -> Result<NodeOutput, RunnerError> {
        let NodeKind::Parallel(config) = &input.node().kind else {
            return Err(RunnerError::Permanent(format!("node {} is not a Parallel node", input.node().id)));
        };
        let permits =
            Arc::new(Semaphore::new(config.max_concurrency.map_or(config.tasks.len(), |m| m as usize).max(1)));
        let limit = config.timeout_ms.map(Duration::from_millis);
        let deadline = limit.map(|l| tokio::time::Instant::now() + l);
        let mut pending: FuturesUnordered<_> = config
            .tasks
            .iter()
            .enumerate()
            .map(|(k, task)| {
                let (permits, data, source) = (permits.clone(), input.data.clone(), task.expression.clone());
                async move {
                    let rendered = match permits.acquire_owned().await {
                        Ok(_permit) => tokio::task::spawn_blocking(move || template::render(&source, &data))
                            .await
                            .unwrap_or_else(|e| Err(format!("task panicked: {e}"))),
                        Err(_) => Err("the node stopped".into()),
                    };
                    (k, rendered)
                }
            })
            .collect();
        let mut outcomes: Vec<Option<Result<String, String>>> = vec![None; config.tasks.len()];
        loop {
            let next = async {
                match deadline {
                    Some(at) => tokio::time::timeout_at(at, pending.next()).await.ok().flatten(),
                    None => pending.next().await,
                }
            };
            let finished = tokio::select! {
                finished = next => finished,
                () = cancel.cancelled() => return Err(RunnerError::Permanent("cancelled".into())),
            };
            let Some((k, rendered)) = finished else { break };
            let won = config.strategy == ParallelStrategy::Race && rendered.is_ok();
            outcomes[k] = Some(rendered);
            if won {
                break;
            }
        }
        let timed_out = limit.map_or_else(String::new, |l| format!("timed out after {} ms", l.as_millis()));
        let results: Vec<(&str, Result<String, String>)> = config
            .tasks
            .iter()
            .zip(outcomes)
            .filter_map(|(task, outcome)| match (outcome, config.strategy) {
                (Some(o), _) => Some((task.id.as_str(), o)),
                // A Race that was won leaves the slower tasks out.
                (None, ParallelStrategy::Race) if !timed_out.is_empty() => {
                    Some((task.id.as_str(), Err(timed_out.clone())))
                }
                (None, ParallelStrategy::Race) => None,
                (None, _) => Some((task.id.as_str(), Err(timed_out.clone()))),
            })
            .collect();
        control::combine(config.strategy, results).map(NodeOutput::of).map_err(RunnerError::Permanent)
    }
}
