//! Following an execution's events: history from the store, then live events from the bus, with
//! no gap and no duplicate, ending after the terminal event.

use super::error::ServiceError;
use super::executions::ExecutionService;
use crate::domain::execution::{Execution, ExecutionEvent, OutputDelta};
use crate::domain::ids::ExecutionId;
use crate::ports::{BusItem, ExecutionStore};
use futures::stream::{BoxStream, StreamExt};
use std::sync::Arc;

/// Events read from the store per query.
const PAGE: u32 = 512;
/// How often a watcher of an execution run by another process reads the store for new events.
const REMOTE_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// What a watcher gets.
pub enum Watch {
    /// The execution finished and the watcher has already seen its last event.
    AllSeen,
    /// Events after the given sequence number, ending with the terminal event.
    Events(Execution, BoxStream<'static, Frame>),
}

/// One item of a watch: a stored event, or live partial output of a running node.
#[derive(Clone, Debug)]
pub enum Frame {
    Event(Arc<ExecutionEvent>),
    Delta(Arc<OutputDelta>),
}

impl ExecutionService {
    /// Events of execution `id` with `seq > after`: first those stored, then those still to come.
    ///
    /// # Errors
    /// `NotFound`; storage failures while reading the history.
    pub async fn watch(&self, id: ExecutionId, after: u64) -> Result<Watch, ServiceError> {
        let store = self.store().clone();
        let execution = store.get(id).await?;
        // Subscribe before reading the history, so nothing falls between the two.
        let live = (!execution.state.is_terminal()).then(|| self.bus().subscribe(id));
        let first = store.events_after(id, after, PAGE).await?;
        if first.is_empty() && execution.state.is_terminal() {
            return Ok(Watch::AllSeen);
        }
        let remote = !self.running().contains(id);
        let stream = follow(store, id, after, first, live, remote);
        Ok(Watch::Events(execution, stream))
    }
}

fn follow(
    store: Arc<dyn ExecutionStore>,
    id: ExecutionId,
    after: u64,
    first: Vec<ExecutionEvent>,
    live: Option<BoxStream<'static, BusItem>>,
    remote: bool,
) -> BoxStream<'static, Frame> {
    let stream = async_stream::stream! {
        let mut last = after;
        let mut batch = first;
        // History: page through the store until it has nothing more.
        loop {
            let full = batch.len() == PAGE as usize;
            for event in batch.drain(..) {
                last = event.seq;
                let terminal = event.kind.is_terminal();
                yield Frame::Event(Arc::new(event));
                if terminal {
                    return;
                }
            }
            if !full {
                break;
            }
            match store.events_after(id, last, PAGE).await {
                Ok(more) => batch = more,
                Err(e) => {
                    tracing::warn!(error = %e, execution_id = %id, "reading event history failed");
                    return;
                }
            }
        }
        let Some(mut live) = live else { return };
        // An execution run by another process (sharing a Postgres database) publishes on that
        // process's bus: its events reach this watcher by reading the store now and then.
        let mut poll = tokio::time::interval(REMOTE_POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        poll.tick().await;
        // Live: skip what history already gave; on a gap or lag, catch up from the store.
        loop {
            let item = tokio::select! {
                item = live.next() => match item {
                    Some(item) => item,
                    None => break,
                },
                _ = poll.tick(), if remote => BusItem::Lagged,
            };
            let catch_up = match &item {
                BusItem::Delta(delta) => {
                    yield Frame::Delta(delta.clone());
                    continue;
                }
                BusItem::Event(e) if e.seq <= last => continue,
                BusItem::Event(e) if e.seq == last + 1 => None,
                _ => Some(()),
            };
            let events: Vec<Arc<ExecutionEvent>> = match (catch_up, item) {
                (None, BusItem::Event(e)) => vec![e],
                _ => match store.events_after(id, last, u32::MAX).await {
                    Ok(events) => events.into_iter().map(Arc::new).collect(),
                    Err(e) => {
                        tracing::warn!(error = %e, execution_id = %id, "catching up on events failed");
                        return;
                    }
                },
            };
            for event in events {
                last = event.seq;
                let terminal = event.kind.is_terminal();
                yield Frame::Event(event);
                if terminal {
                    return;
                }
            }
        }
        // The channel closed (the terminal event was published): make sure we saw everything.
        if let Ok(rest) = store.events_after(id, last, u32::MAX).await {
            for event in rest {
                yield Frame::Event(Arc::new(event));
            }
        }
    };
    stream.boxed()
}
