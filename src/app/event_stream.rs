//! Following an execution's events (what an SSE client streams, and replays after
//! `Last-Event-ID`): history from the store's log, then live events from the bus, with no gap
//! and no duplicate, ending after the terminal event.

use super::error::ServiceError;
use super::live_executions::LiveExecutions;
use crate::domain::access::Scope;
use crate::domain::execution::{Execution, ExecutionEvent, OutputDelta, StreamPosition};
use crate::domain::ids::ExecutionId;
use crate::ports::{BusItem, EventBus, ExecutionLog, ExecutionRecords, Subscription};
use futures::stream::{BoxStream, StreamExt};
use std::collections::VecDeque;
use std::sync::Arc;

/// Events read from the store per query.
const PAGE: u32 = 512;
/// How often a watcher of an execution run by another process reads the store for new events.
const REMOTE_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// How long a watcher keeps retrying a store that answers "unavailable" before it tells its
/// client the stream is interrupted.
const STORE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// What a watcher gets.
pub enum Watch {
    /// The execution finished and the watcher has already seen its last event.
    AllSeen,
    /// What follows the given position, ending with the terminal event.
    Events(Box<Execution>, BoxStream<'static, Frame>),
}

/// One item of a watch: a stored event, live partial output of a running node, or the reason
/// the watch ends before the terminal event.
#[derive(Clone, Debug)]
pub enum Frame {
    Event(Arc<ExecutionEvent>),
    Delta(Arc<OutputDelta>),
    /// The stream cannot go on (the store stayed unreachable, the server is stopping); the last
    /// frame sent is at `last`, from which a client resumes.
    Interrupted {
        reason: String,
        last: StreamPosition,
    },
}

/// Streams executions' events to their watchers. It reads the records and the log only.
pub struct EventStreamService {
    records: Arc<dyn ExecutionRecords>,
    log: Arc<dyn ExecutionLog>,
    bus: Arc<dyn EventBus>,
    running: Arc<LiveExecutions>,
}

impl EventStreamService {
    #[must_use]
    pub fn new(
        records: Arc<dyn ExecutionRecords>,
        log: Arc<dyn ExecutionLog>,
        bus: Arc<dyn EventBus>,
        running: Arc<LiveExecutions>,
    ) -> Self {
        Self { records, log, bus, running }
    }

    /// What follows position `after` in execution `id`'s stream: the stored events, with the
    /// partial output of node attempts still running in its place among them, then what is still
    /// to come, until the terminal event (or a [`Frame::Interrupted`] saying why not).
    ///
    /// # Errors
    /// `NotFound`; `BadRequest` when `after` is beyond the end of the event log (it names the
    /// last id there is); storage failures while reading the history.
    pub async fn watch(&self, scope: Scope, id: ExecutionId, after: StreamPosition) -> Result<Watch, ServiceError> {
        let store = self.log.clone();
        let execution = self.records.get(scope, id).await?;
        // Subscribe before reading the history, so nothing falls between the two.
        let live = (!execution.state.is_terminal()).then(|| self.bus.subscribe(id));
        let first = store.events_after(scope, id, after.seq, PAGE).await?;
        if first.is_empty() && after.seq > 0 && !logged(&store, scope, id, after.seq).await? {
            let last = last_logged(&store, scope, id, after.seq).await?;
            return Err(ServiceError::BadRequest(format!(
                "Last-Event-ID {after} is beyond the end of execution {id}'s event log, whose last event id is \
                 {last}; resume with an id this stream sent"
            )));
        }
        if first.is_empty() && live.is_none() {
            return Ok(Watch::AllSeen);
        }
        let stream = follow(store, scope, id, after, first, live, self.running.clone());
        Ok(Watch::Events(Box::new(execution), stream))
    }
}

/// Whether event `seq` is in the log (ids run from 1 without gaps).
async fn logged(store: &Arc<dyn ExecutionLog>, scope: Scope, id: ExecutionId, seq: u64) -> Result<bool, ServiceError> {
    Ok(store.events_after(scope, id, seq - 1, 1).await?.first().is_some_and(|e| e.seq == seq))
}

/// The last id in the log, known to be below `above`: a binary search, on this error path only.
async fn last_logged(
    store: &Arc<dyn ExecutionLog>,
    scope: Scope,
    id: ExecutionId,
    above: u64,
) -> Result<u64, ServiceError> {
    let (mut low, mut high) = (0, above);
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        if logged(store, scope, id, mid).await? { low = mid } else { high = mid }
    }
    Ok(low)
}

/// Reads events after `last`, retrying while the store is unavailable, for up to
/// [`STORE_PATIENCE`]; the error is what to tell the client when it gives up.
async fn read_patiently(
    store: &Arc<dyn ExecutionLog>,
    scope: Scope,
    id: ExecutionId,
    last: u64,
    limit: u32,
) -> Result<Vec<ExecutionEvent>, String> {
    let deadline = tokio::time::Instant::now() + STORE_PATIENCE;
    let mut delay = std::time::Duration::from_millis(100);
    loop {
        match store.events_after(scope, id, last, limit).await {
            Ok(events) => return Ok(events),
            Err(e) if e.is_transient() && tokio::time::Instant::now() + delay < deadline => {
                tracing::warn!(error = %e, execution_id = %id, "reading events failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(2));
            }
            Err(e) => {
                tracing::warn!(error = %e, execution_id = %id, "reading events failed; interrupting the stream");
                return Err(format!("the event log cannot be read: {e}"));
            }
        }
    }
}

fn follow(
    store: Arc<dyn ExecutionLog>,
    scope: Scope,
    id: ExecutionId,
    after: StreamPosition,
    first: Vec<ExecutionEvent>,
    subscription: Option<Subscription>,
    running: Arc<LiveExecutions>,
) -> BoxStream<'static, Frame> {
    let stream = async_stream::stream! {
        let mut last = after.seq;
        let mut sent = after;
        let (mut kept, live) = match subscription {
            Some(s) => (VecDeque::from(s.kept), Some(s.live)),
            None => (VecDeque::new(), None),
        };
        // Partial output the client already has (it resumes after one of these).
        kept.retain(|d| d.position() > after);
        let mut batch = first;
        // History: page through the store until it has nothing more, each kept delta in its
        // place (before the first event stored after it).
        loop {
            let full = batch.len() == PAGE as usize;
            for event in batch.drain(..) {
                while kept.front().is_some_and(|d| d.after_seq < event.seq) {
                    yield Frame::Delta(kept.pop_front().expect("a front delta"));
                }
                last = event.seq;
                sent = StreamPosition::event(last);
                let terminal = event.kind().is_terminal();
                yield Frame::Event(Arc::new(event));
                if terminal {
                    return;
                }
            }
            if !full {
                break;
            }
            match read_patiently(&store, scope, id, last, PAGE).await {
                Ok(more) => batch = more,
                Err(reason) => {
                    yield Frame::Interrupted { reason, last: sent };
                    return;
                }
            }
        }
        for delta in kept {
            sent = delta.position();
            yield Frame::Delta(delta);
        }
        // A finished execution whose history was all read: nothing live will come.
        let Some(mut live) = live else { return };
        // An execution run by another process (sharing a Postgres database) publishes on that
        // process's bus: its events reach this watcher by reading the store now and then. The
        // same holds once the run stops here before its end (its lease was lost, or it was
        // handed over), whether or not this process's channel closed.
        let mut poll = tokio::time::interval(REMOTE_POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        poll.tick().await;
        let mut polling = !running.contains(id);
        let mut channel_open = true;
        // Live: skip what history already gave; on a gap or lag, catch up from the store.
        loop {
            let item = tokio::select! {
                item = live.next(), if channel_open => match item {
                    Some(item) => item,
                    None => {
                        channel_open = false;
                        polling = true;
                        BusItem::Lagged
                    }
                },
                _ = poll.tick() => {
                    polling = polling || !running.contains(id);
                    if !polling {
                        continue;
                    }
                    BusItem::Lagged
                }
            };
            let catch_up = match &item {
                BusItem::Delta(delta) => {
                    // A delta placed before an event this watcher read from the store ahead of
                    // the bus keeps its place's id: resuming from it repeats that event rather
                    // than skip one.
                    sent = delta.position();
                    yield Frame::Delta(delta.clone());
                    continue;
                }
                BusItem::Event(e) if e.seq <= last => continue,
                BusItem::Event(e) if e.seq == last + 1 => None,
                _ => Some(()),
            };
            let events: Vec<Arc<ExecutionEvent>> = match (catch_up, item) {
                (None, BusItem::Event(e)) => vec![e],
                _ => match read_patiently(&store, scope, id, last, u32::MAX).await {
                    Ok(events) => events.into_iter().map(Arc::new).collect(),
                    Err(reason) => {
                        yield Frame::Interrupted { reason, last: sent };
                        return;
                    }
                },
            };
            for event in events {
                last = event.seq;
                sent = StreamPosition::event(last);
                let terminal = event.kind().is_terminal();
                yield Frame::Event(event);
                if terminal {
                    return;
                }
            }
        }
    };
    stream.boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::execution::{EventKind, ExecutionState, NewEvent};
    use crate::domain::run::RunEvent;
    use crate::ports::{MockExecutionLog, StoreError};
    use chrono::Utc;

    fn event(seq: u64, kind: EventKind) -> ExecutionEvent {
        let event = NewEvent {
            event: RunEvent::example(kind),
            state: ExecutionState::Running,
            node_results_count: 0,
            at: Utc::now(),
        };
        event.stored(ExecutionId(uuid::Uuid::nil()), seq)
    }

    async fn frames(store: MockExecutionLog, first: Vec<ExecutionEvent>) -> Vec<Frame> {
        let live = Subscription { kept: Vec::new(), live: futures::stream::pending().boxed() };
        let id = ExecutionId(uuid::Uuid::nil());
        let stream =
            follow(Arc::new(store), Scope::DEFAULT, id, StreamPosition::default(), first, Some(live), Arc::default());
        tokio::time::timeout(std::time::Duration::from_secs(600), stream.collect()).await.expect("the stream ends")
    }

    #[tokio::test(start_paused = true)]
    async fn a_store_that_stays_down_interrupts_the_stream_with_its_reason() {
        let mut store = MockExecutionLog::new();
        store.expect_events_after().returning(|_, _, _, _| Err(StoreError::Unavailable("disk is full".into())));
        let frames = frames(store, vec![event(1, EventKind::ExecutionStarted)]).await;
        assert!(matches!(&frames[0], Frame::Event(e) if e.seq == 1));
        match &frames[1] {
            Frame::Interrupted { reason, last } => {
                assert_eq!(*last, StreamPosition::event(1));
                assert!(reason.contains("disk is full"), "{reason}");
            }
            other => panic!("expected an interruption, got {other:?}"),
        }
        assert_eq!(frames.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_store_that_comes_back_lets_the_stream_reach_its_terminal_event() {
        let mut store = MockExecutionLog::new();
        let calls = std::sync::atomic::AtomicU32::new(0);
        store.expect_events_after().returning(move |_, _, after, _| {
            match calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) {
                0..=3 => Err(StoreError::Unavailable("connection refused".into())),
                _ => Ok(vec![event(after + 1, EventKind::ExecutionCompleted)]),
            }
        });
        let frames = frames(store, vec![event(1, EventKind::ExecutionStarted)]).await;
        assert!(
            matches!(frames.last(), Some(Frame::Event(e)) if e.kind() == EventKind::ExecutionCompleted),
            "{frames:?}"
        );
    }

    fn delta(after_seq: u64, n: u64) -> Arc<OutputDelta> {
        Arc::new(OutputDelta {
            execution_id: ExecutionId(uuid::Uuid::nil()),
            node_id: "llm".into(),
            after_seq,
            n,
            index: n,
            data: "{}".into(),
            kind: crate::domain::execution::DeltaKind::Text,
        })
    }

    #[tokio::test]
    async fn kept_deltas_take_their_place_among_stored_events_after_the_resume_point() {
        let kept = vec![delta(1, 1), delta(1, 2), delta(2, 1), delta(2, 2)];
        let subscription = Subscription { kept, live: futures::stream::pending().boxed() };
        let history = vec![event(2, EventKind::NodeStarted), event(3, EventKind::ExecutionCompleted)];
        let id = ExecutionId(uuid::Uuid::nil());
        let after = StreamPosition { seq: 1, delta: 1 };
        let stream = follow(
            Arc::new(MockExecutionLog::new()),
            Scope::DEFAULT,
            id,
            after,
            history,
            Some(subscription),
            Arc::default(),
        );
        let ids: Vec<String> = stream
            .map(|f| match f {
                Frame::Event(e) => e.seq.to_string(),
                Frame::Delta(d) => d.position().to_string(),
                Frame::Interrupted { .. } => "interrupted".into(),
            })
            .collect()
            .await;
        assert_eq!(ids, ["1.2", "2", "2.1", "2.2", "3"]);
    }
}
