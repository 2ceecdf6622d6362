//! In-process event bus: per execution, a tokio broadcast channel while someone listens, and the
//! partial output of node attempts still running, for whoever subscribes before they end.

use crate::domain::execution::{ExecutionEvent, OutputDelta};
use crate::domain::ids::ExecutionId;
use crate::ports::{BusItem, EventBus, Subscription};
use futures::Stream;
use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

/// Bytes of partial output kept per execution by default: a long model answer streamed token
/// by token (about 200 bytes of JSON per delta) fits several times over.
pub const DEFAULT_KEPT_BYTES: usize = 4 << 20;

/// Looked up for every event published: foldhash is cheaper than SipHash on an id.
type StreamMap = HashMap<ExecutionId, LiveStream, foldhash::fast::RandomState>;

type Streams = Arc<Mutex<StreamMap>>;

/// One execution's live state here. It exists while someone listens or deltas are kept.
#[derive(Default)]
struct LiveStream {
    tx: Option<broadcast::Sender<BusItem>>,
    /// The highest event sequence number published (or seen on a delta) while this existed.
    last_seq: u64,
    /// Deltas published since event `last_seq`.
    deltas_since: u64,
    /// Deltas of node attempts still running, in stream order.
    kept: VecDeque<Arc<OutputDelta>>,
    kept_bytes: usize,
}

impl LiveStream {
    fn idle(&self) -> bool {
        self.tx.is_none() && self.kept.is_empty()
    }

    fn advance_to(&mut self, seq: u64) {
        if seq > self.last_seq {
            self.last_seq = seq;
            self.deltas_since = 0;
        }
    }

    fn send(&self, item: BusItem) {
        if let Some(tx) = &self.tx {
            // No receiver left is fine: events are in the store, deltas are kept.
            let _ = tx.send(item);
        }
    }
}

/// Delivers events to the subscribers of their execution. A slow subscriber that overflows
/// `capacity` is told it lagged and catches up from the store. Deltas of node attempts still
/// running are kept (up to `kept_bytes` per execution, the oldest dropped first) and given to
/// new subscribers first, so that one that connects after the model began answering misses
/// nothing.
pub struct BroadcastEventBus {
    streams: Streams,
    capacity: usize,
    kept_bytes: usize,
}

impl BroadcastEventBus {
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self::with_kept_bytes(capacity, DEFAULT_KEPT_BYTES)
    }

    /// A bus that keeps at most `kept_bytes` of partial output per execution.
    #[must_use]
    pub fn with_kept_bytes(capacity: usize, kept_bytes: usize) -> Self {
        Self { streams: Streams::default(), capacity: capacity.max(1), kept_bytes }
    }

    /// Executions with a live stream here (a subscriber or kept deltas), for tests and metrics.
    #[must_use]
    pub fn open_channels(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, StreamMap> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn publish_locked(streams: &mut StreamMap, event: Arc<ExecutionEvent>) {
        let id = event.execution_id;
        let Some(stream) = streams.get_mut(&id) else { return };
        stream.advance_to(event.seq);
        if let Some(node) = event.event.ends_attempt_of() {
            let before = stream.kept.len();
            stream.kept.retain(|d| &d.node_id != node);
            if stream.kept.len() != before {
                stream.kept_bytes = stream.kept.iter().map(|d| d.data.len()).sum();
            }
        }
        let terminal = event.kind().is_terminal();
        stream.send(BusItem::Event(event));
        // Dropping the sender ends every subscription once it has read the terminal event.
        if terminal || stream.idle() {
            streams.remove(&id);
        }
    }
}

impl Default for BroadcastEventBus {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl EventBus for BroadcastEventBus {
    fn publish(&self, event: Arc<ExecutionEvent>) {
        Self::publish_locked(&mut self.lock(), event);
    }

    fn publish_all(&self, events: Vec<Arc<ExecutionEvent>>) {
        let mut streams = self.lock();
        if streams.is_empty() {
            return;
        }
        for event in events {
            Self::publish_locked(&mut streams, event);
        }
    }

    fn publish_delta(&self, delta: Arc<OutputDelta>) {
        let mut streams = self.lock();
        let stream = streams.entry(delta.execution_id).or_default();
        stream.advance_to(delta.after_seq);
        stream.deltas_since += 1;
        let placed =
            Arc::new(OutputDelta { after_seq: stream.last_seq, n: stream.deltas_since, ..OutputDelta::clone(&delta) });
        stream.kept_bytes += placed.data.len();
        stream.kept.push_back(placed.clone());
        while stream.kept_bytes > self.kept_bytes {
            let Some(old) = stream.kept.pop_front() else { break };
            stream.kept_bytes -= old.data.len();
        }
        stream.send(BusItem::Delta(placed));
    }

    fn discard_deltas(&self, id: ExecutionId) {
        let mut streams = self.lock();
        if let Some(stream) = streams.get_mut(&id) {
            stream.kept.clear();
            stream.kept_bytes = 0;
            if stream.idle() {
                streams.remove(&id);
            }
        }
    }

    fn subscribe(&self, id: ExecutionId) -> Subscription {
        let mut streams = self.lock();
        let stream = streams.entry(id).or_default();
        let rx = stream.tx.get_or_insert_with(|| broadcast::channel(self.capacity).0).subscribe();
        let kept = stream.kept.iter().cloned().collect();
        let live = Live { id, rx: Some(BroadcastStream::new(rx)), streams: self.streams.clone() };
        Subscription { kept, live: Box::pin(live) }
    }
}

struct Live {
    id: ExecutionId,
    rx: Option<BroadcastStream<BusItem>>,
    streams: Streams,
}

impl Stream for Live {
    type Item = BusItem;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<BusItem>> {
        let Some(rx) = self.rx.as_mut() else {
            return Poll::Ready(None);
        };
        Pin::new(rx).poll_next(cx).map(|item| {
            item.map(|r| match r {
                Ok(item) => item,
                Err(BroadcastStreamRecvError::Lagged(_)) => BusItem::Lagged,
            })
        })
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let mut streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        // Drop the receiver under the lock so that the last subscriber always sees a count of 0.
        drop(self.rx.take());
        let Some(stream) = streams.get_mut(&self.id) else { return };
        if stream.tx.as_ref().is_some_and(|tx| tx.receiver_count() == 0) {
            stream.tx = None;
        }
        if stream.idle() {
            streams.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::execution::{EventKind, ExecutionState, NewEvent};
    use crate::domain::run::RunEvent;
    use futures::StreamExt;

    fn event(id: ExecutionId, seq: u64, kind: EventKind) -> Arc<ExecutionEvent> {
        let event = NewEvent {
            event: RunEvent::example(kind),
            state: ExecutionState::Running,
            node_results_count: 0,
            at: chrono::Utc::now(),
        };
        Arc::new(event.stored(id, seq))
    }

    #[tokio::test]
    async fn subscribers_receive_events_of_their_execution_until_the_terminal_one() {
        let bus = BroadcastEventBus::default();
        let (a, b) = (ExecutionId::generate(), ExecutionId::generate());
        let mut sub = bus.subscribe(a).live;
        bus.publish(event(b, 1, EventKind::ExecutionStarted));
        bus.publish(event(a, 1, EventKind::ExecutionStarted));
        bus.publish(event(a, 2, EventKind::ExecutionCompleted));
        let got: Vec<u64> = sub
            .by_ref()
            .map(|i| match i {
                BusItem::Event(e) => e.seq,
                BusItem::Delta(_) | BusItem::Lagged => 0,
            })
            .collect()
            .await;
        assert_eq!(got, vec![1, 2]);
        assert_eq!(bus.open_channels(), 0);
    }

    #[tokio::test]
    async fn slow_subscriber_is_told_it_lagged() {
        let bus = BroadcastEventBus::new(2);
        let id = ExecutionId::generate();
        let mut sub = bus.subscribe(id).live;
        for seq in 1..=5 {
            bus.publish(event(id, seq, EventKind::NodeStarted));
        }
        assert_eq!(sub.next().await, Some(BusItem::Lagged));
    }

    #[tokio::test]
    async fn channel_goes_away_with_its_last_subscriber() {
        let bus = BroadcastEventBus::default();
        let id = ExecutionId::generate();
        let s1 = bus.subscribe(id).live;
        let s2 = bus.subscribe(id).live;
        drop(s1);
        assert_eq!(bus.open_channels(), 1);
        drop(s2);
        assert_eq!(bus.open_channels(), 0);
    }

    fn delta(id: ExecutionId, node: &str, after_seq: u64, text: &str) -> Arc<OutputDelta> {
        Arc::new(OutputDelta {
            execution_id: id,
            node_id: node.into(),
            after_seq,
            n: 0,
            index: 0,
            data: format!("{{\"delta\":\"{text}\"}}").into(),
            kind: crate::domain::execution::DeltaKind::Text,
        })
    }

    fn texts(deltas: &[Arc<OutputDelta>]) -> Vec<(String, String)> {
        deltas.iter().map(|d| (d.position().to_string(), d.data.to_string())).collect()
    }

    #[tokio::test]
    async fn a_late_subscriber_gets_the_deltas_of_attempts_still_running_in_stream_order() {
        let bus = BroadcastEventBus::default();
        let id = ExecutionId::generate();
        bus.publish_delta(delta(id, "a", 2, "Hel"));
        bus.publish_delta(delta(id, "n", 2, "x"));
        bus.publish_delta(delta(id, "a", 2, "lo"));
        let sub = bus.subscribe(id);
        let kept = texts(&sub.kept);
        let expected = [("2.1", r#"{"delta":"Hel"}"#), ("2.2", r#"{"delta":"x"}"#), ("2.3", r#"{"delta":"lo"}"#)];
        assert_eq!(kept, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
        // Node n ends: its deltas are no longer given to newcomers, a's still are.
        bus.publish(event(id, 3, EventKind::NodeCompleted));
        bus.publish_delta(delta(id, "a", 3, "!"));
        let later = texts(&bus.subscribe(id).kept);
        let positions: Vec<&str> = later.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(positions, ["2.1", "2.3", "3.1"]);
    }

    #[tokio::test]
    async fn live_deltas_are_placed_after_the_last_event_published_whatever_the_runner_read() {
        let bus = BroadcastEventBus::default();
        let id = ExecutionId::generate();
        let mut live = bus.subscribe(id).live;
        bus.publish(event(id, 7, EventKind::NodeStarted));
        // The runner read the log's end before event 7 was published.
        bus.publish_delta(delta(id, "a", 6, "t"));
        assert!(matches!(live.next().await, Some(BusItem::Event(e)) if e.seq == 7));
        match live.next().await {
            Some(BusItem::Delta(d)) => assert_eq!(d.position().to_string(), "7.1"),
            other => panic!("expected a delta, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn kept_deltas_stay_within_their_byte_limit_dropping_the_oldest() {
        let bus = BroadcastEventBus::with_kept_bytes(16, 40);
        let id = ExecutionId::generate();
        for text in ["one", "two", "three", "four"] {
            bus.publish_delta(delta(id, "a", 1, text));
        }
        let kept: Vec<String> = bus.subscribe(id).kept.iter().map(|d| d.data.to_string()).collect();
        assert_eq!(kept, [r#"{"delta":"three"}"#, r#"{"delta":"four"}"#]);
    }

    #[tokio::test]
    async fn nothing_is_kept_for_an_execution_that_ended_or_stopped_here() {
        let bus = BroadcastEventBus::default();
        let (a, b) = (ExecutionId::generate(), ExecutionId::generate());
        bus.publish_delta(delta(a, "n", 1, "t"));
        bus.publish_delta(delta(b, "n", 1, "t"));
        assert_eq!(bus.open_channels(), 2);
        bus.publish(event(a, 2, EventKind::ExecutionFailed));
        bus.discard_deltas(b);
        assert_eq!(bus.open_channels(), 0);
        assert!(bus.subscribe(a).kept.is_empty());
    }
}
